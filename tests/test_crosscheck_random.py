"""Cross-check (c): hypothesis builds small random IR models (a few vars, two agents
with guarded steps, invariants) and both backends must agree on every property.
Each counterexample Z3 finds must also replay in the simulator, and a random
simulator run must satisfy the Z3 transition relation.

The models follow the IR contract the way lowering produces it: every write into a
bounded int and every array index that may be out of range is guarded by
`Check(..., "in_range")`, and every path of a step ends in exactly one Goto.
"""
from __future__ import annotations

from typing import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import ir
from compiler.backends.python import generate, load_simulator
from compiler.backends.z3 import prove
from compiler.trace import to_itf
from tests import py_irfixtures as fx
from tests.test_crosscheck import assert_accepted

N = ir.Param("N", 2)  # a param in the bounds, so the parametric layout is exercised too
SMALL = ir.IntType(fx.n(0), ir.ParamRef(N))  # 0..N
TWO = ir.IntType(fx.n(0), fx.n(1), "cpu")  # 0..1
FLAG = ir.Var("flag", ir.BOOL, None)  # any initial value
COUNT = ir.Var("count", SMALL, fx.n(0))
BITS = ir.Var("bits", ir.ArrayType(TWO, ir.BOOL), fx.b(False))
VARS = (FLAG, COUNT, BITS)
LOCS = 2

Draw = Callable[..., object]


def in_range(e: ir.Expr, lo: ir.Expr, hi: ir.Expr) -> ir.Expr:
    return ir.Binary("and", ir.Binary("ge", e, lo), ir.Binary("le", e, hi))


# --------------------------------------------------------------------------- expressions


def int_expr(draw: Draw, env: list[ir.Expr]) -> ir.Expr:
    leaves: list[ir.Expr] = [ir.VarRef(COUNT), fx.n(draw(st.integers(0, 2))), *env]
    e = draw(st.sampled_from(leaves))
    if draw(st.booleans()):
        e = ir.Binary(draw(st.sampled_from(["add", "sub"])), e, fx.n(draw(st.integers(1, 2))))
    return e


def bool_expr(draw: Draw, env: list[ir.Expr], agents: bool, depth: int = 0) -> ir.Expr:
    kinds = ["flag", "cmp", "bit"] + (["at", "quant"] if agents else []) + (["not", "and", "or", "implies", "ite"]
                                                                              if depth < 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "flag":
        return ir.VarRef(FLAG)
    if kind == "cmp":
        return ir.Binary(draw(st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"])), int_expr(draw, env),
                         int_expr(draw, env))
    if kind == "bit":
        return ir.Index(ir.VarRef(BITS), fx.n(draw(st.integers(0, 1))))
    if kind == "at":
        return ir.AtLoc("q", fx.n(draw(st.integers(0, 1))), frozenset({draw(st.integers(0, LOCS - 1))}))
    if kind == "quant":
        k = ir.Bound("k", TWO)
        body = ir.Binary(draw(st.sampled_from(["or", "and"])), ir.Index(ir.VarRef(BITS), ir.BoundRef(k)),
                         ir.AtLoc("q", ir.BoundRef(k), frozenset({0})))
        return ir.Quant(draw(st.sampled_from(["forall", "exists"])), k, body)
    if kind == "not":
        return ir.Unary("not", bool_expr(draw, env, agents, depth + 1))
    if kind == "ite":
        return ir.Ite(bool_expr(draw, env, agents, depth + 1), bool_expr(draw, env, agents, depth + 1),
                      bool_expr(draw, env, agents, depth + 1))
    return ir.Binary(kind, bool_expr(draw, env, agents, depth + 1), bool_expr(draw, env, agents, depth + 1))


# --------------------------------------------------------------------------- statements


def assign(draw: Draw, env: list[ir.Expr], me: ir.Expr) -> list[ir.Stmt]:
    target = draw(st.sampled_from(["flag", "count", "bit"]))
    if target == "flag":
        return [ir.Assign(ir.VarRef(FLAG), bool_expr(draw, env, True))]
    if target == "count":
        value = int_expr(draw, env)
        return [ir.Check(in_range(value, fx.n(0), ir.ParamRef(N)), "in_range"), ir.Assign(ir.VarRef(COUNT), value)]
    index = draw(st.sampled_from([me, ir.VarRef(COUNT), fx.n(1)]))
    guard: list[ir.Stmt] = [ir.Check(in_range(index, fx.n(0), fx.n(1)), "in_range")] if index is not me else []
    return [*guard, ir.Assign(ir.Index(ir.VarRef(BITS), index), bool_expr(draw, env, True))]


@st.composite
def step(draw: Draw, name: str, me: ir.Expr) -> ir.Step:
    body: list[ir.Stmt] = []
    env: list[ir.Expr] = []
    if draw(st.booleans()):
        body.append(ir.Assume(bool_expr(draw, env, True), "when"))
    if draw(st.booleans()):
        c = ir.Choice("c", SMALL)
        env.append(ir.ChoiceRef(c))
        body += [ir.Choose(c), ir.Assume(ir.Binary("ne", ir.ChoiceRef(c), ir.VarRef(COUNT)), "where")]
    for _ in range(draw(st.integers(1, 2))):
        body += assign(draw, env, me)
    if draw(st.booleans()):  # a guard after writes: it reads them, and a failed Check before it wins
        body.append(ir.Assume(bool_expr(draw, env, True), "await"))
    goto = lambda: ir.Goto(draw(st.integers(0, LOCS - 1)))  # noqa: E731
    if draw(st.booleans()):  # a branch that ends paths: both sides need their own Goto
        cond = bool_expr(draw, env, True)
        body.append(ir.If(cond, (*assign(draw, env, me), goto()), (goto(),)))
    else:
        body.append(goto())
    return ir.Step(name, draw(st.integers(0, LOCS - 1)), tuple(body), name)


def invariant(draw: Draw) -> ir.Expr:
    """Shaped to hold initially more often than not, so that violations come deeper in runs."""
    a, b = bool_expr(draw, [], True, 1), bool_expr(draw, [], True, 1)
    return ir.Binary("implies", a, b) if draw(st.booleans()) else ir.Unary("not", ir.Binary("and", a, b))


@st.composite
def models(draw: Draw) -> ir.Model:
    locs = tuple(ir.Location(i, f"L{i}") for i in range(LOCS))
    p_steps = tuple(draw(step(f"p{k}", fx.n(0))) for k in range(draw(st.integers(1, 3))))
    q_steps = tuple(draw(step(f"q{k}", ir.SelfIndex())) for k in range(draw(st.integers(1, 3))))
    agents = (ir.Agent("p", "thread", None, locs, 0, p_steps), ir.Agent("q", "cpu", TWO, locs, 0, q_steps))
    invariants = tuple(ir.Property(f"inv{k}", "invariant", invariant(draw), None) for k in range(draw(st.integers(1, 2))))
    j = ir.Bound("j", TWO)
    some_q = ir.Quant("exists", j, ir.Enabled("q", ir.BoundRef(j)))
    deadlock = ir.Property("deadlock", "deadlock", ir.Binary("or", ir.Enabled("p", None), some_q), None)
    initially = (bool_expr(draw, [], False),) if draw(st.booleans()) else ()
    props = (*invariants, deadlock, ir.Property("in_range", "check", None, None))
    return ir.Model("random", "", "random.irqspec", "h", (N,), (), VARS, agents, initially, props)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models(), st.integers(1, 2))
def test_backends_agree_on_random_models(model: ir.Model, n: int) -> None:
    params = {"N": n}
    sim = load_simulator(generate(model, model.path), "random").Simulator(params)
    explored = sim.explore()
    # The search covers every run when it completes; when it stops early (every property
    # is violated), it still covers every run of up to `bound` steps.
    bound = explored.depth + 1 if explored.complete else explored.bound
    results = prove(model, params, depth=bound, induction=False)
    z3_says = {r.property: r.depth if r.verdict == "violated" else None for r in results}
    found = {p: d for p, (d, _) in explored.violations.items() if d <= bound}
    sim_says = {p: found.get(p) for p in z3_says}
    assert sim_says == z3_says
    for r in results:
        if r.trace is not None:
            replay = sim.replay(to_itf(r.trace))
            assert replay.ok and (replay.property, replay.steps) == (r.property, r.depth), replay.problem
    path, prop, _ = sim.random_run(n, 12)
    if path:
        assert_accepted(model, params, sim, path, prop)
