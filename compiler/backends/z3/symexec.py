"""Expressions and step bodies of the IR as Z3 terms over one state.

`Evaluator.expr` turns an IR expression into a Z3 term over an environment (one
term per slot).  `Evaluator.run_step` symbolically executes a step body: both
branches of every `If` run on copies of the environment and are merged with
`ite`, so a body with n nested ifs costs O(n) terms instead of 2^n paths.

What a run yields (`StepEffect`), following compiler/ir.py's semantics:
* `ok`    the step has a successor: every `Assume` and every `in_range` check
          on the path holds;
* `aborts` per property, the condition under which the path reaches a failing
          `Check` of that property (every Assume before it holding).  A failed
          check of P does not stop the path for the other properties; a failed
          `in_range` check does (there is no successor);
* `env`   the final value of every slot on paths that have a successor.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Sequence

import z3

from compiler import ir
from compiler.backends.z3.layout import Instance, Layout, VarShape
from compiler.backends.z3.terms import (FALSE, TRUE, Ints, is_false, is_true, mk_and, mk_arith, mk_cmp, mk_eq, mk_implies,
                                        mk_in, mk_ite, mk_not, mk_or, num)

Env = Sequence[z3.ExprRef]  # a list while a step runs; a tuple for a frozen state
ChoiceFactory = Callable[[ir.Choice], z3.ExprRef]


class EncodingError(Exception):
    """An IR node the Z3 backend does not handle: a bug in irqc, never bad input."""


@dataclass(slots=True)
class Scope:
    """What an expression can see besides the state."""

    env: Env
    inst: Instance | None = None  # the executing instance (SelfIndex), None in properties
    choices: dict[ir.Choice, z3.ExprRef] = field(default_factory=dict)
    bounds: dict[ir.Bound, int] = field(default_factory=dict)


@dataclass(slots=True)
class StepEffect:
    ok: list[z3.BoolRef] = field(default_factory=list)
    aborts: dict[str, list[z3.BoolRef]] = field(default_factory=dict)
    env: Env = field(default_factory=list)


@dataclass(slots=True)
class PathState:
    scope: Scope
    guard: z3.BoolRef  # the branch conditions leading here
    alive: z3.BoolRef  # every Assume and in_range check so far held (relative to guard)
    effect: StepEffect
    fresh: ChoiceFactory
    ended: z3.BoolRef = FALSE  # the path has passed its Goto: what follows the If it was in does not apply


_MAX_ENABLED_NESTING = 4  # enabled() inside a step body inside enabled() ...: a cycle is a spec bug


class Evaluator:
    def __init__(self, layout: Layout, ints: Ints) -> None:
        self.layout = layout
        self.ints = ints
        self.params = layout.params
        self._nesting = 0
        self._enabled_cache: dict[tuple[int, int], tuple[Env, z3.BoolRef]] = {}
        # (instance, step) -> (the state it ran in, its effect, its choices' placeholders): a
        # step the transition system already ran over a state, with its choices left open
        self._step_runs: dict[tuple[int, int], tuple[Env, StepEffect, dict[ir.Choice, z3.ExprRef]]] = {}
        self._exprs: dict[type, Callable[..., z3.ExprRef]] = {
            ir.Lit: self._lit, ir.ParamRef: self._param, ir.VarRef: self._varref, ir.Index: self._index,
            ir.SelfIndex: self._self, ir.ChoiceRef: self._choice, ir.BoundRef: self._bound, ir.Unary: self._unary,
            ir.Binary: self._binary, ir.Ite: self._ite, ir.Quant: self._quant, ir.AtLoc: self._atloc,
            ir.Enabled: self._enabled,
        }
        self._stmts: dict[type, Callable[..., None]] = {
            ir.Assign: self._assign, ir.If: self._if, ir.Assume: self._assume, ir.Check: self._check,
            ir.Choose: self._choose, ir.Goto: self._goto,
        }

    # ----------------------------------------------------------------- expressions

    def expr(self, e: ir.Expr, scope: Scope) -> z3.ExprRef:
        fn = self._exprs.get(type(e))
        if fn is None:
            raise EncodingError(f"z3 backend: no encoding for expression {type(e).__name__}: {e!r}")
        return fn(e, scope)

    def boolean(self, e: ir.Expr, scope: Scope) -> z3.BoolRef:
        t = self.expr(e, scope)
        if not z3.is_bool(t):
            raise EncodingError(f"z3 backend: expected a boolean, got {ir.show(e)}")
        return t

    def _lit(self, e: ir.Lit, scope: Scope) -> z3.ExprRef:
        return z3.BoolVal(bool(e.value)) if isinstance(e.type, ir.BoolType) else self.ints.val(int(e.value))

    def _param(self, e: ir.ParamRef, scope: Scope) -> z3.ExprRef:
        return self.ints.val(self.params[e.param.name])

    def _varref(self, e: ir.VarRef, scope: Scope) -> z3.ExprRef:
        shape = self.layout.shapes[e.var]
        if shape.dims:
            raise EncodingError(f"z3 backend: array {e.var.name} used as a value")
        return scope.env[shape.base]

    def _index(self, e: ir.Index, scope: Scope) -> z3.ExprRef:
        shape, idx = self._access(e, scope)
        cells = self._cells(shape, idx)
        # An index out of range can only be read after a failed Check(in_range), which
        # leaves the path without a successor, so the fallback value is never observed.
        result = scope.env[cells[-1][1]]
        for cond, slot in reversed(cells[:-1]):
            result = mk_ite(cond, scope.env[slot], result)
        return result

    def _self(self, e: ir.SelfIndex, scope: Scope) -> z3.ExprRef:
        if scope.inst is None:
            raise EncodingError("z3 backend: `self` outside a step")
        return self.ints.val(scope.inst.value)

    def _choice(self, e: ir.ChoiceRef, scope: Scope) -> z3.ExprRef:
        if e.choice not in scope.choices:
            raise EncodingError(f"z3 backend: choice ?{e.choice.name} used before its Choose")
        return scope.choices[e.choice]

    def _bound(self, e: ir.BoundRef, scope: Scope) -> z3.ExprRef:
        v = scope.bounds[e.bound]
        return _value_term(self.ints, e.bound.type, v)

    def _unary(self, e: ir.Unary, scope: Scope) -> z3.ExprRef:
        a = self.expr(e.arg, scope)
        if e.op == "not":
            return mk_not(a)
        if e.op == "neg":
            return mk_arith("sub", self.ints.val(0), a)
        raise EncodingError(f"z3 backend: unknown unary operator {e.op}")

    def _binary(self, e: ir.Binary, scope: Scope) -> z3.ExprRef:
        a, b = self.expr(e.left, scope), self.expr(e.right, scope)
        op = e.op
        if op == "and":
            return mk_and([a, b])
        if op == "or":
            return mk_or([a, b])
        if op == "implies":
            return mk_implies(a, b)
        if op == "eq":
            return mk_eq(a, b)
        if op == "ne":
            return mk_not(mk_eq(a, b))
        if op in ("lt", "le", "gt", "ge"):
            return mk_cmp(op, a, b)
        if op in ("add", "sub", "mul"):
            return mk_arith(op, a, b)
        raise EncodingError(f"z3 backend: unknown binary operator {op}")

    def _ite(self, e: ir.Ite, scope: Scope) -> z3.ExprRef:
        return mk_ite(self.boolean(e.cond, scope), self.expr(e.then, scope), self.expr(e.else_, scope))

    def _quant(self, e: ir.Quant, scope: Scope) -> z3.ExprRef:
        # Finite domains: expand, so that properties stay quantifier-free and negatable.
        parts = [self.boolean(e.body, _with_bound(scope, e.bound, v))
                 for v in ir.domain_values(e.bound.type, self.params)]
        if e.kind == "forall":
            return mk_and(parts)
        if e.kind == "exists":
            return mk_or(parts)
        raise EncodingError(f"z3 backend: unknown quantifier {e.kind}")

    def _atloc(self, e: ir.AtLoc, scope: Scope) -> z3.ExprRef:
        return self._per_instance(e.agent, e.index, scope, lambda inst: mk_in(scope.env[inst.pc], sorted(e.locs)))

    def _enabled(self, e: ir.Enabled, scope: Scope) -> z3.ExprRef:
        return self._per_instance(e.agent, e.index, scope, lambda inst: self.enabled(inst, scope.env))

    def _per_instance(self, agent: str, index: ir.Expr | None, scope: Scope,
                      pred: Callable[[Instance], z3.BoolRef]) -> z3.BoolRef:
        insts = self.layout.by_agent[agent]
        if index is None:
            return pred(insts[0])
        idx = self.expr(index, scope)
        return mk_or(mk_and([mk_eq(idx, self.ints.val(inst.value)), pred(inst)]) for inst in insts)

    # ----------------------------------------------------------------- arrays

    def _access(self, e: ir.Expr, scope: Scope) -> tuple[VarShape, list[z3.ExprRef]]:
        """An lvalue or array read `v[i][j]` as (shape of v, [i, j] as terms)."""
        indices: list[z3.ExprRef] = []
        while isinstance(e, ir.Index):
            indices.append(self.expr(e.index, scope))
            e = e.base
        if not isinstance(e, ir.VarRef):
            raise EncodingError(f"z3 backend: cannot index {type(e).__name__}")
        indices.reverse()
        shape = self.layout.shapes[e.var]
        if len(indices) != len(shape.dims):
            raise EncodingError(f"z3 backend: {e.var.name} needs {len(shape.dims)} indices, got {len(indices)}")
        return shape, indices

    def _cells(self, shape: VarShape, idx: list[z3.ExprRef]) -> list[tuple[z3.BoolRef, int]]:
        """Every slot the index terms may address, with the condition that it is addressed."""
        per_dim: list[list[tuple[z3.BoolRef, int]]] = []
        for term, dim in zip(idx, shape.dims):
            k = num(term)
            if k is not None:
                # A constant index outside the range is guarded by a failing Check; any slot will do.
                pos = k - dim.start if k in dim else len(dim) - 1
                per_dim.append([(TRUE, pos)])
            else:
                per_dim.append([(mk_eq(term, self.ints.val(v)), p) for p, v in enumerate(dim)])
        return [(mk_and(c for c, _ in combo), shape.offset(tuple(p for _, p in combo)))
                for combo in itertools.product(*per_dim)]

    # ----------------------------------------------------------------- enabledness

    def enabled(self, inst: Instance, env: Env) -> z3.BoolRef:
        """Some step of `inst` has a path passing its assumes, for some choice values.

        Choices are expanded over their finite domains rather than left as fresh
        constants, so that `!enabled(...)` (deadlock) needs no quantifier.
        """
        cacheable = isinstance(env, tuple)  # a frozen state (properties): same env, same answer
        key = (inst.gid, id(env))
        if cacheable and key in self._enabled_cache and self._enabled_cache[key][0] is env:
            return self._enabled_cache[key][1]
        result = self._enabled_uncached(inst, env)
        if cacheable:
            self._enabled_cache[key] = (env, result)
        return result

    def _enabled_uncached(self, inst: Instance, env: Env) -> z3.BoolRef:
        if self._nesting >= _MAX_ENABLED_NESTING:
            raise EncodingError(f"z3 backend: enabled({inst.name}) refers to itself through step guards")
        self._nesting += 1
        try:
            return mk_or(self._step_enabled(inst, step, env) for step in inst.agent.steps)
        finally:
            self._nesting -= 1

    def remember_run(self, inst: Instance, step: ir.Step, env: Env, effect: StepEffect,
                     choices: dict[ir.Choice, z3.ExprRef]) -> None:
        """`effect` is `step` of `inst` run in `env` with each choice a placeholder constant:
        enabledness in that very state is then that run's path condition with each choice's
        values substituted, not one more symbolic execution per combination of values."""
        self._step_runs[(inst.gid, id(step))] = (env, effect, choices)

    def _step_enabled(self, inst: Instance, step: ir.Step, env: Env) -> z3.BoolRef:
        at = mk_eq(env[inst.pc], self.ints.val(step.source))
        if is_false(at):
            return FALSE
        run = self._step_runs.get((inst.gid, id(step)))
        if run is not None and run[0] is env:
            return mk_and([at, self._enabled_by_substitution(run[1], run[2])])
        choices = collect_choices(step.body)
        domains = [ir.domain_values(c.type, self.params) for c in choices]
        ways = []
        for values in itertools.product(*domains):
            bound = {c: _value_term(self.ints, c.type, v) for c, v in zip(choices, values)}
            ways.append(_some_path_enabled(self.run_step(inst, step, env, lambda c: bound[c])))
        return mk_and([at, mk_or(ways)])

    def _enabled_by_substitution(self, effect: StepEffect, placeholders: dict[ir.Choice, z3.ExprRef]) -> z3.BoolRef:
        path = _some_path_enabled(effect)
        choices = list(placeholders)
        ways = []
        for values in itertools.product(*(ir.domain_values(c.type, self.params) for c in choices)):
            pairs = [(placeholders[c], _value_term(self.ints, c.type, v)) for c, v in zip(choices, values)]
            ways.append(z3.substitute(path, *pairs) if pairs else path)
        return mk_or(ways)

    # ----------------------------------------------------------------- statements

    def run_step(self, inst: Instance, step: ir.Step, env: Env, fresh: ChoiceFactory) -> StepEffect:
        effect = StepEffect()
        st = PathState(Scope(list(env), inst), TRUE, TRUE, effect, fresh)  # a copy: the body writes into it
        self._block(step.body, st)
        effect.ok = [st.alive]
        effect.env = st.scope.env
        return effect

    def _block(self, stmts: tuple[ir.Stmt, ...], st: PathState) -> None:
        for s in stmts:
            fn = self._stmts.get(type(s))
            if fn is None:
                raise EncodingError(f"z3 backend: no encoding for statement {type(s).__name__}: {s!r}")
            fn(s, st)

    def _assign(self, s: ir.Assign, st: PathState) -> None:
        value = self.expr(s.value, st.scope)
        env = _writable(st.scope.env)
        if isinstance(s.target, ir.VarRef):
            slot = self._scalar_slot(s.target.var)
            env[slot] = mk_ite(st.ended, env[slot], value)
            return
        shape, idx = self._access(s.target, st.scope)
        going = mk_not(st.ended)
        for cond, slot in self._cells(shape, idx):
            env[slot] = mk_ite(mk_and([going, cond]), value, env[slot])

    def _scalar_slot(self, var: ir.Var) -> int:
        shape = self.layout.shapes[var]
        if shape.dims:
            raise EncodingError(f"z3 backend: assignment to the whole array {var.name}")
        return shape.base

    def _if(self, s: ir.If, st: PathState) -> None:
        c = self.boolean(s.cond, st.scope)
        if is_true(c) or is_false(c):  # decided statically: run one branch only
            self._block(s.then if is_true(c) else s.else_, st)
            return
        then = self._branch(s.then, st, mk_and([st.guard, c]))
        other = self._branch(s.else_, st, mk_and([st.guard, mk_not(c)]))
        st.scope.env = [mk_ite(c, a, b) for a, b in zip(then.scope.env, other.scope.env)]
        st.scope.choices = {**then.scope.choices, **other.scope.choices}
        st.alive = mk_ite(c, then.alive, other.alive)
        st.ended = mk_ite(c, then.ended, other.ended)

    def _branch(self, stmts: tuple[ir.Stmt, ...], st: PathState, guard: z3.BoolRef) -> PathState:
        scope = Scope(list(st.scope.env), st.scope.inst, dict(st.scope.choices), st.scope.bounds)
        sub = PathState(scope, guard, st.alive, st.effect, st.fresh, st.ended)
        self._block(stmts, sub)
        return sub

    def _assume(self, s: ir.Assume, st: PathState) -> None:
        st.alive = mk_and([st.alive, mk_or([st.ended, self.boolean(s.cond, st.scope)])])

    def _check(self, s: ir.Check, st: PathState) -> None:
        c = self.boolean(s.cond, st.scope)
        fails = mk_and([st.guard, st.alive, mk_not(st.ended), mk_not(c)])
        if not is_false(fails):
            st.effect.aborts.setdefault(s.prop, []).append(fails)
        if s.prop == ir.IN_RANGE:  # no successor: a state outside its types has no meaning
            st.alive = mk_and([st.alive, mk_or([st.ended, c])])

    def _choose(self, s: ir.Choose, st: PathState) -> None:
        st.scope.choices[s.choice] = st.fresh(s.choice)

    def _goto(self, s: ir.Goto, st: PathState) -> None:
        assert st.scope.inst is not None
        env = _writable(st.scope.env)
        env[st.scope.inst.pc] = mk_ite(st.ended, env[st.scope.inst.pc], self.ints.val(s.target))
        st.ended = TRUE


def _writable(env: Env) -> list[z3.ExprRef]:
    assert isinstance(env, list), "a step body writes into its own copy of the state"
    return env


def _with_bound(scope: Scope, bound: ir.Bound, value: int) -> Scope:
    return Scope(scope.env, scope.inst, scope.choices, {**scope.bounds, bound: value})


def _value_term(ints: Ints, t: ir.ScalarType, v: int) -> z3.ExprRef:
    return z3.BoolVal(bool(v)) if isinstance(t, ir.BoolType) else ints.val(v)


def _some_path_enabled(effect: StepEffect) -> z3.BoolRef:
    """Some path of the step is taken: it has a successor, or fails a range check (which
    violates in_range and still counts as enabled, ir.py)."""
    return mk_or([mk_and(effect.ok), *effect.aborts.get(ir.IN_RANGE, [])])


def collect_choices(stmts: tuple[ir.Stmt, ...]) -> list[ir.Choice]:
    """Every Choice a body binds, each once, in first-occurrence order."""
    seen: dict[ir.Choice, None] = {}

    def walk(block: tuple[ir.Stmt, ...]) -> None:
        for s in block:
            if isinstance(s, ir.Choose):
                seen.setdefault(s.choice, None)
            elif isinstance(s, ir.If):
                walk(s.then)
                walk(s.else_)

    walk(stmts)
    return list(seen)
