/* Helpers several C tests share: monotonic milliseconds, sleeping, and loopback ports
 * for layouts. Include after harness.h (which the tests include first, after
 * _POSIX_C_SOURCE). Static inline: a test that uses none of them gets no warning. */
#ifndef ZC_TEST_UTIL_H
#define ZC_TEST_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Where a test's free_port sequence starts, beside its pid: a test that runs at the same
 * time as others (test_log) defines its own before including this file. */
#ifndef ZC_PORT_SALT
#define ZC_PORT_SALT 0u
#endif

static inline long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A loopback port below Linux's ephemeral range (32768-60999), so that no node's own
 * outgoing connection can take it before the node binds it, never handed out twice by
 * this process, and bindable when returned. */
static inline unsigned free_port(void) {
    static unsigned next = 0;
    unsigned base = ((unsigned)getpid() * 7919u + ZC_PORT_SALT) % 12768u;
    for (unsigned tries = 0; tries < 12768u; tries++) {
        unsigned port = 20000u + (base + (next++) * 97u) % 12768u;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0)
            return 0;
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)port);
        int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
        close(s);
        if (ok)
            return port;
    }
    return 0;
}

/* The layout lines that put a cluster on Zeek's ZeroMQ backend, with the manager's
 * XPUB/XSUB proxy on two free loopback ports (nodes connect their XPUB to its XSUB and
 * their XSUB to its XPUB). */
static inline void write_zeromq_redefs(FILE *f) {
    unsigned xpub = free_port(), xsub = free_port();
    fprintf(f, "redef Cluster::backend = Cluster::CLUSTER_BACKEND_ZEROMQ;\n");
    fprintf(f, "redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = \"tcp://127.0.0.1:%u\";\n", xpub);
    fprintf(f, "redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = \"tcp://127.0.0.1:%u\";\n", xsub);
    fprintf(f, "redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = \"tcp://127.0.0.1:%u\";\n", xsub);
    fprintf(f, "redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = \"tcp://127.0.0.1:%u\";\n", xpub);
}

#endif
