"""Generated files on disk: plan, check (`--check`) and write them.

Ownership rule: a file is irqc's when its first line is `generate.MARKER`.
`write_outputs` replaces only such files (atomically: a temp file in the same
folder, then `os.replace`), and refuses, before writing anything, when a target
exists without the marker.  `check_outputs` reports what `write_outputs` would
change: stale and missing files, and orphans (marked files in the folder whose
spec is not among the inputs).
"""
from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compiler import ir
from compiler.backends.python.generate import MARKER, generate


class OutputError(Exception):
    """The outputs cannot be written as asked (a foreign file, two specs with one stem)."""


@dataclass(frozen=True, slots=True)
class Output:
    path: Path  # DIR/<spec stem>.py
    spec: str  # the spec path as given
    text: str


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # "stale" | "missing" | "orphaned" | "foreign"
    path: Path
    diff: str  # a unified diff from what is on disk to what should be (empty for "foreign")

    def summary(self) -> str:
        what = {
            "stale": "is stale: its spec or irqc changed since it was generated",
            "missing": "is missing",
            "orphaned": "is orphaned: no spec among the inputs generates it",
            "foreign": "exists but was not written by `irqc build` (no marker on its first line)",
        }[self.kind]
        return f"{self.path}: {what}"


def plan_outputs(models: list[tuple[str, ir.Model]], outdir: str | Path) -> list[Output]:
    """The file each (spec path, model) becomes.  Paths inside the text are relative
    to `outdir`, so the bytes do not depend on the current directory."""
    out_dir = Path(outdir)
    by_name: dict[str, str] = {}
    outputs: list[Output] = []
    for spec, model in models:
        name = Path(spec).stem + ".py"
        if name in by_name:
            raise OutputError(f"{spec} and {by_name[name]} would both be generated as {out_dir / name}")
        by_name[name] = spec
        text = generate(model, _relative(spec, out_dir), lambda p: _relative(p, out_dir), name)
        outputs.append(Output(out_dir / name, spec, text))
    return outputs


def is_generated(path: Path) -> bool:
    """Whether a file carries the marker: the one test of ownership."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().rstrip("\n") == MARKER
    except OSError:
        return False


def check_outputs(outputs: list[Output], outdir: str | Path) -> list[Problem]:
    """Everything that differs between `outdir` and `outputs` (empty: up to date)."""
    problems: list[Problem] = []
    wanted = {o.path.name for o in outputs}
    for o in outputs:
        if not o.path.exists():
            problems.append(Problem("missing", o.path, _diff("/dev/null", "", str(o.path), o.text)))
        elif not is_generated(o.path):
            problems.append(Problem("foreign", o.path, ""))
        else:
            old = o.path.read_text(encoding="utf-8", errors="replace")
            if old != o.text:
                problems.append(Problem("stale", o.path, _diff(str(o.path), old, str(o.path), o.text)))
    for orphan in orphans(outdir, wanted):
        old = orphan.read_text(encoding="utf-8", errors="replace")
        problems.append(Problem("orphaned", orphan, _diff(str(orphan), old, "/dev/null", "")))
    return problems


def orphans(outdir: str | Path, wanted: set[str]) -> list[Path]:
    d = Path(outdir)
    if not d.is_dir():
        return []
    return sorted(p for p in d.glob("*.py") if p.name not in wanted and is_generated(p))


def write_outputs(outputs: list[Output], outdir: str | Path) -> list[tuple[Path, str]]:
    """Write every output whose bytes differ; returns (path, "wrote" | "unchanged").

    Checks every target before writing any, so a refusal leaves the folder as it was;
    an OS error mid-way leaves each file either old or new, never partial.
    """
    for o in outputs:
        if o.path.exists() and not is_generated(o.path):
            raise OutputError(f"{o.path} exists and was not written by `irqc build` (its first line is not "
                              f"the irqc marker); refusing to overwrite it: move it away or choose another -o")
    Path(outdir).mkdir(parents=True, exist_ok=True)
    done: list[tuple[Path, str]] = []
    for o in outputs:
        if o.path.exists() and o.path.read_text(encoding="utf-8", errors="replace") == o.text:
            done.append((o.path, "unchanged"))  # keep the mtime: make and editors see no change
            continue
        try:
            _atomic_write(o.path, o.text)
        except OSError as e:
            raise OutputError(f"cannot write {o.path}: {e.strerror or e}") from e
        done.append((o.path, "wrote"))
    return done


def _atomic_write(path: Path, text: str) -> None:
    """A reader sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; generated sources are ordinary files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _diff(old_name: str, old: str, new_name: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _relative(path: str, outdir: Path) -> str:
    """`path` relative to `outdir`, with forward slashes; pseudo paths ("<builtin>") as they are."""
    if path.startswith("<"):
        return path
    try:
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(outdir))).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).as_posix()
