"""The Python backend: standalone simulators generated from an `ir.Model`.

    from compiler.backends.python import generate, load_simulator
    text = generate(model, "specs/x.irqspec")        # the module's source text
    sim = load_simulator(text, "x").Simulator({"CPUS": 3})
    result = sim.explore()                           # or: initial_states, enabled, successors, violated, replay

`irqc build` (compiler/cli/build.py) writes the text to `generated/<stem>.py`
through `files.plan_outputs` / `files.write_outputs`; `files.check_outputs` is
its `--check`.  docs/simulator.md describes the generated module.
"""
from __future__ import annotations

import types

from compiler.backends.python import cache
from compiler.backends.python.exprs import UnsupportedIR
from compiler.backends.python.generate import MARKER, generate

__all__ = ["MARKER", "UnsupportedIR", "generate", "load_simulator"]


def load_simulator(text: str, name: str = "simulator") -> types.ModuleType:
    """Execute generated source as a fresh module (tests and cross-checks use this
    instead of writing a file and importing it; irqc's own runs use `cache.simulator`)."""
    filename = f"<irqc simulator {name}>"
    return cache.module(compile(text, filename, "exec"), name, filename)
