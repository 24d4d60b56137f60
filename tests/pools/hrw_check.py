#!/usr/bin/env python3
"""Independent HRW checker for zcluster's pool tests, written from the algorithm's
description (Zeek's src/zeek.bif fnv1a32/hrw_weight, scripts/base/utils/hash_hrw.zeek,
scripts/base/frameworks/cluster/pools.zeek init_pool_node).

stdin: JSON {"nodes": [names in pool order], "up": [names that are HRW sites],
             "keys": [{"s": "text"} | {"c": count}]}
stdout: JSON list, per key the picked node name or null.
"""
import json
import struct
import sys


def fnv1a32(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h ^= b
        h = (h * 16777619) % 2**32
    return h


def hrw_weight(digest: int, site: int) -> int:
    a, b = 1103515245, 12345
    d = digest & 0x7FFFFFFF
    t = (a * site + b) % 2**32
    return ((a * (t ^ d) + b) % 2**32) % 2**31


def key_bytes(k) -> bytes:
    if "s" in k:
        return k["s"].encode("utf-8")
    # Zeek's Val::Describe(DESC_BINARY) of a count: type tag 3 as a 4-byte int, then
    # the value as 8 bytes, little-endian host order.
    return struct.pack("<iQ", 3, k["c"])


def main() -> None:
    req = json.load(sys.stdin)
    site_of = {}
    used = set()
    for name in req["nodes"]:
        c = 0
        while True:
            sid = fnv1a32(f"{name}.{c}".encode())
            if sid in used:
                c += 1
                continue
            used.add(sid)
            site_of[name] = sid
            break
    sites = [(site_of[n], n) for n in req["up"]]
    out = []
    for k in req["keys"]:
        d = fnv1a32(key_bytes(k))
        best = None
        for sid, name in sites:
            w = hrw_weight(d, sid)
            if best is None or (w, sid) > (best[0], best[1]):
                best = (w, sid, name)
        out.append(best[2] if best else None)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
