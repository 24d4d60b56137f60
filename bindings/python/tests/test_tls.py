"""TLS peerings from Python, by Zeek's option names: plain (Broker::disable_ssl), anonymous
(the default), authenticated (certificates made here with the openssl CLI, Broker's style:
X.509 v1 and a legacy-encrypted key), mismatched modes as statuses while the endpoint keeps
serving its other peer, configuration errors, and a two-node cluster in authenticated mode
with the options set on the cluster and in the layout."""

import subprocess
import time

import pytest

import zcluster
from zcluster import MessageKind
from ports import free_port

T = 10.0
PASS = "12345"


def sh(cwd, *args):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    sh(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
       "-days", "30", "-subj", "/CN=zc-py-ca")
    sh(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out",
       "other.pem", "-days", "30", "-subj", "/CN=zc-py-other")
    sh(d, "genrsa", "-traditional", "-des3", "-passout", "pass:" + PASS, "-out", "n1.key", "2048")
    sh(d, "req", "-new", "-key", "n1.key", "-passin", "pass:" + PASS, "-subj", "/CN=n1", "-out", "n1.csr")
    sh(d, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "n2.key", "-subj", "/CN=n2",
       "-out", "n2.csr")
    for name, ca in (("n1", "ca"), ("n2", "ca")):
        sh(d, "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
           "-CAcreateserial", "-days", "30", "-out", name + ".pem")
    sh(d, "x509", "-req", "-in", "n2.csr", "-CA", "other.pem", "-CAkey", "other.key",
       "-CAcreateserial", "-days", "30", "-out", "stranger.pem")
    assert "Proc-Type: 4,ENCRYPTED" in (d / "n1.key").read_text()
    return d


def auth(pki, name, cert=None):
    o = {
        "Broker::ssl_certificate": str(pki / ((cert or name) + ".pem")),
        "Broker::ssl_keyfile": str(pki / (name + ".key")),
        "Broker::ssl_cafile": str(pki / "ca.pem"),
        "handshake_timeout": "2s",
    }
    if name == "n1":
        o["Broker::ssl_passphrase"] = PASS
    return o


def status(ep, kinds, timeout=T):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = ep.next(timeout=0.1)
        if m is not None and m.kind in kinds:
            return m
    raise AssertionError("no status of %s" % (kinds,))


def exchange(a, b, tag):
    b.subscribe("/ok")
    end = time.monotonic() + T
    while not a.peer_subscribed("/ok"):
        assert time.monotonic() < end
        time.sleep(0.005)
    payload = b"\x05" + bytes([len(tag)]) + tag
    a.publish_data("/ok", payload)
    while time.monotonic() < end:
        m = b.next(timeout=0.1)
        if m is not None and m.kind == MessageKind.EVENT:
            assert m.data == payload
            return
    raise AssertionError("nothing arrived")


@pytest.mark.parametrize("mode", ["plain", "anon", "auth"])
def test_each_mode_peers_and_carries_data(pki, mode):
    if mode == "plain":
        oa = ob = {"Broker::disable_ssl": True}
    elif mode == "anon":
        oa = ob = {}
    else:
        oa, ob = auth(pki, "n1"), auth(pki, "n2")
    with zcluster.Endpoint(oa) as a, zcluster.Endpoint(ob) as b:
        port = a.listen("127.0.0.1", 0)
        b.peer("127.0.0.1", port, retry=0)
        assert status(b, (MessageKind.PEER_ADDED, MessageKind.PEER_UNAVAILABLE)).kind == MessageKind.PEER_ADDED
        exchange(a, b, b"ab")
        exchange(b, a, b"ba")


@pytest.mark.parametrize(
    "server,client,why",
    [
        ("anon", "plain", "does not speak TLS"),
        ("plain", "anon", "this endpoint has TLS disabled"),
        ("auth", "anon", "peer did not return a certificate"),
        ("auth", "stranger", "certificate verify failed"),
    ],
)
def test_mismatched_modes_are_statuses_and_the_endpoint_keeps_serving(pki, server, client, why):
    opts = {
        "plain": {"Broker::disable_ssl": "T", "handshake_timeout": "2s"},
        "anon": {"handshake_timeout": "2s"},
        "auth": auth(pki, "n2"),
        "stranger": auth(pki, "n2", cert="stranger"),
    }
    with zcluster.Endpoint(opts[server]) as a, zcluster.Endpoint(opts[server]) as good, zcluster.Endpoint(
        opts[client]
    ) as bad:
        port = a.listen("127.0.0.1", 0)
        good.peer("127.0.0.1", port, retry=0)
        assert status(a, (MessageKind.PEER_ADDED, MessageKind.PEER_REJECTED)).kind == MessageKind.PEER_ADDED
        bad.peer("127.0.0.1", port, retry=0)
        m = status(a, (MessageKind.PEER_ADDED, MessageKind.PEER_REJECTED))
        assert m.kind == MessageKind.PEER_REJECTED and why in m.text, m.text
        m = status(bad, (MessageKind.PEER_ADDED, MessageKind.PEER_UNAVAILABLE))
        assert m.kind == MessageKind.PEER_UNAVAILABLE and "unable to connect" in m.text, m.text
        exchange(a, good, b"still")
        assert a.peer_count == 1


def test_configuration_errors_at_start(pki):
    with pytest.raises(zcluster.InvalidArgument, match="Broker::ssl_certificate is not set"):
        zcluster.Endpoint({"Broker::ssl_cafile": str(pki / "ca.pem")})
    o = auth(pki, "n1")
    del o["Broker::ssl_passphrase"]
    with pytest.raises(zcluster.InvalidArgument, match="set Broker::ssl_passphrase"):
        zcluster.Endpoint(o)
    with pytest.raises(zcluster.InvalidArgument, match="not a boolean"):
        zcluster.Endpoint({"Broker::disable_ssl": "perhaps"})
    with zcluster.Endpoint(dict(o, **{"Broker::disable_ssl": True})):
        pass


def test_a_cluster_in_authenticated_mode(pki, tmp_path):
    # TLS options in the layout (as a Zeek node's redefs) and on the cluster object.
    layout = zcluster.Layout.parse(
        "redef Broker::ssl_cafile = \"%s\";\n"
        "redef Cluster::nodes = {\n"
        '\t["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        "};\n" % (pki / "ca.pem", free_port(), free_port())
    )
    base = {"Cluster::retry_interval": 0.1, "Cluster::manager_is_logger": False}

    def node_opts(name):
        o = dict(base)
        o["Broker::ssl_certificate"] = str(pki / (name + ".pem"))
        o["Broker::ssl_keyfile"] = str(pki / (name + ".key"))
        if name == "n1":
            o["Broker::ssl_passphrase"] = PASS
        return o

    with zcluster.Cluster(layout, node="logger-1", options=node_opts("n1")) as lg, zcluster.Cluster(
        layout, node="manager", options=node_opts("n2")
    ) as mg:
        lg.start(tmp_path)
        mg.start()
        end = time.monotonic() + T
        while lg.nodes_up() != ["manager"] and time.monotonic() < end:
            lg.next(timeout=0.1)
        assert lg.nodes_up() == ["manager"]
    # Without the CA in the layout, the same nodes refuse each other.
    bad = zcluster.Layout.parse(
        "redef Cluster::nodes = {\n"
        '\t["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        '\t["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=%d/tcp],\n'
        "};\n" % (free_port(), free_port())
    )
    with zcluster.Cluster(bad, node="logger-1", options=node_opts("n1")) as lg, zcluster.Cluster(
        bad, node="manager", options=node_opts("n2")
    ) as mg:
        lg.start(tmp_path)
        mg.start()
        m = status(lg, (MessageKind.PEER_ADDED, MessageKind.PEER_REJECTED))
        # Without a trust store each side refuses the other's certificate: which failure the
        # listener reports (its own verification, or the client's alert) is a race.
        assert m.kind == MessageKind.PEER_REJECTED, m.text
        assert "certificate verify failed" in m.text or "unknown ca" in m.text, m.text
        assert lg.nodes_up() == []
