"""Small Z3 term constructors that fold constants.

Quantifiers over finite domains, `SelfIndex` and loop-free step bodies make most
sub-terms constant once the parameters are fixed; folding them in Python keeps the
formulas (and the Python time spent building them) small, and lets array reads
and writes with a constant index touch one slot instead of an ite chain.
"""
from __future__ import annotations

from typing import Iterable

import z3

TRUE: z3.BoolRef = z3.BoolVal(True)
FALSE: z3.BoolRef = z3.BoolVal(False)


def num(e: z3.ExprRef) -> int | None:
    """The value of an integer numeral, or None when `e` is symbolic."""
    return e.as_long() if z3.is_int_value(e) else None  # type: ignore[attr-defined,no-any-return]


def mk_and(xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
    kept: list[z3.BoolRef] = []
    for x in xs:
        if z3.is_false(x):
            return FALSE
        if not z3.is_true(x):
            kept.append(x)
    if not kept:
        return TRUE
    return kept[0] if len(kept) == 1 else z3.And(kept)


def mk_or(xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
    kept: list[z3.BoolRef] = []
    for x in xs:
        if z3.is_true(x):
            return TRUE
        if not z3.is_false(x):
            kept.append(x)
    if not kept:
        return FALSE
    return kept[0] if len(kept) == 1 else z3.Or(kept)


def mk_not(x: z3.BoolRef) -> z3.BoolRef:
    if z3.is_true(x):
        return FALSE
    if z3.is_false(x):
        return TRUE
    if z3.is_not(x):
        return x.arg(0)  # type: ignore[no-any-return]
    return z3.Not(x)


def mk_implies(a: z3.BoolRef, b: z3.BoolRef) -> z3.BoolRef:
    if z3.is_true(a):
        return b
    if z3.is_false(a) or z3.is_true(b):
        return TRUE
    return z3.Implies(a, b)


def mk_ite(c: z3.BoolRef, a: z3.ExprRef, b: z3.ExprRef) -> z3.ExprRef:
    if z3.is_true(c) or z3.eq(a, b):
        return a
    if z3.is_false(c):
        return b
    return z3.If(c, a, b)


def mk_eq(a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
    if z3.eq(a, b):
        return TRUE
    x, y = num(a), num(b)
    if x is not None and y is not None:
        return z3.BoolVal(x == y)
    if z3.is_bool(a) and (z3.is_true(b) or z3.is_false(b)):
        return a if z3.is_true(b) else mk_not(a)
    if z3.is_bool(b) and (z3.is_true(a) or z3.is_false(a)):
        return b if z3.is_true(a) else mk_not(b)
    return a == b  # type: ignore[return-value]


_ARITH = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}
_CMP = {"lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}


def mk_arith(op: str, a: z3.ExprRef, b: z3.ExprRef) -> z3.ExprRef:
    x, y = num(a), num(b)
    if x is not None and y is not None:
        return z3.IntVal(_ARITH[op](x, y))
    return _ARITH[op](a, b)  # type: ignore[no-any-return]


def mk_cmp(op: str, a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
    x, y = num(a), num(b)
    if x is not None and y is not None:
        return z3.BoolVal(_CMP[op](x, y))
    return _CMP[op](a, b)  # type: ignore[no-any-return]


def mk_in(x: z3.ExprRef, values: Iterable[int]) -> z3.BoolRef:
    """x is one of `values` (a pc in a set of locations, an index in a range)."""
    return mk_or(mk_eq(x, z3.IntVal(v)) for v in values)
