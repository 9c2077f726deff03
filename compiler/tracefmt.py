"""A trace in the formats other tools read: Mermaid, VCD and SARIF 2.1.0.

Each takes an ITF document (a dict, as `compiler.trace.to_itf` or a simulator writes it,
checked by `traceview.check_document`).  The text views (table, race diagram) are in
compiler/traceview.py, shared with the simulators; these are for irqc only.  docs/prove.md
("irqc trace") says what each shows.
"""
from __future__ import annotations

import re
from typing import Any

from compiler import traceview

FORMATS = ("table", "lkml", "mermaid", "vcd", "sarif", "itf")

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/irqc/irqc"


def _values(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [traceview.itf_values(st, k) for k, st in enumerate(doc["states"])]


def _shown_changes(doc: dict[str, Any], vals: list[dict[str, Any]], k: int, hide: bool) -> list[tuple[str, str]]:
    meta = doc.get("#meta", {})
    hidden = set(meta.get("hidden", [])) if hide else set()
    return [(n, traceview.show_value(meta, n, v))
            for n, v in traceview.changes(meta, traceview.var_names(doc), vals[k - 1], vals[k])
            if n.split("[", 1)[0] not in hidden]


def _event(doc: dict[str, Any], k: int) -> list[str]:
    m = doc["states"][k].get("#meta", {})
    event = m.get("event")
    if isinstance(event, list) and event:
        return [str(x) for x in event]
    return [str(m.get("text") or m.get("step") or "?").strip()]


# --------------------------------------------------------------------------- Mermaid


def mermaid(doc: dict[str, Any]) -> str:
    """A `sequenceDiagram`: one participant per acting instance (CPUs first, as in the race
    diagram), one note per step over the lane that took it, with the changes that matter."""
    vals = _values(doc)
    lanes = traceview.lanes(doc)
    ids = {lane: re.sub(r"\W", "_", lane) for lane in lanes}
    out = ["sequenceDiagram"]
    for lane in lanes:
        out.append(f"    participant {ids[lane]} as {_mermaid_text(traceview.lane_name(lane))}")
    for k in range(1, len(doc["states"])):
        lane = doc["states"][k].get("#meta", {}).get("instance")
        lines = _event(doc, k) + [f"{n}={v}" for n, v in _shown_changes(doc, vals, k, True)]
        out.append(f"    Note over {ids.get(lane, 'unknown')}: {k}. " + "<br/>".join(_mermaid_text(x) for x in lines))
    meta = doc.get("#meta", {})
    if meta.get("property"):
        first, last = ids[lanes[0]] if lanes else "unknown", ids[lanes[-1]] if lanes else "unknown"
        span = f"{first},{last}" if first != last else first
        out.append(f"    Note over {span}: {_mermaid_text(traceview.verdict_line(meta))}")
    return "\n".join(out) + "\n"


def _mermaid_text(s: str) -> str:
    # `#` starts an entity and `;` ends a statement in Mermaid: write both as entities.
    return s.replace("#", "#35;").replace(";", "#59;").replace("\n", " ")


# --------------------------------------------------------------------------- VCD
# A writer of our own: VCD is a few lines of text, and pyvcd would be a runtime dependency for
# them.  Booleans are 1-bit wires, integers 32-bit two's complement vectors, enum members and
# locations `string` variables (a GTKWave and Surfer extension of IEEE 1364's VCD).


def vcd(doc: dict[str, Any]) -> str:
    """One signal per state element (array elements apart), time = step number."""
    vals = _values(doc)
    meta = doc.get("#meta", {})
    signals: list[tuple[str, str, str, str]] = []  # (scope, name, id, kind)
    index: dict[str, int] = {}
    for name in traceview.var_names(doc):
        for label, _, v in traceview.elements(name, None, vals[0].get(name), meta.get("indices", {}).get(name)):
            scope, _, short = label.rpartition(".") if not label.startswith("pc.") else ("pc", "", label[3:])
            index[label] = len(signals)
            signals.append((scope or "state", short, _vcd_id(len(signals)), _vcd_kind(v)))
    out = ["$date irqc trace $end", "$version irqc $end", "$timescale 1 ns $end",
           f"$scope module {re.sub(r'[^A-Za-z0-9_]', '_', str(meta.get('spec') or 'trace'))} $end"]
    by_scope: dict[str, list[tuple[str, str, str, str]]] = {}
    for sig in signals:
        by_scope.setdefault(sig[0], []).append(sig)
    for scope in sorted(by_scope):
        out.append(f"$scope module {re.sub(r'[^A-Za-z0-9_.]', '_', scope)} $end")
        for _, short, ident, kind in by_scope[scope]:
            size = {"wire": 1, "integer": 32, "string": 1}[kind]
            out.append(f"$var {kind} {size} {ident} {_no_space(short)} $end")
        out.append("$upscope $end")
    out += ["$upscope $end", "$enddefinitions $end"]
    last: dict[str, str] = {}
    for k, state in enumerate(vals):
        changed = []
        for name in traceview.var_names(doc):
            for label, _, v in traceview.elements(name, None, state.get(name), meta.get("indices", {}).get(name)):
                if label not in index:
                    continue
                sig = signals[index[label]]
                text = _vcd_value(v, sig[3], sig[2])
                if last.get(label) != text:
                    last[label] = text
                    changed.append(text)
        if changed or k == 0:
            out.append(f"#{k}")
            out += (["$dumpvars"] + changed + ["$end"]) if k == 0 else changed
    return "\n".join(out) + "\n"


def _vcd_id(n: int) -> str:
    chars = [chr(c) for c in range(33, 127)]
    ident = ""
    n += 1
    while n:
        n, r = divmod(n - 1, len(chars))
        ident = chars[r] + ident
    return ident


def _vcd_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "wire"
    if isinstance(v, int):
        return "integer"
    return "string"


def _vcd_value(v: Any, kind: str, ident: str) -> str:
    if kind == "wire":
        return f"{1 if v else 0}{ident}"
    if kind == "integer" and isinstance(v, int) and not isinstance(v, bool):
        return f"b{v & 0xFFFFFFFF:b} {ident}"
    return f"s{_no_space(str(v))} {ident}"


def _no_space(s: str) -> str:
    return re.sub(r"\s", "_", s)


# --------------------------------------------------------------------------- SARIF 2.1.0


def sarif_log(docs: list[dict[str, Any]], version: str = "") -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run: one result per violated property (one per trace)."""
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for doc in docs:
        meta = doc.get("#meta", {})
        prop = str(meta.get("property") or "trace")
        rules.setdefault(prop, {"id": prop, "name": prop,
                                "shortDescription": {"text": f"property {prop} ({meta.get('property_kind') or 'invariant'})"}})
        results.append(_sarif_result(doc, prop))
    driver: dict[str, Any] = {"name": "irqc", "informationUri": INFORMATION_URI,
                              "rules": [rules[k] for k in sorted(rules)]}
    if version:
        driver["version"] = version
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}


def _sarif_result(doc: dict[str, Any], prop: str) -> dict[str, Any]:
    meta = doc.get("#meta", {})
    vals = _values(doc)
    flows: dict[str, list[dict[str, Any]]] = {}
    last_location: dict[str, Any] | None = None
    for k in range(1, len(doc["states"])):
        m = doc["states"][k].get("#meta", {})
        loc: dict[str, Any] = {"message": {"text": "; ".join(_event(doc, k))}}
        physical = _physical(m.get("span"))
        if physical is not None:
            loc["physicalLocation"] = physical
            last_location = {"physicalLocation": physical}
        entry: dict[str, Any] = {"location": loc, "executionOrder": k}
        state = {n: {"text": v} for n, v in _shown_changes(doc, vals, k, False)}
        if state:
            entry["state"] = state
        flows.setdefault(str(m.get("instance") or "?"), []).append(entry)
    covered = meta.get("property_kind") == "cover"
    result: dict[str, Any] = {
        "ruleId": prop,
        "kind": "informational" if covered else "fail",
        "level": "note" if covered else "error",
        "message": {"text": f"{traceview.verdict_line(meta)[3:]} ({meta.get('spec') or 'spec'}, "
                            f"{max(0, len(doc['states']) - 1)} steps)"},
        "codeFlows": [{"message": {"text": f"the interleaving that {'covers' if covered else 'violates'} {prop}"},
                       "threadFlows": [{"id": inst, "message": {"text": inst}, "locations": locs}
                                       for inst, locs in flows.items()]}],
    }
    src = _physical(f"{meta.get('source')}:1:1") if meta.get("source") else None
    where = last_location or ({"physicalLocation": src} if src else None)
    if where is not None:
        result["locations"] = [where]
    return result


def _physical(span: Any) -> dict[str, Any] | None:
    line = traceview.span_line(span)
    path = traceview.span_file(span)
    if line is None or path is None:
        return None
    col = span.rsplit(":", 1)[1]
    region: dict[str, Any] = {"startLine": max(1, line)}
    if col.isdigit() and int(col) >= 1:
        region["startColumn"] = int(col)
    return {"artifactLocation": {"uri": path.replace("\\", "/")}, "region": region}


# --------------------------------------------------------------------------- dispatch


def render(doc: dict[str, Any], to: str) -> str:
    import json
    if to == "table":
        return traceview.render_table(doc) + "\n"
    if to == "lkml":
        return traceview.render_lkml(doc) + "\n"
    if to == "mermaid":
        return mermaid(doc)
    if to == "vcd":
        return vcd(doc)
    if to == "sarif":
        return json.dumps(sarif_log([doc]), indent=2) + "\n"
    if to == "itf":
        return traceview.itf_text(doc)
    raise ValueError(f"unknown format {to}")
