"""Features: a state seen as its global part and the local state of each CPU.

The *local state* of CPU j is everything the model says about j alone: the elements
`a[j][...]` of every array indexed by cpu, j's program counter, whether j is the value of
each CPU-valued global (`its.target == j`), whether j is a pinned CPU (`j == cpu0`), and
whether j holds each lock.  The *global part* is everything else: scalars, the other
agents' pcs, which kind of owner holds each lock, and which CPU-valued globals are equal.
An abstract state (`alpha`) is the global part and, for each local state, whether 1 or at
least 2 CPUs are in it (0 when absent): the small instances' reachable states, so abstracted,
guide the clause search (compiler/backends/allcpus/clauses.py), whose clauses are literals over
the same features (`global_literal`, `local_literal`, read through a `Symbolic` state).

Both concrete states (a finite instance's tuples, a Z3 model's universe) and symbolic
states (the parametric encoding, or the bit-vector encoding of one instance) go through
the same feature list, so the abstraction and its meaning cannot drift apart.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Protocol, Sequence

import z3

from compiler import ir
from compiler.backends.allcpus.param import Fn, PState, System, Unsupported, Value, elem_type, is_cpu_type

Local = tuple[Any, ...]
Global = tuple[Any, ...]
Abstract = tuple[Global, tuple[tuple[Local, int], ...]]  # counts are 1 or 2 (2 means "2 or more")


@dataclass(frozen=True, slots=True)
class Feature:
    kind: str  # local: "arr" "pc" "is" "pin" "owns"; global: "var" "gpc" "lock" "ceq" "cpin"
    var: ir.Var | None = None
    rest: tuple[int, ...] = ()  # positions in the non-cpu dimensions (values, not offsets)
    other: tuple[ir.Var, tuple[int, ...]] | None = None  # "ceq": the second CPU-valued global
    agent: str | None = None
    k: int = 0  # "pin", "cpin"

    def text(self, j: str = "j") -> str:
        rest = "".join(f"[{r}]" for r in self.rest)
        if self.kind == "arr":
            assert self.var is not None
            return f"{self.var.name}[{j}]{rest}"
        if self.kind == "pc":
            return f"pc[{j}]"
        if self.kind == "is":
            assert self.var is not None
            return f"{j} == {self.var.name}{rest}"
        if self.kind == "pin":
            return f"{j} == {self.k}"
        if self.kind == "owns":
            assert self.var is not None
            return f"{self.var.name} held by {j}"
        if self.kind == "var":
            assert self.var is not None
            return f"{self.var.name}{rest}"
        if self.kind == "gpc":
            return f"pc.{self.agent}"
        if self.kind == "lock":
            assert self.var is not None
            return f"{self.var.name} holder"
        if self.kind == "ceq":
            assert self.var is not None and self.other is not None
            return f"{self.var.name}{rest} == {self.other[0].name}{''.join(f'[{r}]' for r in self.other[1])}"
        assert self.var is not None
        return f"{self.var.name}{rest} == {self.k}"


class Concrete(Protocol):
    """A state with a finite set of CPUs, read as Python values."""

    def cpus(self) -> Sequence[Hashable]: ...
    def elem(self, var: ir.Var, j: Hashable | None, rest: tuple[int, ...]) -> Hashable: ...
    def pc(self, agent: str, j: Hashable | None) -> int: ...
    def owner(self, var: ir.Var) -> tuple[str, Hashable]: ...  # ("free", None) ("cpu", j) ("agent", name)
    def pinned(self, k: int) -> Hashable: ...


class Symbolic(Protocol):
    """A state as Z3 terms, with quantifiers over its CPUs."""

    def elem(self, var: ir.Var, j: Any, rest: tuple[int, ...]) -> z3.ExprRef: ...
    def pc(self, agent: str, j: Any) -> z3.ExprRef: ...
    def cpu_eq(self, a: Any, b: Any) -> z3.BoolRef: ...
    def owned_by(self, var: ir.Var, j: Any) -> z3.BoolRef: ...
    def owner_kind(self, var: ir.Var, kind: str) -> z3.BoolRef: ...
    def pinned(self, k: int) -> Any: ...
    def forall(self, body: Callable[[Any], z3.BoolRef]) -> z3.BoolRef: ...
    def exists(self, body: Callable[[Any], z3.BoolRef]) -> z3.BoolRef: ...


class Views:
    """The feature lists of a model, `alpha` (concrete -> abstract) and `gamma` (abstract -> formula)."""

    def __init__(self, model: ir.Model, system: System, cone: set[ir.Var] | None = None) -> None:
        """`cone`: the variables the features mention (default: all)."""
        self.model = model
        self.sys = system
        self.local: list[Feature] = []
        self.glob: list[Feature] = []
        cpu_globals: list[tuple[ir.Var, tuple[int, ...]]] = []
        for v in model.vars:
            if cone is not None and v not in cone:
                continue
            dims, elem = elem_type(v.type)
            cpu_first = bool(dims) and is_cpu_type(dims[0])
            rest_dims = dims[1:] if cpu_first else dims
            rests = list(itertools.product(*(self._values(d) for d in rest_dims)))
            if v.kind == "lock":
                if dims:
                    raise Unsupported(f"the counter abstraction has no place for the lock array {v.name}")
                self.glob.append(Feature("lock", v))
                self.local.append(Feature("owns", v))
            elif cpu_first:
                if is_cpu_type(elem):
                    raise Unsupported(f"the counter abstraction has no place for {v.name}: CPU ids per CPU")
                self.local += [Feature("arr", v, r) for r in rests]
            elif is_cpu_type(elem):
                cpu_globals += [(v, r) for r in rests]
            else:
                self.glob += [Feature("var", v, r) for r in rests]
        self.local.append(Feature("pc"))
        self.glob += [Feature("gpc", agent=a.name) for a in system.others]
        self.local += [Feature("is", v, r) for v, r in cpu_globals]
        for (a, ra), (b, rb) in itertools.combinations(cpu_globals, 2):
            self.glob.append(Feature("ceq", a, ra, (b, rb)))
        self.cpu_globals = cpu_globals

    def add_pins(self) -> None:
        """Pinned CPUs are known once the encoding is built; call before alpha/gamma."""
        for k in sorted(self.sys.pinned):
            self.local.append(Feature("pin", k=k))
            self.glob += [Feature("cpin", v, r, k=k) for v, r in self.cpu_globals]

    def _values(self, d: ir.IntType | ir.EnumType) -> range:
        return ir.domain_values(d, self.sys.params)

    def bystander(self) -> Local | None:
        """The local state of a CPU that exists, has never stepped and that nothing names: its
        pc initial, its array elements at their initial values (None when one is not a constant)."""
        out: list[Hashable] = []
        for f in self.local:
            if f.kind == "pc":
                out.append(self.sys.cpu_agent.initial)
            elif f.kind == "arr":
                assert f.var is not None
                if f.var.init is None:
                    return None
                try:
                    value = ir.eval_const(f.var.init, self.sys.params)
                except (ValueError, KeyError):
                    return None
                out.append(bool(value) if isinstance(elem_type(f.var.type)[1], ir.BoolType) else value)
            else:
                out.append(False)  # "is", "pin", "owns"
        return tuple(out)

    # ----------------------------------------------------------------- alpha

    def alpha(self, s: Concrete) -> Abstract:
        g = tuple(self.global_value(f, s) for f in self.glob)
        counts: dict[Local, int] = {}
        for j in s.cpus():
            loc = tuple(self.local_value(f, s, j) for f in self.local)
            counts[loc] = min(2, counts.get(loc, 0) + 1)  # 2 means 2 or more
        return g, tuple(sorted(counts.items()))

    def local_value(self, f: Feature, s: Concrete, j: Hashable) -> Hashable:
        if f.kind == "arr":
            assert f.var is not None
            return s.elem(f.var, j, f.rest)
        if f.kind == "pc":
            return s.pc(self.sys.cpu_agent.name, j)
        if f.kind == "is":
            assert f.var is not None
            return s.elem(f.var, None, f.rest) == j
        if f.kind == "pin":
            return s.pinned(f.k) == j
        assert f.var is not None
        return s.owner(f.var) == ("cpu", j)

    def global_value(self, f: Feature, s: Concrete) -> Hashable:
        if f.kind == "var":
            assert f.var is not None
            return s.elem(f.var, None, f.rest)
        if f.kind == "gpc":
            assert f.agent is not None
            return s.pc(f.agent, None)
        if f.kind == "lock":
            assert f.var is not None
            kind, who = s.owner(f.var)
            return who if kind == "agent" else kind
        if f.kind == "ceq":
            assert f.var is not None and f.other is not None
            return s.elem(f.var, None, f.rest) == s.elem(f.other[0], None, f.other[1])
        assert f.var is not None
        return s.elem(f.var, None, f.rest) == s.pinned(f.k)

    # ----------------------------------------------------------------- gamma

    def local_literal(self, f: Feature, acc: Symbolic, j: Any, v: Hashable) -> z3.BoolRef:
        if f.kind == "arr":
            assert f.var is not None
            return _is(acc.elem(f.var, j, f.rest), v)
        if f.kind == "pc":
            return _is(acc.pc(self.sys.cpu_agent.name, j), v)
        if f.kind == "is":
            assert f.var is not None
            return _lit(acc.cpu_eq(acc.elem(f.var, None, f.rest), j), bool(v))
        if f.kind == "pin":
            return _lit(acc.cpu_eq(acc.pinned(f.k), j), bool(v))
        assert f.var is not None
        return _lit(acc.owned_by(f.var, j), bool(v))

    def global_literal(self, acc: Symbolic, i: int, v: Hashable) -> z3.BoolRef:
        f = self.glob[i]
        if f.kind == "var":
            assert f.var is not None
            return _is(acc.elem(f.var, None, f.rest), v)
        if f.kind == "gpc":
            assert f.agent is not None
            return _is(acc.pc(f.agent, None), v)
        if f.kind == "lock":
            assert f.var is not None
            return acc.owner_kind(f.var, str(v))
        if f.kind == "ceq":
            assert f.var is not None and f.other is not None
            eq = acc.cpu_eq(acc.elem(f.var, None, f.rest), acc.elem(f.other[0], None, f.other[1]))
            return _lit(eq, bool(v))
        assert f.var is not None
        return _lit(acc.cpu_eq(acc.elem(f.var, None, f.rest), acc.pinned(f.k)), bool(v))

def _lit(b: z3.BoolRef, v: bool) -> z3.BoolRef:
    return b if v else z3.Not(b)


def _is(t: z3.ExprRef, v: Hashable) -> z3.BoolRef:
    if z3.is_bool(t):
        return _lit(t, bool(v))
    return t == v


# --------------------------------------------------------------------------- accessors


def _i(j: Hashable) -> int:
    assert isinstance(j, int)
    return j


def _at(v: Value, idx: list[z3.ExprRef]) -> z3.ExprRef:
    return v(idx) if isinstance(v, Fn) else v


class ParamSymbolic:
    """A state of the parametric encoding: quantifiers over the unbounded sort CPU."""

    def __init__(self, system: System, s: PState) -> None:
        self.sys, self.s = system, s

    def elem(self, var: ir.Var, j: Any, rest: tuple[int, ...]) -> z3.ExprRef:
        return _at(self.s.vars[var], ([j] if j is not None else []) + [z3.IntVal(r) for r in rest])

    def pc(self, agent: str, j: Any) -> z3.ExprRef:
        return _at(self.s.pcs[agent], [j] if j is not None else [])

    def cpu_eq(self, a: Any, b: Any) -> z3.BoolRef:
        return a == b

    def owned_by(self, var: ir.Var, j: Any) -> z3.BoolRef:
        return _at(self.s.vars[var], []) == self.sys.Owner.cpu(j)

    def owner_kind(self, var: ir.Var, kind: str) -> z3.BoolRef:
        o, t = self.sys.Owner, _at(self.s.vars[var], [])
        if kind == "free":
            return t == o.free
        if kind == "cpu":
            return o.is_cpu(t)
        return t == getattr(o, f"agent_{kind}")

    def pinned(self, k: int) -> Any:
        return self.sys.pinned[k]

    def forall(self, body: Callable[[Any], z3.BoolRef]) -> z3.BoolRef:
        j = self.sys.fresh_cpu("j")
        return z3.ForAll([j], body(j))

    def exists(self, body: Callable[[Any], z3.BoolRef]) -> z3.BoolRef:
        j = self.sys.fresh_cpu("j")
        return z3.Exists([j], body(j))



class ModelConcrete:
    """The post-state of a counterexample to induction, read from a Z3 model."""

    def __init__(self, system: System, s: PState, m: z3.ModelRef) -> None:
        self.sys, self.s, self.m = system, s, m
        universe = m.get_universe(system.CPU) or []
        self.elems = list(universe)

    def _key(self, t: z3.ExprRef) -> int:
        v = self.m.eval(t, model_completion=True)
        for i, e in enumerate(self.elems):
            if v.eq(e):
                return i
        raise Unsupported("a CPU outside the model's universe")

    def cpus(self) -> Sequence[Hashable]:
        return range(len(self.elems))

    def _val(self, t: z3.ExprRef) -> Hashable:
        if t.sort() == self.sys.CPU:
            return self._key(t)
        v = self.m.eval(t, model_completion=True)
        if z3.is_bool(v):
            return bool(z3.is_true(v))
        return int(v.as_long())

    def elem(self, var: ir.Var, j: Hashable | None, rest: tuple[int, ...]) -> Hashable:
        idx = ([self.elems[_i(j)]] if j is not None else []) + [z3.IntVal(r) for r in rest]
        return self._val(_at(self.s.vars[var], idx))

    def pc(self, agent: str, j: Hashable | None) -> int:
        v = self._val(_at(self.s.pcs[agent], [self.elems[_i(j)]] if j is not None else []))
        assert isinstance(v, int)
        return v

    def owner(self, var: ir.Var) -> tuple[str, Hashable]:
        o, t = self.sys.Owner, _at(self.s.vars[var], [])
        if z3.is_true(self.m.eval(t == o.free, model_completion=True)):
            return "free", None
        if z3.is_true(self.m.eval(o.is_cpu(t), model_completion=True)):
            return "cpu", self._key(o.owner_cpu(t))
        for a in self.sys.others:
            if z3.is_true(self.m.eval(t == getattr(o, f"agent_{a.name}"), model_completion=True)):
                return "agent", a.name
        raise Unsupported(f"an owner of {var.name} with no name")

    def pinned(self, k: int) -> Hashable:
        return self._key(self.sys.pinned[k])
