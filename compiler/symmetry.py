"""Which CPU ids a model treats interchangeably: the symmetry its exhaustive search may use.

A permutation `p` of CPU ids acts on a state by moving every CPU's data with its id: the
element `[c]` of an array indexed by `cpu` goes to `[p(c)]`, a value of type `cpu` c becomes
p(c), a lock owned by CPU c becomes owned by CPU p(c), and CPU c's program counter becomes
CPU p(c)'s.  When the initial states, every step and every property are unchanged by `p`,
`p` maps runs to runs and violations to violations of the same depth, so the search may
keep one state per orbit (docs/prove.md, "Reductions").

The analysis is syntactic and conservative.  It gives every expression a *sort*: `cpu` (a
CPU id, which the permutation renames), `cpu_or_none` (a value of a range `0..CPUS` when the
cpu type is `0..(CPUS - 1)`: a CPU id, or CPUS for "on no CPU", which stays), `owner` (a lock
owner: an instance id, renamed when it is a CPU's) or `plain` (anything else, which it leaves
alone).  A `cpu_or_none` value goes where a CPU id does and back (CPUS as an index fails the
range check in a state and in its image alike); a spec that uses such a range as a plain
number (arithmetic, ordering) is read again with it plain.  CPU ids may be compared
for (in)equality with each other, used as indices of `cpu`-indexed arrays, chosen with
`any`, quantified over and stored in `cpu` variables.  Anything else that touches a CPU id
(ordering, arithmetic, storing it in a non-`cpu` variable, indexing a `cpu` array with a
plain int) makes the model not symmetric, with the reason and where.  A *constant* CPU id
(`its.target = 0`, `c == 0`, `a[0]`) does not: that CPU is pinned, and the group is the
permutations that fix every pinned CPU (the stabiliser), which keeps (N-k)! of the N!.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from compiler import ir
from dsl.source import Span

CPU, NONE_CPU, OWNER, PLAIN, CONST, ARRAY = "cpu", "cpu_or_none", "owner", "plain", "const", "array"
CPUISH = (CPU, NONE_CPU)  # a CPU id, or (NONE_CPU) CPUS for none: renamed by the permutation, CPUS kept


@dataclass(frozen=True, slots=True)
class VarShape:
    """How the permutation moves one variable: which index dimensions are CPU ids, and the
    sort of its elements ("cpu", "cpu_or_none", "owner" or "plain")."""

    name: str
    cpu_dims: tuple[bool, ...]
    elem: str


@dataclass(frozen=True, slots=True)
class Pin:
    """A constant the model compares CPU ids (or lock owners) with: that CPU stays put."""

    value: ir.Expr
    sort: str  # "cpu"/"cpu_or_none": the value is a CPU id (or CPUS: none); "owner": an instance id
    where: str  # "specs/x.irqspec:40"
    text: str  # the expression it appears in, for the report


@dataclass(frozen=True, slots=True)
class Analysis:
    reasons: tuple[str, ...]  # why the model is not symmetric; empty when it is
    agent: str | None  # the cpu agent, whose instances are permuted with their ids
    vars: tuple[VarShape, ...]
    pins: tuple[Pin, ...]
    offsets: tuple[ir.Expr, ...]  # constants added to CPU ids to make lock owners: each must be the cpu agent's base

    @property
    def symmetric(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, slots=True)
class Group:
    """The group at fixed parameters: every permutation of `movable` (the other CPUs stay put)."""

    cpus: int
    movable: tuple[int, ...]
    pinned: dict[int, str] = field(default_factory=dict)  # CPU id -> where the model names it
    reasons: tuple[str, ...] = ()

    @property
    def order(self) -> int:
        n = 1
        for k in range(2, len(self.movable) + 1):
            n *= k
        return n

    def describe(self) -> str:
        if self.reasons:
            return "not symmetric in CPU ids: " + "; ".join(self.reasons)
        if len(self.movable) < 2:
            pins = ", ".join(f"CPU {c} ({w})" for c, w in sorted(self.pinned.items()))
            return f"no CPU symmetry at {self.cpus} CPUs" + (f": the spec names {pins}" if pins else "")
        moved = ", ".join(str(c) for c in self.movable)
        text = f"symmetric under the {self.order} permutations of CPUs {moved}"
        if self.pinned:
            text += " (" + "; ".join(f"CPU {c} stays: {w}" for c, w in sorted(self.pinned.items())) + ")"
        return text


@ir.per_model
def analyse(model: ir.Model) -> Analysis:
    """The symmetry of `model` in its CPU ids, independent of the parameters (see module doc):
    with `0..CPUS` ranges read as CPU ids or none, else (when that reading fails) as plain."""
    first = _Analyser(model, none_sort=True).run()
    return first if first.symmetric else _Analyser(model, none_sort=False).run()


def group(a: Analysis, model: ir.Model, params: dict[str, int]) -> Group:
    """The permutations the search may use at `params`."""
    cpu = next((ag for ag in model.agents if ag.name == a.agent), None)
    n = 0 if cpu is None else ir.instance_count(cpu, params)
    if not a.symmetric or cpu is None:
        return Group(n, (), {}, a.reasons or ("the spec has no cpu agent",))
    base = ir.instance_base(model, cpu.name, params)
    bad = [ir.show(o) for o in a.offsets if ir.eval_const(o, params) != base]
    if bad:
        return Group(n, (), {}, tuple(f"lock owner `{b} + self` is not a CPU's instance id" for b in bad))
    pinned: dict[int, str] = {}
    for p in a.pins:
        v = ir.eval_const(p.value, params)
        c = v if p.sort in CPUISH else v - base  # CPUS, none, is out of range: no pin
        if 0 <= c < n:
            pinned.setdefault(c, f"`{p.text}` at {p.where}")
    movable = tuple(c for c in range(n) if c not in pinned)
    return Group(n, movable if len(movable) > 1 else (), pinned)  # one CPU alone moves nowhere


# --------------------------------------------------------------------------- the analysis


def _is_const(e: ir.Expr) -> bool:
    if isinstance(e, (ir.Lit, ir.ParamRef)):
        return True
    if isinstance(e, ir.Unary):
        return _is_const(e.arg)
    if isinstance(e, ir.Binary):
        return _is_const(e.left) and _is_const(e.right)
    return False


def _a(sort: str) -> str:
    return f"an {sort}" if sort == OWNER else f"a {sort}"


def _where(span: Span, fallback: Span) -> str:
    s = span if span.line else fallback
    return f"{s.path}:{s.line}" if s.line else "(generated code)"


class _Analyser:
    def __init__(self, model: ir.Model, none_sort: bool) -> None:
        self.model = model
        self.none_sort = none_sort
        cpus = [a for a in model.agents if a.kind == "cpu" and a.domain is not None]
        self.cpu_agent = cpus[0] if len(cpus) == 1 else None
        self.cpu_type = self.cpu_agent.domain if self.cpu_agent is not None else None
        self.agent: ir.Agent | None = None  # the agent whose step is being read
        self.span = model.span  # the statement being read, for expressions without a span
        self.reasons: list[str] = []
        self.pins: list[Pin] = []
        self.offsets: list[ir.Expr] = []

    def run(self) -> Analysis:
        if self.cpu_agent is None or self.cpu_type is None:
            return Analysis(("the spec has no cpu agent",), None, (), (), ())
        if not (isinstance(self.cpu_type.lo, ir.Lit) and self.cpu_type.lo.value == 0):
            self.reasons.append("the cpu type does not start at 0")
        for a in self.model.agents:
            # Only the cpu agent's instances move with their ids; another per-CPU agent (a
            # timer of the cpu block) would keep its pcs in place: not a symmetry of the model.
            if a is not self.cpu_agent and a.domain is not None:
                self.reasons.append(f"agent `{a.name}` has one instance per value of `{a.domain}` "
                                    f"({_where(a.span, self.model.span)}), and only the cpu block's instances are permuted")
        shapes = tuple(self._var(v) for v in self.model.vars)
        for e in self.model.initially:
            self.span = e.span
            self.expect(e, PLAIN)
        for a in self.model.agents:
            self.agent = a
            for st in a.steps:
                self.stmts(st.body)
        self.agent = None
        for p in self.model.properties:
            if p.expr is not None:
                self.span = p.span
                self.expect(p.expr, PLAIN)
        return Analysis(tuple(dict.fromkeys(self.reasons)), self.cpu_agent.name, shapes, tuple(self.pins),
                        tuple(self.offsets))

    # ------------------------------------------------------------------ declarations

    def _var(self, v: ir.Var) -> VarShape:
        dims: list[bool] = []
        t: ir.Type = v.type
        while isinstance(t, ir.ArrayType):
            dims.append(self._sort_of_type(t.index) == CPU)
            t = t.elem
        elem = self._sort_of_type(t)
        if v.init is not None:
            self.span = v.span
            self._pin_or_check(v.init, elem, v.span, f"{v.name} = {ir.show(v.init)}")
        return VarShape(v.name, tuple(dims), elem)

    def _sort_of_type(self, t: ir.Type) -> str:
        if isinstance(t, ir.IntType) and t.name == "cpu":
            return CPU if t == self.cpu_type else PLAIN
        if self.none_sort and isinstance(t, ir.IntType) and self._cpus_or_none(t):
            return NONE_CPU
        if isinstance(t, ir.IntType) and t.name == "owner":
            return OWNER
        return ARRAY if isinstance(t, ir.ArrayType) else PLAIN

    def _cpus_or_none(self, t: ir.IntType) -> bool:
        """`0..P` where the cpu type is `0..(P - 1)`."""
        hi = self.cpu_type.hi if self.cpu_type is not None else None
        return (isinstance(t.lo, ir.Lit) and t.lo.value == 0 and isinstance(t.hi, ir.ParamRef)
                and isinstance(hi, ir.Binary) and hi.op == "sub" and isinstance(hi.left, ir.ParamRef)
                and hi.left.param == t.hi.param and isinstance(hi.right, ir.Lit) and hi.right.value == 1)

    # ------------------------------------------------------------------ statements

    def stmts(self, body: tuple[ir.Stmt, ...]) -> None:
        for s in body:
            self.span = s.span
            if isinstance(s, ir.Assign):
                self.expect(s.value, self.sort(s.target))
            elif isinstance(s, ir.If):
                self.expect(s.cond, PLAIN)
                self.stmts(s.then)
                self.stmts(s.else_)
            elif isinstance(s, (ir.Assume, ir.Check)):
                self.expect(s.cond, PLAIN)
            elif isinstance(s, ir.Choose):
                self._sort_of_type(s.choice.type)  # every value of its type: a closed set
            elif not isinstance(s, ir.Goto):
                self.reasons.append(f"unknown statement {type(s).__name__}")

    # ------------------------------------------------------------------ expressions

    def expect(self, e: ir.Expr, want: str) -> None:
        """`e` is used where a value of sort `want` belongs."""
        have = self.sort(e)
        if have == want or (have in CPUISH and want in CPUISH):
            return
        if have == CONST:
            self._pin_or_check(e, want, e.span, ir.show(e))
        elif want == OWNER and have == CPU and self._cpu_base_is_zero():
            return  # the cpu agent comes first: its instance ids are its CPU ids
        elif have == OWNER and isinstance(e, ir.Binary):
            self._reason(e, "arithmetic on a CPU id (only a lock owner is a CPU id plus a constant)")
        else:
            self._reason(e, f"{_a(have)} value where {_a(want)} value belongs")

    def _pin_or_check(self, e: ir.Expr, want: str, span: Span, text: str) -> None:
        if want in (CPU, NONE_CPU, OWNER):
            self.pins.append(Pin(e, want, _where(span, self.span), text))

    def _cpu_base_is_zero(self) -> bool:
        return self.model.agents[0] is self.cpu_agent

    def _reason(self, e: ir.Expr, why: str) -> None:
        self.reasons.append(f"`{ir.show(e)}` at {_where(e.span, self.span)}: {why}")

    def sort(self, e: ir.Expr) -> str:
        if _is_const(e):
            return CONST
        if isinstance(e, ir.VarRef):
            return self._sort_of_type(e.var.type)
        if isinstance(e, ir.Index):
            return self._index(e)
        if isinstance(e, ir.SelfIndex):
            return CPU if self.agent is self.cpu_agent else PLAIN
        if isinstance(e, ir.ChoiceRef):
            return self._sort_of_type(e.choice.type)
        if isinstance(e, ir.BoundRef):
            return self._sort_of_type(e.bound.type)
        if isinstance(e, ir.Unary):
            self._plain_operand(e.arg, e, "arithmetic on a CPU id" if e.op == "neg" else "")
            return PLAIN
        if isinstance(e, ir.Binary):
            return self._binary(e)
        if isinstance(e, ir.Ite):
            return self._ite(e)
        if isinstance(e, ir.Quant):
            self.expect(e.body, PLAIN)
            return PLAIN
        if isinstance(e, (ir.AtLoc, ir.Enabled)):
            if e.index is not None:
                self.expect(e.index, CPU if self.cpu_agent is not None and e.agent == self.cpu_agent.name else PLAIN)
            return PLAIN
        self._reason(e, f"unknown expression {type(e).__name__}")
        return PLAIN

    def _index(self, e: ir.Index) -> str:
        bt = ir.type_of(e.base)
        if not isinstance(bt, ir.ArrayType):
            self._reason(e, "an index into a non-array")
            return PLAIN
        self.sort(e.base)  # the indices further in
        self.expect(e.index, CPU if self._sort_of_type(bt.index) == CPU else PLAIN)
        return self._sort_of_type(bt.elem)

    def _plain_operand(self, e: ir.Expr, parent: ir.Expr, why: str) -> None:
        have = self.sort(e)
        if have == OWNER and isinstance(e, ir.Binary):
            self._reason(parent, "arithmetic on a CPU id")
        elif have in (CPU, NONE_CPU, OWNER):
            self._reason(parent, why or f"{_a(have)} value where a plain value belongs")

    def _binary(self, e: ir.Binary) -> str:
        if e.op in ("eq", "ne"):
            left, right = self.sort(e.left), self.sort(e.right)
            if left == right or (left in CPUISH and right in CPUISH):
                return PLAIN
            if left == CONST:
                self.expect(e.left, right)
            elif right == CONST:
                self.expect(e.right, left)
            elif {left, right} == {CPU, OWNER} and self._cpu_base_is_zero():
                pass
            else:
                self._reason(e, f"compares a {left} value with a {right} value")
            return PLAIN
        if e.op == "add":
            owner = self._owner_id(e)
            if owner is not None:
                return owner
        if self._range_test(e):
            return PLAIN
        why = "orders CPU ids (a permutation of CPUs does not keep their order)" \
            if e.op in ("lt", "le", "gt", "ge") else "arithmetic on a CPU id" if e.op in ("add", "sub", "mul") else ""
        self._plain_operand(e.left, e, why)
        self._plain_operand(e.right, e, why)
        return PLAIN

    _FLIP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}

    def _range_test(self, e: ir.Binary) -> bool:
        """`lo <= x`, `x <= CPUS - 1` or `x <= CPUS` for a CPU id (or none) x, as lowering's
        in_range checks write them for the cpu type and `0..CPUS`: each is true of every CPU id
        alike (and of none, CPUS, or not), so no permutation changes it."""
        if e.op not in self._FLIP or self.cpu_type is None:
            return False
        x, k, op = (e.left, e.right, e.op) if _is_const(e.right) else (e.right, e.left, self._FLIP[e.op])
        if _is_const(x) or not _is_const(k) or self.sort(x) not in CPUISH:
            return False
        if op == "ge":
            return ir.show(k) == ir.show(self.cpu_type.lo)
        hi = self.cpu_type.hi  # `x <= CPUS - 1`: a CPU id, not none; `x <= CPUS`: either
        return op == "le" and (ir.show(k) == ir.show(hi) or (
            isinstance(k, ir.ParamRef) and self._cpus_or_none(ir.IntType(self.cpu_type.lo, k))))

    def _owner_id(self, e: ir.Binary) -> str | None:
        """`base + self`: the lock owner id of a CPU (compiler/cfg.py, `me`)."""
        for const, other in ((e.left, e.right), (e.right, e.left)):
            if _is_const(const) and not _is_const(other) and self.sort(other) == CPU:
                self.offsets.append(const)
                return OWNER
        return None

    def _ite(self, e: ir.Ite) -> str:
        self.expect(e.cond, PLAIN)
        a, b = self.sort(e.then), self.sort(e.else_)
        if a == b:
            return a
        if a in CPUISH and b in CPUISH:
            return NONE_CPU
        if a == CONST:
            self.expect(e.then, b)
            return b
        if b == CONST:
            self.expect(e.else_, a)
            return a
        self._reason(e, f"one arm is a {a} value, the other a {b} value")
        return PLAIN


__all__ = ["Analysis", "Group", "Pin", "VarShape", "analyse", "group"]
