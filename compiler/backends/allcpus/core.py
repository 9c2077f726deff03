"""An inductive invariant for every number of CPUs, and the checks that make it evidence.

`infer` computes the least set V of abstract states (compiler/backends/allcpus/views.py)
that contains the initial states and is closed under the transitions, over the unbounded
CPU sort: starting from the abstractions of sampled reachable states, every query
"a state of gamma(V) has a successor outside gamma(V)" that Z3 answers sat gives a
successor whose abstraction joins V, until every query is unsat.  The invariant is then
I = OR over V of gamma(v).

`check` re-establishes everything a proof rests on from scratch, in fresh solvers over a
freshly built encoding: Init => I, I and step => I' for every step, and I => P (for a check
property: no step from I fails it).  `cross_check` asks the same of the Z3 backend's own
encoding of the instances CPUS = n (an encoding written independently of this package).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import z3

from compiler import ir
from compiler.backends.allcpus.param import CPUS, Action, PState, System, Unsupported
from compiler.backends.allcpus.views import Abstract, ModelConcrete, ParamSymbolic, Views
from compiler.backends.allcpus.finite import SlotSymbolic

MAX_PER_QUERY = 64  # new abstract states taken from one query before the invariant is rebuilt


class Stopped(Exception):
    """The budget ran out (or Z3 answered unknown) before the fixpoint: no invariant."""


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


@dataclass
class Invariant:
    """OR over `states` of gamma(state), built as a decision diagram: the global features, then
    per local state its count (0, 1, 2+).  Shared sub-diagrams are shared Z3 terms, so the
    formula is far smaller than the disjunction it denotes."""

    views: Views
    states: set[Abstract] = field(default_factory=set)

    def locals(self) -> list[Any]:
        return sorted({loc for _, counts in self.states for loc, _ in counts}, key=repr)

    def formula(self, acc: Any, cache: dict[Any, z3.BoolRef] | None = None) -> z3.BoolRef:
        if not self.states:
            return z3.BoolVal(False)
        locs = self.locals()
        rows = {g + tuple(dict(counts).get(loc, 0) for loc in locs) for g, counts in self.states}
        ng = len(self.views.glob)
        lits: dict[tuple[int, Any], z3.BoolRef] = {}

        def lit(level: int, value: Any) -> z3.BoolRef:
            key = (level, value)
            if key not in lits:
                if level < ng:
                    lits[key] = self.views.global_literal(acc, level, value)
                else:
                    lits[key] = self.views.count_literal(acc, locs[level - ng], value)
            return lits[key]

        memo: dict[tuple[int, frozenset[tuple[Any, ...]]], z3.BoolRef] = {}

        def build(level: int, suffixes: frozenset[tuple[Any, ...]]) -> z3.BoolRef:
            if level == ng + len(locs):
                return z3.BoolVal(True)
            key = (level, suffixes)
            if key not in memo:
                by: dict[Any, set[tuple[Any, ...]]] = {}
                for t in suffixes:
                    by.setdefault(t[0], set()).add(t[1:])
                memo[key] = z3.Or([z3.And(lit(level, v), build(level + 1, frozenset(rest)))
                                   for v, rest in sorted(by.items(), key=repr)])
            return memo[key]

        every = self.views.every(acc, locs)
        return z3.And(every, build(0, frozenset(rows)))

    def text(self) -> list[str]:
        return [self.views.describe(a) for a in sorted(self.states, key=repr)]


def _solver(budget: Budget) -> z3.Solver:
    s = z3.Solver()
    ms = budget.ms()
    if ms:
        s.set(timeout=ms)
    return s


def _hyp(sys: System, inv: Invariant, s: PState, cache: dict[Any, z3.BoolRef]) -> list[z3.BoolRef]:
    return [sys.distinct(), sys.domain(s), inv.formula(ParamSymbolic(sys, s), cache)]


def _step(act: Action) -> list[z3.BoolRef]:
    return [act.at, act.ranges, act.effect.ok]


def infer(sys: System, views: Views, seeds: set[Abstract], budget: Budget,
          progress: Callable[[str], None] | None = None) -> Invariant:
    """The closed set of abstract states (raises Stopped past the budget)."""
    inv = Invariant(views, set(seeds))
    # Far more abstract states than the instances reach is the sign of an abstraction too coarse
    # for the property (spurious behaviour feeding itself): give up early, a finer try follows.
    limit = 2 * len(seeds) + 100
    queries: list[tuple[str, list[z3.BoolRef] | None, PState]] = [("init", None, sys.init_state)]
    queries += [(a.name, _step(a), a.effect.post) for a in sys.actions]
    while True:
        grew = False
        for name, step, post in queries:
            start = time.perf_counter()
            grew |= _close(sys, inv, step, post, budget)
            if len(inv.states) > limit:
                raise Stopped(f"over these variables the abstraction grew past {limit} abstract states, "
                              f"{len(seeds)} of them from the instances: too coarse")
            if progress is not None:
                progress(f"{name}: {len(inv.states)} abstract states ({time.perf_counter() - start:.1f} s)")
        if not grew:
            return inv


def _close(sys: System, inv: Invariant, step: list[z3.BoolRef] | None, post: PState, budget: Budget) -> bool:
    s = _solver(budget)
    cache: dict[Any, z3.BoolRef] = {}
    if step is None:
        s.add(sys.distinct(), sys.init)
    else:
        s.add(*_hyp(sys, inv, sys.pre, cache), *step)
    acc = ParamSymbolic(sys, post)
    grew = False
    for _ in range(MAX_PER_QUERY):
        ms = budget.ms()  # each check gets what is left now, not what was left at the first
        if ms:
            s.set(timeout=ms)
        s.push()
        s.add(z3.Not(inv.formula(acc)))
        answer = s.check()
        s.pop()
        if answer == z3.unsat:
            return grew
        if answer == z3.unknown:
            raise Stopped(f"Z3 gave up on a closure query: {s.reason_unknown()}")
        model = s.model()
        a = inv.views.alpha(ModelConcrete(sys, post, model))
        if a in inv.states:
            raise Unsupported("the abstraction of a successor is already in the invariant: an encoding bug")
        inv.states.add(a)
        grew = True
    return grew


# --------------------------------------------------------------------------- evidence


@dataclass
class Obligation:
    what: str
    answer: str  # "unsat" (holds), "sat" (fails), "unknown"


def check(model: ir.Model, params: dict[str, int], states: set[Abstract], props: list[ir.Property],
          budget: Budget, cone: set[ir.Var] | None = None) -> tuple[list[Obligation], dict[str, list[Obligation]]]:
    """Re-check an invariant given as abstract states (over the features of `cone`), on a freshly
    built encoding, one fresh solver per obligation: (inductiveness obligations, per property its
    obligations)."""
    sys = System(model, params)
    views = Views(model, sys, cone)
    views.add_pins()
    inv = Invariant(views, states)

    def ask(what: str, *fs: z3.BoolRef) -> Obligation:
        s = _solver(budget)
        s.add(*fs)
        answer = s.check()
        return Obligation(what, str(answer))

    ind = [ask("initial states satisfy I", sys.distinct(), sys.init,
               z3.Not(inv.formula(ParamSymbolic(sys, sys.init_state))))]
    for act in sys.actions:
        ind.append(ask(f"I is preserved by {act.name}", *_hyp(sys, inv, sys.pre, {}), *_step(act),
                       z3.Not(z3.And(inv.formula(ParamSymbolic(sys, act.effect.post)), sys.domain(act.effect.post)))))
    per: dict[str, list[Obligation]] = {}
    for p in props:
        per[p.name] = _prop_obligations(sys, inv, p, ask)
    return ind, per


def _prop_obligations(sys: System, inv: Invariant, p: ir.Property, ask: Any) -> list[Obligation]:
    pred = p.invariant_expr()
    if pred is not None:
        return [ask(f"I implies {p.name}", *_hyp(sys, inv, sys.pre, {}), z3.Not(sys.prop(pred, sys.pre)))]
    out = []
    for act in sys.actions:
        fails = act.effect.aborts.get(p.name)
        if fails:
            out.append(ask(f"no step {act.name} from I fails {p.name}", *_hyp(sys, inv, sys.pre, {}), act.at,
                           act.ranges, z3.Or(fails)))
    return out


def cross_check(model: ir.Model, params: dict[str, int], states: set[Abstract], n: int,
                props: list[ir.Property], budget: Budget, cone: set[ir.Var] | None = None) -> list[Obligation]:
    """The same obligations on the Z3 backend's encoding of the instance CPUS = n."""
    from compiler.backends.z3.system import TransitionSystem
    sys = System(model, params)
    views = Views(model, sys, cone)
    views.add_pins()
    inv = Invariant(views, states)
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
