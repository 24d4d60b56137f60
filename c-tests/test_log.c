/* Log streams through the C API.
 *
 * - negative_matrix: every log entry point with NULL, bad UTF-8, freed and foreign
 *   handles, a node that is not started, malformed records and streams.
 * - worker_to_logger_in_process: a logger and a worker in this process; the worker
 *   creates a stream with every column type and writes records built from zc_values;
 *   the logger's myproto.log holds exactly the expected Zeek TSV lines. Also on ZeroMQ
 *   (worker_to_logger_in_process_zeromq: the logger runs the proxy; the records travel
 *   as zeek-bin-serializer batches from the worker's PUSH to the logger's PULL).
 * - `test_log --worker LAYOUT NODE COUNT [DIR]` runs one worker node that writes COUNT
 *   records of that stream once a logger is up, then flushes and exits (the Python
 *   multi-process test drives it). */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#define ZC_PORT_SALT 4409u
#include "util.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BAD_UTF8 "\xff\xfe"

/* The stream every test and worker writes (the Python test defines the same). */
static const char *const COLS[][3] = {
    {"ts", "time", ""},           {"worker", "string", ""},      {"seq", "count", ""},
    {"id.orig_h", "addr", ""},    {"id.orig_p", "port", ""},     {"id.resp_h", "addr", ""},
    {"id.resp_p", "port", ""},    {"ok", "bool", ""},            {"delta", "int", ""},
    {"ratio", "double", ""},      {"dur", "interval", ""},       {"name", "string", ""},
    {"net", "subnet", ""},        {"proto", "enum", ""},         {"tags", "set[string]", ""},
    {"sizes", "vector[count]", ""}, {"note", "string", "optional"},
};
#define NCOLS (sizeof COLS / sizeof COLS[0])

static zc_log_stream *make_stream(void) {
    zc_log_stream *s = NULL;
    if (zc_log_stream_new("MyProto::LOG", "myproto", &s) != ZC_OK)
        return NULL;
    for (size_t i = 0; i < NCOLS; i++) {
        if (zc_log_stream_add_column(s, COLS[i][0], COLS[i][1], COLS[i][2][0] != 0) != ZC_OK) {
            zc_log_stream_free(s);
            return NULL;
        }
    }
    return s;
}

static int push(zc_value *vec, zc_result rc, zc_value *v) {
    if (rc != ZC_OK)
        return -1;
    if (zc_value_vector_push(vec, v) != ZC_OK) {
        zc_value_free(v);
        return -1;
    }
    return 0;
}

/* Record `i` of worker `who` ("c"). NULL on failure. */
static zc_value *make_record(const char *who, uint64_t i) {
    zc_value *r = NULL, *v = NULL;
    char buf[64];
    int bad = 0;
    if (zc_value_vector_new(&r) != ZC_OK)
        return NULL;
#define P(call)                                                                       \
    do {                                                                              \
        zc_result rc_ = (call);                                                       \
        bad |= push(r, rc_, v);                                                       \
    } while (0)
    P(zc_value_real(1700000000.25 + (double)i, &v));
    P(zc_value_string((const uint8_t *)who, strlen(who), &v));
    P(zc_value_count(i, &v));
    snprintf(buf, sizeof buf, "10.0.0.%u", (unsigned)(i % 250 + 1));
    P(zc_value_address(buf, &v));
    P(zc_value_port((uint16_t)(1000 + i), 1, &v));
    P(zc_value_address("2001:db8::1", &v));
    P(zc_value_port(53, 2, &v));
    P(zc_value_bool(i % 2 == 0, &v));
    P(zc_value_integer(-(int64_t)i, &v));
    P(zc_value_real((double)i / 4.0, &v));
    P(zc_value_timespan(500000000, &v));
    if (i % 3 == 0) {
        P(zc_value_string((const uint8_t *)"a b\tc", 5, &v));
    } else {
        snprintf(buf, sizeof buf, "n%u", (unsigned)i);
        P(zc_value_string((const uint8_t *)buf, strlen(buf), &v));
    }
    snprintf(buf, sizeof buf, "10.%u.0.0/16", (unsigned)(i % 256));
    P(zc_value_subnet(buf, &v));
    P(zc_value_enum("tcp", &v));
    zc_value *set = NULL;
    bad |= zc_value_set_new(&set) != ZC_OK;
    if (!bad && i % 2 == 0) {
        zc_value *e = NULL;
        bad |= zc_value_string((const uint8_t *)"y", 1, &e) != ZC_OK || zc_value_set_insert(set, e) != ZC_OK;
        bad |= zc_value_string((const uint8_t *)"x", 1, &e) != ZC_OK || zc_value_set_insert(set, e) != ZC_OK;
    }
    v = set;
    bad |= push(r, set ? ZC_OK : ZC_ERR_INTERNAL, v);
    zc_value *vec = NULL;
    bad |= zc_value_vector_new(&vec) != ZC_OK;
    for (uint64_t k = i; !bad && k < i + 2; k++) {
        zc_value *e = NULL;
        bad |= zc_value_count(k, &e) != ZC_OK || zc_value_vector_push(vec, e) != ZC_OK;
    }
    v = vec;
    bad |= push(r, vec ? ZC_OK : ZC_ERR_INTERNAL, v);
    if (i % 5 == 0) {
        P(zc_value_none(&v));
    } else {
        P(zc_value_string((const uint8_t *)"ok", 2, &v));
    }
#undef P
    if (bad) {
        zc_value_free(r);
        return NULL;
    }
    return r;
}

/* The TSV line Zeek writes for record `i` of worker `who` (without the newline). */
static void expected_line(const char *who, unsigned i, char *out, size_t n) {
    char ratio[32], name[32], tags[16], note[8];
    double r = i / 4.0;
    if (i % 4 == 0)
        snprintf(ratio, sizeof ratio, "%u.0", i / 4);
    else {
        snprintf(ratio, sizeof ratio, "%.6f", r);
        size_t l = strlen(ratio);
        while (l > 0 && ratio[l - 1] == '0')
            ratio[--l] = 0;
    }
    if (i % 3 == 0)
        snprintf(name, sizeof name, "a b\\x09c");
    else
        snprintf(name, sizeof name, "n%u", i);
    snprintf(tags, sizeof tags, "%s", i % 2 == 0 ? "x,y" : "(empty)");
    snprintf(note, sizeof note, "%s", i % 5 == 0 ? "-" : "ok");
    snprintf(out, n,
             "%.6f\t%s\t%u\t10.0.0.%u\t%u\t2001:db8::1\t53\t%s\t%s%u\t%s\t0.500000\t%s\t10.%u.0.0/16"
             "\ttcp\t%s\t%u,%u\t%s",
             1700000000.25 + i, who, i, i % 250 + 1, 1000 + i, i % 2 == 0 ? "T" : "F",
             i == 0 ? "" : "-", i, ratio, name, i % 256, tags, i, i + 1, note);
}

/* The ZeroMQ run of the in-process test: the logger runs the XPUB/XSUB proxy. */
static int zmq_mode;

static zc_cluster *make_node(const char *layout_path, const char *name) {
    zc_layout *l = NULL;
    zc_options *o = NULL;
    zc_cluster *cl = NULL;
    if (zc_layout_load(layout_path, &l) != ZC_OK)
        return NULL;
    if (zc_options_new(&o) == ZC_OK &&
        zc_options_set(o, "Cluster::retry_interval", "0.1 secs") == ZC_OK &&
        zc_options_set(o, "Broker::log_batch_interval", "0.1 secs") == ZC_OK &&
        (!zmq_mode || strcmp(name, "logger-1") != 0 ||
         zc_options_set(o, "Cluster::Backend::ZeroMQ::run_proxy_thread", "T") == ZC_OK))
        (void)zc_cluster_new(l, name, o, &cl);
    zc_options_free(o);
    zc_layout_free(l);
    return cl;
}

/* Waits until `cl` saw node_up for `name`. */
static int await_up(zc_cluster *cl, const char *name, long ms) {
    long end = now_ms() + ms;
    while (now_ms() < end) {
        zc_message *m = NULL;
        if (zc_cluster_next(cl, 100, &m) != ZC_OK || m == NULL)
            continue;
        zc_msg_kind k;
        int hit = 0;
        if (zc_message_kind(m, &k) == ZC_OK && k == ZC_MESSAGE_NODE_UP) {
            char *n = NULL;
            if (zc_message_node_name(m, &n) == ZC_OK && n) {
                hit = strcmp(n, name) == 0;
                zc_string_free(n);
            }
        }
        zc_message_free(m);
        if (hit)
            return 1;
    }
    return 0;
}

static int run_worker(const char *layout, const char *node, const char *count_s) {
    zc_cluster *cl = make_node(layout, node);
    zc_log_stream *s = make_stream();
    unsigned long count = strtoul(count_s, NULL, 10);
    if (!cl || !s || zc_cluster_create_log_stream(cl, s) != ZC_OK || zc_cluster_start(cl) != ZC_OK) {
        fprintf(stderr, "worker: %s\n", zc_last_error());
        return 2;
    }
    zc_log_stream_free(s);
    if (!await_up(cl, "logger-1", 20000)) {
        fprintf(stderr, "worker: no logger\n");
        return 3;
    }
    for (unsigned long i = 0; i < count; i++) {
        zc_value *r = make_record("c", i);
        if (!r || zc_cluster_log_write(cl, "MyProto::LOG", r) != ZC_OK) {
            fprintf(stderr, "worker: write %lu: %s\n", i, zc_last_error());
            return 4;
        }
        zc_value_free(r);
    }
    if (zc_cluster_log(cl, "c worker done") != ZC_OK || zc_cluster_log_flush(cl) != ZC_OK)
        return 5;
    printf("WROTE %lu\n", count);
    fflush(stdout);
    zc_cluster_free(cl); /* flushes what is left */
    return 0;
}

ZC_TEST(negative_matrix) {
    zc_log_stream *s = NULL, *freed = NULL;
    ZC_CHECK_RC(zc_log_stream_new(NULL, "p", &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_log_stream_new("A::LOG", NULL, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_log_stream_new("A::LOG", "p", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_log_stream_new(BAD_UTF8, "p", &s), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_log_stream_new("A::LOG", BAD_UTF8, &s), ZC_ERR_UTF8);
    ZC_CHECK(s == NULL);
    ZC_CHECK_RC(zc_log_stream_new("A::LOG", "p", &freed), ZC_OK);
    zc_log_stream_free(freed);
    zc_log_stream_free(freed); /* stale: reported, not freed twice */
    zc_log_stream_free(NULL);
    zc_value *foreign = NULL;
    ZC_CHECK_RC(zc_value_count(1, &foreign), ZC_OK);
    zc_log_stream *wrong = (zc_log_stream *)(void *)foreign;
    ZC_CHECK_RC(zc_log_stream_new("A::LOG", "p", &s), ZC_OK);
    ZC_CHECK_RC(zc_log_stream_add_column(NULL, "a", "count", false), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_log_stream_add_column(freed, "a", "count", false), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_log_stream_add_column(wrong, "a", "count", false), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_log_stream_add_column(s, NULL, "count", false), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_log_stream_add_column(s, BAD_UTF8, "count", false), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_log_stream_add_column(s, "a", NULL, false), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_log_stream_add_column(s, "a", BAD_UTF8, false), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_log_stream_add_column(s, "a", "table[count]", false), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_log_stream_add_column(s, "a", "set[set[count]]", false), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_log_stream_add_column(s, "", "count", false), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_log_stream_add_column(s, "a\tb", "count", false), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_log_stream_add_column(s, "a", "count", false), ZC_OK);
    ZC_CHECK_RC(zc_log_stream_add_column(s, "a", "int", false), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("appears twice");

    /* A cluster that is not started. */
    char dir[128], layout[200];
    snprintf(dir, sizeof dir, "/tmp/zc-test-log-neg-%ld", (long)getpid());
    mkdir(dir, 0700);
    snprintf(layout, sizeof layout, "%s/layout.zeek", dir);
    FILE *f = fopen(layout, "w");
    ZC_CHECK(f != NULL);
    fprintf(f, "redef Cluster::nodes = {\n\t[\"worker-1\"] = [$node_type=Cluster::WORKER, "
               "$ip=127.0.0.1, $p=%u/tcp],\n};\n", free_port());
    fclose(f);
    zc_cluster *cl = make_node(layout, "worker-1"), *gone = make_node(layout, "worker-1");
    ZC_CHECK(cl != NULL && gone != NULL);
    zc_cluster_free(gone);
    zc_cluster *wrong_cl = (zc_cluster *)(void *)foreign;
    zc_log_stream *empty = NULL;
    ZC_CHECK_RC(zc_log_stream_new("B::LOG", "b", &empty), ZC_OK);
    ZC_CHECK_RC(zc_cluster_create_log_stream(NULL, s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_create_log_stream(gone, s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_create_log_stream(wrong_cl, s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_create_log_stream(cl, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_create_log_stream(cl, freed), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_create_log_stream(cl, wrong), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_create_log_stream(cl, empty), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("at least one column");
    ZC_CHECK_RC(zc_cluster_create_log_stream(cl, s), ZC_OK);
    ZC_CHECK_RC(zc_cluster_create_log_stream(cl, s), ZC_OK); /* same again */
    ZC_CHECK_RC(zc_log_stream_add_column(s, "b", "string", true), ZC_OK);
    ZC_CHECK_RC(zc_cluster_create_log_stream(cl, s), ZC_ERR_STATE);
    zc_log_stream_free(empty);
    zc_value *rec = NULL, *c1 = NULL;
    ZC_CHECK_RC(zc_value_vector_new(&rec), ZC_OK);
    ZC_CHECK_RC(zc_value_count(7, &c1), ZC_OK);
    ZC_CHECK_RC(zc_value_vector_push(rec, c1), ZC_OK);
    zc_log_stats st;
    ZC_CHECK_RC(zc_cluster_log_write(cl, "A::LOG", rec), ZC_ERR_STATE);
    ZC_CHECK_RC(zc_cluster_log_flush(cl), ZC_ERR_STATE);
    ZC_CHECK_RC(zc_cluster_log_stats(cl, &st), ZC_ERR_STATE);
    ZC_CHECK_RC(zc_cluster_start(cl), ZC_OK);
    ZC_CHECK_RC(zc_cluster_log_write(NULL, "A::LOG", rec), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_log_write(gone, "A::LOG", rec), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_log_write(wrong_cl, "A::LOG", rec), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_log_write(cl, NULL, rec), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_log_write(cl, BAD_UTF8, rec), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_log_write(cl, "A::LOG", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_log_write(cl, "A::LOG", (zc_value *)(void *)s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_log_write(cl, "A::LOG", c1), ZC_ERR_BAD_HANDLE); /* owned by rec */
    ZC_CHECK_RC(zc_cluster_log_write(cl, "A::LOG", foreign), ZC_ERR_TYPE); /* not a vector */
    ZC_CHECK_RC(zc_cluster_log_write(cl, "No::LOG", rec), ZC_ERR_NOT_FOUND);
    ZC_CHECK_RC(zc_cluster_log_write(cl, "A::LOG", rec), ZC_OK);
    zc_value *bad = NULL, *str = NULL;
    ZC_CHECK_RC(zc_value_vector_new(&bad), ZC_OK);
    ZC_CHECK_RC(zc_value_string((const uint8_t *)"x", 1, &str), ZC_OK);
    ZC_CHECK_RC(zc_value_vector_push(bad, str), ZC_OK);
    ZC_CHECK_RC(zc_cluster_log_write(cl, "A::LOG", bad), ZC_ERR_TYPE);
    ZC_CHECK_ERR_CONTAINS("column \"a\"");
    zc_value_free(bad);
    ZC_CHECK_RC(zc_value_vector_new(&bad), ZC_OK);
    ZC_CHECK_RC(zc_cluster_log_write(cl, "A::LOG", bad), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_value_none(&str), ZC_OK);
    ZC_CHECK_RC(zc_value_vector_push(bad, str), ZC_OK);
    ZC_CHECK_RC(zc_cluster_log_write(cl, "A::LOG", bad), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("column \"a\" is required");
    zc_value_free(bad);
    ZC_CHECK_RC(zc_cluster_log_flush(NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_log_flush(gone), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_log_flush(cl), ZC_OK);
    ZC_CHECK_RC(zc_cluster_log_stats(NULL, &st), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_log_stats(gone, &st), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_log_stats(wrong_cl, &st), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_log_stats(cl, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_log_stats(cl, &st), ZC_OK);
    /* No logger: the record waits (and "listening" style cluster.log records may too). */
    ZC_CHECK(st.buffered >= 1 && st.dropped == 0);
    zc_value_free(rec);
    zc_value_free(foreign);
    zc_log_stream_free(s);
    zc_cluster_free(cl);
    /* A freed node's handle is what a closed node is through the C API. */
    ZC_CHECK_RC(zc_cluster_log_flush(cl), ZC_ERR_BAD_HANDLE);
    unlink(layout);
    rmdir(dir);
}

static void worker_to_logger(void) {
    char dir[128], layout[200], path[256];
    snprintf(dir, sizeof dir, "/tmp/zc-test-log-%ld-%d", (long)getpid(), zmq_mode);
    mkdir(dir, 0700);
    snprintf(layout, sizeof layout, "%s/layout.zeek", dir);
    FILE *f = fopen(layout, "w");
    ZC_CHECK(f != NULL);
    if (zmq_mode) {
        write_zeromq_redefs(f);
        fprintf(f, "redef Cluster::manager_is_logger = F;\n");
    }
    fprintf(f, "redef Cluster::nodes = {\n");
    fprintf(f, "\t[\"logger-1\"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=%u/tcp],\n", free_port());
    fprintf(f, "\t[\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%u/tcp],\n", free_port());
    fprintf(f, "\t[\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=%u/tcp, $manager=\"manager\"],\n", free_port());
    fprintf(f, "};\n");
    fclose(f);
    const unsigned N = 60;
    zc_cluster *lg = make_node(layout, "logger-1"), *w = make_node(layout, "worker-1");
    ZC_CHECK(lg && w);
    zc_log_stream *s = make_stream();
    ZC_CHECK(s != NULL);
    ZC_CHECK_RC(zc_cluster_create_log_stream(w, s), ZC_OK);
    zc_log_stream_free(s);
    ZC_CHECK_RC(zc_cluster_start_in(lg, dir), ZC_OK);
    ZC_CHECK_RC(zc_cluster_start(w), ZC_OK);
    ZC_CHECK(await_up(w, "logger-1", 20000));
    for (unsigned i = 0; i < N; i++) {
        zc_value *r = make_record("c", i);
        ZC_CHECK(r != NULL);
        zc_result rc = zc_cluster_log_write(w, "MyProto::LOG", r);
        zc_value_free(r);
        ZC_CHECK_RC(rc, ZC_OK);
    }
    ZC_CHECK_RC(zc_cluster_log_flush(w), ZC_OK);
    zc_log_stats st;
    long end = now_ms() + 20000;
    do {
        sleep_ms(20);
        ZC_CHECK_RC(zc_cluster_log_stats(lg, &st), ZC_OK);
    } while (st.records < N && now_ms() < end);
    ZC_CHECK(st.records >= N);
    ZC_CHECK(st.dropped_no_create == 0 && st.dropped_malformed == 0);
    zc_cluster_free(w);
    ZC_CHECK_RC(zc_cluster_log_flush(lg), ZC_OK);
    zc_cluster_free(lg);
    snprintf(path, sizeof path, "%s/myproto.log", dir);
    f = fopen(path, "r");
    ZC_CHECK(f != NULL);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    ZC_CHECK(strstr(text, "#fields\tts\tworker\tseq\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tok\tdelta"
                          "\tratio\tdur\tname\tnet\tproto\ttags\tsizes\tnote\n") != NULL);
    ZC_CHECK(strstr(text, "#types\ttime\tstring\tcount\taddr\tport\taddr\tport\tbool\tint\tdouble"
                          "\tinterval\tstring\tsubnet\tenum\tset[string]\tvector[count]\tstring\n") != NULL);
    /* Every record, in order, exactly as expected. */
    char *p = text;
    unsigned seen = 0;
    while ((p = strchr(p, '\n')) != NULL && *(++p)) {
        if (*p == '#')
            continue;
        char want[512];
        expected_line("c", seen, want, sizeof want);
        size_t wl = strlen(want);
        if (strncmp(p, want, wl) != 0 || p[wl] != '\n') {
            char got[512];
            size_t gl = strcspn(p, "\n");
            snprintf(got, sizeof got, "%.*s", (int)(gl < 500 ? gl : 500), p);
            ZC_FAIL_AT("record %u:\n got  %s\n want %s", seen, got, want);
            return;
        }
        seen++;
    }
    ZC_CHECK(seen == N);
    unlink(path);
    snprintf(path, sizeof path, "%s/cluster.log", dir);
    unlink(path);
    unlink(layout);
    rmdir(dir);
}

ZC_TEST(worker_to_logger_in_process) {
    zmq_mode = 0;
    worker_to_logger();
}

ZC_TEST(worker_to_logger_in_process_zeromq) {
    zmq_mode = 1;
    worker_to_logger();
    zmq_mode = 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--worker") == 0)
        return run_worker(argv[2], argv[3], argv[4]);
    ZC_RUN(negative_matrix);
    ZC_RUN(worker_to_logger_in_process);
    ZC_RUN(worker_to_logger_in_process_zeromq);
    return zc_test_summary();
}
