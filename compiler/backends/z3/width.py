"""The bit-vector width that makes bit-vector arithmetic exact for one model.

Every integer a model can compute lies in an interval we can bound statically:
slots, choices and quantifier variables range over their types, literals and
parameters are constants, and `+ - *` and `ite` have interval rules.  The
largest magnitude M over all of them needs M.bit_length() + 1 signed bits; at
that width no operation can wrap, so signed bit-vectors compute exactly what the
IR's mathematical integers do.
"""
from __future__ import annotations

from typing import Callable

from compiler import ir
from compiler.backends.z3.layout import Layout
from compiler.backends.z3.symexec import EncodingError

Interval = tuple[int, int]


class Bounds:
    def __init__(self, layout: Layout) -> None:
        self.params = layout.params
        selves = [inst.value for inst in layout.instances] or [0]
        self.self_range: Interval = (min(0, *selves), max(0, *selves))
        self.magnitude = max([len(layout.actions), len(layout.instances)] +
                             [max(abs(s.lo), abs(s.hi)) for s in layout.slots])
        self._rules: dict[type, Callable[..., Interval]] = {
            ir.Lit: self._lit, ir.ParamRef: self._param, ir.VarRef: self._typed, ir.Index: self._index,
            ir.SelfIndex: lambda e: self.self_range, ir.ChoiceRef: lambda e: self._type(e.choice.type),
            ir.BoundRef: lambda e: self._type(e.bound.type), ir.Unary: self._unary, ir.Binary: self._binary,
            ir.Ite: self._ite, ir.Quant: self._quant, ir.AtLoc: self._located, ir.Enabled: self._located,
        }

    def expr(self, e: ir.Expr) -> Interval:
        rule = self._rules.get(type(e))
        if rule is None:
            raise EncodingError(f"z3 backend: no interval rule for {type(e).__name__}")
        lo, hi = rule(e)
        self.magnitude = max(self.magnitude, abs(lo), abs(hi))
        return lo, hi

    def _type(self, t: ir.Type) -> Interval:
        while isinstance(t, ir.ArrayType):
            t = t.elem
        r = ir.domain_values(t, self.params)
        return r.start, max(r.start, r.stop - 1)

    def _lit(self, e: ir.Lit) -> Interval:
        return int(e.value), int(e.value)

    def _param(self, e: ir.ParamRef) -> Interval:
        v = self.params[e.param.name]
        return v, v

    def _typed(self, e: ir.VarRef) -> Interval:
        return self._type(e.var.type)

    def _index(self, e: ir.Index) -> Interval:
        self.expr(e.index)
        base = e.base
        while isinstance(base, ir.Index):
            self.expr(base.index)
            base = base.base
        return self._type(ir.type_of(e))

    def _unary(self, e: ir.Unary) -> Interval:
        lo, hi = self.expr(e.arg)
        return (-hi, -lo) if e.op == "neg" else (0, 1)

    def _binary(self, e: ir.Binary) -> Interval:
        (a, b), (c, d) = self.expr(e.left), self.expr(e.right)
        if e.op == "add":
            return a + c, b + d
        if e.op == "sub":
            return a - d, b - c
        if e.op == "mul":
            products = (a * c, a * d, b * c, b * d)
            return min(products), max(products)
        return 0, 1

    def _ite(self, e: ir.Ite) -> Interval:
        self.expr(e.cond)
        (a, b), (c, d) = self.expr(e.then), self.expr(e.else_)
        return min(a, c), max(b, d)

    def _quant(self, e: ir.Quant) -> Interval:
        self._type(e.bound.type)
        self.expr(e.body)
        return 0, 1

    def _located(self, e: ir.AtLoc | ir.Enabled) -> Interval:
        if e.index is not None:
            self.expr(e.index)
        return 0, 1

    def stmts(self, body: tuple[ir.Stmt, ...]) -> None:
        for s in body:
            if isinstance(s, ir.Assign):
                self.expr(s.target)
                self.expr(s.value)
            elif isinstance(s, ir.If):
                self.expr(s.cond)
                self.stmts(s.then)
                self.stmts(s.else_)
            elif isinstance(s, (ir.Assume, ir.Check)):
                self.expr(s.cond)
            elif isinstance(s, ir.Choose):
                self.magnitude = max(self.magnitude, *(abs(x) for x in self._type(s.choice.type)))
            elif isinstance(s, ir.Goto):
                self.magnitude = max(self.magnitude, s.target)
            else:
                raise EncodingError(f"z3 backend: no interval rule for statement {type(s).__name__}")


def exact_width(layout: Layout) -> int:
    """Signed bits enough for every value the model can compute."""
    b = Bounds(layout)
    model = layout.model
    for v in model.vars:
        if v.init is not None:
            b.expr(v.init)
    for e in model.initially:
        b.expr(e)
    for p in model.properties:
        if p.expr is not None:
            b.expr(p.expr)
    for a in model.agents:
        for s in a.steps:
            b.stmts(s.body)
    return max(2, b.magnitude.bit_length() + 1)
