"""The Z3 backend: bounded model checking and k-induction of an `ir.Model`.

    from compiler.backends.z3 import prove
    results = prove(model, {"CPUS": 2}, depth=40, properties=["no_lost_interrupt"], timeout=10)

Each `PropertyResult` (compiler.results) carries the verdict the engine
established and, for a violation, a `compiler.trace.Trace` of a shortest
counterexample.
"""
from __future__ import annotations

import time
from typing import Sequence

import z3

from compiler import ir, limits
from compiler.backends.z3.bmc import BmcOutcome, Clock, Progress, run_bmc
from compiler.backends.z3.kind import Goal, k_induction
from compiler.backends.z3.symexec import EncodingError
from compiler.backends.z3.system import TransitionSystem, encoding
from compiler.results import PropertyResult

# Default bound.  The longest shortest counterexample among the shipped specs is
# about 12 steps (S3's replay path, reference §8.5); 40 leaves more than 3x margin
# and still checks in well under a second per spec.
DEFAULT_DEPTH = 40

# k-induction tries k = 1..DEFAULT_MAX_K (and never beyond depth+1, which the
# bounded run covers as the base case).  Proofs of the shipped invariants need
# small k or none at all; beyond this the simple-path constraints grow as k^2.
DEFAULT_MAX_K = 12

__all__ = ["DEFAULT_DEPTH", "DEFAULT_MAX_K", "EncodingError", "TransitionSystem", "interrupt", "prove",
           "resolve_params"]


def resolve_params(model: ir.Model, overrides: dict[str, int] | None = None) -> dict[str, int]:
    """Defaults with `overrides` applied; unknown names raise KeyError (the CLI checks first)."""
    params = ir.default_params(model)
    for name, value in (overrides or {}).items():
        if name not in params:
            raise KeyError(name)
        params[name] = value
    return params


def prove(model: ir.Model, params: dict[str, int] | None = None, *, depth: int = DEFAULT_DEPTH,
          properties: Sequence[str] | None = None, timeout: float | None = None, induction: bool = True,
          max_k: int = DEFAULT_MAX_K, progress: Progress | None = None, ints: str = "bv") -> list[PropertyResult]:
    """Check the selected properties (default: all) of `model`; results in the model's property order.

    `timeout` is the wall time of the whole call, every property together, unless a
    budget is already in force (`compiler.limits`: the conductor's, with the spec's
    deadline and the stop signal).  A property whose bounded run is stopped is
    `inconclusive`; one whose induction is stopped keeps `holds`.  Either way
    `stopped_by` names the limit.
    """
    params = resolve_params(model, params)
    props = _select(model, properties)
    with limits.budget(timeout) as budget:
        clock = Clock(time.perf_counter(), budget)
        try:
            ts = _encode(model, params, ints, props, budget)
        except limits.Stopped as stop:
            return [_not_started(p, stop.reason, budget, clock) for p in props]
        bmc = run_bmc(ts, props, depth, clock, _reporting(budget, depth, progress))
        results = dict(bmc.results)
        results.update(_prove_open(ts, bmc, depth, clock, max_k if induction else 0))
    return [results[p.name] for p in props]


def _encode(model: ir.Model, params: dict[str, int], ints: str, props: list[ir.Property],
            budget: limits.Budget) -> TransitionSystem:
    """The transition system and every property's formula: seconds of Python on a large
    instance, in which no query runs that a timeout could stop, so a limit interrupts it."""
    budget.status = "Z3: building the encoding"
    with limits.interruptible(budget):
        ts = encoding(model, params, ints)
        for p in props:
            if p.kind != "check":
                ts.invariant(p, "0")  # built once and cached: the bounded run only renames it
    return ts


def _not_started(p: ir.Property, reason: str, budget: limits.Budget, clock: Clock) -> PropertyResult:
    why = budget.ran_out() if reason == "timeout" else f"stopped by {limits.describe(reason)}"
    return PropertyResult(p.name, "inconclusive", -1, "bmc", clock.elapsed(),
                          reason=f"{why} at depth 0, while building the encoding", expected=p.expect,
                          stopped_by=reason)


def interrupt() -> None:
    """Stop the query Z3 is solving now (safe from another thread: the watchdog's way in,
    since a Python signal handler cannot run while the main thread is inside Z3)."""
    z3.main_ctx().interrupt()


def _reporting(budget: limits.Budget, depth: int, progress: Progress | None) -> Progress:
    def report(k: int, elapsed: float) -> None:
        budget.status = f"Z3 bounded run: depth {k}/{depth} checked"
        if progress is not None:
            progress(k, elapsed)
    return report


def _select(model: ir.Model, names: Sequence[str] | None) -> list[ir.Property]:
    if not names:
        return list(model.properties)
    wanted = set(names)
    unknown = wanted - {p.name for p in model.properties}
    if unknown:
        raise KeyError(", ".join(sorted(unknown)))
    return [p for p in model.properties if p.name in wanted]


def _prove_open(ts: TransitionSystem, bmc: BmcOutcome, depth: int, clock: Clock,
                max_k: int) -> dict[str, PropertyResult]:
    out: dict[str, PropertyResult] = {}
    for p in bmc.open:
        if p.kind == "check" and p.name not in ts.check_props():
            # No Check statement names it, so no step can ever violate it: no solver needed.
            out[p.name] = PropertyResult(p.name, "proved", depth, "static (no check can fail it)", bmc.seconds,
                                         expected=p.expect)
    goals = [Goal(p, clock) for p in bmc.open if p.name not in out]
    limit = min(max_k, depth + 1)  # the bounded run is the base case for k <= depth+1
    if goals and limit >= 1:
        k_induction(ts, goals, limit)
    for g in goals:
        secs = bmc.seconds + g.spent
        if g.proved_k is not None:
            out[g.prop.name] = PropertyResult(g.prop.name, "proved", depth, f"k-induction (k={g.proved_k})", secs,
                                              expected=g.prop.expect)
        else:
            out[g.prop.name] = PropertyResult(g.prop.name, "holds", depth, "bmc", secs, reason=g.gave_up,
                                              expected=g.prop.expect, stopped_by=g.stopped_by)
    return out
