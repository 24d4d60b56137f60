#!/usr/bin/env python3
"""An independent Broker peer (native protocol v1), written from the protocol description
only (4-byte big-endian framing, hello/probe/version_select/drop_conn/originator_syn/
responder_syn_ack/originator_ack, 37-byte envelope header). Standard library only.

It handshakes with an endpoint, then exchanges one data envelope each way and a ping/pong,
checking bytes. Used by tests/endpoint_protocol.rs:

  broker_peer.py connect PORT ID  |  broker_peer.py listen ID   (prints "PORT <n>")

ID is "small" (we originate) or "large" (we respond). Prints "OK <step>" per step and
exits 0 on success; any mismatch raises (exit 1).
"""
import socket
import struct
import sys

MAGIC = 0x5A45454B
HELLO, PROBE, VERSION_SELECT, DROP_CONN, ORIG_SYN, RESP_SYN_ACK, ORIG_ACK = range(6, 13)
DATA, COMMAND, ROUTING_UPDATE, PING, PONG = range(1, 6)
NIL = bytes(16)
IDS = {
    "small": bytes.fromhex("00000000000040008000000000000000"),
    "large": bytes.fromhex("ffffffffffff4fffbfffffffffffffff"),
}
MY_FILTER = ["/to-py/"]


def varbyte(n):
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varbyte(buf, pos):
    n, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def enc_filter(topics):
    out = varbyte(len(topics))
    for t in topics:
        raw = t.encode()
        out += varbyte(len(raw)) + raw
    return out


def dec_filter(buf):
    n, pos = read_varbyte(buf, 0)
    topics = []
    for _ in range(n):
        ln, pos = read_varbyte(buf, pos)
        topics.append(buf[pos:pos + ln].decode())
        pos += ln
    assert pos == len(buf), "trailing bytes after filter"
    return topics


class Conn:
    def __init__(self, sock):
        self.s = sock
        self.s.settimeout(10)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        return buf

    def read_frame(self):
        (n,) = struct.unpack("!I", self.recv_exact(4))
        return self.recv_exact(n)

    def write_frame(self, payload):
        self.s.sendall(struct.pack("!I", len(payload)) + payload)

    def read_hs(self):
        f = self.read_frame()
        return f[0], f[1:]

    def expect_hs(self, tag):
        got, body = self.read_hs()
        assert got == tag, f"expected handshake tag {tag}, got {got}: {body!r}"
        return body

    def hello(self, my_id):
        self.write_frame(struct.pack("!BI16sBB", HELLO, MAGIC, my_id, 1, 1))

    def envelope(self, sender, receiver, kind, ttl, topic, payload):
        t = topic.encode()
        self.write_frame(sender + receiver + struct.pack("!BHH", kind, ttl, len(t)) + t + payload)

    def read_envelope(self):
        f = self.read_frame()
        assert len(f) >= 37, "short envelope"
        sender, receiver = f[:16], f[16:32]
        kind, ttl, tlen = struct.unpack("!BHH", f[32:37])
        topic = f[37:37 + tlen].decode()
        return sender, receiver, kind, ttl, topic, f[37 + tlen:]


def parse_hello(body):
    magic, sender, vmin, vmax = struct.unpack("!I16sBB", body)
    assert magic == MAGIC, "bad magic"
    assert vmin <= 1 <= vmax, "version range"
    return sender


def handshake(c, my_id, accepted):
    """Runs our side of the handshake; returns (peer_id, peer_filter)."""
    vs_body = None
    if accepted:
        # We accepted the connection: probe first, then wait for hello.
        c.write_frame(struct.pack("!BI", PROBE, MAGIC))
        peer = parse_hello(c.expect_hs(HELLO))
        originator = my_id < peer
        if not originator:
            c.hello(my_id)
    else:
        body = c.expect_hs(PROBE)
        assert struct.unpack("!I", body)[0] == MAGIC
        c.hello(my_id)
        tag, body = c.read_hs()
        if tag == HELLO:
            # The acceptor answers hello only when its id is larger: we originate.
            peer = parse_hello(body)
            originator = True
            assert my_id < peer
        else:
            assert tag == VERSION_SELECT, f"expected hello or version_select, got {tag}"
            peer, originator, vs_body = None, False, body
    print("OK hello", flush=True)
    if originator:
        c.write_frame(struct.pack("!BI16sB", VERSION_SELECT, MAGIC, my_id, 1))
        c.write_frame(bytes([ORIG_SYN]) + enc_filter(MY_FILTER))
        peer_filter = dec_filter(c.expect_hs(RESP_SYN_ACK))
        c.write_frame(bytes([ORIG_ACK]))
        print("OK originator", flush=True)
    else:
        body = vs_body if vs_body is not None else c.expect_hs(VERSION_SELECT)
        magic, sender, version = struct.unpack("!I16sB", body)
        assert magic == MAGIC and version == 1
        assert peer is None or sender == peer
        peer = sender
        assert peer < my_id
        peer_filter = dec_filter(c.expect_hs(ORIG_SYN))
        c.write_frame(bytes([RESP_SYN_ACK]) + enc_filter(MY_FILTER))
        assert c.expect_hs(ORIG_ACK) == b""
        print("OK responder", flush=True)
    return peer, peer_filter


def exchange(c, my_id, peer, peer_filter):
    assert peer_filter == ["/from-py/"], f"peer filter {peer_filter}"
    # Data to the endpoint: Broker's own example payload (string "hello world").
    c.envelope(my_id, NIL, DATA, 16, "/from-py/x", b"\x05\x0bhello world")
    print("OK sent data", flush=True)
    # Data from the endpoint, byte-checked; skip routing updates.
    while True:
        sender, receiver, kind, ttl, topic, payload = c.read_envelope()
        if kind == ROUTING_UPDATE:
            assert receiver == my_id and topic == "<$>"
            continue
        break
    assert (sender, receiver, kind, ttl, topic) == (peer, NIL, DATA, 16, "/to-py/y"), (sender, receiver, kind, ttl, topic)
    assert payload == b"\x05\x02hi", payload
    print("OK received data", flush=True)
    c.envelope(my_id, peer, PING, 1, "<$>", b"foo")
    sender, receiver, kind, ttl, topic, payload = c.read_envelope()
    assert (sender, receiver, kind, topic, payload) == (peer, my_id, PONG, "<$>", b"foo")
    print("OK pong", flush=True)


def main():
    mode = sys.argv[1]
    if mode == "connect":
        port, my_id = int(sys.argv[2]), IDS[sys.argv[3]]
        c = Conn(socket.create_connection(("127.0.0.1", port)))
        accepted = False
    else:
        my_id = IDS[sys.argv[2]]
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(10)
        print(f"PORT {srv.getsockname()[1]}", flush=True)
        sock, _ = srv.accept()
        c = Conn(sock)
        accepted = True
    peer, peer_filter = handshake(c, my_id, accepted)
    exchange(c, my_id, peer, peer_filter)
    print("OK done", flush=True)


if __name__ == "__main__":
    main()
