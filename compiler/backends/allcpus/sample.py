"""Reachable states of small instances, from the generated simulator's exhaustive search.

They only seed the abstraction: every state it adds is checked again by Z3, so a
sample that is cut short or even wrong can slow a proof down but never make one.
"""
from __future__ import annotations

from typing import Any, Sequence

from compiler import ir
from compiler.backends.python import generate, load_simulator


def reachable(model: ir.Model, params: dict[str, int], max_states: int) -> tuple[list[Sequence[int]], bool]:
    """The states the search meets (all of them when the bool is True), at most `max_states`."""
    sim: Any = load_simulator(generate(model, model.path), model.name).Simulator(params)
    result = sim.explore(max_states)
    return list(result.reached), bool(result.complete)
