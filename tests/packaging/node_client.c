/* A C program built against an installed zcluster with nothing but pkg-config:
 *   cc node_client.c $(pkg-config --cflags --libs zcluster)
 * It checks the ABI version, peers with a zcluster node at HOST:PORT, publishes
 * Test::from_c("hello from C", 42) on TOPIC once the node subscribes to it, and waits
 * for the node's Cluster::hello (an event addressed to this endpoint's nodeid topic).
 * Exit 0 on success; prints what failed otherwise. */
#define _POSIX_C_SOURCE 200809L
#include <zcluster.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call)                                                                  \
    do {                                                                             \
        zc_result rc_ = (call);                                                      \
        if (rc_ != ZC_OK) {                                                          \
            fprintf(stderr, "%s: %s: %s\n", #call, zc_result_str(rc_), zc_last_error()); \
            return 1;                                                                \
        }                                                                            \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOST PORT TOPIC\n", argv[0]);
        return 2;
    }
    if (zc_abi_version() != ZC_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch: library %u, header %u\n", zc_abi_version(), ZC_ABI_VERSION);
        return 1;
    }
    printf("zcluster %s, ABI %u\n", zc_version(), zc_abi_version());
    zc_endpoint *ep = NULL;
    CHECK(zc_endpoint_new(NULL, &ep));
    CHECK(zc_endpoint_subscribe(ep, "zeek/cluster/nodeid/"));
    CHECK(zc_endpoint_peer(ep, argv[1], (uint16_t)atoi(argv[2]), 0));
    for (;;) {
        zc_message *m = NULL;
        CHECK(zc_endpoint_next(ep, 10000, &m));
        zc_msg_kind k;
        CHECK(zc_message_kind(m, &k));
        zc_message_free(m);
        if (k == ZC_MESSAGE_PEER_ADDED)
            break;
        if (k == ZC_MESSAGE_PEER_UNAVAILABLE || k == ZC_MESSAGE_PEER_REJECTED) {
            fprintf(stderr, "cannot peer with %s:%s\n", argv[1], argv[2]);
            return 1;
        }
    }
    bool sub = false;
    for (int i = 0; i < 500 && !sub; i++) {
        CHECK(zc_endpoint_peer_subscribed(ep, argv[3], &sub));
        if (!sub) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (!sub) {
        fprintf(stderr, "the node never subscribed to %s\n", argv[3]);
        return 1;
    }
    zc_event *ev = NULL;
    zc_value *v = NULL;
    CHECK(zc_event_new("Test::from_c", &ev));
    const char *text = "hello from C";
    CHECK(zc_value_string((const uint8_t *)text, strlen(text), &v));
    CHECK(zc_event_add_arg(ev, v));
    CHECK(zc_value_count(42, &v));
    CHECK(zc_event_add_arg(ev, v));
    CHECK(zc_endpoint_publish(ep, argv[3], ev));
    zc_event_free(ev);
    printf("published Test::from_c on %s\n", argv[3]);
    for (;;) {
        zc_message *m = NULL;
        CHECK(zc_endpoint_next(ep, 10000, &m));
        zc_msg_kind k;
        CHECK(zc_message_kind(m, &k));
        if (k == ZC_MESSAGE_EVENT) {
            zc_event *got = NULL;
            char *name = NULL;
            CHECK(zc_message_event(m, &got));
            CHECK(zc_event_name(got, &name));
            printf("received %s\n", name);
            int ok = strcmp(name, "Cluster::hello") == 0;
            zc_string_free(name);
            zc_event_free(got);
            zc_message_free(m);
            if (ok)
                break;
        } else {
            zc_message_free(m);
        }
    }
    zc_endpoint_free(ep);
    return 0;
}
