"""Traces as ITF documents: reading them strictly, and the two text views (the lane table
and the LKML race diagram).

This module is the single source of that code for irqc and for every generated simulator:
irqc imports it, and `irqc build` copies the text between the two marker lines below into
each simulator (compiler/backends/python/generate.py), so a simulator stays one standalone
file.  Hence: standard library only, nothing from irqc, no `from __future__` inside the
markers (the simulator has its own first lines), and every name it defines is one the
simulator's runtime may use.  The format is docs/trace-format.md; the LKML style is
docs/prove.md ("The race diagram").
"""
from __future__ import annotations

from typing import Any as _Any  # a simulator defines _Any itself: it reads no annotation

# ---- irqc shared runtime: begin (copied verbatim into every generated simulator)
import json as _json
import os as _os

ITF_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"

# Quint's name for the action that produced a state (`quint run --mbt`): generic ITF viewers
# show it, so each state says who acted there.  Keys in the `mbt::` namespace are never spec
# variables (an irqspec name has no `::`), and readers skip them.
ACTION_TAKEN = "mbt::actionTaken"
_TOOL_KEYS = "mbt::"


class TraceFormatError(Exception):
    """Bad input: an ITF trace that cannot be read (the message says where).  A simulator
    calls it SimulatorError and raises it for bad parameters too."""


# Values in a spec's types have a few digits and a few levels of arrays; past these limits a
# trace is malformed, and refusing it early keeps every reader fast on any input.
MAX_DIGITS = 64
MAX_NESTING = 32


def itf_value(v: _Any) -> _Any:
    """A trace value as ITF JSON: ints as {"#bigint": "N"}, bools and names as they are."""
    if isinstance(v, (bool, str)):  # bool before int: a bool is an int in Python
        return v
    if isinstance(v, int):
        return {"#bigint": str(v)}
    return [itf_value(x) for x in v]


def value_from_itf(v: _Any, where: str, depth: int = 0) -> _Any:
    if isinstance(v, (bool, str, int)):  # ITF allows plain JSON numbers for small ints
        return v
    if isinstance(v, dict) and set(v) == {"#bigint"}:
        digits = v["#bigint"]
        body = digits[1:] if isinstance(digits, str) and digits[:1] == "-" else digits
        if not (isinstance(body, str) and 0 < len(body) <= MAX_DIGITS and body.isascii() and body.isdigit()):
            raise TraceFormatError("%s: bad #bigint %s (a string of at most %d decimal digits)"
                                   % (where, short(digits), MAX_DIGITS))
        return int(digits)
    if isinstance(v, list):
        if depth >= MAX_NESTING:
            raise TraceFormatError("%s: lists nested more than %d deep" % (where, MAX_NESTING))
        return [value_from_itf(x, where, depth + 1) for x in v]
    raise TraceFormatError("%s: unsupported ITF value %s" % (where, short(v)))


def short(v: _Any) -> str:
    """A value as JSON, cut to fit in one line of an error message."""
    try:
        text = _json.dumps(v, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(type(v))
    return text if len(text) <= 60 else text[:57] + "..."


def itf_states(doc: _Any) -> list[_Any]:
    """The states of an ITF document, each checked to be an object with an object #meta."""
    if not isinstance(doc, dict) or not isinstance(doc.get("states"), list):
        raise TraceFormatError('not an ITF trace (no "states" list)')
    for k, state in enumerate(doc["states"]):
        if not isinstance(state, dict):
            raise TraceFormatError("state %d is not an object but %s" % (k, short(state)))
        if not isinstance(state.get("#meta", {}), dict):
            raise TraceFormatError("state %d: #meta is not an object but %s" % (k, short(state["#meta"])))
    states: list[_Any] = doc["states"]
    return states


def itf_values(state: _Any, k: int) -> dict[str, _Any]:
    """The spec's variables in a state: `#meta` and the `mbt::` keys left out."""
    if not isinstance(state, dict):
        raise TraceFormatError("state %d is not an object" % k)
    return {name: value_from_itf(v, "state %d, %s" % (k, name)) for name, v in state.items()
            if name != "#meta" and not name.startswith(_TOOL_KEYS)}


def check_document(doc: _Any) -> None:
    """Everything the views read, checked up front: a malformed trace is one located error.
    The string-encoded `#meta` values of a file are decoded in place first (decode_meta)."""
    states = itf_states(doc)
    meta = doc.get("#meta", {})
    if not isinstance(meta, dict):
        raise TraceFormatError("#meta is not an object but %s" % short(meta))
    decode_meta(doc)
    for key in ("instances", "locks", "hidden"):
        if not isinstance(meta.get(key, []), list) or not all(isinstance(x, str) for x in meta.get(key, [])):
            raise TraceFormatError("#meta: %s is %s, not a list of names" % (key, short(meta[key])))
    for key in ("indices", "kinds"):
        if not isinstance(meta.get(key, {}), dict):
            raise TraceFormatError("#meta: %s is %s, not an object" % (key, short(meta[key])))
    at = meta.get("violated_at")
    if at is not None and (isinstance(at, bool) or not isinstance(at, int)):
        raise TraceFormatError("#meta: violated_at is %s, not a step number" % short(at))
    if not isinstance(doc.get("vars", []), list) or not all(isinstance(v, str) for v in doc.get("vars", [])):
        raise TraceFormatError('"vars" is %s, not a list of names' % short(doc.get("vars")))
    for k, state in enumerate(states):
        itf_values(state, k)
        if k == 0:
            continue
        m = state.get("#meta", {})
        for key in ("instance", "step"):
            if not isinstance(m.get(key), str):
                raise TraceFormatError("state %d: #meta: %s is %s, not a name" % (k, key, short(m.get(key))))
        for key in ("text", "span", "agent"):
            if not isinstance(m.get(key, ""), (str, type(None))):
                raise TraceFormatError("state %d: #meta: %s is %s, not a string" % (k, key, short(m.get(key))))
        if not isinstance(m.get("event", []), list) or not all(isinstance(x, str) for x in m.get("event", [])):
            raise TraceFormatError("state %d: #meta: event is %s, not a list of strings" % (k, short(m["event"])))


def var_names(doc: dict[str, _Any]) -> list[str]:
    names = doc.get("vars")
    if not isinstance(names, list):
        names = sorted((doc.get("states") or [{}])[0])
    return [n for n in names if n != "#meta" and not n.startswith(_TOOL_KEYS)]


# ------------------------------------------------------------------------ ITF files
# The Rust `itf` crate (informalsystems/itf-rs, trace.rs and state.rs) reads every `#meta`
# value it does not know as a string: irqc's lists, objects, numbers and nulls fail it.  So a
# file holds each such value as its JSON text, and readers decode them; files written before
# (values as they are) read the same.  Only a state's `index` stays a number (the crate's u64).

_JSON_META = ("params", "violated_at", "instances", "locks", "indices", "hidden", "kinds")
_JSON_STATE_META = ("event",)


def encode_itf(doc: dict[str, _Any]) -> dict[str, _Any]:
    """The document as a file holds it: `#meta` values as strings, and first in each state
    (and in `vars`) ACTION_TAKEN, the step that produced it: `init`, or `<instance>.<step>`."""
    names = var_names(doc)
    states = [{"#meta": _meta_text(st.get("#meta", {})), ACTION_TAKEN: action_taken(st.get("#meta", {})),
               **{n: st[n] for n in names}} for st in doc["states"]]
    return {"#meta": _meta_text(doc.get("#meta", {})), "vars": [ACTION_TAKEN] + names, "states": states}


def action_taken(m: dict[str, _Any]) -> str:
    if not m.get("index") or not isinstance(m.get("instance"), str):
        return "init"
    return "%s.%s" % (m["instance"], m.get("step"))


def _meta_text(meta: dict[str, _Any]) -> dict[str, _Any]:
    return {key: v if isinstance(v, str) or key == "index" else _json.dumps(v)
            for key, v in meta.items() if v is not None}


def decode_meta(doc: dict[str, _Any]) -> None:
    """The `#meta` values encode_itf wrote as JSON text, decoded in place."""
    if not isinstance(doc, dict):
        return
    _decode(doc.get("#meta"), _JSON_META, "#meta")
    for k, st in enumerate(doc.get("states") or []):
        if isinstance(st, dict):
            _decode(st.get("#meta"), _JSON_STATE_META, "state %d: #meta" % k)


def _decode(meta: _Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(meta, dict):
        return
    for key in keys:
        text = meta.get(key)
        if isinstance(text, str):
            try:
                meta[key] = _json.loads(text, parse_constant=_no_constant)
            except (ValueError, RecursionError):
                raise TraceFormatError("%s: %s is %s, not JSON text" % (where, key, short(text)))


def _no_constant(name: str) -> None:
    raise ValueError("%s is not JSON" % name)


def itf_text(doc: dict[str, _Any]) -> str:
    """A trace file's text: encode_itf's document, two-space indent, a final newline."""
    return _json.dumps(encode_itf(doc), indent=2) + "\n"


def write_atomically(path: str, text: str) -> None:
    """A reader sees the old file or the whole new one, never a part."""
    import tempfile  # here: most simulator runs write nothing

    parent = _os.path.dirname(_os.path.abspath(path))
    _os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".irqc-", suffix=".tmp", dir=parent)
    try:
        with _os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            _os.fsync(f.fileno())
        umask = _os.umask(0)
        _os.umask(umask)
        _os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; the file is an ordinary output
        _os.replace(tmp, path)
    except BaseException:
        _os.unlink(tmp)
        raise


# ------------------------------------------------------------------------ what a step changed


def span_line(span: _Any) -> int | None:
    if not isinstance(span, str):
        return None
    parts = span.rsplit(":", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def span_file(span: _Any) -> str | None:
    if not isinstance(span, str) or span_line(span) is None:
        return None
    return span.rsplit(":", 2)[0]


def location(span: _Any, files: int) -> str | None:
    """`L68`, or `gicv3_its_fasteoi.irqspec:68` when the trace spans more than one file."""
    line = span_line(span)
    if line is None:
        return None
    if files > 1:
        return "%s:%d" % ((span_file(span) or "").replace("\\", "/").rsplit("/", 1)[-1], line)
    return "L%d" % line


def files_of(doc: dict[str, _Any]) -> int:
    return len({span_file(s.get("#meta", {}).get("span")) for s in doc["states"][1:]} - {None})


def changes(meta: dict[str, _Any], names: list[str], before: dict[str, _Any],
            after: dict[str, _Any]) -> list[tuple[str, _Any]]:
    """The (display name, new value) of every scalar element a step changed, in var order."""
    out = []
    indices = meta.get("indices", {})
    for name in names:
        if name.startswith("pc."):
            continue  # the acting cell names the step; its location change adds nothing
        for label, old, new in elements(name, before.get(name), after.get(name), indices.get(name)):
            if old != new:
                out.append((label, new))
    return out


def elements(name: str, old: _Any, new: _Any, labels: _Any, depth: int = 0) -> list[tuple[str, _Any, _Any]]:
    if not isinstance(new, list):
        return [(name, old, new)]
    olds = old if isinstance(old, list) and len(old) == len(new) else [None] * len(new)
    dim = labels[depth] if isinstance(labels, list) and depth < len(labels) and isinstance(labels[depth], list) \
        and len(labels[depth]) == len(new) else None
    out: list[tuple[str, _Any, _Any]] = []
    for i, (o, n) in enumerate(zip(olds, new)):
        out += elements("%s[%s]" % (name, dim[i] if dim else i), o, n, labels, depth + 1)
    return out


def show_value(meta: dict[str, _Any], name: str, v: _Any) -> str:
    """Bools as 0/1 (kernel flag style), lock owners by instance name or `-`."""
    base = name.split("[", 1)[0]
    instances = meta.get("instances", [])
    if base in meta.get("locks", []) and isinstance(v, int) and not isinstance(v, bool):
        if v < 0:
            return "-"
        return instances[v] if v < len(instances) else str(v)
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, list):
        return "[" + ", ".join(show_value(meta, base, x) for x in v) + "]"
    return str(v)


def verdict_line(meta: dict[str, _Any]) -> str:
    at = meta.get("violated_at")
    where = "after step %s" % at if at else "in the initial state"
    if meta.get("property_kind") == "check":
        return "=> %s violated at step %s" % (meta["property"], at)
    if meta.get("property_kind") == "cover":  # the run is a witness: it reaches the covered state
        return "=> %s covered %s" % (meta["property"], where)
    return "=> %s violated %s" % (meta["property"], where)


def acting_instances(doc: dict[str, _Any]) -> list[str]:
    seen: dict[str, None] = {}
    for s in doc["states"][1:]:
        inst = s.get("#meta", {}).get("instance")
        if isinstance(inst, str):
            seen.setdefault(inst, None)
    return list(seen)


# ------------------------------------------------------------------------ the lane table

MAX_CELL = 44  # keeps a 4-column table printable in a mail


def render_table(doc: dict[str, _Any], verdict: bool = True) -> str:
    """The trace as a plain-text table: one column per agent instance, one row per step."""
    meta = doc.get("#meta", {})
    states = doc["states"]
    names = var_names(doc)
    vals = [itf_values(st, k) for k, st in enumerate(states)]
    cols = list(meta.get("instances") or acting_instances(doc))
    files = files_of(doc)
    rows = []
    for k in range(1, len(states)):
        m = states[k].get("#meta", {})
        rows.append((str(k), {m.get("instance") or "?": _cell(meta, names, vals, m, k, files)}))
    widths = [max([len("step")] + [len(r[0]) for r in rows])]
    for c in cols:
        widths.append(max([len(c)] + [len(line) for _, cells in rows for line in cells.get(c, [])]))
    out = [_row(["step"] + cols, widths), "-+-".join("-" * w for w in widths)]
    for num, cells in rows:
        height = max(len(v) for v in cells.values())
        for i in range(height):
            first = num if i == 0 else ""
            out.append(_row([first] + [cells.get(c, [])[i] if i < len(cells.get(c, [])) else "" for c in cols],
                            widths))
    if verdict and meta.get("property"):
        out.append(verdict_line(meta))
    return "\n".join(out)


def _row(cells: list[str], widths: list[int]) -> str:
    first = cells[0].rjust(widths[0])
    return " | ".join([first] + [c.ljust(w) for c, w in zip(cells[1:], widths[1:])]).rstrip()


def _cell(meta: dict[str, _Any], names: list[str], vals: list[dict[str, _Any]], m: dict[str, _Any], k: int,
          files: int) -> list[str]:
    where = location(m.get("span"), files)
    head = where + ": " if where is not None else ""
    text = (m.get("text") or m.get("step") or "?").strip()
    lines = [_clip(head + text)]
    for name, v in changes(meta, names, vals[k - 1], vals[k]):
        lines.append(_clip("  %s=%s" % (name, show_value(meta, name, v))))
    if meta.get("property_kind") == "check" and meta.get("violated_at") == k:
        lines.append(_clip("  !! check %s fails at this step: its run ends here" % meta.get("property")))
    return lines


def _clip(s: str) -> str:
    return s if len(s) <= MAX_CELL else s[:MAX_CELL - 3] + "..."


# ------------------------------------------------------------------------ kernel-level events
# What a step did, in the words of the spec's functions: irqc computes, for every step, the
# paths through its body (compiler/events.py) as (target location, {scalar var: the constant
# it last writes, or None}, the checks it passes, the event lines); the path a trace took is
# the one whose end and constant writes agree with the recorded states.


def pick_event(paths: _Any, target: _Any, before: dict[str, _Any], after: dict[str, _Any],
               failed: str | None) -> list[str] | None:
    """The event lines of the path of one step that fits the recorded pre- and post-state."""
    fits = []
    for path in paths:
        to, writes, checks, lines = path
        if failed is not None:
            if failed in checks:
                fits.append(path)
            continue
        if to != target:
            continue
        if all(value is None or after.get(var) == value for var, value in writes.items()):
            fits.append(path)
    if not fits:
        return None
    changed = {name for name in after if name in before and after[name] != before[name]}
    for path in fits:  # prefer a path that writes everything that changed
        if changed <= set(path[1]):
            return list(path[3])
    return list(fits[0][3])


def annotate(doc: dict[str, _Any], step_events: _Any, hidden: list[str], kinds: dict[str, str]) -> None:
    """Add each step's `event` (and the trace's `hidden` vars and agent `kinds`) to an ITF document."""
    meta = doc.setdefault("#meta", {})
    meta["hidden"] = sorted(hidden)
    meta["kinds"] = dict(sorted(kinds.items()))
    states = doc["states"]
    failed = meta.get("property") if meta.get("property_kind") == "check" else None
    vals = [itf_values(st, k) for k, st in enumerate(states)]
    for k in range(1, len(states)):
        m = states[k].setdefault("#meta", {})
        paths = step_events.get((m.get("agent"), m.get("step")))
        if not paths:
            continue
        target = _pc_of(vals[k], m.get("agent"), m.get("instance"))
        event = pick_event(paths, target, vals[k - 1], vals[k], failed if meta.get("violated_at") == k else None)
        if event is not None:
            m["event"] = event


def _pc_of(values: dict[str, _Any], agent: _Any, instance: _Any) -> _Any:
    pc = values.get("pc.%s" % agent)
    if isinstance(pc, list):
        i = _index_of(instance)
        return pc[i] if i < len(pc) else None
    return pc


# ------------------------------------------------------------------------ the LKML race diagram

LKML_WIDTH = 75  # what checkpatch allows in a commit log
_MIN_LANE = 16  # below this a lane's words wrap more than they read: stack the steps instead


def render_lkml(doc: dict[str, _Any], width: int = LKML_WIDTH) -> str:
    """The trace as the race diagrams of LKML threads: one lane per acting instance (CPUs
    first), each cell the kernel-level event of a step, the variable changes that matter as
    numbered footnotes.  No line is wider than `width`."""
    meta = doc.get("#meta", {})
    states = doc["states"]
    names = var_names(doc)
    vals = [itf_values(st, k) for k, st in enumerate(states)]
    order = lanes(doc)
    hidden = set(meta.get("hidden", []))
    notes: list[str] = []
    rows: list[tuple[str, list[str]]] = []  # (lane, cell lines) per step
    for k in range(1, len(states)):
        m = states[k].get("#meta", {})
        lines = _event_lines(meta, m, vals, k)
        shown = [(n, v) for n, v in changes(meta, names, vals[k - 1], vals[k]) if n.split("[", 1)[0] not in hidden]
        if meta.get("property_kind") == "check" and meta.get("violated_at") == k:
            lines.append("!! %s fails" % meta.get("property"))
        if shown:
            notes.append("step %d (%s): %s" % (k, lane_name(m.get("instance") or "?"), ", ".join(
                "%s=%s" % (n, show_value(meta, n, v)) for n, v in shown)))
            lines[-1] += " [%d]" % len(notes)
        rows.append((m.get("instance") or "?", lines))
    busy = _busy(doc, vals, order)
    widths = _fit([max([len(lane_name(x))] + [len(line) for ln, ls in rows if ln == x for line in ls])
                   for x in order],
                  [max([0] + [len(w) for ln, ls in rows if ln == x for line in ls for w in line.split(" ")])
                   for x in order], width)
    out = _lanes_view(order, rows, busy, widths) if widths else _stacked_view(rows, width)
    if meta.get("property"):
        out.append("")
        out += _wrap(verdict_line(meta), width, "   ")
    if notes:
        out.append("")
        for i, note in enumerate(notes, 1):
            out += _wrap("[%d] %s" % (i, note), width, " " * (len(str(i)) + 3))
    return "\n".join(out)


def lanes(doc: dict[str, _Any]) -> list[str]:
    acting = acting_instances(doc)
    kinds = doc.get("#meta", {}).get("kinds", {})
    agent_of = {}
    for s in doc["states"][1:]:
        m = s.get("#meta", {})
        agent_of[m.get("instance")] = m.get("agent")
    order = list(doc.get("#meta", {}).get("instances") or acting)

    def key(inst: str) -> tuple[int, int]:
        kind = kinds.get(agent_of.get(inst)) or ("cpu" if inst.startswith("cpu[") else "")
        return (0 if kind == "cpu" else 1, order.index(inst) if inst in order else len(order))
    return sorted(acting, key=key)


def _index_of(instance: _Any) -> int:
    """cpu[1] -> 1; an instance of a single-instance agent is 0."""
    if isinstance(instance, str) and instance.endswith("]") and "[" in instance:
        digits = instance[instance.rindex("[") + 1:-1]
        if digits.isdigit():
            return int(digits)
    return 0


def lane_name(inst: str) -> str:
    """cpu[1] -> CPU 1, as in the mails; other instances keep their names."""
    if inst.startswith("cpu[") and inst.endswith("]") and inst[4:-1].isdigit():
        return "CPU %s" % inst[4:-1]
    return inst


def _event_lines(meta: dict[str, _Any], m: dict[str, _Any], vals: list[dict[str, _Any]], k: int) -> list[str]:
    event = m.get("event")
    if isinstance(event, list) and event:
        return [str(x) for x in event]
    # A trace without events (an older file, or a step irqc could not describe): the
    # function of the location it leaves, else the statement it starts with.
    step = str(m.get("step") or "?")
    fn = step
    for sep in "@:#":
        fn = fn.split(sep, 1)[0]
    if fn != step:
        return [fn]
    return [(m.get("text") or step).strip()]


def _busy(doc: dict[str, _Any], vals: list[dict[str, _Any]], lanes: list[str]) -> list[set[str]]:
    """Per step, the CPU lanes in the middle of a flow (away from an idle location): the
    `...` of the mails."""
    agent_of = {}
    for s in doc["states"][1:]:
        m = s.get("#meta", {})
        agent_of[m.get("instance")] = m.get("agent")
    out = []
    for k in range(len(vals)):
        now = set()
        for inst in lanes:
            if not inst.startswith("cpu["):
                continue
            loc = _pc_of(vals[k], agent_of.get(inst), inst)
            if isinstance(loc, str) and not loc.startswith("idle") and loc not in ("end", "ready"):
                now.add(inst)
        out.append(now)
    return out


def _fit(natural: list[int], words: list[int], width: int) -> list[int] | None:
    """Lane widths that fit `width` with their separators: the widest lanes give up columns
    first (their events wrap between words; a word is broken only when no other way fits);
    None when even the narrowest readable lanes do not fit."""
    widths = list(natural)
    avail = width - 3 * (len(widths) - 1)
    if not widths or avail < _MIN_LANE * len(widths):
        return None
    for floors in ([max(_MIN_LANE, min(n, w)) for n, w in zip(natural, words)], [_MIN_LANE] * len(widths)):
        while sum(widths) > avail:
            room = [w - f for w, f in zip(widths, floors)]
            if max(room) <= 0:
                break
            i = max(range(len(widths)), key=lambda j: (room[j] > 0, widths[j]))
            widths[i] -= 1
    return widths


def _lanes_view(order: list[str], rows: list[tuple[str, list[str]]], busy: list[set[str]],
                widths: list[int]) -> list[str]:
    width_of = dict(zip(order, widths))
    out = [_lkml_row([lane_name(x) for x in order], widths), "-+-".join("-" * w for w in widths)]
    for k, (lane, lines) in enumerate(rows, 1):
        wrapped = [w for line in lines for w in _wrap(line, width_of.get(lane, widths[0]), "  ")]
        for i, line in enumerate(wrapped):
            cells = []
            for other in order:
                if other == lane:
                    cells.append(line)
                elif i == 0 and other in busy[k - 1] and other in busy[k]:
                    cells.append("...")
                else:
                    cells.append("")
            out.append(_lkml_row(cells, widths))
    return out


def _lkml_row(cells: list[str], widths: list[int]) -> str:
    return " | ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()


def _stacked_view(rows: list[tuple[str, list[str]]], width: int) -> list[str]:
    """Too many lanes for side by side: one entry per step, lane first."""
    out = []
    for k, (lane, lines) in enumerate(rows, 1):
        head = "%3d %s: " % (k, lane_name(lane))
        out += _wrap(head + "; ".join(lines), width, " " * 6)
    return out


def fit_lines(text: str, width: int = LKML_WIDTH) -> str:
    """Every line of `text` longer than `width` columns wrapped (continuations indented four
    more than the line); shorter lines are left as they are."""
    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        body = line.lstrip(" ")
        lead = line[:len(line) - len(body)]
        out += [lead + w for w in _wrap(body, max(_MIN_LANE, width - len(lead)), "    ")]
    return "\n".join(out)


def _wrap(text: str, width: int, indent: str) -> list[str]:
    """Word-wrap to `width` columns; a word longer than a line is broken, never cut."""
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = word if not line else line + " " + word
        if len(candidate) <= width:
            line = candidate
            continue
        if line:
            out.append(line)
            line = indent + word if out else word
        else:
            line = word
        while len(line) > width:
            out.append(line[:width])
            line = indent + line[width:]
    if line or not out:
        out.append(line)
    return out
# ---- irqc shared runtime: end
