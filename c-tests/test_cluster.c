/* The running cluster through the C API.
 *
 * - multi_process_cluster: this program re-executes itself (ZC_TEST_SELF) as five node
 *   processes, logger-1, manager, proxy-1, worker-1 and worker-10 (one name a prefix of
 *   the other), from a layout it writes with free loopback ports. Each child reports on
 *   stdout what its node sees (UP/DOWN/EV lines) and obeys commands on stdin (GO, COUNT,
 *   NODES, QUIT). The parent checks the Broker backend's node_up matrix, role / node /
 *   nodeid / pool routing, worker_count through a kill -9, and the logger's cluster.log.
 * - multi_process_cluster_zeromq: the same five processes on Zeek's ZeroMQ backend (the
 *   manager runs the XPUB/XSUB proxy): everyone sees everyone, topics are dotted, and
 *   cluster.log arrives as zeek-bin-serializer batches on the logger's PULL.
 * - two_nodes_in_process: a manager and a logger in this process, so valgrind sees every
 *   message path (next, fd, callback + poll, node names, log, pools, free while peered).
 * - negative_matrix: every cluster entry point with NULL, bad UTF-8, freed, wrong-kind and
 *   not-started handles. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BAD_UTF8 "\xff\xfe"
/* Set (ZC_TEST_ZEROMQ=1, inherited by the node processes) for the ZeroMQ run. */
static int zmq_mode;

/* A Broker topic as the running backend forms it: ZeroMQ's dots instead of slashes. */
static const char *tp(const char *broker_topic) {
    static char bufs[32][128];
    static int next;
    if (!zmq_mode)
        return broker_topic;
    char *b = bufs[next++ % 32];
    snprintf(b, sizeof bufs[0], "%s", broker_topic);
    for (char *q = b; *q; q++)
        if (*q == '/')
            *q = '.';
    return b;
}

#define PROXY_POOL "zeek/cluster/pool/proxy"
#define WORKER_POOL "zeek/cluster/pool/worker"
#define LOGGER_POOL "zeek/cluster/pool/logger"

static const char *self_path;

/* Writes a ZeekControl-style layout; the names of nodes other than the logger/manager
 * come from `proxies`/`workers`. Returns 0 on success. */
static int write_layout(const char *path, const char *const *proxies, int np,
                        const char *const *workers, int nw) {
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    if (zmq_mode) {
        write_zeromq_redefs(f);
    }
    fprintf(f, "redef Cluster::manager_is_logger = F;\nredef Cluster::nodes = {\n");
    fprintf(f, "\t[\"logger-1\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=%u/tcp],\n",
            free_port());
    fprintf(f, "\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%u/tcp],\n",
            free_port());
    for (int i = 0; i < np; i++)
        fprintf(f,
                "\t[\"%s\"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $p=%u/tcp, "
                "$manager=\"manager\"],\n",
                proxies[i], free_port());
    for (int i = 0; i < nw; i++)
        fprintf(f,
                "\t[\"%s\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%u/tcp, "
                "$interface=\"lo\", $manager=\"manager\"],\n",
                workers[i], free_port());
    fprintf(f, "};\n");
    return fclose(f);
}

static zc_cluster *make_node(const char *layout_path, const char *name) {
    zc_layout *l = NULL;
    zc_options *o = NULL;
    zc_cluster *cl = NULL;
    if (zc_layout_load(layout_path, &l) != ZC_OK)
        return NULL;
    if (zc_options_new(&o) == ZC_OK &&
        zc_options_set(o, "Cluster::retry_interval", "0.1 secs") == ZC_OK)
        (void)zc_cluster_new(l, name, o, &cl);
    zc_options_free(o);
    zc_layout_free(l);
    return cl;
}

/* ------------------------------------------------------------------------------------ */
/* Child side: one node process.                                                        */

static void out(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static zc_event *event0(const char *name) {
    zc_event *ev = NULL;
    return zc_event_new(name, &ev) == ZC_OK ? ev : NULL;
}

static void publish0(zc_cluster *cl, const char *topic, const char *name) {
    zc_event *ev = event0(name);
    if (zc_cluster_publish(cl, topic, ev) != ZC_OK)
        out("ERR publish %s: %s\n", topic, zc_last_error());
    zc_event_free(ev);
}

/* Reports one message as a line. Remembers worker-10's id on the manager. */
static void report(zc_message *m, char *w10_id, size_t idlen) {
    zc_msg_kind k;
    char *s = NULL, *t = NULL;
    if (zc_message_kind(m, &k) != ZC_OK)
        return;
    if (k == ZC_MESSAGE_NODE_UP || k == ZC_MESSAGE_NODE_DOWN) {
        if (zc_message_node_name(m, &s) == ZC_OK && zc_message_text(m, &t) == ZC_OK) {
            out("%s %s %s\n", k == ZC_MESSAGE_NODE_UP ? "UP" : "DOWN", s, t);
            if (k == ZC_MESSAGE_NODE_UP && strcmp(s, "worker-10") == 0)
                snprintf(w10_id, idlen, "%s", t);
        }
    } else if (k == ZC_MESSAGE_EVENT) {
        zc_event *ev = NULL;
        if (zc_message_topic(m, &t) == ZC_OK && zc_message_event(m, &ev) == ZC_OK &&
            zc_event_name(ev, &s) == ZC_OK)
            out("EV %s %s\n", t, s);
        zc_event_free(ev);
    }
    zc_string_free(s);
    zc_string_free(t);
}

static void node_go(zc_cluster *cl, const char *me, const char *w10_id) {
    char msg[64];
    snprintf(msg, sizeof msg, "%s says hi", me);
    /* Records travel in batches (Broker::log_batch_interval): send this one now, the
     * node may be killed soon after. */
    if (zc_cluster_log(cl, msg) != ZC_OK || zc_cluster_log_flush(cl) != ZC_OK)
        out("ERR log: %s\n", zc_last_error());
    if (strcmp(me, "manager") == 0) {
        char *topic = NULL;
        publish0(cl, tp("zeek/cluster/worker/"), "Test::to_workers");
        publish0(cl, tp("zeek/cluster/proxy/"), "Test::to_proxies");
        publish0(cl, tp("zeek/cluster/logger/"), "Test::to_loggers");
        if (zc_cluster_node_topic(cl, "worker-1", &topic) == ZC_OK)
            publish0(cl, topic, "Test::to_worker_1");
        zc_string_free(topic);
        topic = NULL;
        if (zc_cluster_nodeid_topic(cl, w10_id, &topic) == ZC_OK)
            publish0(cl, topic, "Test::to_worker_10_id");
        zc_string_free(topic);
        zc_value *key = NULL;
        (void)zc_value_string_utf8("the same key", &key);
        for (int i = 0; i < 3; i++) {
            zc_event *ev = event0("Test::hrw");
            bool done = false;
            if (zc_cluster_publish_hrw(cl, tp(WORKER_POOL), key, ev, &done) != ZC_OK || !done)
                out("ERR hrw: %s\n", zc_last_error());
            zc_event_free(ev);
        }
        zc_value_free(key);
        for (int i = 0; i < 2; i++) {
            zc_event *ev = event0("Test::rr");
            bool done = false;
            if (zc_cluster_publish_rr(cl, tp(WORKER_POOL), "k", ev, &done) != ZC_OK || !done)
                out("ERR rr: %s\n", zc_last_error());
            zc_event_free(ev);
        }
    } else if (strncmp(me, "worker", 6) == 0) {
        char name[64];
        snprintf(name, sizeof name, "Test::from_%s", me);
        publish0(cl, tp("zeek/cluster/manager/"), name);
    } else if (strncmp(me, "proxy", 5) == 0) {
        publish0(cl, tp("zeek/cluster/worker/"), "Test::from_proxy");
    }
    out("WENT\n");
}

static int run_node(const char *layout_path, const char *me, const char *log_dir) {
    alarm(90); /* an orphan never outlives a broken parent for long */
    zmq_mode = getenv("ZC_TEST_ZEROMQ") != NULL;
    zc_cluster *cl = make_node(layout_path, me);
    if (!cl || zc_cluster_start_in(cl, log_dir) != ZC_OK) {
        out("ERR start: %s\n", zc_last_error());
        zc_cluster_free(cl);
        return 1;
    }
    uint16_t port = 0;
    (void)zc_cluster_listen_port(cl, &port);
    out("STARTED %u\n", (unsigned)port);
    int cfd = -1;
    (void)zc_cluster_fd(cl, &cfd);
    char w10_id[64] = "";
    char line[256];
    size_t len = 0;
    for (;;) {
        struct pollfd p[2] = {{0, POLLIN, 0}, {cfd, POLLIN, 0}};
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            break;
        if (p[1].revents & POLLIN) {
            zc_message *m = NULL;
            while (zc_cluster_next(cl, 0, &m) == ZC_OK) {
                report(m, w10_id, sizeof w10_id);
                zc_message_free(m);
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read(0, line + len, sizeof line - 1 - len);
            if (n <= 0)
                break; /* the parent is gone */
            len += (size_t)n;
            line[len] = 0;
            char *nl;
            int quit = 0;
            while ((nl = strchr(line, '\n')) != NULL) {
                *nl = 0;
                if (strcmp(line, "GO") == 0) {
                    node_go(cl, me, w10_id);
                } else if (strcmp(line, "COUNT") == 0) {
                    uint64_t w = 99;
                    (void)zc_cluster_worker_count(cl, &w);
                    out("WORKERS %llu\n", (unsigned long long)w);
                } else if (strcmp(line, "NODES") == 0) {
                    char **names = NULL;
                    if (zc_cluster_nodes_up(cl, &names) == ZC_OK) {
                        printf("NODES");
                        for (char **q = names; *q; q++)
                            printf(" %s", *q);
                        out("\n");
                    }
                    zc_strings_free(names);
                } else if (strcmp(line, "QUIT") == 0) {
                    quit = 1;
                }
                size_t rest = len - (size_t)(nl + 1 - line);
                memmove(line, nl + 1, rest + 1);
                len = rest;
            }
            if (quit || len >= sizeof line - 1)
                break;
        }
    }
    zc_cluster_free(cl);
    out("BYE\n");
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Parent side.                                                                         */

#define NCHILD 5
struct child {
    const char *name;
    pid_t pid;
    int to, from; /* pipe ends: its stdin, its stdout */
    char buf[512];
    size_t blen;
    char seen[16384]; /* every complete line so far */
    size_t slen;
};

static struct child kids[NCHILD];

static int spawn(struct child *c, const char *layout_path, const char *log_dir) {
    int in[2], outp[2];
    if (pipe(in) != 0 || pipe(outp) != 0)
        return -1;
    c->pid = fork();
    if (c->pid < 0)
        return -1;
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(outp[1], 1);
        close(in[0]);
        close(in[1]);
        close(outp[0]);
        close(outp[1]);
        /* A fresh process image, not a fork of this one (whose threads do not survive). */
        execl(self_path, self_path, "--node", layout_path, c->name, log_dir, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    c->to = in[1];
    c->from = outp[0];
    c->blen = c->slen = 0;
    c->seen[0] = 0;
    return 0;
}

/* Reads whatever the children wrote, for up to `ms`, into their `seen` logs. */
static void pump(long ms) {
    struct pollfd p[NCHILD];
    for (int i = 0; i < NCHILD; i++)
        p[i] = (struct pollfd){kids[i].from, POLLIN, 0};
    if (poll(p, NCHILD, (int)ms) <= 0)
        return;
    for (int i = 0; i < NCHILD; i++) {
        struct child *c = &kids[i];
        if (!(p[i].revents & (POLLIN | POLLHUP)) || c->from < 0)
            continue;
        ssize_t n = read(c->from, c->buf + c->blen, sizeof c->buf - 1 - c->blen);
        if (n <= 0) {
            close(c->from);
            c->from = -1;
            continue;
        }
        c->blen += (size_t)n;
        char *start = c->buf, *nl;
        while ((nl = memchr(start, '\n', c->blen - (size_t)(start - c->buf))) != NULL) {
            size_t l = (size_t)(nl + 1 - start);
            if (c->slen + l < sizeof c->seen) {
                memcpy(c->seen + c->slen, start, l);
                c->slen += l;
                c->seen[c->slen] = 0;
            }
            start = nl + 1;
        }
        c->blen -= (size_t)(start - c->buf);
        memmove(c->buf, start, c->blen);
    }
}

static int has_line(const struct child *c, const char *prefix) {
    size_t n = strlen(prefix);
    for (const char *p = c->seen; *p;) {
        if (strncmp(p, prefix, n) == 0)
            return 1;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}

static int count_lines(const struct child *c, const char *prefix) {
    int k = 0;
    size_t n = strlen(prefix);
    for (const char *p = c->seen; *p;) {
        if (strncmp(p, prefix, n) == 0)
            k++;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return k;
}

/* Pumps until every prefix in `want` (NULL-terminated) appears in child `c`. */
static int await_lines(struct child *c, const char *const *want, long timeout_ms) {
    long end = now_ms() + timeout_ms;
    for (;;) {
        int all = 1;
        for (const char *const *w = want; *w; w++)
            all = all && has_line(c, *w);
        if (all)
            return 1;
        if (now_ms() >= end)
            return 0;
        pump(50);
    }
}

static void say(struct child *c, const char *cmd) {
    if (c->to >= 0 && write(c->to, cmd, strlen(cmd)) < 0)
        perror("write to child");
}

static struct child *kid(const char *name) {
    for (int i = 0; i < NCHILD; i++)
        if (strcmp(kids[i].name, name) == 0)
            return &kids[i];
    return NULL;
}

static void dump_kids(void) {
    for (int i = 0; i < NCHILD; i++)
        fprintf(stderr, "--- %s saw:\n%s", kids[i].name, kids[i].seen);
}

#define AWAIT(c, ...)                                                                 \
    do {                                                                              \
        const char *const zc_w[] = {__VA_ARGS__, NULL};                               \
        if (!await_lines((c), zc_w, 15000)) {                                         \
            ZC_FAIL_AT("%s did not report every expected line", (c)->name);           \
            return;                                                                   \
        }                                                                             \
    } while (0)

static char log_dir[256];

static void cluster_checks(void) {
    struct child *lg = kid("logger-1"), *mg = kid("manager"), *px = kid("proxy-1"),
                 *w1 = kid("worker-1"), *w10 = kid("worker-10");
    zc_h_on_fail = dump_kids;
    for (int i = 0; i < NCHILD; i++)
        AWAIT(&kids[i], "STARTED ");

    /* The Broker matrix (reference/cluster.md 2.1): workers never see each other. On
     * ZeroMQ everyone sees everyone (the hello goes through the proxy). */
    AWAIT(lg, "UP manager ", "UP proxy-1 ", "UP worker-1 ", "UP worker-10 ");
    AWAIT(mg, "UP logger-1 ", "UP proxy-1 ", "UP worker-1 ", "UP worker-10 ");
    AWAIT(px, "UP logger-1 ", "UP manager ", "UP worker-1 ", "UP worker-10 ");
    AWAIT(w1, "UP logger-1 ", "UP manager ", "UP proxy-1 ");
    AWAIT(w10, "UP logger-1 ", "UP manager ", "UP proxy-1 ");
    if (zmq_mode) {
        AWAIT(w1, "UP worker-10 ");
        AWAIT(w10, "UP worker-1 ");
    }
    pump(300);

    for (int i = 0; i < NCHILD; i++)
        say(&kids[i], "GO\n");
    /* "\n": worker-1's line is a prefix of worker-10's. */
    AWAIT(mg, "WENT", tp("EV zeek/cluster/manager/ Test::from_worker-1\n"),
          tp("EV zeek/cluster/manager/ Test::from_worker-10\n"));
    AWAIT(px, tp("EV zeek/cluster/proxy/ Test::to_proxies"));
    AWAIT(lg, tp("EV zeek/cluster/logger/ Test::to_loggers"));
    AWAIT(w1, tp("EV zeek/cluster/worker/ Test::to_workers"),
          tp("EV zeek/cluster/node/worker-1/ Test::to_worker_1"),
          tp("EV zeek/cluster/worker/ Test::from_proxy"), tp("EV zeek/cluster/node/worker-1/ Test::rr"));
    AWAIT(w10, tp("EV zeek/cluster/worker/ Test::to_workers"), tp("EV zeek/cluster/nodeid/"),
          tp("EV zeek/cluster/worker/ Test::from_proxy"), tp("EV zeek/cluster/node/worker-10/ Test::rr"));
    pump(500); /* anything misrouted would arrive by now */
    for (int i = 0; i < NCHILD; i++) {
        ZC_CHECK(count_lines(&kids[i], "ERR") == 0);
        ZC_CHECK(count_lines(&kids[i], "DOWN") == 0);
    }
    ZC_CHECK(count_lines(lg, "UP ") == 4 && count_lines(mg, "UP ") == 4);
    ZC_CHECK(count_lines(px, "UP ") == 4);
    ZC_CHECK(count_lines(w1, "UP ") == 3 + zmq_mode && count_lines(w10, "UP ") == 3 + zmq_mode);
    /* Node and nodeid topics reach exactly their node: worker-1's topic is a prefix of
     * worker-10's name, not of its topic. */
    ZC_CHECK(count_lines(w1, tp("EV zeek/cluster/node/worker-1/ Test::to_worker_1")) == 1);
    ZC_CHECK(count_lines(w1, tp("EV zeek/cluster/node/worker-10/")) == 0);
    ZC_CHECK(count_lines(w10, tp("EV zeek/cluster/node/worker-1/")) == 0);
    ZC_CHECK(count_lines(w10, tp("EV zeek/cluster/nodeid/")) == 1);
    ZC_CHECK(count_lines(w1, tp("EV zeek/cluster/nodeid/")) == 0);
    ZC_CHECK(count_lines(w1, tp("EV zeek/cluster/worker/ Test::to_workers")) == 1);
    ZC_CHECK(count_lines(px, "EV ") == 1 && count_lines(lg, "EV ") == 1);
    ZC_CHECK(count_lines(mg, "EV ") == 2);
    /* HRW: the same key three times lands on one worker; RR: one each. */
    int h1 = count_lines(w1, tp("EV zeek/cluster/node/worker-1/ Test::hrw"));
    int h10 = count_lines(w10, tp("EV zeek/cluster/node/worker-10/ Test::hrw"));
    ZC_CHECK((h1 == 3 && h10 == 0) || (h1 == 0 && h10 == 3));
    ZC_CHECK(count_lines(w1, tp("EV zeek/cluster/node/worker-1/ Test::rr")) == 1);
    ZC_CHECK(count_lines(w10, tp("EV zeek/cluster/node/worker-10/ Test::rr")) == 1);
    /* Every event a worker got is one of those (nothing else routed to it). */
    ZC_CHECK(count_lines(w1, "EV ") == 4 + h1 && count_lines(w10, "EV ") == 4 + h10);

    say(mg, "COUNT\nNODES\n");
    AWAIT(mg, "WORKERS 2", "NODES logger-1 proxy-1 worker-1 worker-10\n");

    /* worker_count follows a worker killed without goodbye. */
    sleep_ms(300);
    kill(w10->pid, SIGKILL);
    waitpid(w10->pid, NULL, 0);
    w10->pid = -1;
    AWAIT(mg, "DOWN worker-10 ");
    AWAIT(px, "DOWN worker-10 ");
    say(mg, "COUNT\n");
    AWAIT(mg, "WORKERS 1");

    /* Everyone but the logger leaves; then the logger closes cluster.log. On ZeroMQ the
     * manager (which runs the proxy) goes last: the others' going must pass its proxy. */
    for (int i = 0; i < NCHILD; i++)
        if (&kids[i] != lg && kids[i].pid > 0 && (!zmq_mode || &kids[i] != mg))
            say(&kids[i], "QUIT\n");
    AWAIT(px, "BYE");
    AWAIT(w1, "BYE");
    AWAIT(lg, "DOWN worker-1 ", "DOWN proxy-1 ");
    if (zmq_mode)
        say(mg, "QUIT\n");
    AWAIT(mg, "BYE");
    if (!zmq_mode)
        AWAIT(lg, "DOWN manager ");
    say(lg, "QUIT\n");
    AWAIT(lg, "BYE");

    char path[300], text[8192];
    snprintf(path, sizeof path, "%s/cluster.log", log_dir);
    FILE *f = fopen(path, "r");
    ZC_CHECK(f != NULL);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    ZC_CHECK(strstr(text, "#path\tcluster\n") != NULL);
    ZC_CHECK(strstr(text, "#fields\tts\tnode\tmessage\n") != NULL);
    ZC_CHECK(strstr(text, "#types\ttime\tstring\tstring\n") != NULL);
    ZC_CHECK(strstr(text, "\tlogger-1\tlogger-1 says hi\n") != NULL);
    ZC_CHECK(strstr(text, "\tmanager\tmanager says hi\n") != NULL);
    ZC_CHECK(strstr(text, "\tproxy-1\tproxy-1 says hi\n") != NULL);
    ZC_CHECK(strstr(text, "\tworker-1\tworker-1 says hi\n") != NULL);
    ZC_CHECK(strstr(text, "\tworker-10\tworker-10 says hi\n") != NULL);
    ZC_CHECK(strstr(text, "#close\t") != NULL);
}

static void multi_process(void) {
    static const char *const names[NCHILD] = {"logger-1", "manager", "proxy-1", "worker-1",
                                              "worker-10"};
    static const char *const proxies[] = {"proxy-1"};
    static const char *const workers[] = {"worker-1", "worker-10"};
    char layout_path[300];
    snprintf(log_dir, sizeof log_dir, "/tmp/zc-test-cluster-%ld-%d", (long)getpid(), zmq_mode);
    mkdir(log_dir, 0700);
    snprintf(layout_path, sizeof layout_path, "%s/cluster-layout.zeek", log_dir);
    ZC_CHECK(write_layout(layout_path, proxies, 1, workers, 2) == 0);
    signal(SIGPIPE, SIG_IGN);
    int ok = 1;
    for (int i = 0; i < NCHILD; i++) {
        kids[i].name = names[i];
        kids[i].pid = -1;
        kids[i].to = kids[i].from = -1;
    }
    for (int i = 0; i < NCHILD && ok; i++)
        ok = spawn(&kids[i], layout_path, log_dir) == 0;
    if (ok)
        cluster_checks();
    else
        ZC_FAIL_AT("%s", "could not start the node processes");
    for (int i = 0; i < NCHILD; i++) {
        if (kids[i].pid > 0) {
            kill(kids[i].pid, SIGKILL);
            waitpid(kids[i].pid, NULL, 0);
        }
        if (kids[i].to >= 0)
            close(kids[i].to);
        if (kids[i].from >= 0)
            close(kids[i].from);
    }
    char path[300];
    snprintf(path, sizeof path, "%s/cluster.log", log_dir);
    unlink(path);
    unlink(layout_path);
    rmdir(log_dir);
}

ZC_TEST(multi_process_cluster) {
    zmq_mode = 0;
    multi_process();
}

ZC_TEST(multi_process_cluster_zeromq) {
    zmq_mode = 1;
    setenv("ZC_TEST_ZEROMQ", "1", 1);
    multi_process();
    unsetenv("ZC_TEST_ZEROMQ");
    zmq_mode = 0;
}

/* ------------------------------------------------------------------------------------ */
/* Two nodes in this process (so valgrind sees every path).                             */

static zc_message *next_kind(zc_cluster *cl, zc_msg_kind want) {
    long end = now_ms() + 15000;
    while (now_ms() < end) {
        zc_message *m = NULL;
        if (zc_cluster_next(cl, 100, &m) != ZC_OK)
            continue;
        zc_msg_kind k;
        if (zc_message_kind(m, &k) == ZC_OK && k == want)
            return m;
        zc_message_free(m);
    }
    return NULL;
}

struct cb_state {
    int calls, events, freed;
};

static void on_msg(const zc_message *m, void *ud) {
    struct cb_state *st = ud;
    zc_msg_kind k;
    st->calls++;
    if (zc_message_kind(m, &k) == ZC_OK && k == ZC_MESSAGE_EVENT)
        st->events++;
}

static void on_free(void *ud) {
    ((struct cb_state *)ud)->freed++;
}

static int fd_readable(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static char dir2[256], layout2[300];

static void two_nodes(zc_cluster *lg, zc_cluster *mg, struct cb_state *st) {
    ZC_CHECK_RC(zc_cluster_start_in(lg, dir2), ZC_OK);
    ZC_CHECK_RC(zc_cluster_start_in(lg, dir2), ZC_ERR_STATE);
    ZC_CHECK_ERR_CONTAINS("already started");
    ZC_CHECK_RC(zc_cluster_start(mg), ZC_OK);

    zc_message *m = next_kind(mg, ZC_MESSAGE_NODE_UP);
    ZC_CHECK(m != NULL);
    char *s = NULL, *id = NULL;
    ZC_CHECK_RC(zc_message_node_name(m, &s), ZC_OK);
    ZC_CHECK_STR(s, "logger-1");
    zc_string_free(s);
    ZC_CHECK_RC(zc_message_text(m, &s), ZC_OK);
    ZC_CHECK_RC(zc_cluster_node_id(lg, &id), ZC_OK);
    ZC_CHECK_STR(s, id); /* node_up carries the node's id */
    zc_string_free(s);
    ZC_CHECK_RC(zc_message_peer_id(m, &s), ZC_OK);
    ZC_CHECK_STR(s, id); /* ... which is its endpoint id */
    zc_string_free(s);
    zc_string_free(id);
    ZC_CHECK_RC(zc_message_topic(m, &s), ZC_ERR_TYPE);
    zc_message_free(m);
    m = next_kind(lg, ZC_MESSAGE_NODE_UP);
    ZC_CHECK(m != NULL);
    ZC_CHECK_RC(zc_message_node_name(m, &s), ZC_OK);
    ZC_CHECK_STR(s, "manager");
    zc_string_free(s);
    zc_message_free(m);

    char **names = NULL;
    ZC_CHECK_RC(zc_cluster_nodes_up(mg, &names), ZC_OK);
    ZC_CHECK(names[0] && strcmp(names[0], "logger-1") == 0 && names[1] == NULL);
    zc_strings_free(names);
    uint64_t w = 7;
    ZC_CHECK_RC(zc_cluster_worker_count(mg, &w), ZC_OK);
    ZC_CHECK(w == 0);
    uint16_t port = 0;
    ZC_CHECK_RC(zc_cluster_listen_port(lg, &port), ZC_OK);
    ZC_CHECK(port != 0);

    /* Role topic, with the fd and the callback. */
    zc_event *ev = NULL;
    ZC_CHECK_RC(zc_event_new("Test::ping", &ev), ZC_OK);
    zc_value *arg = NULL;
    ZC_CHECK_RC(zc_value_string_utf8("hi", &arg), ZC_OK);
    ZC_CHECK_RC(zc_event_add_arg(ev, arg), ZC_OK);
    ZC_CHECK_RC(zc_cluster_publish(mg, "zeek/cluster/logger/", ev), ZC_OK);
    int fd = -1;
    ZC_CHECK_RC(zc_cluster_fd(lg, &fd), ZC_OK);
    long end = now_ms() + 10000;
    while (!fd_readable(fd) && now_ms() < end)
        sleep_ms(5);
    ZC_CHECK(fd_readable(fd));
    ZC_CHECK_RC(zc_cluster_set_callback(lg, on_msg, st, on_free), ZC_OK);
    size_t handled = 0;
    end = now_ms() + 10000;
    while (st->events == 0 && now_ms() < end)
        ZC_CHECK_RC(zc_cluster_poll(lg, 100, &handled), ZC_OK);
    ZC_CHECK(st->events == 1 && st->calls >= 1);

    /* Pools: the logger pool has one live member. */
    bool done = false;
    zc_value *key = NULL;
    ZC_CHECK_RC(zc_value_count(42, &key), ZC_OK);
    ZC_CHECK_RC(zc_cluster_publish_hrw(mg, LOGGER_POOL, key, ev, &done), ZC_OK);
    ZC_CHECK(done);
    done = false;
    ZC_CHECK_RC(zc_cluster_publish_rr(mg, LOGGER_POOL, "k", ev, &done), ZC_OK);
    ZC_CHECK(done);
    ZC_CHECK_RC(zc_cluster_publish_hrw(mg, WORKER_POOL, key, ev, &done), ZC_OK);
    ZC_CHECK(!done); /* no worker alive */
    ZC_CHECK_RC(zc_cluster_publish_hrw(mg, "no/such/pool/", key, ev, &done), ZC_ERR_NOT_FOUND);
    zc_value_free(key);
    end = now_ms() + 10000;
    while (st->events < 3 && now_ms() < end)
        ZC_CHECK_RC(zc_cluster_poll(lg, 100, NULL), ZC_OK);
    ZC_CHECK(st->events == 3);
    zc_event_free(ev);

    /* Own subscription, then withdrawn. */
    ZC_CHECK_RC(zc_cluster_subscribe(lg, "test/extra"), ZC_OK);
    ZC_CHECK_RC(zc_cluster_unsubscribe(lg, "test/extra"), ZC_OK);

    ZC_CHECK_RC(zc_cluster_log(mg, "from the manager"), ZC_OK);
    ZC_CHECK_RC(zc_cluster_log(lg, "from the logger"), ZC_OK);
    sleep_ms(300);
}

ZC_TEST(two_nodes_in_process) {
    static const char *const none[] = {NULL};
    snprintf(dir2, sizeof dir2, "/tmp/zc-test-cluster2-%ld", (long)getpid());
    mkdir(dir2, 0700);
    snprintf(layout2, sizeof layout2, "%s/layout.zeek", dir2);
    ZC_CHECK(write_layout(layout2, none, 0, none, 0) == 0);
    zc_cluster *lg = make_node(layout2, "logger-1"), *mg = make_node(layout2, "manager");
    struct cb_state st = {0, 0, 0};
    if (lg && mg)
        two_nodes(lg, mg, &st);
    else
        ZC_FAIL_AT("could not create the nodes: %s", zc_last_error());
    if (mg && lg) {
        zc_cluster_free(mg);
        zc_message *m = next_kind(lg, ZC_MESSAGE_NODE_DOWN);
        if (!m)
            ZC_FAIL_AT("%s", "the logger saw no node_down for the freed manager");
        zc_message_free(m);
    }
    zc_cluster_free(lg);
    if (st.freed != (lg && mg ? 1 : 0))
        ZC_FAIL_AT("userdata_free ran %d times", st.freed);
    char path[300], text[8192] = "";
    snprintf(path, sizeof path, "%s/cluster.log", dir2);
    FILE *f = fopen(path, "r");
    if (f) {
        text[fread(text, 1, sizeof text - 1, f)] = 0;
        fclose(f);
    }
    unlink(path);
    unlink(layout2);
    rmdir(dir2);
    ZC_CHECK(strstr(text, "\tmanager\tfrom the manager\n") != NULL);
    ZC_CHECK(strstr(text, "\tlogger-1\tfrom the logger\n") != NULL);
}

/* A thread blocked in zc_cluster_next without a timeout returns when another frees. */
struct blocked {
    zc_cluster *cl;
    zc_result rc;
};

static void *block_in_next(void *arg) {
    struct blocked *b = arg;
    zc_message *m = NULL;
    b->rc = zc_cluster_next(b->cl, -1, &m);
    zc_message_free(m);
    return NULL;
}

ZC_TEST(free_wakes_a_blocked_next) {
    static const char *const none[] = {NULL};
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "/tmp/zc-test-cluster4-%ld", (long)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/layout.zeek", dir);
    ZC_CHECK(write_layout(path, none, 0, none, 0) == 0);
    /* A logger peers with nobody, so nothing arrives on its own. */
    zc_cluster *cl = make_node(path, "logger-1");
    unlink(path);
    ZC_CHECK(cl != NULL);
    zc_result rc = zc_cluster_start_in(cl, dir);
    struct blocked b = {cl, ZC_OK};
    pthread_t t;
    int started = rc == ZC_OK && pthread_create(&t, NULL, block_in_next, &b) == 0;
    if (started)
        sleep_ms(300);
    long t0 = now_ms();
    zc_cluster_free(cl);
    if (started)
        pthread_join(t, NULL);
    long took = now_ms() - t0;
    snprintf(path, sizeof path, "%s/cluster.log", dir);
    unlink(path);
    rmdir(dir);
    ZC_CHECK_RC(rc, ZC_OK);
    ZC_CHECK(started);
    ZC_CHECK(b.rc == ZC_ERR_CLOSED || b.rc == ZC_ERR_BAD_HANDLE);
    ZC_CHECK(took < 5000);
}

/* ------------------------------------------------------------------------------------ */

static void cb_noop(const zc_message *m, void *ud) {
    (void)m;
    (void)ud;
}

ZC_TEST(negative_matrix) {
    static const char *const none[] = {NULL};
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "/tmp/zc-test-cluster3-%ld", (long)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/layout.zeek", dir);
    ZC_CHECK(write_layout(path, none, 0, none, 0) == 0);
    zc_cluster *cl = make_node(path, "manager"), *freed = make_node(path, "manager");
    zc_layout *l = NULL;
    ZC_CHECK_RC(zc_layout_load(path, &l), ZC_OK);
    unlink(path);
    rmdir(dir);
    ZC_CHECK(cl && freed);
    zc_cluster_free(freed);
    zc_cluster *wrong = (zc_cluster *)(void *)l;
    zc_event *ev = NULL;
    ZC_CHECK_RC(zc_event_new("Test::x", &ev), ZC_OK);
    zc_value *key = NULL;
    ZC_CHECK_RC(zc_value_count(1, &key), ZC_OK);
    zc_message *m = NULL;
    int fd;
    size_t n;
    bool b;
    char **arr = NULL;
    uint16_t port;
    struct cb_state st = {0, 0, 0};

    /* One table row per entry point: NULL, freed, wrong kind, not started. */
#define ROW(call_with)                                                                \
    ZC_CHECK_RC(call_with(NULL), ZC_ERR_NULL);                                        \
    ZC_CHECK_RC(call_with(freed), ZC_ERR_BAD_HANDLE);                                 \
    ZC_CHECK_RC(call_with(wrong), ZC_ERR_BAD_HANDLE);                                 \
    ZC_CHECK_RC(call_with(cl), ZC_ERR_STATE);                                         \
    ZC_CHECK_ERR_CONTAINS("not started");
#define C_PUBLISH(h) zc_cluster_publish(h, "t", ev)
#define C_SUB(h) zc_cluster_subscribe(h, "t")
#define C_UNSUB(h) zc_cluster_unsubscribe(h, "t")
#define C_FD(h) zc_cluster_fd(h, &fd)
#define C_NEXT(h) zc_cluster_next(h, 0, &m)
#define C_POLL(h) zc_cluster_poll(h, 0, &n)
#define C_LOG(h) zc_cluster_log(h, "x")
#define C_HRW(h) zc_cluster_publish_hrw(h, WORKER_POOL, key, ev, &b)
#define C_RR(h) zc_cluster_publish_rr(h, WORKER_POOL, "k", ev, &b)
#define C_UP(h) zc_cluster_nodes_up(h, &arr)
#define C_PORT(h) zc_cluster_listen_port(h, &port)
    static const char *const targets[] = {"zeek/cluster/worker/", BAD_UTF8, NULL};
    uint32_t roles = 99;
#define C_RELAY(h) zc_cluster_relay_rr(h, PROXY_POOL, "k", targets, 1, ev, &b)
#define C_RAISE(h) zc_cluster_raise(h, ev, &roles)
    ROW(C_PUBLISH) ROW(C_SUB) ROW(C_UNSUB) ROW(C_FD) ROW(C_NEXT) ROW(C_POLL) ROW(C_LOG)
    ROW(C_HRW) ROW(C_RR) ROW(C_UP) ROW(C_PORT) ROW(C_RELAY) ROW(C_RAISE)
    ZC_CHECK(roles == 99);
    ZC_CHECK_RC(zc_cluster_relay_rr(cl, NULL, "k", targets, 1, ev, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_relay_rr(cl, PROXY_POOL, NULL, targets, 1, ev, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_relay_rr(cl, PROXY_POOL, "k", NULL, 1, ev, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_relay_rr(cl, PROXY_POOL, "k", targets, 2, ev, &b), ZC_ERR_UTF8);
    ZC_CHECK_ERR_CONTAINS("targets[1]");
    ZC_CHECK_RC(zc_cluster_relay_rr(cl, PROXY_POOL, "k", targets, 3, ev, &b), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_relay_rr(cl, PROXY_POOL, "k", targets, 1, NULL, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_relay_rr(cl, PROXY_POOL, "k", targets, 1, (zc_event *)(void *)key, &b),
                ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_relay_rr(cl, PROXY_POOL, "k", targets, 1, ev, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_raise(cl, NULL, &roles), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_raise(cl, ev, NULL), ZC_ERR_NULL);
    /* set_callback: userdata_free runs on every failure, so nothing leaks. */
    ZC_CHECK_RC(zc_cluster_set_callback(NULL, cb_noop, &st, on_free), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_set_callback(freed, cb_noop, &st, on_free), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_set_callback(wrong, cb_noop, &st, on_free), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_set_callback(cl, cb_noop, &st, on_free), ZC_ERR_STATE);
    ZC_CHECK_RC(zc_cluster_set_callback(cl, NULL, &st, on_free), ZC_ERR_STATE);
    ZC_CHECK(st.freed == 5);
    /* start / start_in. */
    ZC_CHECK_RC(zc_cluster_start(NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_start(freed), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_start(wrong), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_start_in(NULL, "/tmp"), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_start_in(freed, "/tmp"), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_start_in(wrong, "/tmp"), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_start_in(cl, BAD_UTF8), ZC_ERR_UTF8);
    /* Bad arguments on a valid handle. */
    ZC_CHECK_RC(zc_cluster_publish(cl, NULL, ev), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_publish(cl, BAD_UTF8, ev), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_publish(cl, "t", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_publish(cl, "t", (zc_event *)(void *)key), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_subscribe(cl, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_subscribe(cl, BAD_UTF8), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_unsubscribe(cl, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_unsubscribe(cl, BAD_UTF8), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_fd(cl, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_next(cl, 0, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_log(cl, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_log(cl, BAD_UTF8), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_publish_hrw(cl, NULL, key, ev, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_publish_hrw(cl, BAD_UTF8, key, ev, &b), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_publish_hrw(cl, WORKER_POOL, NULL, ev, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_publish_hrw(cl, WORKER_POOL, (zc_value *)(void *)ev, ev, &b),
                ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_publish_hrw(cl, WORKER_POOL, key, NULL, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_publish_hrw(cl, WORKER_POOL, key, ev, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_publish_rr(cl, NULL, "k", ev, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_publish_rr(cl, WORKER_POOL, NULL, ev, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_publish_rr(cl, WORKER_POOL, BAD_UTF8, ev, &b), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_publish_rr(cl, WORKER_POOL, "k", NULL, &b), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_publish_rr(cl, WORKER_POOL, "k", ev, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_nodes_up(cl, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_listen_port(cl, NULL), ZC_ERR_NULL);
    /* zc_message_node_name. */
    char *s = NULL;
    ZC_CHECK_RC(zc_message_node_name(NULL, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_message_node_name((zc_message *)(void *)ev, &s), ZC_ERR_BAD_HANDLE);
    /* A not-enabled cluster cannot start. */
    zc_cluster *off = NULL;
    ZC_CHECK_RC(zc_cluster_new(l, "", NULL, &off), ZC_OK);
    ZC_CHECK_RC(zc_cluster_start(off), ZC_ERR_STATE);
    ZC_CHECK_ERR_CONTAINS("not enabled");
    zc_cluster_free(off);
    /* After start: the node that was not started works; worker topics have no peers. */
    ZC_CHECK_RC(zc_cluster_start(cl), ZC_OK);
    /* The logger is not running: only PEER_UNAVAILABLE statuses may arrive (the retry
       can beat us to it), never an event. */
    for (int i = 0; i < 100; i++) {
        zc_result r = zc_cluster_next(cl, 0, &m);
        if (r == ZC_ERR_TIMEOUT)
            break;
        ZC_CHECK_RC(r, ZC_OK);
        zc_msg_kind k = ZC_MESSAGE_EVENT;
        ZC_CHECK_RC(zc_message_kind(m, &k), ZC_OK);
        ZC_CHECK(k == ZC_MESSAGE_PEER_UNAVAILABLE);
        zc_message_free(m);
    }
    ZC_CHECK_RC(zc_cluster_publish_hrw(cl, WORKER_POOL, key, ev, &b), ZC_OK);
    ZC_CHECK(!b);
    /* No proxy is alive: nothing to relay through. No targets is an error. */
    b = true;
    ZC_CHECK_RC(zc_cluster_relay_rr(cl, PROXY_POOL, "k", targets, 1, ev, &b), ZC_OK);
    ZC_CHECK(!b);
    ZC_CHECK_RC(zc_cluster_relay_rr(cl, PROXY_POOL, "k", targets, 0, ev, &b), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_cluster_relay_rr(cl, "zeek/cluster/pool/nope", "k", targets, 1, ev, &b),
                ZC_ERR_NOT_FOUND);
    /* A current (not Bro 2.5) layout routes nothing by event-name pattern. */
    ZC_CHECK_RC(zc_cluster_raise(cl, ev, &roles), ZC_OK);
    ZC_CHECK(roles == 0);
    ZC_CHECK_RC(zc_cluster_set_callback(cl, NULL, &st, on_free), ZC_OK);
    ZC_CHECK(st.freed == 6);
    zc_cluster_free(cl);
    ZC_CHECK_RC(zc_cluster_next(cl, 0, &m), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_publish(cl, "t", ev), ZC_ERR_BAD_HANDLE);
    zc_cluster_free(NULL);
    zc_event_free(ev);
    zc_value_free(key);
    zc_layout_free(l);
}

int main(int argc, char **argv) {
    self_path = getenv("ZC_TEST_SELF") ? getenv("ZC_TEST_SELF") : argv[0];
    if (argc == 5 && strcmp(argv[1], "--node") == 0)
        return run_node(argv[2], argv[3], argv[4]);
    ZC_RUN(negative_matrix);
    ZC_RUN(two_nodes_in_process);
    ZC_RUN(free_wakes_a_blocked_next);
    ZC_RUN(multi_process_cluster);
    ZC_RUN(multi_process_cluster_zeromq);
    return zc_test_summary();
}
