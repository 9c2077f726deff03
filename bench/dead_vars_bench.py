"""The dead variable reduction (compiler/liveness.py): the compiled search with and without it.

    python bench/dead_vars_bench.py [--cpus 2,3] [--max-states N] [--timeout S] [SPEC...]

Run by hand (not a timed test).  For each spec and CPU count, the compiled search runs twice in
this process, one after the other, both with the CPU symmetry `irqc prove` uses: with its dead
variables kept (`--dead-vars off`) and reset (the default).  It prints the states each kept,
whether it finished (else the depth it covered), its search seconds (the program's own, compiling
excluded: the programs are compiled first), the ratios, and whether the two agree on every
verdict and counterexample depth within what both covered.  Default SPECs: every shipped one.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler import ir  # noqa: E402
from compiler.backends.c import search as c_search  # noqa: E402
from compiler.backends.python import generate, load_simulator  # noqa: E402
from compiler.pipeline import load_model  # noqa: E402
from dsl.diagnostics import Diagnostics  # noqa: E402


def _run(spec: Path, cpus: int, dead: bool, max_states: int | None, timeout: float) -> Any:
    m = load_model(str(spec), {"CPUS": cpus}, Diagnostics())
    if m is None:
        return None
    params = {**ir.default_params(m), "CPUS": cpus}
    sim = load_simulator(generate(m, m.path), m.name).Simulator(params)
    reduce = len(sim.symmetry_group()) > 1
    return c_search.explore(m, params, sim, max_states, timeout, search="c", symmetry=reduce, dead=dead)


def _shown(r: Any) -> str:
    return "complete" if r.complete else f"cut at depth {r.bound}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="*")
    ap.add_argument("--cpus", default="2")
    ap.add_argument("--max-states", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args(argv)
    specs = [Path(s) for s in args.specs] or sorted((ROOT / "specs").glob("*.irqspec"))
    print("| spec | CPUS | states kept | search s | states reset | search s | states kept/reset "
          "| time kept/reset | same verdicts |")
    print("|---|---|---|---|---|---|---|---|---|")
    for cpus in (int(c) for c in args.cpus.split(",")):
        for spec in specs:
            kept = _run(spec, cpus, False, args.max_states, args.timeout)
            reset = _run(spec, cpus, True, args.max_states, args.timeout)
            if kept is None or reset is None:
                print(f"| {spec.stem} | {cpus} | does not load, or no compiled search here |||||||")
                continue
            both = min(kept.depth if kept.complete else kept.bound, reset.depth if reset.complete else reset.bound)
            a = {p: d for p, (d, _) in kept.violations.items() if d <= both + 1}
            b = {p: d for p, (d, _) in reset.violations.items() if d <= both + 1}
            same = a == b  # every violation either meets within the depth both covered, at the same depth
            print(f"| {spec.stem} | {cpus} | {kept.states:,} ({_shown(kept)}) | {kept.search_seconds:.1f} "
                  f"| {reset.states:,} ({_shown(reset)}) | {reset.search_seconds:.1f} "
                  f"| {kept.states / max(1, reset.states):.2f} "
                  f"| {kept.search_seconds / max(1e-3, reset.search_seconds):.2f} | {'yes' if same else 'NO'} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
