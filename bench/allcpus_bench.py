"""Time to each all-CPU answer (`irqc prove --all-cpus`) beside the time of the instances CPUS=2..4.

    python bench/allcpus_bench.py [SPEC...] [--timeout S] [--max-cpus N]

For every spec (default: the shipped ones) and property, one row: the all-CPU answer, the
seconds of that property's invariant search and re-check ("proof s"; the first property of a
spec also pays for sampling the instances' reachable states), the seconds of the whole
`prove_all_cpus` call ("run s": the instances CPUS=1..3 first, then every property), then the
exhaustive engine's seconds at CPUS=2, 3, 4 (4 is skipped with --max-cpus 3: S3 at 4 CPUs is
1.6M states) and the ratio of the proof to the largest instance.  One run each: a bench, not a
test; the figures depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.backends.allcpus import SETTLED, AllCpuVerdict, prove_all_cpus  # noqa: E402
from compiler.engine import check  # noqa: E402
from compiler.pipeline import load_model  # noqa: E402
from dsl.diagnostics import Diagnostics, render_all  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("specs", nargs="*", default=sorted(str(p) for p in (ROOT / "specs").glob("*.irqspec")))
    ap.add_argument("--timeout", type=float, default=300.0, help="budget of each all-CPU run and each instance")
    ap.add_argument("--max-cpus", type=int, default=4, help="the largest instance timed (default 4)")
    args = ap.parse_args()
    top = args.max_cpus
    print(f"{'spec':<24} {'property':<20} {'all CPUs':<44} {'proof s':>8} {'run s':>7}  " +
          "  ".join(f"{'CPUS=' + str(n) + ' s':>10}" for n in range(2, top + 1)) + f"  {'proof/CPUS=' + str(top):>14}")
    for spec in args.specs:
        diags = Diagnostics()
        model = load_model(spec, {}, diags)
        if model is None:
            print(render_all(diags), file=sys.stderr)
            continue
        params = {p.name: p.default for p in model.params if p.name != "CPUS"}
        start = time.perf_counter()
        verdicts = prove_all_cpus(model, params, timeout=args.timeout)
        total = time.perf_counter() - start
        secs: dict[int, float] = {}
        for n in range(2, top + 1):
            t0 = time.perf_counter()
            results = check(model, {**params, "CPUS": n}, timeout=args.timeout)
            secs[n] = time.perf_counter() - t0
            unsettled = [r.property for r in results if r.verdict not in SETTLED]
            if unsettled:
                print(f"  (CPUS={n}: unsettled within {args.timeout:.0f} s: {', '.join(unsettled)})", file=sys.stderr)
        for v in verdicts:
            cells = "  ".join(f"{secs[n]:10.1f}" for n in sorted(secs))
            proof = f"{v.search_seconds:8.1f}" if v.verdict != "violated" else f"{'-':>8}"
            ratio = f"{v.search_seconds / secs[top]:14.2f}" if v.verdict == "proved" and secs.get(top) else f"{'-':>14}"
            print(f"{model.name[:24]:<24} {v.property[:20]:<20} {_short(v):<44} {proof} {total:7.1f}  {cells}  {ratio}")
        sys.stdout.flush()
    return 0


def _short(v: AllCpuVerdict) -> str:
    if v.verdict == "proved":
        return f"proved, CPUS >= {v.n0}, {len(v.invariant)} clauses"
    if v.verdict == "violated":
        return f"violated at CPUS={v.cpus}, depth {v.result.depth if v.result else '?'}"
    return f"no proof (CPUS=1..{v.settled} settled)"


if __name__ == "__main__":
    raise SystemExit(main())
