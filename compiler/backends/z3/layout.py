"""The state of a model at fixed parameters, flattened to scalar slots.

Every scalar variable is one slot, every array element is one slot (nested
arrays in row-major order), and every agent instance has one pc slot.  A state
of the transition system is then a list of Z3 constants, one per slot, and the
same index addresses the same slot at every depth.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from compiler import ir


@dataclass(frozen=True, slots=True)
class Slot:
    name: str  # "desc.pending", "redist.pending[1]", "pc.cpu[0]"
    is_bool: bool
    lo: int  # value range (bools: 0..1)
    hi: int
    var: ir.Var | None  # None for a pc
    position: tuple[int, ...]  # element position within an array var, () for scalars


@dataclass(frozen=True, slots=True)
class Instance:
    """One agent instance: what `SelfIndex` evaluates to and what lock vars store."""

    agent: ir.Agent
    index: int  # 0..count-1 within the agent
    value: int  # the domain value `SelfIndex` denotes (== index when the domain starts at 0)
    gid: int  # global id, stored by lock owner vars
    name: str  # "cpu[1]", "nic"
    pc: int  # its pc slot


@dataclass(frozen=True, slots=True)
class Action:
    """One (agent instance, step) pair: a disjunct of the transition relation."""

    index: int
    inst: Instance
    step: ir.Step


@dataclass(frozen=True, slots=True)
class VarShape:
    base: int  # slot index of element (0, 0, ...)
    dims: tuple[range, ...]  # the index domain of every dimension, outermost first
    elem: ir.ScalarType

    def offset(self, position: tuple[int, ...]) -> int:
        off = 0
        for pos, dim in zip(position, self.dims):
            off = off * len(dim) + pos
        return self.base + off


class Layout:
    def __init__(self, model: ir.Model, params: dict[str, int]) -> None:
        self.model = model
        self.params = params
        self.slots: list[Slot] = []
        self.shapes: dict[ir.Var, VarShape] = {}
        self.instances: list[Instance] = []
        self.by_agent: dict[str, list[Instance]] = {}
        for var in model.vars:
            self._add_var(var)
        for agent in model.agents:
            self._add_agent(agent)
        self.actions = [Action(i, inst, step) for i, (inst, step) in enumerate(
            (inst, step) for inst in self.instances for step in inst.agent.steps)]

    def _add_var(self, var: ir.Var) -> None:
        dims: list[range] = []
        t: ir.Type = var.type
        while isinstance(t, ir.ArrayType):
            dims.append(ir.domain_values(t.index, self.params))
            t = t.elem
        values = ir.domain_values(t, self.params)
        shape = VarShape(len(self.slots), tuple(dims), t)
        self.shapes[var] = shape
        for position in itertools.product(*(range(len(d)) for d in dims)):
            label = "".join(f"[{d[p]}]" for d, p in zip(dims, position))
            is_bool = isinstance(t, ir.BoolType)
            self.slots.append(Slot(var.name + label, is_bool, values.start, values.stop - 1, var, position))

    def _add_agent(self, agent: ir.Agent) -> None:
        values = range(1) if agent.domain is None else ir.domain_values(agent.domain, self.params)
        insts: list[Instance] = []
        for i, v in enumerate(values):
            name = agent.name if agent.domain is None else f"{agent.name}[{i}]"
            self.slots.append(Slot(f"pc.{name}", False, 0, len(agent.locations) - 1, None, ()))
            insts.append(Instance(agent, i, v, len(self.instances) + len(insts), name, len(self.slots) - 1))
        self.instances.extend(insts)
        self.by_agent[agent.name] = insts

    def instance_for_value(self, agent: str, value: int) -> Instance | None:
        for inst in self.by_agent[agent]:
            if inst.value == value:
                return inst
        return None
