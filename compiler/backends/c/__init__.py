"""The C backend: a compiled exhaustive search generated from the same IR.

    from compiler.backends.c import generate, search
    program = generate(model, params)            # C source + the layout it packs states by
    result = search.run(program, sim, max_states, max_seconds)   # compiles (cached) and runs it

The program starts from the initial states the simulator `sim` enumerates (written to a file
for it), and its paths are replayed in `sim`.
It answers what the Python simulator's `explore` answers, in the same order, 10-40 times
faster; `compiler/engine.py` replays every path it reports in the Python simulator (the
reference), so a disagreement is caught on every run.  docs/prove.md, "The compiled
search", says when it runs.  It imports neither the Python nor the Z3 backend.
"""
from __future__ import annotations

from compiler.backends.c.generate import Program, generate
from compiler.backends.c.layout import UnsupportedC

__all__ = ["Program", "UnsupportedC", "generate"]
