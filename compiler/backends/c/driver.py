"""Compile a generated C search (cached by the hash of its source) and run it.

The system C compiler (`$CC`, else `cc`, `gcc` or `clang`) builds the program at -O2 into
the cache folder (`$IRQC_CACHE_DIR`, else `$XDG_CACHE_HOME/irqc/c-search`, else
`~/.cache/irqc/c-search`), named by a hash of the source and the compile command, so the
same spec at the same parameters compiles once.  An unwritable cache is never an error:
the program is then built in a temporary folder and removed after the run.

The program prints one JSON document on stdout and `progress STATES DEPTH` lines on stderr
about four times a second; `run` hands those to `watch`, and when `watch` says stop it
sends SIGUSR1, on which the program stops cleanly and reports what it established (as on
SIGINT and SIGTERM, the user's signals, after which it does not write the states it met).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

OPT = "-O2"


class CompileError(Exception):
    """The C compiler failed or is missing, or the program cannot run here (a noexec folder,
    no room for its states): the caller falls back to the Python search."""


class RunError(Exception):
    """The compiled search failed (a crash, or exit 70: a bug in irqc)."""


@dataclass(frozen=True, slots=True)
class Built:
    exe: Path
    seconds: float  # compile time; 0 when the cache had it
    cached: bool


def compiler() -> str | None:
    """The C compiler to use, or None when the machine has none."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def cache_dir() -> Path:
    if os.environ.get("IRQC_CACHE_DIR"):
        return Path(os.environ["IRQC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "irqc" / "c-search"


def _command(cc: str, opt: str, src: Path, exe: Path) -> list[str]:
    return [cc, opt, "-std=gnu11", "-w", "-o", str(exe), str(src)]


def key(source: str, opt: str = OPT) -> str:
    cc = compiler() or "none"
    text = "\0".join([source, *_command(cc, opt, Path("src.c"), Path("exe"))])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cached(source: str, opt: str = OPT) -> Path | None:
    """The compiled program of `source`, when the cache has it."""
    exe = cache_dir() / f"search-{key(source, opt)}"
    return exe if exe.is_file() and os.access(exe, os.X_OK) else None


@contextmanager
def build(source: str, opt: str = OPT, pending: Compile | None = None) -> Iterator[Built]:
    """The compiled program of `source`: from the cache, compiled into it (or finished from
    `pending`), or, when the cache is unwritable, compiled into a temporary folder that is
    removed on exit."""
    hit = cached(source, opt) if pending is None else None
    if hit is not None:
        yield Built(hit, 0.0, True)
        return
    job = pending or Compile(source, opt)
    try:
        yield job.finish()
    finally:
        job.close()


class Compile:
    """One compile, running in the background from construction until `finish` or `cancel`."""

    def __init__(self, source: str, opt: str = OPT) -> None:
        cc = compiler()
        if cc is None:
            raise CompileError("no C compiler found (cc, gcc or clang; or set CC)")
        self.t0 = time.perf_counter()
        folder, self.exe, self.owned = _where(source, opt)
        self.work = Path(tempfile.mkdtemp(dir=folder, prefix=".build-"))
        src, self.out, self.log = self.work / "search.c", self.work / "search", self.work / "cc.log"
        src.write_text(source, encoding="ascii")
        self.what = f"{cc} {opt}"
        try:
            with open(self.log, "w", encoding="utf-8") as log:  # a file: a full pipe would stall cc
                self.proc = subprocess.Popen(_command(cc, opt, src, self.out), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT)
        except OSError as e:
            self.close()
            raise CompileError(f"{cc}: {e}") from e

    def done(self) -> bool:
        return self.proc.poll() is not None

    def finish(self) -> Built:
        try:
            code = self.proc.wait(timeout=600)
        except subprocess.TimeoutExpired as e:
            self.cancel()
            raise CompileError(f"{self.what} ran for 10 minutes") from e
        if code != 0:
            tail = " ".join(self.log.read_text(encoding="utf-8", errors="replace").split())[-300:]
            self.cancel()
            raise CompileError(f"{self.what} exited with {code}: {tail}")
        os.replace(self.out, self.exe)  # atomic: a concurrent irqc sees the whole program or none
        shutil.rmtree(self.work, ignore_errors=True)
        return Built(self.exe, time.perf_counter() - self.t0, False)

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)
        self.close()

    def close(self) -> None:
        """Remove the temporary folder of a build the cache could not take (nothing otherwise)."""
        if self.owned is not None:
            shutil.rmtree(self.owned, ignore_errors=True)


def _where(source: str, opt: str) -> tuple[Path, Path, Path | None]:
    """(folder to build in, program path, temporary folder to remove afterwards or None)."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError:
        tmp = Path(tempfile.mkdtemp(prefix="irqc-c-"))
        return tmp, tmp / "search", tmp
    _sweep(folder)
    return folder, folder / f"search-{key(source, opt)}", None


def _sweep(folder: Path) -> None:
    """Remove build folders left by an irqc that was killed while compiling (a compile gives
    up after 10 minutes, so an hour-old one belongs to nobody)."""
    old = time.time() - 3600
    for leftover in folder.glob(".build-*"):
        try:
            if leftover.stat().st_mtime < old:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def run(exe: Path, max_states: int | None, max_seconds: float | None, dump: Path | None, initial: Path,
        watch: Callable[[int, int], bool] | None = None) -> dict[str, Any]:
    """Run the compiled search from the initial states in `initial`; its JSON report.
    `watch(states, depth)` True stops it."""
    args = [str(exe), str(-1 if max_states is None else max_states),
            "-1" if max_seconds is None else repr(max(0.0, max_seconds)), str(dump) if dump else "-", str(initial)]
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                text=True)
    except OSError as e:  # e.g. a cache on a noexec file system: an environment problem, not a bug
        raise CompileError(f"cannot run {exe}: {e}") from e
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else ""), daemon=True)
    reader.start()
    errors: list[str] = []
    try:
        _follow(proc, watch, errors)
        proc.wait()
        reader.join()
    finally:
        if proc.poll() is None:  # an exception in `watch`: never leave the search running
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RunError(f"the compiled search exited with {proc.returncode}: {' '.join(errors)[-300:]}")
    try:
        doc: dict[str, Any] = json.loads(out[0])
    except (IndexError, ValueError) as e:
        raise RunError(f"the compiled search printed no report: {e}") from e
    return doc


def _follow(proc: subprocess.Popen[str], watch: Callable[[int, int], bool] | None, errors: list[str]) -> None:
    """Read the progress lines until the program closes stderr; stop it when `watch` says so."""
    assert proc.stderr is not None
    stopping = False
    for line in proc.stderr:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "progress":
            if watch is not None and not stopping and watch(int(parts[1]), int(parts[2])):
                proc.send_signal(signal.SIGUSR1)
                stopping = True
        else:
            errors.append(line.strip())
