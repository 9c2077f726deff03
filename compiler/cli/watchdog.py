"""While `irqc prove` works: Ctrl-C and SIGTERM stop every engine, and a progress line says
what runs.

A Python signal handler runs only when the main thread is back in Python, never while it
is inside Z3's C code; so the signal is also written to a socket (`signal.set_wakeup_fd`),
and a thread reading it interrupts Z3 at once.  The same thread writes the progress line.
The first signal asks every engine to stop and report what it established
(`compiler.limits`); a second one gives up at once (KeyboardInterrupt).
"""
from __future__ import annotations

import select
import signal
import socket
import threading
import time
from types import FrameType, TracebackType
from typing import Any, Callable, TextIO

from compiler import limits

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_STATUS = {"SIGINT": 130, "SIGTERM": 143}  # 128 + the signal number, as a shell reports it


class Watchdog:
    def __init__(self, stream: TextIO, *, quiet: bool, interrupt: Callable[[], None],
                 every: float | None = None) -> None:
        self.stream, self.quiet, self.interrupt = stream, quiet, interrupt
        self.tty = _isatty(stream)
        # A terminal's line is redrawn in place; elsewhere (a CI log) one line every few seconds.
        self.every = every if every is not None else (0.5 if self.tty else 5.0)
        self.started = time.perf_counter()
        self.drawn = False
        self.signals = 0
        self.done = threading.Event()
        self.thread: threading.Thread | None = None
        self.old_handlers: dict[int, Any] = {}
        self.old_wakeup = -1
        self.reader: socket.socket | None = None
        self.writer: socket.socket | None = None

    def __enter__(self) -> Watchdog:
        limits.clear_stop()
        if threading.current_thread() is threading.main_thread():
            self._install()
        self.thread = threading.Thread(target=self._run, name="irqc-watchdog", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.done.set()
        if self.writer is not None:
            self.writer.send(b"\0")  # wake the thread now
        if self.thread is not None:
            self.thread.join()
        self._uninstall()
        self._clear()
        limits.clear_stop()  # the caller read it inside; a later run in this process starts afresh

    # ----------------------------------------------------------------- signals

    def _install(self) -> None:
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)
        for sig in STOP_SIGNALS:
            self.old_handlers[sig] = signal.signal(sig, self._on_signal)
        self.old_wakeup = signal.set_wakeup_fd(self.writer.fileno(), warn_on_full_buffer=False)

    def _uninstall(self) -> None:
        if self.writer is None or self.reader is None:
            return
        signal.set_wakeup_fd(self.old_wakeup)
        for sig, old in self.old_handlers.items():
            signal.signal(sig, old)
        self.reader.close()
        self.writer.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """In the main thread, once it is back in Python (the thread has already interrupted Z3)."""
        self.signals += 1
        limits.request_stop(signal.Signals(signum).name)
        if self.signals >= 2:
            raise KeyboardInterrupt  # a second Ctrl-C: do not wait for the engines

    # ----------------------------------------------------------------- the thread

    def _run(self) -> None:
        next_line = self.started + self.every
        while not self.done.is_set():
            wait = max(0.0, next_line - time.perf_counter())
            if self.reader is not None:
                ready, _, _ = select.select([self.reader], [], [], wait)
                if ready:
                    self._read_signals()
            else:
                self.done.wait(wait)
            if time.perf_counter() >= next_line and not self.done.is_set():
                self._progress()
                next_line = time.perf_counter() + self.every

    def _read_signals(self) -> None:
        assert self.reader is not None
        try:
            data = self.reader.recv(64)
        except BlockingIOError:
            return
        for byte in data:
            if byte in [int(s) for s in STOP_SIGNALS]:
                limits.request_stop(signal.Signals(byte).name)
                self.interrupt()

    def _progress(self) -> None:
        budget = limits.active()
        if self.quiet or budget is None or not budget.status:
            return
        line = f"{budget.label}: {budget.status}, {budget.elapsed():.0f} s"
        if self.tty:
            self.stream.write(f"\r{line}\x1b[K")
            self.drawn = True
        else:
            self.stream.write(f"irqc prove: progress: {line}\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["EXIT_STATUS", "STOP_SIGNALS", "Watchdog"]
