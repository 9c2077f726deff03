"""`irqc prove --all-cpus`: each property proved for every number of CPUs, violated at the
smallest CPU count that violates it, or left without an all-CPU answer (docs/prove.md,
"Proofs for every number of CPUs").

    from compiler.backends.allcpus import prove_all_cpus
    verdicts = prove_all_cpus(model, {"RERUN_BOUND": 2}, timeout=120)

Per property, one of:
* "proved": an invariant over an unbounded CPU sort (compiler/backends/allcpus/core.py) that
  a fresh solver re-checked (initial states, every step, the property) and that the Z3
  backend's own encoding confirmed at the small instances, plus the exhaustive verdicts of
  the instances below `n0` (the smallest CPU count the encoding covers);
* "violated": the exhaustive engine's counterexample at the smallest CPUS tried that has one;
* "unknown": neither within the budget; `settled` is the largest instance the engine settled.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from compiler import ir
from compiler.backends.allcpus.clauses import Clauses, Cube, Learner, Positives, bad_states, minimize
from compiler.backends.allcpus.cone import cone
from compiler.backends.allcpus.core import Budget, Obligation, Stopped, check, cross_check
from compiler.backends.allcpus.param import CPUS, System, Unsupported
from compiler.backends.allcpus.views import Abstract, Local, Views
from compiler.results import PropertyResult

MAX_INSTANCE = 3  # the engine settles CPUS = 1..3 (S3 at 3 CPUs: 1 s; at 4: 7 s, S2 at 4: 45 s)
SAMPLE_STATES = 200_000  # states of each small instance that guide the clause search
# The clause search takes the states of CPUS = n0..3 as reachable, whatever --max-instance: with
# CPUS=2 alone, "two CPUs at idle" looks like "every CPU" (S3's eoi_pairing then fails).
SAMPLE_CPUS = 3
SETTLED = ("proved", "violated", "covered", "unreachable")


@dataclass
class AllCpuVerdict:
    property: str
    verdict: str  # "proved" | "violated" | "unknown"
    n0: int = 1
    cpus: int | None = None  # violated: the CPU count of the counterexample
    settled: int = 0  # the largest n such that the engine settled CPUS=1..n
    result: PropertyResult | None = None  # violated: the engine's result (with its trace)
    instances: dict[int, str] = field(default_factory=dict)  # CPUS=n -> the engine's verdict there
    invariant: list[str] = field(default_factory=list)  # the invariant, one clause a line
    evidence: list[Obligation] = field(default_factory=list)  # every re-checked obligation (all unsat)
    reason: str | None = None
    seconds: float = 0.0
    search_seconds: float = 0.0  # of `seconds`, this property's invariant search and re-check
    expected: str | None = None


Progress = Callable[[str], None]


def prove_all_cpus(model: ir.Model, params: dict[str, int], *, properties: Sequence[str] | None = None,
                   timeout: float | None = None, max_instance: int = MAX_INSTANCE,
                   progress: Progress | None = None) -> list[AllCpuVerdict]:
    start = time.perf_counter()
    deadline = None if timeout is None else start + timeout
    say = progress or (lambda _m: None)
    params = {k: v for k, v in params.items() if k != CPUS}
    wanted = [p for p in model.properties if not properties or p.name in properties]
    out = {p.name: AllCpuVerdict(p.name, "unknown", expected=p.expect) for p in wanted}
    settled = _instances(model, params, wanted, out, deadline, max_instance, say)
    for v in out.values():
        v.settled = settled
    open_ = [p for p in wanted if out[p.name].verdict != "violated"]
    if open_:
        _prove(model, params, open_, out, deadline, max_instance, say)
    for v in out.values():
        v.seconds = time.perf_counter() - start
    return [out[p.name] for p in wanted]


def _instances(model: ir.Model, params: dict[str, int], wanted: list[ir.Property], out: dict[str, AllCpuVerdict],
               deadline: float | None, max_instance: int, say: Progress) -> int:
    """Run the exhaustive engine at CPUS = 1, 2, ...: the smallest violation of each property."""
    from compiler.engine import check as engine_check
    settled = 0
    for n in range(1, max_instance + 1):
        left = _left(deadline)
        if left is not None and left < 1:
            break
        say(f"{model.name}: CPUS={n}: exhaustive search")
        # Half of what is left at most: the invariant search needs time too.
        results = engine_check(model, {**params, CPUS: n}, timeout=None if left is None else left / 2)
        for r in results:
            v = out.get(r.property)
            if v is None:
                continue
            v.instances[n] = r.summary() if hasattr(r, "summary") else r.verdict
            if v.verdict != "violated" and r.verdict in ("violated", "covered"):
                v.verdict, v.cpus, v.result = "violated", n, r
        if all(r.verdict in SETTLED for r in results if r.property in out) and settled == n - 1:
            settled = n
    return settled


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.perf_counter()


def _prove(model: ir.Model, params: dict[str, int], props: list[ir.Property], out: dict[str, AllCpuVerdict],
           deadline: float | None, max_instance: int, say: Progress) -> None:
    try:
        system = System(model, params)
    except Unsupported as e:
        for p in props:
            out[p.name].reason = f"the spec is outside what the all-CPU encoding covers: {e}"
        return
    samples: dict[int, tuple[Any, list[Sequence[int]]]] = {}
    for i, p in enumerate(props):
        left = _left(deadline)
        if left is not None and left <= 0:
            out[p.name].reason = "no inductive invariant found: the time budget ran out before its turn"
            continue
        # Each property gets an equal share of what is left, so that one hard property cannot
        # starve the others.
        mine = None if left is None else time.perf_counter() + left / (len(props) - i)
        vars_ = cone(system, p)
        say(f"{model.name}: {p.name}: learning clauses over {len(vars_)} variables")
        began = time.perf_counter()
        try:
            cubes = learn(model, params, system, p, vars_, SAMPLE_CPUS, mine, samples,
                          lambda m: say(f"{model.name}: {m}"))
            _judge(model, params, system, cubes, [p], out, deadline, max_instance, vars_)
        except Unsupported as e:
            out[p.name].reason = f"the spec is outside what the all-CPU abstraction covers: {e}"
        except Stopped as e:
            out[p.name].reason = f"no inductive invariant found: {e}"
        out[p.name].search_seconds = time.perf_counter() - began


def learn(model: ir.Model, params: dict[str, int], system: System, prop: ir.Property,
          cone_vars: set[ir.Var] | None, upto: int, deadline: float | None,
          samples: dict[int, tuple[Any, list[Sequence[int]]]] | None = None,
          say: Progress | None = None) -> tuple[Cube, ...]:
    """The clauses of an invariant for `prop` over the features of `cone_vars` (all variables
    when None), guided by the states the search reaches at CPUS = n0..upto; raises Stopped."""
    views = Views(model, system, cone_vars)
    views.add_pins()
    seeds = _seeds(model, params, system, views, set(model.vars) if cone_vars is None else cone_vars, upto,
                   {} if samples is None else samples)
    bad = bad_states(system, prop)
    found = Learner(system, views, Positives(seeds), deadline, progress=say or (lambda _m: None)).run(bad)
    return minimize(system, views, found, bad, deadline)


def _seeds(model: ir.Model, params: dict[str, int], system: System, views: Views, cone_vars: set[ir.Var],
           upto: int, samples: dict[int, tuple[Any, list[Sequence[int]]]]) -> set[Abstract]:
    """The abstractions of the states the search reaches at CPUS = n0..upto (searched once per
    spec, in `samples`)."""
    from compiler.backends.allcpus.finite import TupleState
    from compiler.backends.allcpus.sample import reachable
    from compiler.backends.z3.layout import Layout
    seeds: set[Abstract] = set()
    for n in range(system.n0(), upto + 1):
        if n not in samples:
            p = {**params, CPUS: n}
            samples[n] = (Layout(model, p), reachable(model, p, SAMPLE_STATES)[0])
        layout, states = samples[n]
        keep = [i for i, slot in enumerate(layout.slots) if slot.var is None or slot.var in cone_vars]
        # Variables outside the cone do not change the abstraction: zero them, then abstract once each.
        projected = {_project(s, keep) for s in states}
        seeds |= {views.alpha(TupleState(layout, system.cpu_agent.name, s)) for s in projected}
    extra = views.bystander()
    if extra is not None:
        # A run of CPUS=n is a run of CPUS=n+1 whose last CPU never steps: without these states,
        # "two CPUs that are neither CPU 0 nor its.target" looks unreachable at CPUS=3.
        seeds |= {_plus(a, extra) for a in seeds}
    return seeds


def _plus(a: Abstract, loc: Local) -> Abstract:
    g, counts = a
    c = dict(counts)
    c[loc] = min(2, c.get(loc, 0) + 1)
    return g, tuple(sorted(c.items()))


def _project(s: Sequence[int], keep: list[int]) -> tuple[int, ...]:
    out = [0] * len(s)
    for i in keep:
        out[i] = s[i]
    return tuple(out)


def _judge(model: ir.Model, params: dict[str, int], system: System, cubes: tuple[Cube, ...], props: list[ir.Property],
           out: dict[str, AllCpuVerdict], deadline: float | None, max_instance: int,
           cone_vars: set[ir.Var]) -> None:
    """Re-check the invariant from scratch; "proved" only when every obligation is unsat."""
    budget = Budget(deadline)
    inductive, per = check(model, params, cubes, props, budget, cone_vars)
    cross: list[Obligation] = []
    if all(o.answer == "unsat" for o in inductive):
        for n in range(system.n0(), min(max_instance, 2) + 1):
            cross += cross_check(model, params, cubes, n, props, budget, cone_vars)
    n0 = system.n0()
    views = Views(model, system, cone_vars)
    views.add_pins()
    text = Clauses(views, cubes).text()
    for p in props:
        v = out[p.name]
        v.n0 = n0
        obligations = inductive + per[p.name] + [o for o in cross if p.name in o.what or "I is" in o.what
                                                  or "initial" in o.what]
        failed = [o for o in obligations if o.answer != "unsat"]
        if not failed:
            v.verdict, v.invariant, v.evidence, v.reason = "proved", text, obligations, None
        else:
            v.reason = "the invariant found does not establish it: " + "; ".join(
                f"{o.what}: {'a counterexample' if o.answer == 'sat' else o.answer}" for o in failed[:3])
