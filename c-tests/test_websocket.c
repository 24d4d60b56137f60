/* The WebSocket API and metrics from C: a manager started from a layout with a
 * $metrics_port; zc_cluster_listen_websocket; a WebSocket client written here on a raw
 * socket (upgrade, masked subscription frame, the ack); zcluster's own client transport
 * (zc_endpoint_connect_websocket) reaching PEER_ADDED; wss: a TLS server from the options
 * (a certificate made here with the openssl CLI) and the client with and without the CA
 * (PEER_ADDED, then PEER_UNAVAILABLE naming the verification failure); the stats JSON and
 * Prometheus text; bad input. Run plain and under valgrind by the Makefile. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        if (s >= 0)
            close(s);
        return 0;
    }
    close(s);
    return ntohs(a.sin_port);
}

/* Reads until `needle` shows up or 10 s pass; returns the bytes read (NUL-terminated). */
static size_t read_until(int fd, char *buf, size_t cap, const char *needle) {
    size_t n = 0;
    for (int i = 0; i < 100 && n + 1 < cap; i++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = 0;
        if (strstr(buf, needle))
            break;
    }
    buf[n] = 0;
    return n;
}

static zc_cluster *manager;
static unsigned mport, wsport;

ZC_TEST(raw_socket_client_gets_the_ack) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)wsport);
    ZC_CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0);
    const char *req = "GET /v1/messages/json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\nX-Application-Name: c-test\r\n\r\n";
    ZC_CHECK(write(s, req, strlen(req)) == (ssize_t)strlen(req));
    char buf[4096];
    read_until(s, buf, sizeof buf, "\r\n\r\n");
    ZC_CHECK(strncmp(buf, "HTTP/1.1 101", 12) == 0);
    /* RFC 6455's example accept key for this nonce. */
    ZC_CHECK(strstr(buf, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != NULL);
    /* A masked text frame holding ["c/test"]. */
    const char *subs = "[\"c/test\"]";
    unsigned char frame[64];
    size_t len = strlen(subs);
    unsigned char mask[4] = {1, 2, 3, 4};
    frame[0] = 0x81;
    frame[1] = (unsigned char)(0x80 | len);
    memcpy(frame + 2, mask, 4);
    for (size_t i = 0; i < len; i++)
        frame[6 + i] = (unsigned char)subs[i] ^ mask[i % 4];
    ZC_CHECK(write(s, frame, 6 + len) == (ssize_t)(6 + len));
    size_t n = read_until(s, buf, sizeof buf, "}");
    ZC_CHECK(n > 2 && (unsigned char)buf[0] == 0x81);
    ZC_CHECK(strstr(buf + 2, "{\"type\":\"ack\",\"endpoint\":\"") == buf + 2);
    ZC_CHECK(strstr(buf, "-websocket-") != NULL);
    close(s);
}

ZC_TEST(zcluster_client_transport) {
    zc_endpoint *ep = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &ep), ZC_OK);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/v1/messages/json", wsport);
    const char *topics[] = {"c/test"};
    ZC_CHECK_RC(zc_endpoint_connect_websocket(ep, url, topics, 1, 0), ZC_OK);
    int added = 0;
    for (int i = 0; i < 100 && !added; i++) {
        zc_message *m = NULL;
        if (zc_endpoint_next(ep, 100, &m) == ZC_OK && m) {
            zc_msg_kind k;
            ZC_CHECK_RC(zc_message_kind(m, &k), ZC_OK);
            added = k == ZC_MESSAGE_PEER_ADDED;
            zc_message_free(m);
        }
    }
    ZC_CHECK(added);
    ZC_CHECK_RC(zc_endpoint_connect_websocket(ep, "nope", NULL, 0, 0), ZC_ERR_INVALID_ARGUMENT);
    char *js = NULL;
    ZC_CHECK_RC(zc_endpoint_stats_json(ep, &js), ZC_OK);
    ZC_CHECK(js && strstr(js, "\"endpoint\":{") != NULL);
    zc_string_free(js);
    zc_endpoint_free(ep);
}

/* The next status of `ep` (0 when none came within 10 s); its text into `text`. */
static zc_msg_kind next_status(zc_endpoint *ep, char *text, size_t cap) {
    for (int i = 0; i < 100; i++) {
        zc_message *m = NULL;
        if (zc_endpoint_next(ep, 100, &m) == ZC_OK && m) {
            zc_msg_kind k;
            zc_message_kind(m, &k);
            if (k != ZC_MESSAGE_EVENT) {
                char *t = NULL;
                text[0] = 0;
                if (zc_message_text(m, &t) == ZC_OK && t)
                    snprintf(text, cap, "%s", t);
                zc_string_free(t);
                zc_message_free(m);
                return k;
            }
            zc_message_free(m);
        }
    }
    return (zc_msg_kind)0;
}

ZC_TEST(wss_both_sides) {
    char dir[] = "/tmp/zc-c-wss-XXXXXX";
    ZC_CHECK(mkdtemp(dir) != NULL);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 "
             "-subj /CN=zc-c-ws-ca >/dev/null 2>&1 && openssl req -new -newkey rsa:2048 -nodes "
             "-keyout s.key -subj /CN=s -out s.csr >/dev/null 2>&1 && "
             "echo subjectAltName=IP:127.0.0.1 > san.ext && openssl x509 -req -in s.csr -CA ca.pem "
             "-CAkey ca.key -CAcreateserial -days 30 -extfile san.ext -out s.pem >/dev/null 2>&1",
             dir);
    ZC_CHECK(system(cmd) == 0);
    char cert[128], key[128], ca[128];
    snprintf(cert, sizeof cert, "%s/s.pem", dir);
    snprintf(key, sizeof key, "%s/s.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    zc_websocket_options *o = NULL;
    uint16_t port = 0;
    ZC_CHECK_RC(zc_websocket_options_new(&o), ZC_OK);
    ZC_CHECK_RC(zc_websocket_options_set(o, "listen_port", "0"), ZC_OK);
    ZC_CHECK_RC(zc_websocket_options_set(o, "tls_options$cert_file", cert), ZC_OK);
    ZC_CHECK_RC(zc_websocket_options_set(o, "tls_options$key_file", key), ZC_OK);
    ZC_CHECK_RC(zc_websocket_options_set(o, "enable_peer_verification", "maybe"), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_cluster_listen_websocket(manager, o, &port), ZC_OK);
    zc_websocket_options_free(o);
    char url[128], text[512];
    snprintf(url, sizeof url, "wss://127.0.0.1:%u/v1/messages/json", port);
    zc_websocket_client_options *co = NULL;
    ZC_CHECK_RC(zc_websocket_client_options_new(&co), ZC_OK);
    ZC_CHECK_RC(zc_websocket_client_options_set(co, "ca_file", ca), ZC_OK);
    ZC_CHECK_RC(zc_websocket_client_options_set(co, "colour", "red"), ZC_ERR_NOT_FOUND);
    ZC_CHECK_RC(zc_websocket_client_options_set(co, "verify_peer", "perhaps"), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_websocket_client_options_set(NULL, "ca_file", ca), ZC_ERR_NULL);
    zc_endpoint *ep = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &ep), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_connect_websocket_with(ep, url, NULL, 0, 0, co), ZC_OK);
    ZC_CHECK(next_status(ep, text, sizeof text) == ZC_MESSAGE_PEER_ADDED);
    /* Without the CA (the system's store only): refused, with the reason. */
    ZC_CHECK_RC(zc_endpoint_connect_websocket(ep, url, NULL, 0, 0), ZC_OK);
    ZC_CHECK(next_status(ep, text, sizeof text) == ZC_MESSAGE_PEER_UNAVAILABLE);
    ZC_CHECK(strstr(text, "certificate verify failed") != NULL);
    ZC_CHECK_RC(zc_websocket_client_options_set(co, "ca_file", "/nonexistent-ca.pem"), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_connect_websocket_with(ep, url, NULL, 0, 0, co), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("ca_file");
    zc_websocket_client_options_free(co);
    ZC_CHECK_RC(zc_endpoint_connect_websocket_with(ep, url, NULL, 0, 0, co), ZC_ERR_BAD_HANDLE);
    zc_endpoint_free(ep);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ZC_CHECK(system(cmd) == 0);
}

ZC_TEST(stats_and_metrics) {
    uint16_t p = 0;
    ZC_CHECK_RC(zc_cluster_metrics_port(manager, &p), ZC_OK);
    ZC_CHECK(p == mport);
    char *js = NULL;
    ZC_CHECK_RC(zc_cluster_stats_json(manager, &js), ZC_OK);
    ZC_CHECK(js && strstr(js, "\"node\":\"manager\"") != NULL && strstr(js, "\"websocket\":{") != NULL);
    zc_string_free(js);
    char *text = NULL;
    ZC_CHECK_RC(zc_cluster_metrics_text(manager, &text), ZC_OK);
    ZC_CHECK(text && strstr(text, "zeek_broker_peers{node=\"manager\"} ") != NULL);
    ZC_CHECK(strstr(text, "# TYPE process_cpu_user_seconds_total counter") != NULL);
    zc_string_free(text);
}

ZC_TEST(bad_input) {
    zc_websocket_options *o = NULL;
    ZC_CHECK_RC(zc_websocket_options_new(&o), ZC_OK);
    ZC_CHECK_RC(zc_websocket_options_set(o, "listen_port", "0"), ZC_OK);
    ZC_CHECK_RC(zc_websocket_options_set(o, "cert_file", "/nope.pem"), ZC_OK);
    /* One of cert/key alone is an error, as in Zeek. */
    ZC_CHECK_RC(zc_cluster_listen_websocket(manager, o, NULL), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("cert_file and key_file");
    ZC_CHECK_RC(zc_websocket_options_set(o, "no_such", "1"), ZC_ERR_NOT_FOUND);
    ZC_CHECK_RC(zc_websocket_options_set(o, NULL, "1"), ZC_ERR_NULL);
    zc_websocket_options_free(o);
    ZC_CHECK_RC(zc_websocket_options_set(o, "listen_port", "1"), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_stats_json(manager, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_listen_websocket(NULL, NULL, NULL), ZC_ERR_NULL);
}

int main(void) {
    /* The manager writes cluster.log (manager_is_logger): into a scratch directory. */
    char logdir[] = "/tmp/zc-ws-c-XXXXXX";
    if (!mkdtemp(logdir))
        return 1;
    mport = free_port();
    unsigned p = free_port();
    char text[512];
    snprintf(text, sizeof text,
             "redef Cluster::nodes = {\n"
             "[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%u/tcp, $metrics_port=%u/tcp],\n"
             "};\n",
             p, mport);
    zc_layout *layout = NULL;
    if (zc_layout_parse(text, strlen(text), "zeek", &layout) != ZC_OK ||
        zc_cluster_new(layout, "manager", NULL, &manager) != ZC_OK ||
        zc_cluster_start_in(manager, logdir) != ZC_OK) {
        fprintf(stderr, "setup: %s\n", zc_last_error());
        return 1;
    }
    zc_layout_free(layout);
    zc_websocket_options *o = NULL;
    uint16_t bound = 0;
    if (zc_websocket_options_new(&o) != ZC_OK || zc_websocket_options_set(o, "listen_port", "0") != ZC_OK ||
        zc_cluster_listen_websocket(manager, o, &bound) != ZC_OK) {
        fprintf(stderr, "listen_websocket: %s\n", zc_last_error());
        return 1;
    }
    zc_websocket_options_free(o);
    wsport = bound;
    ZC_RUN(raw_socket_client_gets_the_ack);
    ZC_RUN(zcluster_client_transport);
    ZC_RUN(wss_both_sides);
    ZC_RUN(stats_and_metrics);
    ZC_RUN(bad_input);
    zc_cluster_free(manager);
    char path[64];
    snprintf(path, sizeof path, "%s/cluster.log", logdir);
    unlink(path);
    rmdir(logdir);
    return zc_test_summary();
}
