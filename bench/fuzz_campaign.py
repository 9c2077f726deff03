"""The fuzzing campaign of issue 13 (run by hand; not a test).

    python bench/fuzz_campaign.py                              # 1,000 mutants, 1,000 random specs, 50 kills
    python bench/fuzz_campaign.py --mutants 100 --random 100 --kills 10 --seed 7
    python bench/fuzz_campaign.py --save /tmp/fuzz-findings    # keep every failing input there

Three parts, each case under a hang guard (--timeout wall seconds, default 60):

1. Mutants of the shipped specs (lines deleted or duplicated, tokens swapped or replaced by
   keywords, cut at random points, bytes flipped) through `irqc check`, one process each, next to
   copies of the shipped specs (so `extends` finds its base).  Counted: tracebacks, exit 70, any
   exit status other than 0 or 2, an error without a `path:line:col:` location, hangs.
2. Random valid specs (tests/specgen.py) cross-checked as tests/test_fuzz_engines.py does: the
   simulator's exhaustive search, the default engine and `--engine bmc` must agree on every
   verdict and shortest depth, and every counterexample must replay.  They run in a worker
   process that reports each spec as it finishes; a spec that takes longer than --timeout is a
   hang (the worker is killed and a new one goes on with the next seed).
3. `kill -9` of `irqc build specs/ -o DIR` (>= 50 times; half at a random moment, half as soon
   as a temporary output file appears), then: leftover
   temporary files, a generated file that is not a complete simulator, and whether the next
   build and `irqc build --check` leave DIR complete and clean.

Prints one summary; the exit status is 0 when every count of a defect is 0.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SPECS = sorted((ROOT / "specs").glob("*.irqspec"))
IRQC = [sys.executable, "-m", "compiler.cli"]
KEYWORDS = ["spec", "param", "var", "lock", "cpu", "thread", "device", "step", "when", "fn", "def", "atomic", "await",
            "assert", "either", "or", "any", "where", "if", "else", "while", "goto", "idle:", "invariant", "cover",
            "initially", "expect", "replace", "extends", "quiescent", "forall", "::", "==>", "?", ":", ";", "{", "}",
            "(", ")", "[", "]", "0", "1", "999999999999", "-1", "true", "bool", "0..3", "cpu[0]", "&&", "!"]
STARTUP = 120.0  # seconds a worker may take to import irqc, z3 and jinja2 on a busy machine
LOCATED = re.compile(r"^.+:\d+:\d+: (error|warning)", re.M)


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # first case of each defect

    def add(self, what: str, example: str = "") -> None:
        self.counts[what] += 1
        self.examples.setdefault(what, example)


# --------------------------------------------------------------------------- 1. mutants through `irqc check`


def mutate(text: bytes, r: random.Random) -> bytes:
    for _ in range(r.randint(1, 3)):
        text = MUTATORS[r.randrange(len(MUTATORS))](text, r)
    return text


def _lines_deleted(text: bytes, r: random.Random) -> bytes:
    lines = text.split(b"\n")
    i = r.randrange(len(lines))
    return b"\n".join(lines[:i] + lines[i + r.randint(1, 4):])


def _line_duplicated(text: bytes, r: random.Random) -> bytes:
    lines = text.split(b"\n")
    i, j = r.randrange(len(lines)), r.randrange(len(lines))
    return b"\n".join(lines[:j] + [lines[i]] + lines[j:])


def _tokens_swapped(text: bytes, r: random.Random) -> bytes:
    toks = re.split(rb"(\s+)", text)
    words = [i for i, t in enumerate(toks) if t.strip()]
    if words:
        i, j = r.choice(words), r.choice(words)
        toks[i], toks[j] = toks[j], toks[i]
    return b"".join(toks)


def _token_replaced(text: bytes, r: random.Random) -> bytes:
    toks = re.split(rb"(\s+)", text)
    words = [i for i, t in enumerate(toks) if t.strip()]
    if words:
        toks[r.choice(words)] = r.choice(KEYWORDS).encode()
    return b"".join(toks)


def _cut(text: bytes, r: random.Random) -> bytes:
    return text[: r.randint(0, len(text))]


def _flipped(text: bytes, r: random.Random) -> bytes:
    b = bytearray(text)
    for _ in range(r.randint(1, 3)):
        if b:
            b[r.randrange(len(b))] = r.randrange(256)
    return bytes(b)


MUTATORS = [_lines_deleted, _line_duplicated, _tokens_swapped, _token_replaced, _cut, _flipped]


def run_mutants(n: int, seed: int, timeout: float, tally: Tally, save: Path | None) -> None:
    r = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="irqc-mutants-") as d:
        for k in range(n):
            spec = SPECS[r.randrange(len(SPECS))]
            work = Path(d) / str(k)
            work.mkdir()
            for p in SPECS:  # the bases a mutant may extend, unmutated
                shutil.copy(p, work / p.name)
            path = work / spec.name
            path.write_bytes(mutate(spec.read_bytes(), r))
            outcome = _check(path, timeout)
            tally.add(f"exit {outcome}" if outcome.isdigit() else outcome)
            if not outcome.isdigit() or outcome not in ("0", "2"):
                tally.add("mutant defects", f"mutant {k} of {spec.name}: {outcome}")
                _keep(save, f"mutant-{seed}-{k}-{spec.name}", path.read_bytes())
            shutil.rmtree(work)
            _progress("mutants", k + 1, n)


def _check(path: Path, timeout: float) -> str:
    """The exit status of `irqc check`, or what is wrong with how it ended."""
    try:
        r = subprocess.run([*IRQC, "check", str(path)], capture_output=True, text=True, timeout=timeout,
                           cwd=ROOT, errors="replace")
    except subprocess.TimeoutExpired:
        return "hang"
    if "Traceback" in r.stderr:
        return "traceback"
    if r.returncode == 2 and not LOCATED.search(r.stderr):
        return "unlocated error"
    return str(r.returncode)


# --------------------------------------------------------------------------- 2. random specs, three engines


def worker(first: int, last: int) -> None:
    """One JSON line per seed on stdout (run in its own process by `run_random`)."""
    from tests.specgen import generate
    from tests.test_fuzz_engines import crosscheck, load_text

    print(json.dumps({"ready": True}), flush=True)  # start-up is not part of the first spec's time
    with tempfile.TemporaryDirectory(prefix="irqc-random-") as d:
        for seed in range(first, last):
            t0 = time.perf_counter()
            text = generate(seed)
            try:
                model = load_text(text, Path(d))
            except AssertionError as e:
                report = {"seed": seed, "rejected": str(e)}
            else:
                report = {"seed": seed, "problems": crosscheck(model)}
            report["seconds"] = round(time.perf_counter() - t0, 3)
            print(json.dumps(report), flush=True)


def run_random(n: int, seed: int, timeout: float, tally: Tally, save: Path | None) -> None:
    from tests.specgen import generate

    first, last = seed * 1_000_000, seed * 1_000_000 + n  # --seed picks a disjoint block of seeds
    slowest = (0.0, first)
    while first < last:
        proc = subprocess.Popen([sys.executable, __file__, "--worker", str(first), str(last)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(STARTUP) or not proc.stdout.readline():
            raise SystemExit("the worker process did not start")
        while first < last:
            if not sel.select(timeout):  # no spec finished in time: this one hangs
                tally.add("hangs", f"random spec, seed {first}")
                _keep(save, f"hang-{first}.irqspec", generate(first).encode())
                proc.kill()
                first += 1
                break
            line = proc.stdout.readline()
            if not line:  # the worker died: the spec it was on crashed it
                tally.add("worker crashes", f"random spec, seed {first}, exit {proc.wait()}")
                _keep(save, f"crash-{first}.irqspec", generate(first).encode())
                first += 1
                break
            report = json.loads(line)
            first = report["seed"] + 1
            slowest = max(slowest, (report["seconds"], report["seed"]))
            _tally_random(report, tally, save, generate)
            _progress("random specs", first - seed * 1_000_000, n)
        proc.kill()
        proc.wait()
        sel.close()
    if n > 0:
        tally.examples["slowest random spec"] = f"seed {slowest[1]}: {slowest[0]} s"


def _tally_random(report: dict[str, object], tally: Tally, save: Path | None, generate: object) -> None:
    seed = int(str(report["seed"]))
    tally.add("random specs")
    if "rejected" in report:
        tally.add("generator: spec rejected by check", f"seed {seed}: {str(report['rejected'])[:300]}")
        return
    problems = report["problems"]
    assert isinstance(problems, list)
    if problems:
        kind = "tracebacks (random)" if any(str(p).startswith("crashed") for p in problems) else "disagreements"
        tally.add(kind, f"seed {seed}: {str(problems[0])[:500]}")
        _keep(save, f"disagreement-{seed}.irqspec", generate(seed).encode())  # type: ignore[operator]


# --------------------------------------------------------------------------- 3. kill -9 during `irqc build`


def run_kills(n: int, seed: int, timeout: float, tally: Tally) -> None:
    if n <= 0:
        return
    r = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="irqc-kills-") as d:
        out = Path(d) / "out"
        t0 = time.perf_counter()
        full = _build(out, timeout)
        span = time.perf_counter() - t0  # how long a whole build takes: kills land within it
        if full != 0:
            tally.add("build failures", f"a clean build exited {full}")
            return
        for k in range(n):
            # A build skips files that are already up to date: give it something to write, into an
            # empty folder or over an older build.
            if r.random() < 0.5:
                shutil.rmtree(out, ignore_errors=True)
            else:
                for f in out.glob("*.py"):
                    f.write_text(f.read_text() + "# an older build\n")
            proc = subprocess.Popen([*IRQC, "build", "specs", "-o", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            if k % 2:  # every other kill lands while a file is being written: the window that matters
                _wait_for_temp(out, proc, span + timeout)
            else:
                time.sleep(r.uniform(0, span))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            tally.add("kills")
            after_kill = _leftovers(out)
            if after_kill:
                tally.add("kills leaving temporary files", f"kill {k}: {after_kill[:3]}")
            broken = _broken_outputs(out)
            if broken:
                tally.add("partial outputs after a kill", f"kill {k}: {broken[:3]}")
            status = _build(out, timeout)
            if status != 0:
                tally.add("build failures", f"kill {k}: the next build exited {status}")
            left = _leftovers(out)
            if left:
                tally.add("leftovers", f"kill {k}: after the next build: {left[:3]}")
            check = subprocess.run([*IRQC, "build", "--check", "specs", "-o", str(out)], cwd=ROOT,
                                   capture_output=True, text=True, timeout=timeout)
            if check.returncode != 0 or _broken_outputs(out):
                tally.add("build --check failures", f"kill {k}: exit {check.returncode}: {check.stdout[-300:]}")
            _progress("kills", k + 1, n)


def _wait_for_temp(out: Path, proc: subprocess.Popen[bytes], limit: float) -> None:
    end = time.perf_counter() + limit
    while proc.poll() is None and time.perf_counter() < end:
        if out.exists() and any(f.endswith(".tmp") for f in os.listdir(out)):
            return
        time.sleep(0.0005)


def _build(out: Path, timeout: float) -> int | str:
    try:
        return subprocess.run([*IRQC, "build", "specs", "-o", str(out)], cwd=ROOT, capture_output=True,
                              timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return "hang"


def _leftovers(out: Path) -> list[str]:
    """Anything in the output folder that is not a generated simulator (hidden files included)."""
    if not out.exists():
        return []
    return sorted(f for f in os.listdir(out) if not (f.endswith(".py") and not f.startswith(".")))


def _broken_outputs(out: Path) -> list[str]:
    """Generated files that are not complete simulators: a kill must never leave half a file."""
    from compiler.backends.python import MARKER

    broken = []
    for f in sorted(out.glob("*.py")) if out.exists() else []:
        text = f.read_text(errors="replace")
        try:
            compile(text, str(f), "exec")
        except SyntaxError:
            broken.append(f.name)
            continue
        if not text.startswith(MARKER) or 'if __name__ == "__main__"' not in text:
            broken.append(f.name)
    return broken


# --------------------------------------------------------------------------- driver


def _keep(save: Path | None, name: str, data: bytes) -> None:
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        (save / name).write_bytes(data)


def _progress(what: str, done: int, total: int) -> None:
    if done == total or done % 50 == 0:
        print(f"  {what}: {done}/{total}", file=sys.stderr, flush=True)


DEFECTS = ["traceback", "exit 70", "unlocated error", "hang", "mutant defects", "tracebacks (random)",
           "disagreements", "hangs", "worker crashes", "generator: spec rejected by check", "partial outputs after a kill",
           "build failures", "leftovers", "build --check failures"]


def summary(tally: Tally, seconds: float) -> int:
    c = tally.counts
    print(f"\nfuzz campaign ({seconds:.0f} s)")
    print(f"  mutants through irqc check: {sum(v for k, v in c.items() if k.startswith('exit '))}"
          f" + {c['traceback'] + c['hang'] + c['unlocated error']} abnormal; exit statuses: "
          + ", ".join(f"{k[5:]}: {v}" for k, v in sorted(c.items()) if k.startswith("exit ")))
    print(f"  random specs cross-checked: {c['random specs']}")
    print(f"  kill -9 during irqc build: {c['kills']} (temporary files right after a kill: "
          f"{c['kills leaving temporary files']})")
    print("  tracebacks:    ", c["traceback"] + c["tracebacks (random)"])
    print("  exit 70:       ", c["exit 70"])
    print("  disagreements: ", c["disagreements"])
    print("  hangs:         ", c["hang"] + c["hangs"])
    print("  leftovers:     ", c["leftovers"], "(temporary files still there after the next build)")
    others = {k: c[k] for k in DEFECTS if c[k] and k not in ("traceback", "exit 70", "disagreements", "hang",
                                                              "hangs", "leftovers", "tracebacks (random)",
                                                              "mutant defects")}
    for k, v in others.items():
        print(f"  {k}: {v}")
    odd = [k for k in c if k.startswith("exit ") and k not in ("exit 0", "exit 2", "exit 70")]
    for k in odd:
        print(f"  unexpected {k}: {c[k]}")
    for k, ex in tally.examples.items():
        if ex and (k in DEFECTS or k == "slowest random spec"):
            print(f"  e.g. {k}: {ex}")
    return 1 if any(c[k] for k in DEFECTS) or odd else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mutants", type=int, default=1000, help="mutants of shipped specs through irqc check")
    ap.add_argument("--random", type=int, default=1000, help="random specs cross-checked across the engines")
    ap.add_argument("--kills", type=int, default=50, help="kill -9 during irqc build")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0, help="hang guard per case, wall seconds")
    ap.add_argument("--save", type=Path, default=None, help="write every failing input into this folder")
    ap.add_argument("--worker", type=int, nargs=2, metavar=("FIRST", "LAST"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    tally = Tally()
    t0 = time.perf_counter()
    run_mutants(args.mutants, args.seed, args.timeout, tally, args.save)
    run_random(args.random, args.seed, args.timeout, tally, args.save)
    run_kills(args.kills, args.seed, args.timeout, tally)
    return summary(tally, time.perf_counter() - t0)


if __name__ == "__main__":
    sys.exit(main())
