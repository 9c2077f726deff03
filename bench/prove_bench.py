"""Benchmark `irqc prove` (run by hand; not a test).

    python bench/prove_bench.py                       # every shipped spec, both engines, one process each
    python bench/prove_bench.py --engines auto        # the default engine only
    python bench/prove_bench.py --bmc-timeout 60      # --engine bmc gets `--timeout 60` (default 20)
    python bench/prove_bench.py --curve gicv3_its_fasteoi --to 60  # the depth-versus-time curve of Z3's bounded run
    python bench/prove_bench.py --budget 30           # kill a run after 30 s wall (reported as such)

Part 1 runs `irqc prove SPEC --json [--engine E]` in a fresh process per spec
and engine, so the wall time includes interpreter start-up, parsing and
lowering, and prints spec, engine, property, verdict, depth, method and the
engine's seconds per property.  The default engine (`auto`: exhaustive search,
Z3 for the traces) is run as is.  `--engine bmc` (Z3 alone: BMC to the depth,
then k-induction) does not finish at depth 40 on the IMSIC deferred-move specs,
so it is given irqc's own `--timeout` (per property; properties it cuts are
`inconclusive`), and every process is killed after --budget wall seconds.
Part 2 times Z3's bounded run alone (no induction) of one spec for depths
0..N, with every property selected, in one process.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


ROW = "{:28} {:6} {:24} {:12} {:>5} {:34} {}"


def bench_spec(spec: Path, engine: str, depth: int | None, budget: float, bmc_timeout: float | None) -> None:
    cmd = [sys.executable, "-m", "compiler.cli", "prove", str(spec), "--json", "--engine", engine]
    if depth is not None:
        cmd += ["--depth", str(depth)]
    if engine == "bmc" and bmc_timeout:
        cmd += ["--timeout", str(bmc_timeout)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget, cwd=ROOT)
    except subprocess.TimeoutExpired:
        print(ROW.format(spec.stem, engine, "(all)", "killed", "", "", f">{budget:.0f} s wall"))
        return
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1, 3):
        print(f"{spec.stem:28} {engine:6} error {proc.returncode}: {proc.stderr.strip()[:200]}")
        return
    doc = json.loads(proc.stdout)["specs"][0]  # one spec: the first of the one JSON shape
    for r in doc["results"]:
        print(ROW.format(spec.stem, engine, r["property"], r["verdict"], r["depth"], r["method"],
                         f"{r['seconds']:7.3f} s"))
    print(ROW.format(spec.stem, engine, "(wall, start-up included)", "", "", "", f"{wall:7.3f} s"))


def curve(spec: Path, upto: int) -> None:
    from compiler.backends.z3 import prove
    from compiler.pipeline import load_model
    from dsl.diagnostics import Diagnostics, render_all

    diags = Diagnostics()
    model = load_model(str(spec), {}, diags)
    if model is None:
        sys.exit(render_all(diags))
    print(f"\ndepth-versus-time, Z3's bounded run only (--engine bmc, no induction), every property: {spec.stem}")
    print(f"{'depth':>5} {'seconds':>8}")
    marks: list[tuple[int, float]] = []
    start = time.perf_counter()
    results = prove(model, depth=upto, induction=False, progress=lambda k, e: marks.append((k, e)))
    for k, elapsed in marks:
        if k % 5 == 0 or k == upto:
            print(f"{k:>5} {elapsed:8.3f}")
    print(f"total {time.perf_counter() - start:.3f} s;",
          ", ".join(f"{r.property}: {r.summary()}" for r in results))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 allow_abbrev=False)
    ap.add_argument("--depth", type=int, default=None, help="depth for part 1 (default: irqc's default)")
    ap.add_argument("--engines", default="auto,bmc", help="comma-separated engines for part 1 (default: auto,bmc)")
    ap.add_argument("--bmc-timeout", type=float, default=20.0,
                    help="irqc --timeout (seconds per property) for --engine bmc in part 1; 0: none (default 20)")
    ap.add_argument("--budget", type=float, default=120.0, help="kill a part-1 run after this many wall seconds")
    ap.add_argument("--curve", default="gicv3_its_fasteoi", help="spec (file stem) for part 2; '' skips it")
    ap.add_argument("--to", type=int, default=60, help="largest depth of the curve")
    ap.add_argument("--only", default=None, help="run part 1 on this spec stem only")
    args = ap.parse_args()
    specs = sorted((ROOT / "specs").glob("*.irqspec"))
    if args.only:
        specs = [s for s in specs if s.stem == args.only]
    engines = [e for e in args.engines.split(",") if e]
    print(ROW.format("spec", "engine", "property", "verdict", "depth", "method", "seconds"))
    for spec in specs:
        for engine in engines:
            bench_spec(spec, engine, args.depth, args.budget, args.bmc_timeout or None)
    if args.curve:
        curve(ROOT / "specs" / f"{args.curve}.irqspec", args.to)


if __name__ == "__main__":
    main()
