/* Data stores through the C API: a master created by zc_cluster_create_store on the
 * manager node (memory and SQLite), every operation, persistence across a second
 * cluster, handles after the cluster is freed, and the negative matrix (NULL, freed and
 * wrong-type handles, bad names, bad expiries); a clone in another process (this program
 * re-executed as worker-1) reading and writing the manager's master. Everything but the
 * negative matrix runs on both backends: Broker, and ZeroMQ (the manager runs the
 * XPUB/XSUB proxy; store commands travel over the same sockets, zcluster's extension). */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "util.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char store_dir[64];
static char layout_path[128];
static const char *self_path;

/* The layout of this run: the manager listens (Broker) and runs the proxy (ZeroMQ). */
static int write_layout(int zeromq) {
    FILE *f = fopen(layout_path, "w");
    if (!f)
        return -1;
    if (zeromq) {
        write_zeromq_redefs(f);
    }
    fprintf(f, "redef Cluster::nodes = {\n");
    fprintf(f, "  [\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%u/tcp],\n", free_port());
    fprintf(f, "  [\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=0/tcp, $manager=\"manager\"],\n");
    fprintf(f, "};\n");
    return fclose(f);
}

/* A cluster for `node` with the store directory and, if `opt` is not NULL, opt = value. */
static zc_cluster *make_cluster_opt(const char *node, const char *opt, const char *value) {
    zc_layout *l = NULL;
    zc_options *o = NULL;
    zc_cluster *cl = NULL;
    if (zc_layout_load(layout_path, &l) != ZC_OK)
        return NULL;
    if (zc_options_new(&o) == ZC_OK && zc_options_set(o, "Cluster::default_store_dir", store_dir) == ZC_OK
        && zc_options_set(o, "Cluster::retry_interval", "0.1 secs") == ZC_OK
        && (opt == NULL || zc_options_set(o, opt, value) == ZC_OK))
        zc_cluster_new(l, node, o, &cl);
    zc_options_free(o);
    zc_layout_free(l);
    return cl;
}

static zc_cluster *make_cluster(const char *node) {
    return make_cluster_opt(node, NULL, NULL);
}

static zc_value *str(const char *s) {
    zc_value *v = NULL;
    zc_value_string_utf8(s, &v);
    return v;
}

static zc_value *cnt(uint64_t n) {
    zc_value *v = NULL;
    zc_value_count(n, &v);
    return v;
}

ZC_TEST(master_operations) {
    zc_cluster *cl = make_cluster("manager");
    ZC_CHECK(cl != NULL);
    zc_store *st = NULL;
    ZC_CHECK_RC(zc_cluster_create_store(cl, "ops", false, &st), ZC_OK);
    bool master = false;
    ZC_CHECK_RC(zc_store_is_master(st, &master), ZC_OK);
    ZC_CHECK(master);
    zc_backend b = ZC_BACKEND_SQLITE;
    ZC_CHECK_RC(zc_store_backend(st, &b), ZC_OK);
    ZC_CHECK(b == ZC_BACKEND_MEMORY);
    char *name = NULL;
    ZC_CHECK_RC(zc_store_name(st, &name), ZC_OK);
    ZC_CHECK_STR(name, "ops");
    zc_string_free(name);
    char *mn = NULL;
    ZC_CHECK_RC(zc_store_master_node(st, &mn), ZC_OK);
    ZC_CHECK_STR(mn, "manager");
    zc_string_free(mn);
    double r = 0, s = 0, m = 0;
    ZC_CHECK_RC(zc_store_clone_intervals(st, &r, &s, &m), ZC_OK);
    ZC_CHECK(r == 10.0 && s == 300.0 && m == 120.0);

    zc_value *k = str("k"), *v = str("hello"), *out = NULL;
    ZC_CHECK_RC(zc_store_put(st, k, v, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_get(st, k, 0, &out), ZC_OK);
    char *p = NULL;
    size_t len = 0;
    ZC_CHECK_RC(zc_value_get_string(out, &p, &len), ZC_OK);
    ZC_CHECK(len == 5 && memcmp(p, "hello", 5) == 0);
    zc_string_free(p);
    zc_value_free(out);
    out = NULL;
    bool ins = true;
    ZC_CHECK_RC(zc_store_put_unique(st, k, v, 0, &ins), ZC_OK);
    ZC_CHECK(!ins);
    zc_value *world = str(" world");
    ZC_CHECK_RC(zc_store_append(st, k, world, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_get(st, k, 0, &out), ZC_OK);
    ZC_CHECK_RC(zc_value_get_string(out, &p, &len), ZC_OK);
    ZC_CHECK(len == 11 && memcmp(p, "hello world", 11) == 0);
    zc_string_free(p);
    zc_value_free(out);
    out = NULL;
    /* increment a string: a type error, reported */
    zc_value *five = cnt(5), *two = cnt(2);
    ZC_CHECK_RC(zc_store_increment(st, k, five, 0), ZC_ERR_TYPE);
    zc_value *c = str("counter");
    ZC_CHECK_RC(zc_store_increment(st, c, five, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_decrement(st, c, two, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_get(st, c, 0, &out), ZC_OK);
    uint64_t n = 0;
    ZC_CHECK_RC(zc_value_get_count(out, &n), ZC_OK);
    ZC_CHECK(n == 3);
    zc_value_free(out);
    out = NULL;
    /* set and vector operations */
    zc_value *set = str("set"), *vec = str("vec");
    ZC_CHECK_RC(zc_store_insert_into(st, set, five, NULL, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_get_index(st, set, five, 0, &out), ZC_OK);
    bool member = false;
    ZC_CHECK_RC(zc_value_get_bool(out, &member), ZC_OK);
    ZC_CHECK(member);
    zc_value_free(out);
    out = NULL;
    ZC_CHECK_RC(zc_store_remove_from(st, set, five, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_push(st, vec, five, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_push(st, vec, two, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_pop(st, vec, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_get(st, vec, 0, &out), ZC_OK);
    size_t sz = 9;
    ZC_CHECK_RC(zc_value_size(out, &sz), ZC_OK);
    ZC_CHECK(sz == 1);
    zc_value_free(out);
    out = NULL;
    /* keys, exists, erase, missing keys */
    ZC_CHECK_RC(zc_store_keys(st, 0, &out), ZC_OK);
    ZC_CHECK_RC(zc_value_size(out, &sz), ZC_OK);
    ZC_CHECK(sz == 4);
    zc_value_free(out);
    out = NULL;
    bool ex = false;
    ZC_CHECK_RC(zc_store_exists(st, c, 0, &ex), ZC_OK);
    ZC_CHECK(ex);
    ZC_CHECK_RC(zc_store_erase(st, c), ZC_OK);
    ZC_CHECK_RC(zc_store_exists(st, c, 0, &ex), ZC_OK);
    ZC_CHECK(!ex);
    ZC_CHECK_RC(zc_store_get(st, c, 0, &out), ZC_ERR_NOT_FOUND);
    ZC_CHECK(out == NULL);
    ZC_CHECK_RC(zc_store_decrement(st, c, two, 0), ZC_ERR_NOT_FOUND);
    /* expiry */
    zc_value *tmp = str("tmp");
    ZC_CHECK_RC(zc_store_put(st, tmp, v, 150), ZC_OK);
    ZC_CHECK_RC(zc_store_exists(st, tmp, 0, &ex), ZC_OK);
    ZC_CHECK(ex);
    for (int i = 0; i < 100 && ex; i++) {
        sleep_ms(20);
        zc_store_exists(st, tmp, 0, &ex);
    }
    ZC_CHECK(!ex);
    ZC_CHECK_RC(zc_store_clear(st), ZC_OK);
    ZC_CHECK_RC(zc_store_keys(st, 0, &out), ZC_OK);
    ZC_CHECK_RC(zc_value_size(out, &sz), ZC_OK);
    ZC_CHECK(sz == 0);
    zc_value_free(out);

    /* the cluster goes away: the handle reports CLOSED */
    zc_cluster_free(cl);
    ZC_CHECK_RC(zc_store_put(st, k, v, 0), ZC_ERR_CLOSED);
    ZC_CHECK_RC(zc_store_flush(st, 0), ZC_ERR_CLOSED);
    ZC_CHECK_RC(zc_store_flush(st, -1), ZC_ERR_CLOSED);
    out = NULL;
    ZC_CHECK_RC(zc_store_get(st, k, 0, &out), ZC_ERR_CLOSED);
    ZC_CHECK(out == NULL);
    zc_store_free(st);
    zc_value *all[] = {k, v, world, five, two, c, set, vec, tmp};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        zc_value_free(all[i]);
}

ZC_TEST(sqlite_master_persists) {
    zc_value *k = str("persist"), *v = cnt(42), *out = NULL;
    zc_cluster *cl = make_cluster("manager");
    zc_store *st = NULL;
    ZC_CHECK_RC(zc_cluster_create_store(cl, "disk", true, &st), ZC_OK);
    zc_backend b = ZC_BACKEND_MEMORY;
    ZC_CHECK_RC(zc_store_backend(st, &b), ZC_OK);
    ZC_CHECK(b == ZC_BACKEND_SQLITE);
    char *path = NULL;
    ZC_CHECK_RC(zc_store_sqlite_path(st, &path), ZC_OK);
    ZC_CHECK(strstr(path, "/disk.sqlite") != NULL);
    ZC_CHECK(access(path, F_OK) == 0);
    ZC_CHECK_RC(zc_store_put(st, k, v, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_flush(st, 10000), ZC_OK);
    zc_store_free(st);
    zc_cluster_free(cl);
    /* a new process view of the same node reopens the file */
    cl = make_cluster("manager");
    ZC_CHECK_RC(zc_cluster_create_store(cl, "disk", true, &st), ZC_OK);
    ZC_CHECK_RC(zc_store_get(st, k, 0, &out), ZC_OK);
    uint64_t n = 0;
    ZC_CHECK_RC(zc_value_get_count(out, &n), ZC_OK);
    ZC_CHECK(n == 42);
    zc_value_free(out);
    zc_store_free(st);
    zc_cluster_free(cl);
    unlink(path);
    zc_string_free(path);
    zc_value_free(k);
    zc_value_free(v);
}

ZC_TEST(clone_without_master_times_out) {
    zc_cluster *cl = make_cluster("worker-1");
    zc_store *st = NULL;
    ZC_CHECK_RC(zc_cluster_create_store(cl, "remote", false, &st), ZC_OK);
    bool master = true;
    ZC_CHECK_RC(zc_store_is_master(st, &master), ZC_OK);
    ZC_CHECK(!master);
    zc_value *k = str("k"), *out = NULL;
    ZC_CHECK_RC(zc_store_get(st, k, 50, &out), ZC_ERR_TIMEOUT);
    ZC_CHECK_ERR_CONTAINS("snapshot");
    ZC_CHECK(out == NULL);
    bool connected = true;
    ZC_CHECK_RC(zc_store_connected(st, &connected), ZC_OK);
    ZC_CHECK(!connected);
    /* Buffered for the master (clone_mutation_buffer_interval), not lost yet. */
    ZC_CHECK_RC(zc_store_put(st, k, k, 0), ZC_OK);
    size_t n = 99;
    char *text = NULL;
    ZC_CHECK_RC(zc_store_take_lost_mutations(st, &n, &text), ZC_OK);
    ZC_CHECK(n == 0);
    ZC_CHECK_STR(text, "");
    zc_string_free(text);
    zc_value_free(k);
    zc_store_free(st);
    zc_cluster_free(cl);
}

ZC_TEST(clone_reports_lost_mutations) {
    zc_cluster *cl = make_cluster_opt("worker-1", "Broker::default_clone_mutation_buffer_interval", "0.1");
    ZC_CHECK(cl != NULL);
    zc_store *st = NULL;
    ZC_CHECK_RC(zc_cluster_create_store(cl, "remote", false, &st), ZC_OK);
    zc_value *k = str("k");
    ZC_CHECK_RC(zc_store_put(st, k, k, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_erase(st, k), ZC_OK);
    size_t n = 0, total = 0;
    char *text = NULL;
    for (int i = 0; i < 100 && total < 2; i++) {
        sleep_ms(20);
        ZC_CHECK_RC(zc_store_take_lost_mutations(st, &n, &text), ZC_OK);
        if (n > 0) {
            ZC_CHECK(strstr(text, "clone_mutation_buffer_interval") != NULL);
            ZC_CHECK(text[strlen(text) - 1] == '\n');
        }
        total += n;
        zc_string_free(text);
        text = NULL;
    }
    ZC_CHECK(total == 2);
    ZC_CHECK_RC(zc_store_take_problems(st, &n, &text), ZC_OK);
    zc_string_free(text);
    zc_value_free(k);
    zc_store_free(st);
    zc_cluster_free(cl);
}

/* The clone side (a separate process): waits for the master's key, writes its own, and
 * exits 0 when the master has it (the parent checks that too). */
static int run_clone(void) {
    alarm(60);
    zc_cluster *cl = make_cluster("worker-1");
    zc_store *st = NULL;
    int rc = 1;
    if (!cl || zc_cluster_start(cl) != ZC_OK || zc_cluster_create_store(cl, "shared", false, &st) != ZC_OK) {
        fprintf(stderr, "clone: %s\n", zc_last_error());
        goto out;
    }
    zc_value *k = str("from-master"), *k2 = str("from-clone"), *v = cnt(7), *out = NULL;
    for (long end = now_ms() + 30000; now_ms() < end;) {
        if (zc_store_get(st, k, 500, &out) == ZC_OK)
            break;
        sleep_ms(50);
    }
    uint64_t n = 0;
    if (out && zc_value_get_count(out, &n) == ZC_OK && n == 41 && zc_store_put(st, k2, v, 0) == ZC_OK &&
        zc_store_flush(st, 10000) == ZC_OK)
        rc = 0;
    else
        fprintf(stderr, "clone: %s\n", zc_last_error());
    zc_value_free(out);
    zc_value_free(k);
    zc_value_free(k2);
    zc_value_free(v);
out:
    zc_store_free(st);
    zc_cluster_free(cl);
    return rc;
}

ZC_TEST(clone_in_another_process) {
    zc_cluster *cl = make_cluster("manager");
    ZC_CHECK(cl != NULL);
    ZC_CHECK_RC(zc_cluster_start(cl), ZC_OK);
    zc_store *st = NULL;
    ZC_CHECK_RC(zc_cluster_create_store(cl, "shared", false, &st), ZC_OK);
    zc_value *k = str("from-master"), *k2 = str("from-clone"), *v = cnt(41), *out = NULL;
    ZC_CHECK_RC(zc_store_put(st, k, v, 0), ZC_OK);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self_path, self_path, "--clone", store_dir, layout_path, (char *)NULL);
        _exit(127);
    }
    ZC_CHECK(pid > 0);
    int status = -1;
    long end = now_ms() + 40000;
    bool have = false;
    while (now_ms() < end && !have) {
        ZC_CHECK_RC(zc_store_exists(st, k2, 1000, &have), ZC_OK);
        if (!have)
            sleep_ms(50);
    }
    ZC_CHECK(have);
    ZC_CHECK_RC(zc_store_get(st, k2, 1000, &out), ZC_OK);
    uint64_t n = 0;
    ZC_CHECK_RC(zc_value_get_count(out, &n), ZC_OK);
    ZC_CHECK(n == 7);
    if (pid > 0) {
        waitpid(pid, &status, 0);
        ZC_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    zc_value_free(out);
    zc_value_free(k);
    zc_value_free(k2);
    zc_value_free(v);
    zc_store_free(st);
    zc_cluster_free(cl);
}

ZC_TEST(negative_matrix) {
    zc_cluster *cl = make_cluster("manager");
    zc_store *st = NULL, *dead = NULL;
    zc_value *k = str("k"), *out = NULL;
    bool b = false;
    ZC_CHECK_RC(zc_cluster_create_store(NULL, "x", false, &st), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_create_store(cl, NULL, false, &st), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_create_store(cl, "x", false, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_create_store(cl, "\xff\xfe", false, &st), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_create_store((zc_cluster *)k, "x", false, &st), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_create_store(cl, "../evil", true, &st), ZC_ERR_STORE);
    ZC_CHECK(st == NULL);
    /* Cluster::stores entries. */
    ZC_CHECK_RC(zc_cluster_set_store_option(NULL, "s", "journal_mode", "WAL"), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_set_store_option((zc_cluster *)k, "s", "journal_mode", "WAL"),
                ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, NULL, "journal_mode", "WAL"), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, "s", NULL, "WAL"), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, "s", "journal_mode", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, "\xff", "journal_mode", "WAL"), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, "s", "journal_mode", "\xff"), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, "s", "colour", "blue"), ZC_ERR_NOT_FOUND);
    ZC_CHECK_ERR_CONTAINS("unknown store option 'colour'");
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, "s", "synchronous", "SOMETIMES"),
                ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, "s", "clone_stale_interval", "soon"),
                ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, "s", "master_node", "nobody"), ZC_OK);
    ZC_CHECK_RC(zc_cluster_create_store(cl, "s", false, &st), ZC_ERR_NOT_FOUND);
    ZC_CHECK_ERR_CONTAINS("'nobody' is not in the cluster layout");
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, "s", "master_node", "manager"), ZC_OK);
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, "s", "synchronous", "Broker::SQLITE_SYNCHRONOUS_EXTRA"), ZC_OK);
    ZC_CHECK_RC(zc_cluster_create_store(cl, "s", false, &st), ZC_OK);
    ZC_CHECK_RC(zc_cluster_set_store_option(cl, "s", "synchronous", "FULL"), ZC_ERR_STATE);
    zc_store_free(st);
    st = NULL;
    ZC_CHECK_RC(zc_cluster_create_store(cl, "x", false, &st), ZC_OK);
    ZC_CHECK_RC(zc_cluster_create_store(cl, "y", false, &dead), ZC_OK);
    zc_store_free(dead);
    zc_store *bad[] = {NULL, dead, (zc_store *)k};
    zc_result want[] = {ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_BAD_HANDLE};
    for (int i = 0; i < 3; i++) {
        zc_store *h = bad[i];
        char *sp = NULL;
        zc_backend be;
        double d;
        ZC_CHECK_RC(zc_store_name(h, &sp), want[i]);
        ZC_CHECK_RC(zc_store_is_master(h, &b), want[i]);
        ZC_CHECK_RC(zc_store_backend(h, &be), want[i]);
        ZC_CHECK_RC(zc_store_master_node(h, &sp), want[i]);
        ZC_CHECK_RC(zc_store_sqlite_path(h, &sp), want[i]);
        ZC_CHECK_RC(zc_store_clone_intervals(h, &d, &d, &d), want[i]);
        ZC_CHECK_RC(zc_store_put(h, k, k, 0), want[i]);
        ZC_CHECK_RC(zc_store_put_unique(h, k, k, 0, &b), want[i]);
        ZC_CHECK_RC(zc_store_get(h, k, 0, &out), want[i]);
        ZC_CHECK_RC(zc_store_get_index(h, k, k, 0, &out), want[i]);
        ZC_CHECK_RC(zc_store_exists(h, k, 0, &b), want[i]);
        ZC_CHECK_RC(zc_store_keys(h, 0, &out), want[i]);
        ZC_CHECK_RC(zc_store_erase(h, k), want[i]);
        ZC_CHECK_RC(zc_store_clear(h), want[i]);
        ZC_CHECK_RC(zc_store_increment(h, k, k, 0), want[i]);
        ZC_CHECK_RC(zc_store_decrement(h, k, k, 0), want[i]);
        ZC_CHECK_RC(zc_store_append(h, k, k, 0), want[i]);
        ZC_CHECK_RC(zc_store_insert_into(h, k, k, NULL, 0), want[i]);
        ZC_CHECK_RC(zc_store_remove_from(h, k, k, 0), want[i]);
        ZC_CHECK_RC(zc_store_push(h, k, k, 0), want[i]);
        ZC_CHECK_RC(zc_store_pop(h, k, 0), want[i]);
        size_t n;
        ZC_CHECK_RC(zc_store_connected(h, &b), want[i]);
        ZC_CHECK_RC(zc_store_take_lost_mutations(h, &n, &sp), want[i]);
        ZC_CHECK_RC(zc_store_take_problems(h, &n, &sp), want[i]);
        ZC_CHECK_RC(zc_store_flush(h, 0), want[i]);
        ZC_CHECK_RC(zc_store_flush(h, -1), want[i]);
        ZC_CHECK(out == NULL);
    }
    /* NULL values, NULL out-pointers, wrong-type value handles, bad numbers */
    ZC_CHECK_RC(zc_store_put(st, NULL, k, 0), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_store_put(st, k, NULL, 0), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_store_put(st, k, (zc_value *)st, 0), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_store_put(st, k, k, -1), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_store_get(st, k, -5, &out), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_store_get(st, k, 0, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_store_put_unique(st, k, k, 0, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_store_exists(st, k, 0, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_store_keys(st, 0, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_store_insert_into(st, k, NULL, NULL, 0), ZC_ERR_NULL);
    ZC_CHECK(out == NULL);
    size_t n = 0;
    char *sp = NULL;
    ZC_CHECK_RC(zc_store_connected(st, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_store_take_lost_mutations(st, NULL, &sp), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_store_take_lost_mutations(st, &n, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_store_take_problems(st, NULL, &sp), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_store_take_problems(st, &n, NULL), ZC_ERR_NULL);
    ZC_CHECK(sp == NULL);
    /* flush: a memory master returns at once; a bad timeout is refused. */
    ZC_CHECK_RC(zc_store_put(st, k, k, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_flush(st, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_flush(st, -1), ZC_OK);
    ZC_CHECK_RC(zc_store_flush(st, -2), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_store_flush(st, INT64_MIN), ZC_ERR_INVALID_ARGUMENT);
    /* A master: connected, nothing lost, no problems. */
    ZC_CHECK_RC(zc_store_connected(st, &b), ZC_OK);
    ZC_CHECK(b);
    n = 7;
    ZC_CHECK_RC(zc_store_take_problems(st, &n, &sp), ZC_OK);
    ZC_CHECK(n == 0);
    ZC_CHECK_STR(sp, "");
    zc_string_free(sp);
    zc_store_free(NULL);
    zc_store_free(dead); /* freed twice: reported, not a crash */
    zc_store_free((zc_store *)k);
    zc_store_free(st);
    zc_value_free(k);
    zc_cluster_free(cl);
}

int main(int argc, char **argv) {
    self_path = getenv("ZC_TEST_SELF") ? getenv("ZC_TEST_SELF") : argv[0];
    if (argc == 4 && strcmp(argv[1], "--clone") == 0) {
        snprintf(store_dir, sizeof store_dir, "%s", argv[2]);
        snprintf(layout_path, sizeof layout_path, "%s", argv[3]);
        return run_clone();
    }
    snprintf(store_dir, sizeof store_dir, "/tmp/zc-store-ctest-%ld", (long)getpid());
    mkdir(store_dir, 0700);
    snprintf(layout_path, sizeof layout_path, "%s/layout.zeek", store_dir);
    for (int zeromq = 0; zeromq <= 1; zeromq++) {
        printf("-- backend %s\n", zeromq ? "ZeroMQ" : "Broker");
        if (write_layout(zeromq) != 0)
            return 1;
        ZC_RUN(master_operations);
        ZC_RUN(sqlite_master_persists);
        ZC_RUN(clone_without_master_times_out);
        ZC_RUN(clone_reports_lost_mutations);
        ZC_RUN(clone_in_another_process);
    }
    ZC_RUN(negative_matrix);
    unlink(layout_path);
    rmdir(store_dir);
    return zc_test_summary();
}
