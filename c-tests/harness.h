/* A small assertion harness for zcluster's C tests. Each test file is one executable:
 *
 *   #include "harness.h"
 *   ZC_TEST(name) { ZC_CHECK(cond); ZC_CHECK_RC(expr, ZC_OK); ZC_CHECK_STR(a, b); }
 *   int main(void) { ZC_RUN(name); return zc_test_summary(); }
 *
 * A failed check reports file:line, the expression, and zc_last_error(), and ends the
 * current test; the run goes on. zc_test_summary prints the closing line
 * "N passed, N failed" and returns the exit status.
 */
#ifndef ZC_HARNESS_H
#define ZC_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zcluster.h"

static int zc_h_passed = 0;
static int zc_h_failed = 0;
static int zc_h_current_failed = 0;
static const char *zc_h_current = "";
/* Called (once) at a test's first failed check when set: a test that drives other
 * processes points it at what tells their story (e.g. what each node printed). It is
 * cleared when the next test starts. */
static void (*zc_h_on_fail)(void) = NULL;

#define ZC_TEST(name) static void name(void)

#define ZC_RUN(name)                                                                  \
    do {                                                                              \
        zc_h_current = #name;                                                         \
        zc_h_current_failed = 0;                                                      \
        zc_h_on_fail = NULL;                                                          \
        name();                                                                       \
        if (zc_h_current_failed) {                                                    \
            zc_h_failed++;                                                            \
            printf("FAIL %s\n", #name);                                               \
        } else {                                                                      \
            zc_h_passed++;                                                            \
            printf("ok   %s\n", #name);                                               \
        }                                                                             \
        fflush(stdout);                                                               \
    } while (0)

#define ZC_FAIL_AT(fmt, ...)                                                          \
    do {                                                                              \
        fprintf(stderr, "%s:%d: in %s: " fmt "\n", __FILE__, __LINE__, zc_h_current, \
                __VA_ARGS__);                                                         \
        if (!zc_h_current_failed && zc_h_on_fail)                                     \
            zc_h_on_fail();                                                           \
        zc_h_current_failed = 1;                                                      \
    } while (0)

/* Checks a condition; on failure ends the current test. */
#define ZC_CHECK(cond)                                                                \
    do {                                                                              \
        if (!(cond)) {                                                                \
            ZC_FAIL_AT("check failed: %s (last error: %s)", #cond, zc_last_error());  \
            return;                                                                   \
        }                                                                             \
    } while (0)

/* Checks that a call returns the expected zc_result. */
#define ZC_CHECK_RC(expr, want)                                                       \
    do {                                                                              \
        zc_result zc_h_rc = (expr);                                                   \
        if (zc_h_rc != (want)) {                                                      \
            ZC_FAIL_AT("%s returned %s, expected %s (last error: %s)", #expr,         \
                       zc_result_str((int)zc_h_rc), zc_result_str((int)(want)),       \
                       zc_last_error());                                              \
            return;                                                                   \
        }                                                                             \
    } while (0)

/* Checks two C strings are equal (NULL equals only NULL). */
#define ZC_CHECK_STR(a, b)                                                            \
    do {                                                                              \
        const char *zc_h_a = (a), *zc_h_b = (b);                                      \
        if (!((zc_h_a == NULL && zc_h_b == NULL) ||                                   \
              (zc_h_a != NULL && zc_h_b != NULL && strcmp(zc_h_a, zc_h_b) == 0))) {   \
            ZC_FAIL_AT("%s == %s: \"%s\" vs \"%s\"", #a, #b,                          \
                       zc_h_a ? zc_h_a : "(null)", zc_h_b ? zc_h_b : "(null)");       \
            return;                                                                   \
        }                                                                             \
    } while (0)

/* Checks the last error message contains a substring. */
#define ZC_CHECK_ERR_CONTAINS(sub)                                                    \
    do {                                                                              \
        if (strstr(zc_last_error(), (sub)) == NULL) {                                 \
            ZC_FAIL_AT("last error \"%s\" does not contain \"%s\"", zc_last_error(),  \
                       (sub));                                                        \
            return;                                                                   \
        }                                                                             \
    } while (0)

static int zc_test_summary(void) {
    printf("%d passed, %d failed\n", zc_h_passed, zc_h_failed);
    return zc_h_failed == 0 ? 0 : 1;
}

#endif
