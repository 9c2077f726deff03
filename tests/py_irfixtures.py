"""Hand-built IR models for the simulator tests (they do not need the front end).

`lost_irq()` is a small cousin of spec S1: a device fires an edge into a
per-CPU pending bit, an admin thread moves the target, and a CPU that finds the
irq in progress drops it (the LOST race).  It exercises every IR node kind:
arrays indexed by cpu, locks, enums, choices with `where`, checks, quantifiers,
`at`, `enabled`, and params in bounds.
"""
from __future__ import annotations

from compiler import ir
from dsl.source import Span

PATH = "specs/lost_irq.irqspec"


def sp(line: int) -> Span:
    return Span(PATH, 0, 0, line, 1)


def b(value: bool) -> ir.Lit:
    return ir.Lit(value, ir.BOOL)


def n(value: int) -> ir.Lit:
    return ir.Lit(value, ir.IntType(ir.Lit(value, ir.BOOL), ir.Lit(value, ir.BOOL)))  # type: ignore[arg-type]


def ref(v: ir.Var) -> ir.VarRef:
    return ir.VarRef(v)


def at(v: ir.Var, index: ir.Expr) -> ir.Index:
    return ir.Index(ir.VarRef(v), index)


def bin_(op: str, a: ir.Expr, c: ir.Expr) -> ir.Binary:
    return ir.Binary(op, a, c)


def not_(a: ir.Expr) -> ir.Unary:
    return ir.Unary("not", a)


def loc(index: int, name: str, idle: bool = False) -> ir.Location:
    return ir.Location(index, name, idle=idle)


def lost_irq(fixed: bool = False, bound: int = 2, budget_check: bool = True) -> ir.Model:
    """The toy model; `fixed=True` makes the early-out set `resend` so the irq is resent;
    `budget_check=False` makes the device's budget a guard instead of the BOUND check."""
    cpus = ir.Param("CPUS", 2, sp(3))
    cpu_t = ir.IntType(n(0), ir.Binary("sub", ir.ParamRef(cpus), n(1)), "cpu")
    mode = ir.EnumType("mode", ("IDLE", "RUNNING", "DONE"))
    owner_t = ir.IntType(n(-1), ir.Binary("add", ir.ParamRef(cpus), n(1)), None)  # ids: cpus, dev, adm

    pending = ir.Var("redist.pending", ir.ArrayType(cpu_t, ir.BOOL), b(False), span=sp(5))
    target = ir.Var("its.target", cpu_t, None, span=sp(6))
    inprog = ir.Var("desc.inprogress", ir.BOOL, b(False), span=sp(7))
    resend = ir.Var("desc.resend", ir.BOOL, b(False), span=sp(8))
    outstanding = ir.Var("outstanding", ir.BOOL, b(False), span=sp(9))
    lock = ir.Var("desc.lock", owner_t, n(-1), kind="lock", span=sp(10))
    state = ir.Var("cpu.state", ir.ArrayType(cpu_t, mode), ir.Lit(0, mode), span=sp(11))
    fires = ir.Var("dev.fires", ir.IntType(n(0), n(bound)), n(0), span=sp(12))

    self_ = ir.SelfIndex()
    # cpu: idle -> entry -> handler -> exit -> idle
    cpu_steps = (
        ir.Step("ack", 0, (
            ir.Assume(at(pending, self_), "await", sp(20)),
            ir.Assign(at(pending, self_), b(False), sp(21)),
            ir.Goto(1, sp(21)),
        ), "ack = gic_read_iar()", sp(20)),
        ir.Step("entry", 1, (
            ir.Assume(bin_("eq", ref(lock), n(-1)), "lock", sp(22)),
            ir.If(ref(inprog), (
                ir.Assign(ref(resend), b(True), sp(23)) if fixed else ir.Assign(ref(resend), ref(resend), sp(23)),
                ir.Goto(0, sp(23)),
            ), (
                ir.Assign(ref(inprog), b(True), sp(24)),
                ir.Assign(at(state, self_), ir.Lit(1, mode), sp(24)),
                ir.Goto(2, sp(24)),
            ), sp(23)),
        ), "lock desc; if inprogress goto out; inprogress = 1; unlock", sp(22)),
        ir.Step("handler", 2, (
            ir.Assign(ref(outstanding), b(False), sp(25)),
            ir.Goto(3, sp(25)),
        ), "handler_start: outstanding = false", sp(25)),
        ir.Step("exit", 3, (
            ir.Assume(bin_("eq", ref(lock), n(-1)), "lock", sp(26)),
            ir.Assign(ref(inprog), b(False), sp(26)),
            ir.Assign(at(state, self_), ir.Lit(2, mode), sp(26)),
            ir.If(ref(resend), (
                ir.Assign(ref(resend), b(False), sp(27)),
                ir.Assign(at(pending, self_), b(True), sp(27)),
            ), (), sp(27)),
            ir.Goto(0, sp(26)),
        ), "lock; inprogress = 0; resend?; unlock", sp(26)),
    )
    cpu = ir.Agent("cpu", "cpu", cpu_t, (loc(0, "idle", True), loc(1, "entry"), loc(2, "handler"), loc(3, "exit")),
                   0, cpu_steps, sp(19))
    # dev: fire sets the target's pending bit; a check bounds the number of fires
    dev = ir.Agent("dev", "device", None, (loc(0, "idle", True),), 0, (
        ir.Step("fire", 0, (
            ir.Assume(not_(at(pending, ref(target))), "when", sp(30)),
            ir.Check(bin_("lt", ref(fires), n(bound)), "BOUND", sp(30)) if budget_check
            else ir.Assume(bin_("lt", ref(fires), n(bound)), "when", sp(30)),
            # Saturates: a run goes on after BOUND fails (each property is judged alone, ir.py),
            # and `fires` must stay in its type (IR contract: no unchecked out-of-range store).
            ir.Assign(ref(fires), ir.Ite(bin_("lt", ref(fires), n(bound)), bin_("add", ref(fires), n(1)), ref(fires)),
                      sp(31)),
            ir.Assign(at(pending, ref(target)), b(True), sp(31)),
            ir.Assign(ref(outstanding), b(True), sp(31)),
            ir.Goto(0, sp(31)),
        ), "fire: pending[target] = 1; outstanding = 1", sp(30)),
    ), sp(29))
    # adm: move the target to any other cpu, holding the lock for one step
    c = ir.Choice("c", cpu_t, sp(35))
    adm = ir.Agent("adm", "thread", None, (loc(0, "idle", True), loc(1, "locked")), 0, (
        ir.Step("lock", 0, (
            ir.Assume(bin_("eq", ref(lock), n(-1)), "lock", sp(34)),
            ir.Assign(ref(lock), ir.Binary("add", ir.ParamRef(cpus), n(1)), sp(34)),
            ir.Goto(1, sp(34)),
        ), "lock desc", sp(34)),
        ir.Step("move", 1, (
            ir.Choose(c, sp(35)),
            ir.Assume(bin_("ne", ir.ChoiceRef(c), ref(target)), "where", sp(35)),
            ir.Assign(ref(target), ir.ChoiceRef(c), sp(35)),
            ir.Assign(ref(lock), n(-1), sp(36)),
            ir.Goto(0, sp(36)),
        ), "its.target = any c != target; unlock", sp(35)),
    ), sp(33))

    k = ir.Bound("k", cpu_t)
    quiescent = ir.Quant("forall", k, bin_("and", ir.AtLoc("cpu", ir.BoundRef(k), frozenset({0})),
                                           not_(at(pending, ir.BoundRef(k)))))
    j = ir.Bound("j", cpu_t)
    someone = ir.Quant("exists", j, ir.Enabled("cpu", ir.BoundRef(j)))
    props = (
        ir.Property("LOST", "invariant", bin_("implies", quiescent, not_(ref(outstanding))), "violated", sp(40)),
        *([ir.Property("BOUND", "check", None, None, sp(30))] if budget_check else []),
        ir.Property("deadlock", "deadlock", bin_("or", bin_("or", someone, ir.Enabled("dev", None)),
                                                 ir.Enabled("adm", None)), None, sp(41)),
        ir.Property("MODE", "invariant", ir.Ite(ref(inprog), b(True), b(True)), "holds", sp(42)),
    )
    return ir.Model("lost_irq", "a toy lost-interrupt race", PATH, "sha256:0123", (cpus,), (mode,),
                    (pending, target, inprog, resend, outstanding, lock, state, fires),
                    (cpu, dev, adm), (bin_("ge", ref(target), n(0)),), props, sp(1))


def counter(limit: int = 3) -> ir.Model:
    """One agent counting up to a param, with an invariant violated at depth `limit`."""
    top = ir.Param("TOP", limit, sp(2))
    x = ir.Var("x", ir.IntType(n(0), ir.ParamRef(top)), n(0), span=sp(3))
    inc = ir.Step("inc", 0, (
        ir.Check(bin_("lt", ref(x), ir.ParamRef(top)), "in_range", sp(5)),
        ir.Assign(ref(x), bin_("add", ref(x), n(1)), sp(5)),
        ir.Goto(0, sp(5)),
    ), "x = x + 1", sp(5))
    a = ir.Agent("t", "thread", None, (loc(0, "loop"),), 0, (inc,), sp(4))
    props = (ir.Property("SMALL", "invariant", bin_("lt", ref(x), ir.ParamRef(top)), "violated", sp(7)),
             ir.Property("in_range", "check", None, None, sp(5)))
    return ir.Model("counter", "count to TOP", "specs/counter.irqspec", "sha256:c0", (top,), (), (x,), (a,), (),
                    props, sp(1))
