"""Benchmark `irqc prove` (run by hand; not a test).

    python bench/prove_bench.py                    # every shipped spec, default depth, one process each
    python bench/prove_bench.py --curve S1 --to 60 # plus the depth-versus-time curve of one spec
    python bench/prove_bench.py --budget 30        # give up on a spec after 30 s (reported as such)

Part 1 runs `irqc prove SPEC --json` in a fresh process per spec, so the wall
time includes interpreter start-up, parsing and lowering, and prints spec,
property, verdict, depth, method and the engine's seconds per property.
Part 2 times the bounded run alone (no induction) of one spec for depths
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


def bench_spec(spec: Path, depth: int | None, budget: float) -> None:
    cmd = [sys.executable, "-m", "compiler.cli", "prove", str(spec), "--json"]
    if depth is not None:
        cmd += ["--depth", str(depth)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget, cwd=ROOT)
    except subprocess.TimeoutExpired:
        print(f"{spec.stem:32} {'(all)':24} {'gave up':12} {'':>5} {'':24} >{budget:.0f} s wall")
        return
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1, 3):
        print(f"{spec.stem:32} error {proc.returncode}: {proc.stderr.strip()[:200]}")
        return
    doc = json.loads(proc.stdout)
    for r in doc["results"]:
        print(f"{spec.stem:32} {r['property']:24} {r['verdict']:12} {r['depth']:>5} {r['method']:24} "
              f"{r['seconds']:7.3f} s")
    print(f"{spec.stem:32} {'(wall, start-up included)':24} {'':12} {'':>5} {'':24} {wall:7.3f} s")


def curve(spec: Path, upto: int) -> None:
    from compiler.backends.z3 import prove
    from compiler.pipeline import load_model
    from dsl.diagnostics import Diagnostics, render_all

    diags = Diagnostics()
    model = load_model(str(spec), {}, diags)
    if model is None:
        sys.exit(render_all(diags))
    print(f"\ndepth-versus-time, bounded run only, every property: {spec.stem}")
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depth", type=int, default=None, help="depth for part 1 (default: irqc's default)")
    ap.add_argument("--budget", type=float, default=120.0, help="wall seconds per spec in part 1")
    ap.add_argument("--curve", default="gicv3_its_fasteoi", help="spec (file stem) for part 2; '' skips it")
    ap.add_argument("--to", type=int, default=60, help="largest depth of the curve")
    ap.add_argument("--only", default=None, help="run part 1 on this spec stem only")
    args = ap.parse_args()
    specs = sorted((ROOT / "specs").glob("*.irqspec"))
    if args.only:
        specs = [s for s in specs if s.stem == args.only]
    print(f"{'spec':32} {'property':24} {'verdict':12} {'depth':>5} {'method':24} seconds")
    for spec in specs:
        bench_spec(spec, args.depth, args.budget)
    if args.curve:
        curve(ROOT / "specs" / f"{args.curve}.irqspec", args.to)


if __name__ == "__main__":
    main()
