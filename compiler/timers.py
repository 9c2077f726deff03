"""Per-CPU timers (`timer T = FN;` in the cpu block), as the kernel's timer wheel has them.

A timer object belongs to a CPU (`T` is this CPU's, `cpu[k].T` CPU k's) and, armed, is queued
on some CPU, whose timer softirq runs its callback there: `add_timer_on(&X, i)` queues it on
CPU i, `mod_timer(&X)` on the calling CPU.  Both leave a pending timer where it is queued
(mod_timer() of a pending timer with the same expiry returns early, and every arming in a
model without time has the same expiry; add_timer_on() of a pending timer WARNs and returns).

State (docs/language.md, "Per-CPU timers"):
* `cpu.T: bool[cpu]`, `cpu[k].T` = CPU k's timer is pending, queued on CPU k, when every
  arming in the spec provably queues the timer on its owner (`owner_only`);
* `cpu.T: bool[cpu][cpu]`, `cpu[k].T[i]` = CPU k's timer is queued on CPU i, otherwise.  At
  most one element of a row is set.  A row of bools rather than a `cpu` field: its initial
  value is `false`, where a `cpu` field would start at a constant CPU id (which pins that CPU
  for the symmetry reduction) or at `any` (N^N more initial states).

This module holds the analysis that picks the shape (on the syntax, before any variable is
declared) and the IR each timer operation lowers to; compiler/cfg.py places it in steps.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from typing import Iterator, TypeVar

from compiler import ir
from dsl import ast
from dsl.source import Span

SOFTIRQ = "run_timer_softirq"


@dataclass(slots=True)
class TimerInfo:
    decl: ast.TimerDecl
    roaming: bool  # may be queued on a CPU other than its owner: `cpu.T` is bool[cpu][cpu]
    var: ir.Var | None = None  # `cpu.T`, once declared


# --------------------------------------------------------------------------- the syntax


N = TypeVar("N")


def _inside(node: object, kind: type[N]) -> Iterator[N]:
    """Every `kind` node inside a declaration or statement, however deep."""
    if isinstance(node, kind):
        yield node
    if isinstance(node, tuple):
        for x in node:
            yield from _inside(x, kind)
    elif is_dataclass(node) and not isinstance(node, (Span, type)):
        for f in fields(node):
            yield from _inside(getattr(node, f.name), kind)


def calls(node: object) -> Iterator[ast.CallS]:
    """Every call statement inside a declaration or statement, however deep."""
    return _inside(node, ast.CallS)


def runs_softirq(items: tuple[ast.Item, ...]) -> bool:
    """Does the cpu block (or a fn it calls, at any depth) call `run_timer_softirq()`?  Then
    timer callbacks run only there, and timers have no agents of their own."""
    cpu = next((i for i in items if isinstance(i, ast.AgentDecl) and i.kind == "cpu"), None)
    if cpu is None:
        return False
    fns = {i.name: i for i in items if isinstance(i, ast.FnDecl)}
    seen: set[str] = set()
    work: list[object] = [cpu.body]
    while work:
        for c in calls(work.pop()):
            if c.name == SOFTIRQ:
                return True
            if c.name in fns and c.name not in seen:
                seen.add(c.name)
                work.append(fns[c.name].body)
    return False


def roaming(items: tuple[ast.Item, ...], timers: set[str], cpu_id: str) -> set[str]:
    """The timers some `mod_timer()`/`add_timer_on()` may queue on a CPU other than their
    owner.  Decided on the syntax and on the safe side: the arming is on the owner only when
    the timer is this CPU's (`T`, `cpu[c].T`, `cpu[smp_processor_id()].T`) and the CPU it is
    queued on is this one, or the CPU argument is the very expression that names the owner
    (`add_timer_on(&cpu[k].T, k)`: one statement evaluates both in one state)."""
    out: set[str] = set()
    for item in items:
        shadow: set[str] = set()
        if isinstance(item, ast.FnDecl):  # a parameter or local named like the CPU id hides it
            shadow = {p.name for p in item.params} | {s.name for s in _inside(item.body, ast.LocalS)}
        for c in calls(item):
            name, owner_only = _arming(c, timers, cpu_id, shadow)
            if name is not None and not owner_only:
                out.add(name)
    return out


_SELF = ast.Name("<this cpu>")


def _arming(c: ast.CallS, timers: set[str], cpu_id: str, shadow: set[str]) -> tuple[str | None, bool]:
    """(the timer an arming call names, whether it surely queues it on its owner)."""
    if c.name not in ("mod_timer", "add_timer_on") or not c.args:
        return None, True
    target = c.args[0].arg if isinstance(c.args[0], ast.Unop) and c.args[0].op == "&" else c.args[0]
    owner: ast.Expr
    if isinstance(target, ast.Name) and target.id in timers:
        name, owner = target.id, _SELF
    elif (isinstance(target, ast.Field) and target.name in timers and isinstance(target.base, ast.IndexE)
          and isinstance(target.base.base, ast.Name) and target.base.base.id == "cpu"):
        name, owner = target.name, target.base.index
    else:
        return None, True  # not a timer: reported where it is lowered
    if c.name == "mod_timer":
        on: ast.Expr = _SELF
    elif len(c.args) == 2:
        on = c.args[1]
    else:
        return None, True  # wrong arity: reported where it is lowered

    def norm(e: ast.Expr) -> ast.Expr:
        this = (isinstance(e, ast.Name) and e.id == cpu_id and e.id not in shadow) or (
            isinstance(e, ast.Call) and e.name == "smp_processor_id" and not e.args)
        return _SELF if this else e

    return name, norm(owner) == norm(on)


# --------------------------------------------------------------------------- the IR


def _row(t: TimerInfo, owner: ir.Expr, span: Span) -> ir.Expr:
    assert t.var is not None
    return ir.Index(ir.VarRef(t.var, span), owner, span)


def _cpu_type(t: TimerInfo) -> ir.IntType:
    assert t.var is not None and isinstance(t.var.type, ir.ArrayType) and isinstance(t.var.type.index, ir.IntType)
    return t.var.type.index


def queued(t: TimerInfo, owner: ir.Expr, on: ir.Expr, span: Span) -> ir.Expr:
    """CPU `owner`'s timer is pending, queued on CPU `on`: for a timer that never roams, `on`
    must be `owner` (the caller's business)."""
    row = _row(t, owner, span)
    return ir.Index(row, on, span) if t.roaming else row


def pending(t: TimerInfo, owner: ir.Expr, span: Span) -> ir.Expr:
    """`timer_pending(&cpu[owner].T)`."""
    if not t.roaming:
        return _row(t, owner, span)
    b = ir.Bound("on", _cpu_type(t))
    return ir.Quant("exists", b, ir.Index(_row(t, owner, span), ir.BoundRef(b, span), span), span)


def arm(t: TimerInfo, owner: ir.Expr, on: ir.Expr, span: Span) -> tuple[ir.Stmt, ...]:
    """Queue CPU `owner`'s timer on CPU `on`, unless it is pending (then it stays where it is)."""
    if not t.roaming:  # queued on its owner, whether it was pending or not
        return (ir.Assign(_row(t, owner, span), ir.Lit(True, ir.BOOL), span),)
    return (ir.If(ir.Unary("not", pending(t, owner, span), span),
                  (ir.Assign(queued(t, owner, on, span), ir.Lit(True, ir.BOOL), span),), (), span),)


def disarm(t: TimerInfo, owner: ir.Expr, choice: str, span: Span) -> tuple[ir.Stmt, ...]:
    """`del_timer(&cpu[owner].T)`: take it off whichever CPU it is queued on."""
    if not t.roaming:
        return (ir.Assign(_row(t, owner, span), ir.Lit(False, ir.BOOL), span),)
    on = ir.Choice(choice, _cpu_type(t), span)  # the one CPU it is queued on
    at = queued(t, owner, ir.ChoiceRef(on, span), span)
    return (ir.If(pending(t, owner, span),
                  (ir.Choose(on, span), ir.Assume(at, "where", span), ir.Assign(at, ir.Lit(False, ir.BOOL), span)),
                  (), span),)


def some_queued_on(t: TimerInfo, cpu: ir.Expr, span: Span) -> ir.Expr:
    """Some CPU's timer `t` is queued on CPU `cpu`."""
    if not t.roaming:
        return _row(t, cpu, span)
    b = ir.Bound("owner", _cpu_type(t))
    return ir.Quant("exists", b, queued(t, ir.BoundRef(b, span), cpu, span), span)


def fire(t: TimerInfo, cpu: ir.Expr, choice: str, span: Span) -> tuple[ir.Stmt, ...]:
    """Take one timer `t` queued on CPU `cpu` off its queue (expire_timers() detaches it before
    the callback runs, so the callback may re-arm it); the caller then runs the callback."""
    if not t.roaming:
        at: ir.Expr = _row(t, cpu, span)
        return ir.Assume(at, "await", span), ir.Assign(at, ir.Lit(False, ir.BOOL), span)
    owner = ir.Choice(choice, _cpu_type(t), span)
    at = queued(t, ir.ChoiceRef(owner, span), cpu, span)
    return (ir.Assume(some_queued_on(t, cpu, span), "await", span), ir.Choose(owner, span),
            ir.Assume(at, "where", span), ir.Assign(at, ir.Lit(False, ir.BOOL), span))


def all_quiet(t: TimerInfo, online: ir.Expr | None, span: Span) -> ir.Expr:
    """No timer `t` is queued on an online CPU (`online`: `cpu.online`, or None)."""
    cpus = _cpu_type(t)
    k, i = ir.Bound("k", cpus), ir.Bound("i", cpus)
    on: ir.Expr = ir.BoundRef(i, span) if t.roaming else ir.BoundRef(k, span)
    idle: ir.Expr = ir.Unary("not", queued(t, ir.BoundRef(k, span), on, span), span)
    if online is not None:
        idle = ir.Binary("or", idle, ir.Unary("not", ir.Index(online, on, span), span), span)
    body: ir.Expr = ir.Quant("forall", i, idle, span) if t.roaming else idle
    return ir.Quant("forall", k, body, span)
