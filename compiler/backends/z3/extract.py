"""A Z3 model of an unrolling, read back as a `Trace` (the format of compiler.trace)."""
from __future__ import annotations

from typing import Any

import z3

from compiler import ir
from compiler.backends.z3.layout import Layout
from compiler.backends.z3.system import TransitionSystem
from compiler.backends.z3.terms import num
from compiler.trace import Trace, TraceState, Value


def extract_trace(ts: TransitionSystem, m: z3.ModelRef, depth: int, prop: ir.Property) -> Trace:
    layout = ts.layout
    states: list[TraceState] = []
    for k in range(depth + 1):
        # A check violation's trace ends where the property's run ends: its last state
        # repeats the pre-state of the failing step (compiler/ir.py).
        shown = k - 1 if prop.kind == "check" and k == depth and k > 0 else k
        values = _state_values(layout, [m.eval(x, model_completion=True) for x in ts.state(str(shown))])
        state = TraceState(index=k, values=values)
        if k > 0:
            act = layout.actions[_int(m.eval(ts.ints.const(f"sel@{k - 1}"), model_completion=True))]
            sp = act.step.span
            state.instance, state.agent = act.inst.name, act.inst.agent.name
            state.step, state.text = act.step.name, act.step.text
            state.span = f"{sp.path}:{sp.line}:{sp.col}"
        states.append(state)
    model = ts.model
    return Trace(
        spec=model.name, source=model.path, source_hash=model.source_hash, params=dict(ts.params),
        property=prop.name, violated_at=depth, states=states, vars=var_names(model),
        property_kind=prop.kind, instances=[i.name for i in layout.instances],
        locks=sorted(v.name for v in model.vars if v.kind == "lock"), indices=index_labels(layout),
    )


def var_names(model: ir.Model) -> list[str]:
    return sorted([v.name for v in model.vars] + [f"pc.{a.name}" for a in model.agents])


def index_labels(layout: Layout) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for var, shape in layout.shapes.items():
        labels: list[list[str]] = []
        t: ir.Type = var.type
        while isinstance(t, ir.ArrayType):
            dom = ir.domain_values(t.index, layout.params)
            labels.append(list(t.index.members) if isinstance(t.index, ir.EnumType) else [str(v) for v in dom])
            t = t.elem
        if labels:
            out[var.name] = labels
    return out


def _state_values(layout: Layout, terms: list[z3.ExprRef]) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for var, shape in layout.shapes.items():
        flat = [_scalar(terms[i], shape.elem) for i in range(shape.base, shape.base + _size(shape.dims))]
        values[var.name] = _nest(flat, [len(d) for d in shape.dims])
    for agent in layout.model.agents:
        names = {loc.index: loc.name for loc in agent.locations}
        locs = [names[_int(terms[inst.pc])] for inst in layout.by_agent[agent.name]]
        values[f"pc.{agent.name}"] = locs[0] if agent.domain is None else list(locs)
    return values


def _scalar(t: z3.ExprRef, typ: ir.ScalarType) -> Value:
    if isinstance(typ, ir.BoolType):
        return bool(z3.is_true(t))
    if isinstance(typ, ir.EnumType):
        return typ.members[_int(t)]
    return _int(t)


def _int(t: Any) -> int:
    v = num(t)
    assert v is not None, f"not a numeral in a model: {t}"
    return v


def _nest(flat: list[Value], sizes: list[int]) -> Value:
    if not sizes:
        return flat[0]
    step = len(flat) // sizes[0]
    return [_nest(flat[i * step:(i + 1) * step], sizes[1:]) for i in range(sizes[0])]


def _size(dims: tuple[range, ...]) -> int:
    n = 1
    for d in dims:
        n *= len(d)
    return n
