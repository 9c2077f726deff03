"""Phase 3: surface expressions -> typed IR expressions, one function per node kind.

Names resolve, innermost first: quantifier/def/fn parameters, the agent's own
variables (an agent's code may say `eoi_due` for `cpu[c].eoi_due`), top-level
variables and locks, parameters, enum members, builtins, then zero-argument defs.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from compiler import ir, timers
from compiler.input_limits import MAX_EXPR_NODES, tree_size
from compiler.resolve import AgentInfo, Symbols, did_you_mean, lit_int
from compiler.timers import SOFTIRQ, TimerInfo
from dsl import ast
from dsl.diagnostics import Diagnostics
from dsl.source import Span

_BIN = {"&&": "and", "||": "or", "==>": "implies", "==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt",
        ">=": "ge", "+": "add", "-": "sub", "*": "mul"}


class LowerError(Exception):
    """Abandon this expression; a diagnostic has been recorded."""


@dataclass(slots=True)
class Ctx:
    agent: AgentInfo | None = None
    locals: dict[str, ir.Expr] = field(default_factory=dict)
    in_code: bool = False  # inside an agent's step (may use smp_processor_id, not quiescent)
    def_stack: tuple[str, ...] = ()

    def with_locals(self, extra: dict[str, ir.Expr]) -> Ctx:
        return replace(self, locals={**self.locals, **extra})


class ExprLowering:
    def __init__(self, sym: Symbols, diags: Diagnostics, quiescent: Callable[[Span], ir.Expr]) -> None:
        self.sym = sym
        self.diags = diags
        self.quiescent = quiescent
        self._left: int | None = None  # nodes the expression being lowered may still grow by
        self._top: Span | None = None

    def err(self, code: str, msg: str, span: Span, *notes: str) -> LowerError:
        self.diags.error(code, msg, span, *notes)
        return LowerError(msg)

    # ------------------------------------------------------------------ entry points
    def expr(self, e: ast.Expr, ctx: Ctx) -> ir.Expr:
        if self._left is not None:
            self._left -= 1
            if self._left < 0:
                raise self._too_big(ctx.def_stack)
            return self._node(e, ctx)
        # An expression as the spec writes it: defs expand inside one budget, counted as they
        # expand (a chain of defs that each use the last twice doubles at every link) and
        # again as a tree (a def parameter used twice shares its argument, which the backends
        # then walk once per use).
        self._left, self._top = MAX_EXPR_NODES, e.span
        try:
            result = self._node(e, ctx)
        finally:
            self._left = None
        if tree_size(result, MAX_EXPR_NODES) > MAX_EXPR_NODES:
            raise self._too_big(())
        return result

    def _too_big(self, defs: tuple[str, ...]) -> LowerError:
        through = f" (expanding `{defs[0]}`)" if defs else ""
        assert self._top is not None
        return self.err("E213", f"this expression expands to more than {MAX_EXPR_NODES} nodes{through}: that is "
                                "the limit for one expression", self._top,
                        "a def that uses another twice doubles in size: name the shared part with a `var`, or "
                        "write the formula without the repetition")

    def _node(self, e: ast.Expr, ctx: Ctx) -> ir.Expr:
        method = getattr(self, "_" + type(e).__name__, None)
        if method is None:
            raise self.err("E406", f"`{type(e).__name__}` cannot be used here", e.span)
        result: ir.Expr = method(e, ctx)
        return result

    def bool_expr(self, e: ast.Expr, ctx: Ctx, what: str = "a condition") -> ir.Expr:
        r = self.expr(e, ctx)
        if not isinstance(ir.type_of(r), ir.BoolType):
            hint = "compare explicitly, e.g. `x != 0`" if isinstance(ir.type_of(r), ir.IntType) else ""
            raise self.err("E301", f"{what} must be a bool, but this is `{ir.type_of(r)}`", e.span, hint)
        return r

    # ------------------------------------------------------------------ atoms
    def _Num(self, e: ast.Num, ctx: Ctx) -> ir.Expr:
        return ir.Lit(e.value, ir.INT, e.span)

    def _BoolLit(self, e: ast.BoolLit, ctx: Ctx) -> ir.Expr:
        return ir.Lit(e.value, ir.BOOL, e.span)

    def _Name(self, e: ast.Name, ctx: Ctx) -> ir.Expr:
        if e.id in ctx.locals:
            return ctx.locals[e.id]
        agent = ctx.agent
        if agent is not None:
            if agent.index_name == e.id:
                return ir.SelfIndex(e.span)
            if e.id in agent.vars:
                return self._agent_var(agent, agent.vars[e.id], ir.SelfIndex(e.span), e.span)
        if e.id in self.sym.vars:
            return ir.VarRef(self.sym.vars[e.id], e.span)
        if e.id in self.sym.params:
            return ir.ParamRef(self.sym.params[e.id], e.span)
        if e.id in self.sym.members:
            et, i = self.sym.members[e.id]
            return ir.Lit(i, et, e.span)
        if e.id == "quiescent":
            if ctx.in_code:
                raise self.err("E406", "`quiescent` describes the whole system; use it in invariants", e.span)
            return self.quiescent(e.span)
        if e.id in self.sym.defs:
            return self._expand_def(self.sym.defs[e.id], (), ctx, e.span)
        if e.id in self.sym.groups or e.id in self.sym.agents:
            raise self.err("E209", f"`{e.id}` is a block; name one of its fields, like `{e.id}.field`", e.span,
                           _fields_hint(self.sym, e.id))
        if e.id in self.sym.fns:
            raise self.err("E209", f"`{e.id}` is a fn (a statement); only a `def` gives a value", e.span)
        if e.id in self.sym.types:
            raise self.err("E209", f"`{e.id}` is a type, not a value", e.span)
        names = list(self.sym.known_names()) + list(ctx.locals)
        if agent is not None:
            names += list(agent.vars)
        raise self.err("E201", f"undefined name `{e.id}`", e.span, did_you_mean(e.id, names))

    def _agent_var(self, agent: AgentInfo, var: ir.Var, index: ir.Expr, span: Span) -> ir.Expr:
        ref = ir.VarRef(var, span)
        return ref if agent.domain is None else ir.Index(ref, index, span)

    # ------------------------------------------------------------------ fields and indexing
    def _Field(self, e: ast.Field, ctx: Ctx) -> ir.Expr:
        base = e.base
        if isinstance(base, ast.Name) and base.id in self.sym.groups and base.id not in ctx.locals:
            group = self.sym.groups[base.id]
            if group.index is not None:
                raise self.err("E301", f"`{base.id}` is indexed by `{group.index}`: write `{base.id}[i].{e.name}`",
                               e.span)
            return ir.VarRef(self._member(group.members, base.id, e), e.span)
        if isinstance(base, ast.Name) and base.id in self.sym.agents and base.id not in ctx.locals:
            info = self.sym.agents[base.id]
            if info.domain is not None:
                raise self.err("E301", f"`{base.id}` has one instance per CPU: write `{base.id}[i].{e.name}`", e.span)
            return ir.VarRef(self._member(info.vars, base.id, e), e.span)
        if isinstance(base, ast.IndexE) and isinstance(base.base, ast.Name):
            owner = base.base.id
            if owner in self.sym.groups and self.sym.groups[owner].index is not None:
                group = self.sym.groups[owner]
                var = self._member(group.members, owner, e)
                assert group.index is not None
                idx = self.index_value(base.index, group.index, ctx)
                return ir.Index(ir.VarRef(var, base.base.span), idx, e.span)
            if owner in self.sym.agents and self.sym.agents[owner].domain is not None:
                info = self.sym.agents[owner]
                var = self._member(info.vars, owner, e)
                assert info.domain is not None
                idx = self.index_value(base.index, info.domain, ctx)
                return ir.Index(ir.VarRef(var, base.base.span), idx, e.span)
        raise self.err("E209", f"`.{e.name}` needs a struct, controller, irqdesc, msi, device, thread or `cpu[i]` "
                               "on its left", e.span)

    def _member(self, members: dict[str, ir.Var], owner: str, e: ast.Field) -> ir.Var:
        if e.name in members:
            return members[e.name]
        raise self.err("E201", f"`{owner}` has no field `{e.name}`", e.name_span,
                       did_you_mean(e.name, members) or f"its fields: {', '.join(sorted(members)) or 'none'}")

    def _IndexE(self, e: ast.IndexE, ctx: Ctx) -> ir.Expr:
        if isinstance(e.base, ast.Name) and (e.base.id in self.sym.groups or e.base.id in self.sym.agents):
            raise self.err("E209", f"`{e.base.id}[...]` names a block instance; add a field: `{e.base.id}[i].field`",
                           e.span)
        base = self.expr(e.base, ctx)
        bt = ir.type_of(base)
        if not isinstance(bt, ir.ArrayType):
            raise self.err("E301", f"`{ir.show(base)}` is not an array (it is `{bt}`)", e.base.span)
        return ir.Index(base, self.index_value(e.index, bt.index, ctx), e.span)

    def index_value(self, e: ast.Expr, index: ir.IntType | ir.EnumType, ctx: Ctx) -> ir.Expr:
        """An index of the right kind.  Whether it is in range is `in_range_checks`' business."""
        v = self.expr(e, ctx)
        vt = ir.type_of(v)
        if isinstance(index, ir.EnumType):
            if vt != index:
                raise self.err("E301", f"the index must be a `{index.name}`, not `{vt}`", e.span)
        elif not isinstance(vt, ir.IntType):
            raise self.err("E301", f"the index must be an integer in `{index}`, not `{vt}`", e.span)
        elif isinstance(v, ir.Lit):
            self._const_in(v, index, e.span)
        return v

    def _const_in(self, v: ir.Expr, t: ir.IntType, span: Span) -> None:
        try:
            val = ir.eval_const(v, self.sym.param_values)
            lo, hi = ir.eval_const(t.lo, self.sym.param_values), ir.eval_const(t.hi, self.sym.param_values)
        except (ValueError, KeyError):
            return
        if not lo <= val <= hi:
            params = ", ".join(f"{k}={x}" for k, x in sorted(self.sym.param_values.items()))
            raise self.err("E302", f"{val} is out of range for `{t}` ({lo}..{hi})", span,
                           f"at parameters {params}" if params else "")

    # ------------------------------------------------------------------ operators
    # ------------------------------------------------------------------ bit flags
    # A flag word is a bool array indexed by an enum of its bit names (`var istate: bool[irqs];`),
    # so `istate & IRQS_PENDING` is `istate[IRQS_PENDING]`: no integer bit arithmetic is needed.
    def flags_word(self, e: ast.Expr, ctx: Ctx) -> tuple[ir.Expr, ir.EnumType] | None:
        w = self.expr(e, ctx)
        t = ir.type_of(w)
        if isinstance(t, ir.ArrayType) and isinstance(t.index, ir.EnumType) and isinstance(t.elem, ir.BoolType):
            return w, t.index
        return None

    def flag_bits(self, e: ast.Expr, enum: ir.EnumType) -> set[int]:
        """`A`, `A | B | ...`: the members of `enum` named."""
        if isinstance(e, ast.Name) and e.id in self.sym.members and self.sym.members[e.id][0] == enum:
            return {self.sym.members[e.id][1]}
        if isinstance(e, ast.Binop) and e.op == "|":
            return self.flag_bits(e.left, enum) | self.flag_bits(e.right, enum)
        raise self.err("E301", f"expected bits of `{enum.name}` joined with `|`", e.span,
                       f"its bits: {', '.join(enum.members)}")

    def _flags_test(self, e: ast.Binop, ctx: Ctx) -> ir.Expr:
        word = self.flags_word(e.left, ctx)
        if word is None:
            raise self.err("E301", "`&` tests bits of a flag word: a bool array indexed by an enum of bit names",
                           e.left.span, "declare it as `var istate: bool[irqs];` with `type irqs = enum { ... };`; "
                                        "for bools, `&&` is and")
        w, enum = word
        out: ir.Expr | None = None
        for bit in sorted(self.flag_bits(e.right, enum)):
            test = ir.Index(w, ir.Lit(bit, enum, e.right.span), e.span)
            out = test if out is None else ir.Binary("or", out, test, e.span)
        assert out is not None
        return out

    def _Unop(self, e: ast.Unop, ctx: Ctx) -> ir.Expr:
        if e.op == "~":
            raise self.err("E301", "`~` clears flag bits only as `word &= ~BITS;`", e.span)
        if e.op == "!":
            return ir.Unary("not", self.bool_expr(e.arg, ctx, "the operand of `!`"), e.span)
        if e.op == "-":
            a = self.expr(e.arg, ctx)
            if not isinstance(ir.type_of(a), ir.IntType):
                raise self.err("E301", "the operand of unary `-` must be an integer", e.arg.span)
            return ir.Unary("neg", a, e.span)
        return self.expr(e.arg, ctx)  # `&x` is x

    def _Binop(self, e: ast.Binop, ctx: Ctx) -> ir.Expr:
        if e.op == "&":
            return self._flags_test(e, ctx)
        if e.op == "|":
            raise self.err("E301", "`|` joins flag bits: use it on the right of `&`, `|=`, `&=` or `=`", e.span,
                           "for bools, `||` is or")
        op = _BIN[e.op]
        if op in ("and", "or", "implies"):
            return ir.Binary(op, self.bool_expr(e.left, ctx, f"the left of `{e.op}`"),
                             self.bool_expr(e.right, ctx, f"the right of `{e.op}`"), e.span)
        a, b = self.expr(e.left, ctx), self.expr(e.right, ctx)
        ta, tb = ir.type_of(a), ir.type_of(b)
        if op in ("add", "sub", "mul", "lt", "le", "gt", "ge"):
            for side, t, span in ((a, ta, e.left.span), (b, tb, e.right.span)):
                if not isinstance(t, ir.IntType):
                    raise self.err("E301", f"`{e.op}` needs integers, but this is `{t}`", span)
            return ir.Binary(op, a, b, e.span)
        if not _comparable(ta, tb):
            raise self.err("E301", f"cannot compare `{ta}` with `{tb}`", e.span,
                           "bools are `true`/`false`, not 0/1" if isinstance(ta, ir.BoolType) or isinstance(tb, ir.BoolType) else "")
        return ir.Binary(op, a, b, e.span)

    def _Cond(self, e: ast.Cond, ctx: Ctx) -> ir.Expr:
        c = self.bool_expr(e.cond, ctx)
        a, b = self.expr(e.then, ctx), self.expr(e.else_, ctx)
        if not _comparable(_kind(a), _kind(b)):
            raise self.err("E301", f"the two arms of `?:` differ: `{ir.type_of(a)}` and `{ir.type_of(b)}`", e.span)
        return ir.Ite(c, a, b, e.span)

    def _Quantifier(self, e: ast.Quantifier, ctx: Ctx) -> ir.Expr:
        t = self._scalar(e.type)
        b = ir.Bound(e.var, t)
        body = self.bool_expr(e.body, ctx.with_locals({e.var: ir.BoundRef(b, e.span)}), "a quantified formula")
        return ir.Quant(e.kind, b, body, e.span)

    def _AnyChoice(self, e: ast.AnyChoice, ctx: Ctx) -> ir.Expr:
        raise self.err("E406", "`any` chooses a value for an assignment: `x = any c: cpu where ...;`", e.span)

    def _scalar(self, t: ast.TypeExpr) -> ir.ScalarType:
        from compiler.resolve import Resolver

        r = Resolver((), {}, self.diags)
        r.sym = self.sym
        st = r.scalar_type(t)
        if st is None:
            raise LowerError("bad type")
        return st

    # ------------------------------------------------------------------ calls
    def _Call(self, e: ast.Call, ctx: Ctx) -> ir.Expr:
        if e.name == "held":
            if len(e.args) != 1:
                raise self.err("E210", "`held(lock)` takes one lock", e.span)
            lock = self.lock_ref(e.args[0], ctx)
            return ir.Binary("ne", lock, lit_int(-1), e.span)
        if e.name == "smp_processor_id":
            if ctx.agent is None or ctx.agent.domain is None:
                raise self.err("E406", "`smp_processor_id()` is only meaningful in code run by the `cpu` block",
                               e.span)
            return ir.SelfIndex(e.span)
        if e.name == "timer_pending":
            if len(e.args) != 1:
                raise self.err("E210", "`timer_pending(&t)` takes one timer", e.span)
            t, owner = self.timer_ref(e.args[0], ctx)
            return timers.pending(t, owner, e.span)
        if e.name == SOFTIRQ:
            raise self.err("E209", f"`{SOFTIRQ}()` is a statement: it runs a timer callback, it has no value",
                           e.span)
        if e.name == "cpu_online":
            return self._cpu_online(e, ctx)
        if e.name in ("likely", "unlikely"):  # branch hints: the value is the condition's
            if len(e.args) != 1:
                raise self.err("E210", f"`{e.name}(cond)` takes one condition", e.span)
            return self.bool_expr(e.args[0], ctx, f"the condition in `{e.name}()`")
        if e.name in self.sym.defs:
            args = tuple(self.expr(a, ctx) for a in e.args)
            return self._expand_def(self.sym.defs[e.name], args, ctx, e.span, e.args)
        if e.name in self.sym.fns and self.sym.fns[e.name].result is not None:
            # Its body is steps of its own: inside a larger expression, which reads would
            # happen before it and which after would be anyone's guess.
            raise self.err("E406", f"a call of `{e.name}` (a fn with a result) can only be a whole condition "
                                   f"(`if ({e.name}())`, `if (!{e.name}())`, `while`), the right of `=`, "
                                   "or what `return` returns", e.span,
                           f"store it first: `ok = {e.name}(...);`, then use `ok`")
        if e.name in self.sym.fns:
            raise self.err("E209", f"`{e.name}` is a fn: call it as a statement; a value comes from a `def`", e.span)
        raise self.err("E201", f"undefined function `{e.name}`", e.span,
                       did_you_mean(e.name, list(self.sym.defs) + ["held", "smp_processor_id"]))

    def _expand_def(self, d: ast.DefDecl, args: tuple[ir.Expr, ...], ctx: Ctx, span: Span,
                    arg_nodes: tuple[ast.Expr, ...] = ()) -> ir.Expr:
        if d.name in ctx.def_stack:
            raise self.err("E208", f"`{d.name}` is defined in terms of itself: " + " -> ".join(ctx.def_stack + (d.name,)),
                           span)
        if len(args) != len(d.params):
            raise self.err("E210", f"`{d.name}` takes {len(d.params)} argument(s), given {len(args)}", span)
        bound: dict[str, ir.Expr] = {}
        spans = [n.span for n in arg_nodes] or [span] * len(args)
        for p, a, aspan in zip(d.params, args, spans):
            pt = self._scalar(p.type)
            if not _comparable(pt, ir.type_of(a)):
                raise self.err("E301", f"argument `{p.name}` of `{d.name}` is a `{pt}`, given `{ir.type_of(a)}`", aspan)
            if isinstance(pt, ir.IntType):  # a constant argument must fit; any other keeps its own type
                self._const_in(a, pt, aspan)
            bound[p.name] = a
        inner = Ctx(ctx.agent, {**ctx.locals, **bound}, ctx.in_code, ctx.def_stack + (d.name,))
        return self.expr(d.body, inner)

    def timer_ref(self, e: ast.Expr, ctx: Ctx) -> tuple[TimerInfo, ir.Expr]:
        """A timer object (`T`, `&T`: this CPU's; `&cpu[k].T`: CPU k's): its timer and owner."""
        r = self.expr(e, ctx)
        if isinstance(r, ir.Index) and isinstance(r.base, ir.VarRef):
            t = self.sym.timers.get(r.base.var.name.removeprefix("cpu."))
            if t is not None and t.var is r.base.var:
                return t, r.index
        raise self.err("E301", "expected a timer", e.span, "declare one in the `cpu` block: `timer t = fn;`")

    def _cpu_online(self, e: ast.Call, ctx: Ctx) -> ir.Expr:
        """`cpu_online(i)`: CPU i's `online` flag, or true when the cpu block declares none."""
        cpu = self.sym.agents.get("cpu")
        if len(e.args) != 1 or cpu is None or cpu.domain is None:
            raise self.err("E210", "`cpu_online(i)` takes one CPU, in a spec with a `cpu` block", e.span)
        i = self.index_value(e.args[0], cpu.domain, ctx)
        online = cpu.vars.get("online")
        return ir.Lit(True, ir.BOOL, e.span) if online is None else ir.Index(ir.VarRef(online, e.span), i, e.span)

    def lock_ref(self, e: ast.Expr, ctx: Ctx) -> ir.Expr:
        r = self.expr(e, ctx)
        base = r
        while isinstance(base, ir.Index):
            base = base.base
        if not (isinstance(base, ir.VarRef) and base.var.kind == "lock") or isinstance(ir.type_of(r), ir.ArrayType):
            raise self.err("E301", "expected a lock", e.span, "declare one with `lock name;` (in a struct or irqdesc too)")
        return r


def _comparable(a: ir.Type, b: ir.Type) -> bool:
    if isinstance(a, ir.IntType) and isinstance(b, ir.IntType):
        return True
    return a == b and not isinstance(a, ir.ArrayType)


def _kind(e: ir.Expr) -> ir.Type:
    """A type comparable exactly when `e`'s is: the first arm's, for a conditional (its arms
    were checked alike), so a chain of `?:` is not typed once per link."""
    while isinstance(e, ir.Ite):
        e = e.then
    return ir.type_of(e)


def _fields_hint(sym: Symbols, name: str) -> str:
    members = sym.groups[name].members if name in sym.groups else sym.agents[name].vars
    return f"its fields: {', '.join(sorted(members))}" if members else ""
