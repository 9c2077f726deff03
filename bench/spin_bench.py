"""irqc against SPIN on the same model, side by side in one run.

    python bench/spin_bench.py check [SPEC ...] [--param NAME=VALUE ...]
    python bench/spin_bench.py time [SPEC] [--param NAME=VALUE ...] [--repeat 3]

Run by hand (not a timed test); needs `spin` (Debian: `apt-get install spin`) and a C compiler.
The Promela is generated from the spec's IR by bench/promela.py, so it is the spec's transition
system, not a coarser hand-written one (that module's docstring says how).

`check` (default: every shipped spec) shows the two tools mean the same: SPIN's stored states
must be irqc's states without reductions plus one (the state before `init` picks an initial
state), and SPIN's violated properties irqc's (each property's first violation is reported
once; SPIN runs a full search with partial-order reduction off, and `spin -o2` keeps the
variables nothing reads, which SPIN would otherwise leave out of its states).  A property the
Promela leaves out (bench/promela.py says when) is listed.

`time` (default: S5+HP, imsic_move_deferred_hotplug) times both end to end, alternating:
- SPIN from the .pml a user would have written: `spin -a`, `cc` (-O0, SPIN's documented way,
  -O1 and -O2), and `./pan -c0 -E` (safety, default partial-order reduction, a full search
  that reports each property's first violation, as `irqc prove` settles every property);
- `irqc prove SPEC` with an empty simulator cache (it compiles its search) and with a warm one,
  and the warm run with `--symmetry off --dead-vars off` (the same states SPIN stores).
It prints the best of `--repeat` runs of each and the ratios, then the search alone: pan's own
elapsed time and memory against irqc's compiled search keeping every state (the same states).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from promela import emit, load  # noqa: E402

from compiler.backends.c import driver, search as c_search  # noqa: E402

S5HP = ROOT / "specs" / "imsic_move_deferred_hotplug.irqspec"
PAN_FLAGS = ["-c0", "-E", "-m2000000"]


def _run(cmd: list[str], cwd: Path) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - t
    if out.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)}: exit {out.returncode}\n{out.stderr[-2000:]}")
    return took, out.stdout + out.stderr


def _spin(pml: str, folder: Path, opt: str, extra: list[str], spin: tuple[str, ...] = ()) -> dict[str, Any]:
    """spin -a, cc, pan in `folder`: each phase's seconds, the stored states, the violated properties."""
    (folder / "model.pml").write_text(pml)
    t_spin, _ = _run(["spin", *spin, "-a", "model.pml"], folder)
    cc = driver.compiler() or "cc"
    t_cc, _ = _run([cc, opt, "-DSAFETY", "-DMEMLIM=8192", *extra, "-w", "-o", "pan", "pan.c"], folder)
    t_pan, out = _run(["./pan", *PAN_FLAGS], folder)
    if "too small" in out or "out of memory" in out:
        raise SystemExit("pan was cut:\n" + out[-2000:])
    m = re.search(r"(\d+) states, stored", out)
    assert m, out[-2000:]
    violated = sorted(set(re.findall(r"assertion violated ok_(\w+)", out)))
    search = re.search(r"pan: elapsed time ([\d.e+]+) seconds", out)
    memory = re.search(r"([\d.]+)\s+total actual memory usage", out)
    return {"spin": t_spin, "cc": t_cc, "pan": t_pan, "total": t_spin + t_cc + t_pan,
            "states": int(m.group(1)), "violated": violated,
            "search": float(search.group(1)) if search else t_pan,
            "memory": float(memory.group(1)) * 2**20 if memory else 0.0}


def check(specs: list[Path], overrides: dict[str, int]) -> int:
    bad = 0
    print("| spec | irqc states | SPIN states | irqc violated | SPIN violated | not asserted | same |")
    print("|---|---|---|---|---|---|---|")
    for spec in specs:
        model, params, sim = load(str(spec), overrides)
        res = c_search.explore(model, params, sim, None, None, search="c", symmetry=False, dead=False)
        pml, em = emit(model, params, sim)
        with tempfile.TemporaryDirectory() as tmp:
            sp = _spin(pml, Path(tmp), "-O0", ["-DNOREDUCE"], ("-o2",))
        asserted = {p.name for p in model.properties} - set(em.unencoded)
        mine = sorted(n.replace(".", "_") for n in res.violations if n in asserted)
        # irqc's search ends early once every property is violated: then only the verdicts compare
        same = sp["violated"] == mine and (sp["states"] == res.states + 1 or
                                           (not res.complete and len(res.violations) == len(model.properties)))
        bad += not same
        cut = "" if res.complete else " (all violated: stopped)"
        print(f"| {spec.stem} | {res.states:,}{cut} | {sp['states']:,} | {', '.join(mine) or '-'} "
              f"| {', '.join(sp['violated']) or '-'} | {', '.join(em.unencoded) or '-'} | {'yes' if same else 'NO'} |",
              flush=True)
    return 1 if bad else 0


def _irqc(spec: Path, overrides: dict[str, int], cache_dir: str, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "compiler.cli", "prove", str(spec), *extra,
           *(f"--param={k}={v}" for k, v in overrides.items())]
    env = {**os.environ, "IRQC_CACHE_DIR": cache_dir}
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if out.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)}: exit {out.returncode}\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return took


def timing(spec: Path, overrides: dict[str, int], repeat: int) -> int:
    model, params, sim = load(str(spec), overrides)
    pml, em = emit(model, params, sim)
    runs: dict[str, list[float]] = {}
    phases: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):
        for opt in ("-O0", "-O1", "-O2"):
            with tempfile.TemporaryDirectory() as tmp:
                sp = _spin(pml, Path(tmp), opt, [])
            runs.setdefault(f"SPIN, cc {opt}", []).append(sp["total"])
            best = phases.get(opt)
            if best is None or sp["total"] < best["total"]:
                phases[opt] = sp
        plain = c_search.explore(model, params, sim, None, None, search="c", symmetry=False, dead=False)
        runs.setdefault("search alone: irqc's compiled search, no reductions", []).append(plain.search_seconds)
        memory = plain.memory / plain.states
        cold = tempfile.mkdtemp(prefix="irqc-cold-")
        try:
            runs.setdefault("irqc prove, empty cache", []).append(_irqc(spec, overrides, cold, []))
            runs.setdefault("irqc prove, warm cache", []).append(_irqc(spec, overrides, cold, []))
            _irqc(spec, overrides, cold, ["--symmetry", "off", "--dead-vars", "off"])
            runs.setdefault("irqc prove --symmetry off --dead-vars off, warm cache", []).append(
                _irqc(spec, overrides, cold, ["--symmetry", "off", "--dead-vars", "off"]))
        finally:
            shutil.rmtree(cold, ignore_errors=True)
    spin_best = min(min(v) for k, v in runs.items() if k.startswith("SPIN"))
    print(f"{spec.stem} at {params}; SPIN stores {phases['-O2']['states']:,} states and reports "
          f"{', '.join(phases['-O2']['violated']) or 'nothing'} violated"
          + (f"; not asserted in the Promela: {', '.join(em.unencoded)}" if em.unencoded else ""))
    for opt, sp in phases.items():
        print(f"  best SPIN run with cc {opt}: spin -a {sp['spin']:.2f} s, cc {sp['cc']:.2f} s, pan {sp['pan']:.2f} s")
    print(f"| run (best of {repeat}) | seconds end to end | / best SPIN |")
    print("|---|---|---|")
    for k, v in runs.items():
        if not k.startswith("search alone"):
            print(f"| {k} | {min(v):.2f} | {min(v) / spin_best:.2f} |")
    mine = min(runs["search alone: irqc's compiled search, no reductions"])
    for opt, sp in phases.items():
        print(f"search alone, the same {sp['states'] - 1:,} states: pan (cc {opt}) {sp['search']:.2f} s, "
              f"{sp['memory'] / sp['states']:.0f} B/state; irqc's compiled search {mine:.2f} s, {memory:.0f} B/state: "
              f"{sp['search'] / mine:.2f}x pan's rate")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("check", "time"))
    ap.add_argument("specs", nargs="*")
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_intermixed_args(argv)  # `check --param CPUS=3 SPEC ...` as well
    if shutil.which("spin") is None:
        print("spin is not installed (Debian: apt-get install spin)")
        return 1
    overrides = {k: int(v) for k, v in (p.split("=", 1) for p in args.param)}
    if args.mode == "check":
        specs = [Path(s) for s in args.specs] or sorted((ROOT / "specs").glob("*.irqspec"))
        return check(specs, overrides)
    return timing(Path(args.specs[0]) if args.specs else S5HP, overrides, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
