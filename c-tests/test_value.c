/* Values and events through the C API: every constructor and accessor, containers,
 * JSON / binary / text round trips, the golden event bytes a real Broker wrote, and the
 * negative matrix (NULL, invalid UTF-8, freed and wrong-kind handles). */
#include "harness.h"

#include <math.h>
#include <stdint.h>

/* Encodes v and compares with the expected hex; frees v. */
static int bin_is(zc_value *v, const char *hex) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (zc_value_to_binary(v, &bytes, &len) != ZC_OK) return 0;
    char buf[1024];
    size_t i;
    for (i = 0; i < len && 2 * i + 2 < sizeof buf; i++) snprintf(buf + 2 * i, 3, "%02x", bytes[i]);
    buf[2 * i] = 0;
    int ok = strcmp(buf, hex) == 0;
    if (!ok) fprintf(stderr, "binary %s, expected %s\n", buf, hex);
    zc_string_free((char *)bytes);
    return ok;
}

static int json_is(const zc_value *v, const char *want) {
    char *j = NULL;
    if (zc_value_to_json(v, &j) != ZC_OK) return 0;
    int ok = strcmp(j, want) == 0;
    if (!ok) fprintf(stderr, "json %s, expected %s\n", j, want);
    zc_string_free(j);
    return ok;
}

ZC_TEST(scalars_construct_and_read_back) {
    zc_value *v = NULL;
    bool b = false;
    uint64_t c = 0;
    int64_t i = 0;
    double r = 0;
    zc_type t;

    ZC_CHECK_RC(zc_value_none(&v), ZC_OK);
    ZC_CHECK_RC(zc_value_type(v, &t), ZC_OK);
    ZC_CHECK(t == ZC_TYPE_NONE);
    ZC_CHECK(bin_is(v, "00"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_bool(true, &v), ZC_OK);
    ZC_CHECK_RC(zc_value_get_bool(v, &b), ZC_OK);
    ZC_CHECK(b);
    ZC_CHECK(bin_is(v, "0101"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_count(UINT64_MAX, &v), ZC_OK);
    ZC_CHECK_RC(zc_value_get_count(v, &c), ZC_OK);
    ZC_CHECK(c == UINT64_MAX);
    ZC_CHECK(json_is(v, "{\"@data-type\":\"count\",\"data\":18446744073709551615}"));
    ZC_CHECK(bin_is(v, "02ffffffffffffffff"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_integer(INT64_MIN, &v), ZC_OK);
    ZC_CHECK_RC(zc_value_get_integer(v, &i), ZC_OK);
    ZC_CHECK(i == INT64_MIN);
    ZC_CHECK(bin_is(v, "038000000000000000"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_real(-7.25, &v), ZC_OK);
    ZC_CHECK_RC(zc_value_get_real(v, &r), ZC_OK);
    ZC_CHECK(r == -7.25);
    ZC_CHECK(bin_is(v, "04c01d000000000000"));
    ZC_CHECK(json_is(v, "{\"@data-type\":\"real\",\"data\":-7.250000}"));
    zc_value_free(v);

    /* CAF's pack754 swaps the infinities. */
    ZC_CHECK_RC(zc_value_real(INFINITY, &v), ZC_OK);
    ZC_CHECK(bin_is(v, "04fff0000000000000"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_timestamp(1649574000123456789LL, &v), ZC_OK);
    ZC_CHECK_RC(zc_value_get_timestamp(v, &i), ZC_OK);
    ZC_CHECK(i == 1649574000123456789LL);
    ZC_CHECK(json_is(v, "{\"@data-type\":\"timestamp\",\"data\":\"2022-04-10T07:00:00.123\"}"));
    ZC_CHECK(bin_is(v, "0916e476d034142d15"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_timespan(1500000000LL, &v), ZC_OK);
    ZC_CHECK_RC(zc_value_get_timespan(v, &i), ZC_OK);
    ZC_CHECK(i == 1500000000LL);
    ZC_CHECK(json_is(v, "{\"@data-type\":\"timespan\",\"data\":\"1500ms\"}"));
    zc_value_free(v);

    char *s = NULL;
    ZC_CHECK_RC(zc_value_enum("Cluster::WORKER", &v), ZC_OK);
    ZC_CHECK_RC(zc_value_get_enum(v, &s), ZC_OK);
    ZC_CHECK_STR(s, "Cluster::WORKER");
    zc_string_free(s);
    ZC_CHECK(bin_is(v, "0b0f436c75737465723a3a574f524b4552"));
    zc_value_free(v);
}

ZC_TEST(strings_addresses_subnets_ports) {
    zc_value *v = NULL;
    char *s = NULL;
    size_t len = 0;
    const uint8_t raw[5] = {0xff, 0xfe, 0x00, 'A', 0x80};

    ZC_CHECK_RC(zc_value_string(raw, sizeof raw, &v), ZC_OK);
    ZC_CHECK_RC(zc_value_get_string(v, &s, &len), ZC_OK);
    ZC_CHECK(len == 5 && memcmp(s, raw, 5) == 0 && s[5] == 0);
    zc_string_free(s);
    ZC_CHECK(bin_is(v, "0505fffe004180"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_string(NULL, 0, &v), ZC_OK);
    ZC_CHECK(bin_is(v, "0500"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_string_utf8("\xc3\xbcn\xc3\xaf" "code \xe2\x9c\x93", &v), ZC_OK);
    ZC_CHECK(bin_is(v, "050dc3bc6ec3af636f646520e29c93"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_address("10.1.2.3", &v), ZC_OK);
    ZC_CHECK_RC(zc_value_get_address(v, &s), ZC_OK);
    ZC_CHECK_STR(s, "10.1.2.3");
    zc_string_free(s);
    uint8_t b16[16];
    ZC_CHECK_RC(zc_value_get_address_bytes(v, b16), ZC_OK);
    ZC_CHECK(b16[10] == 0xff && b16[11] == 0xff && b16[12] == 10 && b16[15] == 3);
    ZC_CHECK(bin_is(v, "0600000000000000000000ffff0a010203"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_address_bytes(b16, &v), ZC_OK);
    ZC_CHECK(json_is(v, "{\"@data-type\":\"address\",\"data\":\"10.1.2.3\"}"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_address("2001:db8::1", &v), ZC_OK);
    ZC_CHECK(bin_is(v, "0620010db8000000000000000000000001"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_subnet("192.168.99.7/24", &v), ZC_OK);
    ZC_CHECK_RC(zc_value_get_subnet(v, &s), ZC_OK);
    ZC_CHECK_STR(s, "192.168.99.0/24");
    zc_string_free(s);
    ZC_CHECK(bin_is(v, "0700000000000000000000ffffc0a8630078"));
    zc_value_free(v);

    ZC_CHECK_RC(zc_value_port(443, ZC_PROTO_TCP, &v), ZC_OK);
    uint16_t num = 0;
    zc_protocol proto = ZC_PROTO_UNKNOWN;
    ZC_CHECK_RC(zc_value_get_port(v, &num, &proto), ZC_OK);
    ZC_CHECK(num == 443 && proto == ZC_PROTO_TCP);
    ZC_CHECK(bin_is(v, "0801bb01"));
    ZC_CHECK(json_is(v, "{\"@data-type\":\"port\",\"data\":\"443/tcp\"}"));
    zc_value_free(v);

    v = NULL;
    ZC_CHECK_RC(zc_value_address("10.1.2", &v), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK(v == NULL);
    ZC_CHECK_ERR_CONTAINS("invalid address");
    ZC_CHECK_RC(zc_value_subnet("10.0.0.0/33", &v), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_value_subnet("10.0.0.0", &v), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_value_port(1, 4, &v), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_value_port(1, -1, &v), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK(v == NULL);
}

ZC_TEST(containers_build_and_iterate) {
    zc_value *set = NULL, *x = NULL, *y = NULL, *got = NULL;
    size_t n = 0;
    /* {'', 'a', 'zz', 'ab'} inserted out of order encodes sorted, as Broker wrote it. */
    const char *members[] = {"zz", "", "ab", "a"};
    ZC_CHECK_RC(zc_value_set_new(&set), ZC_OK);
    for (int k = 0; k < 4; k++) {
        ZC_CHECK_RC(zc_value_string_utf8(members[k], &x), ZC_OK);
        ZC_CHECK_RC(zc_value_set_insert(set, x), ZC_OK);
    }
    /* The inserted handle is consumed: using it again is a bad handle. */
    ZC_CHECK_RC(zc_value_type(x, &(zc_type){0}), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_value_size(set, &n), ZC_OK);
    ZC_CHECK(n == 4);
    ZC_CHECK_RC(zc_value_at(set, 2, &got), ZC_OK);
    char *s = NULL;
    ZC_CHECK_RC(zc_value_get_string(got, &s, NULL), ZC_OK);
    ZC_CHECK_STR(s, "ab");
    zc_string_free(s);
    bool has = false;
    ZC_CHECK_RC(zc_value_contains(set, got, &has), ZC_OK);
    ZC_CHECK(has);
    zc_value_free(got);
    ZC_CHECK_RC(zc_value_at(set, 4, &got), ZC_ERR_NOT_FOUND);
    ZC_CHECK(bin_is(set, "0c0405000501610502616205027a7a"));

    /* A set cannot be inserted into itself; on error the caller keeps the element. */
    ZC_CHECK_RC(zc_value_set_insert(set, set), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_value_count(1, &x), ZC_OK);
    zc_value *vec = NULL;
    ZC_CHECK_RC(zc_value_vector_new(&vec), ZC_OK);
    ZC_CHECK_RC(zc_value_set_insert(vec, x), ZC_ERR_TYPE);
    ZC_CHECK_ERR_CONTAINS("not a set");
    ZC_CHECK_RC(zc_value_vector_push(vec, x), ZC_OK); /* x still ours after the failure */
    ZC_CHECK_RC(zc_value_vector_push(vec, set), ZC_OK);
    ZC_CHECK_RC(zc_value_size(vec, &n), ZC_OK);
    ZC_CHECK(n == 2);

    /* {'b': Count(2), 'a': Count(1)} */
    zc_value *t = NULL;
    ZC_CHECK_RC(zc_value_table_new(&t), ZC_OK);
    ZC_CHECK_RC(zc_value_string_utf8("b", &x), ZC_OK);
    ZC_CHECK_RC(zc_value_count(2, &y), ZC_OK);
    ZC_CHECK_RC(zc_value_table_insert(t, x, y), ZC_OK);
    ZC_CHECK_RC(zc_value_string_utf8("a", &x), ZC_OK);
    ZC_CHECK_RC(zc_value_count(1, &y), ZC_OK);
    ZC_CHECK_RC(zc_value_table_insert(t, x, x), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_value_table_insert(t, x, y), ZC_OK);
    ZC_CHECK(bin_is(t, "0d02050161020000000000000001050162020000000000000002"));
    zc_value *k = NULL, *val = NULL;
    ZC_CHECK_RC(zc_value_table_entry_at(t, 1, &k, &val), ZC_OK);
    uint64_t c = 0;
    ZC_CHECK_RC(zc_value_get_count(val, &c), ZC_OK);
    ZC_CHECK(c == 2);
    zc_value_free(val);
    ZC_CHECK_RC(zc_value_table_get(t, k, &val), ZC_OK);
    ZC_CHECK_RC(zc_value_get_count(val, &c), ZC_OK);
    ZC_CHECK(c == 2);
    zc_value_free(val);
    zc_value_free(k);
    ZC_CHECK_RC(zc_value_string_utf8("nope", &k), ZC_OK);
    ZC_CHECK_RC(zc_value_table_get(t, k, &val), ZC_ERR_NOT_FOUND);
    zc_value_free(k);
    ZC_CHECK_RC(zc_value_table_entry_at(t, 9, &k, &val), ZC_ERR_NOT_FOUND);
    ZC_CHECK(json_is(t, "{\"@data-type\":\"table\",\"data\":[{\"key\":{\"@data-type\":\"string\",\"data\":\"a\"},"
                        "\"value\":{\"@data-type\":\"count\",\"data\":1}},{\"key\":{\"@data-type\":\"string\","
                        "\"data\":\"b\"},\"value\":{\"@data-type\":\"count\",\"data\":2}}]}"));

    /* copy, equal, compare, text */
    zc_value *cp = NULL;
    ZC_CHECK_RC(zc_value_copy(t, &cp), ZC_OK);
    bool eq = false;
    ZC_CHECK_RC(zc_value_equal(t, cp, &eq), ZC_OK);
    ZC_CHECK(eq);
    int cmp = 7;
    ZC_CHECK_RC(zc_value_compare(vec, t, &cmp), ZC_OK); /* vector (14) > table (13) */
    ZC_CHECK(cmp == 1);
    ZC_CHECK_RC(zc_value_compare(t, cp, &cmp), ZC_OK);
    ZC_CHECK(cmp == 0);
    ZC_CHECK_RC(zc_value_to_string(t, &s), ZC_OK);
    ZC_CHECK_STR(s, "{\"a\" -> 1, \"b\" -> 2}");
    zc_string_free(s);
    ZC_CHECK_RC(zc_value_to_string(vec, &s), ZC_OK);
    ZC_CHECK_STR(s, "[1, {\"\", \"a\", \"ab\", \"zz\"}]");
    zc_string_free(s);
    zc_value_free(cp);
    zc_value_free(t);
    zc_value_free(vec);
}

ZC_TEST(json_and_binary_round_trips) {
    const char *doc =
        "{\"@data-type\":\"vector\",\"data\":[{\"@data-type\":\"count\",\"data\":1},"
        "{\"@data-type\":\"port\",\"data\":\"8080/tcp\"},{\"@data-type\":\"table\",\"data\":"
        "[{\"key\":{\"@data-type\":\"string\",\"data\":\"first-name\"},\"value\":"
        "{\"@data-type\":\"string\",\"data\":\"John\"}}]}]}";
    zc_value *v = NULL, *w = NULL;
    ZC_CHECK_RC(zc_value_from_json(doc, &v), ZC_OK);
    ZC_CHECK(json_is(v, doc));
    uint8_t *bytes = NULL;
    size_t len = 0;
    ZC_CHECK_RC(zc_value_to_binary(v, &bytes, &len), ZC_OK);
    ZC_CHECK_RC(zc_value_from_binary(bytes, len, &w), ZC_OK);
    zc_string_free((char *)bytes);
    bool eq = false;
    ZC_CHECK_RC(zc_value_equal(v, w, &eq), ZC_OK);
    ZC_CHECK(eq);
    zc_value_free(v);
    zc_value_free(w);

    v = NULL;
    ZC_CHECK_RC(zc_value_from_json("{\"@data-type\":\"count\",\"data\":1.0}", &v), ZC_ERR_PARSE);
    ZC_CHECK_ERR_CONTAINS("count must be an integer");
    ZC_CHECK_RC(zc_value_from_json("{\"@data-type\":", &v), ZC_ERR_PARSE);
    ZC_CHECK_ERR_CONTAINS("1:15");
    const uint8_t trunc[] = {0x02, 0x00, 0x01};
    ZC_CHECK_RC(zc_value_from_binary(trunc, sizeof trunc, &v), ZC_ERR_DECODE);
    ZC_CHECK_ERR_CONTAINS("truncated count");
    const uint8_t huge[] = {0x0e, 0xff, 0xff, 0xff, 0xff, 0x0f};
    ZC_CHECK_RC(zc_value_from_binary(huge, sizeof huge, &v), ZC_ERR_DECODE);
    ZC_CHECK(v == NULL);
}

/* Demo::ping("hi", count 1) as a real Broker 2.8 wrote it (shared/golden). */
static const uint8_t demo_ping[] = {
    0x0e, 0x03, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x0e, 0x02,
    0x05, 0x0a, 'D', 'e', 'm', 'o', ':', ':', 'p', 'i', 'n', 'g', 0x0e, 0x02, 0x05, 0x02, 'h', 'i',
    0x02, 0, 0, 0, 0, 0, 0, 0, 0x01};

ZC_TEST(events_match_golden_bytes) {
    zc_event *ev = NULL, *back = NULL, *cp = NULL;
    zc_value *a = NULL, *v = NULL;
    ZC_CHECK_RC(zc_event_new("Demo::ping", &ev), ZC_OK);
    ZC_CHECK_RC(zc_value_string_utf8("hi", &a), ZC_OK);
    ZC_CHECK_RC(zc_event_add_arg(ev, a), ZC_OK);
    ZC_CHECK_RC(zc_value_count(1, &a), ZC_OK);
    ZC_CHECK_RC(zc_event_add_arg(ev, a), ZC_OK);
    ZC_CHECK_RC(zc_event_to_value(ev, &v), ZC_OK);
    uint8_t *bytes = NULL;
    size_t len = 0;
    ZC_CHECK_RC(zc_value_to_binary(v, &bytes, &len), ZC_OK);
    int same = len == sizeof demo_ping && memcmp(bytes, demo_ping, len) == 0;
    zc_string_free((char *)bytes);
    zc_value_free(v);
    ZC_CHECK(same);

    ZC_CHECK_RC(zc_value_from_binary(demo_ping, sizeof demo_ping, &v), ZC_OK);
    ZC_CHECK_RC(zc_event_from_value(v, &back), ZC_OK);
    zc_value_free(v);
    char *name = NULL;
    ZC_CHECK_RC(zc_event_name(back, &name), ZC_OK);
    ZC_CHECK_STR(name, "Demo::ping");
    zc_string_free(name);
    size_t n = 0;
    ZC_CHECK_RC(zc_event_arg_count(back, &n), ZC_OK);
    ZC_CHECK(n == 2);
    ZC_CHECK_RC(zc_event_arg(back, 1, &a), ZC_OK);
    uint64_t c = 0;
    ZC_CHECK_RC(zc_value_get_count(a, &c), ZC_OK);
    ZC_CHECK(c == 1);
    zc_value_free(a);
    ZC_CHECK_RC(zc_event_arg(back, 2, &a), ZC_ERR_NOT_FOUND);

    int64_t ts = 0;
    ZC_CHECK_RC(zc_event_get_timestamp(back, &ts), ZC_ERR_NOT_FOUND);
    ZC_CHECK_RC(zc_event_set_timestamp(back, 1681827194000000000LL), ZC_OK);
    ZC_CHECK_RC(zc_event_copy(back, &cp), ZC_OK);
    ZC_CHECK_RC(zc_event_get_timestamp(cp, &ts), ZC_OK);
    ZC_CHECK(ts == 1681827194000000000LL);
    ZC_CHECK_RC(zc_event_to_value(cp, &v), ZC_OK);
    char *j = NULL;
    ZC_CHECK_RC(zc_value_to_json(v, &j), ZC_OK);
    ZC_CHECK(strstr(j, "{\"@data-type\":\"timestamp\",\"data\":\"2023-04-18T14:13:14.000\"}") != NULL);
    zc_string_free(j);
    zc_value_free(v);

    /* Not an event: a count, and a vector with type 2. */
    ZC_CHECK_RC(zc_value_count(1, &v), ZC_OK);
    ZC_CHECK_RC(zc_event_from_value(v, &back), ZC_ERR_TYPE);
    ZC_CHECK_ERR_CONTAINS("not a Zeek event");
    zc_value_free(v);
    zc_event_free(ev);
    zc_event_free(cp);
    /* from_value failed above, so `back` is still the first one. */
    zc_event_free(back);
}

ZC_TEST(negative_matrix) {
    zc_value *v = NULL, *good = NULL;
    zc_event *ev = NULL;
    char *s = NULL;
    size_t n;
    uint64_t c;
    bool b;
    const char bad_utf8[] = {'a', (char)0xff, 0};

    /* NULL out-pointers and NULL arguments. */
    ZC_CHECK_RC(zc_value_none(NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_count(1, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_string(NULL, 3, &v), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_string_utf8(NULL, &v), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_address(NULL, &v), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_address_bytes(NULL, &v), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_subnet(NULL, &v), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_enum(NULL, &v), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_from_json(NULL, &v), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_from_binary(NULL, 1, &v), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_get_count(NULL, &c), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_size(NULL, &n), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_event_new(NULL, &ev), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_event_new("x", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_event_name(NULL, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_event_add_arg(NULL, NULL), ZC_ERR_NULL);
    ZC_CHECK(v == NULL && ev == NULL && s == NULL);
    zc_value_free(NULL);
    zc_event_free(NULL);

    /* Invalid UTF-8 where text is required. */
    ZC_CHECK_RC(zc_value_string_utf8(bad_utf8, &v), ZC_ERR_UTF8);
    ZC_CHECK_ERR_CONTAINS("not valid UTF-8");
    ZC_CHECK_RC(zc_value_enum(bad_utf8, &v), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_value_address(bad_utf8, &v), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_value_from_json(bad_utf8, &v), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_event_new(bad_utf8, &ev), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_event_new("", &ev), ZC_ERR_INVALID_ARGUMENT);
    /* ...but a string value may hold any bytes. */
    ZC_CHECK_RC(zc_value_string((const uint8_t *)bad_utf8, 2, &good), ZC_OK);

    /* Wrong type for every accessor. */
    ZC_CHECK_RC(zc_value_get_count(good, &c), ZC_ERR_TYPE);
    ZC_CHECK_ERR_CONTAINS("value is a string, not a count");
    ZC_CHECK_RC(zc_value_get_bool(good, &b), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_get_integer(good, &(int64_t){0}), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_get_real(good, &(double){0}), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_get_address(good, &s), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_get_address_bytes(good, (uint8_t[16]){0}), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_get_subnet(good, &s), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_get_port(good, &(uint16_t){0}, &(zc_protocol){0}), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_get_timestamp(good, &(int64_t){0}), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_get_timespan(good, &(int64_t){0}), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_get_enum(good, &s), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_at(good, 0, &v), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_table_entry_at(good, 0, &v, &v), ZC_ERR_TYPE);
    ZC_CHECK_RC(zc_value_vector_push(good, good), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK(s == NULL && v == NULL);

    /* A freed handle. */
    zc_value *gone = NULL;
    ZC_CHECK_RC(zc_value_count(5, &gone), ZC_OK);
    zc_value_free(gone);
    ZC_CHECK_RC(zc_value_get_count(gone, &c), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_ERR_CONTAINS("freed or unknown");
    ZC_CHECK_RC(zc_value_copy(gone, &v), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_value_to_json(gone, &s), ZC_ERR_BAD_HANDLE);
    zc_value_free(gone); /* a double free is refused, not a crash */
    ZC_CHECK_ERR_CONTAINS("freed or unknown");

    /* A wrong-kind handle: an event where a value is expected, and the reverse. */
    ZC_CHECK_RC(zc_event_new("e", &ev), ZC_OK);
    ZC_CHECK_RC(zc_value_get_count((const zc_value *)ev, &c), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_ERR_CONTAINS("not a zc_value handle");
    ZC_CHECK_RC(zc_event_name((const zc_event *)good, &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_event_add_arg(ev, (zc_value *)ev), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_event_add_arg(ev, gone), ZC_ERR_BAD_HANDLE);
    size_t count = 9;
    ZC_CHECK_RC(zc_event_arg_count(ev, &count), ZC_OK);
    ZC_CHECK(count == 0);
    zc_event_free(ev);
    ZC_CHECK_RC(zc_event_arg_count(ev, &count), ZC_ERR_BAD_HANDLE);
    zc_value_free(good);
}

/* Every entry point that takes a value or event handle: NULL, freed and foreign
 * (wrong-kind) handles give ZC_ERR_NULL / ZC_ERR_BAD_HANDLE with a message, and write no
 * output; every out-pointer NULL gives ZC_ERR_NULL. */
ZC_TEST(handle_matrix) {
    zc_value *live = NULL, *live2 = NULL, *gone = NULL, *tbl = NULL, *vec = NULL;
    zc_event *ev = NULL, *evgone = NULL;
    ZC_CHECK_RC(zc_value_count(1, &live), ZC_OK);
    ZC_CHECK_RC(zc_value_count(3, &live2), ZC_OK);
    ZC_CHECK_RC(zc_value_count(2, &gone), ZC_OK);
    zc_value_free(gone);
    ZC_CHECK_RC(zc_value_table_new(&tbl), ZC_OK);
    ZC_CHECK_RC(zc_value_vector_new(&vec), ZC_OK);
    ZC_CHECK_RC(zc_event_new("T::x", &ev), ZC_OK);
    ZC_CHECK_RC(zc_event_new("T::y", &evgone), ZC_OK);
    zc_event_free(evgone);
    zc_value *vforeign = (zc_value *)(void *)ev;
    zc_event *eforeign = (zc_event *)(void *)live;
    zc_value *vo = NULL, *vo2 = NULL;
    zc_event *eo = NULL;
    char *so = NULL;
    uint8_t *bo = NULL;
    size_t n = 0;
    bool b = false;
    int cmp = 0;
    int64_t i64 = 0;
    uint64_t u64 = 0;
    double d = 0;
    uint16_t port = 0;
    zc_protocol proto = ZC_PROTO_UNKNOWN;
    zc_type ty = ZC_TYPE_NONE;
    uint8_t a16[16];
    /* V: a value-handle slot; each row runs with NULL, freed and foreign handles. */
#define VROW(call)                                                                    \
    do {                                                                              \
        zc_value *V = NULL;                                                           \
        ZC_CHECK_RC(call, ZC_ERR_NULL);                                               \
        ZC_CHECK(zc_last_error()[0] != 0);                                            \
        V = gone;                                                                     \
        ZC_CHECK_RC(call, ZC_ERR_BAD_HANDLE);                                         \
        V = vforeign;                                                                 \
        ZC_CHECK_RC(call, ZC_ERR_BAD_HANDLE);                                         \
        (void)V;                                                                      \
    } while (0)
#define EROW(call)                                                                    \
    do {                                                                              \
        zc_event *E = NULL;                                                           \
        ZC_CHECK_RC(call, ZC_ERR_NULL);                                               \
        E = evgone;                                                                   \
        ZC_CHECK_RC(call, ZC_ERR_BAD_HANDLE);                                         \
        E = eforeign;                                                                 \
        ZC_CHECK_RC(call, ZC_ERR_BAD_HANDLE);                                         \
        (void)E;                                                                      \
    } while (0)
    VROW(zc_value_type(V, &ty));
    VROW(zc_value_get_bool(V, &b));
    VROW(zc_value_get_count(V, &u64));
    VROW(zc_value_get_integer(V, &i64));
    VROW(zc_value_get_real(V, &d));
    VROW(zc_value_get_string(V, &so, &n));
    VROW(zc_value_get_address(V, &so));
    VROW(zc_value_get_address_bytes(V, a16));
    VROW(zc_value_get_subnet(V, &so));
    VROW(zc_value_get_port(V, &port, &proto));
    VROW(zc_value_get_timestamp(V, &i64));
    VROW(zc_value_get_timespan(V, &i64));
    VROW(zc_value_get_enum(V, &so));
    VROW(zc_value_set_insert(V, live));
    VROW(zc_value_table_insert(V, live, live2));
    VROW(zc_value_table_insert(tbl, V, live));
    VROW(zc_value_table_insert(tbl, live2, V));
    VROW(zc_value_vector_push(V, live));
    VROW(zc_value_vector_push(vec, V));
    VROW(zc_value_size(V, &n));
    VROW(zc_value_at(V, 0, &vo));
    VROW(zc_value_table_entry_at(V, 0, &vo, &vo2));
    VROW(zc_value_table_get(V, live, &vo));
    VROW(zc_value_table_get(tbl, V, &vo));
    VROW(zc_value_contains(V, live, &b));
    VROW(zc_value_contains(vec, V, &b));
    VROW(zc_value_copy(V, &vo));
    VROW(zc_value_equal(V, live, &b));
    VROW(zc_value_equal(live, V, &b));
    VROW(zc_value_compare(V, live, &cmp));
    VROW(zc_value_compare(live, V, &cmp));
    VROW(zc_value_to_json(V, &so));
    VROW(zc_value_to_binary(V, &bo, &n));
    VROW(zc_value_to_string(V, &so));
    VROW(zc_event_from_value(V, &eo));
    VROW(zc_event_add_arg(ev, V));
    EROW(zc_event_add_arg(E, live));
    EROW(zc_event_name(E, &so));
    EROW(zc_event_arg_count(E, &n));
    EROW(zc_event_arg(E, 0, &vo));
    EROW(zc_event_set_timestamp(E, 1));
    EROW(zc_event_get_timestamp(E, &i64));
    EROW(zc_event_to_value(E, &vo));
    EROW(zc_event_copy(E, &eo));
#undef VROW
#undef EROW
    ZC_CHECK(vo == NULL && vo2 == NULL && eo == NULL && so == NULL && bo == NULL);
    /* NULL out-pointers on live handles. */
    ZC_CHECK_RC(zc_value_type(live, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_get_count(live, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_get_string(live, NULL, &n), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_get_address_bytes(live, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_get_port(live, NULL, &proto), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_size(vec, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_at(vec, 0, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_table_entry_at(tbl, 0, NULL, &vo2), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_table_get(tbl, live, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_contains(vec, live, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_copy(live, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_equal(live, live, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_compare(live, live, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_to_json(live, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_to_binary(live, NULL, &n), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_to_binary(live, &bo, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_to_string(live, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_event_from_value(live, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_event_name(ev, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_event_arg_count(ev, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_event_arg(ev, 0, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_event_get_timestamp(ev, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_event_to_value(ev, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_event_copy(ev, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_bool(true, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_integer(1, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_real(1.0, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_port(1, 1, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_port(1, 99, &vo), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_RC(zc_value_timestamp(1, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_timespan(1, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_set_new(NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_table_new(NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_vector_new(NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_value_subnet("\xff", &vo), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_value_subnet("10.0.0.0/99", &vo), ZC_ERR_INVALID_ARGUMENT);
    /* Out of range and wrong container type. */
    ZC_CHECK_RC(zc_value_at(vec, 0, &vo), ZC_ERR_NOT_FOUND);
    ZC_CHECK_RC(zc_event_arg(ev, 5, &vo), ZC_ERR_NOT_FOUND);
    ZC_CHECK(vo == NULL);
    /* Failed calls did not disturb the live handles: the table and vector are empty. */
    ZC_CHECK_RC(zc_value_size(tbl, &n), ZC_OK);
    ZC_CHECK(n == 0);
    ZC_CHECK_RC(zc_value_size(vec, &n), ZC_OK);
    ZC_CHECK(n == 0);
    zc_value_free(vforeign); /* refused: it is an event */
    ZC_CHECK_RC(zc_event_arg_count(ev, &n), ZC_OK);
    zc_event_free(eforeign); /* refused: it is a value */
    ZC_CHECK_RC(zc_value_get_count(live, &u64), ZC_OK);
    ZC_CHECK(u64 == 1);
    zc_value_free(live);
    zc_value_free(live2);
    zc_value_free(tbl);
    zc_value_free(vec);
    zc_event_free(ev);
}

int main(void) {
    ZC_RUN(scalars_construct_and_read_back);
    ZC_RUN(strings_addresses_subnets_ports);
    ZC_RUN(containers_build_and_iterate);
    ZC_RUN(json_and_binary_round_trips);
    ZC_RUN(events_match_golden_bytes);
    ZC_RUN(negative_matrix);
    ZC_RUN(handle_matrix);
    return zc_test_summary();
}
