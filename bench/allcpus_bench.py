"""Time to each all-CPU answer (`irqc prove --all-cpus`) beside the time of the instances CPUS=2..4.

    python bench/allcpus_bench.py [SPEC...] [--timeout S] [--max-cpus N]

For every spec (default: the shipped ones) and property, one row: the all-CPU answer and its
seconds (the whole `prove_all_cpus` call, which includes the instances CPUS=1..3 it runs
first), then the exhaustive engine's verdict and seconds at CPUS=2, 3, 4 (4 is skipped with
--max-cpus 3: S3 at 4 CPUs is 1.6M states).  A bench, not a test: the figures depend on the
machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.backends.allcpus import prove_all_cpus  # noqa: E402
from compiler.cli.allcpus import summary  # noqa: E402
from compiler.engine import check  # noqa: E402
from compiler.pipeline import load_model  # noqa: E402
from dsl.diagnostics import Diagnostics, render_all  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("specs", nargs="*", default=sorted(str(p) for p in (ROOT / "specs").glob("*.irqspec")))
    ap.add_argument("--timeout", type=float, default=300.0, help="budget of each all-CPU run and each instance")
    ap.add_argument("--max-cpus", type=int, default=4, help="the largest instance timed (default 4)")
    args = ap.parse_args()
    print(f"{'spec':<28} {'property':<22} {'all CPUs':<58} {'s':>7}  " +
          "  ".join(f"{'CPUS=' + str(n):>22}" for n in range(2, args.max_cpus + 1)))
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
        instances = {}
        for n in range(2, args.max_cpus + 1):
            t0 = time.perf_counter()
            results = check(model, {**params, "CPUS": n}, timeout=args.timeout)
            secs = time.perf_counter() - t0
            instances[n] = ({r.property: r.verdict for r in results}, secs)
        for v in verdicts:
            cells = "  ".join(f"{instances[n][0].get(v.property, '?'):>12} {instances[n][1]:7.1f} s"
                              for n in sorted(instances))
            print(f"{model.name:<28} {v.property:<22} {summary(v)[:58]:<58} {total:7.1f}  {cells}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
