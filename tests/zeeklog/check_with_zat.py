#!/usr/bin/env python3
"""Check that third-party Zeek log readers parse a cluster.log that zcluster wrote.

Usage:
    check_with_zat.py LOG [EXPECTED_JSONL]

LOG is a cluster.log (Zeek ASCII or JSON format). Each reader that is importable reads it:

- zat (PyPI `zat`): `zat.zeek_log_reader.ZeekLogReader(LOG).readrows()`, ASCII logs only.
  zat does not undo Zeek's escaping, so this script does (`\\xHH`, `\\\\`, the `-` and
  `(empty)` markers) before comparing.
- parsezeeklogs (PyPI `parsezeeklogs`): `parsezeeklogs.read_zeek(LOG)`, ASCII and JSON.

Checks per reader: the columns are exactly ts, node, message (ASCII types time, string,
string), every record has all three, ts parses as a time, node is non-empty. With
EXPECTED_JSONL (one object per record: {"ts": seconds, "node": str, "message_hex": hex of
the message bytes}), every record must match it in order (ts within 1 microsecond;
messages compared as bytes for zat, and as UTF-8 with replacement characters for
parsezeeklogs, which decodes that way).

Prints a JSON report on stdout: {"format": ..., "readers": {name: {"rows": [...], ...}}}
with each reader's records as {"ts": float, "node": str, "message": str}.
Exit status: 0 all available readers passed, 1 a check failed, 77 no reader importable.
"""
import contextlib
import json
import re
import sys

ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|\\)")


def zeek_unescape(cell: str) -> bytes:
    raw = cell.encode("utf-8", errors="surrogateescape")
    return ESCAPE.sub(lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1)[1:], 16)]), raw)


def sniff_format(path: str) -> str:
    with open(path, "rb") as fh:
        first = fh.readline()
    return "json" if first.lstrip().startswith(b"{") else "ascii"


def ascii_header(path: str) -> dict:
    head = {}
    with open(path, "rb") as fh:
        for line in fh:
            if not line.startswith(b"#"):
                break
            text = line.rstrip(b"\n").decode("utf-8", errors="replace")
            if text.startswith("#separator "):
                head["separator"] = text.split(" ", 1)[1]
            else:
                key, _, rest = text[1:].partition("\t")
                head[key] = rest.split("\t") if key in ("fields", "types") else rest
    return head


def read_with_zat(path: str, fmt: str):
    if fmt != "ascii":
        return None, "zat reads ASCII logs only here"
    try:
        from zat.zeek_log_reader import ZeekLogReader
    except ImportError as exc:  # pragma: no cover - depends on the environment
        return None, f"zat not importable: {exc}"
    # zat prints progress ("Successfully monitoring ...") on stdout; keep stdout for the report.
    with contextlib.redirect_stdout(sys.stderr):
        recs = list(ZeekLogReader(path, strict=True).readrows())
    rows = []
    for rec in recs:
        if set(rec) != {"ts", "node", "message"}:
            raise AssertionError(f"zat: columns {sorted(rec)}")
        ts = rec["ts"].timestamp()
        node = rec["node"]
        msg = rec["message"]
        # zat keeps cells as text; undo Zeek's markers and escapes ourselves.
        if msg == "(empty)":
            raw = b""
        elif msg == "-":
            raw = None
        else:
            raw = zeek_unescape(msg)
        rows.append({"ts": ts, "node": node, "message_bytes": raw})
    return rows, None


def read_with_parsezeeklogs(path: str, fmt: str):
    try:
        from parsezeeklogs import read_zeek
    except ImportError as exc:  # pragma: no cover - depends on the environment
        return None, f"parsezeeklogs not importable: {exc}"
    rows = []
    for rec in read_zeek(path):
        if set(rec) - {"ts", "node", "message"} or "ts" not in rec or "node" not in rec:
            raise AssertionError(f"parsezeeklogs: columns {sorted(rec)}")
        msg = rec.get("message")
        rows.append({"ts": float(rec["ts"]), "node": rec["node"], "message_text": msg})
    return rows, None


def main(argv) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    expected = None
    if len(argv) == 3:
        with open(argv[2], encoding="utf-8") as fh:
            expected = [json.loads(line) for line in fh if line.strip()]
    fmt = sniff_format(path)
    report = {"format": fmt, "readers": {}}
    failures = []

    if fmt == "ascii":
        head = ascii_header(path)
        if head.get("fields") != ["ts", "node", "message"] or head.get("types") != ["time", "string", "string"]:
            failures.append(f"header fields/types: {head.get('fields')} {head.get('types')}")
        if head.get("separator") != "\\x09" or head.get("path") != "cluster":
            failures.append(f"header separator/path: {head.get('separator')!r} {head.get('path')!r}")
        report["header"] = head

    available = 0
    for name, fn in (("zat", read_with_zat), ("parsezeeklogs", read_with_parsezeeklogs)):
        try:
            rows, why = fn(path, fmt)
        except Exception as exc:  # a reader choking on our file is the failure we look for
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            report["readers"][name] = {"error": str(exc)}
            continue
        if rows is None:
            report["readers"][name] = {"skipped": why}
            continue
        available += 1
        out = []
        for i, r in enumerate(rows):
            if "message_bytes" in r:
                b = r["message_bytes"]
                text = None if b is None else b.decode("utf-8", errors="replace")
            else:
                b, text = None, r["message_text"]
            if not r["node"]:
                failures.append(f"{name}: record {i}: empty node")
            out.append({"ts": r["ts"], "node": r["node"], "message": text})
            if expected is None:
                continue
            if i >= len(expected):
                failures.append(f"{name}: more records than expected ({len(rows)} > {len(expected)})")
                break
            want = expected[i]
            want_bytes = bytes.fromhex(want["message_hex"])
            if abs(r["ts"] - want["ts"]) > 1e-6:
                failures.append(f"{name}: record {i}: ts {r['ts']!r} != {want['ts']!r}")
            if r["node"] != want["node"]:
                failures.append(f"{name}: record {i}: node {r['node']!r} != {want['node']!r}")
            if "message_bytes" in r:
                if b != want_bytes:
                    failures.append(f"{name}: record {i}: message {b!r} != {want_bytes!r}")
            else:
                want_text = want_bytes.decode("utf-8", errors="replace")
                if fmt == "json" and (
                    "\ufffd" in want_text or any(ord(c) < 0x20 and c not in "\b\f\n\r\t" or ord(c) == 0x7F for c in want_text)
                ):
                    # Zeek's JSON writer renders such bytes as the text \xHH: not compared.
                    want_text = None
                if want_text is not None and text != want_text:
                    failures.append(f"{name}: record {i}: message {text!r} != {want_text!r}")
        if expected is not None and len(rows) < len(expected):
            failures.append(f"{name}: {len(rows)} records, expected {len(expected)}")
        report["readers"][name] = {"rows": out}

    report["failures"] = failures
    print(json.dumps(report, indent=1, default=str))
    if failures:
        return 1
    if available == 0:
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
