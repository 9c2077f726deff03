"""Does the spec have an initial state at these parameters?

With none, every property holds vacuously and both engines would say "proved", so
the front end asks this before any engine runs.  Z3, not enumeration: a spec with
free (`init`-less) arrays has too many candidate initial states to list.
"""
from __future__ import annotations

import z3

from compiler import ir
from compiler.backends.z3.layout import Layout
from compiler.backends.z3.symexec import EncodingError, Evaluator, Scope
from compiler.backends.z3.terms import Ints, mk_and, mk_eq, val_like
from compiler.backends.z3.width import exact_width

GIVE_UP_MS = 10_000  # an undecided answer is no diagnostic: the engines then report what they find


def conflicting_initially(model: ir.Model, params: dict[str, int]) -> list[int] | None:
    """None when some state satisfies every declaration and every `initially` clause.
    Otherwise the indices of clauses that cannot hold together (an unsat core)."""
    if not model.initially:
        return None
    try:
        solver, lits = _encode(model, params)
    except EncodingError:
        return None
    solver.set(timeout=GIVE_UP_MS, ctrl_c=False)
    if solver.check(*lits) != z3.unsat:
        return None
    core = {str(c) for c in solver.unsat_core()}
    return [i for i, lit in enumerate(lits) if str(lit) in core] or list(range(len(lits)))


def _encode(model: ir.Model, params: dict[str, int]) -> tuple[z3.Solver, list[z3.BoolRef]]:
    """The initial-state constraint of `TransitionSystem.init`, one assumption literal per clause."""
    layout = Layout(model, params)
    ints = Ints(exact_width(layout))
    ev = Evaluator(layout, ints)
    state = [z3.Bool(f"{s.name}@0") if s.is_bool else ints.const(f"{s.name}@0") for s in layout.slots]
    scope = Scope(state)
    solver = z3.SolverFor("QF_BV")
    for var in model.vars:
        shape = layout.shapes[var]
        slots = range(shape.base, shape.base + _count(shape.dims))
        if var.init is None:
            solver.add(*[_in_range(state[i], layout.slots[i].is_bool, layout.slots[i].lo, layout.slots[i].hi)
                         for i in slots])
        else:
            value = ev.expr(var.init, scope)
            solver.add(*[mk_eq(state[i], value) for i in slots])
    for inst in layout.instances:
        solver.add(mk_eq(state[inst.pc], ints.val(inst.agent.initial)))
    lits: list[z3.BoolRef] = []
    for i, clause in enumerate(model.initially):
        lit = z3.Bool(f"initially#{i}")
        solver.add(z3.Implies(lit, ev.boolean(clause, scope)))
        lits.append(lit)
    return solver, lits


def _in_range(x: z3.ExprRef, is_bool: bool, lo: int, hi: int) -> z3.BoolRef:
    return z3.BoolVal(True) if is_bool else mk_and([x >= val_like(x, lo), x <= val_like(x, hi)])


def _count(dims: tuple[range, ...]) -> int:
    n = 1
    for d in dims:
        n *= len(d)
    return n
