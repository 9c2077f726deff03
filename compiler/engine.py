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
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from compiler import ir
from compiler.backends.python import generate, load_simulator
from compiler.backends.z3 import DEFAULT_DEPTH, DEFAULT_MAX_K, prove
from compiler.coverage import judge_covers
from compiler.results import PropertyResult

DEFAULT_MAX_STATES = 2_000_000  # about 2 GB of states; the shipped specs need under 900,000
ENGINES = ("auto", "bmc")


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


def check(model: ir.Model, params: dict[str, int], *, depth: int = DEFAULT_DEPTH,
          properties: Sequence[str] | None = None, timeout: float | None = None, max_k: int = DEFAULT_MAX_K,
          max_states: int = DEFAULT_MAX_STATES, engine: str = "auto",
          progress: Callable[[int, float], None] | None = None,
          notice: Callable[[str], None] | None = None) -> list[PropertyResult]:
    """Verdicts for the selected properties (default: all), in the model's property order.
    `notice` receives a line worth telling the user before a long wait."""
    wanted = [p for p in model.properties if not properties or p.name in properties]
    if engine == "bmc" or max_states <= 0 or not wanted:
        return judge_covers(model, prove(model, params, depth=depth, properties=[p.name for p in wanted],
                                         timeout=timeout, max_k=max_k, progress=progress))
    # With a time limit, the search may use half of it: the rest is Z3's if the search cannot finish.
    search = explore(model, params, max_states, None if timeout is None else timeout / 2)
    out = _traced(model, params, [p for p in wanted if p.name in search.violations], search, timeout, progress)
    rest = [p for p in wanted if p.name not in search.violations]
    if search.complete:
        method = f"exhaustive search, {search.states} states"
        out.update({p.name: PropertyResult(p.name, "proved", search.depth, method, search.seconds, expected=p.expect)
                    for p in rest})
    elif search.covered is not None and search.covered >= depth:
        method = f"exhaustive search to depth {search.covered}"
        note = f"the search stopped at {search.states} states (--max-states), so this is not a proof"
        out.update({p.name: PropertyResult(p.name, "holds", search.covered, method, search.seconds, reason=note,
                                           expected=p.expect) for p in rest})
    elif rest:
        if notice is not None:
            notice(f"{model.name}: the exhaustive search stopped at {search.states} states (--max-states), "
                   f"having covered every run of up to {search.covered} steps; Z3 now checks runs of up to "
                   f"{depth} steps, which can take long on a large instance (--depth {search.covered} or a "
                   f"larger --max-states avoids it; --timeout bounds it)")
        for r in prove(model, params, depth=depth, properties=[p.name for p in rest], timeout=timeout,
                       max_k=max_k, progress=progress):
            out[r.property] = _note_search(r, search)
    return judge_covers(model, [out[p.name] for p in wanted])


def explore(model: ir.Model, params: dict[str, int], max_states: int, max_seconds: float | None = None) -> Search:
    sim: Any = load_simulator(generate(model, model.path), model.name).Simulator(params)
    result = sim.explore(max_states, max_seconds)
    violations = {prop: d for prop, (d, _path) in result.violations.items()}
    covered = result.depth if result.complete else result.bound
    return Search(result.complete, result.states, result.depth, covered, violations, result.seconds)


def _traced(model: ir.Model, params: dict[str, int], bad: list[ir.Property], search: Search,
            timeout: float | None, progress: Callable[[int, float], None] | None) -> dict[str, PropertyResult]:
    """Z3's counterexample for each violation the search found, at the same (shortest) depth.

    Breadth-first search meets every violation first at its least depth, even when it was
    cut: every shallower state had been examined."""
    if not bad:
        return {}
    deepest = max(search.violations[p.name] for p in bad)
    out: dict[str, PropertyResult] = {}
    for r in prove(model, params, depth=deepest, properties=[p.name for p in bad], timeout=timeout,
                   induction=False, progress=progress):
        out[r.property] = replace(_confirmed(r, search.violations[r.property]), seconds=r.seconds + search.seconds)
    return out


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
    """The search was cut: say how far it got, where the bounded verdict is all there is."""
    if r.verdict != "holds":
        return r
    note = (f"exhaustive search stopped at {search.states} states, having covered every run of up to "
            f"{search.covered} steps") if search.covered is not None else None
    reason = "; ".join(x for x in (r.reason, note) if x) or None
    return replace(r, reason=reason)


__all__ = ["BackendDisagreement", "DEFAULT_MAX_STATES", "ENGINES", "Search", "check", "explore"]
