"""IR expressions -> Python expression text, one small function per node kind.

The generated code reads a flat state tuple (or the step's working list) named
by `Scope.state`; every var element and every pc has a slot whose number is a
closure constant computed from the parameters when the simulator is built
(`O_<var>` for a var's first slot, `S<d>_<var>` for array strides, `PC_<agent>`
for instance 0's pc).  So the text here never depends on parameter values.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from compiler import ir
from compiler.backends.python.names import Names


class UnsupportedIR(Exception):
    """An IR node this generator has no rule for: a bug to fix here, never silent."""


@dataclass(slots=True)
class Needs:
    """What the generated expressions refer to besides state and params, filled
    while generating: the text around the steps must then define it."""

    # Closure constants `R<n> = range(lo, hi + 1)` for the types that quantifiers and
    # choices iterate over, so a loop does not rebuild its range on every call.
    ranges: dict[str, str] = field(default_factory=dict)
    enabled: list[str] = field(default_factory=list)  # agents whose `enabled_<agent>` is called

    def range_of(self, code: str) -> str:
        if code not in self.ranges:
            self.ranges[code] = f"R{len(self.ranges)}"
        return self.ranges[code]

    def enabled_of(self, agent: str) -> None:
        if agent not in self.enabled:
            self.enabled.append(agent)


@dataclass(frozen=True, slots=True)
class Scope:
    model: ir.Model
    names: Names
    needs: Needs
    state: str = "s"  # the name holding the state the expression reads
    agent: ir.Agent | None = None  # the agent whose step this is (for SelfIndex)

    def reading(self, state: str) -> Scope:
        return replace(self, state=state)


# --------------------------------------------------------------------------- constants over params


def const(e: ir.Expr, sc: Scope) -> str:
    """A constant expression (literals, params, + - *) as Python text over param locals."""
    if isinstance(e, ir.Lit):
        return str(int(e.value))
    if isinstance(e, ir.ParamRef):
        return sc.names.param(e.param)
    if isinstance(e, ir.Unary) and e.op == "neg":
        return f"(-{const(e.arg, sc)})"
    if isinstance(e, ir.Binary) and e.op in _ARITH:
        return _join(_ARITH[e.op], [const(x, sc) for x in _chain(e)])
    raise UnsupportedIR(f"not a constant expression: {ir.show(e)}")


def is_zero(e: ir.Expr) -> bool:
    return isinstance(e, ir.Lit) and int(e.value) == 0


def type_lo(t: ir.ScalarType, sc: Scope) -> str:
    return const(t.lo, sc) if isinstance(t, ir.IntType) else "0"


def type_lo_is_zero(t: ir.ScalarType) -> bool:
    return not isinstance(t, ir.IntType) or is_zero(t.lo)


def type_range(t: ir.ScalarType, sc: Scope) -> str:
    """The closure constant naming range(lo, hi + 1) of a scalar type."""
    if isinstance(t, ir.BoolType):
        code = "range(2)"
    elif isinstance(t, ir.EnumType):
        code = f"range({len(t.members)})"
    else:
        code = f"range({const(t.lo, sc)}, {const(t.hi, sc)} + 1)"
    return sc.needs.range_of(code)


def minus_lo(index_code: str, t: ir.ScalarType, sc: Scope) -> str:
    """`index - lo` for an index of type t, omitting the subtraction when lo is 0."""
    return index_code if type_lo_is_zero(t) else f"({index_code} - {type_lo(t, sc)})"


# --------------------------------------------------------------------------- state slots


def slot(target: ir.Expr, sc: Scope) -> str:
    """The slot number (Python text) of a var element: `O_v + (i - lo) * S0_v + j`."""
    var, indices = _unwind(target)
    parts = [sc.names.var_offset(var)]
    t: ir.Type = var.type
    dims = _dims(var.type)
    for d, idx in enumerate(indices):
        assert isinstance(t, ir.ArrayType)
        term = minus_lo(expr(idx, sc), t.index, sc)
        if d < dims - 1:
            term = f"{term} * {sc.names.var_stride(var, d)}"
        parts.append(term)
        t = t.elem
    if isinstance(t, ir.ArrayType):
        raise UnsupportedIR(f"an array-valued expression ({ir.show(target)}) is not in the IR backends support")
    return " + ".join(parts)


def _unwind(e: ir.Expr) -> tuple[ir.Var, list[ir.Expr]]:
    if isinstance(e, ir.VarRef):
        return e.var, []
    if isinstance(e, ir.Index):
        var, indices = _unwind(e.base)
        return var, indices + [e.index]
    raise UnsupportedIR(f"not a var or array element: {ir.show(e)}")


def _dims(t: ir.Type) -> int:
    return 1 + _dims(t.elem) if isinstance(t, ir.ArrayType) else 0


def instance_slot(agent_name: str, index: ir.Expr | None, sc: Scope) -> str:
    """The pc slot of one instance of an agent, from the index expression in the IR."""
    base = sc.names.pc_base(agent_name)
    agent = sc.model.agent(agent_name)
    if index is None or agent.domain is None:
        return base
    return f"{base} + {minus_lo(expr(index, sc), agent.domain, sc)}"


def instance_index(agent_name: str, index: ir.Expr | None, sc: Scope) -> str:
    """The 0-based instance number of an agent instance named by a domain value."""
    agent = sc.model.agent(agent_name)
    if index is None or agent.domain is None:
        return "0"
    return minus_lo(expr(index, sc), agent.domain, sc)


# --------------------------------------------------------------------------- expressions

_ARITH = {"add": "+", "sub": "-", "mul": "*"}
_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _lit(e: ir.Lit, sc: Scope) -> str:
    if isinstance(e.type, ir.BoolType):
        return "True" if e.value else "False"
    return str(int(e.value))


def _param(e: ir.ParamRef, sc: Scope) -> str:
    return sc.names.param(e.param)


def _var(e: ir.VarRef, sc: Scope) -> str:
    return f"{sc.state}[{slot(e, sc)}]"


def _index(e: ir.Index, sc: Scope) -> str:
    return f"{sc.state}[{slot(e, sc)}]"


def _self(e: ir.SelfIndex, sc: Scope) -> str:
    agent = sc.agent
    if agent is None:
        raise UnsupportedIR("`self` outside a step")
    if agent.domain is None:
        return "0"
    return "i" if type_lo_is_zero(agent.domain) else f"({type_lo(agent.domain, sc)} + i)"


def _choice(e: ir.ChoiceRef, sc: Scope) -> str:
    return sc.names.choice(e.choice)


def _bound(e: ir.BoundRef, sc: Scope) -> str:
    return sc.names.bound(e.bound)


def _unary(e: ir.Unary, sc: Scope) -> str:
    if isinstance(e.arg, ir.Unary) and e.arg.op == e.op:
        return expr(e.arg.arg, sc)  # lowering's `!!x` (e.g. `!irq_may_run()` of a negation), or `- -x`: the same value
    if e.op == "not":
        return f"(not {expr(e.arg, sc)})"
    if e.op == "neg":
        return f"(-{expr(e.arg, sc)})"
    raise UnsupportedIR(f"unary operator {e.op!r}")


def _binary(e: ir.Binary, sc: Scope) -> str:
    if e.op in _CHAINS:
        return _join(_CHAINS[e.op], [expr(x, sc) for x in _chain(e)])
    if e.op == "implies":
        return _implies(e, sc)
    a, b = expr(e.left, sc), expr(e.right, sc)
    if e.op in _CMP:
        return f"({a} {_CMP[e.op]} {b})"
    raise UnsupportedIR(f"binary operator {e.op!r}")


def _implies(e: ir.Binary, sc: Scope) -> str:
    # `a ==> b ==> c` nests to the right; `not a or not b or c` keeps it flat.
    parts: list[str] = []
    x: ir.Expr = e
    while isinstance(x, ir.Binary) and x.op == "implies":
        parts.append(f"not {expr(x.left, sc)}")
        x = x.right
    return _join("or", parts + [expr(x, sc)])


_CHAINS = {"and": "and", "or": "or", **_ARITH}
# An operand equal to the operator's unit (`true && x`, `x - 0`) is left out: lowering
# leaves these in, and the generated code reads better without them.
_UNITS: dict[str, bool | int] = {"and": True, "or": False, "add": 0, "sub": 0, "mul": 1}


def _chain(e: ir.Binary) -> list[ir.Expr]:
    """The operands of a run of one operator, in the order Python groups them without
    parentheses (`a - b - c` is `(a - b) - c`, so only a left operand of `-` continues the
    run): 250 `&&`s nested as 250 parentheses would not compile."""
    out: list[ir.Expr] = []
    work: list[ir.Expr] = [e.right, e.left]
    while work:
        x = work.pop()
        if isinstance(x, ir.Binary) and x.op == e.op and (e.op != "sub" or not out):
            work.extend((x.right, x.left))
        elif (e.op == "sub" and not out) or not _is_unit(x, _UNITS[e.op]):
            out.append(x)
    return out or [ir.Lit(_UNITS[e.op], ir.BOOL if e.op in ("and", "or") else ir.INT)]


def _join(op: str, parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + f" {op} ".join(parts) + ")"


def _is_unit(x: ir.Expr, value: bool | int) -> bool:
    if not isinstance(x, ir.Lit):
        return False
    if isinstance(value, bool):
        return isinstance(x.type, ir.BoolType) and bool(x.value) == value
    return not isinstance(x.type, ir.BoolType) and int(x.value) == value


def _ite(e: ir.Ite, sc: Scope) -> str:
    # `a if c else b if d else e` needs no parentheses around the inner conditional, so a
    # chain of them (`c ? a : d ? b : ...`) stays flat.
    parts: list[str] = []
    x: ir.Expr = e
    while isinstance(x, ir.Ite):
        parts.append(f"{expr(x.then, sc)} if {expr(x.cond, sc)} else")
        x = x.else_
    return f"({' '.join(parts)} {expr(x, sc)})"


def _quant(e: ir.Quant, sc: Scope) -> str:
    fn = {"forall": "all", "exists": "any"}.get(e.kind)
    if fn is None:
        raise UnsupportedIR(f"quantifier {e.kind!r}")
    name = sc.names.bound(e.bound)
    return f"{fn}({expr(e.body, sc)} for {name} in {type_range(e.bound.type, sc)})"


def _atloc(e: ir.AtLoc, sc: Scope) -> str:
    pc = f"{sc.state}[{instance_slot(e.agent, e.index, sc)}]"
    locs = sorted(e.locs)
    if len(locs) == 1:
        return f"({pc} == {locs[0]})"
    return f"({pc} in ({', '.join(str(n) for n in locs)}))"


def _enabled(e: ir.Enabled, sc: Scope) -> str:
    sc.needs.enabled_of(e.agent)
    return f"{sc.names.enabled(e.agent)}({sc.state}, {instance_index(e.agent, e.index, sc)})"


_RULES: dict[type, Callable[..., str]] = {
    ir.Lit: _lit,
    ir.ParamRef: _param,
    ir.VarRef: _var,
    ir.Index: _index,
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
        raise UnsupportedIR(f"no Python rule for IR expression {type(e).__name__}")
    return rule(e, sc)


def cond(e: ir.Expr, sc: Scope) -> str:
    """A condition without the outer parentheses an operator node adds."""
    text = expr(e, sc)
    if text.startswith("(") and _balanced_outer(text):
        return text[1:-1]
    return text


def _balanced_outer(text: str) -> bool:
    """True when the first "(" closes at the very end, so dropping both is safe."""
    depth = 0
    for k, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return k == len(text) - 1
    return False
