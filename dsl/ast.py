"""The surface syntax as frozen dataclasses.  Names are still strings here;
`compiler.resolve` turns them into IR references.  Every node carries the span
it was parsed from, kept out of equality."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from dsl.source import NO_SPAN, Span


def _span() -> Span:
    return field(default=NO_SPAN, compare=False)


# --------------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class TBool:
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TName:
    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TRange:
    lo: Expr
    hi: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TArray:
    elem: TypeExpr
    index: TypeExpr
    span: Span = _span()


TypeExpr = Union[TBool, TName, TRange, TArray]

# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Num:
    value: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BoolLit:
    value: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Field:
    base: Expr
    name: str
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class IndexE:
    base: Expr
    index: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Unop:
    op: str  # "!", "-", "&"
    arg: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binop:
    op: str  # "&&" "||" "==>" "==" "!=" "<" "<=" ">" ">=" "+" "-" "*"
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Cond:
    cond: Expr
    then: Expr
    else_: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Quantifier:
    kind: str  # "forall" | "exists"
    var: str
    type: TypeExpr
    body: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DefaultInit:
    """No initialiser was written: false, the first enum member, or the low end of the range."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AnyChoice:
    """`any x: T where cond` or `any T`: only as the right side of an assignment."""

    var: str | None
    type: TypeExpr
    where: Expr | None
    span: Span = _span()


Expr = Union[Num, BoolLit, Name, Field, IndexE, Call, Unop, Binop, Cond, Quantifier, AnyChoice, DefaultInit]

# --------------------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Block:
    stmts: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AssignS:
    target: Expr
    op: str  # "=", "+=", "-=", "|=", "&="
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CallS:
    name: str
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class GotoS:
    label: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ReturnS:
    span: Span = _span()
    value: Expr | None = None  # `return EXPR;` in a fn with a result type


@dataclass(frozen=True, slots=True)
class LocalS:
    """`bool b;`, `state s = IDLE;`: a variable of one invocation of a fn."""

    type: TypeExpr
    name: str
    init: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BreakS:
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ContinueS:
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AwaitS:
    cond: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AssertS:
    name: str | None
    cond: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class YieldS:
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IfS:
    cond: Expr
    then: Stmt
    else_: Stmt | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class WhileS:
    cond: Expr
    body: Stmt
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DoS:
    body: Stmt
    cond: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class LoopS:
    body: Stmt
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class LabelS:
    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AtomicS:
    body: Block
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EitherS:
    branches: tuple[Block, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EmptyS:
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FallthroughS:
    """The kernel's `fallthrough;`: a case that runs on into the next says so."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CaseClause:
    labels: tuple[Expr | None, ...]  # None: `default:`
    body: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SwitchS:
    value: Expr
    cases: tuple[CaseClause, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ScopedGuardS:
    """`scoped_guard(raw_spinlock, &l) { ... }`: the lock is held for the body, and released on
    every way out of it.  `guard(raw_spinlock)(&l);` is one over the rest of its block."""

    kind: str
    lock: Expr
    body: Stmt
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class GuardS:
    kind: str
    lock: Expr
    span: Span = _span()


Stmt = Union[Block, AssignS, CallS, GotoS, ReturnS, BreakS, ContinueS, AwaitS, AssertS, YieldS,
             IfS, WhileS, DoS, LoopS, LabelS, AtomicS, EitherS, EmptyS, LocalS, FallthroughS, SwitchS, ScopedGuardS,
             GuardS]

# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: TypeExpr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ParamDecl:
    name: str
    value: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EnumDecl:
    name: str
    members: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RangeDecl:
    name: str
    type: TRange
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class VarDecl:
    name: str
    type: TypeExpr
    init: Expr | None  # None: `= any`
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class LockDecl:
    name: str
    index: TypeExpr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DefDecl:
    name: str
    params: tuple[Param, ...]
    body: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FnDecl:
    name: str
    params: tuple[Param, ...]
    body: Block
    span: Span = _span()
    result: TypeExpr | None = None  # `fn f(): bool { ... return e; }`


@dataclass(frozen=True, slots=True)
class StepDecl:
    name: str
    guard: Expr | None
    body: Block
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TimerDecl:
    """`timer sync_timer = imsic_local_timer_callback;` in the `cpu` block."""

    name: str
    fn: str
    span: Span = _span()
    fn_span: Span = _span()


@dataclass(frozen=True, slots=True)
class AgentDecl:
    kind: str  # "cpu" | "thread" | "device"
    name: str
    vars: tuple[VarDecl, ...]
    body: tuple[Stmt, ...]  # cpu and thread
    steps: tuple[StepDecl, ...]  # device
    span: Span = _span()
    timers: tuple[TimerDecl, ...] = ()  # cpu


@dataclass(frozen=True, slots=True)
class GroupDecl:
    kind: str  # "struct" | "controller" | "irqdesc" | "msi"
    name: str
    index: TypeExpr | None
    members: tuple[VarDecl | LockDecl, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InvariantDecl:
    name: str
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CoverDecl:
    """A state some run must reach (`cover NAME: EXPR;`); irqc finds the shortest such run."""

    name: str
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InitiallyDecl:
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ExpectCase:
    """`violated when CPUS >= 3`: the verdict expected where the condition (over parameters) holds;
    no condition: wherever no earlier case's does."""
    verdict: str
    when: Expr | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ExpectDecl:
    name: str
    cases: tuple[ExpectCase, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MemberDecl:
    """`step nic.fire { ... }`, `var desc.pending: bool;`, `lock desc.lock;` at top level: one
    member of the block `owner`, added to it or (with `replace`) swapped for the one it has."""

    owner: str
    member: VarDecl | LockDecl | StepDecl
    span: Span = _span()


Item = Union[ParamDecl, EnumDecl, RangeDecl, VarDecl, LockDecl, DefDecl, FnDecl, AgentDecl, GroupDecl,
             InvariantDecl, CoverDecl, InitiallyDecl, ExpectDecl, MemberDecl]


@dataclass(frozen=True, slots=True)
class Decl:
    item: Item
    replace: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    title: str
    base: str | None
    decls: tuple[Decl, ...]
    path: str
    span: Span = _span()
    name_span: Span = _span()
    base_span: Span = _span()
    base_is_path: bool = False  # `extends "dir/base.irqspec"`: relative to this file, not a name


def decl_key(item: Item) -> tuple[str, str] | None:
    """The (namespace, name) a declaration defines, for duplicates and `replace`.
    `initially` has no name: it always adds."""
    if isinstance(item, InitiallyDecl):
        return None
    if isinstance(item, (EnumDecl, RangeDecl)):
        return ("type", item.name)
    if isinstance(item, (InvariantDecl, CoverDecl)):
        return ("property", item.name)
    if isinstance(item, ExpectDecl):
        return ("expect", item.name)
    if isinstance(item, MemberDecl):
        return ("member", f"{item.owner}.{item.member.name}")
    if isinstance(item, AgentDecl) and item.kind == "cpu":
        return ("name", "cpu")  # `cpu c` and `cpu d` are the same block: the letter is only its id
    return ("name", item.name)


def decl_kind(item: Item) -> str:
    """What a declaration is, in the words of the language: `replace` must keep it."""
    if isinstance(item, AgentDecl):
        return item.kind
    if isinstance(item, GroupDecl):
        return item.kind
    if isinstance(item, MemberDecl):
        return {StepDecl: "step", LockDecl: "lock"}.get(type(item.member), "var")
    return {ParamDecl: "param", EnumDecl: "type", RangeDecl: "type", VarDecl: "var", LockDecl: "lock",
            DefDecl: "def", FnDecl: "fn", InvariantDecl: "invariant", CoverDecl: "cover",
            ExpectDecl: "expect"}.get(type(item), "declaration")
