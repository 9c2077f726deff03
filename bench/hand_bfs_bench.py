"""The compiled search against a hand-written BFS of the same model, side by side in one run.

    python bench/hand_bfs_bench.py [--cpus 5,6,7] [--repeat 3]

Run by hand (not a timed test).  bench/hand_bfs.c is a breadth-first search of
specs/simple_irq_concurrent_drop.irqspec written by hand in C (every variable of its IR kept,
both properties evaluated on every new state, a 64-bit packed state in an open-addressing set,
no parent links).  For each CPU count, both programs are compiled with the same command
(`cc -O2 -std=gnu11`) and run `--repeat` times, alternating; each reports its own search time
(wall, monotonic clock, compiling and start-up excluded), and the best of each is kept.  The
compiled search runs as `irqc prove --symmetry off --dead-vars off` would (it keeps every state,
as the hand-written one does), so both meet the same states: the script checks the counts and
the violation's depth agree before it prints the ratio of their rates and the bytes each
holds per state (the compiled search's states, parent links, actions and hash set; the hand
one's set and queue).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler import ir  # noqa: E402
from compiler.backends.c import driver, search as c_search  # noqa: E402
from compiler.backends.python import generate, load_simulator  # noqa: E402
from compiler.pipeline import load_model  # noqa: E402
from dsl.diagnostics import Diagnostics  # noqa: E402

SPEC = ROOT / "specs" / "simple_irq_concurrent_drop.irqspec"


def _hand(exe: Path, cpus: int) -> dict[str, Any]:
    out = subprocess.run([str(exe), str(cpus)], capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out))


def _compiled(cpus: int) -> Any:
    m = load_model(str(SPEC), {"CPUS": cpus}, Diagnostics())
    assert m is not None
    params = {**ir.default_params(m), "CPUS": cpus}
    sim = load_simulator(generate(m, m.path), m.name).Simulator(params)
    return c_search.explore(m, params, sim, None, None, search="c", symmetry=False, dead=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpus", default="5,6,7")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    cc = driver.compiler()
    if cc is None:
        print("no C compiler")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "hand_bfs"
        subprocess.run([cc, "-O2", "-std=gnu11", "-w", "-o", str(exe), str(ROOT / "bench" / "hand_bfs.c")], check=True)
        print("| CPUS | states | hand-written s | compiled s | hand states/s | compiled states/s "
              "| compiled/hand | hand B/state | compiled B/state | same states and depth |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for cpus in (int(c) for c in args.cpus.split(",")):
            hands, comps = [], []
            for _ in range(args.repeat):
                hands.append(_hand(exe, cpus))
                comps.append(_compiled(cpus))
            h = min(hands, key=lambda r: r["seconds"])
            c = min(comps, key=lambda r: r.search_seconds)
            same = h["states"] == c.states and h["no_lost_interrupt"] == c.violations["no_lost_interrupt"][0]
            hr, cr = h["states"] / h["seconds"], c.states / c.search_seconds
            print(f"| {cpus} | {c.states:,} | {h['seconds']:.3f} | {c.search_seconds:.3f} | {hr:,.0f} | {cr:,.0f} "
                  f"| {cr / hr:.2f} | {h['bytes'] / h['states']:.0f} | {c.memory / c.states:.0f} "
                  f"| {'yes' if same else 'NO'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
