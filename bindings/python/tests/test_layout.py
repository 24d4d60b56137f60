"""Layouts, nodes, options and the cluster's identity through the Python bindings."""

import datetime
import ipaddress
import os
import pathlib
import subprocess
import sys

import pytest

import zcluster
from zcluster._layout import Cluster, Layout, Node, NodeType, Port

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "layouts"
LO = ipaddress.ip_address("127.0.0.1")

ZEEKCTL_PORTS = {
    "control": (27762, None),
    "manager": (27763, 9991),
    "logger": (27764, 9992),
    "proxy-1": (27765, 9993),
    "proxy-2": (27766, 9994),
    "worker-1-1": (27767, 9995),
    "worker-1-2": (27768, 9996),
    "worker-2": (27769, 9997),
}
ZEEKCTL_TYPES = {
    "control": NodeType.CONTROL, "manager": NodeType.MANAGER, "logger": NodeType.LOGGER,
    "proxy-1": NodeType.PROXY, "proxy-2": NodeType.PROXY, "worker-1-1": NodeType.WORKER,
    "worker-1-2": NodeType.WORKER, "worker-2": NodeType.WORKER,
}


def check_zeekctl_nodes(layout):
    assert sorted(layout.nodes) == sorted(ZEEKCTL_PORTS)
    for name, (p, metrics) in ZEEKCTL_PORTS.items():
        n = layout.nodes[name]
        assert n.name == name
        assert n.node_type is ZEEKCTL_TYPES[name]
        assert n.ip == LO
        assert n.zone_id == ""
        assert n.p == Port(p, "tcp")
        assert n.metrics_port == (Port(metrics, "tcp") if metrics else None)
        want_manager = "manager" if ZEEKCTL_TYPES[name] in (NodeType.PROXY, NodeType.WORKER) else None
        assert n.manager == want_manager
        for field in ("logger", "proxy", "workers", "time_machine", "id", "lb_filter", "pcap_file"):
            assert getattr(n, field) is None, field
    assert layout.options == {"Cluster::manager_is_logger": False}


def test_zeekctl_layout_every_field():
    layout = Layout.load(FIXTURES / "zeekctl-cluster-layout.zeek")
    assert layout.format == "zeek"
    check_zeekctl_nodes(layout)
    assert all(n.interface is None and n.zeekctl is None for n in layout.nodes.values())
    assert str(layout.nodes["worker-2"].p) == "27769/tcp"


def test_node_cfg_matches_what_zeekctl_writes():
    layout = Layout.load(FIXTURES / "node.cfg")
    assert layout.format == "node.cfg"
    check_zeekctl_nodes(layout)
    w11, w12, w2 = (layout.nodes[n] for n in ("worker-1-1", "worker-1-2", "worker-2"))
    assert (w11.interface, w12.interface, w2.interface) == ("eth0", "eth0", "eth1")
    assert w11.zeekctl == {"host": "localhost", "lb_method": "pf_ring", "lb_procs": 2, "pin_cpu": 0,
                           "env_vars": {"MYVAR": "1", "OTHER": '"two"'}}
    assert w12.zeekctl["pin_cpu"] == 1
    assert w2.zeekctl == {"host": "localhost", "aux_scripts": "local-worker.zeek"}
    assert layout.nodes["control"].zeekctl is None


def test_node_cfg_ports_settings():
    text = (FIXTURES / "node.cfg").read_text()
    layout = Layout.parse_node_cfg(text, zeek_port=47760, metrics_port=0, zeromq=False)
    assert layout.nodes["control"].p == Port(47760, "tcp")
    assert layout.nodes["worker-2"].p == Port(47767, "tcp")
    assert all(n.metrics_port is None for n in layout.nodes.values())


def test_ipv6_layout_with_zone_ids():
    layout = Layout.load(FIXTURES / "ipv6-cluster-layout.zeek")
    m = layout.nodes["manager"]
    assert m.ip == ipaddress.IPv6Address("fe80::1") and m.zone_id == "eth0"
    assert m.p == Port(47761, "tcp")
    w = layout.nodes["worker-1"]
    assert w.ip == ipaddress.IPv6Address("2001:db8::10")
    assert (w.interface, w.lb_filter, w.pcap_file, w.id) == ("eth1", "ip or not ip", "/tmp/trace.pcap", "runtime-id")
    assert layout.nodes["worker-2"].p == Port(0, "?")
    assert layout.options == {
        "Cluster::manager_is_logger": True,
        "Cluster::retry_interval": datetime.timedelta(seconds=30),
        "Cluster::worker_topic": "site/workers",
    }


def test_legacy_bro_layout():
    layout = Layout.load(FIXTURES / "cluster-layout.bro")
    assert layout.format == "bro"
    m = layout.nodes["manager"]
    assert m.workers == {"worker-1", "worker-2"}
    assert m.logger == "logger"
    w = layout.nodes["worker-1"]
    assert (w.proxy, w.manager, w.logger, w.interface, w.time_machine) == (
        "proxy-1", "manager", "logger", "eth0", "time-machine")
    tm = layout.nodes["time-machine"]
    assert tm.node_type is NodeType.TIME_MACHINE
    assert tm.ip == ipaddress.IPv4Address("192.168.1.5") and tm.p == Port(47757, "tcp")
    assert layout.options["Cluster::worker2manager_events"] == \
        "((TimeMachine::command|Drop::.*))|(Notice::cluster_notice)"


def test_json_round_trip_and_parse_guessing():
    for name in ("zeekctl-cluster-layout.zeek", "cluster-layout.bro", "node.cfg", "ipv6-cluster-layout.zeek"):
        layout = Layout.load(FIXTURES / name)
        back = Layout.from_json(layout.to_json())
        assert back.format == "json"
        assert back.nodes == layout.nodes
        assert back.options == layout.options
        guessed = Layout.parse((FIXTURES / name).read_text())
        assert guessed.nodes == layout.nodes


def test_node_type_matches_c_enum():
    assert [t.name for t in NodeType] == ["NONE", "CONTROL", "MANAGER", "LOGGER", "PROXY", "WORKER", "TIME_MACHINE"]
    assert [int(t) for t in NodeType] == list(range(7))


MALFORMED = [
    ("zeek", 'redef Cluster::nodes = {\n ["w"] = [$node_type=Cluster::WORKR, $ip=1.2.3.4],\n};\n',
     "<input>:2:22: unknown node type Cluster::WORKR"),
    ("zeek", 'redef Cluster::nodes = {\n ["w"] = [$node_type=Cluster::WORKER],\n};\n',
     '<input>:2:10: node "w": missing required field $ip'),
    ("zeek", 'redef Cluster::nodes = {\n ["w"] = [$node_type=Cluster::WORKER, $ip=1.2.3.4],\n'
             ' ["w"] = [$node_type=Cluster::WORKER, $ip=1.2.3.4],\n};\n',
     '<input>:3:3: duplicate node name "w" (first defined at line 2, column 3)'),
    ("zeek", 'redef Cluster::nodes = {\n ["w"] = [$node_type=Cluster::WORKER, $ip=1.2.3.4, $manager="m"],\n};\n',
     '<input>:2:61: node "w": $manager must name a Cluster::MANAGER node, but there is no node "m"'),
    ("zeek", 'redef Cluster::nodes = {\n ["w"] = [$node_type=Cluster::WORKER, $ip=1.2.3.999],\n};\n',
     "<input>:2:43: bad address 1.2.3.999 (not an IPv4 address)"),
    ("zeek", 'redef Cluster::nodes = {\n ["w"] = [$node_type=Cluster::WORKER, $ip=1.2.3.4, $p=99999/tcp],\n};\n',
     '<input>:2:55: bad port number in "99999/tcp" (0-65535 for tcp)'),
    ("zeek", 'redef Cluster::nodes = {\n ["w"] = [$node_type=Cluster::WORKER, $ip=1.2.3.4, $size=1],\n};\n',
     "<input>:2:52: unknown field $size in Cluster::Node"),
    ("zeek", "redef Cluster::nodes = {\n", "<input>:2:1: expected `[\"<node name>\"] = [...]` or `}`, found end of input"),
    ("bro", 'redef Cluster::nodes = {\n ["w"] = [$node_type=Cluster::WORKER, $ip=1.2.3.4],\n};\n',
     '<input>:2:10: node "w": missing required field $p'),
    ("node.cfg", "[m]\ntype=boss\nhost=127.0.0.1\n", "<input>:2:6: unknown node type 'boss'"),
    ("json", '{"nodes": {"w": {"node_type": "WORKER"}}}', '<input>:1:17: node "w": missing required field "ip"'),
]


@pytest.mark.parametrize("fmt,text,message", MALFORMED)
def test_malformed_layouts(fmt, text, message):
    with pytest.raises(zcluster.LayoutError) as info:
        Layout.parse(text, fmt)
    assert str(info.value).startswith(message)
    assert info.value.code_name == "ZC_ERR_PARSE"


def test_load_errors():
    with pytest.raises(zcluster.NotFound, match="cannot read layout"):
        Layout.load("/nonexistent/cluster-layout.zeek")
    with pytest.raises(zcluster.InvalidArgument, match='unknown layout format "yaml"'):
        Layout.parse("x", "yaml")


SMALL = """redef Cluster::manager_is_logger = F;
redef Cluster::nodes = {
  ["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=1/tcp],
  ["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $manager="manager"],
};
"""


def test_cluster_identity_and_topics():
    layout = Layout.parse(SMALL)
    with Cluster(layout, node="worker-1", options={"Cluster::retry_interval": 2.0,
                                                   "Cluster::enable_round_robin_logging": False}) as cl:
        assert cl.is_enabled()
        assert cl.local_node_type() is NodeType.WORKER
        assert cl.node_name == "worker-1"
        node_id = cl.node_id
        assert len(node_id) == 36 and node_id[14] == "4" and cl.node_id == node_id
        assert cl.node_topic("manager") == "zeek/cluster/node/manager/"
        assert cl.nodeid_topic(node_id) == "zeek/cluster/nodeid/%s/" % node_id
        assert cl.option("Cluster::retry_interval") == "2.0 secs"
        assert cl.option("Cluster::enable_round_robin_logging") == "F"
        assert cl.option("Cluster::manager_is_logger") == "F"
        assert cl.worker_count == 0
    with pytest.raises(zcluster.ClosedError):
        cl.node_topic("x")
    other = Cluster(layout, node="manager", options={"Cluster::retry_interval": datetime.timedelta(minutes=2)})
    assert other.node_id != node_id
    assert other.option("Cluster::retry_interval") == "2.0 mins"
    other.close()
    other.close()


def test_cluster_errors():
    layout = Layout.parse(SMALL)
    with pytest.raises(zcluster.NotFound, match='node "worker-9" is not in the layout'):
        Cluster(layout, node="worker-9")
    with pytest.raises(zcluster.NotFound, match='unknown option "Cluster::bogus"'):
        Cluster(layout, options={"Cluster::bogus": 1})
    with pytest.raises(zcluster.InvalidArgument, match="expected T, F, true or false"):
        Cluster(layout, options={"Cluster::manager_is_logger": "maybe"})
    with pytest.raises(TypeError):
        Cluster(layout, options={"Cluster::node": object()})
    with pytest.raises(TypeError):
        Cluster("not a layout")


CHILD = """
import sys, pathlib
sys.path.insert(0, sys.argv[1])
from zcluster._layout import Cluster, Layout, NodeType
layout = Layout.parse(sys.argv[2])
cl = Cluster(layout)
print(cl.is_enabled(), cl.local_node_type().name, repr(cl.node_name), cl.peer_retry)
"""


@pytest.mark.parametrize("env,want", [
    ({"CLUSTER_NODE": "manager"}, "True MANAGER 'manager' 60"),
    ({"CLUSTER_NODE": "worker-1", "ZEEK_DEFAULT_CONNECT_RETRY": "5"}, "True WORKER 'worker-1' 5"),
    ({}, "False NONE '' 60"),
    ({"CLUSTER_NODE": ""}, "False NONE '' 60"),
])
def test_cluster_node_from_environment(env, want):
    # A child process, so the environment of other tests is never touched.
    child_env = {k: v for k, v in os.environ.items() if k not in ("CLUSTER_NODE", "ZEEK_DEFAULT_CONNECT_RETRY")}
    child_env.update(env)
    pkg = str(pathlib.Path(zcluster.__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", CHILD, pkg, SMALL], env=child_env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == want
