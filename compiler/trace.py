"""Counterexample traces: the data structure, ITF JSON (write and read), and the table.

The format is documented precisely in docs/trace-format.md; the generated
simulators write and read the same files, so change both together.

Values inside a `Trace` are plain Python: `int` (bounded ints, lock owners as
instance ids or -1), `bool`, `str` (enum members and pc locations, by name), and
`list` (arrays, outermost index first; the pcs of an agent with several
instances).  ITF encodes ints as `{"#bigint": "N"}`; everything else is JSON.
"""
from __future__ import annotations

import builtins
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from compiler import traceview

Value = Union[int, bool, str, list["Value"]]

ITF_DESCRIPTION = traceview.ITF_DESCRIPTION


# An ITF file irqc cannot read (the message says where): one class with the simulators'.
TraceFormatError = traceview.TraceFormatError


@dataclass(slots=True)
class TraceState:
    """State `index`; for index >= 1, also the step that produced it."""

    index: int
    values: dict[str, Value]  # every var of `Trace.vars`
    instance: str | None = None  # "cpu[1]", "nic"
    agent: str | None = None  # "cpu"
    step: str | None = None  # Step.name: what replay matches on
    text: str | None = None  # Step.text
    span: str | None = None  # "path:line:col"
    event: list[str] | None = None  # what the step did, in the spec's function names (compiler/events.py)

    @builtins.property  # the field `property` shadows the builtin in this class body
    def line(self) -> int | None:
        if not self.span:
            return None
        parts = self.span.rsplit(":", 2)
        return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


@dataclass(slots=True)
class Trace:
    spec: str
    source: str  # the spec's path
    source_hash: str
    params: dict[str, int]
    property: str
    violated_at: int | None  # depth of the violation (the last state's index)
    states: list[TraceState]
    vars: list[str]  # sorted; pcs are "pc.<agent>"
    generator: str = "irqc prove"
    # Optional, for readable tables; a reader copes without them.
    property_kind: str | None = None  # "invariant" | "check" | "deadlock" | "cover" (the trace is a witness)
    instances: list[str] = field(default_factory=list)  # instance names by global id (lock owners)
    locks: list[str] = field(default_factory=list)  # vars holding lock owners
    indices: dict[str, list[list[str]]] = field(default_factory=dict)  # array var -> index labels per dimension
    hidden: list[str] = field(default_factory=list)  # ghost vars the race diagram leaves out
    kinds: dict[str, str] = field(default_factory=dict)  # agent -> "cpu" | "device" | "thread"

    @builtins.property  # the field `property` shadows the builtin in this class body
    def depth(self) -> int:
        return len(self.states) - 1


# --------------------------------------------------------------------------- ITF writer


def to_itf(trace: Trace) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "format": "ITF",
        "format-description": ITF_DESCRIPTION,
        "source": trace.source,
        "spec": trace.spec,
        "source_hash": trace.source_hash,
        "params": dict(sorted(trace.params.items())),
        "property": trace.property,
        "violated_at": trace.violated_at,
        "generator": trace.generator,
    }
    if trace.property_kind is not None:
        meta["property_kind"] = trace.property_kind
    if trace.instances:
        meta["instances"] = list(trace.instances)
    if trace.locks:
        meta["locks"] = sorted(trace.locks)
    if trace.indices:
        meta["indices"] = {k: trace.indices[k] for k in sorted(trace.indices)}
    if trace.hidden:
        meta["hidden"] = sorted(trace.hidden)
    if trace.kinds:
        meta["kinds"] = dict(sorted(trace.kinds.items()))
    return {"#meta": meta, "vars": list(trace.vars), "states": [state_to_itf(s, trace.vars) for s in trace.states]}


def state_to_itf(state: TraceState, var_names: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"index": state.index}
    if state.index > 0:
        meta.update(instance=state.instance, agent=state.agent, step=state.step, text=state.text, span=state.span)
        if state.event is not None:
            meta["event"] = list(state.event)
    out: dict[str, Any] = {"#meta": meta}
    for name in var_names:
        out[name] = _value_to_itf(state.values[name])
    return out


def _value_to_itf(v: Value) -> Any:
    return traceview.itf_value(v)


def itf_document(trace: Trace) -> dict[str, Any]:
    """The trace as its file holds it (traceview.encode_itf: what the Rust `itf` crate reads)."""
    return traceview.encode_itf(to_itf(trace))


def itf_text(trace: Trace) -> str:
    """Deterministic text: the file's document, two-space indent, trailing newline."""
    return traceview.itf_text(to_itf(trace))


def write_itf(trace: Trace, path: str | Path) -> Path:
    """The trace file, written atomically: a reader never sees half a trace."""
    traceview.write_atomically(str(path), itf_text(trace))
    return Path(path)


def itf_filename(spec: str, prop: str) -> str:
    return f"{spec}.{prop}.itf.json"


# --------------------------------------------------------------------------- ITF reader


def read_itf(path: str | Path) -> Trace:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TraceFormatError(f"{path}: cannot read an ITF trace: {e}") from e
    return from_itf(data, str(path))


def from_itf(data: Any, where: str = "<itf>") -> Trace:
    """A Trace from a parsed ITF document; TraceFormatError names `where` and the bad field."""
    try:
        traceview.check_document(data)
        return _trace_from_itf(data)
    except TraceFormatError as e:
        raise TraceFormatError(f"{where}: {e}") from e
    except (TypeError, ValueError) as e:  # params, indices: values of the wrong shape
        raise TraceFormatError(f"{where}: not a trace irqc can read: {e}") from e


def _trace_from_itf(data: dict[str, Any]) -> Trace:
    meta = data.get("#meta", {})
    states = [_state_from_itf(s, i) for i, s in enumerate(data["states"])]
    return Trace(
        spec=str(meta.get("spec", "")), source=str(meta.get("source", "")),
        source_hash=str(meta.get("source_hash", "")),
        params={str(k): int(traceview.value_from_itf(v, f"#meta: params: {k}"))
                for k, v in meta.get("params", {}).items()},
        property=str(meta.get("property", "")), violated_at=meta.get("violated_at"), states=states,
        vars=traceview.var_names(data), generator=str(meta.get("generator", "")),
        property_kind=meta.get("property_kind"), instances=[str(x) for x in meta.get("instances", [])],
        locks=[str(x) for x in meta.get("locks", [])],
        indices={str(k): v for k, v in meta.get("indices", {}).items()},
        hidden=[str(x) for x in meta.get("hidden", [])], kinds={str(k): str(v) for k, v in meta.get("kinds", {}).items()},
    )


def _state_from_itf(s: Any, position: int) -> TraceState:
    meta = s.get("#meta", {})
    values = traceview.itf_values(s, position)
    event = meta.get("event")
    return TraceState(index=int(meta.get("index", position)), values=values, instance=meta.get("instance"),
                      agent=meta.get("agent"), step=meta.get("step"), text=meta.get("text"), span=meta.get("span"),
                      event=[str(x) for x in event] if isinstance(event, list) else None)


# --------------------------------------------------------------------------- views


def changes(trace: Trace, k: int) -> list[tuple[str, Value]]:
    """The (display name, new value) of every scalar element that step k changed, in var order."""
    meta = {"indices": trace.indices}
    return traceview.changes(meta, trace.vars, trace.states[k - 1].values, trace.states[k].values)


def show_value(trace: Trace, name: str, v: Value) -> str:
    """Bools as 0/1 (kernel flag style), lock owners by instance name or `-`."""
    return traceview.show_value({"locks": trace.locks, "instances": trace.instances}, name, v)


def render_table(trace: Trace, columns: list[str] | None = None) -> str:
    """The counterexample as a plain-text table: one column per agent instance, one row per step
    (traceview.render_table, the simulators' table too)."""
    doc = to_itf(trace)
    if columns is not None:
        doc["#meta"]["instances"] = columns
    return traceview.render_table(doc)


def render_lkml(trace: Trace) -> str:
    """The counterexample as an LKML race diagram (traceview.render_lkml)."""
    return traceview.render_lkml(to_itf(trace))
