/* The library-level entry points: version, result codes, last error, string freeing. */
#include "harness.h"

ZC_TEST(version_matches_header) {
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", ZC_VERSION_MAJOR, ZC_VERSION_MINOR, ZC_VERSION_PATCH);
    ZC_CHECK_STR(zc_version(), want);
    ZC_CHECK(zc_abi_version() == ZC_ABI_VERSION);
}

ZC_TEST(result_names) {
    ZC_CHECK_STR(zc_result_str(ZC_OK), "ZC_OK");
    ZC_CHECK_STR(zc_result_str(ZC_ERR_NULL), "ZC_ERR_NULL");
    ZC_CHECK_STR(zc_result_str(ZC_ERR_INTERNAL), "ZC_ERR_INTERNAL");
    /* Numbers that are no code are safe and named as unknown. */
    ZC_CHECK_STR(zc_result_str(-1), "ZC_ERR_UNKNOWN");
    ZC_CHECK_STR(zc_result_str(100000), "ZC_ERR_UNKNOWN");
}

ZC_TEST(string_free_accepts_null_and_refuses_foreign) {
    zc_string_free(NULL);
    char foreign[8] = "abc";
    zc_string_free(foreign); /* not ours: must be refused, not freed */
    ZC_CHECK_ERR_CONTAINS("not returned by zcluster");
    char *heap = malloc(4);
    zc_string_free(heap); /* a malloc'd pointer we never handed out: refused too */
    ZC_CHECK_ERR_CONTAINS("not returned by zcluster");
    free(heap);
}

ZC_TEST(last_error_is_never_null) {
    ZC_CHECK(zc_last_error() != NULL);
}

int main(void) {
    ZC_RUN(version_matches_header);
    ZC_RUN(result_names);
    ZC_RUN(string_free_accepts_null_and_refuses_foreign);
    ZC_RUN(last_error_is_never_null);
    return zc_test_summary();
}
