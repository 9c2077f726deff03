"""IR expressions -> C expression text, one small function per node kind.

Parameters are fixed, so every constant is a literal.  Integers are `int64_t`: IR
integers are mathematical, and `magnitude` bounds every value from the types, so a model
whose arithmetic could leave int64 is refused (UnsupportedC) instead of wrapping.  A
state is an array of unsigned cells holding `value - lo`; reads add `lo` back.  A
computed index goes through `IX`, which stops the program (exit 70) when it leaves its
array: lowering guards such indices with `in_range` checks, so that never happens unless
a backend is wrong, and then it must be loud.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from compiler import ir
from compiler.backends.c.layout import Layout, UnsupportedC, scalar_bounds

LIMIT = 1 << 62  # every intermediate value must stay below this in magnitude


@dataclass(slots=True)
class Names:
    """C identifiers for choices and bound variables (numbered: spec names never reach code)."""

    by_obj: dict[int, str] = field(default_factory=dict)

    def of(self, obj: object, prefix: str) -> str:
        key = id(obj)
        if key not in self.by_obj:
            self.by_obj[key] = f"{prefix}{len(self.by_obj)}"
        return self.by_obj[key]


@dataclass(frozen=True, slots=True)
class Scope:
    model: ir.Model
    layout: Layout
    names: Names
    state: str = "s"
    agent: ir.Agent | None = None
    enabled: set[str] = field(default_factory=set)  # agents whose enabled_<k> the code calls

    def reading(self, state: str) -> Scope:
        return replace(self, state=state)


def lit(v: int) -> str:
    return f"INT64_C({v})" if not -(1 << 31) < v < 1 << 31 else str(v)


def agent_number(model: ir.Model, name: str) -> int:
    return [a.name for a in model.agents].index(name)


# --------------------------------------------------------------------------- slots


def slot(target: ir.Expr, sc: Scope) -> str:
    """The slot number (C text) of a var element."""
    var, indices = _unwind(target)
    vs = sc.layout.vars[var]
    if len(indices) != len(vs.dims):
        raise UnsupportedC(f"an array-valued expression ({ir.show(target)})")
    parts = [str(vs.base)]
    for (lo, hi), stride, idx in zip(vs.dims, vs.strides, indices):
        parts.append(_times(_index(idx, lo, hi, sc), stride))
    return " + ".join(p for p in parts if p != "0") or "0"


def _index(idx: ir.Expr, lo: int, hi: int, sc: Scope) -> str:
    """`idx - lo`, checked against the array's length when it is computed."""
    try:
        k = ir.eval_const(idx, sc.layout.params)
    except (ValueError, KeyError):
        return f"IX({expr(idx, sc)}, {lit(lo)}, {hi - lo + 1})"
    if not lo <= k <= hi:
        raise UnsupportedC(f"constant index {k} outside {lo}..{hi}")
    return str(k - lo)


def _times(term: str, stride: int) -> str:
    if term == "0":
        return "0"
    return term if stride == 1 else f"{term} * {stride}"


def _unwind(e: ir.Expr) -> tuple[ir.Var, list[ir.Expr]]:
    if isinstance(e, ir.VarRef):
        return e.var, []
    if isinstance(e, ir.Index):
        var, indices = _unwind(e.base)
        return var, indices + [e.index]
    raise UnsupportedC(f"not a var or array element: {ir.show(e)}")


def instance_index(agent_name: str, index: ir.Expr | None, sc: Scope) -> str:
    """The 0-based instance number of an agent instance named by a domain value."""
    agent = sc.model.agent(agent_name)
    if index is None or agent.domain is None:
        return "0"
    lo, hi = scalar_bounds(agent.domain, sc.layout.params)
    return _index(index, lo, hi, sc)


def pc_slot(agent_name: str, index: ir.Expr | None, sc: Scope) -> str:
    base = sc.layout.pc_base[agent_name]
    k = instance_index(agent_name, index, sc)
    return str(base) if k == "0" else f"{base} + {k}"


# --------------------------------------------------------------------------- expressions

_ARITH = {"add": "+", "sub": "-", "mul": "*"}
_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_CHAINS = {"and": "&&", "or": "||", "add": "+", "mul": "*"}


def _lit(e: ir.Lit, sc: Scope) -> str:
    return lit(int(e.value))


def _param(e: ir.ParamRef, sc: Scope) -> str:
    return lit(sc.layout.params[e.param.name])


def _read(e: ir.VarRef | ir.Index, sc: Scope) -> str:
    var, _ = _unwind(e)
    lo = sc.layout.vars[var].lo
    cell = f"(int64_t){sc.state}[{slot(e, sc)}]"
    return f"({cell})" if lo == 0 else f"({cell} + {lit(lo)})"


def _self(e: ir.SelfIndex, sc: Scope) -> str:
    if sc.agent is None:
        raise UnsupportedC("`self` outside a step")
    if sc.agent.domain is None:
        return "0"
    lo, _ = scalar_bounds(sc.agent.domain, sc.layout.params)
    return "(int64_t)i" if lo == 0 else f"((int64_t)i + {lit(lo)})"


def _choice(e: ir.ChoiceRef, sc: Scope) -> str:
    return sc.names.of(e.choice, "c")


def _bound(e: ir.BoundRef, sc: Scope) -> str:
    return sc.names.of(e.bound, "b")


def _unary(e: ir.Unary, sc: Scope) -> str:
    if e.op == "neg":
        _fits(e, sc)
    if e.op == "not":
        return f"(!{expr(e.arg, sc)})"
    if e.op == "neg":
        return f"(-{expr(e.arg, sc)})"
    raise UnsupportedC(f"unary operator {e.op!r}")


def _binary(e: ir.Binary, sc: Scope) -> str:
    if e.op in _ARITH:
        _fits(e, sc)  # a chain's bound covers its partial results: one look per chain
    if e.op in _CHAINS:
        return "(" + f" {_CHAINS[e.op]} ".join(expr(x, sc) for x in _chain(e)) + ")"
    a, b = expr(e.left, sc), expr(e.right, sc)
    if e.op == "implies":
        return f"(!{a} || {b})"
    if e.op == "sub":
        return f"({a} - {b})"
    if e.op in _CMP:
        return f"({a} {_CMP[e.op]} {b})"
    raise UnsupportedC(f"binary operator {e.op!r}")


def _chain(e: ir.Binary) -> list[ir.Expr]:
    """The operands of a run of one associative operator, left to right, without recursion
    (lowering builds conjunctions of hundreds of terms)."""
    out: list[ir.Expr] = []
    work: list[ir.Expr] = [e.right, e.left]
    while work:
        x = work.pop()
        if isinstance(x, ir.Binary) and x.op == e.op:
            work.extend((x.right, x.left))
        else:
            out.append(x)
    return out


def _ite(e: ir.Ite, sc: Scope) -> str:
    return f"({expr(e.cond, sc)} ? {expr(e.then, sc)} : {expr(e.else_, sc)})"


def _quant(e: ir.Quant, sc: Scope) -> str:
    if e.kind not in ("forall", "exists"):
        raise UnsupportedC(f"quantifier {e.kind!r}")
    b = sc.names.of(e.bound, "b")
    lo, hi = scalar_bounds(e.bound.type, sc.layout.params)
    # A GNU statement expression keeps the loop inside the expression; gcc and clang have them.
    stop, result = ("!", 0) if e.kind == "forall" else ("", 1)
    return (f"__extension__ ({{ int q_{b} = {1 - result}; for (int64_t {b} = {lit(lo)}; {b} <= {lit(hi)}; {b}++) "
            f"if ({stop}{expr(e.body, sc)}) {{ q_{b} = {result}; break; }} q_{b}; }})")


def _atloc(e: ir.AtLoc, sc: Scope) -> str:
    pc = f"{sc.state}[{pc_slot(e.agent, e.index, sc)}]"
    return "(" + " || ".join(f"{pc} == {n}" for n in sorted(e.locs)) + ")" if e.locs else "0"


def _enabled(e: ir.Enabled, sc: Scope) -> str:
    sc.enabled.add(e.agent)
    k = agent_number(sc.model, e.agent)
    return f"enabled_{k}({sc.state}, {instance_index(e.agent, e.index, sc)})"


_RULES: dict[type, Callable[..., str]] = {
    ir.Lit: _lit,
    ir.ParamRef: _param,
    ir.VarRef: _read,
    ir.Index: _read,
    ir.SelfIndex: _self,
    ir.ChoiceRef: _choice,
    ir.BoundRef: _bound,
    ir.Unary: _unary,
    ir.Binary: _binary,
    ir.Ite: _ite,
    ir.Quant: _quant,
    ir.AtLoc: _atloc,
    ir.Enabled: _enabled,
}


def expr(e: ir.Expr, sc: Scope) -> str:
    rule = _RULES.get(type(e))
    if rule is None:
        raise UnsupportedC(f"no C rule for IR expression {type(e).__name__}")
    return rule(e, sc)


def _fits(e: ir.Expr, sc: Scope) -> None:
    if magnitude(e, sc) >= LIMIT:
        raise UnsupportedC(f"`{ir.show(e)}` may exceed 64-bit integers")


# --------------------------------------------------------------------------- value bounds


def magnitude(e: ir.Expr, sc: Scope) -> int:
    """An upper bound of |value| over every state, from the types alone."""
    if isinstance(e, ir.Lit):
        return abs(int(e.value))
    if isinstance(e, ir.ParamRef):
        return abs(sc.layout.params[e.param.name])
    if isinstance(e, (ir.VarRef, ir.Index)):
        vs = sc.layout.vars[_unwind(e)[0]]
        return max(abs(vs.lo), abs(vs.hi))
    if isinstance(e, (ir.ChoiceRef, ir.BoundRef)):
        t = e.choice.type if isinstance(e, ir.ChoiceRef) else e.bound.type
        lo, hi = scalar_bounds(t, sc.layout.params)
        return max(abs(lo), abs(hi))
    if isinstance(e, ir.SelfIndex):
        return _self_magnitude(sc)
    if isinstance(e, ir.Unary):
        return 1 if e.op == "not" else magnitude(e.arg, sc)
    if isinstance(e, ir.Binary):
        if e.op not in _ARITH:
            return 1
        a, b = magnitude(e.left, sc), magnitude(e.right, sc)
        # max(.., 1): a factor that may be 0 does not bound the product of the others
        return max(a, 1) * max(b, 1) if e.op == "mul" else a + b
    if isinstance(e, ir.Ite):
        return max(magnitude(e.then, sc), magnitude(e.else_, sc))
    return 1  # Quant, AtLoc, Enabled: bools


def _self_magnitude(sc: Scope) -> int:
    if sc.agent is None or sc.agent.domain is None:
        return 0
    lo, hi = scalar_bounds(sc.agent.domain, sc.layout.params)
    return max(abs(lo), abs(hi))
