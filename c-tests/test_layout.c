/* Layouts, nodes, options and cluster identity through the C API: every form of layout
 * with every field, exact parse errors, and every entry point with NULL, invalid UTF-8,
 * freed and wrong-type handles. Fixtures are read from ZC_FIXTURE_DIR, or from
 * ../tests/fixtures/layouts (the directory `make -C c-tests check` runs in). */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <stdint.h>

static char fixture_buf[1024];

static const char *fixture(const char *name) {
    const char *dir = getenv("ZC_FIXTURE_DIR");
    if (dir == NULL) dir = "../tests/fixtures/layouts";
    snprintf(fixture_buf, sizeof fixture_buf, "%s/%s", dir, name);
    return fixture_buf;
}

static const char BAD_UTF8[] = {'w', (char)0xff, 'x', 0};

/* Checks an owned string result and frees it. */
#define CHECK_OWNED(call, want)                                                       \
    do {                                                                              \
        char *s_ = NULL;                                                              \
        ZC_CHECK_RC(call, ZC_OK);                                                     \
        ZC_CHECK_STR(s_, want);                                                       \
        zc_string_free(s_);                                                           \
    } while (0)

static zc_node *get_node(zc_layout *l, const char *name) {
    zc_node *n = NULL;
    if (zc_layout_get_node(l, name, &n) != ZC_OK) return NULL;
    return n;
}

ZC_TEST(zeekctl_layout_every_field) {
    zc_layout *l = NULL;
    ZC_CHECK_RC(zc_layout_load(fixture("zeekctl-cluster-layout.zeek"), &l), ZC_OK);
    const char *fmt = NULL;
    ZC_CHECK_RC(zc_layout_format(l, &fmt), ZC_OK);
    ZC_CHECK_STR(fmt, "zeek");
    size_t count = 0;
    ZC_CHECK_RC(zc_layout_node_count(l, &count), ZC_OK);
    ZC_CHECK(count == 8);

    char **names = NULL;
    ZC_CHECK_RC(zc_layout_node_names(l, &names), ZC_OK);
    const char *want[] = {"control", "logger", "manager", "proxy-1", "proxy-2",
                          "worker-1-1", "worker-1-2", "worker-2"};
    for (size_t i = 0; i < 8; i++) ZC_CHECK_STR(names[i], want[i]);
    ZC_CHECK(names[8] == NULL);
    zc_strings_free(names);
    CHECK_OWNED(zc_layout_node_name_at(l, 3, &s_), "proxy-1");
    char *s = NULL;
    ZC_CHECK_RC(zc_layout_node_name_at(l, 8, &s), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK(s == NULL);

    zc_node *n = get_node(l, "worker-1-1");
    ZC_CHECK(n != NULL);
    CHECK_OWNED(zc_node_name(n, &s_), "worker-1-1");
    zc_node_type t = ZC_NODE_NONE;
    ZC_CHECK_RC(zc_node_node_type(n, &t), ZC_OK);
    ZC_CHECK(t == ZC_NODE_WORKER);
    CHECK_OWNED(zc_node_ip(n, &s_), "127.0.0.1");
    CHECK_OWNED(zc_node_zone_id(n, &s_), "");
    uint16_t num = 0;
    const char *proto = NULL;
    ZC_CHECK_RC(zc_node_p(n, &num, &proto), ZC_OK);
    ZC_CHECK(num == 27767);
    ZC_CHECK_STR(proto, "tcp");
    ZC_CHECK_RC(zc_node_metrics_port(n, &num, &proto), ZC_OK);
    ZC_CHECK(num == 9995);
    ZC_CHECK_STR(proto, "tcp");
    CHECK_OWNED(zc_node_manager(n, &s_), "manager");
    CHECK_OWNED(zc_node_interface(n, &s_), NULL);
    CHECK_OWNED(zc_node_logger(n, &s_), NULL);
    CHECK_OWNED(zc_node_proxy(n, &s_), NULL);
    CHECK_OWNED(zc_node_time_machine(n, &s_), NULL);
    CHECK_OWNED(zc_node_id(n, &s_), NULL);
    CHECK_OWNED(zc_node_lb_filter(n, &s_), NULL);
    CHECK_OWNED(zc_node_pcap_file(n, &s_), NULL);
    CHECK_OWNED(zc_node_zeekctl(n, "host", &s_), NULL);
    char **workers = (char **)1;
    ZC_CHECK_RC(zc_node_workers(n, &workers), ZC_OK);
    ZC_CHECK(workers == NULL);
    zc_node_free(n);

    n = get_node(l, "control");
    ZC_CHECK(n != NULL);
    ZC_CHECK_RC(zc_node_node_type(n, &t), ZC_OK);
    ZC_CHECK(t == ZC_NODE_CONTROL);
    ZC_CHECK_RC(zc_node_metrics_port(n, &num, &proto), ZC_OK);
    ZC_CHECK(num == 0 && proto == NULL);
    zc_node_free(n);

    size_t nopts = 0;
    ZC_CHECK_RC(zc_layout_option_count(l, &nopts), ZC_OK);
    ZC_CHECK(nopts == 1);
    char *oname = NULL, *ovalue = NULL;
    const char *okind = NULL;
    ZC_CHECK_RC(zc_layout_option_at(l, 0, &oname, &ovalue, &okind), ZC_OK);
    ZC_CHECK_STR(oname, "Cluster::manager_is_logger");
    ZC_CHECK_STR(ovalue, "F");
    ZC_CHECK_STR(okind, "bool");
    zc_string_free(oname);
    zc_string_free(ovalue);
    CHECK_OWNED(zc_layout_option_get(l, "Cluster::manager_is_logger", &s_), "F");
    ZC_CHECK_RC(zc_layout_option_get(l, "Cluster::retry_interval", &s), ZC_ERR_NOT_FOUND);

    zc_node *missing = NULL;
    ZC_CHECK_RC(zc_layout_get_node(l, "worker-9", &missing), ZC_ERR_NOT_FOUND);
    ZC_CHECK(missing == NULL);
    ZC_CHECK_ERR_CONTAINS("no node \"worker-9\"");
    zc_layout_free(l);
}

static const char IPV6[] =
    "redef Cluster::retry_interval = 30 secs;\n"
    "redef Cluster::worker_topic = \"site/workers\";\n"
    "redef Cluster::nodes = {\n"
    "  [\"manager\"] = [$ip=[fe80::1], $zone_id=\"eth0\", $node_type=Cluster::MANAGER, $p=47761/tcp],\n"
    "  [\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=[2001:db8::10], $manager=\"manager\",\n"
    "                  $lb_filter=\"ip\", $pcap_file=\"/tmp/t.pcap\", $id=\"rid\", $interface=\"eth1\",],\n"
    "};\n";

ZC_TEST(ipv6_layout_from_text) {
    zc_layout *l = NULL;
    ZC_CHECK_RC(zc_layout_parse(IPV6, strlen(IPV6), NULL, &l), ZC_OK);
    zc_node *n = get_node(l, "manager");
    ZC_CHECK(n != NULL);
    CHECK_OWNED(zc_node_ip(n, &s_), "fe80::1");
    CHECK_OWNED(zc_node_zone_id(n, &s_), "eth0");
    zc_node_free(n);
    n = get_node(l, "worker-1");
    ZC_CHECK(n != NULL);
    CHECK_OWNED(zc_node_ip(n, &s_), "2001:db8::10");
    CHECK_OWNED(zc_node_lb_filter(n, &s_), "ip");
    CHECK_OWNED(zc_node_pcap_file(n, &s_), "/tmp/t.pcap");
    CHECK_OWNED(zc_node_id(n, &s_), "rid");
    CHECK_OWNED(zc_node_interface(n, &s_), "eth1");
    uint16_t num = 1;
    const char *proto = NULL;
    ZC_CHECK_RC(zc_node_p(n, &num, &proto), ZC_OK);
    ZC_CHECK(num == 0);
    ZC_CHECK_STR(proto, "unknown");
    zc_node_free(n);
    char *name = NULL, *value = NULL;
    const char *kind = NULL;
    ZC_CHECK_RC(zc_layout_option_at(l, 0, &name, &value, &kind), ZC_OK);
    ZC_CHECK_STR(value, "30.0 secs");
    ZC_CHECK_STR(kind, "interval");
    zc_string_free(name);
    zc_string_free(value);
    ZC_CHECK_RC(zc_layout_option_at(l, 1, &name, &value, NULL), ZC_OK);
    ZC_CHECK_STR(value, "site/workers");
    zc_string_free(name);
    zc_string_free(value);
    ZC_CHECK_RC(zc_layout_option_at(l, 2, &name, &value, NULL), ZC_ERR_INVALID_ARGUMENT);
    zc_layout_free(l);
}

ZC_TEST(legacy_bro_layout) {
    zc_layout *l = NULL;
    ZC_CHECK_RC(zc_layout_load(fixture("cluster-layout.bro"), &l), ZC_OK);
    const char *fmt = NULL;
    ZC_CHECK_RC(zc_layout_format(l, &fmt), ZC_OK);
    ZC_CHECK_STR(fmt, "bro");
    zc_node *n = get_node(l, "manager");
    ZC_CHECK(n != NULL);
    char **w = NULL;
    ZC_CHECK_RC(zc_node_workers(n, &w), ZC_OK);
    ZC_CHECK(w != NULL);
    ZC_CHECK_STR(w[0], "worker-1");
    ZC_CHECK_STR(w[1], "worker-2");
    ZC_CHECK(w[2] == NULL);
    zc_strings_free(w);
    CHECK_OWNED(zc_node_logger(n, &s_), "logger");
    zc_node_free(n);
    n = get_node(l, "worker-1");
    ZC_CHECK(n != NULL);
    CHECK_OWNED(zc_node_proxy(n, &s_), "proxy-1");
    CHECK_OWNED(zc_node_time_machine(n, &s_), "time-machine");
    CHECK_OWNED(zc_node_interface(n, &s_), "eth0");
    zc_node_free(n);
    n = get_node(l, "time-machine");
    ZC_CHECK(n != NULL);
    zc_node_type t = ZC_NODE_NONE;
    ZC_CHECK_RC(zc_node_node_type(n, &t), ZC_OK);
    ZC_CHECK(t == ZC_NODE_TIME_MACHINE);
    uint16_t num = 0;
    ZC_CHECK_RC(zc_node_p(n, &num, NULL), ZC_OK);
    ZC_CHECK(num == 47757);
    zc_node_free(n);
    CHECK_OWNED(zc_layout_option_get(l, "Cluster::worker2manager_events", &s_),
                "/((TimeMachine::command|Drop::.*))|(Notice::cluster_notice)/");
    zc_layout_free(l);
}

ZC_TEST(node_cfg_layout) {
    zc_layout *l = NULL;
    ZC_CHECK_RC(zc_layout_load(fixture("node.cfg"), &l), ZC_OK);
    size_t count = 0;
    ZC_CHECK_RC(zc_layout_node_count(l, &count), ZC_OK);
    ZC_CHECK(count == 8);
    zc_node *n = get_node(l, "worker-1-2");
    ZC_CHECK(n != NULL);
    uint16_t num = 0;
    const char *proto = NULL;
    ZC_CHECK_RC(zc_node_p(n, &num, &proto), ZC_OK);
    ZC_CHECK(num == 27768);
    CHECK_OWNED(zc_node_interface(n, &s_), "eth0");
    CHECK_OWNED(zc_node_zeekctl(n, "host", &s_), "localhost");
    CHECK_OWNED(zc_node_zeekctl(n, "lb_method", &s_), "pf_ring");
    CHECK_OWNED(zc_node_zeekctl(n, "lb_procs", &s_), "2");
    CHECK_OWNED(zc_node_zeekctl(n, "pin_cpu", &s_), "1");
    CHECK_OWNED(zc_node_zeekctl(n, "env:MYVAR", &s_), "1");
    CHECK_OWNED(zc_node_zeekctl(n, "env:NOPE", &s_), NULL);
    CHECK_OWNED(zc_node_zeekctl(n, "env_vars", &s_), "MYVAR=1,OTHER=\"two\"");
    char *s = NULL;
    ZC_CHECK_RC(zc_node_zeekctl(n, "colour", &s), ZC_ERR_INVALID_ARGUMENT);
    zc_node_free(n);
    zc_layout_free(l);

    static const char CFG[] = "[manager]\ntype=manager\nhost=127.0.0.1\n[proxy-1]\ntype=proxy\nhost=127.0.0.1\n";
    ZC_CHECK_RC(zc_layout_parse_node_cfg(CFG, strlen(CFG), 47760, 0, false, &l), ZC_OK);
    n = get_node(l, "control");
    ZC_CHECK(n != NULL);
    ZC_CHECK_RC(zc_node_p(n, &num, &proto), ZC_OK);
    ZC_CHECK(num == 47760);
    zc_node_free(n);
    n = get_node(l, "proxy-1");
    ZC_CHECK(n != NULL);
    ZC_CHECK_RC(zc_node_p(n, &num, &proto), ZC_OK);
    ZC_CHECK(num == 47762);
    ZC_CHECK_RC(zc_node_metrics_port(n, &num, &proto), ZC_OK);
    ZC_CHECK(proto == NULL);
    zc_node_free(n);
    CHECK_OWNED(zc_layout_option_get(l, "Cluster::manager_is_logger", &s_), "T");
    zc_layout_free(l);
}

ZC_TEST(json_round_trip) {
    zc_layout *l = NULL, *back = NULL;
    ZC_CHECK_RC(zc_layout_load(fixture("cluster-layout.bro"), &l), ZC_OK);
    char *json = NULL, *json2 = NULL;
    ZC_CHECK_RC(zc_layout_to_json(l, &json), ZC_OK);
    ZC_CHECK_RC(zc_layout_parse(json, strlen(json), "json", &back), ZC_OK);
    ZC_CHECK_RC(zc_layout_to_json(back, &json2), ZC_OK);
    ZC_CHECK_STR(json, json2);
    const char *fmt = NULL;
    ZC_CHECK_RC(zc_layout_format(back, &fmt), ZC_OK);
    ZC_CHECK_STR(fmt, "json");
    zc_string_free(json);
    zc_string_free(json2);
    zc_layout_free(back);
    zc_layout_free(l);
    /* The text need not be NUL-terminated: only len bytes are read. */
    static const char TWO[] = "{\"nodes\": {}}GARBAGE";
    ZC_CHECK_RC(zc_layout_parse(TWO, 13, "json", &l), ZC_OK);
    zc_layout_free(l);
    ZC_CHECK_RC(zc_layout_parse(TWO, sizeof TWO - 1, "json", &l), ZC_ERR_PARSE);
}

ZC_TEST(parse_errors_name_line_and_column) {
    struct {
        const char *text, *format, *msg;
    } cases[] = {
        {"redef Cluster::nodes = {\n [\"w\"] = [$node_type=Cluster::WORKR, $ip=1.2.3.4],\n};\n", "zeek",
         "<input>:2:22: unknown node type Cluster::WORKR"},
        {"redef Cluster::nodes = {\n [\"w\"] = [$node_type=Cluster::WORKER],\n};\n", "zeek",
         "<input>:2:10: node \"w\": missing required field $ip"},
        {"redef Cluster::nodes = {\n [\"w\"] = [$node_type=Cluster::WORKER, $ip=1.2.3.4, $manager=\"m\"],\n};\n",
         "zeek", "<input>:2:61: node \"w\": $manager must name a Cluster::MANAGER node, but there is no node \"m\""},
        {"redef Cluster::nodes = {\n [\"w\"] = [$node_type=Cluster::WORKER, $ip=1.2.3.4, $p=99999/tcp],\n};\n",
         "zeek", "<input>:2:55: bad port number in \"99999/tcp\" (0-65535 for tcp)"},
        {"[m]\ntype=boss\nhost=127.0.0.1\n", "node.cfg", "<input>:2:6: unknown node type 'boss'"},
        {"{\"nodes\": 5}", "json", "<input>:1:11: \"nodes\": expected an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zc_layout *l = NULL;
        ZC_CHECK_RC(zc_layout_parse(cases[i].text, strlen(cases[i].text), cases[i].format, &l), ZC_ERR_PARSE);
        ZC_CHECK(l == NULL);
        ZC_CHECK(strncmp(zc_last_error(), cases[i].msg, strlen(cases[i].msg)) == 0);
    }
    zc_layout *l = NULL;
    ZC_CHECK_RC(zc_layout_parse("x", 1, "yaml", &l), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("unknown layout format \"yaml\"");
    ZC_CHECK_RC(zc_layout_load("/nonexistent/cluster-layout.zeek", &l), ZC_ERR_NOT_FOUND);
    ZC_CHECK_ERR_CONTAINS("/nonexistent/cluster-layout.zeek: cannot read layout");
}

ZC_TEST(options_defaults_set_get) {
    zc_options *o = NULL;
    ZC_CHECK_RC(zc_options_new(&o), ZC_OK);
    CHECK_OWNED(zc_options_get(o, "Cluster::retry_interval", &s_), "1.0 min");
    CHECK_OWNED(zc_options_get(o, "Cluster::worker_topic", &s_), "zeek/cluster/worker");
    CHECK_OWNED(zc_options_get(o, "Cluster::manager2worker_events", &s_), "/Drop::.*/");
    CHECK_OWNED(zc_options_get(o, "Cluster::default_persistent_backend", &s_), "Broker::SQLITE");
    ZC_CHECK_RC(zc_options_set(o, "Cluster::retry_interval", "30secs"), ZC_OK);
    CHECK_OWNED(zc_options_get(o, "Cluster::retry_interval", &s_), "30.0 secs");
    ZC_CHECK_RC(zc_options_set(o, "Cluster::retry_interval", "2.5"), ZC_OK);
    CHECK_OWNED(zc_options_get(o, "Cluster::retry_interval", &s_), "2.0 secs 500.0 msecs");
    ZC_CHECK_RC(zc_options_set(o, "Cluster::manager_is_logger", "false"), ZC_OK);
    CHECK_OWNED(zc_options_get(o, "Cluster::manager_is_logger", &s_), "F");
    ZC_CHECK_RC(zc_options_set(o, "Broker::log_batch_interval", "250 msecs"), ZC_OK);
    CHECK_OWNED(zc_options_get(o, "Broker::log_batch_interval", &s_), "250.0 msecs");
    ZC_CHECK_RC(zc_options_set(o, "Telemetry::metrics_port", "9911/tcp"), ZC_OK);
    CHECK_OWNED(zc_options_get(o, "Telemetry::metrics_port", &s_), "9911/tcp");
    ZC_CHECK_RC(zc_options_set(o, "Telemetry::metrics_port", "9911/sctp"), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("option Telemetry::metrics_port: \"9911/sctp\" is not a port");
    ZC_CHECK_RC(zc_options_set(o, "Cluster::nope", "1"), ZC_ERR_NOT_FOUND);
    ZC_CHECK_ERR_CONTAINS("unknown option \"Cluster::nope\" (did you mean Cluster::node? expected one of: ");
    ZC_CHECK_RC(zc_options_set(o, "Cluster::retry_interval", "soon"), ZC_ERR_INVALID_ARGUMENT);
    ZC_CHECK_ERR_CONTAINS("expected an interval such as 1.0 min");
    CHECK_OWNED(zc_options_get(o, "Cluster::retry_interval", &s_), "2.0 secs 500.0 msecs");
    char *s = NULL;
    ZC_CHECK_RC(zc_options_get(o, "Cluster::nope", &s), ZC_ERR_NOT_FOUND);
    zc_options_free(o);
}

ZC_TEST(options_catalogue) {
    ZC_CHECK_RC(zc_options_catalogue_json(NULL), ZC_ERR_NULL);
    char *j = NULL;
    ZC_CHECK_RC(zc_options_catalogue_json(&j), ZC_OK);
    ZC_CHECK(j != NULL && j[0] == '[');
    ZC_CHECK(strstr(j, "{\"scope\":\"cluster\",\"name\":\"Cluster::retry_interval\",\"aliases\":[],"
                       "\"type\":\"interval\",\"values\":[],\"default\":\"1.0 min\",") != NULL);
    ZC_CHECK(strstr(j, "\"name\":\"broker.ttl\",\"aliases\":[\"ttl\"]") != NULL);
    zc_string_free(j);
}

static const char SMALL[] =
    "redef Cluster::manager_is_logger = F;\n"
    "redef Cluster::retry_interval = 30 secs;\n"
    "redef Cluster::nodes = {\n"
    "  [\"manager\"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=1/tcp],\n"
    "  [\"worker-1\"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $manager=\"manager\"],\n"
    "};\n";

ZC_TEST(cluster_identity) {
    zc_layout *l = NULL;
    ZC_CHECK_RC(zc_layout_parse(SMALL, strlen(SMALL), "zeek", &l), ZC_OK);
    zc_options *o = NULL;
    ZC_CHECK_RC(zc_options_new(&o), ZC_OK);
    ZC_CHECK_RC(zc_options_set(o, "Cluster::manager_topic", "site/manager"), ZC_OK);
    unsetenv("ZEEK_DEFAULT_CONNECT_RETRY");
    zc_cluster *cl = NULL;
    ZC_CHECK_RC(zc_cluster_new(l, "worker-1", o, &cl), ZC_OK);
    zc_options_free(o);
    zc_layout_free(l); /* the cluster keeps what it needs */
    ZC_CHECK(zc_cluster_is_enabled(cl));
    zc_node_type t = ZC_NODE_NONE;
    ZC_CHECK_RC(zc_cluster_local_node_type(cl, &t), ZC_OK);
    ZC_CHECK(t == ZC_NODE_WORKER);
    CHECK_OWNED(zc_cluster_node_name(cl, &s_), "worker-1");
    char *id = NULL;
    ZC_CHECK_RC(zc_cluster_node_id(cl, &id), ZC_OK);
    ZC_CHECK(strlen(id) == 36 && id[14] == '4');
    char want[128];
    snprintf(want, sizeof want, "zeek/cluster/nodeid/%s/", id);
    CHECK_OWNED(zc_cluster_nodeid_topic(cl, id, &s_), want);
    char *id2 = NULL;
    ZC_CHECK_RC(zc_cluster_node_id(cl, &id2), ZC_OK);
    ZC_CHECK_STR(id, id2);
    zc_string_free(id);
    zc_string_free(id2);
    CHECK_OWNED(zc_cluster_node_topic(cl, "manager", &s_), "zeek/cluster/node/manager/");
    CHECK_OWNED(zc_cluster_option_get(cl, "Cluster::manager_is_logger", &s_), "F");
    CHECK_OWNED(zc_cluster_option_get(cl, "Cluster::retry_interval", &s_), "30.0 secs");
    CHECK_OWNED(zc_cluster_option_get(cl, "Cluster::manager_topic", &s_), "site/manager");
    uint64_t v = 99;
    ZC_CHECK_RC(zc_cluster_peer_retry(cl, &v), ZC_OK);
    ZC_CHECK(v == 30);
    ZC_CHECK_RC(zc_cluster_worker_count(cl, &v), ZC_OK);
    ZC_CHECK(v == 0);
    zc_cluster_free(cl);
}

ZC_TEST(cluster_node_from_environment) {
    zc_layout *l = NULL;
    ZC_CHECK_RC(zc_layout_parse(SMALL, strlen(SMALL), NULL, &l), ZC_OK);
    zc_cluster *cl = NULL;
    setenv("CLUSTER_NODE", "manager", 1);
    setenv("ZEEK_DEFAULT_CONNECT_RETRY", "7", 1);
    ZC_CHECK_RC(zc_cluster_new(l, NULL, NULL, &cl), ZC_OK);
    zc_node_type t = ZC_NODE_NONE;
    ZC_CHECK_RC(zc_cluster_local_node_type(cl, &t), ZC_OK);
    ZC_CHECK(t == ZC_NODE_MANAGER);
    uint64_t v = 0;
    ZC_CHECK_RC(zc_cluster_peer_retry(cl, &v), ZC_OK);
    ZC_CHECK(v == 7);
    zc_cluster_free(cl);

    unsetenv("CLUSTER_NODE");
    unsetenv("ZEEK_DEFAULT_CONNECT_RETRY");
    ZC_CHECK_RC(zc_cluster_new(l, NULL, NULL, &cl), ZC_OK);
    ZC_CHECK(!zc_cluster_is_enabled(cl));
    ZC_CHECK_RC(zc_cluster_local_node_type(cl, &t), ZC_OK);
    ZC_CHECK(t == ZC_NODE_NONE);
    CHECK_OWNED(zc_cluster_node_name(cl, &s_), "");
    zc_cluster_free(cl);

    setenv("CLUSTER_NODE", "worker-9", 1);
    cl = NULL;
    ZC_CHECK_RC(zc_cluster_new(l, NULL, NULL, &cl), ZC_ERR_NOT_FOUND);
    ZC_CHECK(cl == NULL);
    ZC_CHECK_ERR_CONTAINS("node \"worker-9\" is not in the layout");
    unsetenv("CLUSTER_NODE");
    zc_layout_free(l);
}

/* Every entry point with NULL, invalid UTF-8, freed and wrong-type handles. */
ZC_TEST(negative_matrix) {
    zc_layout *l = NULL, *freed_l = NULL;
    ZC_CHECK_RC(zc_layout_parse(SMALL, strlen(SMALL), "zeek", &l), ZC_OK);
    ZC_CHECK_RC(zc_layout_parse(SMALL, strlen(SMALL), "zeek", &freed_l), ZC_OK);
    zc_layout_free(freed_l);
    zc_node *n = get_node(l, "worker-1"), *freed_n = get_node(l, "manager");
    ZC_CHECK(n != NULL && freed_n != NULL);
    zc_node_free(freed_n);
    zc_options *o = NULL, *freed_o = NULL;
    ZC_CHECK_RC(zc_options_new(&o), ZC_OK);
    ZC_CHECK_RC(zc_options_new(&freed_o), ZC_OK);
    zc_options_free(freed_o);
    zc_cluster *cl = NULL, *freed_cl = NULL;
    ZC_CHECK_RC(zc_cluster_new(l, "worker-1", NULL, &cl), ZC_OK);
    ZC_CHECK_RC(zc_cluster_new(l, "worker-1", NULL, &freed_cl), ZC_OK);
    zc_cluster_free(freed_cl);
    zc_layout *wrong_l = (zc_layout *)(void *)o;
    zc_node *wrong_n = (zc_node *)(void *)l;
    zc_options *wrong_o = (zc_options *)(void *)n;
    zc_cluster *wrong_cl = (zc_cluster *)(void *)l;

    char *s = NULL;
    char **arr = NULL;
    size_t sz = 0;
    uint16_t num = 0;
    const char *cs = NULL;
    zc_node_type t;
    uint64_t u = 0;
    zc_layout *lo = NULL;
    zc_node *no = NULL;
    zc_cluster *co = NULL;

    /* Loading and parsing. */
    ZC_CHECK_RC(zc_layout_load(NULL, &lo), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_load("x.zeek", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_load(BAD_UTF8, &lo), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_layout_parse(NULL, 5, NULL, &lo), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_parse(SMALL, strlen(SMALL), NULL, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_parse(BAD_UTF8, 3, NULL, &lo), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_layout_parse(SMALL, strlen(SMALL), BAD_UTF8, &lo), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_layout_parse_node_cfg(NULL, 3, 1, 1, true, &lo), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_parse_node_cfg(BAD_UTF8, 3, 1, 1, true, &lo), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_layout_parse_node_cfg("[a]", 3, 1, 1, true, NULL), ZC_ERR_NULL);
    ZC_CHECK(lo == NULL);

    /* Layout queries. */
    ZC_CHECK_RC(zc_layout_format(NULL, &cs), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_format(l, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_format(freed_l, &cs), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_format(wrong_l, &cs), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_node_count(NULL, &sz), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_node_count(l, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_node_count(freed_l, &sz), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_node_count(wrong_l, &sz), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_ERR_CONTAINS("not a zc_layout handle");
    ZC_CHECK_RC(zc_layout_node_names(NULL, &arr), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_node_names(l, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_node_names(freed_l, &arr), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_node_names(wrong_l, &arr), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_node_name_at(NULL, 0, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_node_name_at(l, 0, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_node_name_at(freed_l, 0, &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_node_name_at(wrong_l, 0, &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_get_node(NULL, "manager", &no), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_get_node(l, NULL, &no), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_get_node(l, "manager", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_get_node(l, BAD_UTF8, &no), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_layout_get_node(freed_l, "manager", &no), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_get_node(wrong_l, "manager", &no), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_option_count(NULL, &sz), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_option_count(l, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_option_count(freed_l, &sz), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_option_count(wrong_l, &sz), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_option_at(NULL, 0, &s, &s, &cs), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_option_at(l, 0, NULL, &s, &cs), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_option_at(l, 0, &s, NULL, &cs), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_option_at(freed_l, 0, &s, &s, &cs), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_option_at(wrong_l, 0, &s, &s, &cs), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_option_get(NULL, "Cluster::node", &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_option_get(l, NULL, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_option_get(l, "Cluster::node", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_option_get(l, BAD_UTF8, &s), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_layout_option_get(freed_l, "Cluster::node", &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_option_get(wrong_l, "Cluster::node", &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_to_json(NULL, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_to_json(l, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_layout_to_json(freed_l, &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_layout_to_json(wrong_l, &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK(s == NULL && arr == NULL && no == NULL);

    /* Node accessors: the string-returning ones share a signature. */
    zc_result (*string_fns[])(const zc_node *, char **) = {
        zc_node_name,     zc_node_ip,    zc_node_zone_id,   zc_node_interface, zc_node_manager,
        zc_node_logger,   zc_node_proxy, zc_node_time_machine, zc_node_id,     zc_node_lb_filter,
        zc_node_pcap_file,
    };
    for (size_t i = 0; i < sizeof string_fns / sizeof string_fns[0]; i++) {
        ZC_CHECK_RC(string_fns[i](NULL, &s), ZC_ERR_NULL);
        ZC_CHECK_RC(string_fns[i](n, NULL), ZC_ERR_NULL);
        ZC_CHECK_RC(string_fns[i](freed_n, &s), ZC_ERR_BAD_HANDLE);
        ZC_CHECK_RC(string_fns[i](wrong_n, &s), ZC_ERR_BAD_HANDLE);
        ZC_CHECK(s == NULL);
    }
    ZC_CHECK_RC(zc_node_node_type(NULL, &t), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_node_type(n, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_node_type(freed_n, &t), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_node_node_type(wrong_n, &t), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_node_p(NULL, &num, &cs), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_p(n, NULL, &cs), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_p(freed_n, &num, &cs), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_node_p(wrong_n, &num, &cs), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_node_metrics_port(NULL, &num, &cs), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_metrics_port(n, NULL, &cs), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_metrics_port(n, &num, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_metrics_port(freed_n, &num, &cs), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_node_metrics_port(wrong_n, &num, &cs), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_node_workers(NULL, &arr), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_workers(n, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_workers(freed_n, &arr), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_node_workers(wrong_n, &arr), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_node_zeekctl(NULL, "host", &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_zeekctl(n, NULL, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_zeekctl(n, "host", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_node_zeekctl(n, BAD_UTF8, &s), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_node_zeekctl(freed_n, "host", &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_node_zeekctl(wrong_n, "host", &s), ZC_ERR_BAD_HANDLE);

    /* Options. */
    ZC_CHECK_RC(zc_options_new(NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_options_set(NULL, "Cluster::node", "x"), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_options_set(o, NULL, "x"), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_options_set(o, "Cluster::node", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_options_set(o, BAD_UTF8, "x"), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_options_set(o, "Cluster::node", BAD_UTF8), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_options_set(freed_o, "Cluster::node", "x"), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_options_set(wrong_o, "Cluster::node", "x"), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_options_get(NULL, "Cluster::node", &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_options_get(o, NULL, &s), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_options_get(o, "Cluster::node", NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_options_get(o, BAD_UTF8, &s), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_options_get(freed_o, "Cluster::node", &s), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_options_get(wrong_o, "Cluster::node", &s), ZC_ERR_BAD_HANDLE);

    /* Cluster. */
    ZC_CHECK_RC(zc_cluster_new(NULL, "worker-1", NULL, &co), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_new(l, "worker-1", NULL, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_new(l, BAD_UTF8, NULL, &co), ZC_ERR_UTF8);
    ZC_CHECK_RC(zc_cluster_new(freed_l, "worker-1", NULL, &co), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_new(wrong_l, "worker-1", NULL, &co), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_new(l, "worker-1", freed_o, &co), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_new(l, "worker-1", wrong_o, &co), ZC_ERR_BAD_HANDLE);
    ZC_CHECK(co == NULL);
    ZC_CHECK(!zc_cluster_is_enabled(NULL));
    ZC_CHECK(!zc_cluster_is_enabled(freed_cl));
    ZC_CHECK_ERR_CONTAINS("zc_cluster handle is freed or unknown");
    ZC_CHECK(!zc_cluster_is_enabled(wrong_cl));
    ZC_CHECK_RC(zc_cluster_local_node_type(NULL, &t), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_local_node_type(cl, NULL), ZC_ERR_NULL);
    ZC_CHECK_RC(zc_cluster_local_node_type(freed_cl, &t), ZC_ERR_BAD_HANDLE);
    ZC_CHECK_RC(zc_cluster_local_node_type(wrong_cl, &t), ZC_ERR_BAD_HANDLE);
    zc_result (*cl_string_fns[])(const zc_cluster *, char **) = {zc_cluster_node_name, zc_cluster_node_id};
    for (size_t i = 0; i < 2; i++) {
        ZC_CHECK_RC(cl_string_fns[i](NULL, &s), ZC_ERR_NULL);
        ZC_CHECK_RC(cl_string_fns[i](cl, NULL), ZC_ERR_NULL);
        ZC_CHECK_RC(cl_string_fns[i](freed_cl, &s), ZC_ERR_BAD_HANDLE);
        ZC_CHECK_RC(cl_string_fns[i](wrong_cl, &s), ZC_ERR_BAD_HANDLE);
    }
    zc_result (*cl_arg_fns[])(const zc_cluster *, const char *, char **) = {
        zc_cluster_node_topic, zc_cluster_nodeid_topic, zc_cluster_option_get};
    for (size_t i = 0; i < 3; i++) {
        ZC_CHECK_RC(cl_arg_fns[i](NULL, "Cluster::node", &s), ZC_ERR_NULL);
        ZC_CHECK_RC(cl_arg_fns[i](cl, NULL, &s), ZC_ERR_NULL);
        ZC_CHECK_RC(cl_arg_fns[i](cl, "Cluster::node", NULL), ZC_ERR_NULL);
        ZC_CHECK_RC(cl_arg_fns[i](cl, BAD_UTF8, &s), ZC_ERR_UTF8);
        ZC_CHECK_RC(cl_arg_fns[i](freed_cl, "Cluster::node", &s), ZC_ERR_BAD_HANDLE);
        ZC_CHECK_RC(cl_arg_fns[i](wrong_cl, "Cluster::node", &s), ZC_ERR_BAD_HANDLE);
    }
    zc_result (*cl_u64_fns[])(const zc_cluster *, uint64_t *) = {zc_cluster_peer_retry, zc_cluster_worker_count};
    for (size_t i = 0; i < 2; i++) {
        ZC_CHECK_RC(cl_u64_fns[i](NULL, &u), ZC_ERR_NULL);
        ZC_CHECK_RC(cl_u64_fns[i](cl, NULL), ZC_ERR_NULL);
        ZC_CHECK_RC(cl_u64_fns[i](freed_cl, &u), ZC_ERR_BAD_HANDLE);
        ZC_CHECK_RC(cl_u64_fns[i](wrong_cl, &u), ZC_ERR_BAD_HANDLE);
    }
    ZC_CHECK(s == NULL);

    /* Freeing: NULL is a no-op; freed, foreign and wrong-type handles are refused. */
    zc_layout_free(NULL);
    zc_node_free(NULL);
    zc_options_free(NULL);
    zc_cluster_free(NULL);
    zc_strings_free(NULL);
    zc_layout_free(freed_l);
    ZC_CHECK_ERR_CONTAINS("zc_layout handle is freed or unknown");
    zc_node_free(freed_n);
    zc_options_free(freed_o);
    zc_cluster_free(freed_cl);
    zc_layout_free(wrong_l);
    ZC_CHECK_ERR_CONTAINS("not a zc_layout handle");
    zc_node_free(wrong_n);
    zc_options_free(wrong_o);
    zc_cluster_free(wrong_cl);
    char *foreign[2] = {NULL, NULL};
    zc_strings_free(foreign);
    ZC_CHECK_ERR_CONTAINS("zc_strings_free: pointer was not returned by zcluster");
    ZC_CHECK_RC(zc_layout_node_names(l, &arr), ZC_OK);
    zc_strings_free(arr);
    zc_strings_free(arr); /* a double free is refused, not performed */
    ZC_CHECK_ERR_CONTAINS("already freed");

    /* The live handles still work after all that. */
    ZC_CHECK_RC(zc_layout_node_count(l, &sz), ZC_OK);
    ZC_CHECK(sz == 2);
    ZC_CHECK(zc_cluster_is_enabled(cl));

    zc_cluster_free(cl);
    zc_options_free(o);
    zc_node_free(n);
    zc_layout_free(l);
}

int main(void) {
    ZC_RUN(zeekctl_layout_every_field);
    ZC_RUN(ipv6_layout_from_text);
    ZC_RUN(legacy_bro_layout);
    ZC_RUN(node_cfg_layout);
    ZC_RUN(json_round_trip);
    ZC_RUN(parse_errors_name_line_and_column);
    ZC_RUN(options_defaults_set_get);
    ZC_RUN(options_catalogue);
    ZC_RUN(cluster_identity);
    ZC_RUN(cluster_node_from_environment);
    ZC_RUN(negative_matrix);
    return zc_test_summary();
}
