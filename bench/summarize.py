#!/usr/bin/env python3
"""Turns the RESULT lines of scripts/bench.sh's runs into a markdown table.

Input: a file of lines "RESULT <impl> <kind> key=value ...", several runs of the same
benchmark in any order. Runs are grouped by implementation, kind and the parameters that
identify a variant (every key that is not a measured figure). For each group the table shows
the number of runs, the best figure (highest rate, lowest latency) and the spread over the
runs (min..max), plus how many messages arrived of how many were sent in the worst run.

Store rows ("store" benchmarks, `backend=... from=...`) of every implementation are listed
together, each Broker row next to zcluster's, and a second table sets the best figures of
the two side by side.
"""
import sys
from collections import OrderedDict

# Measured figures: "higher is better" or "lower is better".
HIGHER = {"rate"}
# CPU time per event of each process (zcluster's tput and fanout lines), in ns.
LOWER = {"p50_us", "p99_us", "pub_cpu_ns", "recv_cpu_ns"}
# Keys that are measurements or bookkeeping, not part of a variant's identity.
NOT_IDENTITY = HIGHER | LOWER | {
    "recv", "in_order", "secs", "max_us", "mean_us", "ok", "lost", "samples",
    "receiver_maxrss_kib", "sent", "rounds", "puts", "total_rate", "commits",
}


def parse(path):
    groups = OrderedDict()
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[0] != "RESULT":
                continue
            impl, kind = parts[1], parts[2]
            kv = {}
            for p in parts[3:]:
                if "=" in p:
                    k, v = p.split("=", 1)
                    kv[k] = v
            ident = " ".join(f"{k}={v}" for k, v in kv.items() if k not in NOT_IDENTITY)
            groups.setdefault((impl, kind, ident), []).append(kv)
    return groups


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt(x, key):
    if x is None:
        return "-"
    if key == "rate":
        return f"{x:,.0f}/s"
    if key.endswith("_ns"):
        return f"{x:,.0f} ns/event"
    return f"{x:,.0f} µs" if x >= 100 else f"{x:,.1f} µs"


def best_of(runs, key):
    vals = [num(r.get(key)) for r in runs]
    vals = [v for v in vals if v is not None and v > 0]
    if not vals:
        return None
    return max(vals) if key in HIGHER else min(vals)


# The order of the store measurements, as broker_bench prints them.
STORE_FROM = ["master_no_clone", "clone", "master_with_clone", "master_seen_by_clone", "visibility"]


def store_order(group):
    (impl, kind, ident), _ = group
    kv = dict(p.split("=", 1) for p in ident.split() if "=" in p)
    f = kv.get("from", "")
    return (kv.get("backend", ""), STORE_FROM.index(f) if f in STORE_FROM else len(STORE_FROM), f,
            impl != "broker", impl)


def ordered(groups):
    """Groups in file order, except that every store group sits in one block (where the
    first one was), sorted so that each implementation's row follows Broker's."""
    items = list(groups.items())
    stores = sorted((g for g in items if g[0][1] == "store"), key=store_order)
    out, placed = [], False
    for g in items:
        if g[0][1] != "store":
            out.append(g)
        elif not placed:
            out.extend(stores)
            placed = True
    return out


def store_comparison(groups):
    rows = {}
    for (impl, kind, ident), runs in groups.items():
        if kind != "store":
            continue
        rows.setdefault(ident, {})[impl] = runs
    if not any("broker" in by and len(by) > 1 for by in rows.values()):
        return
    print()
    print("| store | figure | Broker | zcluster | zcluster vs Broker |")
    print("|---|---|---|---|---|")
    for ident in sorted(rows, key=lambda i: store_order((("", "store", i), None))):
        by = rows[ident]
        if "broker" not in by or "zcluster" not in by:
            continue
        for key in ("rate", "p50_us", "p99_us"):
            if not any(key in r for r in by["broker"] + by["zcluster"]):
                continue
            b, z = best_of(by["broker"], key), best_of(by["zcluster"], key)
            if b and z:
                factor = z / b if key in HIGHER else b / z
                verdict = f"{factor:.1f}x " + ("better" if factor >= 1 else "worse")
            else:
                verdict = "-"
            print(f"| {ident} | {key} | {fmt(b, key)} | {fmt(z, key)} | {verdict} |")


def tls_cost(groups):
    """What TLS costs each implementation's one-way rate: best (and median) rate with
    tls=1 against the same variant with tls=0, from the same results file."""
    by = {}
    for (impl, kind, ident), runs in groups.items():
        kv = dict(p.split("=", 1) for p in ident.split() if "=" in p)
        if kind != "tput" or kv.get("tls") not in ("0", "1"):
            continue
        base = " ".join(f"{k}={v}" for k, v in kv.items() if k != "tls")
        by.setdefault((impl, base), {})[kv["tls"]] = runs
    rows = [(k, v) for k, v in by.items() if "0" in v and "1" in v]
    if not rows:
        return

    def median(runs):
        vals = sorted(v for v in (num(r.get("rate")) for r in runs) if v)
        return vals[len(vals) // 2] if vals else None

    print()
    print("| impl | variant | plain TCP (best) | TLS (best) | TLS costs (best vs best) | TLS costs (median vs median) |")
    print("|---|---|---|---|---|---|")
    for (impl, base), v in rows:
        p, t = best_of(v["0"], "rate"), best_of(v["1"], "rate")
        pm, tm = median(v["0"]), median(v["1"])
        cost = f"{(1 - t / p) * 100:.0f} %" if p and t else "-"
        cost_m = f"{(1 - tm / pm) * 100:.0f} %" if pm and tm else "-"
        print(f"| {impl} | {base or '-'} | {fmt(p, 'rate')} | {fmt(t, 'rate')} | {cost} | {cost_m} |")


def main():
    if len(sys.argv) != 2:
        print("usage: summarize.py RESULTS_FILE", file=sys.stderr)
        return 2
    groups = parse(sys.argv[1])
    print("| impl | benchmark | variant | runs | figure | best | spread (min..max) | delivered (worst run) |")
    print("|---|---|---|---|---|---|---|---|")
    for (impl, kind, ident), runs in ordered(groups):
        keys = [k for k in ("rate", "p50_us", "p99_us", "pub_cpu_ns", "recv_cpu_ns")
                if any(k in r for r in runs)]
        delivered = "-"
        if any("recv" in r and "sent" in r for r in runs):
            worst = min(runs, key=lambda r: num(r.get("recv")) or 0)
            delivered = f"{int(num(worst['recv']) or 0):,} of {int(num(worst['sent']) or 0):,}"
        elif any("ok" in r and "rounds" in r for r in runs):
            worst = min(runs, key=lambda r: num(r.get("ok")) or 0)
            delivered = f"{int(num(worst['ok']) or 0):,} of {int(num(worst['rounds']) or 0):,} round trips"
        elif any("samples" in r for r in runs):
            worst = min(runs, key=lambda r: num(r.get("samples")) or 0)
            delivered = f"{worst['samples']} samples"
        elif any("puts" in r for r in runs):
            delivered = f"{runs[0]['puts']} puts"
        for key in keys:
            vals = [num(r.get(key)) for r in runs]
            vals = [v for v in vals if v is not None and v > 0]
            if not vals:
                best, spread = None, "no valid run"
            else:
                best = max(vals) if key in HIGHER else min(vals)
                spread = f"{fmt(min(vals), key)} .. {fmt(max(vals), key)}"
            print(f"| {impl} | {kind} | {ident or '-'} | {len(runs)} | {key} | "
                  f"{fmt(best, key)} | {spread} | {delivered} |")
    store_comparison(groups)
    tls_cost(groups)
    return 0


if __name__ == "__main__":
    sys.exit(main())
