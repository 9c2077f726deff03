"""The checks that make an all-CPU invariant evidence, independent of how it was found.

An invariant is a tuple of cubes (compiler/backends/allcpus/clauses.py), I = AND over them of
NOT gamma(cube), data only: `check` re-establishes everything a proof rests on from scratch,
in fresh solvers over a freshly built encoding and freshly built features: Init => I,
I and step => I' for every step, and I => P (for a check property: no step from I fails it).
`cross_check` asks the same of the Z3 backend's own encoding of the instances CPUS = n (an
encoding written independently of this package).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import z3

from compiler import ir
from compiler.backends.allcpus.clauses import Clauses, Cube, Stopped
from compiler.backends.allcpus.param import CPUS, Action, PState, System
from compiler.backends.allcpus.views import ParamSymbolic, Views
from compiler.backends.allcpus.finite import SlotSymbolic

__all__ = ["Budget", "Obligation", "Stopped", "check", "cross_check"]


@dataclass
class Budget:
    deadline: float | None

    def ms(self) -> int:
        if self.deadline is None:
            return 0  # no timeout
        left = self.deadline - time.perf_counter()
        if left <= 0:
            raise Stopped("the time budget ran out")
        return max(1, int(left * 1000))


def _solver(budget: Budget) -> z3.Solver:
    s = z3.Solver()
    ms = budget.ms()
    if ms:
        s.set(timeout=ms)
    return s


def _hyp(sys: System, inv: Clauses, s: PState) -> list[z3.BoolRef]:
    return [sys.distinct(), sys.domain(s), inv.formula(ParamSymbolic(sys, s))]


def _step(act: Action) -> list[z3.BoolRef]:
    return [act.at, act.ranges, act.effect.ok]


def _fresh(model: ir.Model, params: dict[str, int], cubes: Sequence[Cube],
           cone: set[ir.Var] | None) -> tuple[System, Clauses]:
    sys = System(model, params)
    views = Views(model, sys, cone)
    views.add_pins()
    return sys, Clauses(views, tuple(cubes))


# --------------------------------------------------------------------------- evidence


@dataclass
class Obligation:
    what: str
    answer: str  # "unsat" (holds), "sat" (fails), "unknown"


def check(model: ir.Model, params: dict[str, int], cubes: Sequence[Cube], props: list[ir.Property],
          budget: Budget, cone: set[ir.Var] | None = None) -> tuple[list[Obligation], dict[str, list[Obligation]]]:
    """Re-check an invariant (its cubes, over the features of `cone`) on a freshly built
    encoding, one fresh solver per obligation: (inductiveness obligations, per property its
    obligations)."""
    sys, inv = _fresh(model, params, cubes, cone)

    def ask(what: str, *fs: z3.BoolRef) -> Obligation:
        s = _solver(budget)
        s.add(*fs)
        answer = s.check()
        return Obligation(what, str(answer))

    ind = [ask("initial states satisfy I", sys.distinct(), sys.init,
               z3.Not(inv.formula(ParamSymbolic(sys, sys.init_state))))]
    for act in sys.actions:
        ind.append(ask(f"I is preserved by {act.name}", *_hyp(sys, inv, sys.pre), *_step(act),
                       z3.Not(z3.And(inv.formula(ParamSymbolic(sys, act.effect.post)), sys.domain(act.effect.post)))))
    per: dict[str, list[Obligation]] = {}
    for p in props:
        per[p.name] = _prop_obligations(sys, inv, p, ask)
    return ind, per


def _prop_obligations(sys: System, inv: Clauses, p: ir.Property, ask: Any) -> list[Obligation]:
    pred = p.invariant_expr()
    if pred is not None:
        return [ask(f"I implies {p.name}", *_hyp(sys, inv, sys.pre), z3.Not(sys.prop(pred, sys.pre)))]
    out = []
    for act in sys.actions:
        fails = act.effect.aborts.get(p.name)
        if fails:
            out.append(ask(f"no step {act.name} from I fails {p.name}", *_hyp(sys, inv, sys.pre), act.at,
                           act.ranges, z3.Or(fails)))
    return out


def cross_check(model: ir.Model, params: dict[str, int], cubes: Sequence[Cube], n: int,
                props: list[ir.Property], budget: Budget, cone: set[ir.Var] | None = None) -> list[Obligation]:
    """The same obligations on the Z3 backend's encoding of the instance CPUS = n."""
    from compiler.backends.z3.system import TransitionSystem
    sys, inv = _fresh(model, params, cubes, cone)
    ts = TransitionSystem(model, {**params, CPUS: n}, ints="int")
    s0, s1 = ts.state("a"), ts.state("b")
    cpu = sys.cpu_agent.name
    i0 = inv.formula(SlotSymbolic(ts.layout, cpu, s0))
    i1 = inv.formula(SlotSymbolic(ts.layout, cpu, s1))
    step = ts.unroll("a", "b")

    def ask(what: str, *fs: z3.BoolRef) -> Obligation:
        s = _solver(budget)
        s.add(*fs)
        return Obligation(f"CPUS={n}: {what}", str(s.check()))

    out = [ask("initial states satisfy I", ts.init("a"), z3.Not(i0)),
           ask("I is preserved by every step", ts.domain(s0), i0, step.relation, z3.Not(i1))]
    for p in props:
        if p.kind == "check":
            f = step.aborts.get(p.name)
            if f is not None:
                out.append(ask(f"no step from I fails {p.name}", ts.domain(s0), i0, step.relation, f))
        else:
            out.append(ask(f"I implies {p.name}", ts.domain(s0), i0, z3.Not(ts.invariant(p, "a"))))
    return out
