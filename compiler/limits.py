"""The limits every engine of one spec's run obeys, and which one stopped it.

One `Budget` is in force per spec (`budget()`): its wall-clock deadline is `--timeout`
for every engine together, and a stop signal (Ctrl-C, SIGTERM) ends them all.  It
is module state, not a parameter, because the engines nest (the conductor calls Z3
for counterexamples inside its own run) and a watchdog thread must see it too.

`stopped_by` values, as the JSON output carries them: "max-states", "timeout",
"memory", "SIGINT", "SIGTERM".
"""
from __future__ import annotations

import ctypes
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Iterator

STOPPED_BY = ("max-states", "timeout", "memory", "SIGINT", "SIGTERM")

_signal: str | None = None  # the stop signal received, for the whole process
_active: Budget | None = None
_interruptible = False  # inside `interruptible()`: a stop raises `Stopped` at once


class Stopped(Exception):
    """A limit was reached inside `interruptible()`, where no engine looks at a flag."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Budget:
    timeout: float | None  # seconds for every engine together; None: unlimited
    label: str = ""  # the spec, for progress lines
    start: float = field(default_factory=time.perf_counter)
    status: str = ""  # what runs now ("exhaustive search: ...", "Z3 BMC: depth 12/40"), for progress lines
    cap: str | None = None  # what the deadline is, when `capped()` set it rather than --timeout

    def ran_out(self) -> str:
        """The words for a stop by this budget's deadline, in a result's reason."""
        return self.cap or f"timeout after {self.timeout:g} s"

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        return None if self.timeout is None else self.timeout - self.elapsed()

    def stop_reason(self) -> str | None:
        """Why every engine must stop now, or None."""
        if _signal is not None:
            return _signal
        left = self.remaining()
        return "timeout" if left is not None and left <= 0 else None


@contextmanager
def budget(timeout: float | None, label: str = "") -> Iterator[Budget]:
    """The budget in force: an enclosing one (a nested engine shares its deadline), else a new one."""
    global _active
    if _active is not None:
        yield _active
        return
    _active = Budget(timeout, label)
    try:
        yield _active
    finally:
        _active = None


@contextmanager
def capped(budget: Budget, seconds: float, words: str) -> Iterator[None]:
    """A deadline `seconds` from now for a budget no --timeout bounds, named `words` in the
    reasons of what it stops; the budget is unbounded again afterwards."""
    assert budget.timeout is None
    budget.timeout, budget.cap = budget.elapsed() + seconds, words
    try:
        yield
    finally:
        budget.timeout, budget.cap = None, None


def meminfo() -> tuple[int, int] | None:
    """(available, total) bytes of the machine's memory, where Linux says (None elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            fields = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if line.split()[1:2]}
        return fields["MemAvailable"], fields["MemTotal"]
    except (OSError, KeyError, ValueError, IndexError):
        return None


def active() -> Budget | None:
    return _active


def request_stop(signal_name: str) -> None:
    """Every engine stops at its next look (the search within a few hundred states, Z3 at once)."""
    global _signal
    _signal = _signal or signal_name


def stop_requested() -> str | None:
    return _signal


def clear_stop() -> None:
    global _signal
    _signal = None


@contextmanager
def interruptible(budget: Budget) -> Iterator[None]:
    """Pure-Python work that checks no flag (building Z3's encoding takes seconds on large
    instances) and is worthless unfinished: the deadline or a stop signal raises `Stopped`
    in it.  A SIGALRM timer looks every tenth of a second, in the main thread (elsewhere
    nothing interrupts it); it keeps looking because Python drops an exception raised
    while a destructor runs."""
    global _interruptible
    if (reason := budget.stop_reason()) is not None:
        raise Stopped(reason)
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGALRM, _alarm)
    start = time.perf_counter()
    theirs = signal.setitimer(signal.ITIMER_REAL, LOOK_EVERY, LOOK_EVERY)  # a caller's own timer, if any
    _interruptible = True
    try:
        yield
    except ctypes.ArgumentError as e:
        # `Stopped` raised while ctypes converted an argument of a Z3 call comes out as
        # ArgumentError("argument 1: Stopped: SIGTERM"): it is the stop, not a bug.
        if (reason := budget.stop_reason()) is None or "Stopped" not in str(e):
            raise
        raise Stopped(reason) from e
    finally:
        _interruptible = False
        left = theirs[0] - (time.perf_counter() - start)
        signal.setitimer(signal.ITIMER_REAL, max(left, 0.001) if theirs[0] > 0 else 0, theirs[1])
        signal.signal(signal.SIGALRM, old)


LOOK_EVERY = 0.1  # seconds


def _alarm(signum: int, frame: FrameType | None) -> None:
    if _interruptible and _active is not None and (reason := _active.stop_reason()) is not None:
        raise Stopped(reason)


def describe(stopped_by: str) -> str:
    """The limit in the words of the command line."""
    return {"max-states": "--max-states", "timeout": "--timeout", "memory": "memory",
            "SIGINT": "Ctrl-C (SIGINT)", "SIGTERM": "SIGTERM"}.get(stopped_by, stopped_by)


__all__ = ["Budget", "STOPPED_BY", "Stopped", "active", "budget", "clear_stop", "describe", "interruptible",
           "request_stop", "stop_requested"]
