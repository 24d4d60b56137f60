"""An independent Zeek ZeroMQ peer written with pyzmq from the reference (zeek8.md
section 3): it speaks Zeek's framing without zcluster's code. Broker's binary encoding of
the values it needs is written out here by hand (vector 0x0e with a varbyte count,
string 0x05 with a varbyte length, count 0x02 / timestamp 0x09 as 8 big-endian bytes)."""

import struct
import time

import zmq

BROKER_BIN_V1 = b"broker-bin-v1"

# Zeek's serializer unit test: Supervisor::node_status("TEST", 42) with network timestamp
# metadata 0.0 (reference 3.3, 86 bytes).
GOLDEN_NODE_STATUS = (
    b"\x0e\x03" + b"\x02" + struct.pack(">Q", 1) + b"\x02" + struct.pack(">Q", 1)
    + b"\x0e\x03" + b"\x05\x17Supervisor::node_status"
    + b"\x0e\x02" + b"\x05\x04TEST" + b"\x02" + struct.pack(">Q", 42)
    + b"\x0e\x01" + b"\x0e\x02" + b"\x02" + struct.pack(">Q", 1) + b"\x09" + struct.pack(">q", 0)
)
assert len(GOLDEN_NODE_STATUS) == 86


def varbyte(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc(v):
    if isinstance(v, bytes):
        return b"\x05" + varbyte(len(v)) + v
    if isinstance(v, str):
        return enc(v.encode())
    if isinstance(v, bool):
        return b"\x01" + (b"\x01" if v else b"\x00")
    if isinstance(v, int):
        return b"\x02" + struct.pack(">Q", v)
    if isinstance(v, list):
        return b"\x0e" + varbyte(len(v)) + b"".join(enc(x) for x in v)
    raise TypeError(v)


def event_bytes(name, args):
    """A Zeek event without metadata: [count 1, count 1, [name, [args...]]]."""
    return b"\x0e\x03" + enc(1) + enc(1) + b"\x0e\x02" + enc(name) + enc(list(args))


# Zeek's binary serialization (reference 4.3), for zeek-bin-serializer log-write payloads:
# big-endian primitives, strings as u32 length + bytes.
TYPE_BOOL, TYPE_INT, TYPE_COUNT, TYPE_DOUBLE, TYPE_TIME, TYPE_STRING = 1, 2, 3, 4, 5, 7


def zstr(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def zfield(name, ty, subtype=0, optional=False):
    """threading::Field::Write: have_2nd (F), name, type, subtype, optional."""
    return b"\x00" + zstr(name) + struct.pack(">ii", ty, subtype) + (b"\x01" if optional else b"\x00")


def zvalue(ty, v, subtype=0):
    """threading::Value::Write: type, subtype, present, then the payload."""
    head = struct.pack(">ii", ty, subtype)
    if v is None:
        return head + b"\x00"
    if ty in (TYPE_BOOL, TYPE_INT):
        body = struct.pack(">q", int(v))
    elif ty == TYPE_COUNT:
        body = struct.pack(">Q", v)
    elif ty in (TYPE_DOUBLE, TYPE_TIME):
        body = struct.pack(">d", v)
    elif ty == TYPE_STRING:
        body = zstr(v)
    else:
        raise TypeError(ty)
    return head + b"\x01" + body


def log_batch(stream, writer, filter_name, path, fields, records, value_subtype=0):
    """A zeek-bin-serializer log-write payload: stream, writer, filter, path, fields,
    then the records' values (fields are (name, type, subtype, optional))."""
    out = zstr(stream) + zstr(writer) + zstr(filter_name) + zstr(path)
    out += struct.pack(">I", len(fields)) + b"".join(zfield(*f) for f in fields)
    out += struct.pack(">I", len(records))
    for r in records:
        out += b"".join(zvalue(f[1], v, value_subtype) for f, v in zip(fields, r))
    return out


# Zeek's unit test (binary-serialization-format/Serializer.cc, reference 4.3; 116 bytes):
# stream Log::UNKNOWN, writer Log::WRITER_NONE, filter default, path my-path, one field
# ts of type TIME with subtype 22, two records 1.0 and 2.0 (values with subtype 22 too).
GOLDEN_LOG_BATCH = bytes.fromhex(
    "0000000c" + b"Log::UNKNOWN".hex() + "00000010" + b"Log::WRITER_NONE".hex()
    + "00000007" + b"default".hex() + "00000007" + b"my-path".hex() + "00000001"
    + "00" + "00000002" + b"ts".hex() + "00000005" + "00000016" + "00"
    + "00000002"
    + "00000005" + "00000016" + "01" + "3ff0000000000000"
    + "00000005" + "00000016" + "01" + "4000000000000000"
)
assert len(GOLDEN_LOG_BATCH) == 116
assert GOLDEN_LOG_BATCH == log_batch(
    "Log::UNKNOWN", "Log::WRITER_NONE", "default", "my-path", [("ts", TYPE_TIME, 22, False)],
    [[1.0], [2.0]], value_subtype=22)


class ZeekPeer:
    """A fake Zeek node: XSUB connected to the proxy's XPUB, XPUB (verbose) to its XSUB."""

    def __init__(self, xpub_endpoint, xsub_endpoint, name):
        self.name = name
        self.node_id = ("zeromq_%s_pyzmqhost_%d_NpyPeer1" % (name, 4242)).encode()
        self.ctx = zmq.Context()
        self.xsub = self.ctx.socket(zmq.XSUB)
        self.xsub.setsockopt(zmq.LINGER, 0)
        self.xsub.connect(xpub_endpoint)
        self.xpub = self.ctx.socket(zmq.XPUB)
        self.xpub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.xpub.setsockopt(zmq.LINGER, 0)
        self.xpub.connect(xsub_endpoint)
        self.subs_seen = []

    def nodeid_topic(self, node_id=None):
        return b"zeek.cluster.nodeid." + (node_id or self.node_id) + b"."

    def subscribe(self, topic):
        self.xsub.send(b"\x01" + topic)

    def unsubscribe(self, topic):
        self.xsub.send(b"\x00" + topic)

    def publish(self, *frames):
        self.xpub.send_multipart(list(frames))

    def event(self, topic, payload, fmt=BROKER_BIN_V1):
        self.publish(topic, self.node_id, fmt, payload)

    def read_subs(self, until, timeout=20.0):
        """Reads XPUB subscription frames until `until(subs_seen)` or the timeout."""
        end = time.monotonic() + timeout
        while not until(self.subs_seen) and time.monotonic() < end:
            if self.xpub.poll(100):
                self.subs_seen.append(self.xpub.recv_multipart())
        return until(self.subs_seen)

    def recv(self, want, timeout=20.0):
        """Returns the first XSUB message (a list of frames) for which `want` is true."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.xsub.poll(100):
                m = self.xsub.recv_multipart()
                if want(m):
                    return m
        return None

    def close(self):
        self.xsub.close(0)
        self.xpub.close(0)
        self.ctx.term()
