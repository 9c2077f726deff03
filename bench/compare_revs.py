"""The shipped specs end to end under this tree and under another revision, side by side.

    python bench/compare_revs.py --against b248832            # every spec at CPUS=2
    python bench/compare_revs.py --against HEAD~3 --cpus 3 specs/fasteoi_resend.irqspec

For each spec, `irqc prove --json` runs once under each tree, one after the other (the order
alternates from spec to spec), each in its own process with its own empty compiled-search
cache, so compiling counts on both sides.  The other revision is checked out with
`git worktree` into a temporary folder and removed at the end.  It prints each spec's wall
seconds on both sides, their ratio, and whether the verdicts (and depths and state counts)
are the same.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def prove(tree: Path, spec: Path, cpus: int, cache: Path) -> tuple[float, list[tuple[str, str, object]] | str]:
    cmd = [sys.executable, "-m", "compiler.cli", "prove", "--json", "--param", f"CPUS={cpus}", str(spec)]
    env = {**os.environ, "IRQC_CACHE_DIR": str(cache)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    try:
        results = json.loads(proc.stdout)["specs"][0]["results"]
    except (ValueError, KeyError, IndexError):
        return wall, (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return wall, [(r["property"], r["verdict"], r.get("depth")) for r in results]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("specs", nargs="*", type=Path)
    p.add_argument("--against", required=True, help="the other revision (a commit, tag or branch)")
    p.add_argument("--cpus", type=int, default=2)
    args = p.parse_args()
    specs = [s.resolve() for s in args.specs] or sorted((ROOT / "specs").glob("*.irqspec"))
    with tempfile.TemporaryDirectory(prefix="irqc-bench-") as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(other), args.against], cwd=ROOT, check=True)
        try:
            print(f"CPUS={args.cpus}; this tree against {args.against}; {os.cpu_count()} cores")
            print("| spec | this tree s | other s | other / this | same verdicts |")
            print("|---|---|---|---|---|")
            total = [0.0, 0.0]
            for k, spec in enumerate(specs):
                trees = [(0, ROOT), (1, other)]
                runs: dict[int, tuple[float, object]] = {}
                for side, tree in (trees if k % 2 == 0 else trees[::-1]):
                    target = tree / spec.relative_to(ROOT)
                    runs[side] = prove(tree, target, args.cpus, Path(tmp) / f"cache{side}-{k}")
                (mine, mres), (theirs, tres) = runs[0], runs[1]
                total[0] += mine
                total[1] += theirs
                print(f"| {spec.stem} | {mine:.1f} | {theirs:.1f} | {theirs / mine:.2f} | "
                      f"{'yes' if mres == tres else 'NO'} |", flush=True)
            print(f"| all | {total[0]:.1f} | {total[1]:.1f} | {total[1] / total[0]:.2f} | |")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
