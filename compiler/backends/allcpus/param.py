"""The transition system of a model for every number of CPUs at once: Z3 over an uninterpreted sort.

The CPU ids form an uninterpreted sort `CPU` with no size: a formula valid here is valid
for every universe, so for every value of the parameter `CPUS` (the finite instance at
CPUS=n is the structure whose universe is 0..n-1).  The encoding follows compiler/ir.py's
semantics exactly, with these representations:

* a `cpu`-typed scalar is a CPU constant; a CPU id the spec writes as a number (`c == 0`,
  `its.target = 0`) is a *pinned* constant `cpu0`, and pinned constants are pairwise
  distinct: the claim is then for every CPUS greater than the largest one (`n0`);
* an array whose first index is `cpu` is a Z3 array CPU -> ..., other index dimensions are
  Int-indexed arrays nested inside (lowering guards every index with an in_range check);
* the cpu agent's program counters are one array CPU -> Int, other agents' one Int each;
* a lock holds an `Owner`: free, a CPU, or one of the other agents (the IR stores instance
  ids; lowering writes `base + self` for a CPU and a constant for another agent, which is
  classified by evaluating it at two values of CPUS);
* one transition is one step of one agent: for the cpu agent, of some CPU `actor`
  (SelfIndex); a choice is a fresh constant (existential); `forall/exists i: cpu` are Z3
  quantifiers over the sort.

Anything whose meaning would depend on the number or the order of the CPUs (CPUS in an
expression, `<` or arithmetic on CPU ids, a CPU id stored in an int) raises `Unsupported`
with the place: such a spec gets no all-CPU answer, never a wrong one.  Parameters other
than CPUS keep the values given.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import z3

from compiler import ir

CPUS = "CPUS"


class Unsupported(Exception):
    """The model uses a construct this encoding cannot give a meaning for every CPU count."""


def is_cpu_type(t: ir.Type) -> bool:
    return isinstance(t, ir.IntType) and t.name == "cpu"


def elem_type(t: ir.Type) -> tuple[list[ir.IntType | ir.EnumType], ir.ScalarType]:
    dims: list[ir.IntType | ir.EnumType] = []
    while isinstance(t, ir.ArrayType):
        dims.append(t.index)
        t = t.elem
    return dims, t


def _where(node: object) -> str:
    span = getattr(node, "span", None)
    line = getattr(span, "line", 0) if span is not None else 0
    return f" (line {line})" if line else ""


class Fn:
    """An array's value: a function from index terms to an element term.  A state's arrays are
    uninterpreted functions, and a write is an `If` over the index, so every formula stays
    first order with quantifiers over CPU only (Z3's array theory with quantifiers gave up
    with "incomplete quantifiers" on the simplest query)."""

    __slots__ = ("at", "probe")

    def __init__(self, at: Callable[[list[z3.ExprRef]], z3.ExprRef], probe: list[z3.ExprRef]) -> None:
        self.at = at
        self.probe = probe  # distinct fresh indices: two Fns equal there are the same function

    def __call__(self, idx: list[z3.ExprRef]) -> z3.ExprRef:
        return self.at(idx)


Value = Any  # a z3 term (scalar) or an Fn (array); z3 has no type stubs


@dataclass
class PState:
    """One state: a term (scalars) or a Fn (arrays) per variable, and per agent's pcs."""

    vars: dict[ir.Var, Value]
    pcs: dict[str, Value]

    def copy(self) -> PState:
        return PState(dict(self.vars), dict(self.pcs))


@dataclass
class Effect:
    ok: z3.BoolRef  # the path has a successor (every Assume and in_range check held)
    aborts: dict[str, list[z3.BoolRef]]  # property -> conditions under which a check of it fails
    post: PState


@dataclass
class Action:
    agent: ir.Agent
    step: ir.Step
    actor: z3.ExprRef | None  # the CPU taking the step (cpu agent), None for the others
    at: z3.BoolRef  # the pc is at the step's source
    effect: Effect
    choices: list[z3.ExprRef]
    ranges: z3.BoolRef  # every choice in its type

    @property
    def name(self) -> str:
        who = f"{self.agent.name}[c]" if self.actor is not None else self.agent.name
        return f"{who}.{self.step.name}"


@dataclass
class _Path:
    st: PState
    guard: z3.BoolRef
    alive: z3.BoolRef
    aborts: dict[str, list[z3.BoolRef]]
    self_: z3.ExprRef | None
    agent: ir.Agent | None
    choices: dict[ir.Choice, z3.ExprRef]
    fresh: Callable[[ir.Choice], z3.ExprRef]


@dataclass
class _Scope:
    st: PState
    self_: z3.ExprRef | None = None
    agent: ir.Agent | None = None
    choices: dict[ir.Choice, z3.ExprRef] = field(default_factory=dict)
    bounds: dict[ir.Bound, z3.ExprRef] = field(default_factory=dict)


class System:
    """The parametric transition system of `model` (parameters other than CPUS from `params`)."""

    def __init__(self, model: ir.Model, params: dict[str, int]) -> None:
        if CPUS not in {p.name for p in model.params}:
            raise Unsupported("the spec has no parameter CPUS")
        self.model = model
        self.params = {k: v for k, v in params.items() if k != CPUS}
        cpu_agents = [a for a in model.agents if a.domain is not None]
        domain = cpu_agents[0].domain if len(cpu_agents) == 1 else None
        if domain is None or cpu_agents[0].kind != "cpu" or not is_cpu_type(domain):
            raise Unsupported("the spec needs exactly one cpu agent and no other agent with instances")
        self.cpu_agent = cpu_agents[0]
        self.cpu_type: ir.IntType = domain
        self.others = [a for a in model.agents if a.domain is None]
        self.CPU = z3.DeclareSort("CPU")
        owner = z3.Datatype("Owner")
        owner.declare("free")
        owner.declare("cpu", ("owner_cpu", self.CPU))
        for a in self.others:
            owner.declare(f"agent_{a.name}")
        self.Owner = owner.create()
        self.pinned: dict[int, z3.ExprRef] = {}
        self._fresh = 0
        self._check_types()
        self.actions: list[Action] = []
        pre = self.state("pre")
        self.pre = pre
        for a in self.cpu_agent_and_others():
            for step in a.steps:
                self.actions.append(self._action(a, step, pre))
        self.init = self._init(self.state("init"))

    # ----------------------------------------------------------------- sorts and states

    def cpu_agent_and_others(self) -> list[ir.Agent]:
        return [self.cpu_agent, *self.others]

    def n0(self) -> int:
        """The claim covers every CPUS >= n0: every pinned CPU id exists."""
        return max(self.pinned, default=0) + 1

    def distinct(self) -> z3.BoolRef:
        cs = [self.pinned[k] for k in sorted(self.pinned)]
        return z3.Distinct(*cs) if len(cs) >= 2 else z3.BoolVal(True)

    def _check_types(self) -> None:
        for v in self.model.vars:
            dims, elem = elem_type(v.type)
            for i, d in enumerate(dims):
                if is_cpu_type(d):
                    if i != 0:
                        raise Unsupported(f"{v.name}: a cpu index that is not the first{_where(v)}")
                else:
                    self._range(d, v)
            if not is_cpu_type(elem) and v.kind != "lock":
                self._range(elem, v)

    def _range(self, t: ir.ScalarType | ir.IntType | ir.EnumType, where: object) -> range:
        try:
            return ir.domain_values(t, self.params)
        except KeyError:
            name = f"{where.name}: " if isinstance(where, (ir.Var, ir.Choice)) else ""
            raise Unsupported(f"{name}a type whose range depends on CPUS{_where(where)} "
                              f"(a CPU id outside 0..CPUS-1 has no place in a proof for every CPU count)") from None

    def scalar_sort(self, t: ir.ScalarType, lock: bool = False) -> z3.SortRef:
        if lock:
            return self.Owner
        if isinstance(t, ir.BoolType):
            return z3.BoolSort()
        if is_cpu_type(t):
            return self.CPU
        return z3.IntSort()

    def _var(self, v: ir.Var, tag: str) -> Value:
        dims, elem = elem_type(v.type)
        sort = self.scalar_sort(elem, v.kind == "lock")
        if not dims:
            return z3.Const(f"{v.name}@{tag}", sort)
        f = z3.Function(f"{v.name}@{tag}", *[self.CPU if is_cpu_type(d) else z3.IntSort() for d in dims], sort)
        return Fn(lambda idx: f(*idx), self._probe(dims))

    def _probe(self, dims: list[ir.IntType | ir.EnumType]) -> list[z3.ExprRef]:
        return [z3.Const(f"probe.{k}", self.CPU) if is_cpu_type(d) else z3.Int(f"probe.{k}")
                for k, d in enumerate(dims)]

    def state(self, tag: str) -> PState:
        vars_ = {v: self._var(v, tag) for v in self.model.vars}
        pc = z3.Function(f"pc.{self.cpu_agent.name}@{tag}", self.CPU, z3.IntSort())
        pcs: dict[str, Value] = {self.cpu_agent.name: Fn(lambda idx: pc(*idx),
                                                         self._probe([self.cpu_type]))}
        for a in self.others:
            pcs[a.name] = z3.Int(f"pc.{a.name}@{tag}")
        return PState(vars_, pcs)

    def domain(self, s: PState) -> z3.BoolRef:
        """Every int element and pc within its type: assumed wherever a state is arbitrary."""
        parts: list[z3.BoolRef] = []
        for v in self.model.vars:
            dims, elem = elem_type(v.type)
            if v.kind == "lock" or isinstance(elem, ir.BoolType) or is_cpu_type(elem):
                continue
            parts.append(self._all_elements(s.vars[v], dims, _in(self._range(elem, v))))
        parts.append(self._all_elements(s.pcs[self.cpu_agent.name], [self.cpu_type],
                                        _in(range(len(self.cpu_agent.locations)))))
        for a in self.others:
            parts.append(_within(s.pcs[a.name], range(len(a.locations))))
        return z3.And(parts)

    def _all_elements(self, value: Value, dims: list[ir.IntType | ir.EnumType],
                      pred: Callable[[z3.ExprRef], z3.BoolRef], idx: tuple[z3.ExprRef, ...] = ()) -> z3.BoolRef:
        """pred holds of every element (a ForAll over the CPU dimension, the others expanded)."""
        if len(idx) == len(dims):
            return pred(value(list(idx)) if isinstance(value, Fn) else value)
        d = dims[len(idx)]
        if is_cpu_type(d):
            j = self.fresh_cpu("d")
            return z3.ForAll([j], self._all_elements(value, dims, pred, (*idx, j)))
        return z3.And([self._all_elements(value, dims, pred, (*idx, z3.IntVal(k))) for k in self._range(d, None)])

    def fresh_cpu(self, stem: str) -> z3.ExprRef:
        self._fresh += 1
        return z3.Const(f"{stem}!{self._fresh}", self.CPU)

    def pin(self, k: int, where: object) -> z3.ExprRef:
        if k < 0:
            raise Unsupported(f"a negative CPU id{_where(where)}")
        if k not in self.pinned:
            self.pinned[k] = z3.Const(f"cpu{k}", self.CPU)
        return self.pinned[k]

    # ----------------------------------------------------------------- initial states

    def _init(self, s: PState) -> z3.BoolRef:
        parts: list[z3.BoolRef] = [self.domain(s)]
        sc = _Scope(s)
        for v in self.model.vars:
            if v.init is None:
                continue
            dims, elem = elem_type(v.type)
            value = self._typed(v.init, elem, v.kind == "lock", sc)
            parts.append(self._all_elements(s.vars[v], dims, _equal(value)))
        parts.append(self._all_elements(s.pcs[self.cpu_agent.name], [self.cpu_type],
                                        _equal(z3.IntVal(self.cpu_agent.initial))))
        for a in self.others:
            parts.append(s.pcs[a.name] == a.initial)
        parts += [self.boolean(e, sc) for e in self.model.initially]
        self.init_state = s
        return z3.And(parts)

    # ----------------------------------------------------------------- expressions

    def boolean(self, e: ir.Expr, sc: _Scope) -> z3.BoolRef:
        t = self.ev(e, sc)
        if not z3.is_bool(t):
            raise Unsupported(f"expected a condition: {ir.show(e)}{_where(e)}")
        return t

    def prop(self, e: ir.Expr, s: PState) -> z3.BoolRef:
        """A state predicate (a property's expression) in state s."""
        return self.boolean(e, _Scope(s))

    def sort_of(self, e: ir.Expr, sc: _Scope) -> str:
        """"cpu", "owner" or "plain": how an expression is represented."""
        if isinstance(e, (ir.VarRef, ir.Index)):
            base: ir.Expr = e
            while isinstance(base, ir.Index):
                base = base.base
            assert isinstance(base, ir.VarRef)
            if base.var.kind == "lock":
                return "owner"
            return "cpu" if is_cpu_type(ir.type_of(e)) else "plain"
        if isinstance(e, ir.SelfIndex):
            return "cpu" if sc.agent is self.cpu_agent else "plain"
        if isinstance(e, ir.ChoiceRef):
            return "cpu" if is_cpu_type(e.choice.type) else "plain"
        if isinstance(e, ir.BoundRef):
            return "cpu" if is_cpu_type(e.bound.type) else "plain"
        if isinstance(e, ir.Ite):
            a, b = self.sort_of(e.then, sc), self.sort_of(e.else_, sc)
            return a if a != "plain" else b
        return "plain"

    def _typed(self, e: ir.Expr, t: ir.ScalarType, lock: bool, sc: _Scope) -> z3.ExprRef:
        if lock:
            return self.owner(e, sc)
        if is_cpu_type(t):
            return self.cpu(e, sc)
        return self.ev(e, sc)

    def ev(self, e: ir.Expr, sc: _Scope) -> z3.ExprRef:
        if isinstance(e, ir.Lit):
            return z3.BoolVal(bool(e.value)) if isinstance(e.type, ir.BoolType) else z3.IntVal(int(e.value))
        if isinstance(e, ir.ParamRef):
            if e.param.name == CPUS:
                raise Unsupported(f"CPUS used as a value: {ir.show(e)}{_where(e)}")
            return z3.IntVal(self.params[e.param.name])
        if isinstance(e, (ir.VarRef, ir.Index)):
            return self.read(e, sc)
        if isinstance(e, ir.SelfIndex):
            if sc.agent is self.cpu_agent:
                assert sc.self_ is not None
                return sc.self_
            if sc.agent is None:
                raise Unsupported(f"`self` outside a step{_where(e)}")
            return z3.IntVal(0)  # a singleton's index
        if isinstance(e, ir.ChoiceRef):
            return sc.choices[e.choice]
        if isinstance(e, ir.BoundRef):
            return sc.bounds[e.bound]
        if isinstance(e, ir.Unary):
            a = self.ev(e.arg, sc)
            if e.op == "not":
                return z3.Not(a)
            self._plain(a, e)
            return -a
        if isinstance(e, ir.Binary):
            return self._binary(e, sc)
        if isinstance(e, ir.Ite):
            sorts = {self.sort_of(e.then, sc), self.sort_of(e.else_, sc)}
            if "owner" in sorts:
                return self.owner(e, sc)
            if "cpu" in sorts:
                return self.cpu(e, sc)
            return z3.If(self.boolean(e.cond, sc), self.ev(e.then, sc), self.ev(e.else_, sc))
        if isinstance(e, ir.Quant):
            return self._quant(e, sc)
        if isinstance(e, ir.AtLoc):
            return self._per_instance(e.agent, e.index, sc, lambda pc, _i: z3.Or([pc == k for k in sorted(e.locs)]))
        if isinstance(e, ir.Enabled):
            return self._per_instance(e.agent, e.index, sc, lambda _pc, i: self.enabled(e.agent, i, sc.st))
        raise Unsupported(f"no encoding for {type(e).__name__}{_where(e)}")

    def _plain(self, t: z3.ExprRef, e: ir.Expr) -> None:
        if not (z3.is_int(t) or z3.is_bool(t)):
            raise Unsupported(f"arithmetic or ordering on CPU ids or lock owners: {ir.show(e)}{_where(e)}")

    def _binary(self, e: ir.Binary, sc: _Scope) -> z3.ExprRef:
        op = e.op
        if op in ("eq", "ne"):
            sorts = {self.sort_of(e.left, sc), self.sort_of(e.right, sc)}
            if "owner" in sorts:
                a, b = self.owner(e.left, sc), self.owner(e.right, sc)
            elif "cpu" in sorts:
                a, b = self.cpu(e.left, sc), self.cpu(e.right, sc)
            else:
                a, b = self.ev(e.left, sc), self.ev(e.right, sc)
            return a == b if op == "eq" else a != b
        a, b = self.ev(e.left, sc), self.ev(e.right, sc)
        if op == "and":
            return z3.And(a, b)
        if op == "or":
            return z3.Or(a, b)
        if op == "implies":
            return z3.Implies(a, b)
        self._plain(a, e)
        self._plain(b, e)
        ops: dict[str, Callable[[z3.ArithRef, z3.ArithRef], z3.ExprRef]] = {
            "lt": lambda x, y: x < y, "le": lambda x, y: x <= y, "gt": lambda x, y: x > y,
            "ge": lambda x, y: x >= y, "add": lambda x, y: x + y, "sub": lambda x, y: x - y,
            "mul": lambda x, y: x * y}
        return ops[op](a, b)

    def cpu(self, e: ir.Expr, sc: _Scope) -> z3.ExprRef:
        """A CPU-id-valued expression as a term of sort CPU."""
        if isinstance(e, ir.Ite):
            return z3.If(self.boolean(e.cond, sc), self.cpu(e.then, sc), self.cpu(e.else_, sc))
        if self.sort_of(e, sc) == "cpu":
            t = self.ev(e, sc)
            assert t.sort() == self.CPU
            return t
        k = self._const(e)
        if k is None:
            raise Unsupported(f"a CPU id computed from numbers: {ir.show(e)}{_where(e)}")
        return self.pin(k, e)

    def _const(self, e: ir.Expr) -> int | None:
        try:
            return ir.eval_const(e, self.params)
        except (ValueError, KeyError):
            return None

    def owner(self, e: ir.Expr, sc: _Scope) -> z3.ExprRef:
        """A lock-owner-valued expression as an Owner."""
        if isinstance(e, ir.Ite):
            return z3.If(self.boolean(e.cond, sc), self.owner(e.then, sc), self.owner(e.else_, sc))
        if self.sort_of(e, sc) == "owner":
            assert isinstance(e, (ir.VarRef, ir.Index))
            return self.read(e, sc)
        if isinstance(e, ir.Binary) and e.op == "add":
            for a, b in ((e.left, e.right), (e.right, e.left)):
                if isinstance(b, ir.SelfIndex) and sc.agent is self.cpu_agent and \
                        self._ids(a) == [ir.instance_base(self.model, self.cpu_agent.name, {**self.params, CPUS: n})
                                         for n in (7, 8)]:
                    assert sc.self_ is not None
                    return self.Owner.cpu(sc.self_)
        ids = self._ids(e)
        if ids is None:
            raise Unsupported(f"a lock owner this encoding cannot name: {ir.show(e)}{_where(e)}")
        if ids == [-1, -1]:
            return self.Owner.free
        names = [self._instance(ids[0], 7), self._instance(ids[1], 8)]
        if names[0] != names[1] or names[0] is None:
            raise Unsupported(f"a lock owner that names different agents for different CPU counts: "
                              f"{ir.show(e)}{_where(e)}")
        agent, index = names[0]
        if agent == self.cpu_agent.name:
            return self.Owner.cpu(self.pin(index, e))
        return getattr(self.Owner, f"agent_{agent}")

    def _ids(self, e: ir.Expr) -> list[int] | None:
        """A constant's value at CPUS=7 and CPUS=8 (an instance id may depend on CPUS)."""
        try:
            return [ir.eval_const(e, {**self.params, CPUS: n}) for n in (7, 8)]
        except (ValueError, KeyError):
            return None

    def _instance(self, gid: int, n: int) -> tuple[str, int] | None:
        params = {**self.params, CPUS: n}
        for a in self.model.agents:
            base = ir.instance_base(self.model, a.name, params)
            if base <= gid < base + ir.instance_count(a, params):
                return a.name, gid - base
        return None

    def read(self, e: ir.VarRef | ir.Index, sc: _Scope) -> z3.ExprRef:
        var, idx = self._access(e, sc)
        t = sc.st.vars[var]
        return t(idx) if isinstance(t, Fn) else t

    def _access(self, e: ir.Expr, sc: _Scope) -> tuple[ir.Var, list[z3.ExprRef]]:
        chain: list[ir.Expr] = []
        while isinstance(e, ir.Index):
            chain.append(e.index)
            e = e.base
        if not isinstance(e, ir.VarRef):
            raise Unsupported(f"cannot index {type(e).__name__}{_where(e)}")
        chain.reverse()
        dims, _ = elem_type(e.var.type)
        if len(chain) != len(dims):
            raise Unsupported(f"{e.var.name} used as a whole array{_where(e)}")
        idx = [self.cpu(x, sc) if is_cpu_type(d) else self.ev(x, sc) for x, d in zip(chain, dims)]
        return e.var, idx

    def _quant(self, e: ir.Quant, sc: _Scope) -> z3.BoolRef:
        if is_cpu_type(e.bound.type):
            x = self.fresh_cpu(e.bound.name)
            body = self.boolean(e.body, _Scope(sc.st, sc.self_, sc.agent, sc.choices, {**sc.bounds, e.bound: x}))
            return z3.ForAll([x], body) if e.kind == "forall" else z3.Exists([x], body)
        parts = []
        for v in self._range(e.bound.type, e):
            val = z3.BoolVal(bool(v)) if isinstance(e.bound.type, ir.BoolType) else z3.IntVal(v)
            parts.append(self.boolean(e.body, _Scope(sc.st, sc.self_, sc.agent, sc.choices, {**sc.bounds, e.bound: val})))
        return z3.And(parts) if e.kind == "forall" else z3.Or(parts)

    def _per_instance(self, agent: str, index: ir.Expr | None, sc: _Scope,
                      pred: Callable[[z3.ExprRef, z3.ExprRef | None], z3.BoolRef]) -> z3.BoolRef:
        if agent == self.cpu_agent.name:
            if index is None:
                raise Unsupported(f"the cpu agent without an index{_where(index)}")
            i = self.cpu(index, sc)
            pcs = sc.st.pcs[agent]
            assert isinstance(pcs, Fn)
            return pred(pcs([i]), i)
        pc = sc.st.pcs[agent]
        assert not isinstance(pc, Fn)
        return pred(pc, None)

    def enabled(self, agent: str, who: z3.ExprRef | None, s: PState) -> z3.BoolRef:
        """Some step of that instance has a path passing its Assumes (or failing in_range), for some choices."""
        a = self.model.agent(agent)
        ways = []
        for step in a.steps:
            act = self._run(a, step, s, who, "en")
            live = z3.Or(act.effect.ok, *act.effect.aborts.get(ir.IN_RANGE, []))
            body = z3.And(act.ranges, live)
            ways.append(z3.And(act.at, z3.Exists(act.choices, body) if act.choices else body))
        return z3.Or(ways)

    # ----------------------------------------------------------------- steps

    def _action(self, a: ir.Agent, step: ir.Step, pre: PState) -> Action:
        actor = z3.Const(f"actor.{step.name}", self.CPU) if a is self.cpu_agent else None
        return self._run(a, step, pre, actor, "t")

    def _run(self, a: ir.Agent, step: ir.Step, pre: PState, who: z3.ExprRef | None, tag: str) -> Action:
        made: dict[ir.Choice, z3.ExprRef] = {}
        ranges: list[z3.BoolRef] = []

        def fresh(c: ir.Choice) -> z3.ExprRef:
            if c not in made:
                self._fresh += 1
                sort = self.scalar_sort(c.type)
                made[c] = z3.Const(f"{c.name}.{step.name}@{tag}{self._fresh}", sort)
                if sort == z3.IntSort():
                    ranges.append(_within(made[c], self._range(c.type, c)))
            return made[c]

        pcs = pre.pcs[a.name]
        pc = pcs([who]) if isinstance(pcs, Fn) and who is not None else pcs
        path = _Path(pre.copy(), z3.BoolVal(True), z3.BoolVal(True), {}, who, a, {}, fresh)
        self._block(ir.as_tree(step.body), path)  # this encoding does not track ended paths
        effect = Effect(path.alive, path.aborts, path.st)
        at = pc == step.source
        return Action(a, step, who, at, effect, list(made.values()), z3.And(ranges))

    def _block(self, stmts: tuple[ir.Stmt, ...], p: _Path) -> None:
        for s in stmts:
            if isinstance(s, ir.Assign):
                self._assign(s, p)
            elif isinstance(s, ir.If):
                self._if(s, p)
            elif isinstance(s, ir.Assume):
                p.alive = z3.And(p.alive, self.boolean(s.cond, self._scope(p)))
            elif isinstance(s, ir.Check):
                c = self.boolean(s.cond, self._scope(p))
                fails = z3.And(p.guard, p.alive, z3.Not(c))
                if s.prop == ir.IN_RANGE:
                    if not self._possible(fails):
                        continue  # `if (runs <= B) runs += 1`: keeps the cone of influence small
                    p.alive = z3.And(p.alive, c)
                p.aborts.setdefault(s.prop, []).append(fails)
            elif isinstance(s, ir.Choose):
                p.choices[s.choice] = p.fresh(s.choice)
            elif isinstance(s, ir.Goto):
                assert p.agent is not None
                if p.self_ is not None:
                    p.st.pcs[p.agent.name] = _store(p.st.pcs[p.agent.name], [p.self_], z3.IntVal(s.target))
                else:
                    p.st.pcs[p.agent.name] = z3.IntVal(s.target)
            else:
                raise Unsupported(f"no encoding for {type(s).__name__}{_where(s)}")

    def _possible(self, f: z3.BoolRef) -> bool:
        s = z3.Solver()
        s.set(timeout=2000)
        s.add(self.domain(self.pre), f)
        return bool(s.check() != z3.unsat)

    def _scope(self, p: _Path) -> _Scope:
        return _Scope(p.st, p.self_, p.agent, p.choices)

    def _assign(self, s: ir.Assign, p: _Path) -> None:
        sc = self._scope(p)
        target = s.target
        base = target
        while isinstance(base, ir.Index):
            base = base.base
        assert isinstance(base, ir.VarRef)
        var = base.var
        _, elem = elem_type(var.type)
        value = self._typed(s.value, elem, var.kind == "lock", sc)
        _, idx = self._access(target, sc)
        p.st.vars[var] = _store(p.st.vars[var], idx, value)

    def _if(self, s: ir.If, p: _Path) -> None:
        c = self.boolean(s.cond, self._scope(p))
        then = _Path(p.st.copy(), z3.And(p.guard, c), p.alive, p.aborts, p.self_, p.agent, dict(p.choices), p.fresh)
        other = _Path(p.st.copy(), z3.And(p.guard, z3.Not(c)), p.alive, p.aborts, p.self_, p.agent, dict(p.choices),
                      p.fresh)
        self._block(s.then, then)
        self._block(s.else_, other)
        for v in p.st.vars:
            p.st.vars[v] = _merge(c, then.st.vars[v], other.st.vars[v])
        for name in p.st.pcs:
            p.st.pcs[name] = _merge(c, then.st.pcs[name], other.st.pcs[name])
        p.alive = then.alive if then.alive.eq(other.alive) else z3.If(c, then.alive, other.alive)
        p.choices = {**then.choices, **other.choices}


def _store(old: Value, idx: list[z3.ExprRef], value: z3.ExprRef) -> Value:
    if not idx:
        return value
    assert isinstance(old, Fn)
    return Fn(lambda at: z3.If(z3.And([a == b for a, b in zip(at, idx)]), value, old(at)), old.probe)


def _merge(c: z3.BoolRef, a: Value, b: Value) -> Value:
    if a is b:
        return a
    if isinstance(a, Fn) and isinstance(b, Fn):
        if a(a.probe).eq(b(a.probe)):  # both arms wrote the same (lowering copies continuations)
            return a
        return Fn(lambda at: z3.If(c, a(at), b(at)), a.probe)
    assert not isinstance(a, Fn) and not isinstance(b, Fn)
    return a if a.eq(b) else z3.If(c, a, b)


def _in(r: range) -> Callable[[z3.ExprRef], z3.BoolRef]:
    return lambda x: _within(x, r)


def _equal(value: z3.ExprRef) -> Callable[[z3.ExprRef], z3.BoolRef]:
    return lambda x: x == value


def _within(x: z3.ExprRef, r: range) -> z3.BoolRef:
    return z3.And(x >= r.start, x <= r.stop - 1)
