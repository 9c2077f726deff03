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

Value = Union[int, bool, str, list["Value"]]

ITF_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"


class TraceFormatError(Exception):
    """An ITF file irqc cannot read (the message says where)."""


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
    return {"#meta": meta, "vars": list(trace.vars), "states": [state_to_itf(s, trace.vars) for s in trace.states]}


def state_to_itf(state: TraceState, var_names: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"index": state.index}
    if state.index > 0:
        meta.update(instance=state.instance, agent=state.agent, step=state.step, text=state.text, span=state.span)
    out: dict[str, Any] = {"#meta": meta}
    for name in var_names:
        out[name] = _value_to_itf(state.values[name])
    return out


def _value_to_itf(v: Value) -> Any:
    if isinstance(v, bool) or isinstance(v, str):  # bool before int: bool is an int in Python
        return v
    if isinstance(v, int):
        return {"#bigint": str(v)}
    return [_value_to_itf(x) for x in v]


def itf_text(trace: Trace) -> str:
    """Deterministic text: sorted meta keys, two-space indent, trailing newline."""
    return json.dumps(to_itf(trace), indent=2) + "\n"


def write_itf(trace: Trace, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(itf_text(trace), encoding="utf-8")
    return p


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
    if not isinstance(data, dict) or not isinstance(data.get("states"), list):
        raise TraceFormatError(f"{where}: not an ITF trace (no \"states\" list)")
    meta = data.get("#meta", {})
    if not isinstance(meta, dict):
        raise TraceFormatError(f"{where}: \"#meta\" is not an object")
    states = [_state_from_itf(s, i, where) for i, s in enumerate(data["states"])]
    var_names = data.get("vars")
    if var_names is None:
        var_names = sorted(states[0].values) if states else []
    return Trace(
        spec=str(meta.get("spec", "")), source=str(meta.get("source", "")),
        source_hash=str(meta.get("source_hash", "")), params={str(k): int(v) for k, v in meta.get("params", {}).items()},
        property=str(meta.get("property", "")), violated_at=meta.get("violated_at"), states=states,
        vars=[str(v) for v in var_names], generator=str(meta.get("generator", "")),
        property_kind=meta.get("property_kind"), instances=[str(x) for x in meta.get("instances", [])],
        locks=[str(x) for x in meta.get("locks", [])],
        indices={str(k): v for k, v in meta.get("indices", {}).items()},
    )


def _state_from_itf(s: Any, position: int, where: str) -> TraceState:
    if not isinstance(s, dict):
        raise TraceFormatError(f"{where}: state {position} is not an object")
    meta = s.get("#meta", {})
    values = {k: _value_from_itf(v, f"{where}: state {position}, {k}") for k, v in s.items() if k != "#meta"}
    return TraceState(index=int(meta.get("index", position)), values=values, instance=meta.get("instance"),
                      agent=meta.get("agent"), step=meta.get("step"), text=meta.get("text"), span=meta.get("span"))


def _value_from_itf(v: Any, where: str) -> Value:
    if isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):  # ITF allows plain JSON numbers for small ints
        return v
    if isinstance(v, dict) and set(v) == {"#bigint"}:
        try:
            return int(v["#bigint"])
        except (TypeError, ValueError) as e:
            raise TraceFormatError(f"{where}: bad #bigint {v['#bigint']!r}") from e
    if isinstance(v, list):
        return [_value_from_itf(x, where) for x in v]
    raise TraceFormatError(f"{where}: unsupported ITF value {json.dumps(v)[:60]}")


# --------------------------------------------------------------------------- table


def changes(trace: Trace, k: int) -> list[tuple[str, Value]]:
    """The (display name, new value) of every scalar element that step k changed, in var order."""
    before, after = trace.states[k - 1].values, trace.states[k].values
    out: list[tuple[str, Value]] = []
    for name in trace.vars:
        if name.startswith("pc."):
            continue  # the acting cell names the step; its location change adds nothing
        for label, old, new in _elements(name, before.get(name), after.get(name), trace.indices.get(name)):
            if old != new:
                out.append((label, new))
    return out


def _elements(name: str, old: Any, new: Any, labels: list[list[str]] | None,
              depth: int = 0) -> list[tuple[str, Any, Any]]:
    if not isinstance(new, list):
        return [(name, old, new)]
    olds = old if isinstance(old, list) and len(old) == len(new) else [None] * len(new)
    dim = labels[depth] if labels and depth < len(labels) and len(labels[depth]) == len(new) else None
    out: list[tuple[str, Any, Any]] = []
    for i, (o, n) in enumerate(zip(olds, new)):
        out += _elements(f"{name}[{dim[i] if dim else i}]", o, n, labels, depth + 1)
    return out


def show_value(trace: Trace, name: str, v: Value) -> str:
    """Bools as 0/1 (kernel flag style), lock owners by instance name or `-`."""
    base = name.split("[", 1)[0]
    if base in trace.locks and isinstance(v, int) and not isinstance(v, bool):
        if v < 0:
            return "-"
        return trace.instances[v] if v < len(trace.instances) else str(v)
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, list):
        return "[" + ", ".join(show_value(trace, base, x) for x in v) + "]"
    return str(v)


MAX_CELL = 44  # keeps a 4-column table printable in a mail


def render_table(trace: Trace, columns: list[str] | None = None) -> str:
    """The counterexample as a plain-text table: one column per agent instance, one row per step."""
    cols = columns or trace.instances or _instances_seen(trace)
    rows: list[tuple[str, dict[str, list[str]]]] = []
    for k in range(1, len(trace.states)):
        rows.append((str(k), {trace.states[k].instance or "?": _cell(trace, k)}))
    widths = [max([len("step")] + [len(r[0]) for r in rows])]
    for c in cols:
        widths.append(max([len(c)] + [len(line) for _, cells in rows for line in cells.get(c, [])]))
    out = [_row(["step", *cols], widths), "-+-".join("-" * w for w in widths)]
    for num, cells in rows:
        height = max(len(v) for v in cells.values())
        for i in range(height):
            first = num if i == 0 else ""
            out.append(_row([first, *(cells.get(c, [])[i] if i < len(cells.get(c, [])) else "" for c in cols)],
                            widths))
    out.append(_verdict_line(trace))
    return "\n".join(out)


def _row(cells: list[str], widths: list[int]) -> str:
    first = cells[0].rjust(widths[0])
    return " | ".join([first, *(c.ljust(w) for c, w in zip(cells[1:], widths[1:]))]).rstrip()


def _cell(trace: Trace, k: int) -> list[str]:
    st = trace.states[k]
    head = f"L{st.line}: " if st.line is not None else ""
    text = (st.text or st.step or "?").strip()
    lines = [_clip(head + text)]
    lines += [_clip(f"  {name}={show_value(trace, name, v)}") for name, v in changes(trace, k)]
    if trace.property_kind == "check" and trace.violated_at == k:
        lines.append(_clip(f"  !! check {trace.property} fails at this step: its run ends here"))
    return lines


def _clip(s: str) -> str:
    return s if len(s) <= MAX_CELL else s[: MAX_CELL - 3] + "..."


def _verdict_line(trace: Trace) -> str:
    where = f"after step {trace.violated_at}" if trace.violated_at else "in the initial state"
    if trace.property_kind == "check":
        return f"=> {trace.property} violated at step {trace.violated_at}"
    if trace.property_kind == "cover":
        return f"=> {trace.property} covered {where}"
    return f"=> {trace.property} violated {where}"


def _instances_seen(trace: Trace) -> list[str]:
    seen: dict[str, None] = {}
    for s in trace.states[1:]:
        if s.instance:
            seen.setdefault(s.instance, None)
    return list(seen)
