/* Stores on plain endpoints through the C API (Broker's attach_master / attach_clone):
 * a SQLite master on one endpoint and a clone on another, peered over loopback, with
 * operations through both; handles after the endpoint is freed; and the negative matrix
 * (NULL, bad UTF-8, freed and wrong-type handles, bad backends, options and intervals). */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char store_dir[64];
static char db_path[128];

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

/* Waits until `st` reads key = count n (clones converge asynchronously). */
static int reads_count(zc_store *st, zc_value *key, uint64_t n) {
    for (int i = 0; i < 500; i++) {
        zc_value *out = NULL;
        if (zc_store_get(st, key, 2000, &out) == ZC_OK) {
            uint64_t got = 0;
            int ok = zc_value_get_count(out, &got) == ZC_OK && got == n;
            zc_value_free(out);
            if (ok)
                return 1;
        }
        sleep_ms(10);
    }
    return 0;
}

ZC_TEST(master_and_clone_on_plain_endpoints) {
    zc_endpoint *a = NULL, *b = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &a), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_new(NULL, &b), ZC_OK);
    const char *names[] = {"path", "synchronous"};
    const char *values[] = {db_path, "NORMAL"};
    zc_store *m = NULL, *c = NULL, *m2 = NULL;
    ZC_CHECK_RC(zc_endpoint_attach_master(a, "shared", ZC_BACKEND_SQLITE, names, values, 2, &m), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_attach_master(a, "shared", ZC_BACKEND_SQLITE, names, values, 2, &m2), ZC_OK);
    bool yes = false;
    ZC_CHECK_RC(zc_store_is_master(m, &yes), ZC_OK);
    ZC_CHECK(yes);
    zc_backend be;
    ZC_CHECK_RC(zc_store_backend(m, &be), ZC_OK);
    ZC_CHECK(be == ZC_BACKEND_SQLITE);
    char *sp = NULL;
    ZC_CHECK_RC(zc_store_sqlite_path(m, &sp), ZC_OK);
    ZC_CHECK_STR(sp, db_path);
    zc_string_free(sp);
    struct stat stt;
    ZC_CHECK(stat(db_path, &stt) == 0);
    zc_value *k = str("k"), *one = cnt(1), *five = cnt(5);
    ZC_CHECK_RC(zc_store_put(m2, k, one, 0), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_attach_clone(b, "shared", 0.2, 300, 120, &c), ZC_OK);
    double d1, d2, d3;
    ZC_CHECK_RC(zc_store_clone_intervals(c, &d1, &d2, &d3), ZC_OK);
    ZC_CHECK(fabs(d1 - 0.2) < 1e-9 && d2 == 300 && d3 == 120);
    uint16_t port = 0;
    ZC_CHECK_RC(zc_endpoint_listen(a, "127.0.0.1", 0, &port), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_peer(b, "127.0.0.1", port, 100), ZC_OK);
    ZC_CHECK(reads_count(c, k, 1));
    /* Writes through the clone reach the master, and come back. */
    ZC_CHECK_RC(zc_store_increment(c, k, five, 0), ZC_OK);
    ZC_CHECK(reads_count(m, k, 6));
    ZC_CHECK(reads_count(c, k, 6));
    ZC_CHECK_RC(zc_store_erase(c, k), ZC_OK);
    bool there = true;
    for (int i = 0; i < 500 && there; i++) {
        ZC_CHECK_RC(zc_store_exists(m, k, 0, &there), ZC_OK);
        if (there)
            sleep_ms(10);
    }
    ZC_CHECK(!there);
    ZC_CHECK_RC(zc_store_connected(c, &yes), ZC_OK);
    ZC_CHECK(yes);
    /* flush: the clone's writes acknowledged by the master, the master's committed. */
    ZC_CHECK_RC(zc_store_put(c, k, five, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_flush(c, 10000), ZC_OK);
    ZC_CHECK_RC(zc_store_put(m, k, one, 0), ZC_OK);
    ZC_CHECK_RC(zc_store_flush(m, -1), ZC_OK);
    ZC_CHECK_RC(zc_store_flush(m, -2), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("timeout_ms -2");
    /* Freeing the endpoints closes their stores; the handles stay valid to free. */
    zc_endpoint_free(b);
    ZC_CHECK_RC(zc_store_put(c, k, one, 0), ZC_ERR_CLOSED);
    ZC_CHECK_RC(zc_store_flush(c, 0), ZC_ERR_CLOSED);
    zc_endpoint_free(a);
    ZC_CHECK_RC(zc_store_put(m, k, one, 0), ZC_ERR_CLOSED);
    ZC_CHECK_RC(zc_store_flush(m, 0), ZC_ERR_CLOSED);
    ZC_CHECK_RC(zc_store_flush(m2, -1), ZC_ERR_CLOSED);
    zc_value *out = NULL;
    ZC_CHECK_RC(zc_store_get(m2, k, 0, &out), ZC_ERR_CLOSED);
    ZC_CHECK(out == NULL);
    zc_store_free(c);
    zc_store_free(m);
    zc_store_free(m2);
    zc_value_free(k);
    zc_value_free(one);
    zc_value_free(five);
    unlink(db_path);
}

ZC_TEST(negative_matrix) {
    zc_endpoint *ep = NULL, *dead = NULL;
    ZC_CHECK_RC(zc_endpoint_new(NULL, &ep), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_new(NULL, &dead), ZC_OK);
    zc_endpoint_free(dead);
    zc_value *foreign = cnt(1);
    zc_store *st = NULL;
    const char *k1[] = {"path"}, *v1[] = {"/tmp/x.sqlite"};
    /* The endpoint: NULL, freed, a handle of another type. */
    zc_endpoint *bad[] = {NULL, dead, (zc_endpoint *)foreign};
    zc_result want[] = {ZC_ERR_NULL, ZC_ERR_BAD_HANDLE, ZC_ERR_BAD_HANDLE};
    for (int i = 0; i < 3; i++) {
        ZC_CHECK_RC(zc_endpoint_attach_master(bad[i], "s", ZC_BACKEND_MEMORY, NULL, NULL, 0, &st), want[i]);
        ZC_CHECK_RC(zc_endpoint_attach_clone(bad[i], "s", 10, 300, 120, &st), want[i]);
    }
    /* NULL and bad UTF-8 names, NULL out. */
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, NULL, ZC_BACKEND_MEMORY, NULL, NULL, 0, &st), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "\xff\xfe", ZC_BACKEND_MEMORY, NULL, NULL, 0, &st), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "s", ZC_BACKEND_MEMORY, NULL, NULL, 0, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_attach_clone(ep, NULL, 10, 300, 120, &st), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_attach_clone(ep, "\xff", 10, 300, 120, &st), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_attach_clone(ep, "s", 10, 300, 120, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "", ZC_BACKEND_MEMORY, NULL, NULL, 0, &st), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_endpoint_attach_clone(ep, "", 10, 300, 120, &st), ZC_ERR_INVALID_ARGUMENT);
    /* Backends and options. */
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "s", 7, NULL, NULL, 0, &st), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("expected ZC_BACKEND_MEMORY");
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "s", ZC_BACKEND_SQLITE, NULL, v1, 1, &st), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "s", ZC_BACKEND_SQLITE, k1, NULL, 1, &st), ZC_ERR_NULL);
    const char *knull[] = {NULL}, *kbad[] = {"\xff"}, *kunk[] = {"colour"}, *ksync[] = {"synchronous"};
    const char *vbad[] = {"\xff"}, *vsome[] = {"SOMETIMES"};
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "s", ZC_BACKEND_SQLITE, knull, v1, 1, &st), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "s", ZC_BACKEND_SQLITE, kbad, v1, 1, &st), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "s", ZC_BACKEND_SQLITE, k1, vbad, 1, &st), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "s", ZC_BACKEND_SQLITE, kunk, v1, 1, &st), ZC_ERR_NOT_FOUND);
    ZC_CHECK_ERR_CONTAINS("unknown backend option 'colour'");
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "s", ZC_BACKEND_SQLITE, ksync, vsome, 1, &st), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "../evil", ZC_BACKEND_SQLITE, NULL, NULL, 0, &st), ZC_ERR_STORE);
    /* Intervals. */
    ZC_CHECK_RC(zc_endpoint_attach_clone(ep, "s", NAN, 300, 120, &st), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_endpoint_attach_clone(ep, "s", 0, 300, 120, &st), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_endpoint_attach_clone(ep, "s", 10, INFINITY, 120, &st), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_endpoint_attach_clone(ep, "s", 10, 300, -INFINITY, &st), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK(st == NULL);
    /* A master and a clone of one name on one endpoint: refused either way. */
    zc_store *m = NULL, *c = NULL;
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "mem", ZC_BACKEND_MEMORY, NULL, NULL, 0, &m), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_attach_clone(ep, "mem", 10, 300, 120, &st), ZC_ERR_STATE);
    ZC_CHECK_RC(zc_endpoint_attach_clone(ep, "cl", 10, -1, 0, &c), ZC_OK);
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "cl", ZC_BACKEND_MEMORY, NULL, NULL, 0, &st), ZC_ERR_STATE);
    ZC_CHECK(st == NULL);
    /* A clone without a master: a read times out, a write fails at once (no buffer). */
    zc_value *k = str("k"), *out = NULL;
    ZC_CHECK_RC(zc_store_get(c, k, 50, &out), ZC_ERR_TIMEOUT);
    zc_store_free(c);
    zc_store_free(m);
    /* After the endpoint is freed. */
    zc_endpoint_free(ep);
    ZC_CHECK_RC(zc_endpoint_attach_master(ep, "late", ZC_BACKEND_MEMORY, NULL, NULL, 0, &st), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_endpoint_attach_clone(ep, "late", 10, 300, 120, &st), ZC_ERR_BAD_HANDLE);
    ZC_CHECK(st == NULL && out == NULL);
    zc_value_free(k);
    zc_value_free(foreign);
}

int main(void) {
    snprintf(store_dir, sizeof store_dir, "/tmp/zc-epstore-ctest-%ld", (long)getpid());
    snprintf(db_path, sizeof db_path, "%s/shared.sqlite", store_dir);
    mkdir(store_dir, 0700);
    ZC_RUN(master_and_clone_on_plain_endpoints);
    ZC_RUN(negative_matrix);
    char aux[160];
    snprintf(aux, sizeof aux, "%s-wal", db_path);
    unlink(aux);
    snprintf(aux, sizeof aux, "%s-shm", db_path);
    unlink(aux);
    rmdir(store_dir);
    return zc_test_summary();
}
