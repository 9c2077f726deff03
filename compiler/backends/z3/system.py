"""The transition system of a model at fixed parameters, as Z3 templates.

The transition relation, the abort conditions and every property are built
*once*, over placeholder constants (`x@pre`, `x@post`, `sel@pre`, choices
`...@pre`), by symbolic execution of the IR.  Unrolling then instantiates them at
depth k with `z3.substitute`, which is far cheaper than re-running the Python
symbolic execution at every depth.

Encoding (see docs/prove.md for the reasoning):
* bools are Z3 Bools; bounded ints, enum members, pcs and lock owners are Z3
  Ints (mathematical, as the IR says; ranges are kept by the `in_range` checks
  lowering inserted, and asserted explicitly only where a state is arbitrary);
* one selector `sel@k` (an Int) names the action taken by step k+1:
  `sel == a  ->  pc == source(a) && assumes(a)`;
* per slot one equation `x@k+1 == ite(sel==a1, v1, ite(sel==a2, v2, ..., x@k))`
  over the actions that may write it: the frame condition is the final else;
* a path with no successor that still violates a property (it fails a
  `Check`, then an `Assume` or an `in_range` check) *stutters*: the post-state
  is the pre-state.  A stutter reaches no new state, so it changes neither the
  reachable states nor any shortest violation (compiler/ir.py's semantics), and
  it lets the violating step be unrolled like any other.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

import z3

from compiler import ir
from compiler.backends.z3.layout import Action, Layout, Slot
from compiler.backends.z3.symexec import EncodingError, Evaluator, Scope
from compiler.backends.z3.terms import FALSE, Ints, Renaming, same, mk_and, mk_eq, mk_implies, mk_ite, mk_not, mk_or, val_like
from compiler.backends.z3.width import exact_width


@dataclass(frozen=True, slots=True)
class ActionEncoding:
    """One action's part of the transition relation, over the placeholders: what `sel == a`
    leaves of it once the selector is known."""

    guard: z3.BoolRef  # pc at the step's source, and a path with a successor or failing a check
    ranges: z3.BoolRef  # its choices within their types
    writes: dict[int, z3.ExprRef]  # slot -> its post value (the pre value where the path has no successor)
    aborts: dict[str, z3.BoolRef]  # per check property: the path fails it


@dataclass(frozen=True, slots=True)
class Unrolled:
    """One transition instantiated between two states."""

    relation: z3.BoolRef
    aborts: dict[str, z3.BoolRef]  # per check property: this transition's path fails it
    sel: z3.ArithRef


class TransitionSystem:
    def __init__(self, model: ir.Model, params: dict[str, int], ints: str = "bv") -> None:
        """`ints`: "bv" (signed bit-vectors of the exact width, the default) or "int" (Z3 Ints)."""
        if ints not in ("bv", "int"):
            raise ValueError(f"ints must be 'bv' or 'int', not {ints!r}")
        self.model = model
        self.params = params
        self.layout = Layout(model, params)
        self.ints = Ints(exact_width(self.layout) if ints == "bv" else None)
        self.ev = Evaluator(self.layout, self.ints)
        self.pre = self.state("pre")
        self.post = self.state("post")
        self._frozen_pre = tuple(self.pre)  # properties read it; a tuple lets enabled() cache per state
        self.sel = self.ints.const("sel@pre")
        self._choice_vars: list[tuple[str, z3.ExprRef, ir.ScalarType]] = []  # (name stem, placeholder, type)
        # Built on first use, each action on its own: confirming a trace needs only its actions.
        self._actions: dict[int, tuple[ActionEncoding, list[z3.BoolRef]]] = {}  # index -> (encoding, ranges)
        self._relation: tuple[z3.BoolRef, dict[str, z3.BoolRef]] | None = None
        self._init = self._build_init()
        self._props: dict[str, z3.BoolRef] = {}
        self._state_renamings: dict[str, Renaming] = {}

    def new_solver(self) -> z3.Solver:
        """A solver suited to the encoding.

        For bit-vectors, `SolverFor("QF_BV")` bit-blasts into Z3's incremental SAT
        solver; the default solver (the SMT core) was 10x-1000x slower on the test
        models, and hopeless on k-induction (docs/prove.md has the figures).
        """
        if self.ints.width is None:
            return z3.Solver()
        return z3.SolverFor("QF_BV")

    # ----------------------------------------------------------------- states

    def state(self, tag: str) -> list[z3.ExprRef]:
        return [z3.Bool(f"{s.name}@{tag}") if s.is_bool else self.ints.const(f"{s.name}@{tag}")
                for s in self.layout.slots]

    def domain(self, state: list[z3.ExprRef]) -> z3.BoolRef:
        """Every slot holds a value of its type: needed wherever a state is arbitrary (induction)."""
        return mk_and(_in_range(x, s) for x, s in zip(state, self.layout.slots))

    def init(self, tag: str) -> z3.BoolRef:
        return Renaming(list(zip(self.pre, self.state(tag))))(self._init)

    # ----------------------------------------------------------------- properties

    def invariant(self, prop: ir.Property, tag: str) -> z3.BoolRef:
        """The state predicate of an invariant, deadlock or cover property, in state `tag`."""
        if prop.name not in self._props:
            pred = prop.invariant_expr()  # a cover's is its negation: a "violation" is its witness
            if pred is None:
                raise EncodingError(f"z3 backend: property {prop.name} ({prop.kind}) has no expression")
            agents = _enabled_agents(pred)  # their steps' runs give enabledness by substitution
            for act in self.layout.actions:
                if act.inst.agent.name in agents:
                    self._action(act)
            self._props[prop.name] = self.ev.boolean(pred, Scope(self._frozen_pre))
        return self._renaming(tag)(self._props[prop.name])

    def _renaming(self, tag: str) -> Renaming:
        if tag not in self._state_renamings:
            self._state_renamings[tag] = Renaming(list(zip(self.pre, self.state(tag))))
        return self._state_renamings[tag]

    def at_values(self, values: list[z3.ExprRef]) -> Renaming:
        """The state placeholders replaced by `values` (a state given slot by slot)."""
        return Renaming(list(zip(self.pre, values)))

    def action_between(self, index: int, pre: list[z3.ExprRef], post: list[z3.ExprRef] | None
                       ) -> tuple[z3.BoolRef, dict[str, z3.BoolRef]]:
        """Action `index` taken from state `pre` to state `post` (None: any post-state), with its
        choices free, and the checks it fails: the transition relation with `sel` fixed, built
        from that action's part alone."""
        act = self._action(self.layout.actions[index])[0]
        eqs = [] if post is None else [mk_eq(p, act.writes.get(i, self.pre[i])) for i, p in enumerate(self.post)]
        pairs = list(zip(self.pre, pre)) + ([] if post is None else list(zip(self.post, post)))
        sub = Renaming(pairs)
        return sub(mk_and([act.guard, act.ranges, *eqs])), {p: sub(f) for p, f in act.aborts.items()}

    def check_props(self) -> list[str]:
        """Every property some Check can fail."""
        return sorted(self._aborts)

    # ----------------------------------------------------------------- unrolling

    def unroll(self, pre_tag: str, post_tag: str) -> Unrolled:
        sel = self.ints.const(f"sel@{pre_tag}")
        pairs: list[tuple[z3.ExprRef, z3.ExprRef]] = list(zip(self.pre, self.state(pre_tag)))
        pairs += zip(self.post, self.state(post_tag))
        pairs.append((self.sel, sel))
        pairs += [(ph, self._const(stem, pre_tag, t)) for stem, ph, t in self._choice_vars]

        sub = Renaming(pairs)

        aborts = {p: sub(f) for p, f in self._aborts.items()}
        return Unrolled(sub(self._trans), aborts, sel)

    @property
    def _trans(self) -> z3.BoolRef:
        return self._transition()[0]

    @property
    def _aborts(self) -> dict[str, z3.BoolRef]:
        return self._transition()[1]

    def _transition(self) -> tuple[z3.BoolRef, dict[str, z3.BoolRef]]:
        if self._relation is None:
            self._relation = self._build_transition()
        return self._relation

    # ----------------------------------------------------------------- building

    def _build_init(self) -> z3.BoolRef:
        scope = Scope(self.pre)
        parts: list[z3.BoolRef] = []
        for var in self.model.vars:
            shape = self.layout.shapes[var]
            count = _count(shape.dims)
            slots = range(shape.base, shape.base + count)
            if var.init is None:
                parts += [_in_range(self.pre[i], self.layout.slots[i]) for i in slots]
            else:
                value = self.ev.expr(var.init, scope)
                parts += [mk_eq(self.pre[i], value) for i in slots]
        for inst in self.layout.instances:
            parts.append(mk_eq(self.pre[inst.pc], self.ints.val(inst.agent.initial)))
        parts += [self.ev.boolean(e, scope) for e in self.model.initially]
        return mk_and(parts)

    def _build_transition(self) -> tuple[z3.BoolRef, dict[str, z3.BoolRef]]:
        actions = self.layout.actions
        if not actions:
            return FALSE, {}
        parts: list[z3.BoolRef] = [self.sel >= self.ints.val(0), self.sel < self.ints.val(len(actions))]
        writes: list[list[tuple[int, z3.ExprRef]]] = [[] for _ in self.layout.slots]
        abort_parts: dict[str, list[z3.BoolRef]] = {}
        for act in actions:
            enc, ranges = self._action(act)
            parts += ranges
            chosen = mk_eq(self.sel, self.ints.val(act.index))
            for p, f in enc.aborts.items():
                abort_parts.setdefault(p, []).append(mk_and([chosen, f]))
            parts.append(mk_implies(chosen, enc.guard))
            for i, w in enc.writes.items():
                writes[i].append((act.index, w))
        for i, slot_writes in enumerate(writes):
            parts.append(mk_eq(self.post[i], self._frame(i, slot_writes)))
        return mk_and(parts), {p: mk_or(fs) for p, fs in abort_parts.items()}

    def _action(self, act: Action) -> tuple[ActionEncoding, list[z3.BoolRef]]:
        """Action `act` run symbolically from the pre-state (once), and its choices' ranges."""
        if act.index not in self._actions:
            made: dict[ir.Choice, z3.ExprRef] = {}
            ranges: list[z3.BoolRef] = []
            effect = self.ev.run_step(act.inst, act.step, self.pre, self._fresh_factory(act, ranges, made))
            self.ev.remember_run(act.inst, act.step, self._frozen_pre, effect, made)
            at = mk_eq(self.pre[act.inst.pc], self.ints.val(act.step.source))
            ok = mk_and(effect.ok)
            each = {p: mk_or(fs) for p, fs in effect.aborts.items()}
            guard = mk_and([at, mk_or([ok, mk_or(each.values())])])
            mine = {i: mk_ite(ok, new, old) for i, (old, new) in enumerate(zip(self.pre, effect.env))
                    if not same(old, new)}
            self._actions[act.index] = (ActionEncoding(guard, mk_and(ranges), mine, each), ranges)
        return self._actions[act.index]

    def _frame(self, i: int, slot_writes: list[tuple[int, z3.ExprRef]]) -> z3.ExprRef:
        value = self.pre[i]  # no action chosen writes it: the frame condition
        for a, v in reversed(slot_writes):
            value = z3.If(self.sel == self.ints.val(a), v, value)
        return value

    def _fresh_factory(self, act: Action, parts: list[z3.BoolRef],  # type: ignore[no-untyped-def]
                       made: dict[ir.Choice, z3.ExprRef]):

        def fresh(choice: ir.Choice) -> z3.ExprRef:
            # One constant per (action, choice): both branches of an If that bind the same
            # Choice share it, and the selector makes the other actions' copies irrelevant.
            if choice not in made:
                stem = f"{act.inst.name}.{act.step.name}.{choice.name}"
                made[choice] = self._const(stem, "pre", choice.type)
                self._choice_vars.append((stem, made[choice], choice.type))
                values = ir.domain_values(choice.type, self.params)
                if not isinstance(choice.type, ir.BoolType):
                    low, high = self.ints.val(values.start), self.ints.val(values.stop - 1)
                    parts.append(mk_and([made[choice] >= low, made[choice] <= high]))
            return made[choice]

        return fresh

    def _const(self, stem: str, tag: str, t: ir.ScalarType) -> z3.ExprRef:
        return z3.Bool(f"{stem}@{tag}") if isinstance(t, ir.BoolType) else self.ints.const(f"{stem}@{tag}")


_EXPRS = typing.get_args(ir.Expr)


def _enabled_agents(e: object) -> set[str]:
    """The agents whose enabledness `e` reads (`enabled(...)`, `quiescent`, `deadlock`)."""
    if isinstance(e, ir.Enabled):
        return {e.agent}
    out: set[str] = set()
    for f in dataclasses.fields(e):  # type: ignore[arg-type]
        v = getattr(e, f.name)
        for x in v if isinstance(v, tuple) else (v,):
            if isinstance(x, _EXPRS):
                out |= _enabled_agents(x)
    return out


_last: tuple[ir.Model, tuple[tuple[str, int], ...], str, TransitionSystem] | None = None


def encoding(model: ir.Model, params: dict[str, int], ints: str = "bv") -> TransitionSystem:
    """The transition system of `model` at `params`, built once for the last model asked: the
    bounded run and the confirmation of the search's traces share it (it only gains cached
    formulas as it is used).  A re-check that must not trust it builds its own."""
    global _last
    key = tuple(sorted(params.items()))
    if _last is None or _last[0] is not model or _last[1] != key or _last[2] != ints:
        _last = (model, key, ints, TransitionSystem(model, params, ints))
    return _last[3]


def _in_range(x: z3.ExprRef, slot: Slot) -> z3.BoolRef:
    if slot.is_bool:
        return mk_not(FALSE)
    return mk_and([x >= val_like(x, slot.lo), x <= val_like(x, slot.hi)])


def _count(dims: tuple[range, ...]) -> int:
    n = 1
    for d in dims:
        n *= len(d)
    return n
