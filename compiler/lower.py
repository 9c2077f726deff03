"""Phase 5: symbols + agents' graphs -> the `ir.Model` both backends consume."""
from __future__ import annotations

import operator
from typing import Any, Callable, Iterator

from compiler import cfg, ir, timers
from compiler.cfg import CfgBuilder, Node, StepMaker, _indices, _skip_nops, _TooBig, fits
from compiler.compose import Composed
from compiler.exprs import Ctx, ExprLowering, LowerError
from compiler.input_limits import model_fits, state_fits
from compiler.resolve import AgentInfo, Resolver, Symbols, did_you_mean, lit_int
from dsl import ast
from dsl.diagnostics import Diagnostics, Label
from dsl.source import Span

VERDICTS = ("violated", "holds")
COVER_VERDICTS = ("covered", "unreachable")
_PARAM_OPS: dict[str, Callable[[Any, Any], int | bool]] = {
    "&&": lambda a, b: a and b, "||": lambda a, b: a or b, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "+": operator.add, "-": operator.sub, "*": operator.mul}


class Lowerer:
    def __init__(self, composed: Composed, overrides: dict[str, int], diags: Diagnostics) -> None:
        self.c = composed
        self.overrides = overrides
        self.diags = diags
        self.agents: list[ir.Agent] = []
        self.asserts: dict[str, Span] = {}
        self._quiescent: ir.Expr | None = None

    def run(self) -> ir.Model | None:
        sym = Resolver(self.c.items, self.overrides, self.diags).run()
        self.sym = sym
        self._unknown_overrides()
        if self.diags.has_errors or not state_fits(sym, self.diags):
            return None
        self.lx = ExprLowering(sym, self.diags, self.quiescent)
        for info in sym.agents.values():
            agent = self.agent(info)
            if agent is not None:
                self.agents.append(agent)
        if self.diags.has_errors:
            return None
        props = self.properties()
        initially = tuple(e for e in (self.state_pred(d.expr, "an `initially` condition")
                                      for d in self.c.items if isinstance(d, ast.InitiallyDecl)) if e is not None)
        if self.diags.has_errors or props is None:
            return None
        spec = self.c.spec
        model = ir.Model(
            name=spec.name, title=spec.title, path=spec.path, source_hash=self.c.source_hash,
            params=tuple(sym.params.values()), enums=tuple(sym.enums),
            vars=tuple(sym.all_vars) + tuple(sym.extra_vars), agents=tuple(self.agents),
            initially=initially, properties=props, span=spec.span,
        )
        return model if model_fits(model, sym.param_values, self.diags) else None

    def _unknown_overrides(self) -> None:
        for name in self.overrides:
            if name not in self.sym.params:
                known = ", ".join(sorted(self.sym.params)) or "none"
                self.diags.error("E211", f"`--param {name}`: the spec has no parameter `{name}` (it has: {known})",
                                 None, did_you_mean(name, self.sym.params))

    # ------------------------------------------------------------------ agents
    def agent(self, info: AgentInfo) -> ir.Agent | None:
        cb = CfgBuilder(self.sym, self.lx, self.diags, info)
        sm = StepMaker(self.diags, self.diags.sources, info)
        try:
            if info.kind == "device":
                result = self._device(info, cb, sm)
            else:
                result = self._program(info, cb, sm)
        except _TooBig:
            self.diags.error("E407", f"a step of `{info.name}` is more than {cfg.MAX_STEP_NODES} statements long",
                             info.decl.span, "split long critical sections with `yield`")
            return None
        for name, span in cb.asserts.items():
            self.asserts.setdefault(name, span)
        return result

    def _program(self, info: AgentInfo, cb: CfgBuilder, sm: StepMaker) -> ir.Agent | None:
        entry = cb.body(info.decl.body, Ctx(info, {}, True), False, info.name)
        if self.diags.has_errors:
            return None
        held = sm.held_sets(entry, info.kind)
        if held is None:
            return None
        bounds = sm.boundaries(entry, held)
        if not bounds:
            return None
        first = _skip_nops(entry)
        bounds.sort(key=lambda n: (n is not first, n.kind == "end", n.span.start))
        names = sm.name_locations(bounds, cb.nodes)
        marks = {id(n): i for i, n in enumerate(bounds)}
        locations: list[ir.Location] = []
        steps: list[ir.Step] = []
        for i, n in enumerate(bounds):
            labels = sm.label_of.get(id(n), [])
            idle = any(lb.startswith("idle") for lb in labels)
            locations.append(ir.Location(i, names[id(n)], n.span, idle, n.kind == "end"))
            if n.kind != "end":
                online = self._online(info.name, ir.SelfIndex(n.span))
                guard = () if online is None else (ir.Assume(online, "when", n.span),)  # offline: no step
                steps.append(ir.Step(names[id(n)], i, (*guard, *sm.emit(n, marks)), sm.text(n), n.span))
        return ir.Agent(info.name, info.kind, info.domain, tuple(locations), 0, tuple(steps), info.decl.span)

    def _device(self, info: AgentInfo, cb: CfgBuilder, sm: StepMaker) -> ir.Agent | None:
        steps: list[ir.Step] = []
        ctx = Ctx(info, {}, True)
        seen: dict[str, Span] = {}
        for sd in info.decl.steps:
            if sd.name in seen:
                self.diags.error("E202", f"`{info.name}` has two steps named `{sd.name}`", sd.span,
                                 labels=[Label(seen[sd.name], "the first")])
                continue
            seen[sd.name] = sd.span
            entry = cb.body(sd.body.stmts, ctx, True, info.name)
            if sd.guard is not None:
                try:
                    guard = self.lx.bool_expr(sd.guard, ctx, "the `when` of a step")
                except LowerError:
                    continue
                pre = (*cb.range_checks(guard, ctx, sd.guard.span), ir.Assume(guard, "when", sd.guard.span))
                node = Node("op", sd.span, info.name, stmts=pre, succ=[entry], atomic=True)
                cb.nodes.append(node)
                entry = node
            held = sm.held_sets(entry, "device")
            if held is None:
                continue
            bounds = sm.boundaries(entry, held)
            if not bounds:
                continue
            marks = {id(n): 0 for n in bounds if n.kind == "end"}
            steps.append(ir.Step(sd.name, 0, sm.emit(entry, marks), sm.text(entry), sd.span))
        loc = ir.Location(0, "ready", info.decl.span, False, False)
        return ir.Agent(info.name, "device", None, (loc,), 0, tuple(steps), info.decl.span)

    # ------------------------------------------------------------------ properties
    def properties(self) -> tuple[ir.Property, ...] | None:
        props: dict[str, ir.Property] = {}
        for item in self.c.items:
            if isinstance(item, ast.InvariantDecl):
                expr = self.state_pred(item.expr, "an invariant")
                if expr is not None:
                    props[item.name] = ir.Property(item.name, "invariant", expr, None, item.span)
            elif isinstance(item, ast.CoverDecl):
                expr = self.state_pred(item.expr, "a cover")
                if expr is not None:  # a cover says the state is reachable unless the spec says otherwise
                    props[item.name] = ir.Property(item.name, "cover", expr, "covered", item.span)
        for name, span in self.asserts.items():
            if name in props:
                kind = props[name].kind
                self.diags.error("E202", f"`{name}` names both {'a' if kind == 'cover' else 'an'} {kind} and an assert",
                                 span, labels=[Label(props[name].span, f"the {kind}")])
                continue
            props[name] = ir.Property(name, "check", None, None, span)
        props["deadlock"] = ir.Property("deadlock", "deadlock", self.deadlock_free(), None, self.c.spec.span)
        used = {c.prop for c in self._all_checks()}
        for builtin in ("in_range", "lock_discipline"):
            if builtin in used:
                props[builtin] = ir.Property(builtin, "check", None, None, self.c.spec.span)
        for item in self.c.items:
            if isinstance(item, ast.ExpectDecl):
                self._expect(item, props)
        return tuple(props.values())

    def _expect(self, item: ast.ExpectDecl, props: dict[str, ir.Property]) -> None:
        if item.name not in props:
            self.diags.error("E201", f"`expect {item.name}`: no property `{item.name}`", item.span,
                             did_you_mean(item.name, props))
            return
        p = props[item.name]
        allowed = COVER_VERDICTS if p.kind == "cover" else VERDICTS
        chosen: str | None = None
        for case in item.cases:  # every case is checked, whichever the parameters pick
            if case.verdict not in allowed:
                self.diags.error("E301", f"expected verdict `{allowed[0]}` or `{allowed[1]}`, not `{case.verdict}`",
                                 case.span, "a cover is expected `covered` or `unreachable`; any other property "
                                            "`violated` or `holds`")
                return
            holds = True if case.when is None else self._param_condition(case.when)
            if holds is None:
                return
            if holds and chosen is None:
                chosen = case.verdict
        # No case for these parameters: the default expectation (holds; covered for a cover).
        props[item.name] = ir.Property(p.name, p.kind, p.expr, chosen, p.span)

    def _param_condition(self, e: ast.Expr) -> bool | None:
        """A `when` condition, at the parameters in force: comparisons, `&&`, `||` and `!` of
        numbers, parameters and `+ - *` of those."""
        value = self._param_value(e)
        if isinstance(value, bool):
            return value
        if value is not None:
            self.diags.error("E301", "a `when` condition is a comparison of parameters, not a number", e.span,
                             "for example `when CPUS >= 3`")
        return None

    def _param_value(self, e: ast.Expr) -> int | bool | None:
        if isinstance(e, ast.Num):
            return e.value
        if isinstance(e, ast.BoolLit):
            return e.value
        if isinstance(e, ast.Name) and e.id in self.sym.param_values:
            return self.sym.param_values[e.id]
        if isinstance(e, ast.Unop) and e.op == "!":
            arg = self._param_value(e.arg)
            return None if arg is None else not arg
        if isinstance(e, ast.Binop) and e.op in _PARAM_OPS:
            a, b = self._param_value(e.left), self._param_value(e.right)
            if a is None or b is None:
                return None
            kinds = {isinstance(a, bool), isinstance(b, bool)}
            wanted = {True} if e.op in ("&&", "||") else kinds if e.op in ("==", "!=") else {False}
            if len(kinds) > 1 or kinds != wanted:
                self.diags.error("E301", f"`{e.op}` does not apply to these operands in a `when` condition", e.span)
                return None
            return _PARAM_OPS[e.op](a, b)
        self.diags.error("E301", "a `when` condition reads parameters only (numbers, parameters, + - *, "
                                 "comparisons, && || !)", e.span,
                         did_you_mean(e.id, self.sym.param_values) if isinstance(e, ast.Name) else "")
        return None

    def _all_checks(self) -> Iterator[ir.Check]:
        def walk(stmts: tuple[ir.Stmt, ...]) -> Iterator[ir.Check]:
            for s in stmts:
                if isinstance(s, ir.Check):
                    yield s
                elif isinstance(s, ir.If):
                    yield from walk(s.then)
                    yield from walk(s.else_)

        for a in self.agents:
            for st in a.steps:
                yield from walk(st.body)

    def state_pred(self, e: ast.Expr, what: str) -> ir.Expr | None:
        try:
            expr = self.lx.bool_expr(e, Ctx(None, {}, False), what)
        except LowerError:
            return None
        for _guard, idx, t, _quantified in _indices(expr, None):
            if fits(idx, t, None) or isinstance(idx, ir.Lit):
                continue  # a literal was checked against the parameters when it was lowered
            self.diags.error("E301", f"the index `{ir.show(idx)}` may be out of range of `{t}`", e.span,
                             f"{what} is a formula, not code, so it cannot check at run time; index with a "
                             f"variable of type `{t}`")
            return None
        return expr

    # ------------------------------------------------------------------ built-in predicates
    def quiescent(self, span: Span) -> ir.Expr:
        if self._quiescent is not None:
            return self._quiescent
        cpu = next((a for a in self.agents if a.kind == "cpu"), None)
        idle = frozenset(loc.index for loc in cpu.locations if loc.idle) if cpu is not None else frozenset()
        if cpu is None or not idle:
            self.diags.error("E408", "`quiescent` needs a `cpu` block with an `idle:` label where a CPU waits for "
                                     "an interrupt", span, "write `idle:` before the `await` that acknowledges one")
            raise LowerError("quiescent")
        assert cpu.domain is not None
        result: ir.Expr = ir.Lit(True, ir.BOOL)
        # Every CPU and every timer waits (a timer at its `idle`: not armed), or is offline.
        for a in [cpu, *(t for t in self.agents if (info := self.sym.agents.get(t.name)) and info.host)]:
            b = ir.Bound("i", cpu.domain)
            at = frozenset(loc.index for loc in a.locations if loc.idle)
            waits: ir.Expr = ir.Binary("and", ir.AtLoc(a.name, ir.BoundRef(b), at),
                                       ir.Unary("not", ir.Enabled(a.name, ir.BoundRef(b))))
            online = self._online(a.name, ir.BoundRef(b))
            if online is not None:
                waits = ir.Binary("or", waits, ir.Unary("not", online))
            each = ir.Quant("forall", b, waits, span)
            result = each if result == ir.Lit(True, ir.BOOL) else ir.Binary("and", result, each, span)
        if self.sym.softirq:  # no timer agents: no timer may be queued on an online CPU
            flag = self.sym.agents["cpu"].vars.get("online")
            online_ref = ir.VarRef(flag) if flag is not None and self._online("cpu", ir.SelfIndex()) else None
            for t in self.sym.timers.values():
                result = ir.Binary("and", result, timers.all_quiet(t, online_ref, span), span)
        for v in self.sym.all_vars:
            if v.kind == "lock":
                result = ir.Binary("and", _lock_free(v), result, span)
        self._quiescent = result
        return result

    def _online(self, agent: str, cpu: ir.Expr) -> ir.Expr | None:
        """`cpu[i].online`, for the cpu block and its timers when the cpu block declares
        `var online: bool`: a CPU that is offline takes no step, nor do its timers."""
        info = self.sym.agents.get(agent)
        host = info if info is not None and info.kind == "cpu" else info.host if info is not None else None
        online = host.vars.get("online") if host is not None else None
        if online is None or not (isinstance(online.type, ir.ArrayType) and isinstance(online.type.elem, ir.BoolType)):
            return None
        return ir.Index(ir.VarRef(online), cpu)

    def deadlock_free(self) -> ir.Expr:
        """Some step is enabled, or every agent is at rest (idle, finished, a device, or an
        offline CPU's)."""
        some: ir.Expr = ir.Lit(False, ir.BOOL)
        rest: ir.Expr = ir.Lit(True, ir.BOOL)
        for a in self.agents:
            rest_locs = frozenset(loc.index for loc in a.locations if loc.idle or loc.terminal)
            if a.domain is None:
                en: ir.Expr = ir.Enabled(a.name, None)
                at: ir.Expr = ir.AtLoc(a.name, None, rest_locs)
            else:
                b = ir.Bound("i", a.domain)
                en = ir.Quant("exists", b, ir.Enabled(a.name, ir.BoundRef(b)))
                bb = ir.Bound("i", a.domain)
                at_i: ir.Expr = ir.AtLoc(a.name, ir.BoundRef(bb), rest_locs)
                online = self._online(a.name, ir.BoundRef(bb))
                if online is not None:
                    at_i = ir.Binary("or", at_i, ir.Unary("not", online))
                at = ir.Quant("forall", bb, at_i)
            some = en if some == ir.Lit(False, ir.BOOL) else ir.Binary("or", some, en)
            if a.kind != "device":
                rest = at if rest == ir.Lit(True, ir.BOOL) else ir.Binary("and", rest, at)
        return ir.Binary("or", some, rest)


def _lock_free(v: ir.Var) -> ir.Expr:
    ref: ir.Expr = ir.VarRef(v)
    bounds: list[ir.Bound] = []
    t: ir.Type = v.type
    while isinstance(t, ir.ArrayType):
        b = ir.Bound(f"k{len(bounds)}", t.index)
        bounds.append(b)
        ref = ir.Index(ref, ir.BoundRef(b))
        t = t.elem
    body: ir.Expr = ir.Binary("eq", ref, lit_int(-1))
    for b in reversed(bounds):
        body = ir.Quant("forall", b, body)
    return body


def lower(composed: Composed, overrides: dict[str, int], diags: Diagnostics) -> ir.Model | None:
    return Lowerer(composed, overrides, diags).run()


__all__ = ["lower", "Symbols"]
