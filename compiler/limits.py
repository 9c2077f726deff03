"""The limits every engine of one spec's run obeys, and which one stopped it.

One `Budget` is in force per spec (`budget()`): its wall-clock deadline is `--timeout`
for every engine together, and a stop signal (Ctrl-C, SIGTERM) ends them all.  It
is module state, not a parameter, because the engines nest (the conductor calls Z3
for counterexamples inside its own run) and a watchdog thread must see it too.

`stopped_by` values, as the JSON output carries them: "max-states", "timeout",
"memory", "SIGINT", "SIGTERM".
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

STOPPED_BY = ("max-states", "timeout", "memory", "SIGINT", "SIGTERM")

_signal: str | None = None  # the stop signal received, for the whole process
_active: Budget | None = None


@dataclass(slots=True)
class Budget:
    timeout: float | None  # seconds for every engine together; None: unlimited
    label: str = ""  # the spec, for progress lines
    start: float = field(default_factory=time.perf_counter)
    status: str = ""  # what runs now ("exhaustive search: ...", "Z3 BMC: depth 12/40"), for progress lines

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


def describe(stopped_by: str) -> str:
    """The limit in the words of the command line."""
    return {"max-states": "--max-states", "timeout": "--timeout", "memory": "memory",
            "SIGINT": "Ctrl-C (SIGINT)", "SIGTERM": "SIGTERM"}.get(stopped_by, stopped_by)


__all__ = ["Budget", "STOPPED_BY", "active", "budget", "clear_stop", "describe", "request_stop", "stop_requested"]
