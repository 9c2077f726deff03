"""Issue 9's table: every shipped spec at CPUS=2..4, the exhaustive search with and without CPU symmetry.

    python bench/scale_bench.py [--cpus 2,3,4] [--max-states N] [--timeout S] [SPEC...]

Run by hand (not a timed test).  Each search runs in its own process, so that its peak resident
memory growth is its own.  Bytes per state are what the search keeps per state (its dict and the
packed keys, as allocated), beside what the same states cost as tuples, the search's form before
issue 9.  For each
spec and CPU count it prints the plain search (states, CPU seconds, verdicts) and the search with
the symmetry `irqc prove --symmetry auto` uses (the CPU ids it permutes, states, seconds), the
ratios, and whether the two agree on every verdict and counterexample depth.  A row cut by
`--max-states` or `--timeout` says so; the table then compares what each search covered.
"""
from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler import ir, symmetry  # noqa: E402
from compiler.backends.python import generate, load_simulator  # noqa: E402
from compiler.pipeline import load_model  # noqa: E402
from dsl.diagnostics import Diagnostics  # noqa: E402


def _rss_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB


def _row(spec: str, cpus: int, reduce: bool, max_states: int, timeout: float, out: Any) -> None:
    """One search in this (child) process; puts its figures on `out`."""
    m = load_model(spec, {"CPUS": cpus}, Diagnostics())
    if m is None:
        out.put({"error": "does not load at these parameters"})
        return
    params = {**ir.default_params(m), "CPUS": cpus}
    sim = load_simulator(generate(m, m.path), m.name).Simulator(params)
    before = _rss_peak()
    c0 = time.process_time()
    res = sim.explore(max_states, timeout, symmetry=reduce)
    seconds = time.process_time() - c0
    grown = max(0, _rss_peak() - before)
    packed, tuples = _kept_bytes(res.reached)
    out.put({"states": res.states, "seconds": seconds, "complete": res.complete, "depth": res.depth,
             "bound": res.bound, "violations": {p: d for p, (d, _) in res.violations.items()},
             "group": tuple(res.symmetry) if reduce else (), "bytes": packed, "tuple_bytes": tuples,
             "rss_mb": grown / 2**20, "why": symmetry.group(symmetry.analyse(m), m, params).describe()})


def _kept_bytes(reached: Any) -> tuple[float, float]:
    """Bytes per state the search keeps (its dict and packed keys, as allocated), and what the
    same states cost as the tuples the search kept before (a dict of tuples), from a sample."""
    keys = reached.keys
    n = max(1, len(keys))
    sample = list(itertools.islice(keys, 50_000))
    per_key = sum(_alloc(sys.getsizeof(k)) for k in sample) / max(1, len(sample))
    per_tuple = sum(_alloc(sys.getsizeof(reached.unpack(k))) for k in sample) / max(1, len(sample))
    table = sys.getsizeof(keys) / n  # a dict of tuples of the same size has the same table
    return table + per_key, table + per_tuple


def _alloc(size: int) -> int:
    return (size + 15) // 16 * 16  # pymalloc's size classes on 64-bit


def measure(spec: str, cpus: int, reduce: bool, max_states: int, timeout: float) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_row, args=(spec, cpus, reduce, max_states, timeout, q))
    p.start()
    p.join(timeout + 120)  # generous: loading, generating, rebuilding traces
    if p.is_alive():
        p.kill()
        p.join()
        return {"error": "no answer"}
    return q.get() if not q.empty() else {"error": f"exit {p.exitcode}"}


def _verdict(r: dict[str, Any]) -> str:
    if "error" in r:
        return r["error"]
    bad = len(r["violations"])
    if r["complete"]:
        return f"complete, {bad} violated"
    return f"cut at depth {r['bound']}, {bad} violated"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="*", help="default: every spec in specs/")
    ap.add_argument("--cpus", default="2,3,4", help="CPU counts, comma separated (default 2,3,4)")
    ap.add_argument("--max-states", type=int, default=2_000_000)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per search (default 120)")
    args = ap.parse_args(argv)
    specs = args.specs or [str(p) for p in sorted((ROOT / "specs").glob("*.irqspec"))]
    print("| spec | CPUS | plain states | plain s | verdicts | permuted CPUs | sym states | sym s | "
          "states plain/sym | time plain/sym | B/state as tuples | B/state packed | peak RSS MB plain/sym | same verdicts |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for spec in specs:
        for cpus in (int(c) for c in args.cpus.split(",")):
            plain = measure(spec, cpus, False, args.max_states, args.timeout)
            red = measure(spec, cpus, True, args.max_states, args.timeout) if "error" not in plain else plain
            print(_line(Path(spec).stem, cpus, plain, red), flush=True)
    return 0


def _line(name: str, cpus: int, plain: dict[str, Any], red: dict[str, Any]) -> str:
    if "error" in plain or "error" in red:
        return f"| {name} | {cpus} | {_verdict(plain)} | | | | {_verdict(red)} | | | | | | | |"
    group = ", ".join(map(str, red["group"])) or "none"
    same = "yes" if (plain["complete"], plain["violations"]) == (red["complete"], red["violations"]) else \
        ("n/a (cut)" if not (plain["complete"] and red["complete"]) else "**NO**")
    return (f"| {name} | {cpus} | {plain['states']:,} | {plain['seconds']:.1f} | {_verdict(plain)} | {group} | "
            f"{red['states']:,} | {red['seconds']:.1f} | {plain['states'] / max(1, red['states']):.2f} | "
            f"{plain['seconds'] / max(1e-9, red['seconds']):.2f} | {plain['tuple_bytes']:.0f} | {plain['bytes']:.0f} | "
            f"{plain['rss_mb']:.0f}/{red['rss_mb']:.0f} | {same} |")


if __name__ == "__main__":
    sys.exit(main())
