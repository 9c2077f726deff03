"""The compiled search against the Python search, side by side in one run.

    python bench/c_search_bench.py [--rows all|cpus2|issue9] [--python-seconds S] [--c-seconds S]
                                   [--max-states N] [SPEC_STEM...]

Run by hand (not a timed test).  For each row (spec, CPUS) it prints: the states the C search
met, the deepest layer it reached (every run of that many steps was examined when it was cut by
a limit), and whether it finished; its compile time (into an empty cache: the first run's cost;
later runs find the program in the cache); its search time, states per second and bytes
per state (states, parents, actions and the hash set, as the program allocated them); the
Python search's states per CPU second over its first `--python-seconds` (it is cut there; its
rate is steady enough over the first layers); and the ratio of the two rates.  Rates are per
CPU second (the process's for Python, the child's for C, compiling excluded): on a shared
machine wall-clock rates swing with the load, CPU rates much less.

Rows: `cpus2`, every shipped spec at CPUS=2; `issue9`, the CPUS=3 and CPUS=4 rows of issue 9's
table (S1-S3 at 3 and 4, S4-S6 at 3); `all`, both.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler import ir  # noqa: E402
from compiler.backends.c import driver, generate, search  # noqa: E402
from compiler.backends.python import generate as generate_simulator  # noqa: E402
from compiler.backends.python import load_simulator  # noqa: E402
from compiler.pipeline import load_model  # noqa: E402
from dsl.diagnostics import Diagnostics, render_all  # noqa: E402

SPECS = ["gicv3_its_fasteoi", "fasteoi_rerun_loop", "fasteoi_resend", "imsic_naive_move", "imsic_move_deferred",
         "imsic_move_deferred_hotplug", "imsic_move_intermediate"]
ISSUE9 = [(s, 3) for s in SPECS] + [(s, 4) for s in SPECS[:3]]


def rows(which: str, stems: list[str]) -> list[tuple[str, int]]:
    out = ([(s, 2) for s in SPECS] if which in ("cpus2", "all") else []) + (ISSUE9 if which in ("issue9", "all") else [])
    return [r for r in out if not stems or r[0] in stems]


def child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def bench(stem: str, cpus: int, py_seconds: float, c_seconds: float, max_states: int) -> dict[str, Any]:
    diags = Diagnostics()
    model = load_model(str(ROOT / "specs" / f"{stem}.irqspec"), {"CPUS": cpus}, diags)
    if model is None:
        raise SystemExit(render_all(diags))
    params = {**ir.default_params(model), "CPUS": cpus}
    sim = load_simulator(generate_simulator(model, model.path), model.name).Simulator(params)
    cpu0 = time.process_time()
    py = sim.explore(max_states, py_seconds)
    py_cpu = time.process_time() - cpu0
    t0 = time.perf_counter()
    program = generate(model, params)
    gen_seconds = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as cache:
        os.environ["IRQC_CACHE_DIR"] = cache  # an empty cache: the compile is measured
        with driver.build(program.source) as built:
            compile_seconds = built.seconds
        before = child_cpu()
        c = search.run(program, sim, max_states, c_seconds)  # finds the program in the cache
        c_cpu = child_cpu() - before
    c_rate = c.states / max(c_cpu, 1e-9)
    py_rate = py.states / max(py_cpu, 1e-9)
    return {"spec": stem, "cpus": cpus, "states": c.states, "complete": c.complete, "depth": c.depth,
            "stopped": c.stopped, "generate": gen_seconds, "compile": compile_seconds, "search": c.search_seconds,
            "c_cpu": c_cpu, "c_rate": c_rate, "bytes": c.memory / max(c.states, 1), "py_states": py.states,
            "py_rate": py_rate, "ratio": c_rate / max(py_rate, 1e-9),
            "violated": {k: d for k, (d, _) in c.violations.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("specs", nargs="*", help="spec stems (default: every row)")
    ap.add_argument("--rows", choices=("all", "cpus2", "issue9"), default="all")
    ap.add_argument("--python-seconds", type=float, default=5.0, help="cut the Python search here (default 5)")
    ap.add_argument("--c-seconds", type=float, default=60.0, help="cut the C search here (default 60)")
    ap.add_argument("--max-states", type=int, default=30_000_000, help="cut either search here (default 30M)")
    args = ap.parse_args()
    if driver.compiler() is None:
        print("no C compiler (cc, gcc or clang): nothing to compare")
        return 1
    head = (f"{'spec':28} {'CPUS':>4} {'states':>11} {'depth':>5} {'done':>5} {'gen s':>6} {'cc s':>5} {'search s':>8} "
            f"{'C st/cpu-s':>10} {'B/st':>5} {'Py st/cpu-s':>11} {'ratio':>6}  violated (depth)")
    print(head)
    print("-" * len(head))
    for stem, cpus in rows(args.rows, args.specs):
        r = bench(stem, cpus, args.python_seconds, args.c_seconds, args.max_states)
        done = "yes" if r["complete"] else (r["stopped"] or "all")
        print(f"{stem:28} {cpus:>4} {r['states']:>11,} {r['depth']:>5} {done:>5} {r['generate']:>6.2f} {r['compile']:>5.2f} "
              f"{r['search']:>8.2f} {r['c_rate']:>10,.0f} {r['bytes']:>5.0f} {r['py_rate']:>11,.0f} "
              f"{r['ratio']:>5.1f}x  {', '.join(f'{k} ({d})' for k, d in r['violated'].items()) or '-'}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
