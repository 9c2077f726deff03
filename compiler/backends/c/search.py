"""The compiled search as `irqc prove` runs it: compile, run, and replay in the reference.

`explore` answers what the Python simulator's `explore` answers (an object with the same
fields: states, depth, bound, complete, violations, seconds, reached), or None when the
Python search should run instead (asked for, no C compiler, a model the C search does not
handle, a failed compile; `notice` says why when C was asked for, and when a compile fails).
Under `auto` it may be the Python search's own result (`_race`).

Every violation path the program reports is replayed in the Python simulator `sim`, the
reference: the first state must be initial, each step must be the first action (in the
simulator's action order) that reaches the next state, and the last state or step must
violate the property.  Anything else raises `Disagreement`, which the engine reports as
a BackendDisagreement.  The paths become the same traces the Python search gives, because
both searches meet states in the same order (docs/prove.md, "Which counterexample").
"""
from __future__ import annotations

import array
import io
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from compiler import ir, limits
from compiler.backends.c import driver
from compiler.backends.c.driver import CompileError, RunError
from compiler.backends.c.generate import CUT_SCAN_STATES, Program, generate
from compiler.backends.c.layout import Layout, UnsupportedC

SEARCHES = ("auto", "python", "c")


__all__ = ["SEARCHES", "CResult", "CompileError", "Disagreement", "RunError", "explore", "run"]


class Disagreement(Exception):
    """The compiled search reports a path the Python simulator does not take: a bug in irqc."""


@dataclass(slots=True)
class CResult:
    """What the Python simulator's ExploreResult holds, plus the C program's own figures."""

    states: int
    depth: int
    bound: int | None
    violations: dict[str, tuple[int, list[tuple[tuple[int, ...], int | None]]]]
    seconds: float  # everything the C path cost: generating, compiling, searching, replaying
    search_seconds: float  # the compiled search alone
    max_states: int | None
    compile_seconds: float
    cached: bool
    memory: int  # bytes the program held for states and the hash set
    stopped: str | None
    reached: Iterator[tuple[int, ...]] | list[tuple[int, ...]] = field(default_factory=list)
    # A complete search: the actions (indices into the simulator's `actions`) some reachable
    # state has a successor by, so the coverage scan need not run step functions on every state.
    taken: frozenset[int] | None = None
    symmetry: tuple[int, ...] = ()  # the CPU ids it permuted (empty: it kept every state)
    dead: bool = False  # it stored states with their dead variables reset

    @property
    def complete(self) -> bool:
        return self.bound is None

    @property
    def rate(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else float("inf")


# The compiled search's default cap (no --max-states): the states that fit in MEMORY_BUDGET, or
# in half the memory available when it starts if that is less.  A state costs its packed bytes,
# its parent link and action (6 B), and its share of the hash set: 4 B slots at most 3/4 full,
# whose last growth is sized to the cap (TABLE_BYTES); the arrays grow to the cap, not past it.
# Never below MIN_DEFAULT_CAP (the fixed cap of before), never above MAX_DEFAULT_CAP (32-bit
# parent links).  With the budget fixed, the cap is the same on every machine with 7 GiB free:
# S6 at CPUS=3 (26 B a state) gets 98.9 million states, for its 56,790,700.
MEMORY_BUDGET = 7 * 2**29  # 3.5 GiB for the program, under 4 GB with irqc's own
MIN_DEFAULT_CAP, MAX_DEFAULT_CAP = 10_000_000, 1_000_000_000
TABLE_BYTES = 6  # 4 B / (3/4), rounded up


def memory_cap(program: Program) -> int:
    mem = limits.meminfo()
    budget = MEMORY_BUDGET if mem is None else min(MEMORY_BUDGET, mem[0] // 2)
    return max(MIN_DEFAULT_CAP, min(MAX_DEFAULT_CAP, budget // (program.state_bytes + program.link_bytes + TABLE_BYTES)))


def explore(model: ir.Model, params: dict[str, int], sim: Any, max_states: int | None, max_seconds: float | None,
            watch: Callable[[int, int], bool] | None = None, search: str = "auto",
            notice: Callable[[str], None] | None = None, opt: str = driver.OPT,
            python_max_states: int | None = None, symmetry: bool = False, dead: bool = False) -> Any:
    """The search result (the compiled search's; under `auto` perhaps the Python search's own), or
    None: run the Python search.  `max_states` None: `memory_cap`.  `python_max_states` caps the
    Python search that races the compiler (default: the compiled search's cap).  `symmetry`:
    keep one state per orbit of the CPU permutations, with the Python search's representatives
    (`sim.symmetry_tables()`); `dead`: reset the dead variables, as that search does (`sim.dead_tables()`)."""
    if search == "python":
        return None
    say = notice if search == "c" else None
    if driver.compiler() is None:
        _tell(say, "no C compiler found (cc, gcc or clang); using the Python search")
        return None
    t0 = time.perf_counter()
    tables = sim.symmetry_tables() if symmetry else None
    try:
        program = generate(model, params, tables, sim.dead_tables(symmetry) if dead else None)
    except UnsupportedC as e:
        _tell(say, f"the compiled search does not handle this model ({e}); using the Python search")
        return None
    cap = memory_cap(program) if max_states is None else max_states
    if search == "auto" and driver.cached(program.source, opt) is None:
        return _race(program, sim, cap, max_seconds, watch, notice, opt, t0,
                     cap if python_max_states is None else python_max_states)
    left = None if max_seconds is None else max_seconds - (time.perf_counter() - t0)
    try:
        return run(program, sim, cap, left, watch, opt)
    except CompileError as e:
        _tell(say, f"the C search did not compile ({e}); using the Python search")
        return None


def _race(program: Program, sim: Any, max_states: int | None, max_seconds: float | None,
          watch: Callable[[int, int], bool] | None, notice: Callable[[str], None] | None, opt: str,
          t0: float, python_max_states: int | None) -> Any:
    """`auto` without a compiled program: the Python search runs while the compiler does (on
    another core, where there is one).  A search that finishes first is the answer and the
    compile is dropped, so a small spec never waits for the compiler; one still running when
    the program is ready stops, and the compiled search starts over and overtakes it."""
    try:
        job = driver.Compile(program.source, opt)
    except CompileError as e:
        _tell(notice, f"the C search did not compile ({e}); using the Python search")
        return None
    ready = False

    def racing(states: int, depth: int) -> bool:
        nonlocal ready
        if watch is not None and watch(states, depth):
            return True
        ready = job.done()
        return ready

    before = getattr(sim, "watch", None)
    sim.watch = racing  # the Python search asks it every few hundred states
    try:
        result = sim.explore(python_max_states, max_seconds, symmetry=bool(program.symmetry), dead=program.dead)
    except BaseException:
        job.cancel()
        raise
    finally:
        sim.watch = before
    if not ready:
        job.cancel()
        return result
    left = None if max_seconds is None else max_seconds - (time.perf_counter() - t0)
    try:
        return run(program, sim, max_states, left, watch, opt, job)
    except CompileError as e:
        _tell(notice, f"the C search did not compile ({e}); using the Python search")
        return None


def _tell(notice: Callable[[str], None] | None, line: str) -> None:
    if notice is not None:
        notice(line)


def run(program: Program, sim: Any, max_states: int | None, max_seconds: float | None,
        watch: Callable[[int, int], bool] | None = None, opt: str = driver.OPT,
        pending: driver.Compile | None = None) -> CResult:
    """Compile (cached; or finish `pending`) and run `program`, replay its paths in `sim`;
    raises driver errors."""
    t0 = time.perf_counter()
    budget = limits.active()
    if budget is not None and (pending is not None or driver.cached(program.source, opt) is None):
        budget.status = f"compiling the exhaustive search ({opt})"
    with driver.build(program.source, opt, pending) as built, tempfile.TemporaryDirectory(prefix="irqc-states-") as tmp:
        left = None if max_seconds is None else max_seconds - (time.perf_counter() - t0)
        initial = Path(tmp) / "initial"
        try:
            initial.write_bytes(_initial_states(program.layout, sim, left, watch))
        except sim.SearchStopped:
            return CResult(0, 0, -1, {}, time.perf_counter() - t0, 0.0, max_states, built.seconds, built.cached, 0,
                           None, [])  # the engine names the limit: the watch's, or the time
        left = None if max_seconds is None else max_seconds - (time.perf_counter() - t0)
        dump = Path(tmp) / "states"
        doc = driver.run(built.exe, max_states, left, dump, initial, watch)
        if not doc["dumped"] and doc["stopped"] not in ("SIGINT", "SIGTERM"):
            raise CompileError(f"the compiled search could not write the states it met into {tmp}")
        # Read lazily: a cut search of tens of millions of states writes gigabytes, and the
        # coverage scan usually stops after the first states.  The open file outlives the folder.
        states: BinaryIO = dump.open("rb") if doc["dumped"] else io.BytesIO()
    found = {program.properties[v["prop"]]: v["depth"] for v in doc["violations"]}
    violations = {program.properties[v["prop"]]: _replayed_keyed(sim, program, program.properties[v["prop"]],
                                                                 v["depth"], v["path"], found)
                  if program.symmetry or program.dead else _replayed(sim, program.properties[v["prop"]], v["depth"], v["path"])
                  for v in doc["violations"]}
    # The order the Python search reports them in: by depth, then name.
    violations = dict(sorted(violations.items(), key=lambda kv: (kv[1][0], kv[0])))
    reached = _unpack(states, program.layout)
    return CResult(doc["states"], doc["depth"], doc["bound"], violations, time.perf_counter() - t0, doc["seconds"],
                   max_states, built.seconds, built.cached, doc["memory"], doc["stopped"],
                   reached if doc["bound"] is None else _while_budget_lasts(reached),
                   frozenset(doc["taken"]) if doc["bound"] is None else None, program.symmetry, program.dead)


def _initial_states(layout: Layout, sim: Any, max_seconds: float | None,
                    watch: Callable[[int, int], bool] | None) -> bytes:
    """The simulator's initial states as the program's cells (value - the slot's low end),
    in its order; raises sim.SearchStopped when `watch` or the time stops the enumeration."""
    deadline = None if max_seconds is None else time.perf_counter() + max_seconds

    def stop() -> bool:
        return deadline is not None and time.perf_counter() > deadline or watch is not None and watch(0, 0)

    cells = array.array("B" if layout.cell_bits == 8 else "H")
    for s in sim.initial_states(stop):
        cells.extend(v - low for v, low in zip(s, layout.lo))
    return cells.tobytes()


def _unpack(states: BinaryIO, layout: Layout) -> Iterator[tuple[int, ...]]:
    """The states the program met, in the order it met them (the Python search's `reached`),
    read from its dump a block at a time, with the few slots whose type starts below 0 fixed
    up one by one: the coverage scan may read millions of states, or only the first few."""
    cell = layout.cell_bits // 8
    per_word = 8 // cell
    step = -(-max(layout.size, 1) // per_word) * per_word  # cells per state, as the program pads them
    size, shifted = layout.size, [(j, low) for j, low in enumerate(layout.lo) if low]
    with states:
        while block := states.read(step * cell * 8192):
            view: Any = block if cell == 1 else memoryview(block).cast("H")
            for k in range(0, len(view), step):
                if not shifted:
                    yield tuple(view[k:k + size])
                    continue
                t = list(view[k:k + size])
                for j, low in shifted:
                    t[j] += low
                yield tuple(t)


def _while_budget_lasts(states: Iterator[tuple[int, ...]]) -> Iterator[tuple[int, ...]]:
    """The states of a cut search, until the run's budget is spent, and at most the first
    CUT_SCAN_STATES.  The coverage scan reads them in Python, and a cut compiled search meets
    tens of millions: reading them all took minutes, and could overrun --timeout many times.
    (The scan says how many it looked at; a complete search is always read in full.)"""
    for k, s in enumerate(states):
        if k >= CUT_SCAN_STATES or not k & 1023 and _budget_spent():
            return
        yield s


def _budget_spent() -> bool:
    budget = limits.active()
    return budget is not None and budget.stop_reason() is not None


# --------------------------------------------------------------------------- replay in the reference


def _replayed(sim: Any, prop: str, depth: int, raw: list[list[Any]]) -> tuple[int, list[tuple[tuple[int, ...], int | None]]]:
    path = [(tuple(values), aid) for aid, values in raw]
    check = _is_check(sim, prop)
    if len(path) != depth + 1:
        raise Disagreement(f"`{prop}`: the compiled search reports depth {depth} with a path of {len(path) - 1} steps")
    first, aid0 = path[0]
    if aid0 is not None or not sim.is_initial(first):
        raise Disagreement(f"`{prop}`: the compiled search's path starts in {first}, not an initial state")
    steps = path[1:-1] if check else path[1:]
    prev = first
    for k, (state, aid) in enumerate(steps, 1):
        want = next((a for a, t, _ in sim.step_all(prev) if t == state), None)
        if want != aid:
            raise Disagreement(f"`{prop}`: step {k} of the compiled search's path is action {aid}, but the "
                               f"simulator's first action to that state is {want}")
        prev = state
    if check:
        last, aid = path[-1]
        want = next((a for a, _, props in sim.step_all(prev) if props and prop in props), None)
        if last != prev or want != aid:
            raise Disagreement(f"`{prop}`: the compiled search says action {aid} fails the check at step {depth}; "
                               f"the simulator's first failing action there is {want}")
    elif prop not in sim.violated(prev):
        raise Disagreement(f"`{prop}`: the compiled search's path ends in a state where the simulator finds it holds")
    return depth, path


def _replayed_keyed(sim: Any, program: Program, prop: str, depth: int, raw: list[list[Any]],
                    found: dict[str, int]) -> tuple[int, list[tuple[tuple[int, ...], int | None]]]:
    """A path of stored states (orbit representatives, dead variables reset) as the concrete run
    the Python search with the same reductions reports (`sim.run_through`): each step is the
    first action to a state stored as the next one."""
    states = [tuple(values) for _, values in raw]
    check = _is_check(sim, prop)
    if len(states) != depth + 1:
        raise Disagreement(f"`{prop}`: the compiled search reports depth {depth} "
                           f"with a path of {len(states) - 1} steps")
    try:
        path: list[tuple[tuple[int, ...], int | None]] = sim.run_through(
            states[:-1] if check else states, prop, check, bool(program.symmetry), program.dead, found)
    except (AssertionError, StopIteration) as e:
        raise Disagreement(f"`{prop}`: the compiled search's path of stored states does not replay: {e}") from e
    if check and states[-1] != states[-2]:
        raise Disagreement(f"`{prop}`: the compiled search's check path does not repeat its last state")
    return depth, path


def _is_check(sim: Any, prop: str) -> bool:
    for p in sim.properties:
        if p.name == prop:
            return p.fn is None
    raise Disagreement(f"the compiled search reports `{prop}`, which the simulator does not know")
