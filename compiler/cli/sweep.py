"""`irqc prove SPEC... --param CPUS=2..4`: the matrix of specs × parameter values in one command.

Each cell of the matrix (one spec at one set of parameter values) is a run of its own, in a
process of its own (`python -m compiler.cli.sweep CELL`): Z3's Python API is not safe from two
threads of one process, and a process per cell gives each run its own `--timeout` budget and
stop signal, exactly as a single `irqc prove` has (compiler/limits.py, compiler/cli/watchdog.py).
The cells run in local processes (`--jobs`, default one per core) or as tasks of a Dask cluster
(`--scheduler`), each task starting the same process; Dask is imported only then.

A cell's process runs in a session of its own, so that the terminal's Ctrl-C reaches only the
sweep, which forwards it once to every running cell (two would make a cell give up without
results); cells not started by then are reported as not run.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from compiler import limits
from compiler.cli import EXIT_INTERNAL, EXIT_OK, EXIT_STRICT, EXIT_USAGE, aligned

if TYPE_CHECKING:
    from compiler import ir
    from compiler.results import PropertyResult
    from dsl.diagnostics import Diagnostics

MAX_CELLS = 64
# From best to worst: the sweep exits with the worst status of its cells.
_SEVERITY = (0, 4, 3, 1, 2, 143, 130, 70)
# The options of `irqc prove` a cell's run takes over; the others are refused or the sweep's own.
_FORWARDED = ("depth", "property", "timeout", "max_k", "engine", "search", "symmetry", "dead_vars", "max_states", "strict",
              "cross_check")
_FORMS = "an integer, a range A..B or a list V1,V2,..., e.g. `--param CPUS=2..4`"
_POLL = 0.2  # seconds between looks at a cell's process and at the stop request
_STOPS = {signal.SIGINT, signal.SIGTERM}

StopCheck = Callable[[], "str | None"]  # the stop signal's name ("SIGINT", "SIGTERM"), or None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="run the specs × --param values matrix in N processes (default: one per core); a "
                        "--param range A..B or list V1,V2 makes a matrix too (docs/prove.md, sweeps)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the matrix's cells on the Dask cluster at ADDRESS (tcp://host:port); needs "
                        "pip install 'irqc[dask]'")


def wanted(args: argparse.Namespace) -> bool:
    """A matrix: some --param has a range or a list, or --jobs or --scheduler is given."""
    return (args.jobs is not None or args.scheduler is not None
            or any(_swept(s.partition("=")[2]) for s in args.param))


def _swept(value: str) -> bool:
    return ".." in value or "," in value


# --------------------------------------------------------------------------- the matrix


@dataclass(frozen=True, slots=True)
class Axis:
    name: str
    values: tuple[int, ...]


def parse(settings: list[str], diags: Diagnostics) -> tuple[dict[str, int], list[Axis]]:
    """`--param` settings -> the single values and the swept axes, in the order given; a bad
    setting is an E306 diagnostic."""
    fixed: dict[str, int] = {}
    axes: list[Axis] = []
    seen: set[str] = set()
    for s in settings:
        name, eq, text = s.partition("=")
        name = name.strip()
        values = _values(text) if eq and name.isidentifier() else f"expected NAME=VALUE ({_FORMS})"
        if isinstance(values, str):
            diags.error("E306", f"`--param {s}`: {values}", None)
        elif name in seen:
            diags.error("E306", f"`--param {s}`: `{name}` is given twice", None)
        elif _swept(text):
            axes.append(Axis(name, values))
        else:
            fixed[name] = values[0]
        seen.add(name)
    return fixed, axes


def _values(text: str) -> tuple[int, ...] | str:
    """`3`, `2..4`, `2,3,5` (or `1,3..4`) -> the values, in order and without repeats; or what is wrong."""
    out: list[int] = []
    for item in text.split(","):
        low_text, dots, high_text = item.partition("..")
        try:
            low = int(low_text.strip(), 0)
            high = int(high_text.strip(), 0) if dots else low
        except ValueError:
            return f"`{item.strip()}` is not a value ({_FORMS})"
        if high < low:
            return f"the range {low}..{high} is empty"
        if len(out) + high - low >= MAX_CELLS:  # before building it: `1..10**9` must not fill memory
            return f"more than {MAX_CELLS} values (a sweep has at most {MAX_CELLS} runs)"
        out.extend(range(low, high + 1))
    return tuple(dict.fromkeys(out))


def columns(axes: list[Axis]) -> list[dict[str, int]]:
    """One column per combination of the axes' values (their cross product, first axis slowest)."""
    return [dict(zip([a.name for a in axes], values)) for values in itertools.product(*(a.values for a in axes))]


def label(column: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in column.items()) or "result"


@dataclass(frozen=True, slots=True)
class Cell:
    path: str
    params: dict[str, int]  # the run's --param values: the single ones and its column's
    column: str  # the column's label, "CPUS=3"
    options: dict[str, Any]  # the forwarded options of `irqc prove`
    cwd: str  # the sweep's directory: the paths as given are relative to it


@dataclass(slots=True)
class CellResult:
    cell: Cell
    exit: int | None  # None: never started (the sweep was stopped first)
    verdicts: dict[str, str] = field(default_factory=dict)  # property -> its table cell
    doc: dict[str, Any] | None = None  # the run's --json document
    errors: str = ""  # what the run wrote to stderr, when it failed
    seconds: float = 0.0


# --------------------------------------------------------------------------- the command


class SweepError(Exception):
    """A bad command line found while the sweep starts (exit status 2)."""


def run(args: argparse.Namespace) -> int:
    from compiler.cli import usage_error

    if (msg := _bad_options(args)) is not None:
        return usage_error(msg, as_json=args.json)
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    cells, models = loaded
    try:
        results, stopped = _run_cells(cells, args)
    except SweepError as e:
        return usage_error(str(e), as_json=args.json)
    _print(results, models, args)
    if stopped is not None:
        return _stopped(stopped, [r.cell for r in results if r.exit is None])
    return max((r.exit for r in results if r.exit is not None), key=_severity, default=EXIT_OK)


def _bad_options(args: argparse.Namespace) -> str | None:
    if args.jobs is not None and args.jobs < 1:
        return f"--jobs {args.jobs}: must be 1 or more"
    if args.jobs is not None and args.scheduler is not None:
        return "--jobs and --scheduler: choose one (the cluster's workers decide how many cells run at once)"
    for option, given in (("--all-cpus", args.all_cpus), ("--trace-out", args.trace_out),
                          ("--sarif", args.sarif), ("--style lkml", args.style == "lkml")):
        if given:
            return (f"{option} is not available in a sweep (the table shows no counterexample): run the "
                    "spec alone at one parameter value")
    return None


def _load(args: argparse.Namespace) -> tuple[list[Cell], dict[str, ir.Model]] | int:
    """The cells, and each spec's model at the first column (which checks the parameter and
    property names); or the exit status of bad input, reported."""
    from compiler.cli import emit_diagnostics_json, usage_error
    from compiler.cli.prove import _unknown_names
    from compiler.pipeline import load_model, spec_files
    from dsl.diagnostics import Diagnostics, render_all

    diags = Diagnostics()
    files = spec_files(args.paths, diags)
    fixed, axes = parse(args.param, diags)
    cols = columns(axes)
    if not diags.has_errors and len(files) * len(cols) > MAX_CELLS:
        return usage_error(f"the sweep has {len(files) * len(cols)} runs ({len(files)} specs × {len(cols)} "
                           f"parameter values); at most {MAX_CELLS} in one command", as_json=args.json)
    models: dict[str, ir.Model] = {}
    for path in files if not diags.has_errors else []:
        if (model := load_model(path, {**fixed, **cols[0]}, diags)) is not None:
            models[path] = model
    if diags.has_errors:
        if args.json:
            emit_diagnostics_json(diags, sys.stdout)
        else:
            sys.stderr.write(render_all(diags) + "\n")
        return EXIT_USAGE
    if (msg := _unknown_names(list(models.items()), {**fixed, **cols[0]}, args.property)) is not None:
        return usage_error(msg, as_json=args.json)
    options = {name: getattr(args, name) for name in _FORWARDED}
    cells = [Cell(path, {**fixed, **col}, label(col), options, os.getcwd()) for path in files for col in cols]
    return cells, models


def _severity(code: int) -> int:
    return _SEVERITY.index(code) if code in _SEVERITY else len(_SEVERITY)


def _stopped(signal_name: str, not_run: list[Cell]) -> int:
    from compiler.cli.watchdog import EXIT_STATUS

    rest = f"; not run: {', '.join(f'{c.path} ({c.column})' for c in not_run)}" if not_run else ""
    sys.stderr.write(f"irqc prove: stopped by {limits.describe(signal_name)}: the results above are what was "
                     f"established before it{rest}\n")
    return EXIT_STATUS[signal_name]


# --------------------------------------------------------------------------- running the cells


class _Future(Protocol):
    def done(self) -> bool: ...

    def result(self) -> CellResult: ...


def _run_cells(cells: list[Cell], args: argparse.Namespace) -> tuple[list[CellResult], str | None]:
    """Every cell's result, and the stop signal that ended the sweep early, if one did."""
    from compiler.cli.watchdog import Watchdog

    # The watchdog turns the first Ctrl-C into a stop request, which the cells are given,
    # and a second one into KeyboardInterrupt.
    with Watchdog(sys.stderr, quiet=True, interrupt=lambda: None):
        if args.scheduler is not None:
            results = _on_dask(cells, args.scheduler, args.quiet)
        else:
            results = _in_processes(cells, args.jobs or _cores(), args.quiet)
        return results, limits.stop_requested()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_LIVE: set[subprocess.Popen[str]] = set()  # the cells' processes now running in this process


def _in_processes(cells: list[Cell], jobs: int, quiet: bool) -> list[CellResult]:
    # Threads only wait for the cells' processes; no Z3 runs in them.
    pool = ThreadPoolExecutor(max_workers=min(jobs, len(cells)), thread_name_prefix="irqc-sweep")
    try:
        futures = [pool.submit(run_cell, cell, limits.stop_requested) for cell in cells]
        return _collect(futures, cells, lambda: None, quiet)
    finally:
        for proc in list(_LIVE):  # only after a second Ctrl-C: the cells gave up
            proc.kill()
        pool.shutdown(wait=True, cancel_futures=True)


def _on_dask(cells: list[Cell], address: str, quiet: bool) -> list[CellResult]:
    try:
        from distributed import Client, Event
    except ImportError:
        raise SweepError("--scheduler needs Dask: pip install 'irqc[dask]'") from None
    try:
        client = Client(address, timeout=10)
    except Exception as e:  # noqa: BLE001 - Dask raises OSError, TimeoutError, ValueError... for a bad address
        raise SweepError(f"--scheduler {address}: cannot connect ({e})") from None
    with client:
        stop_name = f"irqc-sweep-stop-{os.getpid()}-{time.time_ns()}"
        stop = Event(stop_name, client=client)
        futures = [client.submit(dask_cell, cell, stop_name, pure=False) for cell in cells]
        return _collect(futures, cells, stop.set, quiet)


def dask_cell(cell: Cell, stop_name: str) -> CellResult:
    """A Dask task: the cell's own process, stopped when the sweep sets its stop event."""
    from distributed import Event

    stop = Event(stop_name)
    return run_cell(cell, lambda: "SIGINT" if stop.is_set() else None)


def _collect(futures: Sequence[_Future], cells: list[Cell], on_stop: Callable[[], None],
             quiet: bool) -> list[CellResult]:
    """Wait for every cell, looking for a stop request in between (signal handlers run in this thread)."""
    done: dict[int, CellResult] = {}
    stopping = False
    while len(done) < len(futures):
        if not stopping and limits.stop_requested() is not None:
            on_stop()
            stopping = True
        for i, future in enumerate(futures):
            if i not in done and future.done():
                done[i] = _outcome(future, cells[i])
                if not quiet and done[i].exit is not None:
                    sys.stderr.write(f"irqc prove: progress: {len(done)}/{len(futures)} runs: {cells[i].path} "
                                     f"({cells[i].column}) done in {done[i].seconds:.1f} s\n")
        time.sleep(_POLL / 2)
    return [done[i] for i in range(len(futures))]


def _outcome(future: _Future, cell: Cell) -> CellResult:
    try:
        return future.result()
    except Exception as e:  # noqa: BLE001 - a Dask worker's failure (irqc missing there, a lost worker)
        return CellResult(cell, EXIT_INTERNAL, errors=f"irqc prove: {cell.path} ({cell.column}): the worker "
                                                      f"failed: {type(e).__name__}: {e}\n")


def run_cell(cell: Cell, should_stop: StopCheck) -> CellResult:
    """Run one cell in its own process; forward a stop signal to it once `should_stop` names one."""
    if should_stop() is not None:
        return CellResult(cell, None)
    request = {"path": cell.path, "params": cell.params, "options": cell.options}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "compiler.cli.sweep", json.dumps(request)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            cwd=cell.cwd if os.path.isdir(cell.cwd) else None)
    _LIVE.add(proc)
    forwarded = False
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=_POLL)  # output is kept across retries
                break
            except subprocess.TimeoutExpired:
                if not forwarded and (name := should_stop()) is not None:
                    proc.send_signal(signal.Signals[name])
                    forwarded = True
    finally:
        _LIVE.discard(proc)
    return _reply(cell, proc.returncode, out, err, time.perf_counter() - start)


def _reply(cell: Cell, code: int, out: str, err: str, seconds: float) -> CellResult:
    try:
        reply = json.loads(out)
    except ValueError:  # the process crashed (or was killed) before its answer
        reply = {}
    if code < 0 or "exit" not in reply:
        return CellResult(cell, EXIT_INTERNAL, errors=err or f"the process ended with status {code}\n",
                          seconds=seconds)
    return CellResult(cell, int(reply["exit"]), dict(reply.get("verdicts", {})), reply.get("doc"),
                      "" if reply.get("doc") is not None else err, seconds)


# --------------------------------------------------------------------------- one cell, in its process


def cell_main(argv: Sequence[str]) -> int:
    """`python -m compiler.cli.sweep REQUEST`: prove one spec at one set of parameter values, quietly,
    and print `{"exit": N, "verdicts": {...}, "doc": {...}}` on stdout."""
    request = json.loads(argv[0])
    # A stop forwarded while the spec loads waits for the watchdog, which reports it (unhandled,
    # it would kill the run without its results).
    _mask(signal.SIG_BLOCK)
    _exit_with_parent()
    args = argparse.Namespace(**request["options"], quiet=True, trace_out=None)
    code, reply = _prove_cell(request["path"], {k: int(v) for k, v in request["params"].items()}, args)
    sys.stdout.write(json.dumps({"exit": code, **reply}) + "\n")
    return code


def _prove_cell(path: str, params: dict[str, int], args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    from compiler.backends.z3 import interrupt as z3_interrupt
    from compiler.cli import prove
    from compiler.cli.watchdog import EXIT_STATUS, Watchdog
    from compiler.coverage import suspicious
    from compiler.engine import BackendDisagreement
    from compiler.pipeline import load_model
    from dsl.diagnostics import Diagnostics, render_all

    diags = Diagnostics()
    model = load_model(path, params, diags)
    if model is None:
        sys.stderr.write(render_all(diags) + "\n")
        return EXIT_USAGE, {}
    try:
        with Watchdog(sys.stderr, quiet=True, interrupt=z3_interrupt):
            _mask(signal.SIG_UNBLOCK)
            done = prove._prove_one(path, model, params, args)
            stopped = limits.stop_requested()
    except BackendDisagreement as e:
        sys.stderr.write(f"irqc: internal error: the two backends disagree: {e}\n"
                         "This is a bug in irqc's compiler; please report it with the spec and the command.\n")
        return EXIT_INTERNAL, {}
    code = EXIT_STATUS[stopped] if stopped is not None else prove.exit_status(done.results)
    if code == EXIT_OK and args.strict and suspicious(done.scan, done.results):
        code = EXIT_STRICT
    return code, {"verdicts": {r.property: verdict_cell(r) for r in done.results}, "doc": prove.spec_json(done)}


def _mask(how: int) -> None:
    if hasattr(signal, "pthread_sigmask"):  # POSIX
        signal.pthread_sigmask(how, _STOPS)


def _exit_with_parent() -> None:
    """The cell is in a session of its own, out of reach of the terminal's Ctrl-C: if the sweep
    dies without forwarding a stop, the cell stops itself rather than run on unseen."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="irqc-orphan-watch", daemon=True).start()


def verdict_cell(r: PropertyResult) -> str:
    """The table's short form: `proved`, `violated@11`, `holds≤40`, `inconclusive`."""
    if r.verdict in ("violated", "covered"):
        return f"{r.verdict}@{r.depth}"
    if r.verdict in ("holds", "not_covered"):
        return f"{r.verdict.replace('_', ' ')}≤{r.depth}"
    return r.verdict


# --------------------------------------------------------------------------- output


def _print(results: list[CellResult], models: dict[str, ir.Model], args: argparse.Namespace) -> None:
    if args.json:  # a run that failed has no document: its diagnostics go to stderr, as the text's do
        from compiler.cli.prove import prove_document

        docs = [r.doc for r in results if r.doc is not None]
        sys.stdout.write(json.dumps(prove_document(docs), indent=2) + "\n")
    else:
        sys.stdout.write(table(results, models, args.property) + "\n")
    for r in results:
        if r.errors:
            sys.stderr.write(r.errors if r.errors.endswith("\n") else r.errors + "\n")


def table(results: list[CellResult], models: dict[str, ir.Model], wanted: list[str]) -> str:
    """One row per spec and property, one column per parameter value."""
    labels = list(dict.fromkeys(r.cell.column for r in results))
    by_cell = {(r.cell.path, r.cell.column): r for r in results}
    head = ["spec", "property", *labels]
    body = [[model.name, prop.name, *(_cell_text(by_cell[path, col], prop.name) for col in labels)]
            for path, model in models.items() for prop in model.properties if not wanted or prop.name in wanted]
    return aligned([head, *body])


def _cell_text(r: CellResult, prop: str) -> str:
    if prop in r.verdicts:
        return r.verdicts[prop]
    return {None: "not run", EXIT_USAGE: "bad input"}.get(r.exit, "error")


if __name__ == "__main__":
    sys.exit(cell_main(sys.argv[1:]))
