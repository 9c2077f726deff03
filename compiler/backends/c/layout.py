"""Slot numbers of a model at fixed parameters, as the generated C search packs a state.

The order is the Python simulator's (`_Layout` in its runtime): var elements in declaration
order (arrays row-major), then one pc per agent instance in global instance order.  Keeping
it lets the C program print states that the simulator reads back slot for slot.  Each slot
stores `value - lo` in one unsigned cell, so a state is a short byte string.
"""
from __future__ import annotations

from dataclasses import dataclass

from compiler import ir


class UnsupportedC(Exception):
    """A model (or an IR node) the C search does not handle: the caller uses the Python search."""


@dataclass(frozen=True, slots=True)
class VarSlots:
    var: ir.Var
    base: int  # first slot
    dims: tuple[tuple[int, int], ...]  # (lo, hi) of each index, outer first
    strides: tuple[int, ...]
    lo: int  # element type's range
    hi: int

    @property
    def size(self) -> int:
        n = 1
        for lo, hi in self.dims:
            n *= max(0, hi - lo + 1)
        return n


@dataclass(frozen=True, slots=True)
class Layout:
    params: dict[str, int]
    vars: dict[ir.Var, VarSlots]
    pc_base: dict[str, int]  # agent name -> slot of instance 0's pc
    count: dict[str, int]  # agent name -> instances
    size: int  # slots
    lo: tuple[int, ...]  # per slot: the value cell 0 stands for
    hi: tuple[int, ...]

    @property
    def cell_bits(self) -> int:
        span = max((h - lo for lo, h in zip(self.lo, self.hi)), default=0)
        return 8 if span < 1 << 8 else 16


def scalar_bounds(t: ir.Type, params: dict[str, int]) -> tuple[int, int]:
    if isinstance(t, ir.BoolType):
        return 0, 1
    if isinstance(t, ir.EnumType):
        return 0, len(t.members) - 1
    if isinstance(t, ir.IntType):
        return ir.eval_const(t.lo, params), ir.eval_const(t.hi, params)
    raise UnsupportedC(f"no scalar bounds for type {t}")


def build(model: ir.Model, params: dict[str, int]) -> Layout:
    vars: dict[ir.Var, VarSlots] = {}
    los: list[int] = []
    his: list[int] = []
    n = 0
    for v in model.vars:
        dims: list[tuple[int, int]] = []
        t: ir.Type = v.type
        while isinstance(t, ir.ArrayType):
            dims.append(scalar_bounds(t.index, params))
            t = t.elem
        lo, hi = scalar_bounds(t, params)
        sizes = [max(0, h - low + 1) for low, h in dims]
        strides: list[int] = []
        size = 1
        for dim in reversed(sizes):
            strides.insert(0, size)
            size *= dim
        vars[v] = VarSlots(v, n, tuple(dims), tuple(strides), lo, hi)
        los += [lo] * size
        his += [hi] * size
        n += size
    pc_base: dict[str, int] = {}
    count: dict[str, int] = {}
    for a in model.agents:
        pc_base[a.name], count[a.name] = n, ir.instance_count(a, params)
        los += [0] * count[a.name]
        his += [max(0, len(a.locations) - 1)] * count[a.name]
        n += count[a.name]
    layout = Layout(dict(params), vars, pc_base, count, n, tuple(los), tuple(his))
    if any(h - lo >= 1 << 16 for lo, h in zip(los, his)):
        raise UnsupportedC("a variable has more than 65,536 values")
    return layout
