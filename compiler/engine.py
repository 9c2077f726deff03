"""What `irqc prove` runs: the two backends together, each where it is strongest.

1. Exhaustive search.  The generated simulator explores the finite instance breadth
   first, up to `max_states`.  When it finishes, it has seen every reachable state,
   so a property it found no violation of is *proved* for these parameters, at every
   depth.  The shipped IMSIC models have a diameter of 80 steps, far beyond what a SAT
   unrolling reaches.
2. Z3 bounded model checking gives every counterexample.  For a property the search
   found violated at depth d, BMC must find a violation at exactly depth d, and that
   is the trace irqc prints and writes.  Any other answer means the two backends give
   the spec different meanings: a compiler bug, raised as `BackendDisagreement`.
3. When the search cannot finish within `max_states`, its violations are still
   shortest (and traced as in 2).  For the rest: if it examined every run of up to
   `depth` steps, that is the bounded verdict ("holds up to depth B"); otherwise BMC
   to `depth` and then k-induction decide, exactly as with `engine="bmc"`.

`engine="ic3"` runs Z3's Spacer alone instead (compiler/backends/z3/ic3.py): proofs with a
re-checked inductive invariant, violations as bounded model checking finds them.  It is not
part of "auto": on a cut search it would turn "holds up to depth K" into "proved", a
different verdict, at a cost no budget estimates.

Limits (`compiler.limits`): `timeout` is one deadline for every engine of the call.
The search may use half of it, so that Z3 keeps time for the counterexamples and for
the bounded run after a cut search.  Whatever stops an engine (`--max-states`, the
deadline, memory, a stop signal) is named in each result it leaves unsettled
(`stopped_by`), and what the search established is kept: its violations (with its own
trace when Z3 is stopped before confirming them) and the depth it covered.
"""
from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from compiler import ir, limits
from compiler.backends.c import search as c_search
from compiler.backends.python.cache import simulator as cached_simulator
from compiler.backends.z3 import DEFAULT_DEPTH, DEFAULT_MAX_K, prove
from compiler.backends.z3.confirm import confirm_trace
from compiler.backends.z3.ic3 import InvariantRejected, prove_ic3
from compiler.backends.z3.layout import Layout
from compiler.backends.z3.system import encoding
from compiler.coverage import Scan, finish, judge_covers, scan
from compiler.results import PropertyResult
from compiler.trace import Trace, from_itf

DEFAULT_MAX_STATES = 2_000_000  # the Python search's default cap: about 1-1.2 GB of states
# The compiled search's default cap is sized from the memory available when it starts
# (compiler/backends/c/search.py, `memory_cap`), never below this.
DEFAULT_MAX_STATES_C = c_search.MIN_DEFAULT_CAP
# Z3's own budget after a cut search when no --timeout is given: a bounded run from scratch to
# --depth on an instance the search could not finish can take hours, and nothing would be printed.
Z3_AFTER_CUT = 120.0
ENGINES = ("auto", "bmc", "ic3")


class BackendDisagreement(Exception):
    """The simulator and the Z3 encoding disagree about a spec: a bug in irqc."""


@dataclass(frozen=True, slots=True)
class Search:
    """What the exhaustive search established (or how far it got)."""

    complete: bool
    states: int
    depth: int  # the deepest layer: the instance's diameter when complete
    covered: int | None  # every run of up to this many steps was examined
    violations: dict[str, int]  # property -> shortest violation depth
    seconds: float
    stopped_by: str | None = None  # the limit that cut it (compiler.limits); None when complete
    traces: dict[str, Any] = field(default_factory=dict)  # property -> the search's own trace (ITF)
    scan: Scan | None = None  # coverage and vacuity, from the states it reached (compiler.coverage)
    symmetry: tuple[int, ...] = ()  # the CPU ids it permuted (compiler/symmetry.py): states are orbits
    dead: bool = False  # it stored states with their dead variables reset (compiler/liveness.py)


def check(model: ir.Model, params: dict[str, int], *, depth: int = DEFAULT_DEPTH,
          properties: Sequence[str] | None = None, timeout: float | None = None, max_k: int = DEFAULT_MAX_K,
          max_states: int | None = None, engine: str = "auto", search_with: str = "auto",
          progress: Callable[[int, float], None] | None = None,
          notice: Callable[[str], None] | None = None,
          on_scan: Callable[[Scan], None] | None = None, symmetry: str = "auto", dead: str = "auto",
          cross_check: bool = False) -> list[PropertyResult]:
    """Verdicts for the selected properties (default: all), in the model's property order.
    `timeout` bounds the whole call; `notice` receives a line worth telling the user before a long wait;
    `on_scan` the search's coverage and vacuity (not called when no search ran); `search_with` is
    "python", "c" (the compiled search) or "auto" (compiler/backends/c/search.py says which).
    `max_states` None is each search's own default cap (DEFAULT_MAX_STATES, DEFAULT_MAX_STATES_C);
    `cross_check` has Z3 BMC re-derive each violation's least depth (`_traced`)."""
    wanted = [p for p in model.properties if not properties or p.name in properties]
    with limits.budget(timeout, model.name) as budget:
        if engine == "ic3" and wanted:
            return judge_covers(model, _ic3(model, params, wanted, depth, timeout, progress))
        if engine == "bmc" or (max_states is not None and max_states <= 0) or not wanted:
            return judge_covers(model, prove(model, params, depth=depth, properties=[p.name for p in wanted],
                                             timeout=timeout, max_k=max_k, progress=progress))
        search = explore(model, params, max_states, _half(budget), search_with, notice, symmetry == "auto",
                         dead == "auto")
        if on_scan is not None and search.scan is not None:
            on_scan(search.scan)
        found = [p for p in wanted if p.name in search.violations]
        # After a stop signal no new engine starts: report what the search established.
        out = _traced(model, params, found, search, timeout, progress, cross_check) if budget.stop_reason() is None else {}
        out.update({p.name: _unconfirmed(p, search, out.get(p.name)) for p in found
                    if p.name not in out or out[p.name].verdict == "inconclusive"})
        rest = [p for p in wanted if p.name not in search.violations]
        out.update(_settle_rest(model, params, rest, search, depth, max_k, timeout, progress, notice))
    return finish(model, [out[p.name] for p in wanted], search.scan)


def _ic3(model: ir.Model, params: dict[str, int], wanted: list[ir.Property], depth: int, timeout: float | None,
         progress: Callable[[int, float], None] | None) -> list[PropertyResult]:
    try:
        return prove_ic3(model, params, depth=depth, properties=[p.name for p in wanted], timeout=timeout,
                         progress=progress)
    except InvariantRejected as e:  # exit 70 wherever BackendDisagreement is (prove, sweep, test)
        raise BackendDisagreement(f"IC3 and a fresh solver disagree: {e}") from e


def _half(budget: limits.Budget) -> float | None:
    left = budget.remaining()
    return None if left is None else max(0.0, left) / 2


def _settle_rest(model: ir.Model, params: dict[str, int], rest: list[ir.Property], search: Search, depth: int,
                 max_k: int, timeout: float | None, progress: Callable[[int, float], None] | None,
                 notice: Callable[[str], None] | None) -> dict[str, PropertyResult]:
    """The properties the search found no violation of, by how far it got."""
    if not rest:
        return {}
    if search.complete:
        method = f"exhaustive search, {search.states} states"
        if search.symmetry:
            method += " up to permutations of CPUs " + ", ".join(str(c) for c in search.symmetry)
        if search.dead:
            method += (" and" if search.symmetry else " up to") + " dead variables"
        return {p.name: PropertyResult(p.name, "proved", search.depth, method, search.seconds, expected=p.expect)
                for p in rest}
    if (search.covered is not None and search.covered >= depth) or limits.stop_requested():
        return {p.name: _bounded_by_search(p, search, depth) for p in rest}
    budget = limits.active()
    capped = budget is not None and budget.timeout is None
    if notice is not None:
        limit = f"for at most {Z3_AFTER_CUT:g} s (--timeout sets it)" if capped else "within --timeout"
        notice(f"{model.name}: {_search_stop(search)}; Z3 now checks runs of up to {depth} steps, {limit} "
               f"(--depth {search.covered or 0} or a larger --max-states avoids it)")
    # The spec's budget: nothing runs after Z3 in it.
    words = f"Z3's {Z3_AFTER_CUT:g} s after the cut search ran out"  # the notice above says --timeout sets them
    with limits.capped(budget, Z3_AFTER_CUT, words) if capped and budget is not None else nullcontext():
        results = prove(model, params, depth=depth, properties=[p.name for p in rest], timeout=timeout,
                        max_k=max_k, progress=progress)
    return {r.property: _note_search(r, search) for r in results}


def _bounded_by_search(p: ir.Property, search: Search, depth: int) -> PropertyResult:
    """What a cut search alone says: holds up to the depth it covered, inconclusive short of `--depth`."""
    covered = -1 if search.covered is None else search.covered
    signal = limits.stop_requested()
    after = "" if signal in (None, search.stopped_by) else f"; Z3 did not start, stopped by {limits.describe(signal)}"
    return PropertyResult(p.name, "holds" if covered >= depth else "inconclusive", covered,
                          f"exhaustive search to depth {covered}", search.seconds,
                          reason=f"{_search_stop(search)}, so this is not a proof{after}", expected=p.expect,
                          stopped_by=signal or search.stopped_by)


def _search_stop(search: Search) -> str:
    limit = "half of --timeout, the search's share" if search.stopped_by == "timeout" else \
        limits.describe(search.stopped_by or "?")
    what = f"the exhaustive search stopped at {search.states} states, by {limit}"
    if search.covered is None:
        return what + ", having covered no depth it can vouch for"
    return what + f", having covered every run of up to {search.covered} steps"


def _unconfirmed(p: ir.Property, search: Search, z3_result: PropertyResult | None) -> PropertyResult:
    """A violation the search found that Z3 did not confirm (stopped, or never started after a
    stop signal): the search's own trace.  The simulator ran that very path, so the violation
    is established; only the cross-check is missing, and the result says so."""
    stopped = z3_result.stopped_by if z3_result is not None else limits.stop_requested()
    why = (z3_result.reason if z3_result is not None else None) or f"stopped by {limits.describe(stopped or '?')}"
    return PropertyResult(p.name, "violated", search.violations[p.name], "exhaustive search", search.seconds,
                          reason=f"not confirmed by Z3 ({why})", trace=_search_trace(search, p.name),
                          expected=p.expect, stopped_by=stopped)


def _search_trace(search: Search, prop: str) -> Trace | None:
    doc = search.traces.get(prop)
    return None if doc is None else from_itf(doc)


def explore(model: ir.Model, params: dict[str, int], max_states: int | None, max_seconds: float | None = None,
            search_with: str = "auto", notice: Callable[[str], None] | None = None,
            symmetry: bool = True, dead: bool = True) -> Search:
    watch = _Watch(limits.active(), max_seconds)  # the clock starts before generating the simulator
    sim: Any = cached_simulator(model, model.path).Simulator(params)
    sim.watch = watch  # the simulator's search calls it every few hundred states
    left = None if watch.deadline is None else max(0.0, watch.deadline - time.perf_counter())
    try:
        # The compiled search, when it runs, answers exactly as sim.explore would (same order).
        # Where the spec treats CPUs alike, either keeps one state per orbit of the CPU
        # permutations, the same one (docs/prove.md, "Reductions").
        reduce = symmetry and len(sim.symmetry_group()) > 1
        py_cap = DEFAULT_MAX_STATES if max_states is None else max_states
        c_cap = max_states  # None: the compiled search sizes its cap from the memory available
        result = c_search.explore(model, params, sim, c_cap, left, watch, search_with, notice,
                                  python_max_states=py_cap, symmetry=reduce, dead=dead)
        if result is None:
            result = sim.explore(py_cap, left, symmetry=reduce, dead=dead)
    except (c_search.Disagreement, c_search.RunError) as e:
        raise BackendDisagreement(f"the compiled search and the Python simulator disagree: {e}") from e
    except MemoryError:
        # Its violations went with it: nothing it found can be vouched for.
        return Search(False, watch.states, watch.depth, None, {}, watch.elapsed(), stopped_by="memory")
    violations = {prop: d for prop, (d, _path) in result.violations.items()}
    traces = {prop: sim.trace(path, prop, d, generator="irqc prove")
              for prop, (d, path) in result.violations.items()}
    covered = result.depth if result.complete else result.bound
    if covered is not None and covered < 0:  # stopped before it had met every initial state
        covered = None
    stopped = None if result.complete else \
        watch.stopped or getattr(result, "stopped", None) or \
        _limit_hit(result, getattr(result, "max_states", None) or py_cap, left)
    if watch.budget is not None:
        watch.budget.status = f"coverage and vacuity scan of {result.states:,} states"
    found = None if limits.stop_requested() else \
        scan(model, params, sim, result.reached, result.complete, getattr(result, "taken", None))
    return Search(result.complete, result.states, result.depth, covered, violations, result.seconds, stopped, traces,
                  found, tuple(getattr(result, "symmetry", ())), bool(getattr(result, "dead", False)))


def _limit_hit(result: Any, max_states: int, max_seconds: float | None) -> str | None:
    """Which limit cut a search the watch did not stop (None: it stopped once every property was violated)."""
    if result.states >= max_states:
        return "max-states"
    if max_seconds is not None and result.seconds >= max_seconds:
        return "timeout"
    return None


class _Watch:
    """Called by the search every few hundred states: True stops it.  Also keeps the progress line."""

    MEMORY_FLOOR = 0.05  # stop when less than this share of the machine's memory is left: before the OOM killer

    def __init__(self, budget: limits.Budget | None, max_seconds: float | None) -> None:
        self.budget = budget
        self.start = time.perf_counter()
        self.deadline = None if max_seconds is None else self.start + max_seconds
        self.states = self.depth = 0
        self.stopped: str | None = None
        self.next_memory_look = self.start

    def __call__(self, states: int, depth: int) -> bool:
        self.states, self.depth = states, depth
        now = time.perf_counter()
        if self.budget is not None:
            rate = states / max(now - self.start, 1e-9)
            self.budget.status = f"exhaustive search: {states:,} states, depth {depth}, {rate:,.0f} states/s"
        self.stopped = limits.stop_requested() or self._timeout(now) or self._memory(now)
        return self.stopped is not None

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def _timeout(self, now: float) -> str | None:
        over = self.deadline is not None and now > self.deadline
        return "timeout" if over or (self.budget is not None and self.budget.stop_reason() == "timeout") else None

    def _memory(self, now: float) -> str | None:
        if now < self.next_memory_look:
            return None
        self.next_memory_look = now + 1.0
        mem = limits.meminfo()
        return "memory" if mem is not None and mem[0] < self.MEMORY_FLOOR * mem[1] else None


# Z3 re-checks "no shorter counterexample" by bounded model checking up to this depth.  Deeper
# violations (S6's live-lock at 30 steps) would cost minutes of SAT search for a fact the
# breadth-first search already establishes; their traces are still pinned and confirmed.
SHORTNESS_DEPTH = 12
# Past this many state slots, to SHORTNESS_DEPTH_LARGE only: on imsic_hotplug_force_complete
# (105 slots) BMC to 12 took 86 s and to 8 took 16 s, on a machine where the whole search took 37 s.
LARGE_ENCODING_SLOTS = 64
SHORTNESS_DEPTH_LARGE = 8


def shortness_depth(model: ir.Model, params: dict[str, int]) -> int:
    """How deep Z3 re-checks that no shorter counterexample exists: a function of the spec and
    its parameters only, so the method a result names never depends on the machine."""
    return SHORTNESS_DEPTH_LARGE if len(Layout(model, params).slots) > LARGE_ENCODING_SLOTS else SHORTNESS_DEPTH


def _traced(model: ir.Model, params: dict[str, int], bad: list[ir.Property], search: Search,
            timeout: float | None, progress: Callable[[int, float], None] | None,
            cross_check: bool) -> dict[str, PropertyResult]:
    """Each violation the search found, confirmed by Z3: the search's own trace is a run of
    the Z3 transition system that violates the property.  That trace is the one printed: it
    depends only on the spec and the parameters (docs/prove.md, "Which counterexample").
    With `cross_check`, Z3 bounded model checking must also find none shallower (up to
    `shortness_depth`).

    Breadth-first search meets every violation first at its least depth, even when it was
    cut: every shallower state had been examined.  The BMC re-check re-derives that depth by
    another engine; it costs most of a run on the larger specs (64 % of
    imsic_hotplug_force_complete at CPUS=2), so it is the tests' and `--cross-check`'s."""
    if not bad:
        return {}
    out: dict[str, PropertyResult] = {}
    if not cross_check:  # a violation the search kept no trace of still goes to BMC
        traced = [p for p in bad if p.name in search.traces]
        out = {p.name: r for p in traced if (r := _trace_confirmed(model, params, p, search)) is not None}
        bad = [p for p in bad if p.name not in search.traces]
        if not bad or limits.stop_requested() is not None:
            return out
    bmc_depth = min(shortness_depth(model, params), max(search.violations[p.name] for p in bad))
    for r in prove(model, params, depth=bmc_depth, properties=[p.name for p in bad], timeout=timeout,
                   induction=False, progress=progress):
        depth = search.violations[r.property]
        r = _confirmed(r, depth) if depth <= bmc_depth else _none_shallower(r, depth, bmc_depth)
        mine = _trace_confirmed(model, params, model.prop(r.property), search) if r.verdict == "violated" else None
        if mine is not None and mine.verdict == "violated":
            method = "exhaustive search, confirmed by Z3" if depth <= bmc_depth else \
                f"exhaustive search, trace confirmed by Z3 (none shorter up to depth {bmc_depth})"
            r = replace(r, trace=mine.trace, method=method)
        out[r.property] = replace(r, seconds=r.seconds + search.seconds)
    return out


def _trace_confirmed(model: ir.Model, params: dict[str, int], p: ir.Property,
                     search: Search) -> PropertyResult | None:
    """The search's trace of `p`, pinned state by state in Z3.  None (or inconclusive, when a
    limit stopped Z3) has the caller report the violation unconfirmed."""
    mine = _search_trace(search, p.name)
    if mine is None or limits.stop_requested() is not None:
        return None
    t0 = time.perf_counter()
    left = limits.active()
    depth = search.violations[p.name]
    why = f"its trace has {len(mine.states) - 1} steps, not {depth}" if len(mine.states) - 1 != depth else \
        confirm_trace(encoding(model, params), mine, p, timeout=None if left is None else left.remaining())
    if why is not None:
        stopped = limits.stop_requested() or (left.stop_reason() if left is not None else None)
        if stopped is not None:  # reported as the search's violation, not confirmed, and why
            return PropertyResult(p.name, "inconclusive", depth, "exhaustive search", search.seconds, reason=why,
                                  stopped_by=stopped)
        raise BackendDisagreement(f"property `{p.name}`: Z3 rejects the exhaustive search's counterexample of depth "
                                  f"{len(mine.states) - 1}: {why}")
    return PropertyResult(p.name, "violated", depth, "exhaustive search, trace confirmed by Z3",
                          search.seconds + time.perf_counter() - t0, trace=mine, expected=p.expect)


def _none_shallower(r: PropertyResult, depth: int, bmc_depth: int) -> PropertyResult:
    """A violation deeper than Z3's shortness check: Z3 must find none up to that depth."""
    if r.verdict == "inconclusive":
        return r
    if r.verdict == "violated":
        raise BackendDisagreement(
            f"property `{r.property}`: the simulator's exhaustive search finds a shortest violation at depth "
            f"{depth}, but Z3 bounded model checking finds one at depth {r.depth}")
    return replace(r, verdict="violated", depth=depth, reason=None)


def _confirmed(r: PropertyResult, depth: int) -> PropertyResult:
    if r.verdict == "inconclusive":
        return r  # the solver gave up (a timeout): say so, the search alone has no trace to print
    if r.verdict != "violated" or r.depth != depth:
        found = f"violated at depth {r.depth}" if r.verdict == "violated" else r.summary()
        raise BackendDisagreement(
            f"property `{r.property}`: the simulator's exhaustive search finds a shortest violation at depth "
            f"{depth}, but Z3 bounded model checking says {found}")
    return r


def _note_search(r: PropertyResult, search: Search) -> PropertyResult:
    """Z3 after a cut search: say how far the search got and what stopped it, and keep the
    depth it covered when Z3 was stopped shallower."""
    if r.verdict not in ("holds", "inconclusive"):
        return r
    reason = "; ".join(x for x in (r.reason, _search_stop(search)) if x)
    covered = -1 if search.covered is None else search.covered
    depth = max(r.depth, covered) if r.verdict == "inconclusive" else r.depth
    return replace(r, reason=reason, depth=depth, stopped_by=r.stopped_by or search.stopped_by)


__all__ = ["BackendDisagreement", "DEFAULT_MAX_STATES", "DEFAULT_MAX_STATES_C", "ENGINES", "Search", "check", "explore"]
