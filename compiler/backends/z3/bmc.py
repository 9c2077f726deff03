"""Incremental bounded model checking: one solver, one more step per depth.

At depth k every still-open property gets a violation literal `viol.P@k`
(defined by an equation, so it costs nothing when unused).  One joint query
"is any of them true?" settles the common case (nothing violated) in a single
solver call; only when it is satisfiable are the properties examined one by one.
The first depth at which a property's literal is satisfiable is the length of
its shortest counterexample.  A failed Check does not end a run (compiler/ir.py:
each property is judged alone), so nothing is asserted about it after depth k.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import z3

from compiler import ir
from compiler.backends.z3.extract import extract_trace
from compiler.backends.z3.system import TransitionSystem, Unrolled
from compiler.backends.z3.terms import FALSE, mk_and, mk_not
from compiler.limits import Budget, describe
from compiler.results import PropertyResult

Progress = Callable[[int, float], None]
NO_TIMEOUT = 4294967295  # Z3's "timeout" parameter meaning none (a solver keeps the last value set)


@dataclass(slots=True)
class Clock:
    """The seconds of one Z3 run, and the budget (deadline, stop signal) it must stop within."""

    start: float
    budget: Budget

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        return self.budget.remaining()

    def stop_reason(self) -> str | None:
        return self.budget.stop_reason()


@dataclass(slots=True)
class BmcOutcome:
    results: dict[str, PropertyResult] = field(default_factory=dict)  # decided: violated or inconclusive
    open: list[ir.Property] = field(default_factory=list)  # clean up to the full depth
    seconds: float = 0.0


def run_bmc(ts: TransitionSystem, props: list[ir.Property], depth: int, clock: Clock,
            progress: Progress | None = None) -> BmcOutcome:
    solver = ts.new_solver()
    solver.add(ts.init("0"))
    out = BmcOutcome()
    active = list(props)
    for k in range(depth + 1):
        if all(_never_fails(ts, p) for p in active):
            break  # the rest hold at every depth; unrolling further would prove nothing new
        step = _extend(ts, solver, k)
        viols = _violation_literals(ts, solver, active, k, step)
        _settle_depth(ts, solver, viols, k, clock, out)
        active = [p for p in active if p.name not in out.results]
        for p in active:
            # Clean at depth k: every reachable state of depth k satisfies p, so asserting
            # it removes no run and hands the solver a lemma for the deeper queries.
            if p.kind != "check":
                solver.add(ts.invariant(p, str(k)))
        if progress is not None:
            progress(k, clock.elapsed())
        if not active:
            break
    out.open = active
    out.seconds = clock.elapsed()
    return out


def _never_fails(ts: TransitionSystem, p: ir.Property) -> bool:
    """A check property no Check statement names (e.g. lock_discipline in a spec without locks)."""
    return p.kind == "check" and p.name not in ts.check_props()


def _extend(ts: TransitionSystem, solver: z3.Solver, k: int) -> Unrolled | None:
    if k == 0:
        return None
    step = ts.unroll(str(k - 1), str(k))
    solver.add(step.relation)
    return step


def _violation_literals(ts: TransitionSystem, solver: z3.Solver, active: list[ir.Property], k: int,
                        step: Unrolled | None) -> dict[str, z3.BoolRef]:
    lits: dict[str, z3.BoolRef] = {}
    for p in active:
        f = violation(ts, p, str(k), step)
        if z3.is_false(f):
            continue  # e.g. a check property at depth 0, or one no Check can fail
        lit = z3.Bool(f"viol.{p.name}@{k}")
        solver.add(lit == f)
        lits[p.name] = lit
    return lits


def violation(ts: TransitionSystem, p: ir.Property, tag: str, step: Unrolled | None) -> z3.BoolRef:
    """P is violated in state `tag`, reached by `step` (None: an initial state)."""
    if p.kind == "check":
        return FALSE if step is None else step.aborts.get(p.name, FALSE)
    return mk_not(ts.invariant(p, tag))


def _settle_depth(ts: TransitionSystem, solver: z3.Solver, lits: dict[str, z3.BoolRef], k: int, clock: Clock,
                  out: BmcOutcome) -> None:
    if not lits:
        return
    joint = z3.Bool(f"any@{k}")
    solver.add(z3.Implies(joint, z3.Or(list(lits.values()))))
    answer = _check(solver, [joint], clock)
    if answer == z3.unsat:
        return
    pending = dict(lits)
    try:
        if answer == z3.sat:
            m = solver.model()
            for name, lit in lits.items():
                if z3.is_true(m.eval(lit, model_completion=True)):
                    _record_violation(ts, m, name, k, clock, out)
                    del pending[name]
        for name in list(pending):
            answer = _check(solver, [pending[name]], clock)
            if answer == z3.sat:
                _record_violation(ts, solver.model(), name, k, clock, out)
            elif answer == z3.unknown:
                out.results[name] = _inconclusive(ts, name, k, clock, solver)
            del pending[name]
    except z3.Z3Exception:
        # A stop signal interrupts Z3 from the watchdog thread at any moment, also while irqc
        # reads a model it found ("model is not available"): that answer is lost with the stop.
        if clock.stop_reason() is None:
            raise
        for name in pending:
            out.results[name] = _inconclusive(ts, name, k, clock, solver)


def _check(solver: z3.Solver, assumptions: list[z3.BoolRef], clock: Clock) -> z3.CheckSatResult:
    if clock.stop_reason() is not None:
        return z3.unknown  # a signal or the deadline: no new query (a running one is interrupted)
    remaining = clock.remaining()
    # ctrl_c off: Z3's own SIGINT handler would swallow Ctrl-C without stopping (the watchdog interrupts it).
    solver.set(timeout=NO_TIMEOUT if remaining is None else max(1, int(remaining * 1000)), ctrl_c=False)
    return solver.check(*assumptions)


def _record_violation(ts: TransitionSystem, m: z3.ModelRef, name: str, k: int, clock: Clock,
                      out: BmcOutcome) -> None:
    prop = ts.model.prop(name)
    trace = extract_trace(ts, m, k, prop)
    out.results[name] = PropertyResult(name, "violated", k, "bmc", clock.elapsed(), trace=trace,
                                       expected=prop.expect)


def _inconclusive(ts: TransitionSystem, name: str, k: int, clock: Clock, solver: z3.Solver) -> PropertyResult:
    stopped = stopped_by(clock, solver)
    if stopped == "timeout":
        why = f"{clock.budget.ran_out()} at depth {k}"
    elif stopped is not None:
        why = f"stopped by {describe(stopped)} at depth {k}"
    else:
        why = f"solver unknown at depth {k}: {solver.reason_unknown()}"
    return PropertyResult(name, "inconclusive", k - 1, "bmc", clock.elapsed(), reason=why,
                          expected=ts.model.prop(name).expect, stopped_by=stopped)


def stopped_by(clock: Clock, solver: z3.Solver) -> str | None:
    """The limit behind an `unknown`: Z3's own timer may fire a hair before our clock runs out."""
    reason = clock.stop_reason()
    if reason is None and solver.reason_unknown() == "timeout" and clock.remaining() is not None:
        reason = "timeout"
    return reason
