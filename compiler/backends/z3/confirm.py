"""Z3's check of one given counterexample: is this very run a run of the transition system,
and does it violate the property at its end?

The exhaustive search gives each violation a canonical trace (the first run breadth-first
search meets, docs/prove.md); irqc prints that trace, so the answer does not depend on
which other properties or specs were in the same command.  This module is how Z3 vouches
for it: every state and every action of the trace is pinned, and the query must be
satisfiable.  An unsatisfiable answer means the backends disagree (a bug in irqc).
"""
from __future__ import annotations

import z3

from compiler import ir
from compiler.backends.z3.bmc import violation
from compiler.backends.z3.layout import Layout
from compiler.backends.z3.system import TransitionSystem
from compiler.trace import Trace, TraceState, Value


def confirm_trace(ts: TransitionSystem, trace: Trace, prop: ir.Property, timeout: float | None = None) -> str | None:
    """None when Z3 accepts `trace` as a violation of `prop`; otherwise why not."""
    depth = len(trace.states) - 1
    solver = ts.new_solver()
    if timeout is not None:
        solver.set("timeout", max(1, int(timeout * 1000)))
    solver.add(ts.init("0"))
    actions = {(a.inst.name, a.step.name): a.index for a in ts.layout.actions}
    step = None
    for k, state in enumerate(trace.states):
        if k > 0:
            step = ts.unroll(str(k - 1), str(k))
            solver.add(step.relation)
            key = (state.instance or "", state.step or "")
            if key not in actions:
                return f"step {k}: no action {key[0]}.{key[1]}"
            solver.add(step.sel == ts.ints.val(actions[key]))
        # A check violation's last state repeats the pre-state (ir.py): the real post-state
        # of the failing path is not shown, so it is left free.
        if not (prop.kind == "check" and k == depth and k > 0):
            solver.add(_pinned(ts, ts.state(str(k)), state))
    solver.add(violation(ts, prop, str(depth), step))
    answer = solver.check()
    if answer == z3.sat:
        return None
    if answer == z3.unknown:
        return f"Z3 could not decide ({solver.reason_unknown()})"
    return "Z3 finds no such run"


def _pinned(ts: TransitionSystem, terms: list[z3.ExprRef], state: TraceState) -> z3.BoolRef:
    values = _slot_values(ts.layout, state)
    return z3.And([t == (z3.BoolVal(bool(v)) if z3.is_bool(t) else ts.ints.val(v)) for t, v in zip(terms, values)])


def _slot_values(layout: Layout, state: TraceState) -> list[int]:
    out = [0] * len(layout.slots)
    for var, shape in layout.shapes.items():
        flat = _flatten(state.values[var.name])
        for i, v in enumerate(flat):
            out[shape.base + i] = _scalar(v, shape.elem)
    for agent in layout.model.agents:
        locs = state.values[f"pc.{agent.name}"]
        names = {loc.name: loc.index for loc in agent.locations}
        for inst, loc in zip(layout.by_agent[agent.name], locs if isinstance(locs, list) else [locs]):
            out[inst.pc] = names[str(loc)]
    return out


def _flatten(v: Value) -> list[Value]:
    if isinstance(v, list):
        return [x for item in v for x in _flatten(item)]
    return [v]


def _scalar(v: Value, t: ir.ScalarType) -> int:
    if isinstance(t, ir.EnumType):
        return t.members.index(str(v))
    assert isinstance(v, (bool, int)), f"not a scalar: {v!r}"
    return int(v)
