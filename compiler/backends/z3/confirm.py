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
from compiler.backends.z3.layout import Layout
from compiler.backends.z3.system import TransitionSystem
from compiler.backends.z3.terms import FALSE, mk_and, mk_not
from compiler.trace import Trace, TraceState, Value


def confirm_trace(ts: TransitionSystem, trace: Trace, prop: ir.Property, timeout: float | None = None) -> str | None:
    """None when Z3 accepts `trace` as a violation of `prop`; otherwise why not.

    Every state is pinned, so the run is a run of the transition system exactly when its first
    state is initial, each step is its action taken between its two states (with some choice
    values: each step's are its own), and the last state (for a failed check: the last step)
    violates `prop`.  Those are separate queries, each over one action's part of the relation,
    rather than one query over the unrolled trace: the same answer, at a fraction of the size."""
    depth = len(trace.states) - 1
    actions = {(a.inst.name, a.step.name): a.index for a in ts.layout.actions}
    states = [_values(ts, state) for state in trace.states]
    queries: list[z3.BoolRef] = [ts.at_values(states[0])(ts.init("pre"))]
    for k in range(1, depth + 1):
        key = (trace.states[k].instance or "", trace.states[k].step or "")
        if key not in actions:
            return f"step {k}: no action {key[0]}.{key[1]}"
        # A check violation's last state repeats the pre-state (ir.py): the real post-state of
        # the failing path is not shown, so it is left free, and the failure is on that path.
        failing = prop.kind == "check" and k == depth
        relation, aborts = ts.action_between(actions[key], states[k - 1], None if failing else states[k])
        queries.append(mk_and([relation, aborts.get(prop.name, FALSE)]) if failing else relation)
    if prop.kind != "check":
        queries.append(ts.at_values(states[depth])(mk_not(ts.invariant(prop, "pre"))))
    elif depth == 0:
        return "Z3 finds no such run"  # a check fails on a step: an initial state fails none
    solver = ts.new_solver()
    if timeout is not None:
        solver.set("timeout", max(1, int(timeout * 1000)))
    for q in queries:
        solver.push()
        solver.add(q)
        answer = solver.check()
        solver.pop()
        if answer == z3.unknown:
            return f"Z3 could not decide ({solver.reason_unknown()})"
        if answer != z3.sat:
            return "Z3 finds no such run"
    return None


def _values(ts: TransitionSystem, state: TraceState) -> list[z3.ExprRef]:
    return [z3.BoolVal(bool(v)) if z3.is_bool(t) else ts.ints.val(v)
            for t, v in zip(ts.pre, _slot_values(ts.layout, state))]


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
