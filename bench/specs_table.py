"""The shipped specs' verdicts, bounds and timings as the table in docs/specs/README.md.

    python bench/specs_table.py                     # every spec at CPUS=2, the defaults
    python bench/specs_table.py --cpus 3 --depth 12 --jobs 1 specs/imsic_naive_move.irqspec

Each spec runs as its own `irqc prove --json` process (one at a time unless --jobs), and its
wall time and peak resident memory are that process's, start-up included.  Run it on an idle
machine: the figures are wall seconds, not CPU seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHORT = {"no_lost_interrupt": "LOST", "msi_lands_owned": "MSG", "eoi_pairing": "EOI", "affinity_respected": "AFF",
         "bounded_rerun": "BOUND", "no_handler_after_free": "FREE"}


def run(spec: Path, args: argparse.Namespace) -> tuple[Path, dict[str, object] | None, float, str]:
    cmd = [sys.executable, "-m", "compiler.cli", "prove", "--json", "--param", f"CPUS={args.cpus}", str(spec)]
    if args.depth is not None:
        cmd += ["--depth", str(args.depth)]
    if args.max_states is not None:
        cmd += ["--max-states", str(args.max_states)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    try:
        doc = json.loads(proc.stdout)["specs"][0]
    except (ValueError, KeyError, IndexError):
        return spec, None, wall, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no output"
    return spec, doc, wall, ""


def summary(doc: dict[str, object]) -> str:
    """Violations and covers with their depths, then what holds and how."""
    parts: list[str] = []
    held: dict[str, list[str]] = {}
    for r in doc["results"]:  # type: ignore[attr-defined]
        name = SHORT.get(r["property"], r["property"])
        verdict, depth, method = r["verdict"], r.get("depth"), r.get("method") or ""
        if verdict in ("violated", "covered"):
            parts.append(f"{name} {verdict} at {depth}")
        else:
            how = method.replace("exhaustive search, ", "") if verdict in ("proved", "unreachable") else \
                f"up to depth {depth}"
            held.setdefault(f"{verdict} ({how})", []).append(name)
    parts += [f"{', '.join(names)} {how}" for how, names in held.items()]
    return "; ".join(parts)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("specs", nargs="*", type=Path)
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--depth", type=int)
    p.add_argument("--max-states", type=int)
    p.add_argument("--jobs", type=int, default=1)
    args = p.parse_args()
    specs = args.specs or sorted((ROOT / "specs").glob("*.irqspec"))
    print(f"CPUS={args.cpus}" + (f", --depth {args.depth}" if args.depth else "") +
          (f", --max-states {args.max_states}" if args.max_states else "") + f", {os.cpu_count()} cores")
    print("| spec | verdicts | wall s |")
    print("|---|---|---|")
    with ThreadPoolExecutor(args.jobs) as pool:
        for spec, doc, wall, err in pool.map(lambda s: run(s, args), specs):
            print(f"| {spec.stem} | {summary(doc) if doc else 'error: ' + err} | {wall:.1f} |", flush=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\nlargest peak resident set of one run: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
