"""Phase 2: declarations -> symbols.  Builds the IR params, types and variables,
and remembers what every top-level name means, for `compiler.exprs`."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable

from compiler import ir
from compiler.timers import SOFTIRQ, TimerInfo, roaming, runs_softirq
from dsl import ast
from dsl.diagnostics import Diagnostics, Label
from dsl.source import Span

BUILTIN_NAMES = ("quiescent", "held", "smp_processor_id", "lock", "unlock", "raw_spin_lock", "raw_spin_unlock",
                 "spin_lock", "spin_unlock", "raw_spin_lock_irqsave", "raw_spin_unlock_irqrestore",
                 "spin_lock_irqsave", "spin_unlock_irqrestore", "raw_spin_lock_irq", "raw_spin_unlock_irq",
                 "spin_lock_irq", "spin_unlock_irq", "likely", "unlikely", "mod_timer", "add_timer_on", "del_timer",
                 "timer_delete", "timer_pending", "cpu_online", "run_timer_softirq")
ARM_FNS = {"mod_timer", "add_timer_on"}
TIMER_FNS = ARM_FNS | {"del_timer", "timer_delete"}
# The _irq and _irqsave forms are plain locks here: a CPU's own interrupts are steps of its
# own agent, which cannot interleave with it anyway.  Their `flags` is not read.
LOCK_FNS = {"lock", "raw_spin_lock", "spin_lock", "raw_spin_lock_irqsave", "spin_lock_irqsave", "raw_spin_lock_irq",
            "spin_lock_irq"}
UNLOCK_FNS = {"unlock", "raw_spin_unlock", "spin_unlock", "raw_spin_unlock_irqrestore", "spin_unlock_irqrestore",
              "raw_spin_unlock_irq", "spin_unlock_irq"}
FLAGS_LOCK_FNS = {"raw_spin_lock_irqsave", "spin_lock_irqsave", "raw_spin_unlock_irqrestore", "spin_unlock_irqrestore"}
GUARD_KINDS = {"raw_spinlock", "raw_spinlock_irq", "raw_spinlock_irqsave", "spinlock", "spinlock_irq",
               "spinlock_irqsave"}


@dataclass(slots=True)
class Group:
    """A struct/controller/irqdesc/msi block, or an agent seen from outside."""

    name: str
    kind: str
    index: ir.IntType | ir.EnumType | None
    members: dict[str, ir.Var]
    span: Span


@dataclass(slots=True)
class AgentInfo:
    decl: ast.AgentDecl
    name: str  # "cpu" for the cpu block; the declared name otherwise
    kind: str
    domain: ir.IntType | None
    vars: dict[str, ir.Var]
    index_name: str | None  # `c` in `cpu c { ... }`
    # A timer of the cpu block: an agent of its own, one per CPU, whose code names the CPU's
    # variables by their short names (shared with `host`, so none of them is its own).
    host: AgentInfo | None = None
    timer: TimerInfo | None = None  # the timer whose callbacks it runs


@dataclass(slots=True)
class Symbols:
    params: dict[str, ir.Param] = field(default_factory=dict)
    param_values: dict[str, int] = field(default_factory=dict)
    types: dict[str, ir.ScalarType] = field(default_factory=dict)
    enums: list[ir.EnumType] = field(default_factory=list)
    members: dict[str, tuple[ir.EnumType, int]] = field(default_factory=dict)
    vars: dict[str, ir.Var] = field(default_factory=dict)  # top-level `var` and `lock`
    all_vars: list[ir.Var] = field(default_factory=list)  # every state var, in declaration order
    groups: dict[str, Group] = field(default_factory=dict)
    agents: dict[str, AgentInfo] = field(default_factory=dict)
    defs: dict[str, ast.DefDecl] = field(default_factory=dict)
    fns: dict[str, ast.FnDecl] = field(default_factory=dict)
    owner_type: ir.IntType | None = None
    extra_vars: list[ir.Var] = field(default_factory=list)  # fn parameter storage, made while lowering
    timers: dict[str, TimerInfo] = field(default_factory=dict)  # `timer T = FN;` of the cpu block
    softirq: bool = False  # the cpu block runs timer callbacks itself (`run_timer_softirq();`)

    def known_names(self) -> Iterable[str]:
        yield from self.params
        yield from self.types
        yield from self.members
        yield from self.vars
        yield from self.groups
        yield from self.agents
        yield from self.defs
        yield from self.fns
        yield from BUILTIN_NAMES


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else ""


def lit_int(v: int) -> ir.Lit:
    return ir.Lit(v, ir.INT)


class Resolver:
    def __init__(self, items: tuple[ast.Item, ...], overrides: dict[str, int], diags: Diagnostics) -> None:
        self.items = items
        self.overrides = overrides
        self.diags = diags
        self.sym = Symbols()

    # ------------------------------------------------------------------ entry
    def run(self) -> Symbols:
        self._declare_params()
        self._declare_types()
        if "CPUS" in self.sym.params and "cpu" not in self.sym.types:
            cpus = self.sym.params["CPUS"]
            self.sym.types["cpu"] = ir.IntType(lit_int(0), ir.Binary("sub", ir.ParamRef(cpus), lit_int(1)), "cpu")
        self._check_type_names()
        self._declare_agents_shell()
        self.sym.owner_type = self._owner_type()
        for item in self.items:
            self._declare_state(item)
        self._check_timer_fns()
        return self.sym

    def _check_type_names(self) -> None:
        for name, t in self.sym.types.items():
            if name == "cpu" and self.sym.param_values.get("CPUS", 1) < 1:
                continue  # already reported as a bad parameter
            if isinstance(t, ir.IntType):
                lo, hi = self._eval(t.lo), self._eval(t.hi)
                if lo is not None and hi is not None and lo > hi:
                    span = next((i.span for i in self.items if getattr(i, "name", None) == name), None)
                    if name == "cpu":
                        span = self.sym.params["CPUS"].span
                    self.diags.error("E305", f"type `{name}` is empty at these parameters ({lo}..{hi})", span)

    # ------------------------------------------------------------------ params and types
    def _declare_params(self) -> None:
        for item in self.items:
            if isinstance(item, ast.ParamDecl):
                if not self._fresh(item.name, item.span):
                    continue
                value = self.overrides.get(item.name, item.value)
                p = ir.Param(item.name, value, item.span)
                self.sym.params[item.name] = p
                self.sym.param_values[item.name] = value
                if value < 0 or (item.name == "CPUS" and value < 1):
                    self.diags.error("E306", f"parameter `{item.name}` = {value} is out of range",
                                     item.span, "CPUS must be at least 1; other parameters at least 0")

    def _declare_types(self) -> None:
        for item in self.items:
            if isinstance(item, ast.EnumDecl):
                if not self._fresh(item.name, item.span):
                    continue
                et = ir.EnumType(item.name, tuple(item.members))
                self.sym.types[item.name] = et
                self.sym.enums.append(et)
                for i, m in enumerate(item.members):
                    if self._fresh(m, item.span):
                        self.sym.members[m] = (et, i)
            elif isinstance(item, ast.RangeDecl):
                if self._fresh(item.name, item.span):
                    t = self.range_type(item.type, item.name)
                    if t is not None:
                        self.sym.types[item.name] = t

    def _fresh(self, name: str, span: Span) -> bool:
        taken = (name in self.sym.params or name in self.sym.types or name in self.sym.members
                 or name in self.sym.vars or name in self.sym.groups or name in self.sym.defs
                 or name in self.sym.fns or name in ("bool", "true", "false") or name in BUILTIN_NAMES)
        if taken:
            self.diags.error("E202", f"`{name}` is already declared", span)
            return False
        return True

    def const_expr(self, e: ast.Expr) -> ir.Expr | None:
        """A constant expression: numbers, params, + - * and parentheses."""
        if isinstance(e, ast.Num):
            return lit_int(e.value)
        if isinstance(e, ast.Name) and e.id in self.sym.params:
            return ir.ParamRef(self.sym.params[e.id], e.span)
        if isinstance(e, ast.Unop) and e.op == "-":
            a = self.const_expr(e.arg)
            return None if a is None else ir.Unary("neg", a, e.span)
        if isinstance(e, ast.Binop) and e.op in ("+", "-", "*"):
            a, b = self.const_expr(e.left), self.const_expr(e.right)
            if a is None or b is None:
                return None
            return ir.Binary({"+": "add", "-": "sub", "*": "mul"}[e.op], a, b, e.span)
        if isinstance(e, ast.Name):
            self.diags.error("E201" if e.id not in set(self.sym.known_names()) else "E301",
                             f"`{e.id}` is not a parameter; bounds of a range are numbers and parameters",
                             e.span, did_you_mean(e.id, self.sym.params))
        else:
            self.diags.error("E301", "expected a constant: a number, a parameter, or + - * of those", e.span)
        return None

    def range_type(self, t: ast.TRange, name: str | None = None) -> ir.IntType | None:
        lo, hi = self.const_expr(t.lo), self.const_expr(t.hi)
        if lo is None or hi is None:
            return None
        return ir.IntType(lo, hi, name)

    def _eval(self, e: ir.Expr) -> int | None:
        try:
            return ir.eval_const(e, self.sym.param_values)
        except (ValueError, KeyError):
            return None

    def scalar_type(self, t: ast.TypeExpr) -> ir.ScalarType | None:
        if isinstance(t, ast.TBool):
            return ir.BOOL
        if isinstance(t, ast.TRange):
            return self.range_type(t)
        if isinstance(t, ast.TName):
            if t.name in self.sym.types:
                return self.sym.types[t.name]
            hint = did_you_mean(t.name, list(self.sym.types) + ["bool"])
            if t.name == "cpu":
                hint = "the `cpu` type needs `param CPUS = N;`"
            elif t.name in ("int", "u32", "u8", "unsigned"):
                hint = "integers are ranges: write `0..N`"
            self.diags.error("E201", f"unknown type `{t.name}`", t.span, hint)
            return None
        self.diags.error("E301", "an array cannot be used here; expected a scalar type", t.span)
        return None

    def type_(self, t: ast.TypeExpr) -> ir.Type | None:
        if isinstance(t, ast.TArray):
            elem = self.type_(t.elem)
            index = self.scalar_type(t.index)
            if elem is None or index is None:
                return None
            if isinstance(index, ir.BoolType):
                self.diags.error("E301", "arrays are indexed by a range, `cpu` or an enum, not by bool", t.index.span)
                return None
            return _nest(elem, index)
        return self.scalar_type(t)

    # ------------------------------------------------------------------ agents and state
    def _declare_agents_shell(self) -> None:
        for item in self.items:
            if not isinstance(item, ast.AgentDecl):
                continue
            name = "cpu" if item.kind == "cpu" else item.name
            if item.kind == "cpu":
                if "cpu" in self.sym.agents:
                    self.diags.error("E202", "there is already a `cpu` block; one block describes every CPU",
                                     item.span, labels=[Label(self.sym.agents["cpu"].decl.span, "the first one")])
                    continue
                if "cpu" not in self.sym.types or not isinstance(self.sym.types["cpu"], ir.IntType):
                    self.diags.error("E201", "a `cpu` block needs `param CPUS = N;`", item.span)
                    continue
                cpu_type = self.sym.types["cpu"]
                domain: ir.IntType | None = cpu_type if isinstance(cpu_type, ir.IntType) else None
                index_name: str | None = item.name
            else:
                if not self._fresh(item.name, item.span):
                    continue
                domain, index_name = None, None
            self.sym.agents[name] = AgentInfo(item, name, item.kind, domain, {}, index_name)
            self._declare_timers(item, self.sym.agents[name])

    def _declare_timers(self, item: ast.AgentDecl, host: AgentInfo) -> None:
        """Each `timer T = FN;` of the cpu block is one timer object per CPU.  Unless the cpu
        block runs the timer softirq itself (`run_timer_softirq();`), `T` is also an agent, one
        instance per CPU, running `for (;;) { idle: run_timer_softirq(); }` over `T`'s timers
        alone: instance i runs FN, on CPU i (its code sees that CPU's variables and id), for
        each timer queued on CPU i, in steps of its own."""
        moving: set[str] = set()
        if item.kind == "cpu":
            self.sym.softirq = runs_softirq(self.items)
            moving = roaming(self.items, {t.name for t in item.timers}, item.name)
        for t in item.timers:
            if item.kind != "cpu":
                self.diags.error("E406", f"timer `{t.name}` in a {item.kind}: timers are per CPU", t.span,
                                 "declare it in the `cpu` block")
                continue
            if not self._fresh(t.name, t.span):
                continue
            if t.name in self.sym.agents or any(isinstance(i, ast.AgentDecl) and i.name == t.name for i in self.items):
                self.diags.error("E202", f"timer `{t.name}` has the name of an agent", t.span,
                                 "a timer names its callback's steps in traces: give it another name")
                continue
            self.sym.timers[t.name] = TimerInfo(t, t.name in moving)
            if self.sym.softirq:
                continue
            sp = t.span
            body = ast.LoopS(ast.Block((ast.LabelS("idle", sp), ast.CallS(SOFTIRQ, (), t.fn_span)), sp), sp)
            decl = ast.AgentDecl("thread", t.name, (), (body,), (), sp)
            self.sym.agents[t.name] = AgentInfo(decl, t.name, "thread", host.domain, host.vars, host.index_name, host,
                                                self.sym.timers[t.name])

    def _check_timer_fns(self) -> None:
        """A callback is a fn with no parameters and no result (C's `void fn(struct timer_list *)`,
        whose argument the model has no use for: the callback knows its CPU)."""
        for t in self.sym.timers.values():
            d = t.decl
            fn = self.sym.fns.get(d.fn)
            if fn is None:
                self.diags.error("E201", f"undefined function `{d.fn}`", d.fn_span, did_you_mean(d.fn, self.sym.fns))
            elif fn.params or fn.result is not None:
                self.diags.error("E210", f"timer callback `{d.fn}` must take no arguments and return nothing",
                                 d.fn_span, labels=[Label(fn.span, "declared here")])

    def _owner_type(self) -> ir.IntType:
        total: ir.Expr = lit_int(0)
        for info in self.sym.agents.values():
            count: ir.Expr = lit_int(1)
            if info.domain is not None:
                count = ir.Binary("add", ir.Binary("sub", info.domain.hi, info.domain.lo), lit_int(1))
            total = count if total == lit_int(0) else ir.Binary("add", total, count)
        return ir.IntType(lit_int(-1), ir.Binary("sub", total, lit_int(1)), "owner")

    def _declare_state(self, item: ast.Item) -> None:
        if isinstance(item, ast.VarDecl):
            if self._fresh(item.name, item.span):
                v = self.make_var(item.name, item, None)
                if v is not None:
                    self.sym.vars[item.name] = v
        elif isinstance(item, ast.LockDecl):
            if self._fresh(item.name, item.span):
                v = self.make_lock(item.name, item, None)
                if v is not None:
                    self.sym.vars[item.name] = v
        elif isinstance(item, ast.GroupDecl):
            self._declare_group(item)
        elif isinstance(item, ast.AgentDecl):
            self._declare_agent_vars(item)
        elif isinstance(item, ast.DefDecl):
            if self._fresh(item.name, item.span):
                self.sym.defs[item.name] = item
        elif isinstance(item, ast.FnDecl):
            if self._fresh(item.name, item.span):
                self.sym.fns[item.name] = item

    def _declare_group(self, item: ast.GroupDecl) -> None:
        if not self._fresh(item.name, item.span):
            return
        index = None
        if item.index is not None:
            st = self.scalar_type(item.index)
            if st is None:
                return
            if isinstance(st, ir.BoolType):
                self.diags.error("E301", "a block is indexed by a range, `cpu` or an enum", item.index.span)
                return
            index = st
        group = Group(item.name, item.kind, index, {}, item.span)
        for m in item.members:
            if m.name in group.members:
                self.diags.error("E202", f"`{item.name}.{m.name}` is declared twice", m.span)
                continue
            qual = f"{item.name}.{m.name}"
            v = self.make_var(qual, m, index) if isinstance(m, ast.VarDecl) else self.make_lock(qual, m, index)
            if v is not None:
                group.members[m.name] = v
        self.sym.groups[item.name] = group

    def _declare_agent_vars(self, item: ast.AgentDecl) -> None:
        name = "cpu" if item.kind == "cpu" else item.name
        info = self.sym.agents.get(name)
        if info is None or info.decl is not item:
            return
        # A timer's state: pending (on its owner), or the CPU it is queued on (compiler/timers.py).
        armed = tuple(ast.VarDecl(t.decl.name, ast.TArray(ast.TBool(), ast.TName("cpu")) if t.roaming else ast.TBool(),
                                  ast.BoolLit(False, t.decl.span), t.decl.span)
                      for t in self.sym.timers.values() if item.kind == "cpu")
        for v in item.vars + armed:
            if v.name in info.vars:
                self.diags.error("E202", f"`{v.name}` is declared twice in `{name}`", v.span)
                continue
            if info.index_name is not None and v.name == info.index_name:
                self.diags.error("E202", f"`{v.name}` is the CPU id of this block; pick another name", v.span)
                continue
            var = self.make_var(f"{name}.{v.name}", v, info.domain)
            if var is not None:
                info.vars[v.name] = var
                if any(v is a for a in armed):
                    self.sym.timers[v.name].var = var

    def make_var(self, qual: str, d: ast.VarDecl, index: ir.IntType | ir.EnumType | None) -> ir.Var | None:
        t = self.type_(d.type)
        if t is None:
            return None
        init = None
        if d.init is not None:
            init = self.initial_value(d.init, _elem(t))
            if init is None:
                return None
        full = t if index is None else ir.ArrayType(index, t)
        v = ir.Var(qual, full, init, "state", d.span)
        self.sym.all_vars.append(v)
        return v

    def make_lock(self, qual: str, d: ast.LockDecl, index: ir.IntType | ir.EnumType | None) -> ir.Var | None:
        assert self.sym.owner_type is not None
        t: ir.Type = self.sym.owner_type
        if d.index is not None:
            it = self.scalar_type(d.index)
            if it is None or isinstance(it, ir.BoolType):
                return None
            t = ir.ArrayType(it, t)
        if index is not None:
            t = ir.ArrayType(index, t)
        v = ir.Var(qual, t, lit_int(-1), "lock", d.span)
        self.sym.all_vars.append(v)
        return v

    def initial_value(self, e: ast.Expr, t: ir.Type) -> ir.Expr | None:
        """Initial values are constants: literals, parameters, enum members."""
        if isinstance(e, ast.DefaultInit):
            if isinstance(t, ir.BoolType):
                return ir.Lit(False, ir.BOOL, e.span)
            if isinstance(t, ir.EnumType):
                return ir.Lit(0, t, e.span)
            if isinstance(t, ir.IntType):
                return t.lo
        if isinstance(t, ir.BoolType):
            if isinstance(e, ast.BoolLit):
                return ir.Lit(e.value, ir.BOOL, e.span)
            self.diags.error("E301", f"`{_show_ast(e)}` is not a bool; expected `true` or `false`", e.span,
                             "C's 0 and 1 are written `false` and `true`" if isinstance(e, ast.Num) else "")
            return None
        if isinstance(t, ir.EnumType):
            if isinstance(e, ast.Name) and e.id in self.sym.members and self.sym.members[e.id][0] == t:
                return ir.Lit(self.sym.members[e.id][1], t, e.span)
            self.diags.error("E301", f"expected a member of enum `{t.name}` ({', '.join(t.members)})", e.span,
                             did_you_mean(_show_ast(e), t.members))
            return None
        if isinstance(t, ir.IntType):
            c = self.const_expr(e)
            if c is None:
                return None
            self.check_in_range(c, t, e.span)
            return c
        self.diags.error("E301", "expected a scalar initial value", e.span)
        return None

    def check_in_range(self, c: ir.Expr, t: ir.IntType, span: Span) -> None:
        v, lo, hi = self._eval(c), self._eval(t.lo), self._eval(t.hi)
        if v is not None and lo is not None and hi is not None and not lo <= v <= hi:
            params = ", ".join(f"{k}={x}" for k, x in sorted(self.sym.param_values.items()))
            self.diags.error("E302", f"{v} is out of range for `{t}` ({lo}..{hi})", span,
                             f"at parameters {params}" if params else "")


def _nest(elem: ir.Type, index: ir.IntType | ir.EnumType) -> ir.ArrayType:
    """`bool[cpu][vec]` is indexed by cpu first: elem of the innermost dimension nests last."""
    if isinstance(elem, ir.ArrayType):
        return ir.ArrayType(elem.index, _nest(elem.elem, index))
    return ir.ArrayType(index, elem)


def _elem(t: ir.Type) -> ir.Type:
    while isinstance(t, ir.ArrayType):
        t = t.elem
    return t


def _show_ast(e: ast.Expr) -> str:
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Num):
        return str(e.value)
    if isinstance(e, ast.BoolLit):
        return "true" if e.value else "false"
    if isinstance(e, ast.Field):
        return f"{_show_ast(e.base)}.{e.name}"
    return "expression"
