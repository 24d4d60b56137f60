"""One option grammar on every path: Python values (bool, datetime.timedelta, numbers,
Port, addresses) reach the cluster, endpoint and store options as the same text, and
errors name the option, its type and the bad value (docs/options.md)."""

import datetime
import ipaddress

import pytest

import zcluster
from zcluster._data import Enum, Port, _option_text
from zcluster._layout import Cluster, Layout

LAYOUT = """redef Cluster::nodes = {
  ["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=1/tcp],
};
"""


def test_python_values_become_option_text():
    assert _option_text(True) == "T"
    assert _option_text(False) == "F"
    assert _option_text(datetime.timedelta(milliseconds=250)) == "0.25"
    assert _option_text(datetime.timedelta(minutes=-1)) == "-60.0"
    assert _option_text(400) == "400"
    assert _option_text(2.5) == "2.5"
    assert _option_text(zcluster.Count(7)) == "7"
    assert _option_text(Port(9991)) == "9991/tcp"
    assert _option_text(Port(0, "?")) == "0/unknown"
    assert _option_text(ipaddress.ip_address("::1")) == "::1"
    assert _option_text(Enum("Broker::SQLITE")) == "Broker::SQLITE"
    with pytest.raises(TypeError):
        _option_text(object())


def test_cluster_options_take_bool_timedelta_and_zeek_text():
    layout = Layout.parse(LAYOUT)
    options = {
        "Cluster::retry_interval": datetime.timedelta(milliseconds=250),
        "Cluster::manager_is_logger": False,
        "Broker::log_batch_interval": "250 msecs",
        "Broker::log_batch_size": 100,
        "Telemetry::metrics_port": Port(9911),
        "Cluster::default_backend": "sqlite",
        "Cluster::Backend::ZeroMQ::linger_ms": -1,
        "Log::default_rotation_interval": "1 hr",
    }
    with Cluster(layout, node="manager", options=options) as cl:
        assert cl.option("Cluster::retry_interval") == "250.0 msecs"
        assert cl.option("Cluster::manager_is_logger") == "F"
        assert cl.option("Broker::log_batch_interval") == "250.0 msecs"
        assert cl.option("Broker::log_batch_size") == "100"
        assert cl.option("Telemetry::metrics_port") == "9911/tcp"
        assert cl.option("Cluster::default_backend") == "Broker::SQLITE"
        assert cl.option("Cluster::Backend::ZeroMQ::linger_ms") == "-1"
        assert cl.option("Log::default_rotation_interval") == "1.0 hr"


def test_cluster_option_errors_name_option_type_and_value():
    layout = Layout.parse(LAYOUT)
    with pytest.raises(zcluster.InvalidArgument) as e:
        Cluster(layout, node="manager", options={"Cluster::retry_interval": "5 fortnights"})
    assert str(e.value) == (
        'option Cluster::retry_interval: "5 fortnights" is not an interval (expected an '
        "interval such as 1.0 min, 30 secs or 250 msecs, or a number of seconds)"
    )
    with pytest.raises(zcluster.NotFound, match="did you mean Cluster::retry_interval"):
        Cluster(layout, node="manager", options={"Cluster::retry_intervall": 1})


def test_endpoint_options_take_bool_and_timedelta():
    with zcluster.Endpoint({
        "Broker::forward_messages": False,
        "handshake_timeout": datetime.timedelta(seconds=2),
        "backpressure_timeout": "250 msecs",
        "unpeer_timeout": "250ms",
        "validate_data": True,
        "broker.ttl": 8,
    }):
        pass
    with pytest.raises(zcluster.InvalidArgument) as e:
        zcluster.Endpoint({"handshake_timeout": "soon"})
    assert 'option handshake_timeout: "soon" is not an interval' in str(e.value)
    with pytest.raises(zcluster.NotFound, match="did you mean handshake_timeout"):
        zcluster.Endpoint({"handshake_timout": 1})


def test_store_options_take_bool_and_timedelta():
    layout = Layout.parse(LAYOUT)
    with Cluster(layout, node="manager") as cl:
        cl.set_store_options("s", clone_stale_interval=datetime.timedelta(minutes=7),
                             clone_resync_interval=3, integrity_check=False,
                             journal_mode="wal", synchronous="Broker::SQLITE_SYNCHRONOUS_NORMAL")
        info = cl.create_store("s")
        assert info.clone_stale_interval == datetime.timedelta(minutes=7)
        assert info.clone_resync_interval == datetime.timedelta(seconds=3)
        with pytest.raises(zcluster.InvalidArgument, match='option clone_stale_interval: "-1.0" is negative'):
            cl.set_store_options("t", clone_stale_interval=-1.0)
        with pytest.raises(zcluster.NotFound, match="did you mean journal_mode"):
            cl.set_store_options("t", jurnal_mode="WAL")


def test_the_catalogue_describes_every_option():
    cat = zcluster.option_catalogue()
    by = {(o["scope"], o["name"]): o for o in cat}
    ri = by[("cluster", "Cluster::retry_interval")]
    assert (ri["type"], ri["default"]) == ("interval", "1.0 min")
    assert ri["doc"]
    assert by[("endpoint", "broker.ttl")]["aliases"] == ["ttl"]
    assert by[("backend", "journal_mode")]["values"] == [
        "Broker::SQLITE_JOURNAL_MODE_DELETE", "Broker::SQLITE_JOURNAL_MODE_WAL"]
    # Every cluster option's default is what a fresh Cluster reports.
    layout = Layout.parse(LAYOUT)
    with Cluster(layout, node="manager") as cl:
        for o in cat:
            if o["scope"] == "cluster" and o["type"] in ("interval", "bool", "count", "string", "enum"):
                if o["name"].startswith("Cluster::Backend::ZeroMQ::") or o["name"] == "Cluster::node":
                    continue
                assert cl.option(o["name"]) == o["default"], o["name"]
