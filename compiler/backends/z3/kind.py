"""k-induction with simple-path constraints, after a clean bounded run.

The induction step at k looks for a path s0 -> ... -> sk from an *arbitrary*
state (every slot in its type's range) such that
  * the property holds in s0..s(k-1) (for a check property: no step before
    the last fails it; the other properties' checks do not matter, ir.py),
  * the states are pairwise distinct (a simple path; for an invariant s0..sk,
    for a check property s0..s(k-1), since the failing step may stutter),
  * every property already proved holds on the whole path,
and violates the property at the end.  UNSAT means: no run of any length
violates it, given that the bounded run found none up to depth K >= k-1.
A shortest violating run is simple and satisfies the property before its
end, so it would contain such a path; that is why simple paths are sound.

One solver serves every property; the hypotheses of each are passed as
assumption literals, so nothing has to be retracted.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from compiler import ir
from compiler.backends.z3.bmc import NO_TIMEOUT, Clock, stopped_by
from compiler.backends.z3.system import TransitionSystem, Unrolled
from compiler.backends.z3.terms import mk_and, mk_not, mk_or
from compiler.limits import Stopped, describe, interruptible


@dataclass(slots=True)
class Goal:
    prop: ir.Property
    clock: Clock  # the spec's budget: every property's induction stops at its deadline
    spent: float = 0.0
    proved_k: int | None = None
    gave_up: str | None = None  # why no proof (the bounded verdict stands)
    stopped_by: str | None = None  # the limit that ended the attempt, if one did


@dataclass(slots=True)
class Induction:
    ts: TransitionSystem
    solver: z3.Solver = field(init=False)
    states: list[list[z3.ExprRef]] = field(default_factory=list)
    steps: list[Unrolled] = field(default_factory=list)
    holds: dict[str, list[z3.BoolRef]] = field(default_factory=dict)  # invariant literal per state
    proved: list[ir.Property] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.solver = self.ts.new_solver()

    def extend(self) -> None:
        """Add state s(k) and the step into it; return with len(states) == k+1."""
        k = len(self.states)
        state = self.ts.state(f"i{k}")
        self.solver.add(self.ts.domain(state))
        if k > 0:
            if k >= 2:
                self._distinct_from_earlier(k - 1)  # s(k-1) joins the simple path for good
            step = self.ts.unroll(f"i{k - 1}", f"i{k}")
            self.solver.add(step.relation)
            self.steps.append(step)
        self.states.append(state)
        for p in self.proved:
            self._assume_proved(p, k)

    def _distinct_from_earlier(self, j: int) -> None:
        self.solver.add(self._distinct(j))

    def _distinct(self, j: int) -> z3.BoolRef:
        sj = self.states[j]
        return mk_and(mk_or(mk_not(a == b) for a, b in zip(sj, si)) for si in self.states[:j])

    def hypothesis(self, p: ir.Property, upto: int) -> list[z3.BoolRef]:
        """Literals asserting p before the end: invariant p in s0..s(upto-1), or for a
        check property, no step into s1..s(upto-1) fails it."""
        lits = self.holds.setdefault(p.name, [])
        while len(lits) < upto:
            i = len(lits)
            lit = z3.Bool(f"hyp.{p.name}@i{i}")
            self.solver.add(lit == self._holds(p, i))
            lits.append(lit)
        return lits[:upto]

    def _holds(self, p: ir.Property, i: int) -> z3.BoolRef:
        if p.kind != "check":
            return self.ts.invariant(p, f"i{i}")
        return z3.BoolVal(True) if i == 0 else mk_not(self.steps[i - 1].aborts.get(p.name, z3.BoolVal(False)))

    def violation(self, p: ir.Property) -> list[z3.BoolRef]:
        """Assumptions: the hypotheses and the violation at the end of the current path."""
        k = len(self.states) - 1
        step = self.steps[-1]
        return [*self.hypothesis(p, k), self._lit(f"bad.{p.name}@i{k}", self._bad(p, k, step))]

    def _bad(self, p: ir.Property, k: int, step: Unrolled) -> z3.BoolRef:
        if p.kind == "check":
            return step.aborts.get(p.name, z3.BoolVal(False))
        return mk_and([self._distinct(k), mk_not(self.ts.invariant(p, f"i{k}"))])

    def joint_violation(self, props: list[ir.Property]) -> list[z3.BoolRef]:
        """All of `props` at once: their conjunction may be inductive when none is alone."""
        k = len(self.states) - 1
        step = self.steps[-1]
        hyps: list[z3.BoolRef] = []
        bads: list[z3.BoolRef] = []
        for p in props:
            hyps += self.hypothesis(p, k)
            bads.append(self._bad(p, k, step))
        return [*hyps, self._lit(f"bad.joint{len(props)}@i{k}", mk_or(bads))]

    def _lit(self, name: str, f: z3.BoolRef) -> z3.BoolRef:
        lit = z3.Bool(name)
        self.solver.add(lit == f)
        return lit

    def mark_proved(self, p: ir.Property) -> None:
        self.proved.append(p)
        for i in range(len(self.states)):
            self._assume_proved(p, i)

    def _assume_proved(self, p: ir.Property, i: int) -> None:
        if p.kind == "check":
            if i > 0:
                self.solver.add(mk_not(self.steps[i - 1].aborts.get(p.name, z3.BoolVal(False))))
        else:
            self.solver.add(self.ts.invariant(p, f"i{i}"))


def k_induction(ts: TransitionSystem, goals: list[Goal], max_k: int) -> None:
    """Try to prove each goal; sets `proved_k` or `gave_up` on every goal."""
    budget = goals[0].clock.budget
    ind = Induction(ts)
    pending = list(goals)
    try:
        for k in range(1, max_k + 1):
            budget.status = f"Z3 k-induction: k={k}/{max_k}"
            with interruptible(budget):  # extending the path is Python work no query timeout bounds
                while len(ind.states) <= k:
                    ind.extend()
            pending = _round(ind, pending, k)
            if not pending:
                return
    except Stopped:
        pass
    stopped = goals[0].clock.stop_reason()
    for g in pending:
        if stopped is not None and g.gave_up is None:
            g.stopped_by, g.gave_up = stopped, f"k-induction stopped by {describe(stopped)}"
        g.gave_up = g.gave_up or f"not k-inductive for k <= {max_k}"


def _round(ind: Induction, pending: list[Goal], k: int) -> list[Goal]:
    progress = True
    while progress and pending:  # a newly proved property may strengthen the others
        progress = False
        for g in list(pending):
            answer = _check(ind, g, ind.violation(g.prop))
            if answer == z3.unsat:
                g.proved_k = k
                ind.mark_proved(g.prop)
            elif answer == z3.unknown:
                g.gave_up = f"k-induction gave up at k={k}: {_why(ind, g)}"
            if answer != z3.sat:
                pending.remove(g)
                progress = True
    if len(pending) >= 2:
        _joint(ind, pending, k)
        pending = [g for g in pending if g.proved_k is None]
    return pending


def _joint(ind: Induction, pending: list[Goal], k: int) -> None:
    start = time.perf_counter()
    answer = _solve(ind, ind.joint_violation([g.prop for g in pending]), pending[0].clock)
    share = (time.perf_counter() - start) / len(pending)
    for g in pending:
        g.spent += share
        if answer == z3.unsat:
            g.proved_k = k
    if answer == z3.unsat:
        for g in pending:
            ind.mark_proved(g.prop)


def _check(ind: Induction, g: Goal, assumptions: list[z3.BoolRef]) -> z3.CheckSatResult:
    start = time.perf_counter()
    answer = _solve(ind, assumptions, g.clock)
    g.spent += time.perf_counter() - start
    return answer


def _solve(ind: Induction, assumptions: list[z3.BoolRef], clock: Clock) -> z3.CheckSatResult:
    if clock.stop_reason() is not None:
        return z3.unknown
    remaining = clock.remaining()
    ind.solver.set(timeout=NO_TIMEOUT if remaining is None else max(1, int(remaining * 1000)), ctrl_c=False)
    return ind.solver.check(*assumptions)


def _why(ind: Induction, g: Goal) -> str:
    g.stopped_by = stopped_by(g.clock, ind.solver)
    if g.stopped_by is not None:
        return f"stopped by {describe(g.stopped_by)}"
    return ind.solver.reason_unknown() or "solver unknown"
