/* Batches: zc_endpoint_publish_many, zc_endpoint_next_many, zc_cluster_next_many. A batch
 * of 1000 values goes out in one call and comes back in order through next_many's record
 * format, statuses included; then every bad input: NULL, freed and wrong-kind handles,
 * NULL out-pointers, invalid UTF-8, lengths that overflow, a malformed value (nothing of
 * the batch published), max 0, a timeout, a closed endpoint, a cluster not started. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "util.h"
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static int wait_subscribed(zc_endpoint *ep, const char *topic) {
    for (int i = 0; i < 1000; i++) {
        bool yes = false;
        if (zc_endpoint_peer_subscribed(ep, topic, &yes) == ZC_OK && yes)
            return 1;
        sleep_ms(5);
    }
    return 0;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One message of a batch. */
struct rec {
    int kind;
    uint16_t port;
    const uint8_t *f[6]; /* topic, data, text, peer_id, address, node */
    uint32_t n[6];
};

/* Reads every message of a batch into `out` (at most `max`); returns how many, or -1 when
 * the buffer does not hold exactly the records it should. */
static long parse_batch(const uint8_t *buf, size_t len, struct rec *out, size_t max) {
    size_t at = 0, k = 0;
    while (at < len) {
        if (buf[at] == ZC_MESSAGE_EVENT) {
            if (at + ZC_BATCH_RUN_HEADER_LEN > len)
                return -1;
            uint32_t n = le32(buf + at + 1), tl = le32(buf + at + 5), pl = le32(buf + at + 9);
            size_t p = at + ZC_BATCH_RUN_HEADER_LEN;
            const uint8_t *topic = buf + p, *peer = buf + p + tl;
            p += (size_t)tl + pl;
            size_t lens_at = p, data_at = p + 4 * (size_t)n;
            if (data_at > len || n == 0)
                return -1;
            for (uint32_t i = 0; i < n; i++) {
                if (k >= max)
                    return -1;
                struct rec *r = &out[k++];
                memset(r, 0, sizeof *r);
                r->kind = ZC_MESSAGE_EVENT;
                r->f[0] = topic, r->n[0] = tl;
                r->f[3] = peer, r->n[3] = pl;
                r->n[1] = le32(buf + lens_at + 4 * i);
                r->f[1] = buf + data_at;
                data_at += r->n[1];
                if (data_at > len)
                    return -1;
            }
            at = data_at;
            continue;
        }
        if (at + ZC_BATCH_HEADER_LEN > len || k >= max)
            return -1;
        struct rec *r = &out[k++];
        r->kind = buf[at];
        r->port = (uint16_t)(buf[at + 1] | buf[at + 2] << 8);
        size_t p = at + ZC_BATCH_HEADER_LEN;
        for (int i = 0; i < 6; i++)
            r->n[i] = le32(buf + at + 3 + 4 * i);
        for (int i = 0; i < 6; i++) {
            if (p + r->n[i] > len)
                return -1;
            r->f[i] = buf + p;
            p += r->n[i];
        }
        at = p;
    }
    return (long)k;
}

/* A count value in Broker's binary encoding: tag 2, 8 bytes big-endian. */
static void put_count(uint8_t *out, uint64_t v) {
    out[0] = 2;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(v >> (56 - 8 * i));
}

ZC_TEST(batch_round_trip) {
    zc_endpoint *a = NULL, *b = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &a), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_new(NULL, &b), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_subscribe(b, "batch/"), ZC_OK);
    uint16_t port = 0;
    ZC_CHECK_RC(zc_endpoint_listen(b, "127.0.0.1", 0, &port), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_peer(a, "127.0.0.1", port, 100), ZC_OK);
    ZC_CHECK(wait_subscribed(a, "batch/x"));

    enum { N = 1000 };
    static uint8_t data[N * 9];
    static size_t lens[N];
    for (size_t i = 0; i < N; i++) {
        put_count(data + 9 * i, i);
        lens[i] = 9;
    }
    size_t published = 77;
    ZC_CHECK_RC(zc_endpoint_publish_many(a, "batch/x", data, lens, N, &published), ZC_OK);
    ZC_CHECK(published == N);
    ZC_CHECK_RC(zc_endpoint_publish_many(a, "batch/x", NULL, NULL, 0, &published), ZC_OK);
    ZC_CHECK(published == 0);

    /* Receive: statuses first (the peering), then the 1000 values in order. */
    size_t got = 0, statuses = 0;
    int saw_peer_added = 0;
    for (int round = 0; round < 200 && got < N; round++) {
        uint8_t *buf = NULL;
        size_t len = 0, count = 0;
        zc_result rc = zc_endpoint_next_many(b, 256, 100, &buf, &len, &count);
        if (rc == ZC_ERR_TIMEOUT)
            continue;
        ZC_CHECK_RC(rc, ZC_OK);
        ZC_CHECK(count >= 1 && count <= 256);
        static struct rec recs[256];
        ZC_CHECK(parse_batch(buf, len, recs, 256) == (long)count);
        for (size_t i = 0; i < count; i++) {
            struct rec r = recs[i];
            if (r.kind == ZC_MESSAGE_EVENT) {
                ZC_CHECK(r.n[0] == 7 && memcmp(r.f[0], "batch/x", 7) == 0);
                ZC_CHECK(r.n[1] == 9 && memcmp(r.f[1], data + 9 * got, 9) == 0);
                ZC_CHECK(r.n[3] == 36); /* the sender's id */
                got++;
            } else {
                statuses++;
                if (r.kind == ZC_MESSAGE_PEER_ADDED) {
                    saw_peer_added = 1;
                    ZC_CHECK(r.n[4] == 9 && memcmp(r.f[4], "127.0.0.1", 9) == 0);
                    ZC_CHECK(r.n[2] > 0); /* "handshake successful" */
                }
            }
        }
        zc_string_free((char *)buf);
    }
    ZC_CHECK(got == N);
    ZC_CHECK(saw_peer_added);
    ZC_CHECK(statuses >= 1);
    zc_endpoint_free(a);
    zc_endpoint_free(b);
}

ZC_TEST(malformed_value_publishes_nothing) {
    zc_endpoint *a = NULL, *b = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &a), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_new(NULL, &b), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_subscribe(b, "m/"), ZC_OK);
    uint16_t port = 0;
    ZC_CHECK_RC(zc_endpoint_listen(b, "127.0.0.1", 0, &port), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_peer(a, "127.0.0.1", port, 100), ZC_OK);
    ZC_CHECK(wait_subscribed(a, "m/x"));
    uint8_t data[27];
    put_count(data, 1);
    put_count(data + 9, 2);
    data[18] = 99; /* no such tag */
    size_t lens[3] = {9, 9, 9};
    size_t published = 5;
    ZC_CHECK_RC(zc_endpoint_publish_many(a, "m/x", data, lens, 3, &published), ZC_ERR_DECODE);
    ZC_CHECK_ERR_CONTAINS("value 2 of the batch");
    ZC_CHECK(published == 0);
    /* A length that runs past one value into the next is a malformed value too. */
    size_t lens2[2] = {10, 8};
    ZC_CHECK_RC(zc_endpoint_publish_many(a, "m/x", data, lens2, 2, NULL), ZC_ERR_DECODE);
    ZC_CHECK_ERR_CONTAINS("value 0 of the batch");
    /* Then one good value: the receiver's first event is it, nothing of the bad batches. */
    ZC_CHECK_RC(zc_endpoint_publish_many(a, "m/x", data + 9, lens, 1, &published), ZC_OK);
    ZC_CHECK(published == 1);
    int found = 0;
    for (int round = 0; round < 100 && !found; round++) {
        uint8_t *buf = NULL;
        size_t len = 0, count = 0;
        if (zc_endpoint_next_many(b, 16, 100, &buf, &len, &count) != ZC_OK)
            continue;
        static struct rec recs[16];
        ZC_CHECK(parse_batch(buf, len, recs, 16) == (long)count);
        for (size_t i = 0; i < count; i++) {
            struct rec r = recs[i];
            if (r.kind == ZC_MESSAGE_EVENT) {
                ZC_CHECK(r.n[1] == 9 && memcmp(r.f[1], data + 9, 9) == 0);
                found = 1;
                break;
            }
        }
        zc_string_free((char *)buf);
    }
    ZC_CHECK(found);
    zc_endpoint_free(a);
    zc_endpoint_free(b);
}

ZC_TEST(negative_matrix) {
    zc_endpoint *ep = NULL, *freed = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &ep), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_new(NULL, &freed), ZC_OK);
    zc_endpoint_free(freed);
    zc_event *ev = NULL;
    ZC_CHECK_RC(zc_event_new("Test::x", &ev), ZC_OK);
    zc_endpoint *wrong = (zc_endpoint *)(void *)ev;
    uint8_t one[9];
    put_count(one, 7);
    size_t lens[1] = {9};
    uint8_t *buf = NULL;
    size_t len = 0, count = 0, published = 9;

    /* Handles: NULL, freed, another kind. */
    zc_endpoint *hs[3] = {NULL, freed, wrong};
    zc_result want[3] = {ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_BAD_HANDLE};
    for (int i = 0; i < 3; i++) {
        ZC_CHECK_RC(zc_endpoint_publish_many(hs[i], "t", one, lens, 1, &published), want[i]);
        ZC_CHECK(zc_last_error()[0] != 0);
        ZC_CHECK(published == 0);
        ZC_CHECK_RC(zc_endpoint_next_many(hs[i], 8, 0, &buf, &len, &count), want[i]);
        ZC_CHECK(buf == NULL);
    }
    /* Arguments. */
    ZC_CHECK_RC(zc_endpoint_publish_many(ep, NULL, one, lens, 1, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_publish_many(ep, "\xff\xfe", one, lens, 1, NULL), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_publish_many(ep, "t", NULL, lens, 1, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_publish_many(ep, "t", one, NULL, 1, NULL), ZC_ERR_NULL);
    size_t huge[2] = {SIZE_MAX, 2};
    ZC_CHECK_RC(zc_endpoint_publish_many(ep, "t", one, huge, 2, NULL), ZC_ERR_INVALID_ARGUMENT);
    size_t zero[1] = {0};
    ZC_CHECK_RC(zc_endpoint_publish_many(ep, "t", one, zero, 1, NULL), ZC_ERR_DECODE);
    ZC_CHECK_RC(zc_endpoint_publish_many(ep, "<$>/reserved", one, lens, 1, NULL),
                ZC_ERR_INVALID_ARGUMENT);
    /* No peer: publishing is fine (nobody subscribes), it is not an error. */
    ZC_CHECK_RC(zc_endpoint_publish_many(ep, "t", one, lens, 1, &published), ZC_OK);
    ZC_CHECK(published == 1);

    ZC_CHECK_RC(zc_endpoint_next_many(ep, 8, 0, NULL, &len, &count), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_next_many(ep, 8, 0, &buf, NULL, &count), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_next_many(ep, 8, 0, &buf, &len, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_next_many(ep, 0, 0, &buf, &len, &count), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_endpoint_next_many(ep, 8, 0, &buf, &len, &count), ZC_ERR_TIMEOUT);
    ZC_CHECK_RC(zc_endpoint_next_many(ep, 8, 30, &buf, &len, &count), ZC_ERR_TIMEOUT);
    ZC_CHECK(buf == NULL);

    /* Cluster: NULL, a wrong-kind handle, a cluster that was never started. */
    ZC_CHECK_RC(zc_cluster_next_many(NULL, 8, 0, &buf, &len, &count), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_next_many((zc_cluster *)(void *)ep, 8, 0, &buf, &len, &count),
                ZC_ERR_BAD_HANDLE);
    zc_layout *l = NULL;
    const char *text = "redef Cluster::nodes = { [\"manager\"] = "
                       "[$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=0/tcp] };";
    ZC_CHECK_RC(zc_layout_parse(text, strlen(text), "zeek", &l), ZC_OK);
    zc_cluster *cl = NULL;
    ZC_CHECK_RC(zc_cluster_new(l, "manager", NULL, &cl), ZC_OK);
    ZC_CHECK_RC(zc_cluster_next_many(cl, 8, 0, &buf, &len, &count), ZC_ERR_STATE);
    ZC_CHECK_RC(zc_cluster_next_many(cl, 8, 0, NULL, &len, &count), ZC_ERR_NULL);
    zc_cluster_free(cl);
    ZC_CHECK_RC(zc_cluster_next_many(cl, 8, 0, &buf, &len, &count), ZC_ERR_BAD_HANDLE);
    zc_layout_free(l);

    zc_event_free(ev);
    zc_endpoint_free(ep);
    /* A freed endpoint is a bad handle for both (the matrix above), never a crash. */
    ZC_CHECK_RC(zc_endpoint_next_many(ep, 8, 0, &buf, &len, &count), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_endpoint_publish_many(ep, "t", one, lens, 1, NULL), ZC_ERR_BAD_HANDLE);
}

int main(void) {
    ZC_RUN(batch_round_trip);
    ZC_RUN(malformed_value_publishes_nothing);
    ZC_RUN(negative_matrix);
    return zc_test_summary();
}
