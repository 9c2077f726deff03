"""Small Z3 term constructors that fold constants.

Quantifiers over finite domains, `SelfIndex` and loop-free step bodies make most
sub-terms constant once the parameters are fixed; folding them in Python keeps the
formulas (and the Python time spent building them) small, and lets array reads
and writes with a constant index touch one slot instead of an ite chain.
"""
from __future__ import annotations

from typing import Iterable

import z3
from z3.z3 import _to_expr_ref  # the public substitute() wraps this with slow checks

# Z3 hash-conses terms, so two terms are the same iff their AST pointers are equal.
# The checks below compare pointers instead of going through z3py's predicates,
# which make several ctypes calls each: building the properties of the IMSIC specs
# (enabled() expanded over every step and choice) spent seconds in them.
_CTX = z3.main_ctx()
TRUE: z3.BoolRef = z3.BoolVal(True)
FALSE: z3.BoolRef = z3.BoolVal(False)
_T, _F = TRUE.ast.value, FALSE.ast.value
_NUMS: dict[int, tuple[z3.ExprRef, int]] = {}  # AST pointer -> (numeral, value), for numerals made here
_NEGATED: dict[int, tuple[z3.BoolRef, z3.BoolRef]] = {}  # pointer of Not(x) -> (Not(x), x)


def ptr(t: z3.ExprRef) -> int:
    return t.ast.value  # type: ignore[no-any-return]


def same(a: z3.ExprRef, b: z3.ExprRef) -> bool:
    return a is b or a.ast.value == b.ast.value


def is_true(t: z3.ExprRef) -> bool:
    return t.ast.value == _T  # type: ignore[no-any-return]


def is_false(t: z3.ExprRef) -> bool:
    return t.ast.value == _F  # type: ignore[no-any-return]


def _numeral(t: z3.ExprRef, v: int) -> z3.ExprRef:
    hit = _NUMS.get(t.ast.value)
    if hit is not None:
        return hit[0]
    _NUMS[t.ast.value] = (t, v)  # keeps t alive, so the pointer is never reused
    return t


class Ints:
    """How the IR's integers (ints, enum members, pcs, lock owners, the selector) are represented.

    `width None`: Z3 Ints.  Otherwise signed bit-vectors of `width` bits, chosen by
    `compiler.backends.z3.width` so that every value any expression can take fits:
    the arithmetic is then exactly the IR's mathematical arithmetic.
    """

    def __init__(self, width: int | None) -> None:
        self.width = width
        self._vals: dict[int, z3.ExprRef] = {}

    def const(self, name: str) -> z3.ExprRef:
        return z3.Int(name) if self.width is None else z3.BitVec(name, self.width)

    def val(self, v: int) -> z3.ExprRef:
        t = self._vals.get(v)
        if t is None:
            t = _numeral(z3.IntVal(v) if self.width is None else z3.BitVecVal(v, self.width), v)
            self._vals[v] = t
        return t

    def __repr__(self) -> str:
        return "Int" if self.width is None else f"BitVec({self.width})"


def num(e: z3.ExprRef) -> int | None:
    """The value of an integer numeral, or None when `e` is symbolic."""
    hit = _NUMS.get(e.ast.value)
    if hit is not None:
        return hit[1]
    if z3.is_int_value(e):
        return int(e.as_long())
    if z3.is_bv_value(e):
        return int(e.as_signed_long())
    return None


def val_like(x: z3.ExprRef, v: int) -> z3.ExprRef:
    """The numeral v in the sort of x."""
    t = z3.BitVecVal(v, x.size()) if z3.is_bv(x) else z3.IntVal(v)
    return _numeral(t, v)


def _array(xs: list[z3.BoolRef]):  # type: ignore[no-untyped-def]
    arr = (z3.Ast * len(xs))()
    for i, x in enumerate(xs):
        arr[i] = x.ast
    return arr


def mk_and(xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
    kept: list[z3.BoolRef] = []
    for x in xs:
        p = x.ast.value
        if p == _F:
            return FALSE
        if p != _T:
            kept.append(x)
    if not kept:
        return TRUE
    if len(kept) == 1:
        return kept[0]
    return z3.BoolRef(z3.Z3_mk_and(_CTX.ref(), len(kept), _array(kept)), _CTX)


def mk_or(xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
    kept: list[z3.BoolRef] = []
    for x in xs:
        p = x.ast.value
        if p == _T:
            return TRUE
        if p != _F:
            kept.append(x)
    if not kept:
        return FALSE
    if len(kept) == 1:
        return kept[0]
    return z3.BoolRef(z3.Z3_mk_or(_CTX.ref(), len(kept), _array(kept)), _CTX)


def mk_not(x: z3.BoolRef) -> z3.BoolRef:
    p = x.ast.value
    if p == _T:
        return FALSE
    if p == _F:
        return TRUE
    hit = _NEGATED.get(p)
    if hit is not None:
        return hit[1]
    n = z3.BoolRef(z3.Z3_mk_not(_CTX.ref(), x.ast), _CTX)
    _NEGATED[n.ast.value] = (n, x)
    return n


def mk_implies(a: z3.BoolRef, b: z3.BoolRef) -> z3.BoolRef:
    if is_true(a):
        return b
    if is_false(a) or is_true(b):
        return TRUE
    return z3.BoolRef(z3.Z3_mk_implies(_CTX.ref(), a.ast, b.ast), _CTX)


def mk_ite(c: z3.BoolRef, a: z3.ExprRef, b: z3.ExprRef) -> z3.ExprRef:
    if is_true(c) or same(a, b):
        return a
    if is_false(c):
        return b
    return _to_expr_ref(z3.Z3_mk_ite(_CTX.ref(), c.ast, a.ast, b.ast), _CTX)


def mk_eq(a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
    if same(a, b):
        return TRUE
    x, y = num(a), num(b)
    if x is not None and y is not None:
        return TRUE if x == y else FALSE
    pa, pb = a.ast.value, b.ast.value
    if pb == _T or pb == _F:  # then a is boolean too
        return a if pb == _T else mk_not(a)
    if pa == _T or pa == _F:
        return b if pa == _T else mk_not(b)
    return z3.BoolRef(z3.Z3_mk_eq(_CTX.ref(), a.ast, b.ast), _CTX)


_ARITH = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}
_CMP = {"lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}


def mk_arith(op: str, a: z3.ExprRef, b: z3.ExprRef) -> z3.ExprRef:
    x, y = num(a), num(b)
    if x is not None and y is not None:
        return val_like(a, _ARITH[op](x, y))
    return _ARITH[op](a, b)


def mk_cmp(op: str, a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
    x, y = num(a), num(b)
    if x is not None and y is not None:
        return TRUE if _CMP[op](x, y) else FALSE
    return _CMP[op](a, b)


def mk_in(x: z3.ExprRef, values: Iterable[int]) -> z3.BoolRef:
    """x is one of `values` (a pc in a set of locations, an index in a range)."""
    return mk_or(mk_eq(x, val_like(x, v)) for v in values)


class Renaming:
    """Simultaneous substitution of constants, prepared once and applied to many terms.

    `z3.substitute` re-validates every pair in Python on each call, which cost more
    than all the solving on S1; unrolling applies the same renaming to several
    templates per depth, so the C arrays are built once here.
    """

    def __init__(self, pairs: list[tuple[z3.ExprRef, z3.ExprRef]]) -> None:
        self.n = len(pairs)
        self._keep = pairs  # the arrays hold raw pointers: the terms must outlive them
        self.ctx = pairs[0][0].ctx if pairs else z3.main_ctx()
        self._from = (z3.Ast * self.n)()
        self._to = (z3.Ast * self.n)()
        for i, (a, b) in enumerate(pairs):
            self._from[i] = a.as_ast()
            self._to[i] = b.as_ast()

    def __call__(self, t: z3.ExprRef) -> z3.ExprRef:
        if self.n == 0:
            return t
        ast = z3.Z3_substitute(self.ctx.ref(), t.as_ast(), self.n, self._from, self._to)
        return _to_expr_ref(ast, self.ctx)
