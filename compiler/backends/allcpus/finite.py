"""One finite instance (CPUS = n), in the slot layout both other backends share.

`TupleState` reads a state of the exhaustive search (a tuple of slot values) for
`Views.alpha`; `SlotSymbolic` reads a state of the Z3 backend's own bit-vector/int
encoding (compiler/backends/z3/system.py) for the clauses' formulas, which is how an all-CPU
invariant is cross-checked against an encoding written independently of this package.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable, Sequence

import z3

from compiler import ir
from compiler.backends.z3.layout import Layout


class _Slots:
    def __init__(self, layout: Layout, cpu_agent: str) -> None:
        self.layout = layout
        self.cpu_agent = cpu_agent
        self.n = len(layout.by_agent[cpu_agent])

    def slot(self, var: ir.Var, j: int | None, rest: tuple[int, ...]) -> int:
        shape = self.layout.shapes[var]
        values = ([j] if j is not None else []) + list(rest)
        return shape.offset(tuple(v - d.start for v, d in zip(values, shape.dims)))

    def pc_slot(self, agent: str, j: int | None) -> int:
        return self.layout.by_agent[agent][j or 0].pc

    def base(self) -> int:
        return self.layout.by_agent[self.cpu_agent][0].gid


class TupleState(_Slots):
    def __init__(self, layout: Layout, cpu_agent: str, s: Sequence[int]) -> None:
        super().__init__(layout, cpu_agent)
        self.s = s

    def cpus(self) -> Sequence[Hashable]:
        return range(self.n)

    def elem(self, var: ir.Var, j: Hashable | None, rest: tuple[int, ...]) -> Hashable:
        v = self.s[self.slot(var, _int(j), rest)]
        _, elem = _elem(var.type)
        return bool(v) if isinstance(elem, ir.BoolType) else v

    def pc(self, agent: str, j: Hashable | None) -> int:
        return self.s[self.pc_slot(agent, _int(j))]

    def owner(self, var: ir.Var) -> tuple[str, Hashable]:
        gid = self.s[self.slot(var, None, ())]
        if gid == -1:
            return "free", None
        inst = self.layout.instances[gid]
        if inst.agent.name == self.cpu_agent:
            return "cpu", inst.index
        return "agent", inst.agent.name

    def pinned(self, k: int) -> Hashable:
        return k


class SlotSymbolic(_Slots):
    def __init__(self, layout: Layout, cpu_agent: str, state: list[z3.ExprRef]) -> None:
        super().__init__(layout, cpu_agent)
        self.state = state

    def elem(self, var: ir.Var, j: Any, rest: tuple[int, ...]) -> z3.ExprRef:
        return self.state[self.slot(var, j, rest)]

    def pc(self, agent: str, j: Any) -> z3.ExprRef:
        return self.state[self.pc_slot(agent, j)]

    def cpu_eq(self, a: Any, b: Any) -> z3.BoolRef:
        if isinstance(a, int) and isinstance(b, int):
            return z3.BoolVal(a == b)
        return a == b

    def owned_by(self, var: ir.Var, j: Any) -> z3.BoolRef:
        return self.state[self.slot(var, None, ())] == self.base() + j

    def owner_kind(self, var: ir.Var, kind: str) -> z3.BoolRef:
        t = self.state[self.slot(var, None, ())]
        if kind == "free":
            return t == -1
        if kind == "cpu":
            return z3.And(t >= self.base(), t < self.base() + self.n)
        return t == self.layout.by_agent[kind][0].gid

    def pinned(self, k: int) -> Any:
        return k

    def forall(self, body: Callable[[Any], z3.BoolRef]) -> z3.BoolRef:
        return z3.And([body(j) for j in range(self.n)])

    def exists(self, body: Callable[[Any], z3.BoolRef]) -> z3.BoolRef:
        return z3.Or([body(j) for j in range(self.n)])



def _int(j: Hashable | None) -> int | None:
    assert j is None or isinstance(j, int)
    return j


def _elem(t: ir.Type) -> tuple[int, ir.Type]:
    n = 0
    while isinstance(t, ir.ArrayType):
        t, n = t.elem, n + 1
    return n, t
