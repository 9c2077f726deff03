"""The variables a property can depend on (its cone of influence), read off the encoding.

Only a heuristic for *which features* the invariant mentions: the invariant is checked
against the whole transition system, so a cone that is too small makes a proof fail,
never a wrong one.  Reading it off the Z3 terms (rather than the IR) sees through the
continuations lowering duplicates into both arms of an `if`: identical arms are one term.
"""
from __future__ import annotations

import z3

from compiler import ir
from compiler.backends.allcpus.param import Fn, System, Value


def _symbols(terms: list[z3.ExprRef]) -> set[str]:
    seen: set[int] = set()
    out: set[str] = set()
    todo = list(terms)
    while todo:
        t = todo.pop()
        if t.get_id() in seen:
            continue
        seen.add(t.get_id())
        if z3.is_app(t):
            d = t.decl()
            if d.kind() == z3.Z3_OP_UNINTERPRETED:
                out.add(d.name())
            todo.extend(t.children())
        elif z3.is_quantifier(t):
            todo.append(t.body())
    return out


def cone(sys: System, prop: ir.Property) -> set[ir.Var]:
    by_name = {f"{v.name}@pre": v for v in sys.model.vars}
    j = sys.fresh_cpu("cone")

    def term(v: Value, dims: int = 1) -> z3.ExprRef:
        # Symbolic indices: a write at any index shows in the term.
        return v([j] + [z3.Int(f"cone.i{k}") for k in range(dims - 1)]) if isinstance(v, Fn) else v

    roots: list[z3.ExprRef] = []
    pred = prop.invariant_expr()
    if pred is not None:
        roots.append(sys.prop(pred, sys.pre))
    for act in sys.actions:
        roots += [act.effect.ok, act.at, act.ranges]
        roots += act.effect.aborts.get(prop.name, [])
        roots += [f for f in act.effect.aborts.get(ir.IN_RANGE, []) if _possible(sys, f)]
        roots += [term(v) for v in act.effect.post.pcs.values()]
    found = {by_name[n] for n in _symbols(roots) if n in by_name}
    while True:
        more: list[z3.ExprRef] = []
        for act in sys.actions:
            for var in found:
                more.append(term(act.effect.post.vars[var], _dims(var)))
        grown = found | {by_name[n] for n in _symbols(more) if n in by_name}
        if grown == found:
            return found
        found = grown


def _possible(sys: System, f: z3.BoolRef) -> bool:
    """Whether a failure condition can hold at all (a guarded `runs + 1` cannot overflow)."""
    s = z3.Solver()
    s.set(timeout=2000)
    s.add(sys.domain(sys.pre), f)
    return bool(s.check() != z3.unsat)


def _dims(var: ir.Var) -> int:
    n, t = 0, var.type
    while isinstance(t, ir.ArrayType):
        n, t = n + 1, t.elem
    return n
