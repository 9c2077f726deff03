"""What each step does, in the words of the spec's functions: the cells of the race diagram.

The IR keeps no function names (lowering inlines every `fn`), so they are recovered from
the spans: a statement belongs to the `fn` whose body holds its line in the spec text, and
a location named `handle_fasteoi_irq@98` sits in `handle_fasteoi_irq`.  For every path
through a step's body this gives the event lines of docs/prove.md ("The race diagram"):

* the function the step resumes in, then each function it calls (first time only);
* `pred() -> early out` where it takes an `if` that calls a `def` predicate and jumps
  out (`goto` or `return`), as in `if (!irq_may_run()) goto out;`;
* `F return` and, on a `cpu`, `interrupt end` when it leaves the flow for an idle
  location; `interrupt start` when a `cpu` step leaves an idle location;
* a device step by its name; a thread step outside any function by the thread's name
  (and its statement after the first step).

Ghost functions (every call site's comment says `ghost`) are left out.  A variable is ghost
(hidden from the diagram's footnotes) when the comment on its declaration, or a comment in
the paragraph just above it, says `ghost`, unless the violated property reads it.

The per-path records are what `traceview.pick_event` matches a recorded step against.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Collection

from compiler import ir, traceview
from compiler.trace import Trace, to_itf

MAX_PATHS = 512  # per step; past this the step is shown by its location's function alone

# (target location, {scalar var: constant last written or None}, checks passed, event lines)
PathEvent = tuple[str, dict[str, Any], tuple[str, ...], tuple[str, ...]]
StepEvents = dict[tuple[str, str], tuple[PathEvent, ...]]

_FN = re.compile(r"^\s*fn\s+(\w+)\s*\(")
_DEF = re.compile(r"^\s*def\s+(\w+)\s*\(")
_CALL = re.compile(r"\b(\w+)\s*\(")


@dataclass(slots=True)
class _Source:
    """What the spec text says about functions: where their bodies are and who calls them."""

    lines: dict[str, list[str]] = field(default_factory=dict)  # path -> source lines
    fn_at: dict[tuple[str, int], str] = field(default_factory=dict)  # (path, line) -> fn
    fns: set[str] = field(default_factory=set)
    preds: set[str] = field(default_factory=set)  # `def` predicates
    callers: dict[str, set[str]] = field(default_factory=dict)  # fn -> fns that call it
    call_sites: dict[str, list[str]] = field(default_factory=dict)  # fn -> comments of its call lines

    def line(self, path: str, n: int) -> str:
        text = self.lines.get(path, [])
        return text[n - 1] if 0 < n <= len(text) else ""

    def fn(self, span: Any) -> str | None:
        return self.fn_at.get((span.path, span.line))

    def ghost_fn(self, name: str) -> bool:
        sites = self.call_sites.get(name, [])
        return bool(sites) and all("ghost" in c.lower() for c in sites)


def _read_sources(paths: set[str]) -> _Source:
    src = _Source()
    for path in sorted(paths):
        try:
            src.lines[path] = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue  # a model built without its files (tests' IR fixtures): names from locations only
    for path, lines in src.lines.items():
        _scan_regions(src, path, lines)
    for path, lines in src.lines.items():
        _scan_calls(src, path, lines)
    return src


def _code(line: str) -> tuple[str, str]:
    code, _, comment = line.partition("//")
    return code, comment


def _scan_regions(src: _Source, path: str, lines: list[str]) -> None:
    depth, current = 0, None
    for n, line in enumerate(lines, 1):
        code, _ = _code(line)
        if depth == 0:
            if (m := _FN.match(code)) is not None:
                current = m.group(1)
                src.fns.add(current)
            elif (m := _DEF.match(code)) is not None:
                src.preds.add(m.group(1))
        if current is not None:
            src.fn_at[(path, n)] = current
        depth += code.count("{") - code.count("}")
        if depth <= 0:
            depth, current = 0, None


def _scan_calls(src: _Source, path: str, lines: list[str]) -> None:
    for n, line in enumerate(lines, 1):
        code, comment = _code(line)
        if _FN.match(code) or _DEF.match(code):
            continue
        here = src.fn_at.get((path, n))
        for m in _CALL.finditer(code):
            name = m.group(1)
            if name in src.fns:
                src.call_sites.setdefault(name, []).append(comment)
                if here is not None:
                    src.callers.setdefault(name, set()).add(here)


def _ancestors(src: _Source, fn: str) -> set[str]:
    out: set[str] = set()
    work = [fn]
    while work:
        for caller in src.callers.get(work.pop(), set()):
            if caller not in out:
                out.add(caller)
                work.append(caller)
    return out


# --------------------------------------------------------------------------- paths


def _paths(body: tuple[ir.Stmt, ...]) -> list[list[tuple[ir.Stmt, bool]]]:
    """Every path through a step body as (statement, then-branch taken) pairs, ending at a Goto."""
    out: list[list[tuple[ir.Stmt, bool]]] = []

    def walk(stmts: tuple[ir.Stmt, ...], i: int, acc: list[tuple[ir.Stmt, bool]]) -> None:
        if len(out) > MAX_PATHS:
            return
        if i == len(stmts):
            out.append(acc)
            return
        s = stmts[i]
        if isinstance(s, ir.If):
            for taken, branch in ((True, s.then), (False, s.else_)):
                walk(branch + stmts[i + 1:], 0, [*acc, (s, taken)])
            return
        if isinstance(s, ir.Goto):  # the path ends here, whatever follows the If it is in
            out.append([*acc, (s, True)])
            return
        walk(stmts, i + 1, [*acc, (s, True)])

    walk(body, 0, [])
    return out


def _base_var(e: ir.Expr) -> tuple[str, bool] | None:
    """The variable an assignment target names, and whether it is the whole (scalar) variable."""
    if isinstance(e, ir.VarRef):
        return e.var.name, True
    if isinstance(e, ir.Index):
        inner = _base_var(e.base)
        return (inner[0], False) if inner else None
    return None


def _const(e: ir.Expr) -> Any:
    if not isinstance(e, ir.Lit):
        return None
    if isinstance(e.type, ir.EnumType):
        return e.type.members[int(e.value)]
    return e.value


def _early_out(src: _Source, s: ir.If) -> str | None:
    """`pred` when the `if` calls a `def` predicate and its then-branch jumps out."""
    head, _ = _code(src.line(s.span.path, s.span.line))
    preds = [m.group(1) for m in _CALL.finditer(head) if m.group(1) in src.preds]
    if not preds:
        return None
    opened = head.rstrip().endswith("{")
    for k in range(8):  # the then-branch: the rest of this line, the next statement, or the block
        code, _ = _code(src.line(s.span.path, s.span.line + k))
        if re.search(r"\b(goto|return)\b", code):
            return preds[0]
        if k == 0 and code.rstrip().endswith(";"):
            break
        if k > 0 and ("}" in code or not opened and code.rstrip().endswith(";")):
            break
    return None


def _outermost(src: _Source, fn: str) -> str:
    """The flow a function runs in: follow its callers up to one the agent calls itself."""
    seen = {fn}
    while (callers := sorted(src.callers.get(fn, set()) - seen)):
        fn = callers[0]
        seen.add(fn)
    return fn


def _fn_of_location(src: _Source, name: str) -> str | None:
    fn = re.split(r"[@:#]", name, maxsplit=1)[0]
    return fn if fn != name and fn in src.fns else None


def _describe(src: _Source, agent: ir.Agent, step: ir.Step, path: list[tuple[ir.Stmt, bool]],
              target: ir.Location) -> tuple[str, ...]:
    start = agent.locations[step.source]
    first = _fn_of_location(src, start.name)
    lines: list[str] = []
    if agent.kind == "device":
        lines.append(step.name)
    elif first is not None:
        lines.append(first)
    elif start.idle and agent.kind == "cpu":
        lines.append("interrupt start")
    seen = {first} if first else set()
    above = _ancestors(src, first) if first else set()
    last = first
    outs = 0
    for s, taken in path:
        # a Goto carries its target's span: where the step ends, not what it runs
        f = src.fn(s.span) if s.span.path and not isinstance(s, ir.Goto) else None
        if f is not None and not src.ghost_fn(f):
            last = f
            if f not in seen:
                seen.add(f)
                if f not in above:
                    lines.append(f)
        if isinstance(s, ir.If) and taken and (pred := _early_out(src, s)) is not None:
            lines.append(f"{pred}() -> early out")
            outs += 1
    ends_flow = _fn_of_location(src, target.name) is None and (target.idle or target.terminal)
    if ends_flow and last is not None and not outs and agent.kind == "cpu":
        lines.append(f"{_outermost(src, first or last)} return")
    if ends_flow and agent.kind == "cpu" and target.idle:
        lines.append("interrupt end")
    if not lines:  # a thread's own statements
        lines.append(agent.name if step.source == agent.initial else f"{agent.name}: {step.text}")
    return tuple(lines)


def _path_event(src: _Source, agent: ir.Agent, step: ir.Step, path: list[tuple[ir.Stmt, bool]]) -> PathEvent | None:
    goto = path[-1][0] if path else None
    if not isinstance(goto, ir.Goto):
        return None  # a path cut by a failed in_range check: no successor to match
    writes: dict[str, Any] = {}
    checks: list[str] = []
    for s, _ in path:
        if isinstance(s, ir.Assign) and (base := _base_var(s.target)) is not None:
            writes[base[0]] = _const(s.value) if base[1] else None
        elif isinstance(s, ir.Check) and s.prop not in checks:
            checks.append(s.prop)
    target = agent.locations[goto.target]
    return target.name, writes, tuple(checks), _describe(src, agent, step, path, target)


def step_events(model: ir.Model, only: Collection[tuple[str, str]] | None = None) -> StepEvents:
    """For each (agent, step name), or each of `only`, the event record of every path through its
    body (each computed once per model: a printed trace needs only its own steps')."""
    done = _step_events_done(model)
    src: _Source | None = None
    out: StepEvents = {}
    for a in model.agents:
        for st in a.steps:
            key = (a.name, st.name)
            if only is not None and key not in only:
                continue
            if key not in done:
                if src is None:
                    src = _read_sources(_paths_of(model))
                paths = _paths(st.body)
                done[key] = _coarse(src, a, st) if len(paths) > MAX_PATHS else \
                    _merged([rec for p in paths if (rec := _path_event(src, a, st, p)) is not None])
            out[key] = done[key]
    return out


@ir.per_model
def _step_events_done(model: ir.Model) -> StepEvents:
    return {}


def _merged(records: list[PathEvent]) -> tuple[PathEvent, ...]:
    """One record per (end location, event lines): the paths that read alike need not be told
    apart.  A var keeps its constant only where every path of the group writes that constant;
    the checks are those of any path.  (Keeps each simulator's table small.)"""
    groups: dict[tuple[str, tuple[str, ...]], list[PathEvent]] = {}
    for rec in records:
        groups.setdefault((rec[0], rec[3]), []).append(rec)
    out = []
    for (target, lines), recs in groups.items():
        writes: dict[str, Any] = {}
        for rec in recs:
            for var, value in rec[1].items():
                writes[var] = value if var not in writes or writes[var] == value else None
        for var in writes:
            if any(var not in rec[1] for rec in recs):
                writes[var] = None
        checks = tuple(dict.fromkeys(c for rec in recs for c in rec[2]))
        out.append((target, writes, checks, lines))
    return tuple(out)


def _coarse(src: _Source, agent: ir.Agent, step: ir.Step) -> tuple[PathEvent, ...]:
    """A step with too many paths to list: per location it may end in, only what its
    location names say (the function it resumes, the end of the flow)."""
    targets: list[int] = []
    checks: list[str] = []

    def walk(stmts: tuple[ir.Stmt, ...]) -> None:
        for s in stmts:
            if isinstance(s, ir.Goto) and s.target not in targets:
                targets.append(s.target)
            elif isinstance(s, ir.Check) and s.prop not in checks:
                checks.append(s.prop)
            elif isinstance(s, ir.If):
                walk(s.then)
                walk(s.else_)

    walk(step.body)
    return tuple((agent.locations[t].name, {}, tuple(checks), _describe(src, agent, step, [], agent.locations[t]))
                 for t in targets)


def _paths_of(model: ir.Model) -> set[str]:
    paths = {model.path} | {v.span.path for v in model.vars}
    for a in model.agents:
        paths |= {st.span.path for st in a.steps}
    return {p for p in paths if p}


# --------------------------------------------------------------------------- ghost state


def ghost_vars(model: ir.Model) -> list[str]:
    """The variables the spec marks as ghost (see the module docstring)."""
    src = _read_sources({v.span.path for v in model.vars if v.span.path})
    out = []
    for v in model.vars:
        if v.kind == "lock":
            continue
        lines = src.lines.get(v.span.path, [])
        n = v.span.line
        said = [_code(lines[n - 1])[1]] if 0 < n <= len(lines) else []
        k = n - 2
        while 0 <= k < len(lines) and lines[k].strip():
            said.append(_code(lines[k])[1])
            k -= 1
        if any("ghost" in c.lower() for c in said):
            out.append(v.name)
    return out


@ir.per_model
def property_reads(model: ir.Model) -> dict[str, list[str]]:
    """Per property, the variables its expression (or its asserts' conditions) read."""
    out: dict[str, set[str]] = {}
    for p in model.properties:
        if p.expr is not None:
            out.setdefault(p.name, set()).update(_reads(p.expr))
    seen: set[int] = set()  # lowering shares the continuations of an `if` between its branches

    def walk(stmts: tuple[ir.Stmt, ...]) -> None:
        for s in stmts:
            if id(s) in seen:
                continue
            seen.add(id(s))
            if isinstance(s, ir.Check):
                out.setdefault(s.prop, set()).update(_reads(s.cond))
            elif isinstance(s, ir.If):
                walk(s.then)
                walk(s.else_)

    for a in model.agents:
        for st in a.steps:
            walk(st.body)
    return {k: sorted(v) for k, v in sorted(out.items())}


def _reads(e: Any) -> set[str]:
    if isinstance(e, ir.VarRef):
        return {e.var.name}
    if not is_dataclass(e) or isinstance(e, (ir.Var, ir.Param, ir.Choice, ir.Bound)):
        return set()
    out: set[str] = set()
    for f in fields(e):
        v = getattr(e, f.name)
        for x in v if isinstance(v, tuple) else (v,):
            out |= _reads(x)
    return out


def hidden_for(ghosts: list[str], reads: dict[str, list[str]], prop: str | None) -> list[str]:
    """The ghost vars a trace of `prop` hides: all but those the property reads."""
    keep = set(reads.get(prop or "", []))
    return [v for v in ghosts if v not in keep]


def kinds(model: ir.Model) -> dict[str, str]:
    return {a.name: a.kind for a in model.agents}


def annotate(trace: Trace, model: ir.Model, table: StepEvents | None = None) -> None:
    """Give a trace of `model` its race-diagram information: each step's event, the ghost
    vars to hide, the agents' kinds (all written into its ITF file)."""
    doc = to_itf(trace)
    hidden = hidden_for(ghost_vars(model), property_reads(model), trace.property)
    traceview.annotate(doc, step_events(model) if table is None else table, hidden, kinds(model))
    trace.hidden, trace.kinds = list(doc["#meta"]["hidden"]), dict(doc["#meta"]["kinds"])
    for state, st in zip(trace.states, doc["states"]):
        event = st["#meta"].get("event")
        state.event = list(event) if event is not None else None
