"""Generated files on disk: plan, check (`--check`) and write them.

Ownership rule: a file is irqc's when its first line is `generate.MARKER`.
`write_outputs` replaces only such files (atomically: a temp file in the same
folder, then `os.replace`), and refuses, before writing anything, when a target
exists without the marker or is a symbolic link to anything but a marked file
(a link to a marked file is written through: the file it points at is replaced).
`check_outputs` reports what `write_outputs` would change: stale and missing
files, orphans (marked files in the folder whose spec is not among the inputs)
and leftovers (temp files of a build that was killed, which the next build removes).
"""
from __future__ import annotations

import difflib
import os
import re
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
    kind: str  # "stale" | "missing" | "orphaned" | "leftover" | "foreign" | "link"
    path: Path
    diff: str  # a unified diff from what is on disk to what should be (empty for the last three)

    def summary(self) -> str:
        what = {
            "stale": "is stale: its spec or irqc changed since it was generated",
            "missing": "is missing",
            "orphaned": "is orphaned: no spec among the inputs generates it",
            "leftover": "is a temporary file left by an interrupted `irqc build`; the next build removes it",
            "foreign": "exists but was not written by `irqc build` (no marker on its first line)",
            "link": f"is a symbolic link to {_link_target(self.path)!r}, which is not a file `irqc build` wrote",
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


def blocker(path: Path) -> str | None:
    """Why `irqc build` must not write `path` ("foreign" or "link"), or None."""
    try:
        if path.is_symlink():
            return None if path.exists() and is_generated(path) else "link"
        return "foreign" if path.exists() and not is_generated(path) else None
    except OSError as e:  # a name too long for the file system, a loop of links
        raise OutputError(f"cannot use {path}: {e.strerror or e}") from e


def check_outputs(outputs: list[Output], outdir: str | Path) -> list[Problem]:
    """Everything that differs between `outdir` and `outputs` (empty: up to date)."""
    problems: list[Problem] = []
    wanted = {o.path.name for o in outputs}
    for o in outputs:
        if (kind := blocker(o.path)) is not None:
            problems.append(Problem(kind, o.path, ""))
        elif not o.path.exists():
            problems.append(Problem("missing", o.path, _diff("/dev/null", "", str(o.path), o.text)))
        else:
            old = o.path.read_text(encoding="utf-8", errors="replace")
            if old != o.text:
                problems.append(Problem("stale", o.path, _diff(str(o.path), old, str(o.path), o.text)))
    for orphan in orphans(outdir, wanted):
        old = orphan.read_text(encoding="utf-8", errors="replace")
        problems.append(Problem("orphaned", orphan, _diff(str(orphan), old, "/dev/null", "")))
    problems += [Problem("leftover", tmp, "") for tmp in leftovers(outdir)]
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
        kind = blocker(o.path)
        if kind == "foreign":
            raise OutputError(f"{o.path} exists and was not written by `irqc build` (its first line is not "
                              f"the irqc marker); refusing to overwrite it: move it away or choose another -o")
        if kind == "link":
            raise OutputError(f"{o.path} is a symbolic link to {_link_target(o.path)!r}, which is not a file "
                              "`irqc build` wrote; refusing to replace or follow it: remove it or choose another -o")
    done: list[tuple[Path, str]] = []
    try:
        Path(outdir).mkdir(parents=True, exist_ok=True)
        for tmp in leftovers(outdir):
            tmp.unlink()
            done.append((tmp, "removed (a temporary file left by an interrupted build)"))
    except OSError as e:
        raise OutputError(f"cannot prepare {outdir}: {e.strerror or e}") from e
    for o in outputs:
        if o.path.exists() and o.path.read_text(encoding="utf-8", errors="replace") == o.text:
            done.append((o.path, "unchanged"))  # keep the mtime: make and editors see no change
            continue
        try:
            _atomic_write(o.path.resolve() if o.path.is_symlink() else o.path, o.text)
        except OSError as e:
            raise OutputError(f"cannot write {o.path}: {e.strerror or e}") from e
        done.append((o.path, "wrote"))
    return done


# `.<name>.irqc-<pid>-<random>.tmp`: the pid tells a live build's temp file from one whose
# build was killed (kill -9 runs no cleanup).  Nothing else in the folder is ever removed.
_TEMP = re.compile(r"\.(?P<name>.+\.py)\.irqc-(?P<pid>[0-9]+)-[a-z0-9_]+\.tmp")


def leftovers(outdir: str | Path) -> list[Path]:
    """Temp files of `irqc build`s that are no longer running, whose content is ours so far."""
    d = Path(outdir)
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.iterdir()):
        m = _TEMP.fullmatch(p.name)
        if m and not p.is_symlink() and p.is_file() and not _alive(int(m["pid"])) and _starts_like_ours(p):
            out.append(p)
    return out


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this build has no temp file open while it looks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return pid > 0  # another user's process (or a pid that cannot be asked about): leave it
    return True


def _starts_like_ours(path: Path) -> bool:
    """A temp file holds a prefix of a generated file: empty, part of the marker, or the marker."""
    want = MARKER.encode()
    try:
        with open(path, "rb") as f:
            head = f.read(len(want))
    except OSError:
        return False
    return want.startswith(head)


def _link_target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _atomic_write(path: Path, text: str) -> None:
    """A reader sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.irqc-{os.getpid()}-", suffix=".tmp", dir=path.parent)
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
