"""The core IR: the contract between the front end and both backends.

A `Model` is state (variables, lock owners, one program counter per agent
instance), agents made of atomic guarded steps, and properties.  Everything the
surface language offers (cpu/device/thread blocks, functions, goto, loops,
`quiescent`, locks) has been lowered away by `compiler.lower`; the backends see
only what is defined in this module.

The IR is *parametric*: sizes and constants may mention `ParamRef`s, so one
generated simulator serves every `--param` setting.  A backend fixes the
parameters with `eval_const` before it builds anything.

Semantics (both backends implement exactly this; docs/language.md says it in prose)
-------------------------------------------------------------------------------
* State: a value for every `Var` (arrays: one value per element), plus
  `pc[agent][i]` for every agent instance i (a location index).  Locks are
  ordinary `Var`s (kind "lock") holding the owner's instance id or -1.
* Agent instances: an agent with `domain is None` has one instance, index 0;
  a `cpu` agent has one instance per value of its domain (0..CPUS-1).
  Instances are numbered globally in `Model.agents` order, then by index:
  this number is what lock variables store (see `Model.instance_id`).
* Initial states: every var takes its `init` (broadcast to every element of an
  array) or, when `init is None`, any value of its element type, element by
  element; every pc is the agent's `initial` location; then every expression
  in `Model.initially` must hold.
* A step of instance i of agent A is enabled in state s when pc[A][i] ==
  step.source and some path through `step.body` (with some values of its
  choices) passes every `Assume` (or fails an `in_range` check, see below).
  Executing it runs the body sequentially on a copy of s (later statements see
  earlier assignments), with `SelfIndex` = i, and ends in exactly one `Goto`,
  which sets pc[A][i].  A Goto ends its path where it stands: on that path,
  the statements after the If that holds it do not run.  So a branch of an
  If either ends (a Goto) or falls through to the statements after the If,
  and lowering writes the code where a step's paths meet again once, after
  the If, rather than once per branch.
* `Check(cond, prop)`: each property is judged as if it were the only one
  (the semantics CBMC and Kani give `assert`).  If cond is false where the
  path reaches the Check (every Assume before it held), property `prop` is
  violated at this step, and for `prop` the run ends there; for every other
  property the path goes on as if the check held, so the step still has its
  successor (if the rest of the path passes its Assumes).  Checks never make a
  step enabled or disabled, except:
* `Check(cond, "in_range")` (a store or an index that may leave its type,
  inserted by lowering): if cond is false, `in_range` is violated and the path
  has *no successor*, for every property: a state outside its types has no
  meaning.  Such a path counts as enabled (it does something: it violates
  in_range), so a state whose only move leaves its types is not a deadlock.
  Nothing after a failed in_range check on the same path is evaluated.
* The reachable states are therefore the same for every property: a
  property's verdict never depends on which other properties the spec has.
  A trace of a check violation ends with the violating step and repeats its
  pre-state (for `prop`, that step is where the run ends).
* `SelfIndex` is the instance's value in its agent's domain (lo + instance
  number; the cpu domain starts at 0, so it is the CPU id).
* Depth: state 0 is initial; the state after k steps has depth k.  An
  invariant is violated at depth k if it is false in a state of depth k; a
  check property is violated at depth k if the k-th step of a run fails it.
* Cover `Property(kind="cover", expr=E)`: some reachable state satisfies E.  Both
  backends judge it as the invariant `!E`, so its "violation" at depth k is the
  shortest run to a state where E holds (a witness: "covered at depth k"), and a
  proof of `!E` shows no reachable state satisfies E ("unreachable").  Its
  `expect` is "covered" (lowering's default) or "unreachable".
* Integers are mathematical in expressions.  Every write into a bounded int
  and every array index whose range the type checker could not guarantee is
  guarded by a `Check(..., "in_range")` that lowering inserted, so a backend
  never stores an out-of-range value or reads outside an array.  Division and modulo are not in the IR.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable, TypeVar, Union

from dsl.source import NO_SPAN, Span

# --------------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class BoolType:
    def __str__(self) -> str:
        return "bool"


@dataclass(frozen=True, slots=True)
class IntType:
    """Integers lo..hi inclusive; lo and hi are constant expressions over params."""

    lo: Expr
    hi: Expr
    name: str | None = None  # "cpu" for CPU ids, a typedef name, or None

    def __str__(self) -> str:
        return self.name or f"{show(self.lo)}..{show(self.hi)}"


@dataclass(frozen=True, slots=True)
class EnumType:
    """Values are the member indices 0..len(members)-1; traces show the names."""

    name: str
    members: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class ArrayType:
    index: IntType | EnumType
    elem: Type

    def __str__(self) -> str:
        dims: list[str] = []
        t: Type = self  # `bool[cpu][vec]`: outer index first, as declared
        while isinstance(t, ArrayType):
            dims.append(f"[{t.index}]")
            t = t.elem
        return f"{t}{''.join(dims)}"


ScalarType = Union[BoolType, IntType, EnumType]
Type = Union[BoolType, IntType, EnumType, ArrayType]

BOOL = BoolType()

# --------------------------------------------------------------------------- declarations
# Declarations compare by identity (eq=False); expressions compare by structure.


@dataclass(frozen=True, eq=False, slots=True)
class Param:
    name: str
    default: int
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, eq=False, slots=True)
class Var:
    name: str  # qualified: "desc.inprogress", "cpu.eoi_due", "its.target"
    type: Type
    init: Expr | None  # None: any value (per element for arrays)
    kind: str = "state"  # "state" | "lock"
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, eq=False, slots=True)
class Choice:
    """A nondeterministic value chosen inside one step (`any x: T where ...`)."""

    name: str
    type: ScalarType
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, eq=False, slots=True)
class Bound:
    """A variable bound by a quantifier."""

    name: str
    type: ScalarType


# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Lit:
    value: int | bool
    type: ScalarType
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class ParamRef:
    param: Param
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class VarRef:
    var: Var
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Index:
    base: Expr  # a VarRef or another Index
    index: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class SelfIndex:
    """The index of the agent instance executing the step (0 for singletons)."""

    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class ChoiceRef:
    choice: Choice
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class BoundRef:
    bound: Bound
    span: Span = field(default=NO_SPAN, compare=False)


UNARY_OPS = ("not", "neg")
BINARY_OPS = ("and", "or", "implies", "eq", "ne", "lt", "le", "gt", "ge", "add", "sub", "mul")


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    arg: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Ite:
    cond: Expr
    then: Expr
    else_: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Quant:
    kind: str  # "forall" | "exists"
    bound: Bound
    body: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class AtLoc:
    """pc of instance `index` of `agent` is one of `locs` (index None: singleton)."""

    agent: str
    index: Expr | None
    locs: frozenset[int]
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Enabled:
    """Some step of that agent instance is enabled (for some choice values)."""

    agent: str
    index: Expr | None
    span: Span = field(default=NO_SPAN, compare=False)


Expr = Union[Lit, ParamRef, VarRef, Index, SelfIndex, ChoiceRef, BoundRef, Unary, Binary, Ite, Quant, AtLoc, Enabled]

IN_RANGE = "in_range"  # the one check property whose failure leaves a path without successor

# The type of arithmetic results: unbounded; only "it is an int" matters to the backends.
INT = IntType(Lit(0, BOOL), Lit(0, BOOL), "int")

# --------------------------------------------------------------------------- statements
# A step body is a sequence with nested If; every path ends in one Goto, which ends it (module doc).


@dataclass(frozen=True, slots=True)
class Assign:
    target: Expr  # VarRef or Index chain over a VarRef
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class If:
    cond: Expr
    then: tuple[Stmt, ...]
    else_: tuple[Stmt, ...]
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Assume:
    """The path is only possible when cond holds (await, lock acquire, `when`, `where`)."""

    cond: Expr
    reason: str  # "await" | "lock" | "when" | "where"
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Check:
    """A failed check violates `prop`; only `in_range` also stops the path (see module doc)."""

    cond: Expr
    prop: str
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Choose:
    """Bind `choice` to any value of its type; later Assumes may restrict it."""

    choice: Choice
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, slots=True)
class Goto:
    target: int  # location index within the agent
    span: Span = field(default=NO_SPAN, compare=False)


Stmt = Union[Assign, If, Assume, Check, Choose, Goto]


def contains(stmts: tuple[Stmt, ...] | list[Stmt], kind: type | tuple[type, ...]) -> bool:
    """Some statement of `stmts`, or of an If nested in them, is a `kind`."""
    for st in stmts:
        if isinstance(st, kind):
            return True
        if isinstance(st, If) and (contains(st.then, kind) or contains(st.else_, kind)):
            return True
    return False


def as_tree(stmts: tuple[Stmt, ...] | list[Stmt]) -> tuple[Stmt, ...]:
    """The same body with what follows each If copied into its branches that fall through,
    so that every Goto is the last statement of its sequence: the form a consumer that
    does not track ended paths needs.  It can be exponentially larger."""
    out: list[Stmt] = []
    for k, st in enumerate(stmts):
        if isinstance(st, If) and contains((st,), Goto):
            rest = list(stmts[k + 1:])
            out.append(If(st.cond, as_tree(then_rest(st.then, rest)), as_tree(then_rest(st.else_, rest)), st.span))
            return tuple(out)
        if isinstance(st, If):
            out.append(If(st.cond, as_tree(st.then), as_tree(st.else_), st.span))
        else:
            out.append(st)
        if isinstance(st, Goto):
            break
    return tuple(out)


def then_rest(branch: tuple[Stmt, ...], rest: list[Stmt]) -> list[Stmt]:
    """A branch of an If followed by what comes after the If, which its paths reach unless the
    branch ends them (the code generators copy the rest into a branch that chooses)."""
    return list(branch) if always_ends(branch) else [*branch, *rest]


def always_ends(stmts: tuple[Stmt, ...] | list[Stmt]) -> bool:
    """Every path through `stmts` reaches a Goto (nothing after them runs)."""
    for st in stmts:
        if isinstance(st, Goto):
            return True
        if isinstance(st, If) and always_ends(st.then) and always_ends(st.else_):
            return True
    return False

# --------------------------------------------------------------------------- agents and model


@dataclass(frozen=True, eq=False, slots=True)
class Location:
    index: int
    name: str  # "idle", "handle_fasteoi_irq:out", "L42"; unique within the agent
    span: Span = field(default=NO_SPAN, compare=False)
    idle: bool = False  # under an `idle` label: a valid end state, and counts for `quiescent`
    terminal: bool = False  # end of a thread body: no steps leave it


@dataclass(frozen=True, eq=False, slots=True)
class Step:
    name: str  # unique within its agent; traces and replay use it
    source: int  # the location it leaves
    body: tuple[Stmt, ...]
    text: str  # one line of spec text, for tables: "raw_spin_lock(&desc->lock) ... unlock"
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, eq=False, slots=True)
class Agent:
    name: str
    kind: str  # "cpu" | "device" | "thread"
    domain: IntType | None  # None: a single instance
    locations: tuple[Location, ...]
    initial: int
    steps: tuple[Step, ...]
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True, eq=False, slots=True)
class Property:
    name: str
    kind: str  # "invariant" | "check" | "deadlock" | "cover"
    expr: Expr | None  # the state predicate, for "invariant", "deadlock" and "cover"
    expect: str | None = None  # "violated" | "holds"; for a cover "covered" | "unreachable"
    span: Span = field(default=NO_SPAN, compare=False)

    def invariant_expr(self) -> Expr | None:
        """What every reachable state must satisfy: `expr`, or `!expr` for a cover (see module doc)."""
        if self.kind == "cover" and self.expr is not None:
            return Unary("not", self.expr, self.expr.span)
        return self.expr


@dataclass(frozen=True, eq=False, slots=True)
class Model:
    name: str
    title: str
    path: str
    source_hash: str  # sha256 of the spec text and every base it extends
    params: tuple[Param, ...]
    enums: tuple[EnumType, ...]
    vars: tuple[Var, ...]
    agents: tuple[Agent, ...]
    initially: tuple[Expr, ...]
    properties: tuple[Property, ...]
    span: Span = field(default=NO_SPAN, compare=False)

    def agent(self, name: str) -> Agent:
        for a in self.agents:
            if a.name == name:
                return a
        raise KeyError(name)

    def prop(self, name: str) -> Property:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)


# --------------------------------------------------------------------------- helpers both backends use


_T = TypeVar("_T")


def per_model(fn: Callable[[Model], _T]) -> Callable[[Model], _T]:
    """`fn`, computed once for the last model it was asked about (a model is immutable, and the
    phases of one run ask about the same one).  The value is shared: callers must not change it."""
    last: list[tuple[Model, _T]] = []

    @functools.wraps(fn)
    def once(model: Model) -> _T:
        hit = last[0] if last else None
        if hit is not None and hit[0] is model:
            return hit[1]
        value = fn(model)
        last[:] = [(model, value)]
        return value

    return once


def default_params(model: Model) -> dict[str, int]:
    return {p.name: p.default for p in model.params}


def eval_const(e: Expr, params: dict[str, int]) -> int:
    """Evaluate a constant expression (literals, params, arithmetic) to an int."""
    if isinstance(e, Lit):
        return int(e.value)
    if isinstance(e, ParamRef):
        return params[e.param.name]
    if isinstance(e, Unary) and e.op == "neg":
        return -eval_const(e.arg, params)
    if isinstance(e, Binary) and e.op in ("add", "sub", "mul"):
        a, b = eval_const(e.left, params), eval_const(e.right, params)
        return a + b if e.op == "add" else a - b if e.op == "sub" else a * b
    raise ValueError(f"not a constant expression: {show(e)}")


def domain_values(t: ScalarType, params: dict[str, int]) -> range:
    """The values of a scalar type, as ints (bools are 0 and 1)."""
    if isinstance(t, BoolType):
        return range(2)
    if isinstance(t, EnumType):
        return range(len(t.members))
    return range(eval_const(t.lo, params), eval_const(t.hi, params) + 1)


def instance_count(agent: Agent, params: dict[str, int]) -> int:
    return 1 if agent.domain is None else len(domain_values(agent.domain, params))


def instance_base(model: Model, agent_name: str, params: dict[str, int]) -> int:
    """Global id of instance 0 of an agent: what a lock owner variable stores."""
    base = 0
    for a in model.agents:
        if a.name == agent_name:
            return base
        base += instance_count(a, params)
    raise KeyError(agent_name)


def instance_names(model: Model, params: dict[str, int]) -> list[str]:
    """Display names of every agent instance in global-id order: "cpu[0]", "nic"."""
    names: list[str] = []
    for a in model.agents:
        if a.domain is None:
            names.append(a.name)
        else:
            names.extend(f"{a.name}[{i}]" for i in range(instance_count(a, params)))
    return names


_SYM = {"and": "&&", "or": "||", "implies": "==>", "eq": "==", "ne": "!=", "lt": "<", "le": "<=",
        "gt": ">", "ge": ">=", "add": "+", "sub": "-", "mul": "*"}


def show(e: Expr) -> str:
    """A canonical, fully parenthesised text form, used in golden dumps and generated comments."""
    if isinstance(e, Lit):
        if isinstance(e.type, BoolType):
            return "true" if e.value else "false"
        if isinstance(e.type, EnumType):
            return e.type.members[int(e.value)]
        return str(e.value)
    if isinstance(e, ParamRef):
        return e.param.name
    if isinstance(e, VarRef):
        return e.var.name
    if isinstance(e, Index):
        return f"{show(e.base)}[{show(e.index)}]"
    if isinstance(e, SelfIndex):
        return "self"
    if isinstance(e, ChoiceRef):
        return f"?{e.choice.name}"
    if isinstance(e, BoundRef):
        return e.bound.name
    if isinstance(e, Unary):
        return f"!{show(e.arg)}" if e.op == "not" else f"-{show(e.arg)}"
    if isinstance(e, Binary):
        return f"({show(e.left)} {_SYM[e.op]} {show(e.right)})"
    if isinstance(e, Ite):
        return f"({show(e.cond)} ? {show(e.then)} : {show(e.else_)})"
    if isinstance(e, Quant):
        return f"({e.kind} {e.bound.name}: {e.bound.type} :: {show(e.body)})"
    if isinstance(e, AtLoc):
        where = "" if e.index is None else f"[{show(e.index)}]"
        return f"at({e.agent}{where}, {{{', '.join(str(i) for i in sorted(e.locs))}}})"
    if isinstance(e, Enabled):
        where = "" if e.index is None else f"[{show(e.index)}]"
        return f"enabled({e.agent}{where})"
    raise TypeError(f"no show for {type(e).__name__}")


def type_of(e: Expr) -> Type:
    """The static type of an expression (lowering guarantees it is well typed)."""
    if isinstance(e, Lit):
        return e.type
    if isinstance(e, ParamRef):
        return IntType(e, e)
    if isinstance(e, VarRef):
        return e.var.type
    if isinstance(e, Index):
        bt = type_of(e.base)
        assert isinstance(bt, ArrayType)
        return bt.elem
    if isinstance(e, ChoiceRef):
        return e.choice.type
    if isinstance(e, BoundRef):
        return e.bound.type
    if isinstance(e, (AtLoc, Enabled, Quant)):
        return BOOL
    if isinstance(e, Unary):
        return BOOL if e.op == "not" else INT
    if isinstance(e, Binary):
        if e.op in ("add", "sub", "mul"):
            return INT
        return BOOL
    if isinstance(e, Ite):
        # A conditional's type covers every arm: int ranges that differ give INT, which no
        # range check takes as fitting (typing by one arm let `c ? n : 2` skip its check).
        # Bool and enum arms are alike (lowering checked).  A loop, not recursion, walks
        # `c ? a : d ? b : ...` chains.
        t = type_of(e.then)
        arm = e.else_
        while isinstance(t, IntType) and t is not INT:
            u = type_of(arm.then if isinstance(arm, Ite) else arm)
            if not isinstance(u, IntType) or u is INT or (u.lo, u.hi) != (t.lo, t.hi):
                return INT
            if not isinstance(arm, Ite):
                break
            arm = arm.else_
        return t
    if isinstance(e, SelfIndex):
        return INT
    raise TypeError(type(e).__name__)
