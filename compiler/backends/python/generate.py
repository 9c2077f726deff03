"""IR model -> view model -> Jinja2 template -> simulator source text.

The templates hold the file layout; every line of code that depends on the
model is built here (expressions in `exprs`, step bodies in `steps`).  The
output depends only on the model and the paths it is told to print, so the
same spec always gives the same bytes.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jinja2

from compiler import ir, liveness, symmetry
from compiler import events, traceview
from compiler.backends.python import exprs, steps
from compiler.backends.python.exprs import Needs, Scope, UnsupportedIR
from compiler.backends.python.names import Names
from dsl.source import Span

# The first line of every generated file: how `irqc build` recognises its own files.
MARKER = "# irqc-generated simulator: this file is written by `irqc build`"

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class StepView:
    where: str  # "specs/x.irqspec:42"
    agent: str
    name: str
    source: str  # the location it leaves
    text: str
    lines: list[str]


@dataclass(frozen=True, slots=True)
class PropView:
    where: str
    kind: str
    name: str
    lines: list[str]


def generate(model: ir.Model, spec: str, show_path: Callable[[str], str] = str, filename: str | None = None,
             events: bool = True) -> str:
    """The simulator source for `model`.  `spec` is the spec path to print in the
    header; `show_path` maps span paths to what the comments print; without `events`, its race
    diagram tables are empty (a simulator nobody draws a trace of: the coverage scan's probe)."""
    sc = Scope(model, Names(), Needs())
    for p in model.params:  # params first, so their identifiers never get a suffix
        sc.names.param(p)
    step_views = [_step_view(a, st, sc, show_path) for a in model.agents for st in a.steps]
    prop_views = [_prop_view(p, sc, show_path) for p in model.properties if p.expr is not None]
    clauses = [exprs.cond(e, sc) for e in model.initially]
    initially = " and ".join(f"({c})" for c in clauses) or "True"
    enabled = [_enabled_fn(name, sc) for name in list(sc.needs.enabled)]
    guards = [_guard_view(a, st, sc, show_path) for a in model.agents if a.name in sc.needs.enabled
              for st in a.steps]
    view = {
        "marker": MARKER,
        "spec": spec,
        "source_hash": model.source_hash,
        "name": model.name,
        "title": _one_line(model.title),
        "filename": filename or f"{model.name}.py",
        "params": {p.name: p.default for p in model.params},
        "enums": [f"{e.name}: " + ", ".join(f"{m}={k}" for k, m in enumerate(e.members)) for e in model.enums],
        "param_locals": [f"{sc.names.param(p)} = P[{p.name!r}]" for p in model.params],
        "var_infos": [_var_info(v, sc) for v in model.vars],
        "agent_infos": [_agent_info(a, sc) for a in model.agents],
        "slot_names": _slot_names(model, sc),
        "ranges": [f"{name} = {code}" for code, name in sc.needs.ranges.items()],
        "steps": step_views,
        "enabled": enabled,
        "guards": guards,
        "props": prop_views,
        "initially": initially,
        "clauses": [(_where(e.span, show_path), c) for e, c in zip(model.initially, clauses)],
        "step_infos": _step_infos(model, sc, show_path),
        "prop_infos": [_prop_info(p, sc, show_path) for p in _all_properties(model)],
        "dispatch": [f"{sc.names.steps_at(a.name)} = _steps_at(STEPS, {k}, {len(a.locations)})"
                     for k, a in enumerate(model.agents)],
        "guard_dispatch": [_guard_table(a, sc) for a in model.agents if a.name in sc.needs.enabled],
        "successors": _successors_fn(model, sc),
        "shared_runtime": shared_runtime(),
        "trace_events": _trace_events(model) if events else _no_trace_events(model),
        "symmetry": _symmetry_info(model, sc) + _dead_info(model),
    }
    return _env().get_template("simulator.py.j2").render(**view)


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    """One environment per process: it caches the compiled templates (compiling them was
    most of the time of a `generate`)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["pyrepr"] = repr
    env.filters["comment"] = comment_safe
    env.filters["docstring"] = docstring_safe
    return env


# Outside text (paths, titles, step texts) reaches the generated file only through repr(),
# comment_safe or docstring_safe: a newline in a folder name must not become a line of code.
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# PEP 263: Python reads `coding[:=]NAME` in a comment on line 1 or 2 (the spec path's line) as the
# file's encoding, and some codecs turn printable text into newlines.
_CODING = re.compile(r"(?<=coding)[:=]")


def comment_safe(text: str) -> str:
    """`text` as it may appear in a `#` comment: one line, printable, valid UTF-8.

    Backslashes, control and format characters, line and paragraph separators and lone
    surrogates (the undecodable bytes of a non-UTF-8 path) are written as Python escapes."""
    out = "".join(_ESCAPES.get(c) or (c if c.isprintable() else _escape(c)) for c in text)
    return _CODING.sub(lambda m: _escape(m.group()), out)


def docstring_safe(text: str) -> str:
    """`text` inside a triple-quoted docstring: the docstring's value reads as `comment_safe(text)`."""
    return comment_safe(text).replace("\\", "\\\\").replace('"', '\\"')


def _escape(c: str) -> str:
    o = ord(c)
    if 0xDC80 <= o <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte: show the byte
        return f"\\x{o - 0xDC00:02x}"
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


# --------------------------------------------------------------------------- declarations


def _var_info(v: ir.Var, sc: Scope) -> str:
    dims: list[str] = []
    t: ir.Type = v.type
    while isinstance(t, ir.ArrayType):
        labels = repr(t.index.members) if isinstance(t.index, ir.EnumType) else "None"
        lo, hi = _bounds(t.index, sc)
        dims.append(f"({lo}, {hi}, {labels})")
        t = t.elem
    kind = "lock" if v.kind == "lock" else _scalar_kind(t)
    lo, hi = _bounds(t, sc)
    members = repr(t.members) if isinstance(t, ir.EnumType) else "None"
    init = "None" if v.init is None else exprs.const(v.init, sc)
    dims_text = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
    return f"_VarInfo({v.name!r}, {kind!r}, {dims_text}, {lo}, {hi}, {members}, {init})"


def _scalar_kind(t: ir.Type) -> str:
    if isinstance(t, ir.BoolType):
        return "bool"
    if isinstance(t, ir.EnumType):
        return "enum"
    if isinstance(t, ir.IntType):
        return "int"
    raise UnsupportedIR(f"no Python layout for type {t}")


def _bounds(t: ir.Type, sc: Scope) -> tuple[str, str]:
    if isinstance(t, ir.BoolType):
        return "0", "1"
    if isinstance(t, ir.EnumType):
        return "0", str(len(t.members) - 1)
    if isinstance(t, ir.IntType):
        return exprs.const(t.lo, sc), exprs.const(t.hi, sc)
    raise UnsupportedIR(f"no Python layout for type {t}")


def _agent_info(a: ir.Agent, sc: Scope) -> str:
    domain = "None" if a.domain is None else "(%s, %s)" % _bounds(a.domain, sc)
    locs = tuple(loc.name for loc in sorted(a.locations, key=lambda loc: loc.index))
    if [loc.index for loc in sorted(a.locations, key=lambda loc: loc.index)] != list(range(len(locs))):
        raise UnsupportedIR(f"agent {a.name}: location indices are not 0..{len(locs) - 1}")
    return f"_AgentInfo({a.name!r}, {a.kind!r}, {domain}, {a.initial}, {locs!r})"


def _slot_names(model: ir.Model, sc: Scope) -> list[str]:
    out = []
    for v in model.vars:
        out.append(f"{sc.names.var_offset(v)} = L.offset[{v.name!r}]")
        for d in range(_depth(v.type) - 1):
            out.append(f"{sc.names.var_stride(v, d)} = L.stride[{v.name!r}][{d}]")
    for a in model.agents:
        out.append(f"{sc.names.pc_base(a.name)} = L.pc_base[{a.name!r}]")
    return out


def _depth(t: ir.Type) -> int:
    return 1 + _depth(t.elem) if isinstance(t, ir.ArrayType) else 0


# --------------------------------------------------------------------------- code


def _step_view(a: ir.Agent, st: ir.Step, sc: Scope, show_path: Callable[[str], str]) -> StepView:
    name = sc.names.step(a.name, st.name)
    return StepView(_where(st.span, show_path), a.name, st.name, a.locations[st.source].name,
                    _one_line(st.text), steps.step_function(name, a, st, sc))


def _guard_view(a: ir.Agent, st: ir.Step, sc: Scope, show_path: Callable[[str], str]) -> StepView:
    name = sc.names.guard(a.name, st.name)
    return StepView(_where(st.span, show_path), a.name, st.name, a.locations[st.source].name,
                    _one_line(st.text), steps.guard_function(name, a, st, sc))


def _guard_table(a: ir.Agent, sc: Scope) -> str:
    """Per location of the agent, the guards of the steps leaving it."""
    rows = []
    for loc in range(len(a.locations)):
        fns = [sc.names.guard(a.name, st.name) for st in a.steps if st.source == loc]
        rows.append("(" + "".join(f"{f}, " for f in fns).rstrip(" ") + ")")
    return f"{sc.names.guards_at(a.name)} = ({', '.join(rows)},)"


def _prop_view(p: ir.Property, sc: Scope, show_path: Callable[[str], str]) -> PropView:
    pred = p.invariant_expr()  # a cover's is its negation: a "violation" is its witness
    assert pred is not None
    lines = [f"def {sc.names.prop(p.name)}(s):", f"    return {exprs.cond(pred, sc)}"]
    return PropView(_where(p.span, show_path), p.kind, p.name, lines)


def _enabled_fn(agent: str, sc: Scope) -> list[str]:
    pc, table = sc.names.pc_base(agent), sc.names.guards_at(agent)
    where = pc if sc.model.agent(agent).domain is None else f"{pc} + i"
    return [
        f"def {sc.names.enabled(agent)}(s, i):",
        "    # Some step leaving the instance's location has a path through its guards.",
        f"    for guard in {table}[s[{where}]]:",
        "        if guard(s, i):",
        "            return True",
        "    return False",
    ]


def _successors_fn(model: ir.Model, sc: Scope) -> list[str]:
    """Every (successor, violated check) of a state: the explorer's inner loop, unrolled
    over agents so that it reads only closure constants."""
    lines = ["def successors(s):", "    out = []"]
    for a in model.agents:
        table, pc = sc.names.steps_at(a.name), sc.names.pc_base(a.name)
        if a.domain is None:
            lines += [f"    for step in {table}[s[{pc}]]:", "        out += step(s, 0)"]
        else:
            lines += [f"    for i in range(L.count[{a.name!r}]):",
                      f"        for step in {table}[s[{pc} + i]]:", "            out += step(s, i)"]
    return lines + ["    return out"]


def _symmetry_info(model: ir.Model, sc: Scope) -> list[str]:
    """`SYMMETRY`: how CPU ids move under a permutation (compiler/symmetry.py), for the search's
    canonical states; None, with the reasons, when the spec does not treat CPUs alike."""
    a = symmetry.analyse(model)
    if not a.symmetric:
        return ["# Not symmetric in CPU ids (compiler/symmetry.py says why): no reduction.",
                "SYMMETRY = None"]
    moving = [f"({v.name!r}, {v.cpu_dims!r}, {v.elem!r})" for v in a.vars if any(v.cpu_dims) or v.elem != "plain"]
    pins = sorted({f"({p.sort!r}, {exprs.const(p.value, sc)})" for p in a.pins})
    offsets = sorted({exprs.const(o, sc) for o in a.offsets})
    return ["# CPU ids move together under a permutation (compiler/symmetry.py): the cpu agent, the variables",
            "# that hold or are indexed by them, the constants that pin a CPU, the lock owner offsets.",
            f"SYMMETRY = _SymInfo({a.agent!r}, ({''.join(m + ', ' for m in moving)}),",
            f"                    ({''.join(p + ', ' for p in pins)}), ({''.join(o + ', ' for o in offsets)}))"]


def _dead_info(model: ir.Model) -> list[str]:
    """`DEAD`: each variable dead somewhere, whether it is a cpu block's own row, and per agent that
    mentions it the locations where it is dead for that agent (compiler/liveness.py)."""
    rows = [f"({d.var.name!r}, {d.row}, ({''.join(f'({a!r}, {tuple(sorted(locs))!r}), ' for a, locs in d.where)})), "
            for d in liveness.analyse(model)]
    return ["# The variables dead somewhere (compiler/liveness.py): the search stores a state with every",
            "# variable dead where all its agents stand reset, one state for all that differ only there.",
            f"DEAD = ({''.join(rows)})",
            "# The variables that steer nothing, each with the properties it feeds (compiler/liveness.py):",
            "# reset once every one of those is violated.",
            f"GHOSTS = ({''.join(f'({g.var.name!r}, {g.props!r}), ' for g in liveness.ghosts(model))})"]


SHARED_BEGIN = "# ---- irqc shared runtime: begin"
SHARED_END = "# ---- irqc shared runtime: end"


def shared_runtime() -> str:
    """compiler/traceview.py between its marker lines: the trace code every simulator carries,
    so that irqc and the simulators read and show traces with one implementation."""
    text = Path(traceview.__file__).read_text(encoding="utf-8")
    begin, end = text.index(SHARED_BEGIN), text.index(SHARED_END)
    return text[begin:end + len(SHARED_END)]


def _trace_events(model: ir.Model) -> list[str]:
    """The race diagram's tables (compiler/events.py): each step's paths, the ghost vars, the
    vars each property reads, the agents' kinds."""
    table = events.step_events(model)
    lines = ["TRACE_EVENTS = {"]
    for key in sorted(table):
        lines.append(f"    {key!r}: {table[key]!r},")
    lines.append("}")
    lines.append(f"TRACE_GHOST = {events.ghost_vars(model)!r}")
    lines.append(f"TRACE_READS = {events.property_reads(model)!r}")
    lines.append(f"TRACE_KINDS = {events.kinds(model)!r}")
    return lines


def _no_trace_events(model: ir.Model) -> list[str]:
    return ["TRACE_EVENTS = {}", "TRACE_GHOST = []", "TRACE_READS = {}", f"TRACE_KINDS = {events.kinds(model)!r}"]


def _step_infos(model: ir.Model, sc: Scope, show_path: Callable[[str], str]) -> list[str]:
    out = []
    for k, a in enumerate(model.agents):
        for st in a.steps:
            out.append(f"_StepInfo({k}, {st.name!r}, {st.source}, {_one_line(st.text)!r}, "
                       f"{_span(st.span, show_path)!r}, {sc.names.step(a.name, st.name)})")
    return out


def _all_properties(model: ir.Model) -> list[ir.Property]:
    """The model's properties, then any check property a step fails without the list naming
    it: the Z3 backend reports those too (TransitionSystem.check_props)."""
    named = {p.name for p in model.properties}
    extra: dict[str, ir.Property] = {}
    for a in model.agents:
        for st in a.steps:
            for chk in _checks(st.body):
                if chk.prop not in named and chk.prop not in extra:
                    extra[chk.prop] = ir.Property(chk.prop, "check", None, None, chk.span)
    return [*model.properties, *(extra[k] for k in sorted(extra))]


def _checks(stmts: tuple[ir.Stmt, ...]) -> list[ir.Check]:
    out: list[ir.Check] = []
    for st in stmts:
        if isinstance(st, ir.Check):
            out.append(st)
        elif isinstance(st, ir.If):
            out += _checks(st.then) + _checks(st.else_)
    return out


def _prop_info(p: ir.Property, sc: Scope, show_path: Callable[[str], str]) -> str:
    fn = sc.names.prop(p.name) if p.expr is not None else "None"
    return f"_PropInfo({p.name!r}, {p.kind!r}, {fn}, {p.expect!r}, {_span(p.span, show_path)!r})"


def _where(span: Span, show_path: Callable[[str], str]) -> str:
    return f"{show_path(span.path)}:{span.line}"


def _span(span: Span, show_path: Callable[[str], str]) -> str:
    return f"{show_path(span.path)}:{span.line}:{span.col}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
