/* The Broker-level endpoint through the C API: options, peering, pub/sub, the pollable
 * descriptor, callbacks inside zc_endpoint_poll, unpeering, bad arguments, and an endpoint
 * in a separate (forked) process. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits for the next message of `kind` (skipping others); returns it or NULL. */
static zc_message *wait_kind(zc_endpoint *ep, zc_msg_kind kind) {
    for (int i = 0; i < 100; i++) {
        zc_message *m = NULL;
        if (zc_endpoint_next(ep, 100, &m) != ZC_OK)
            continue;
        zc_msg_kind k;
        if (zc_message_kind(m, &k) == ZC_OK && k == kind)
            return m;
        zc_message_free(m);
    }
    return NULL;
}

static int wait_subscribed(zc_endpoint *ep, const char *topic) {
    for (int i = 0; i < 1000; i++) {
        bool yes = false;
        if (zc_endpoint_peer_subscribed(ep, topic, &yes) == ZC_OK && yes)
            return 1;
        sleep_ms(5);
    }
    return 0;
}

static int fd_readable(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

ZC_TEST(options_by_name) {
    zc_endpoint_options *o = NULL;
    ZC_CHECK_RC(zc_endpoint_options_new(&o), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_options_set(o, "Broker::forward_messages", "F"), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_options_set(o, "Broker::peer_overflow_policy", "drop_oldest"), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_options_set(o, "backpressure_timeout", "250ms"), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_options_set(o, "no_such_option", "1"), ZC_ERR_NOT_FOUND);
    ZC_CHECK_ERR_CONTAINS("unknown endpoint option 'no_such_option'");
    ZC_CHECK_RC(zc_endpoint_options_set(o, "Broker::peer_overflow_policy", "explode"), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("drop_newest");
    ZC_CHECK_RC(zc_endpoint_options_set(o, NULL, "1"), ZC_ERR_NULL);
    zc_endpoint *ep = NULL;
    ZC_CHECK_RC(zc_endpoint_new(o, &ep), ZC_OK);
    zc_endpoint_options_free(o);
    zc_endpoint_free(ep);
    zc_endpoint_options_free(NULL);
}

ZC_TEST(pubsub_between_two_endpoints) {
    zc_endpoint *a = NULL, *b = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &a), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_new(NULL, &b), ZC_OK);
    uint16_t port = 0;
    ZC_CHECK_RC(zc_endpoint_listen(a, "127.0.0.1", 0, &port), ZC_OK);
    ZC_CHECK(port != 0);
    ZC_CHECK_RC(zc_endpoint_peer(b, "127.0.0.1", port, 100), ZC_OK);

    zc_message *m = wait_kind(b, ZC_MESSAGE_PEER_ADDED);
    ZC_CHECK(m != NULL);
    char *addr = NULL, *pid = NULL, *aid = NULL, *text = NULL;
    uint16_t mport = 0;
    ZC_CHECK_RC(zc_message_address(m, &addr, &mport), ZC_OK);
    ZC_CHECK_STR(addr, "127.0.0.1");
    ZC_CHECK(mport == port);
    ZC_CHECK_RC(zc_message_peer_id(m, &pid), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_id(a, &aid), ZC_OK);
    ZC_CHECK_STR(pid, aid);
    ZC_CHECK_RC(zc_message_text(m, &text), ZC_OK);
    ZC_CHECK_STR(text, "handshake successful");
    char *topic = NULL;
    ZC_CHECK_RC(zc_message_topic(m, &topic), ZC_ERR_TYPE);
    ZC_CHECK(topic == NULL);
    zc_string_free(addr);
    zc_string_free(pid);
    zc_string_free(text);
    zc_message_free(m);
    m = wait_kind(a, ZC_MESSAGE_PEER_ADDED);
    ZC_CHECK(m != NULL);
    zc_message_free(m);
    size_t peers = 0;
    ZC_CHECK_RC(zc_endpoint_peer_count(a, &peers), ZC_OK);
    ZC_CHECK(peers == 1);

    int fd = -1;
    ZC_CHECK_RC(zc_endpoint_fd(b, &fd), ZC_OK);
    while (zc_endpoint_next(b, 0, &m) == ZC_OK)
        zc_message_free(m);
    ZC_CHECK(!fd_readable(fd));

    ZC_CHECK_RC(zc_endpoint_subscribe(b, "/c/"), ZC_OK);
    ZC_CHECK(wait_subscribed(a, "/c/x"));
    const uint8_t hi[] = {5, 2, 'h', 'i'};
    ZC_CHECK_RC(zc_endpoint_publish_data(a, "/c/x", hi, sizeof hi), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_publish_data(a, "/other", hi, sizeof hi), ZC_OK);
    const uint8_t bad[] = {5, 9, 'h'};
    ZC_CHECK_RC(zc_endpoint_publish_data(a, "/c/x", bad, sizeof bad), ZC_ERR_DECODE);

    struct pollfd p = {fd, POLLIN, 0};
    ZC_CHECK(poll(&p, 1, 5000) == 1);
    ZC_CHECK_RC(zc_endpoint_next(b, 1000, &m), ZC_OK);
    zc_msg_kind k;
    ZC_CHECK_RC(zc_message_kind(m, &k), ZC_OK);
    ZC_CHECK(k == ZC_MESSAGE_EVENT);
    ZC_CHECK_RC(zc_message_topic(m, &topic), ZC_OK);
    ZC_CHECK_STR(topic, "/c/x");
    zc_string_free(topic);
    uint8_t *data = NULL;
    size_t len = 0;
    ZC_CHECK_RC(zc_message_data(m, &data, &len), ZC_OK);
    ZC_CHECK(len == sizeof hi && memcmp(data, hi, len) == 0);
    zc_string_free((char *)data);
    ZC_CHECK_RC(zc_message_peer_id(m, &pid), ZC_OK);
    ZC_CHECK_STR(pid, aid);
    zc_string_free(pid);
    zc_message_free(m);
    /* The /other event was not for b; the inbox is empty and the fd not readable. */
    ZC_CHECK_RC(zc_endpoint_next(b, 200, &m), ZC_ERR_TIMEOUT);
    ZC_CHECK(!fd_readable(fd));

    /* Unpeer: both sides report removed. */
    ZC_CHECK_RC(zc_endpoint_unpeer(b, "127.0.0.1", port), ZC_OK);
    m = wait_kind(b, ZC_MESSAGE_PEER_REMOVED);
    ZC_CHECK(m != NULL);
    zc_message_free(m);
    m = wait_kind(a, ZC_MESSAGE_PEER_REMOVED);
    ZC_CHECK(m != NULL);
    zc_message_free(m);

    zc_endpoint_stats st;
    ZC_CHECK_RC(zc_endpoint_get_stats(a, &st), ZC_OK);
    ZC_CHECK(st.published == 2);
    zc_string_free(aid);
    zc_endpoint_free(a);
    zc_endpoint_free(b);
}

struct counter {
    int events;
    int statuses;
    int freed;
};

static void on_message(const zc_message *m, void *ud) {
    struct counter *c = ud;
    zc_msg_kind k;
    if (zc_message_kind(m, &k) != ZC_OK)
        return;
    if (k == ZC_MESSAGE_EVENT)
        c->events++;
    else
        c->statuses++;
}

static void on_free(void *ud) { ((struct counter *)ud)->freed++; }

ZC_TEST(callbacks_inside_poll) {
    zc_endpoint *a = NULL, *b = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &a), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_new(NULL, &b), ZC_OK);
    struct counter c = {0, 0, 0};
    ZC_CHECK_RC(zc_endpoint_set_callback(b, on_message, &c, on_free), ZC_OK);
    uint16_t port = 0;
    ZC_CHECK_RC(zc_endpoint_listen(a, "127.0.0.1", 0, &port), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_subscribe(b, "/cb"), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_peer(b, "127.0.0.1", port, 100), ZC_OK);
    ZC_CHECK(wait_subscribed(a, "/cb"));
    const uint8_t v[] = {2, 0, 0, 0, 0, 0, 0, 0, 7};
    for (int i = 0; i < 10; i++)
        ZC_CHECK_RC(zc_endpoint_publish_data(a, "/cb", v, sizeof v), ZC_OK);
    for (int i = 0; i < 100 && c.events < 10; i++) {
        size_t n = 0;
        ZC_CHECK_RC(zc_endpoint_poll(b, 50, &n), ZC_OK);
    }
    ZC_CHECK(c.events == 10);
    ZC_CHECK(c.statuses >= 2);
    ZC_CHECK(c.freed == 0);
    ZC_CHECK_RC(zc_endpoint_set_callback(b, NULL, NULL, NULL), ZC_OK);
    ZC_CHECK(c.freed == 1);
    /* userdata_free also runs when the endpoint goes away. */
    struct counter c2 = {0, 0, 0};
    ZC_CHECK_RC(zc_endpoint_set_callback(b, on_message, &c2, on_free), ZC_OK);
    zc_endpoint_free(b);
    ZC_CHECK(c2.freed == 1);
    zc_endpoint_free(a);
}

ZC_TEST(bad_arguments_and_freed_handles) {
    zc_endpoint *ep = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_new(NULL, &ep), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_subscribe(ep, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_subscribe(ep, "\xff\xfe"), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_publish_data(ep, "<$>/x", (const uint8_t *)"\0", 1), ZC_ERR_INVALID_ARGUMENT);
    zc_message *m = NULL;
    ZC_CHECK_RC(zc_endpoint_next(ep, 0, &m), ZC_ERR_TIMEOUT);
    ZC_CHECK(m == NULL);
    ZC_CHECK_RC(zc_endpoint_next(ep, 0, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_peer(ep, "no.such.host.invalid", 1, 0), ZC_ERR_INVALID_ARGUMENT);
    zc_endpoint_free(ep);
    ZC_CHECK_RC(zc_endpoint_subscribe(ep, "/x"), ZC_ERR_BAD_HANDLE);
    zc_endpoint_free(ep); /* stale: refused, not a double free */
    zc_endpoint_free(NULL);
    zc_message_free(NULL);
    /* A message handle is not an endpoint handle. */
    zc_endpoint_options *o = NULL;
    ZC_CHECK_RC(zc_endpoint_options_new(&o), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_subscribe((zc_endpoint *)o, "/x"), ZC_ERR_BAD_HANDLE);
    zc_endpoint_options_free(o);
}

static const char *self_path = "";

/* The --publisher role: its own endpoint peers with the parent and publishes 1000 counts,
 * then waits until the parent closes (so everything was delivered). */
static int publisher(uint16_t port) {
    zc_endpoint *b = NULL;
    int rc = 1;
    if (zc_endpoint_new(NULL, &b) == ZC_OK && zc_endpoint_peer(b, "127.0.0.1", port, 100) == ZC_OK &&
        wait_subscribed(b, "/proc/x")) {
        rc = 0;
        for (uint64_t i = 0; i < 1000 && rc == 0; i++) {
            uint8_t v[9] = {2};
            for (int j = 0; j < 8; j++)
                v[1 + j] = (uint8_t)(i >> (56 - 8 * j));
            rc = zc_endpoint_publish_data(b, "/proc/x", v, sizeof v) == ZC_OK ? 0 : 1;
        }
        zc_message *m = wait_kind(b, ZC_MESSAGE_PEER_LOST);
        if (m == NULL)
            rc = 1;
        zc_message_free(m);
    }
    zc_endpoint_free(b);
    return rc;
}

ZC_TEST(events_from_another_process_in_order) {
    zc_endpoint *a = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &a), ZC_OK);
    uint16_t port = 0;
    ZC_CHECK_RC(zc_endpoint_listen(a, "127.0.0.1", 0, &port), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_subscribe(a, "/proc/"), ZC_OK);
    fflush(stdout);
    pid_t child = fork();
    ZC_CHECK(child >= 0);
    if (child == 0) {
        /* A fresh process image (not just a fork of this one, whose endpoint threads do
         * not exist in the child): this test program in its --publisher role. */
        char portbuf[16];
        snprintf(portbuf, sizeof portbuf, "%u", (unsigned)port);
        execl(self_path, self_path, "--publisher", portbuf, (char *)NULL);
        _exit(127);
    }
    for (uint64_t i = 0; i < 1000; i++) {
        zc_message *m = wait_kind(a, ZC_MESSAGE_EVENT);
        ZC_CHECK(m != NULL);
        uint8_t *data = NULL;
        size_t len = 0;
        ZC_CHECK_RC(zc_message_data(m, &data, &len), ZC_OK);
        uint64_t got = 0;
        for (int j = 0; j < 8; j++)
            got = (got << 8) | data[1 + j];
        zc_string_free((char *)data);
        zc_message_free(m);
        ZC_CHECK(got == i);
    }
    size_t peers = 0;
    ZC_CHECK_RC(zc_endpoint_peer_count(a, &peers), ZC_OK);
    ZC_CHECK(peers == 1);
    zc_endpoint_free(a);
    int status = 0;
    ZC_CHECK(waitpid(child, &status, 0) == child);
    ZC_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--publisher") == 0)
        return publisher((uint16_t)atoi(argv[2]));
    self_path = getenv("ZC_TEST_SELF") ? getenv("ZC_TEST_SELF") : argv[0];
    ZC_RUN(options_by_name);
    ZC_RUN(pubsub_between_two_endpoints);
    ZC_RUN(callbacks_inside_poll);
    ZC_RUN(bad_arguments_and_freed_handles);
    ZC_RUN(events_from_another_process_in_order);
    return zc_test_summary();
}
