"""Phase 4: an agent's statements -> a control-flow graph -> atomic steps.

Functions are inlined at each call.  Where one atomic step ends and the next
begins follows the reduction argument kernel people use informally:

* a `lock ... unlock` critical section is one step (nothing another CPU does
  can be seen inside it);
* outside any lock, every statement is a step of its own, so two unlocked
  writes (an MSI address then its data) can be interleaved;
* `atomic { ... }` makes a block one step; `yield;` forces a boundary;
* `await` and `lock` start a step (they are the step's guard);
* a loop whose body would otherwise have no boundary gets one at its head;
* `assert` never starts a step: it checks the state at the end of the step
  it follows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from compiler import ir, timers
from compiler.exprs import Ctx, ExprLowering, LowerError
from compiler.input_limits import MAX_AGENT_NODES
from compiler.timers import SOFTIRQ
from compiler.resolve import (ARM_FNS, FLAGS_LOCK_FNS, GUARD_KINDS, LOCK_FNS, TIMER_FNS, UNLOCK_FNS, AgentInfo,
                              Symbols, did_you_mean, lit_int)
from dsl import ast
from dsl.diagnostics import Diagnostics, Label
from dsl.source import SourceFile, Span

MAX_STEP_NODES = 20_000


@dataclass(eq=False)
class Node:
    kind: str  # "op" | "branch" | "nop" | "end"
    span: Span
    fn: str
    stmts: tuple[ir.Stmt, ...] = ()
    cond: ir.Expr | None = None
    succ: list[Node | None] = field(default_factory=list)
    blocking: bool = False  # await or lock: starts a step
    stmt_start: bool = False  # a statement begins here
    acquire: str | None = None
    release: str | None = None
    array_lock: bool = False
    atomic: bool = False  # inside an atomic block, not its first node
    forced: bool = False  # `yield`: always a boundary
    labels: list[str] = field(default_factory=list)


@dataclass
class FnFrame:
    name: str
    labels: dict[str, Node]
    label_spans: dict[str, Span]
    ret: Node
    ctx: Ctx
    result: ir.Expr | None = None  # where `return EXPR;` stores, in a fn with a result type


@dataclass
class Build:
    frame: FnFrame
    atomic: bool
    brk: Node | None = None
    cont: Node | None = None


class CfgBuilder:
    """Builds the graph of one agent (or one device step)."""

    def __init__(self, sym: Symbols, lowering: ExprLowering, diags: Diagnostics, agent: AgentInfo) -> None:
        self.sym = sym
        self.lx = lowering
        self.diags = diags
        self.agent = agent
        self.calls: list[tuple[str, Span]] = []
        self.nodes: list[Node] = []
        self.choice_counter = 0
        self.asserts: dict[str, Span] = {}
        self.too_big = False  # E213 reported: inline no more
        self.local_ids: set[int] = set()  # the storage of fn locals: assignable, unlike parameters
        self.in_callback = 0  # inside a timer callback that run_timer_softirq() runs
        self.agent_cpus = sym.agents["cpu"].domain if "cpu" in sym.agents else None

    def node(self, kind: str, span: Span, b: Build, **kw: object) -> Node:
        n = Node(kind, span, b.frame.name, atomic=b.atomic, **kw)  # type: ignore[arg-type]
        self.nodes.append(n)
        return n

    # ------------------------------------------------------------------ bodies
    def body(self, stmts: tuple[ast.Stmt, ...], ctx: Ctx, atomic: bool, fn: str) -> Node:
        end = Node("end", self.agent.decl.span, fn)
        self.nodes.append(end)
        frame = FnFrame(fn, {}, {}, end, ctx)
        self._collect_labels(stmts, frame)
        entry = self.seq(stmts, end, Build(frame, atomic))
        self._check_gotos(frame)
        return entry

    def _collect_labels(self, stmts: tuple[ast.Stmt, ...] | list[ast.Stmt], frame: FnFrame) -> None:
        for s in _walk(stmts):
            if isinstance(s, ast.LabelS):
                if s.name in frame.labels:
                    self.diags.error("E207", f"label `{s.name}` is defined twice", s.span,
                                     labels=[Label(frame.label_spans[s.name], "first defined here")])
                    continue
                n = Node("nop", s.span, frame.name, labels=[s.name])
                self.nodes.append(n)
                frame.labels[s.name] = n
                frame.label_spans[s.name] = s.span

    def _check_gotos(self, frame: FnFrame) -> None:
        for n in frame.labels.values():
            if not n.succ:  # its statement failed to compile (already reported): keep the graph whole
                n.succ = [frame.ret]

    def seq(self, stmts: tuple[ast.Stmt, ...] | list[ast.Stmt], nxt: Node, b: Build) -> Node:
        entry = nxt
        for s in reversed(_guards_to_scopes(stmts)):
            try:
                entry = self.stmt(s, entry, b)
            except LowerError:
                pass  # reported; keep going to find more errors
        return entry

    def stmt(self, s: ast.Stmt, nxt: Node, b: Build) -> Node:
        method = getattr(self, "_" + type(s).__name__)
        result: Node = method(s, nxt, b)
        return result

    # ------------------------------------------------------------------ statements
    def _Block(self, s: ast.Block, nxt: Node, b: Build) -> Node:
        return self.seq(s.stmts, nxt, b)

    def _EmptyS(self, s: ast.EmptyS, nxt: Node, b: Build) -> Node:
        return nxt

    def _LabelS(self, s: ast.LabelS, nxt: Node, b: Build) -> Node:
        n = b.frame.labels.get(s.name)
        if n is None:
            return nxt
        n.succ = [nxt]
        n.atomic = b.atomic
        return n

    def _GotoS(self, s: ast.GotoS, nxt: Node, b: Build) -> Node:
        if s.label not in b.frame.labels:
            self.diags.error("E206", f"no label `{s.label}` in `{b.frame.name}`", s.span,
                             did_you_mean(s.label, b.frame.labels) or "labels are local to their fn or block")
            raise LowerError("goto")
        n = self.node("nop", s.span, b)
        n.succ = [b.frame.labels[s.label]]
        return n

    def _ReturnS(self, s: ast.ReturnS, nxt: Node, b: Build) -> Node:
        result = b.frame.result
        if (s.value is None) != (result is None):  # reported, and then a plain return: no echo of E411
            self.diags.error("E301", f"`{b.frame.name}` returns a value: write `return EXPR;`" if s.value is None
                             else f"`{b.frame.name}` has no result type: write `return;`, or declare "
                                  f"`fn {b.frame.name}(...): TYPE`", s.span)
        if s.value is not None and result is not None:
            try:
                return self._store(result, s.value, s.span, b.frame.ret, b, stmt_start=True)
            except LowerError:
                pass  # reported; still a return, so that E411 does not echo it
        n = self.node("nop", s.span, b)
        n.succ = [b.frame.ret]
        return n

    def _store(self, target: ir.Expr, value: ast.Expr, span: Span, nxt: Node, b: Build, stmt_start: bool) -> Node:
        """`target = value` for a local, a fn result or what a value call returns: `value` may
        itself be a call of a fn with a result, run first."""
        call = self._value_call(value)
        if call is not None:
            fn, c = call
            res = self._result_storage(fn)
            self._check_assignable(ir.type_of(target), res, value.span)
            store = self._op((*self.value_check(res, ir.type_of(target), value.span), ir.Assign(target, res, span),
                              _consumed(res, span)), span, nxt, b, stmt_start=False)
            return self._inline(fn, ast.CallS(c.name, c.args, c.span), store, b)
        ctx = self._code_ctx(b)
        v = self.lx.expr(value, ctx)
        self._check_assignable(ir.type_of(target), v, value.span)
        stmts = (*self.range_checks(v, ctx, value.span), *self.value_check(v, ir.type_of(target), value.span),
                 ir.Assign(target, v, span))
        # The target is this instance's own hidden variable: only reading others' state needs a step.
        return self._op(stmts, span, nxt, b, stmt_start=stmt_start and not self.is_local(v))

    def _LocalS(self, s: ast.LocalS, nxt: Node, b: Build) -> Node:
        """The declaration runs each time control passes it: the initialiser is stored, or the
        type's first value (false, the first member, the low end), so no value leaks from an
        earlier pass or call."""
        store = b.frame.ctx.locals.get(s.name)
        if store is not None and id(store) not in self.local_ids:
            raise LowerError("a local named as a parameter: reported by _locals_of")
        if store is None:
            raise self._err("E406", f"local `{s.name}` outside a fn", s.span,
                            "an agent's own variables are declared with `var` at the top of its block")
        if s.init is not None:
            return self._store(store, s.init, s.span, nxt, b, stmt_start=True)
        return self._op((ir.Assign(store, _first_value(ir.type_of(store)), s.span),), s.span, nxt, b)

    def _BreakS(self, s: ast.BreakS, nxt: Node, b: Build) -> Node:
        if b.brk is None:
            raise self._err("E405", "`break` outside a loop or switch", s.span)
        n = self.node("nop", s.span, b)
        n.succ = [b.brk]
        return n

    def _ContinueS(self, s: ast.ContinueS, nxt: Node, b: Build) -> Node:
        if b.cont is None:
            raise self._err("E405", "`continue` outside a loop", s.span)
        n = self.node("nop", s.span, b)
        n.succ = [b.cont]
        return n

    def _YieldS(self, s: ast.YieldS, nxt: Node, b: Build) -> Node:
        if b.atomic:
            raise self._err("E406", "`yield` inside `atomic` or a device step would split it", s.span)
        n = self.node("nop", s.span, b, forced=True)
        n.succ = [nxt]
        return n

    def _AwaitS(self, s: ast.AwaitS, nxt: Node, b: Build) -> Node:
        ctx = self._code_ctx(b)
        cond = self.lx.bool_expr(s.cond, ctx, "the condition of `await`")
        stmts = (*self.range_checks(cond, ctx, s.cond.span), ir.Assume(cond, "await", s.span))
        return self._op(stmts, s.span, nxt, b, blocking=True, stmt_start=True)

    def _AssertS(self, s: ast.AssertS, nxt: Node, b: Build) -> Node:
        ctx = self._code_ctx(b)
        cond = self.lx.bool_expr(s.cond, ctx, "an assertion")
        prop = s.name or f"assert@{s.span.line}"
        self.asserts.setdefault(prop, s.span)
        return self._op((*self.range_checks(cond, ctx, s.cond.span), ir.Check(cond, prop, s.span)), s.span, nxt, b)

    def _AssignS(self, s: ast.AssignS, nxt: Node, b: Build) -> Node:
        ctx = self._code_ctx(b)
        word = self.lx.flags_word(s.target, ctx)
        if word is not None:
            return self._flags_assign(s, *word, nxt, b)
        target = self.lvalue(s.target, ctx)
        tt = ir.type_of(target)
        pre: list[ir.Stmt] = list(self.range_checks(target, ctx, s.target.span))
        call = self._value_call(s.value) if s.op == "=" else None
        if call is not None:  # `x = f();`: f runs, then its result is stored
            res = self._result_storage(call[0])
            self._check_assignable(tt, res, s.value.span)
            store = self._op((*pre, *self.value_check(res, tt, s.value.span), ir.Assign(target, res, s.span),
                              _consumed(res, s.span)), s.span, nxt, b, stmt_start=True)
            return self._inline(call[0], ast.CallS(call[1].name, call[1].args, call[1].span), store, b)
        if isinstance(s.value, ast.AnyChoice):
            value, choose = self.choice(s.value, tt, ctx)
            pre.extend(choose)
        else:
            value = self.lx.expr(s.value, ctx)
            pre.extend(self.range_checks(value, ctx, s.value.span))
            value = self._compound(s, target, value)
        self._check_assignable(tt, value, s.value.span)
        pre.extend(self.value_check(value, tt, s.value.span))
        return self._op((*pre, ir.Assign(target, value, s.span)), s.span, nxt, b, stmt_start=True)

    def _flags_assign(self, s: ast.AssignS, word: ir.Expr, enum: ir.EnumType, nxt: Node, b: Build) -> Node:
        """`w |= A | B;` sets bits, `w &= ~(A | B);` clears them, `w &= A;` keeps only A,
        `w = A | B;` and `w = 0;` set the whole word: one store per bit, in one statement."""
        v = s.value
        every = range(len(enum.members))
        if s.op == "|=":
            sets = {bit: True for bit in self.lx.flag_bits(v, enum)}
        elif s.op == "&=" and isinstance(v, ast.Unop) and v.op == "~":
            sets = {bit: False for bit in self.lx.flag_bits(v.arg, enum)}
        elif s.op == "&=":
            keep = self.lx.flag_bits(v, enum)
            sets = {bit: False for bit in every if bit not in keep}
        elif s.op == "=" and isinstance(v, ast.Num) and v.value == 0:
            sets = {bit: False for bit in every}
        elif s.op == "=":
            on = self.lx.flag_bits(v, enum)
            sets = {bit: bit in on for bit in every}
        else:
            raise self._err("E301", f"`{s.op}` on a flag word: set bits with `|=`, clear them with `&= ~`", s.span)
        stores = [ir.Assign(ir.Index(word, ir.Lit(bit, enum, v.span), s.span), ir.Lit(val, ir.BOOL, v.span), s.span)
                  for bit, val in sorted(sets.items())]
        ctx = self._code_ctx(b)
        return self._op((*self.range_checks(word, ctx, s.target.span), *stores), s.span, nxt, b, stmt_start=True)

    def _compound(self, s: ast.AssignS, target: ir.Expr, value: ir.Expr) -> ir.Expr:
        if s.op == "=":
            return value
        tt = ir.type_of(target)
        if s.op in ("+=", "-=", "++", "--"):  # `x++` is `x += 1`, parsed so
            if not isinstance(tt, ir.IntType) or not isinstance(ir.type_of(value), ir.IntType):
                raise self._err("E301", f"`{s.op}` needs an integer target and value", s.span)
            return ir.Binary("add" if s.op in ("+=", "++") else "sub", target, value, s.span)
        if not isinstance(tt, ir.BoolType) or not isinstance(ir.type_of(value), ir.BoolType):
            raise self._err("E301", f"`{s.op}` needs a bool target and value, or a flag word and its bits", s.span)
        return ir.Binary("or" if s.op == "|=" else "and", target, value, s.span)

    def _check_assignable(self, tt: ir.Type, value: ir.Expr, span: Span) -> None:
        vt = ir.type_of(value)
        ok = (isinstance(tt, ir.IntType) and isinstance(vt, ir.IntType)) or (tt == vt and not isinstance(tt, ir.ArrayType))
        if not ok:
            hint = "bools are `true` and `false`" if isinstance(tt, ir.BoolType) else ""
            raise self._err("E301", f"cannot assign a `{vt}` to a `{tt}`", span, hint)

    def choice(self, e: ast.AnyChoice, tt: ir.Type, ctx: Ctx) -> tuple[ir.Expr, list[ir.Stmt]]:
        t = self.lx._scalar(e.type)
        self.choice_counter += 1
        c = ir.Choice(e.var or f"any{self.choice_counter}", t, e.span)
        ref = ir.ChoiceRef(c, e.span)
        stmts: list[ir.Stmt] = [ir.Choose(c, e.span)]
        if e.where is not None:
            inner = ctx.with_locals({e.var: ref}) if e.var else ctx
            cond = self.lx.bool_expr(e.where, inner, "the `where` of `any`")
            stmts.extend(self.range_checks(cond, inner, e.where.span))
            stmts.append(ir.Assume(cond, "where", e.where.span))
        return ref, stmts

    def _CallS(self, s: ast.CallS, nxt: Node, b: Build) -> Node:
        if s.name in LOCK_FNS or s.name in UNLOCK_FNS:
            return self._lock_op(s, nxt, b, acquire=s.name in LOCK_FNS)
        if s.name in self.sym.fns:
            return self._inline(self.sym.fns[s.name], s, nxt, b)
        if s.name in TIMER_FNS:
            return self._timer_op(s, nxt, b)
        if s.name == SOFTIRQ:
            return self._softirq(s, nxt, b)
        if s.name in self.sym.defs:
            raise self._err("E209", f"`{s.name}` is a def (a value); only a fn can be called as a statement", s.span)
        raise self._err("E201", f"undefined function `{s.name}`", s.span,
                        did_you_mean(s.name, list(self.sym.fns) + sorted(LOCK_FNS | UNLOCK_FNS)))

    def _timer_op(self, s: ast.CallS, nxt: Node, b: Build) -> Node:
        """`mod_timer(&X)` queues timer X on this CPU, `add_timer_on(&X, i)` on CPU i, unless X is
        pending (then it stays where it is queued); `del_timer(&X)`, `timer_delete(&X)` take it
        off its queue.  X is `T` (this CPU's timer) or `cpu[k].T` (CPU k's)."""
        want = 2 if s.name == "add_timer_on" else 1
        if len(s.args) != want:
            raise self._err("E210", f"`{s.name}` takes {'a timer and a CPU' if want == 2 else 'one timer'}", s.span)
        ctx = self._code_ctx(b)
        t, owner = self.lx.timer_ref(s.args[0], ctx)
        if s.name not in ARM_FNS:
            self.choice_counter += 1
            stmts = timers.disarm(t, owner, f"queued{self.choice_counter}", s.span)
            checks = self.range_checks(timers.queued(t, owner, owner, s.span), ctx, s.args[0].span)
            return self._op((*checks, *stmts), s.span, nxt, b, stmt_start=True)
        if want == 2:
            assert self.agent_cpus is not None  # a timer exists, so does the cpu block
            on = self.lx.index_value(s.args[1], self.agent_cpus, ctx)
        elif self.agent.domain is None:
            raise self._err("E406", f"`mod_timer()` in {self.agent.kind} `{self.agent.name}`, which runs on no CPU: "
                                    "mod_timer() queues a timer on the CPU that calls it", s.span,
                            f"say where it is queued: `add_timer_on(&cpu[k].{t.decl.name}, i)`")
        else:
            on = ir.SelfIndex(s.span)
        checks = self.range_checks(timers.queued(t, owner, on if t.roaming else owner, s.span), ctx, s.span)
        return self._op((*checks, *timers.arm(t, owner, on, s.span)), s.span, nxt, b, stmt_start=True)

    def _softirq(self, s: ast.CallS, nxt: Node, b: Build) -> Node:
        """`run_timer_softirq();`: wait until a timer is queued on this CPU, take one off its
        queue and run its callback here, as __run_timers() -> expire_timers() does.  Also the
        body of a timer's own agent (`self.agent.timer`), over that timer alone."""
        own = self.agent.timer if not self.calls else None
        if s.args:
            raise self._err("E210", f"`{SOFTIRQ}()` takes no arguments", s.span)
        if not self.sym.timers:
            raise self._err("E406", f"`{SOFTIRQ}()` in a spec with no timer: it would wait for ever", s.span,
                            "declare one in the `cpu` block: `timer t = fn;`")
        if own is None and (self.agent.kind != "cpu" or self.in_callback):
            where = "a timer callback" if self.in_callback else f"{self.agent.kind} `{self.agent.name}`"
            raise self._err("E406", f"`{SOFTIRQ}()` in {where}: a CPU runs its timer softirq from its own code",
                            s.span, "call it in the `cpu` block, where the CPU takes its softirqs (e.g. one branch "
                                    "of its idle loop's `either`)")
        arms: list[Node] = []
        for t in [own] if own is not None else list(self.sym.timers.values()):
            self.choice_counter += 1
            fn = self.sym.fns[t.decl.fn]
            self.in_callback += 1
            try:
                callback = self._inline(fn, ast.CallS(fn.name, (), t.decl.fn_span), nxt, b)
            finally:
                self.in_callback -= 1
            arms.append(self._op(timers.fire(t, ir.SelfIndex(s.span), f"{t.decl.name}{self.choice_counter}", s.span),
                                 s.span, callback, b))
        if len(arms) == 1:
            arms[0].blocking = arms[0].stmt_start = True
            return arms[0]
        # Several timers: the step's guard is "some timer is queued here"; it then picks which
        # kind to run (each arm's own guard keeps only the kinds queued here).
        self.choice_counter += 1
        kind = ir.Choice(f"timer{self.choice_counter}", ir.IntType(lit_int(0), lit_int(len(arms) - 1)), s.span)
        entry = arms[-1]
        for k in range(len(arms) - 2, -1, -1):
            br = self.node("branch", s.span, b, cond=ir.Binary("eq", ir.ChoiceRef(kind, s.span), lit_int(k)))
            br.succ = [arms[k], entry]
            entry = br
        some: ir.Expr = ir.Lit(False, ir.BOOL)
        for t in self.sym.timers.values():
            q = timers.some_queued_on(t, ir.SelfIndex(s.span), s.span)
            some = q if some == ir.Lit(False, ir.BOOL) else ir.Binary("or", some, q, s.span)
        return self._op((ir.Assume(some, "await", s.span), ir.Choose(kind, s.span)), s.span, entry, b,
                        blocking=True, stmt_start=True)

    def _lock_op(self, s: ast.CallS, nxt: Node, b: Build, acquire: bool) -> Node:
        if s.name in FLAGS_LOCK_FNS:
            if len(s.args) != 2 or not isinstance(s.args[1], ast.Name):
                raise self._err("E210", f"`{s.name}` takes a lock and a flags variable: `{s.name}(&l, flags)`", s.span)
        elif len(s.args) != 1:
            raise self._err("E210", f"`{s.name}` takes one lock", s.span)
        ctx = self._code_ctx(b)
        lock = self.lx.lock_ref(s.args[0], ctx)
        key, is_array = _lock_key(lock)
        me = self.me()
        checks = list(self.range_checks(lock, ctx, s.args[0].span))
        if acquire:
            if is_array:
                checks.append(ir.Check(ir.Binary("ne", lock, me), "lock_discipline", s.span))
            stmts = (*checks, ir.Assume(ir.Binary("eq", lock, lit_int(-1)), "lock", s.span), ir.Assign(lock, me, s.span))
            return self._op(stmts, s.span, nxt, b, blocking=True, stmt_start=True, acquire=key, array_lock=is_array)
        if is_array:
            checks.append(ir.Check(ir.Binary("eq", lock, me), "lock_discipline", s.span))
        stmts = (*checks, ir.Assign(lock, lit_int(-1), s.span))
        return self._op(stmts, s.span, nxt, b, stmt_start=True, release=key, array_lock=is_array)

    def me(self) -> ir.Expr:
        """This instance's global id: what a lock owner variable stores."""
        base: ir.Expr = lit_int(0)
        for info in self.sym.agents.values():
            if info is self.agent:
                break
            count: ir.Expr = lit_int(1) if info.domain is None else ir.Binary(
                "add", ir.Binary("sub", info.domain.hi, info.domain.lo), lit_int(1))
            base = count if base == lit_int(0) else ir.Binary("add", base, count)
        if self.agent.domain is None:
            return base
        return ir.SelfIndex() if base == lit_int(0) else ir.Binary("add", base, ir.SelfIndex())

    def _inline(self, fn: ast.FnDecl, s: ast.CallS, nxt: Node, b: Build) -> Node:
        if len(self.nodes) > MAX_AGENT_NODES:
            # Each call is a copy of the fn: a chain of fns that each call the last twice doubles.
            # Reported once; the calls still pending give up at once.
            if not self.too_big:
                self.too_big = True
                raise self._err("E213", f"inlining `{fn.name}` grows `{self.agent.name}` past {MAX_AGENT_NODES} "
                                        "nodes: that is the limit for one agent", s.span,
                                "every call is a copy of the fn's body: call a fn that calls others from fewer "
                                "places, or let it loop",
                                "inlined through " + " -> ".join([n for n, _ in self.calls] + [fn.name]))
            raise LowerError("too big")
        if any(name == fn.name for name, _ in self.calls):
            chain = " -> ".join([n for n, _ in self.calls] + [fn.name])
            raise self._err("E208", f"recursive call: {chain}", s.span, "fns are inlined; recursion cannot be")
        if len(s.args) != len(fn.params):
            raise self._err("E210", f"`{fn.name}` takes {len(fn.params)} argument(s), given {len(s.args)}", s.span,
                            labels=[Label(fn.span, "declared here")])
        ctx = self._code_ctx(b)
        bound: dict[str, ir.Expr] = {}
        stores: list[ir.Stmt] = []
        for p, a in zip(fn.params, s.args):
            pt = self.lx._scalar(p.type)
            value = self.lx.expr(a, ctx)
            vt = ir.type_of(value)
            if not ((isinstance(pt, ir.IntType) and isinstance(vt, ir.IntType)) or pt == vt):
                raise self._err("E301", f"argument `{p.name}` of `{fn.name}` is a `{pt}`, given `{vt}`", a.span)
            if _is_constant(value):
                if isinstance(pt, ir.IntType):  # the body may rely on its declared range
                    self.lx._const_in(value, pt, a.span)
                bound[p.name] = value
                continue
            store = self._param_storage(fn, p, pt)
            stores.extend(self.range_checks(value, ctx, a.span))
            stores.extend(self.value_check(value, pt, a.span))
            stores.append(ir.Assign(store, value, a.span))
            bound[p.name] = store
        self.calls.append((fn.name, s.span))
        try:
            own = self._locals_of(fn, bound)
            inner = Ctx(self.agent, {**bound, **own}, True)
            out = self._reset(tuple(own.values()), fn.span, nxt, b)
            result = self._result_storage(fn) if fn.result is not None else None
            frame = FnFrame(fn.name, {}, {}, out, inner, result)
            self._collect_labels(fn.body.stmts, frame)
            end = out
            if result is not None:  # falling off the end of a fn with a result is E411
                end = self.node("nop", fn.body.span, b)
                end.succ = [out]
            entry = self.seq(fn.body.stmts, end, Build(frame, b.atomic))
            self._check_gotos(frame)
            if end is not out and _reaches(entry, end, out):
                last = fn.body.stmts[-1].span if fn.body.stmts else fn.span  # where it falls off
                self.diags.error("E411", f"`{fn.name}` can reach its end without `return EXPR;`", last,
                                 f"every path through a fn with a result type returns a `{ir.type_of(result)}`"
                                 if result is not None else "")
        finally:
            self.calls.pop()
        if stores:
            return self._op(tuple(stores), s.span, entry, b, stmt_start=True)
        return entry

    def _locals_of(self, fn: ast.FnDecl, params: dict[str, ir.Expr]) -> dict[str, ir.Expr]:
        """Each local of `fn` is a hidden variable of the running instance, `AGENT.FN.NAME`, like
        a parameter's storage.  Its scope is the whole fn body; declare each name once."""
        own: dict[str, ir.Expr] = {}
        spans: dict[str, Span] = {}
        for s in _walk(fn.body.stmts):
            if not isinstance(s, ast.LocalS):
                continue
            if s.name in own or any(p.name == s.name for p in fn.params):
                first = spans.get(s.name) or next(p.span for p in fn.params if p.name == s.name)
                self.diags.error("E202", f"`{s.name}` is declared twice in `{fn.name}`", s.span,
                                 "a local's scope is its whole fn: give the second one another name",
                                 labels=[Label(first, "first declared here")])
                continue
            t = self.lx._scalar(s.type)
            store = self._param_storage(fn, ast.Param(s.name, s.type, s.span), t)
            self.local_ids.add(id(store))
            own[s.name], spans[s.name] = store, s.span
        return own

    def _reset(self, stores: tuple[ir.Expr, ...], span: Span, nxt: Node, b: Build) -> Node:
        """Locals go back to their first value when the fn returns, so that a finished call leaves
        no trace in the state (two states that differ only in a dead local are one).  Only this
        instance's own hidden variables are written: no step boundary is needed."""
        if not stores:
            return nxt
        return self._op(tuple(ir.Assign(v, _first_value(ir.type_of(v)), span) for v in stores), span, nxt, b)

    def _value_call(self, e: ast.Expr) -> tuple[ast.FnDecl, ast.Call] | None:
        if isinstance(e, ast.Call) and e.name in self.sym.fns and self.sym.fns[e.name].result is not None:
            return self.sym.fns[e.name], e
        return None

    def _result_storage(self, fn: ast.FnDecl) -> ir.Expr:
        """Where `fn`'s `return EXPR;` stores: `AGENT.FN.return` (a keyword, so no local's name)."""
        assert fn.result is not None
        t = self.lx._scalar(fn.result)
        return self._param_storage(fn, ast.Param("return", fn.result, fn.span), t)

    def _call_test(self, cond: ast.Expr, span: Span, then: Node, els: Node, b: Build,
                   what: str) -> tuple[Node, Node]:
        """A condition that is a call of a fn with a result, or `!` of one (`_tests_call`): the
        call runs, then its result is tested.  Returns the call's entry and the node on the true
        side whose successor is `then` (a loop puts its body there)."""
        negated = isinstance(cond, ast.Unop) and cond.op == "!"
        call = self._value_call(cond.arg if isinstance(cond, ast.Unop) and negated else cond)
        assert call is not None
        fn, c = call
        res = self._result_storage(fn)
        if not isinstance(ir.type_of(res), ir.BoolType):
            raise self._err("E301", f"{what} must be a bool, but `{fn.name}` returns a `{ir.type_of(res)}`", c.span)
        test = ir.Unary("not", res, cond.span) if negated else res
        on_true = self._op((_consumed(res, cond.span),), cond.span, then, b)
        on_false = self._op((_consumed(res, cond.span),), cond.span, els, b)
        br = self._branch(test, self._code_ctx(b), cond.span, span, on_true, on_false, b)
        return self._inline(fn, ast.CallS(c.name, c.args, c.span), br, b), on_true

    def _param_storage(self, fn: ast.FnDecl, p: ast.Param, t: ir.ScalarType) -> ir.Expr:
        name = f"{self.agent.name}.{fn.name}.{p.name}"
        var = next((v for v in self.sym.extra_vars if v.name == name), None)
        if var is None:
            init: ir.Expr = ir.Lit(False, ir.BOOL) if isinstance(t, ir.BoolType) else (
                ir.Lit(0, t) if isinstance(t, ir.EnumType) else t.lo)
            full: ir.Type = t if self.agent.domain is None else ir.ArrayType(self.agent.domain, t)
            var = ir.Var(name, full, init, "state", p.span)
            self.sym.extra_vars.append(var)
        ref = ir.VarRef(var, p.span)
        return ref if self.agent.domain is None else ir.Index(ref, ir.SelfIndex(), p.span)

    def _tests_call(self, cond: ast.Expr) -> bool:
        """Is the condition `f()` or `!f()` for a fn `f` with a result?  (The only places besides
        `x = f();` and `return f();` where such a call may stand: there it runs as a whole before
        its value is used, so every step stays one atomic piece of one statement.)"""
        inner = cond.arg if isinstance(cond, ast.Unop) and cond.op == "!" else cond
        return self._value_call(inner) is not None

    def _IfS(self, s: ast.IfS, nxt: Node, b: Build) -> Node:
        if self._tests_call(s.cond):
            then = self.stmt(s.then, nxt, b)
            els = self.stmt(s.else_, nxt, b) if s.else_ is not None else nxt
            return self._call_test(s.cond, s.span, then, els, b, "the condition of `if`")[0]
        ctx = self._code_ctx(b)
        cond = self.lx.bool_expr(s.cond, ctx, "the condition of `if`")
        then = self.stmt(s.then, nxt, b)
        els = self.stmt(s.else_, nxt, b) if s.else_ is not None else nxt
        return self._branch(cond, ctx, s.cond.span, s.span, then, els, b)

    def _branch(self, cond: ir.Expr, ctx: Ctx, cspan: Span, span: Span, then: Node, els: Node, b: Build) -> Node:
        # A test of the agent's own state commutes with every other agent's step, so it
        # need not be a step of its own (the same reduction argument as for locks).
        br = self.node("branch", span, b, cond=cond, stmt_start=not self.is_local(cond))
        br.succ = [then, els]
        checks = self.range_checks(cond, ctx, cspan)
        if checks:  # the checks belong to the same evaluation of the condition
            op = self._op(tuple(checks), span, br, b, stmt_start=True)
            br.stmt_start = False
            return op
        return br

    def _WhileS(self, s: ast.WhileS, nxt: Node, b: Build) -> Node:
        if self._tests_call(s.cond):  # the call runs again before each test
            self._no_loop_in_atomic(s.span, b)
            entry, test = self._call_test(s.cond, s.span, nxt, nxt, b, "the condition of `while`")
            test.succ[0] = self.stmt(s.body, entry, Build(b.frame, b.atomic, nxt, entry))
            return entry
        ctx = self._code_ctx(b)
        cond = self.lx.bool_expr(s.cond, ctx, "the condition of `while`")
        self._no_loop_in_atomic(s.span, b)
        head = self._branch(cond, ctx, s.cond.span, s.span, nxt, nxt, b)
        br = head if head.kind == "branch" else head.succ[0]
        assert br is not None
        body = self.stmt(s.body, head, Build(b.frame, b.atomic, nxt, head))
        br.succ[0] = body
        return head

    def _DoS(self, s: ast.DoS, nxt: Node, b: Build) -> Node:
        if self._tests_call(s.cond):
            self._no_loop_in_atomic(s.span, b)
            entry, test = self._call_test(s.cond, s.cond.span, nxt, nxt, b, "the condition of `do ... while`")
            body = self.stmt(s.body, entry, Build(b.frame, b.atomic, nxt, entry))
            test.succ[0] = body
            return body
        ctx = self._code_ctx(b)
        cond = self.lx.bool_expr(s.cond, ctx, "the condition of `do ... while`")
        self._no_loop_in_atomic(s.span, b)
        test = self._branch(cond, ctx, s.cond.span, s.cond.span, nxt, nxt, b)
        br = test if test.kind == "branch" else test.succ[0]
        assert br is not None
        body = self.stmt(s.body, test, Build(b.frame, b.atomic, nxt, test))
        br.succ[0] = body
        return body

    def _LoopS(self, s: ast.LoopS, nxt: Node, b: Build) -> Node:
        self._no_loop_in_atomic(s.span, b)
        head = self.node("nop", s.span, b)
        head.succ = [None]
        body = self.stmt(s.body, head, Build(b.frame, b.atomic, nxt, head))
        head.succ = [body]
        return head

    def _no_loop_in_atomic(self, span: Span, b: Build) -> None:
        if b.atomic:
            raise self._err("E406", "a loop inside `atomic` or a device step could run for ever in one step", span,
                            "write the loop outside, with `atomic` inside its body")

    def _AtomicS(self, s: ast.AtomicS, nxt: Node, b: Build) -> Node:
        before = len(self.nodes)
        entry = self.seq(s.body.stmts, nxt, Build(b.frame, True, b.brk, b.cont))
        if entry is not nxt and not b.atomic:
            entry.atomic = False  # the first node may start a step; the rest may not
            for n in self.nodes[before:]:
                if n is not entry and n.kind == "nop" and n.labels:
                    self.diags.error("E406", "a label inside `atomic` would let a goto jump into the middle of a step",
                                     n.span)
        return entry

    def _EitherS(self, s: ast.EitherS, nxt: Node, b: Build) -> Node:
        self.choice_counter += 1
        n = len(s.branches)
        c = ir.Choice(f"either{self.choice_counter}", ir.IntType(lit_int(0), lit_int(n - 1)), s.span)
        ref = ir.ChoiceRef(c, s.span)
        entry = self.stmt(s.branches[-1], nxt, b)
        for k in range(n - 2, -1, -1):
            arm = self.stmt(s.branches[k], nxt, b)
            br = self.node("branch", s.branches[k].span, b, cond=ir.Binary("eq", ref, lit_int(k)))
            br.succ = [arm, entry]
            entry = br
        return self._op((ir.Choose(c, s.span),), s.span, entry, b, stmt_start=True)

    def _FallthroughS(self, s: ast.FallthroughS, nxt: Node, b: Build) -> Node:
        return nxt

    def _SwitchS(self, s: ast.SwitchS, nxt: Node, b: Build) -> Node:
        """C's switch: the value is read once, by one chain of tests that is one evaluation (so a
        step boundary falls only before the first test); a case runs on into the next one unless
        it ends in `break` (leaving the switch), and must then say `fallthrough;` (E409)."""
        ctx = self._code_ctx(b)
        value = self.lx.expr(s.value, ctx)
        vt = ir.type_of(value)
        if isinstance(vt, ir.ArrayType):
            raise self._err("E301", f"switch on a `{vt}`: a switch tests an integer, enum or bool", s.value.span)
        for clause in s.cases[:-1]:
            if clause.body and not _ends_in_jump(clause.body):
                self.diags.error("E409", "this case runs on into the next one", clause.body[-1].span,
                                 "end it with `break;`, or write `fallthrough;` if that is meant (as the kernel "
                                 "must, under -Wimplicit-fallthrough)")
        inner = Build(b.frame, b.atomic, nxt, b.cont)
        entries: list[Node] = []
        follow = nxt
        for clause in reversed(s.cases):
            follow = self.seq(clause.body, follow, inner)
            entries.append(follow)
        entries.reverse()
        target = nxt
        tests: list[tuple[ir.Expr, Node, Span]] = []
        seen: dict[object, Span] = {}
        for clause, entry in zip(s.cases, entries):
            for label in clause.labels:
                if label is None:
                    target = entry
                    continue
                key, v = self._case_value(label, vt, ctx)
                if key in seen:
                    self.diags.error("E202", f"case `{ir.show(v)}` appears twice in this switch", label.span,
                                     labels=[Label(seen[key], "the first")])
                seen[key] = label.span
                tests.append((v, entry, label.span))
        first: Node = target
        for v, entry, span in reversed(tests):
            br = self.node("branch", span, b, cond=ir.Binary("eq", value, v, span))
            br.succ = [entry, first]
            first = br
        if first.kind != "branch":
            return first  # no case label: the value is read for nothing
        first.span = s.span
        first.stmt_start = not self.is_local(value)
        checks = self.range_checks(value, ctx, s.value.span)
        if checks:
            first.stmt_start = False
            return self._op(tuple(checks), s.span, first, b, stmt_start=True)
        return first

    def _case_value(self, label: ast.Expr, vt: ir.Type, ctx: Ctx) -> tuple[object, ir.Expr]:
        v = self.lx.expr(label, ctx)
        lt = ir.type_of(v)
        if not _is_constant(v) or isinstance(v, ir.SelfIndex):
            raise self._err("E301", "a case label is a constant: a number, a parameter or an enum member",
                            label.span)
        if not ((isinstance(vt, ir.IntType) and isinstance(lt, ir.IntType)) or vt == lt):
            raise self._err("E301", f"case `{ir.show(v)}` is a `{lt}`, but the switch tests a `{vt}`", label.span)
        try:
            return ir.eval_const(v, self.sym.param_values), v
        except (ValueError, KeyError):
            return ir.show(v), v

    def _ScopedGuardS(self, s: ast.ScopedGuardS, nxt: Node, b: Build) -> Node:
        """Lock, run the body, unlock: on leaving the body by its end, `break`, `continue` or
        `return` (a `goto` out leaves the lock held, which the lock checks then report)."""
        if s.kind not in GUARD_KINDS:
            raise self._err("E209", f"`{s.kind}` is not a lock guard irqc knows", s.span,
                            f"known guards: {', '.join(sorted(GUARD_KINDS))}")
        self.lx.lock_ref(s.lock, self._code_ctx(b))  # a bad lock is reported once, here
        take = ast.CallS("raw_spin_lock", (s.lock,), s.span)
        drop = ast.CallS("raw_spin_unlock", (s.lock,), s.span)

        def released(then: Node | None) -> Node | None:
            return None if then is None else self._lock_op(drop, then, b, acquire=False)

        frame = FnFrame(b.frame.name, b.frame.labels, b.frame.label_spans, released(b.frame.ret) or b.frame.ret,
                        b.frame.ctx, b.frame.result)
        body = self.stmt(s.body, self._lock_op(drop, nxt, b, acquire=False),
                         Build(frame, b.atomic, released(b.brk), released(b.cont)))
        return self._lock_op(take, body, b, acquire=True)

    def _GuardS(self, s: ast.GuardS, nxt: Node, b: Build) -> Node:
        return self._ScopedGuardS(ast.ScopedGuardS(s.kind, s.lock, ast.Block((), s.span), s.span), nxt, b)

    # ------------------------------------------------------------------ helpers
    def _op(self, stmts: tuple[ir.Stmt, ...], span: Span, nxt: Node, b: Build, **kw: object) -> Node:
        n = self.node("op", span, b, stmts=stmts, **kw)
        n.succ = [nxt]
        return n

    def _code_ctx(self, b: Build) -> Ctx:
        return b.frame.ctx

    def _err(self, code: str, msg: str, span: Span, *notes: str, labels: list[Label] | None = None) -> LowerError:
        self.diags.error(code, msg, span, *notes, labels=labels or [])
        return LowerError(msg)

    def lvalue(self, e: ast.Expr, ctx: Ctx) -> ir.Expr:
        if isinstance(e, ast.Name) and e.id in ctx.locals and id(ctx.locals[e.id]) not in self.local_ids:
            raise self._err("E303", f"`{e.id}` is a parameter; parameters of fns and defs are read-only", e.span)
        if isinstance(e, ast.Name) and (e.id in self.sym.params or e.id in self.sym.members):
            what = "a parameter" if e.id in self.sym.params else "an enum member"
            raise self._err("E303", f"cannot assign to `{e.id}`: it is {what}", e.span,
                            "parameters are set with `--param NAME=VALUE` on the command line")
        if isinstance(e, ast.Name) and self.agent.index_name == e.id:
            raise self._err("E303", f"cannot assign to `{e.id}`: it is this CPU's id", e.span)
        target = self.lx.expr(e, ctx)
        base = target
        while isinstance(base, ir.Index):
            base = base.base
        if not isinstance(base, ir.VarRef):
            raise self._err("E304", "the left of `=` must be a variable or an element of one", e.span)
        if base.var.kind == "lock":
            raise self._err("E304", f"`{base.var.name}` is a lock: take and release it with lock()/unlock()", e.span)
        if isinstance(ir.type_of(target), ir.ArrayType):
            raise self._err("E304", "assign to one element at a time: `a[i] = v`", e.span)
        return target

    def is_local(self, e: ir.Expr) -> bool:
        """Does `e` read only constants and this agent's own variables?"""
        # A CPU's variables are also its timers' (and the reverse): then they are no one's own.
        shared = self.agent.host is not None or any(a.host is self.agent for a in self.sym.agents.values())
        own = set() if shared else {id(v) for v in self.agent.vars.values()}
        own -= {id(t.var) for t in self.sym.timers.values()}  # any CPU may arm or delete any timer
        own |= {id(v) for v in self.sym.extra_vars if v.name.startswith(self.agent.name + ".")}
        return all(id(v) in own for v in _vars_read(e))

    # ------------------------------------------------------------------ range checks
    def value_check(self, value: ir.Expr, t: ir.Type, span: Span) -> list[ir.Stmt]:
        if not isinstance(t, ir.IntType) or self._statically_in(value, t, span):
            return []
        return [ir.Check(_in(value, t), "in_range", span)]

    def range_checks(self, e: ir.Expr, ctx: Ctx, span: Span) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for guard, idx, t, quantified in _indices(e, None):
            if self._statically_in(idx, t, span):
                continue
            if quantified:
                raise self._err("E301", f"the index `{ir.show(idx)}` may be out of range of `{t}`", span,
                                "inside forall/exists an index must have the array's own index type")
            cond = _in(idx, t)
            out.append(ir.Check(cond if guard is None else ir.Binary("implies", guard, cond), "in_range", span))
        return out

    def _statically_in(self, v: ir.Expr, t: ir.IntType, span: Span) -> bool:
        if isinstance(v, ir.Lit):
            try:
                val = ir.eval_const(v, self.sym.param_values)
                lo, hi = ir.eval_const(t.lo, self.sym.param_values), ir.eval_const(t.hi, self.sym.param_values)
            except (ValueError, KeyError):
                return False
            if not lo <= val <= hi:
                params = ", ".join(f"{k}={x}" for k, x in sorted(self.sym.param_values.items()))
                self.diags.error("E302", f"{val} is out of range for `{t}` ({lo}..{hi})", span,
                                 f"at parameters {params}" if params else "")
                return True
        return fits(v, t, self.agent.domain)


def fits(v: ir.Expr, t: ir.IntType, domain: ir.IntType | None) -> bool:
    """Is every value `v` can take in `t`, at every parameter setting?  (`domain`: the
    range of `self`.)  False means a check is needed, never that the value is wrong."""
    if isinstance(v, ir.Ite):  # each arm on its own: the union of two ranges is no range
        return fits(v.then, t, domain) and fits(v.else_, t, domain)
    if isinstance(v, ir.SelfIndex):
        return domain is not None and (domain.lo, domain.hi) == (t.lo, t.hi)
    vt = ir.type_of(v)
    if isinstance(vt, ir.IntType) and vt is not ir.INT and (vt.lo, vt.hi) == (t.lo, t.hi):
        return True
    if isinstance(v, ir.Lit) and isinstance(t.lo, ir.Lit) and isinstance(t.hi, ir.Lit):
        return int(t.lo.value) <= int(v.value) <= int(t.hi.value)
    return False


def _in(v: ir.Expr, t: ir.IntType) -> ir.Expr:
    return ir.Binary("and", ir.Binary("le", t.lo, v), ir.Binary("le", v, t.hi))


def _indices(e: ir.Expr, guard: ir.Expr | None,
             quant: bool = False) -> Iterator[tuple[ir.Expr | None, ir.Expr, ir.IntType, bool]]:
    """Every integer array index in `e`: the condition under which C would evaluate it,
    the index, the range it must be in, and whether it sits under a quantifier."""
    if isinstance(e, ir.Index):
        yield from _indices(e.base, guard, quant)
        yield from _indices(e.index, guard, quant)
        bt = ir.type_of(e.base)
        if isinstance(bt, ir.ArrayType) and isinstance(bt.index, ir.IntType):
            yield guard, e.index, bt.index, quant
    elif isinstance(e, ir.Binary) and e.op in ("and", "or", "implies"):
        yield from _indices(e.left, guard, quant)
        arm = e.left if e.op != "or" else ir.Unary("not", e.left)
        yield from _indices(e.right, arm if guard is None else ir.Binary("and", guard, arm), quant)
    elif isinstance(e, ir.Binary):
        yield from _indices(e.left, guard, quant)
        yield from _indices(e.right, guard, quant)
    elif isinstance(e, ir.Unary):
        yield from _indices(e.arg, guard, quant)
    elif isinstance(e, ir.Ite):
        yield from _indices(e.cond, guard, quant)
        g_then = e.cond if guard is None else ir.Binary("and", guard, e.cond)
        neg = ir.Unary("not", e.cond)
        g_else = neg if guard is None else ir.Binary("and", guard, neg)
        yield from _indices(e.then, g_then, quant)
        yield from _indices(e.else_, g_else, quant)
    elif isinstance(e, ir.Quant):
        # An index that names no bound variable and is reached under no test inside the body
        # (`exists on: cpu :: t[k][on]`, timer_pending() of CPU k's timer) is evaluated once per
        # value of a nonempty type: at least once, whatever the others are, so it is checked
        # before the formula, like any other index.
        for g, idx, t, quantified in _indices(e.body, guard, True):
            yield g, idx, t, quantified and not (g is guard and not _binds(idx))


def _binds(e: ir.Expr) -> bool:
    """Does `e` name a quantified variable?"""
    if isinstance(e, ir.BoundRef):
        return True
    if isinstance(e, ir.Index):
        return _binds(e.base) or _binds(e.index)
    if isinstance(e, ir.Binary):
        return _binds(e.left) or _binds(e.right)
    if isinstance(e, ir.Unary):
        return _binds(e.arg)
    if isinstance(e, ir.Ite):
        return _binds(e.cond) or _binds(e.then) or _binds(e.else_)
    return isinstance(e, ir.Quant)


def _vars_read(e: ir.Expr) -> Iterator[ir.Var]:
    if isinstance(e, ir.VarRef):
        yield e.var
    elif isinstance(e, ir.Index):
        yield from _vars_read(e.base)
        yield from _vars_read(e.index)
    elif isinstance(e, ir.Binary):
        yield from _vars_read(e.left)
        yield from _vars_read(e.right)
    elif isinstance(e, ir.Unary):
        yield from _vars_read(e.arg)
    elif isinstance(e, ir.Ite):
        yield from _vars_read(e.cond)
        yield from _vars_read(e.then)
        yield from _vars_read(e.else_)
    elif isinstance(e, ir.Quant):
        yield from _vars_read(e.body)
    elif isinstance(e, (ir.AtLoc, ir.Enabled)):
        yield ir.Var("<pc>", ir.BOOL, None)  # another agent's control state: never local


def _lock_key(lock: ir.Expr) -> tuple[str, bool]:
    """The lock's variable, and whether it is an element of an array of locks
    (`redist[c].lock`, `lock l[N]`): those are only checked at run time."""
    base, depth = lock, 0
    while isinstance(base, ir.Index):
        base, depth = base.base, depth + 1
    assert isinstance(base, ir.VarRef)
    return base.var.name, depth > 0


def _consumed(result: ir.Expr, span: Span) -> ir.Assign:
    """Once a call's result is used, its hidden variable goes back to its first value, in the
    same step: like a dead local, a used result leaves no trace in the state."""
    return ir.Assign(result, _first_value(ir.type_of(result)), span)


def _first_value(t: ir.Type) -> ir.Expr:
    """What a local holds before its initialiser runs: false, the first member, the low end."""
    if isinstance(t, ir.BoolType):
        return ir.Lit(False, ir.BOOL)
    if isinstance(t, ir.EnumType):
        return ir.Lit(0, t)
    assert isinstance(t, ir.IntType)
    return t.lo


def _reaches(entry: Node, target: Node, stop: Node) -> bool:
    """Is `target` reachable from `entry` without passing `stop` (a fn's exit)?"""
    seen: set[int] = {id(stop)}
    work = [entry]
    while work:
        n = work.pop()
        if n is target:
            return True
        if id(n) in seen:
            continue
        seen.add(id(n))
        work.extend(s for s in n.succ if s is not None)
    return False


def _is_constant(e: ir.Expr) -> bool:
    if isinstance(e, (ir.Lit, ir.ParamRef, ir.SelfIndex)):
        return True
    if isinstance(e, ir.Binary) and e.op in ("add", "sub", "mul"):
        return _is_constant(e.left) and _is_constant(e.right)
    return False


def _walk(stmts: tuple[ast.Stmt, ...] | list[ast.Stmt]) -> Iterator[ast.Stmt]:
    for s in stmts:
        yield s
        if isinstance(s, ast.Block):
            yield from _walk(s.stmts)
        elif isinstance(s, ast.IfS):
            yield from _walk([s.then] + ([s.else_] if s.else_ is not None else []))
        elif isinstance(s, (ast.WhileS, ast.DoS, ast.LoopS)):
            yield from _walk([s.body])
        elif isinstance(s, ast.AtomicS):
            yield from _walk([s.body])
        elif isinstance(s, ast.EitherS):
            yield from _walk(list(s.branches))
        elif isinstance(s, ast.SwitchS):
            yield from _walk([x for c in s.cases for x in c.body])
        elif isinstance(s, ast.ScopedGuardS):
            yield from _walk([s.body])


def _guards_to_scopes(stmts: tuple[ast.Stmt, ...] | list[ast.Stmt]) -> list[ast.Stmt]:
    """`guard(raw_spinlock)(&l);` holds `l` to the end of its block, as C's cleanup attribute
    does: the rest of the block becomes the body of a `scoped_guard`."""
    for i, s in enumerate(stmts):
        if isinstance(s, ast.GuardS):
            rest = ast.Block(tuple(stmts[i + 1:]), s.span)
            return [*stmts[:i], ast.ScopedGuardS(s.kind, s.lock, rest, s.span)]
    return list(stmts)


def _ends_in_jump(stmts: tuple[ast.Stmt, ...]) -> bool:
    """Does a case body end in break, return, goto, continue or `fallthrough;` on every branch?
    (The syntactic test -Wimplicit-fallthrough makes, which the kernel builds with.)"""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (ast.BreakS, ast.ReturnS, ast.GotoS, ast.ContinueS, ast.FallthroughS)):
        return True
    if isinstance(last, ast.Block):
        return _ends_in_jump(last.stmts)
    if isinstance(last, ast.IfS) and last.else_ is not None:
        return _ends_in_jump((last.then,)) and _ends_in_jump((last.else_,))
    return False


# ====================================================================== from graph to steps


class StepMaker:
    def __init__(self, diags: Diagnostics, sources: dict[str, SourceFile], agent: AgentInfo) -> None:
        self.diags = diags
        self.sources = sources
        self.agent = agent

    # ------------------------------------------------------------------ locks
    def held_sets(self, entry: Node, agent_kind: str) -> dict[int, frozenset[str]] | None:
        held: dict[int, frozenset[str]] = {id(entry): frozenset()}
        work = [entry]
        ok = True
        reported: set[int] = set()
        while work:
            n = work.pop()
            h = held[id(n)]
            if n.kind == "end" and h:
                if id(n) not in reported:
                    reported.add(id(n))
                    self.diags.error("E404", f"`{', '.join(sorted(h))}` still held when `{self.agent.name}` ends", n.span,
                                     "every path must unlock what it locked")
                ok = False
            out = h
            if n.acquire is not None:
                if n.acquire in h and not n.array_lock:
                    self.diags.error("E402", f"`{n.acquire}` is taken again while already held (a self-deadlock)",
                                     n.span)
                    return None  # one lock error per agent: the rest would be echoes
                out = h | {n.acquire}
            if n.release is not None:
                if n.release not in h and not n.array_lock:
                    self.diags.error("E401", f"unlock of `{n.release}`, which is not held here", n.span,
                                     "every path that reaches this unlock must have taken the lock")
                    return None  # one lock error per agent: the rest would be echoes
                out = h - {n.release}
            for s in n.succ:
                if s is None:
                    continue
                if id(s) not in held:
                    held[id(s)] = out
                    work.append(s)
                elif held[id(s)] != out and id(s) not in reported:
                    reported.add(id(s))
                    a, b = sorted(held[id(s)] ^ out)[:1] or ["?"], ""
                    self.diags.error("E403", f"`{a[0]}` is held on one path to here and not on another", s.span,
                                     "kernel code locks and unlocks on every path alike; so must the spec")
                    return None  # one lock error per agent: the rest would be echoes
        return held if ok else None

    # ------------------------------------------------------------------ boundaries
    def boundaries(self, entry: Node, held: dict[int, frozenset[str]]) -> list[Node]:
        reach = _reachable(entry)
        first = _skip_nops(entry)
        marks: set[int] = {id(first)}
        for n in reach:
            if n.kind == "end" or n.forced:
                marks.add(id(n))
            elif not n.atomic and (n.blocking or (n.stmt_start and not held.get(id(n)))):
                marks.add(id(n))
        # Every cycle must cross a boundary, or a step would never end.
        while True:
            target = _cycle_without_boundary(first, marks)
            if target is None:
                break
            if target.atomic:
                self.diags.error("E406", "a jump back inside `atomic` or a device step makes a loop in one step",
                                 target.span)
                return []
            marks.add(id(target))
        return [n for n in reach if id(n) in marks]

    def name_locations(self, bounds: list[Node], all_nodes: list[Node]) -> dict[int, str]:
        names: dict[int, str] = {}
        used: set[str] = set()
        label_of: dict[int, list[str]] = {}
        for n in all_nodes:
            if n.kind == "nop" and n.labels and n.succ and n.succ[0] is not None:
                target = _skip_nops(n)
                label_of.setdefault(id(target), []).extend(n.labels)
                if any(lb.startswith("idle") for lb in n.labels) and target not in bounds:
                    self.diags.error("E408", f"label `{n.labels[0]}` is not at a step boundary, so it cannot mark "
                                             "an idle state", n.span, "put it before an `await` or outside any lock")
        for n in bounds:
            if n.kind == "end":
                base = "end"
            elif id(n) in label_of:
                base = label_of[id(n)][0]
            else:
                base = f"{n.fn}@{n.span.line}"
            name, k = base, 2
            while name in used:
                name, k = f"{base}#{k}", k + 1
            used.add(name)
            names[id(n)] = name
        self.label_of = label_of
        return names

    # ------------------------------------------------------------------ steps
    def emit(self, start: Node, marks: dict[int, int]) -> tuple[ir.Stmt, ...]:
        """The step from `start` to the boundaries (`marks`) it reaches, as an IR body.

        Where the paths of a branch meet again, the code from the meeting node on is
        written once, after the If: the branch's paths that reach a boundary first end there
        with their Goto (compiler/ir.py).  Writing it into each branch instead doubles the
        body at every `if` of a flow, and an inlined kernel function has dozens."""
        self.budget = MAX_STEP_NODES
        self.marks = marks
        self.order = self._topological(start)
        return tuple(self._emit(start, None, True))

    def _emit(self, n: Node | None, stop: Node | None, first: bool) -> list[ir.Stmt]:
        """The code of the paths from `n` until each reaches a boundary (a Goto) or `stop`
        (where it falls through to the code after the enclosing If)."""
        out: list[ir.Stmt] = []
        while True:
            self.budget -= 1
            if self.budget < 0 or n is None:
                raise _TooBig()
            if n is stop:
                return out
            if (not first and id(n) in self.marks) or n.kind == "end":
                out.append(ir.Goto(self.marks[id(n)], n.span))
                return out
            first = False
            if n.kind == "branch":
                assert n.cond is not None
                meet = self._meeting(n, stop)
                until = stop if meet is None else meet
                out.append(ir.If(n.cond, tuple(self._emit(n.succ[0], until, False)),
                                 tuple(self._emit(n.succ[1], until, False)), n.span))
                if meet is None:  # every path of both branches has ended or reached `stop`
                    return out
                n = meet
                continue
            if n.kind == "op":
                out.extend(n.stmts)
            n = n.succ[0]

    def _meeting(self, b: Node, stop: Node | None) -> Node | None:
        """The first node both branches of `b` reach (before `stop`, not through a boundary)
        that every path of theirs on its way to `stop` passes: the code from there on can
        follow the If.  None: there is none, and each branch gets all of its own paths."""
        then, other = self._reach(b.succ[0], stop), self._reach(b.succ[1], stop)
        theirs = {id(m) for m in other}
        common = sorted((n for n in then if id(n) in theirs), key=lambda n: self.order[id(n)])
        for cand in common:  # the nearest first
            if stop is None or not (self._reaches(b.succ[0], stop, cand) or self._reaches(b.succ[1], stop, cand)):
                return cand
        return None

    def _topological(self, start: Node) -> dict[int, int]:
        """Each node of the step -> its place in a topological order (a step is acyclic
        between its boundaries: `boundaries` cut every cycle)."""
        post: list[Node] = []
        seen: set[int] = {id(start)}
        stack: list[tuple[Node, int]] = [(start, 0)]
        while stack:
            x, k = stack.pop()
            nxt = x.succ[k] if k < len(x.succ) else None
            if k < len(x.succ):
                stack.append((x, k + 1))
                if nxt is not None and id(nxt) not in seen and id(nxt) not in self.marks and nxt.kind != "end":
                    seen.add(id(nxt))
                    stack.append((nxt, 0))
            else:
                post.append(x)
        return {id(x): i for i, x in enumerate(reversed(post))}

    def _reach(self, n: Node | None, stop: Node | None) -> list[Node]:
        """The nodes of this step the paths from `n` pass before a boundary or `stop`."""
        seen: set[int] = set()
        order: list[Node] = []
        todo = [n]
        while todo:
            x = todo.pop()
            if x is None or x is stop or id(x) in seen:
                continue
            seen.add(id(x))
            if id(x) in self.marks or x.kind == "end":  # a boundary (the start again: a loop)
                continue
            order.append(x)
            todo.extend(reversed(x.succ))
        return order

    def _reaches(self, n: Node | None, target: Node, avoid: Node) -> bool:
        """Some path from `n` gets to `target` without passing `avoid` or a boundary."""
        seen: set[int] = set()
        todo = [n]
        while todo:
            x = todo.pop()
            if x is None or x is avoid or id(x) in seen:
                continue
            if x is target:
                return True
            seen.add(id(x))
            if id(x) in self.marks or x.kind == "end":  # a boundary (the start again: a loop)
                continue
            todo.extend(x.succ)
        return False

    def text(self, n: Node) -> str:
        src = self.sources.get(n.span.path)
        line = src.line_text(n.span.line).strip() if src is not None else ""
        if "//" in line:
            line = line[: line.index("//")].rstrip()
        return line[:72] or n.kind


class _TooBig(Exception):
    pass


def _reachable(entry: Node) -> list[Node]:
    seen: set[int] = set()
    order: list[Node] = []
    stack = [entry]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        order.append(n)
        stack.extend(s for s in reversed(n.succ) if s is not None)
    return order


def _skip_nops(n: Node) -> Node:
    seen: set[int] = set()
    while n.kind == "nop" and not n.forced and n.succ and n.succ[0] is not None and id(n) not in seen:
        seen.add(id(n))
        n = n.succ[0]
    return n


def _cycle_without_boundary(entry: Node, marks: set[int]) -> Node | None:
    """A node that closes a cycle made only of non-boundary nodes, if any."""
    color: dict[int, int] = {}
    for root in _reachable(entry):
        if id(root) in marks or id(root) in color:
            continue
        color[id(root)] = 1
        stack: list[tuple[Node, int]] = [(root, 0)]
        while stack:
            n, i = stack[-1]
            if i == len(n.succ):
                color[id(n)] = 2
                stack.pop()
                continue
            stack[-1] = (n, i + 1)
            s = n.succ[i]
            if s is None or id(s) in marks:
                continue
            c = color.get(id(s), 0)
            if c == 1:
                return s
            if c == 0:
                color[id(s)] = 1
                stack.append((s, 0))
    return None
