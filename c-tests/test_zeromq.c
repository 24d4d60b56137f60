/* Zeek's ZeroMQ backend through the C API: a ZeekControl directory (cluster-layout.zeek
 * + zeekctl-config.zeek) selects it, a standalone proxy runs from C, a manager in this
 * process and a worker in a child process form the cluster (two-stage hello), exchange
 * events on Zeek's dotted topics, and the worker's exit is node_down. Every new entry
 * point is tried with NULL, freed and foreign handles, bad UTF-8 and a Broker node. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

static const char *self_path;
static char dir[256];

/* The directory `zeekctl install` fills, in its form (ports free ones). */
static int write_zeekctl_dir(unsigned xpub, unsigned xsub) {
    char path[400];
    snprintf(path, sizeof path, "%s/cluster-layout.zeek", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# Automatically generated. Do not edit.\n");
    fprintf(f, "redef Cluster::manager_is_logger = T;\nredef Cluster::nodes = {\n");
    fprintf(f, "\t[\"control\"] = [$node_type=Cluster::CONTROL, $ip=127.0.0.1, $p=%u/tcp],\n", free_port());
    fprintf(f, "\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%u/tcp],\n", free_port());
    fprintf(f, "\t[\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%u/tcp, $manager=\"manager\"],\n", free_port());
    fprintf(f, "};\n");
    if (fclose(f) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/zeekctl-config.zeek", dir);
    f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# Automatically generated. Do not edit.\n");
    fprintf(f, "redef Pcap::snaplen = 9216;\n\n");
    fprintf(f, "# Begin code from cluster_backend_zeromq plugin\n# Configure ZeroMQ\n");
    fprintf(f, "@load policy/frameworks/cluster/backend/zeromq/options\n\n");
    fprintf(f, "redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = \"tcp://127.0.0.1:%u\";\n", xpub);
    fprintf(f, "redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = \"tcp://127.0.0.1:%u\";\n", xsub);
    fprintf(f, "redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = \"tcp://127.0.0.1:%u\";\n", xsub);
    fprintf(f, "redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = \"tcp://127.0.0.1:%u\";\n", xpub);
    fprintf(f, "\nredef Cluster::Backend::ZeroMQ::ipv6 = F;\n\n# End code from cluster_backend_zeromq plugin\n");
    return fclose(f);
}

static zc_cluster *make_node(const char *name, int run_proxy) {
    zc_layout *l = NULL;
    zc_options *o = NULL;
    zc_cluster *cl = NULL;
    if (zc_layout_load(dir, &l) != ZC_OK)
        return NULL;
    if (zc_options_new(&o) == ZC_OK &&
        zc_options_set(o, "Cluster::Backend::ZeroMQ::run_proxy_thread", run_proxy ? "T" : "F") == ZC_OK)
        (void)zc_cluster_new(l, name, o, &cl);
    zc_options_free(o);
    zc_layout_free(l);
    return cl;
}

/* The next message of a kind (and, for events, a name), or NULL after 20 s. */
static zc_message *next_of(zc_cluster *cl, zc_msg_kind want, const char *event) {
    long end = now_ms() + 20000;
    while (now_ms() < end) {
        zc_message *m = NULL;
        if (zc_cluster_next(cl, 100, &m) != ZC_OK)
            continue;
        zc_msg_kind k;
        if (zc_message_kind(m, &k) == ZC_OK && k == want) {
            if (!event)
                return m;
            zc_event *ev = NULL;
            char *name = NULL;
            int match = zc_message_event(m, &ev) == ZC_OK && zc_event_name(ev, &name) == ZC_OK &&
                        strcmp(name, event) == 0;
            zc_string_free(name);
            zc_event_free(ev);
            if (match)
                return m;
        }
        zc_message_free(m);
    }
    return NULL;
}

static int publish0(zc_cluster *cl, const char *topic, const char *name) {
    zc_event *ev = NULL;
    if (zc_event_new(name, &ev) != ZC_OK)
        return -1;
    int rc = zc_cluster_publish(cl, topic, ev);
    zc_event_free(ev);
    return rc;
}

/* The child: worker-1. Says Child::hello to the manager once it is up, leaves on
 * Parent::bye. */
static int run_worker(void) {
    zc_cluster *cl = make_node("worker-1", 0);
    if (!cl || zc_cluster_start(cl) != ZC_OK)
        return 2;
    zc_message *m = next_of(cl, ZC_MESSAGE_NODE_UP, NULL);
    if (!m)
        return 3;
    zc_message_free(m);
    if (publish0(cl, "zeek.cluster.manager", "Child::hello") != ZC_OK)
        return 4;
    m = next_of(cl, ZC_MESSAGE_EVENT, "Parent::bye");
    if (!m)
        return 5;
    char *topic = NULL;
    int ok = zc_message_topic(m, &topic) == ZC_OK && strcmp(topic, "zeek.cluster.node.worker-1.") == 0;
    zc_string_free(topic);
    zc_message_free(m);
    zc_cluster_free(cl);
    return ok ? 0 : 6;
}

ZC_TEST(negative_matrix) {
    zc_cluster_backend b;
    uint64_t v;
    char *s = NULL;
    ZC_CHECK_RC(zc_cluster_backend_get(NULL, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_zeromq_stat(NULL, "ready", &v), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_zeromq_stats(NULL, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_zeromq_proxy_endpoint(NULL, true, &s), ZC_ERR_NULL);
    zc_zeromq_proxy_free(NULL);
    /* A foreign handle (a layout) where a cluster or a proxy is expected. */
    zc_layout *l = NULL;
    const char *text = "redef Cluster::nodes = { [\"m\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=0/tcp] };";
    ZC_CHECK_RC(zc_layout_parse(text, strlen(text), NULL, &l), ZC_OK);
    ZC_CHECK_RC(zc_cluster_backend_get((const zc_cluster *)l, &b), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_zeromq_proxy_endpoint((const zc_zeromq_proxy *)l, true, &s), ZC_ERR_BAD_HANDLE);
    zc_zeromq_proxy_free((zc_zeromq_proxy *)l); /* refused, not freed */
    /* A Broker node: backend BROKER, and no ZeroMQ counters (not started, then Broker). */
    zc_cluster *cl = NULL;
    ZC_CHECK_RC(zc_cluster_new(l, "m", NULL, &cl), ZC_OK);
    ZC_CHECK_RC(zc_cluster_backend_get(cl, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_backend_get(cl, &b), ZC_OK);
    ZC_CHECK(b == ZC_CLUSTER_BACKEND_BROKER);
    ZC_CHECK_RC(zc_cluster_zeromq_stat(cl, "ready", &v), ZC_ERR_STATE);
    ZC_CHECK_RC(zc_cluster_start(cl), ZC_OK);
    ZC_CHECK_RC(zc_cluster_zeromq_stats(cl, &s), ZC_ERR_STATE);
    ZC_CHECK_ERR_CONTAINS("Broker");
    ZC_CHECK_RC(zc_cluster_zeromq_stat(cl, "\xff", &v), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_zeromq_stat(cl, NULL, &v), ZC_ERR_NULL);
    zc_cluster_free(cl);
    ZC_CHECK_RC(zc_cluster_backend_get(cl, &b), ZC_ERR_BAD_HANDLE);
    zc_layout_free(l);
    /* A named zeekctl-config.zeek: bad arguments are errors. */
    zc_layout *l2 = NULL;
    ZC_CHECK_RC(zc_layout_load_with_zeekctl_config(NULL, "x", &l2), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_load_with_zeekctl_config("x", NULL, &l2), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_load_with_zeekctl_config("x", "y", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_load_with_zeekctl_config("\xff", "y", &l2), ZC_ERR_UTF8);
    ZC_CHECK(zc_layout_load_with_zeekctl_config("/nonexistent/cluster-layout.zeek", "y", &l2) != ZC_OK);
    ZC_CHECK(l2 == NULL);
    /* A proxy that cannot bind: an error, not an abort. */
    zc_options *o = NULL;
    zc_zeromq_proxy *p = NULL;
    ZC_CHECK_RC(zc_options_new(&o), ZC_OK);
    ZC_CHECK_RC(zc_options_set(o, "Cluster::Backend::ZeroMQ::listen_xpub_endpoint", "tcp://no-such-host.invalid:1"), ZC_OK);
    ZC_CHECK(zc_zeromq_proxy_start(o, &p) != ZC_OK);
    ZC_CHECK(p == NULL);
    ZC_CHECK_RC(zc_zeromq_proxy_start(o, NULL), ZC_ERR_NULL);
    zc_options_free(o);
}

ZC_TEST(standalone_proxy_and_a_worker_process) {
    snprintf(dir, sizeof dir, "/tmp/zc-c-zeromq-%d", (int)getpid());
    mkdir(dir, 0700);
    unsigned xpub = free_port(), xsub = free_port();
    ZC_CHECK(write_zeekctl_dir(xpub, xsub) == 0);
    /* The proxy on its own, from C. */
    zc_options *o = NULL;
    zc_zeromq_proxy *p = NULL;
    char ep[64];
    ZC_CHECK_RC(zc_options_new(&o), ZC_OK);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", xpub);
    ZC_CHECK_RC(zc_options_set(o, "Cluster::Backend::ZeroMQ::listen_xpub_endpoint", ep), ZC_OK);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", xsub);
    ZC_CHECK_RC(zc_options_set(o, "Cluster::Backend::ZeroMQ::listen_xsub_endpoint", ep), ZC_OK);
    ZC_CHECK_RC(zc_zeromq_proxy_start(o, &p), ZC_OK);
    zc_options_free(o);
    char *bound = NULL;
    ZC_CHECK_RC(zc_zeromq_proxy_endpoint(p, false, &bound), ZC_OK);
    ZC_CHECK_STR(bound, ep);
    zc_string_free(bound);

    /* The two files named one by one select ZeroMQ as the directory does. */
    {
        char lp[400], cp[400];
        snprintf(lp, sizeof lp, "%s/cluster-layout.zeek", dir);
        snprintf(cp, sizeof cp, "%s/zeekctl-config.zeek", dir);
        zc_layout *l = NULL;
        zc_cluster *c = NULL;
        zc_cluster_backend b2;
        ZC_CHECK_RC(zc_layout_load_with_zeekctl_config(lp, cp, &l), ZC_OK);
        ZC_CHECK_RC(zc_cluster_new(l, "worker-1", NULL, &c), ZC_OK);
        ZC_CHECK_RC(zc_cluster_backend_get(c, &b2), ZC_OK);
        ZC_CHECK(b2 == ZC_CLUSTER_BACKEND_ZEROMQ);
        zc_cluster_free(c);
        zc_layout_free(l);
    }
    zc_cluster *mg = make_node("manager", 0);
    ZC_CHECK(mg != NULL);
    zc_cluster_backend b;
    ZC_CHECK_RC(zc_cluster_backend_get(mg, &b), ZC_OK);
    ZC_CHECK(b == ZC_CLUSTER_BACKEND_ZEROMQ);
    ZC_CHECK_RC(zc_cluster_start(mg), ZC_OK);
    pid_t pid = fork();
    ZC_CHECK(pid >= 0);
    if (pid == 0) {
        execl(self_path, self_path, "--worker", dir, (char *)NULL);
        _exit(127);
    }
    zc_message *m = next_of(mg, ZC_MESSAGE_NODE_UP, NULL);
    ZC_CHECK(m != NULL);
    char *name = NULL;
    ZC_CHECK_RC(zc_message_node_name(m, &name), ZC_OK);
    ZC_CHECK_STR(name, "worker-1");
    zc_string_free(name);
    zc_message_free(m);
    uint64_t workers = 0;
    ZC_CHECK_RC(zc_cluster_worker_count(mg, &workers), ZC_OK);
    ZC_CHECK(workers == 1);
    m = next_of(mg, ZC_MESSAGE_EVENT, "Child::hello");
    ZC_CHECK(m != NULL);
    zc_message_free(m);
    char *topic = NULL;
    ZC_CHECK_RC(zc_cluster_node_topic(mg, "worker-1", &topic), ZC_OK);
    ZC_CHECK_STR(topic, "zeek.cluster.node.worker-1.");
    ZC_CHECK_RC(publish0(mg, topic, "Parent::bye"), ZC_OK);
    zc_string_free(topic);
    int status = -1;
    ZC_CHECK(waitpid(pid, &status, 0) == pid);
    ZC_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    m = next_of(mg, ZC_MESSAGE_NODE_DOWN, NULL);
    ZC_CHECK(m != NULL);
    zc_message_free(m);
    uint64_t v = 9;
    ZC_CHECK_RC(zc_cluster_zeromq_stat(mg, "ready", &v), ZC_OK);
    ZC_CHECK(v == 1);
    ZC_CHECK_RC(zc_cluster_zeromq_stat(mg, "no_such_counter", &v), ZC_ERR_NOT_FOUND);
    char *stats = NULL;
    ZC_CHECK_RC(zc_cluster_zeromq_stats(mg, &stats), ZC_OK);
    ZC_CHECK(strstr(stats, "msg_errors 0\n") != NULL);
    ZC_CHECK(strstr(stats, "events_received ") != NULL);
    zc_string_free(stats);
    zc_cluster_free(mg);
    zc_zeromq_proxy_free(p);
    ZC_CHECK_RC(zc_zeromq_proxy_endpoint(p, true, &bound), ZC_ERR_BAD_HANDLE);
}

int main(int argc, char **argv) {
    self_path = getenv("ZC_TEST_SELF") ? getenv("ZC_TEST_SELF") : argv[0];
    if (argc == 3 && strcmp(argv[1], "--worker") == 0) {
        snprintf(dir, sizeof dir, "%s", argv[2]);
        return run_worker();
    }
    ZC_RUN(negative_matrix);
    ZC_RUN(standalone_proxy_and_a_worker_process);
    return zc_test_summary();
}
