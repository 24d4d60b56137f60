/* The Broker-level endpoint through the C API: options, peering, pub/sub, the pollable
 * descriptor, callbacks inside zc_endpoint_poll, unpeering, bad arguments, and an endpoint
 * in a separate (forked) process. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "util.h"
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
    /* One grammar for every option (docs/options.md): Zeek's intervals, did-you-mean. */
    ZC_CHECK_RC(zc_endpoint_options_set(o, "handshake_timeout", "1.5 secs"), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_options_set(o, "unpeer_timeout", "250 msecs"), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_options_set(o, "validate_data", "true"), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_options_set(o, "handshake_timeout", "5 fortnights"), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("option handshake_timeout: \"5 fortnights\" is not an interval");
    ZC_CHECK_RC(zc_endpoint_options_set(o, "handshake_timout", "1"), ZC_ERR_NOT_FOUND);
    ZC_CHECK_ERR_CONTAINS("did you mean handshake_timeout?");
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

    /* Unpeer: removed here, lost on the side that got the goodbye (as Broker). */
    ZC_CHECK_RC(zc_endpoint_unpeer(b, "127.0.0.1", port), ZC_OK);
    m = wait_kind(b, ZC_MESSAGE_PEER_REMOVED);
    ZC_CHECK(m != NULL);
    zc_message_free(m);
    m = wait_kind(a, ZC_MESSAGE_PEER_LOST);
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

ZC_TEST(events_round_trip) {
    zc_endpoint *a = NULL, *b = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &a), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_new(NULL, &b), ZC_OK);
    uint16_t port = 0;
    ZC_CHECK_RC(zc_endpoint_listen(a, "127.0.0.1", 0, &port), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_subscribe(b, "zeek/"), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_peer(b, "127.0.0.1", port, 100), ZC_OK);
    ZC_CHECK(wait_subscribed(a, "zeek/x"));
    zc_event *ev = NULL;
    ZC_CHECK_RC(zc_event_new("Demo::ping", &ev), ZC_OK);
    zc_value *v = NULL;
    ZC_CHECK_RC(zc_value_count(42, &v), ZC_OK);
    ZC_CHECK_RC(zc_event_add_arg(ev, v), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_publish(a, "zeek/x", ev), ZC_OK);
    zc_event_free(ev);
    zc_message *m = wait_kind(b, ZC_MESSAGE_EVENT);
    ZC_CHECK(m != NULL);
    zc_event *got = NULL;
    ZC_CHECK_RC(zc_message_event(m, &got), ZC_OK);
    char *name = NULL;
    ZC_CHECK_RC(zc_event_name(got, &name), ZC_OK);
    ZC_CHECK_STR(name, "Demo::ping");
    zc_string_free(name);
    size_t n = 0;
    ZC_CHECK_RC(zc_event_arg_count(got, &n), ZC_OK);
    ZC_CHECK(n == 1);
    zc_event_free(got);
    zc_message_free(m);
    /* A status message carries no event. */
    ZC_CHECK_RC(zc_endpoint_unpeer(b, "127.0.0.1", port), ZC_OK);
    m = wait_kind(b, ZC_MESSAGE_PEER_REMOVED);
    ZC_CHECK(m != NULL);
    ZC_CHECK_RC(zc_message_event(m, &got), ZC_ERR_TYPE);
    zc_message_free(m);
    zc_endpoint_free(a);
    zc_endpoint_free(b);
}

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

/* Every endpoint and message entry point: NULL, freed and wrong-kind handles, NULL
 * out-pointers and strings, invalid UTF-8. Each returns its code and sets a message. */
static void cb_none(const zc_message *m, void *u) {
    (void)m;
    (void)u;
}
static int ud_freed;
static void ud_free(void *u) {
    (void)u;
    ud_freed++;
}

ZC_TEST(negative_matrix) {
    zc_endpoint *ep = NULL, *freed = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &ep), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_new(NULL, &freed), ZC_OK);
    zc_endpoint_free(freed);
    zc_endpoint_options *o = NULL;
    ZC_CHECK_RC(zc_endpoint_options_new(&o), ZC_OK);
    zc_endpoint *wrong = (zc_endpoint *)(void *)o;
    zc_event *ev = NULL;
    ZC_CHECK_RC(zc_event_new("Test::x", &ev), ZC_OK);
    const uint8_t hi[] = {5, 2, 'h', 'i'};
    char *s = NULL;
    uint16_t port = 0;
    int fd = -1;
    zc_message *m = NULL;
    size_t n = 0;
    bool b = false;
    zc_endpoint_stats st;
#define ROW(call)                                                                     \
    do {                                                                              \
        zc_endpoint *h = NULL;                                                        \
        ZC_CHECK_RC(call, ZC_ERR_NULL);                                               \
        ZC_CHECK(zc_last_error()[0] != 0);                                            \
        h = freed;                                                                    \
        ZC_CHECK_RC(call, ZC_ERR_BAD_HANDLE);                                         \
        h = wrong;                                                                    \
        ZC_CHECK_RC(call, ZC_ERR_BAD_HANDLE);                                         \
        (void)h;                                                                      \
    } while (0)
    ROW(zc_endpoint_id(h, &s));
    ROW(zc_endpoint_listen(h, "127.0.0.1", 0, &port));
    ROW(zc_endpoint_peer(h, "127.0.0.1", 1, 0));
    ROW(zc_endpoint_unpeer(h, "127.0.0.1", 1));
    ROW(zc_endpoint_subscribe(h, "/x"));
    ROW(zc_endpoint_unsubscribe(h, "/x"));
    ROW(zc_endpoint_publish_data(h, "/x", hi, sizeof hi));
    ROW(zc_endpoint_publish(h, "/x", ev));
    ROW(zc_endpoint_fd(h, &fd));
    ROW(zc_endpoint_next(h, 0, &m));
    ROW(zc_endpoint_poll(h, 0, &n));
    ROW(zc_endpoint_peer_count(h, &n));
    ROW(zc_endpoint_peer_subscribed(h, "/x", &b));
    ROW(zc_endpoint_get_stats(h, &st));
    /* set_callback: the userdata is freed on failure too, so nothing leaks. */
    ud_freed = 0;
    ROW(zc_endpoint_set_callback(h, cb_none, &ud_freed, ud_free));
    ZC_CHECK(ud_freed == 3);
#undef ROW
    ZC_CHECK(s == NULL && m == NULL && fd == -1 && port == 0);
    /* NULL and bad strings and out-pointers on a live endpoint. */
    ZC_CHECK_RC(zc_endpoint_id(ep, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_listen(ep, NULL, 0, &port), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_listen(ep, "\xff", 0, &port), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_peer(ep, NULL, 1, 0), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_peer(ep, "\xff", 1, 0), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_unpeer(ep, NULL, 1), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_unpeer(ep, "\xff", 1), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_unsubscribe(ep, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_unsubscribe(ep, "\xff"), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_publish_data(ep, NULL, hi, sizeof hi), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_publish_data(ep, "\xff", hi, sizeof hi), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_publish_data(ep, "/x", NULL, 4), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_publish(ep, NULL, ev), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_publish(ep, "\xff", ev), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_publish(ep, "/x", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_publish(ep, "/x", (zc_event *)(void *)o), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_endpoint_fd(ep, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_poll(ep, 0, NULL), ZC_OK); /* handled is optional */
    ZC_CHECK_RC(zc_endpoint_peer_count(ep, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_peer_subscribed(ep, NULL, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_peer_subscribed(ep, "\xff", &b), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_peer_subscribed(ep, "/x", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_get_stats(ep, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_options_set(NULL, "ttl", "2"), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_options_set(o, NULL, "2"), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_options_set(o, "ttl", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_options_set(o, "\xff", "2"), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_options_set(o, "ttl", "\xff"), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_options_set(o, "no_such_option", "1"), ZC_ERR_NOT_FOUND);
    ZC_CHECK_RC(zc_endpoint_options_set((zc_endpoint_options *)(void *)ev, "ttl", "2"), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_endpoint_options_new(NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_new((zc_endpoint_options *)(void *)ev, &freed), ZC_ERR_BAD_HANDLE);
    /* Message accessors: NULL, wrong kind, NULL out-pointers. */
    zc_message *wm = (zc_message *)(void *)ev;
    zc_msg_kind k;
    zc_event *e2 = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    ZC_CHECK_RC(zc_message_kind(NULL, &k), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_kind(wm, &k), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_message_event(NULL, &e2), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_event(wm, &e2), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_message_topic(NULL, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_topic(wm, &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_message_data(NULL, &data, &len), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_data(wm, &data, &len), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_message_text(NULL, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_text(wm, &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_message_peer_id(NULL, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_peer_id(wm, &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_message_address(NULL, &s, &port), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_address(wm, &s, &port), ZC_ERR_BAD_HANDLE);
    ZC_CHECK(s == NULL && e2 == NULL && data == NULL);
    zc_message_free(wm); /* a foreign handle: refused, the event survives */
    char *name = NULL;
    ZC_CHECK_RC(zc_event_name(ev, &name), ZC_OK);
    ZC_CHECK_STR(name, "Test::x");
    zc_string_free(name);
    /* A real message, then its out-pointers NULL, then used after free. */
    uint16_t bound = 0;
    zc_endpoint *peer = NULL;
    ZC_CHECK_RC(zc_endpoint_listen(ep, "127.0.0.1", 0, &bound), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_new(NULL, &peer), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_peer(peer, "127.0.0.1", bound, 0), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_next(ep, 5000, &m), ZC_OK);
    ZC_CHECK_RC(zc_message_kind(m, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_event(m, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_topic(m, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_data(m, NULL, &len), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_data(m, &data, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_text(m, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_peer_id(m, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_address(m, NULL, &port), ZC_ERR_NULL);
    zc_message_free(m);
    ZC_CHECK_RC(zc_message_kind(m, &k), ZC_ERR_BAD_HANDLE);
    zc_message_free(m); /* stale: refused, not a double free */
    zc_endpoint_free(peer);
    zc_endpoint_free(ep);
    zc_event_free(ev);
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

/* The kinds' numbers are ABI (a host compiles them in), and a renamed kind keeps its old
 * name as an alias: ZC_MESSAGE_PEER_UNREACHABLE is ZC_MESSAGE_PEER_UNAVAILABLE. */
ZC_TEST(message_kind_numbers_and_aliases) {
    ZC_CHECK(ZC_MESSAGE_EVENT == 0 && ZC_MESSAGE_PEER_ADDED == 1 && ZC_MESSAGE_PEER_LOST == 2);
    ZC_CHECK(ZC_MESSAGE_PEER_REMOVED == 3 && ZC_MESSAGE_PEER_UNAVAILABLE == 4);
    ZC_CHECK(ZC_MESSAGE_ENDPOINT_DISCOVERED == 5 && ZC_MESSAGE_HELLO == 6);
    ZC_CHECK(ZC_MESSAGE_NODE_UP == 7 && ZC_MESSAGE_NODE_DOWN == 8);
    ZC_CHECK(ZC_MESSAGE_ENDPOINT_UNREACHABLE == 9 && ZC_MESSAGE_PEER_REJECTED == 10);
    ZC_CHECK(ZC_MESSAGE_COMMAND == 11 && ZC_MESSAGE_PEER_INVALID == 12);
    ZC_CHECK(ZC_MESSAGE_DESERIALIZATION_FAILED == 13);
    ZC_CHECK(ZC_MESSAGE_PEER_UNREACHABLE == ZC_MESSAGE_PEER_UNAVAILABLE);
    /* A connect to a port nobody listens on is reported under both names. */
    zc_endpoint *ep = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &ep), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_peer(ep, "127.0.0.1", (uint16_t)free_port(), 0), ZC_OK);
    zc_message *m = wait_kind(ep, ZC_MESSAGE_PEER_UNREACHABLE);
    ZC_CHECK(m != NULL);
    zc_msg_kind k = ZC_MESSAGE_EVENT;
    ZC_CHECK_RC(zc_message_kind(m, &k), ZC_OK);
    ZC_CHECK(k == ZC_MESSAGE_PEER_UNAVAILABLE);
    zc_message_free(m);
    zc_endpoint_free(ep);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--publisher") == 0)
        return publisher((uint16_t)atoi(argv[2]));
    self_path = getenv("ZC_TEST_SELF") ? getenv("ZC_TEST_SELF") : argv[0];
    ZC_RUN(options_by_name);
    ZC_RUN(pubsub_between_two_endpoints);
    ZC_RUN(events_round_trip);
    ZC_RUN(callbacks_inside_poll);
    ZC_RUN(bad_arguments_and_freed_handles);
    ZC_RUN(negative_matrix);
    ZC_RUN(events_from_another_process_in_order);
    ZC_RUN(message_kind_numbers_and_aliases);
    return zc_test_summary();
}
