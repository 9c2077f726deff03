"""What a patch changes: the verdicts of OLD and NEW side by side, and for each property OLD
violates and NEW does not, OLD's counterexample replayed on NEW up to where NEW departs.

The replay follows OLD's run step by step in NEW's simulator.  The two specs may name their
steps and locations differently (a patch replaces a function), so a step is matched by what
it does, not by its name: the same agent instance takes a step of NEW (or up to
`MAX_SUBSTEPS` of them) after which every variable the two specs share has the value OLD's
trace shows.  Program counters and variables only one spec has are not compared.  The first
step of OLD that no such NEW run matches is where NEW blocks the race.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler import ir
from compiler.results import PropertyResult
from compiler.trace import Trace, TraceState, Value

MAX_SUBSTEPS = 3  # NEW may split one of OLD's atomic steps into a few


@dataclass(frozen=True, slots=True)
class Blocked:
    step: int  # the index of OLD's step NEW cannot take (1-based, as traces count)
    instance: str
    old_text: str
    why: str  # what NEW does instead, in the spec's words

    def describe(self) -> str:
        return f"blocked at step {self.step} ({self.instance}: `{self.old_text}`): {self.why}"


@dataclass(frozen=True, slots=True)
class Change:
    property: str
    old: str  # verdict text, or "absent"
    new: str
    change: str  # "fixed" | "broken" | "unchanged" | "added" | "removed" | "unknown"
    blocked_at: Blocked | None = None


def verdict_text(r: PropertyResult | None) -> str:
    if r is None:
        return "absent"
    if r.verdict == "violated":
        return f"violated at depth {r.depth}"
    return r.verdict


def compare(old_results: list[PropertyResult], new_results: list[PropertyResult]) -> list[Change]:
    old = {r.property: r for r in old_results}
    new = {r.property: r for r in new_results}
    names = [r.property for r in old_results] + [r.property for r in new_results if r.property not in old]
    return [Change(n, verdict_text(old.get(n)), verdict_text(new.get(n)), _label(old.get(n), new.get(n)))
            for n in names]


def _label(old: PropertyResult | None, new: PropertyResult | None) -> str:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    bad_old, bad_new = _is_bad(old), _is_bad(new)
    if "inconclusive" in (old.verdict, new.verdict):
        return "unknown"
    if bad_old and not bad_new:
        return "fixed"
    if bad_new and not bad_old:
        return "broken"
    return "unchanged"


def _is_bad(r: PropertyResult) -> bool:
    """Violated, or for a cover: a cover that became unreachable is what breaks."""
    if r.verdict == "covered":
        return False
    return r.verdict in ("violated", "unreachable")


def replay_on(sim: Any, trace: Trace, new_model: ir.Model) -> Blocked | None:
    """Follow `trace` (OLD's counterexample) in NEW's simulator; None when NEW takes it all the
    way and the property is still violated at its end (then the fix is elsewhere)."""
    shared = _shared(trace, sim)
    state = _initial(sim, trace.states[0], shared)
    if state is None:
        return Blocked(0, "-", "initial state", "no initial state of NEW agrees with OLD's on the shared variables")
    last = len(trace.states) - 1
    for k in range(1, last + 1):
        want = trace.states[k]
        is_check_end = k == last and trace.property_kind == "check"
        if is_check_end:
            return _check_end(sim, state, want, trace.property, k)
        nxt = _match(sim, state, want, shared)
        if nxt is None:
            return Blocked(k, want.instance or "?", want.text or want.step or "?", _instead(sim, state, want, shared))
        state = nxt
    if trace.property_kind in ("invariant", "deadlock", "cover") and trace.property not in sim.violated(state):
        return Blocked(last, trace.states[last].instance or "?", trace.states[last].text or "?",
                       f"NEW takes every step, but `{trace.property}` holds in the state it reaches")
    return None


def _shared(trace: Trace, sim: Any) -> list[str]:
    probe = sim.values(sim.initial_states()[0]) if sim.initial_states() else {}
    old0 = trace.states[0].values
    return sorted(n for n in old0 if not n.startswith("pc.") and n in probe and _same_shape(old0[n], probe[n]))


def _same_shape(a: Value, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            _same_shape(x, y) for x, y in zip(a, b))
    return type(a) is type(b) or (isinstance(a, int) and isinstance(b, int))


def _agrees(sim: Any, s: Any, want: TraceState, shared: list[str]) -> bool:
    vals = sim.values(s)
    return all(vals[n] == want.values[n] for n in shared)


def _initial(sim: Any, want: TraceState, shared: list[str]) -> Any:
    for s in sim.initial_states():
        if _agrees(sim, s, want, shared):
            return s
    return None


def _moves(sim: Any, s: Any, instance: str) -> list[tuple[Any, Any, Any]]:
    gid = sim.instances.index(instance) if instance in sim.instances else -1
    return [(aid, t, props) for aid, t, props in sim.step_all(s) if sim.actions[aid][0] == gid]


def _match(sim: Any, s: Any, want: TraceState, shared: list[str]) -> Any:
    """The first NEW state reached by up to MAX_SUBSTEPS steps of the same instance that agrees
    with OLD's next state on the shared variables (breadth first, in action order)."""
    layer, seen = [s], {s}
    for _ in range(MAX_SUBSTEPS):
        nxt = []
        for u in layer:
            for _aid, t, _props in _moves(sim, u, want.instance or ""):
                if t is None or t in seen:
                    continue
                if _agrees(sim, t, want, shared):
                    return t
                seen.add(t)
                nxt.append(t)
        layer = nxt
    return None


def _instead(sim: Any, s: Any, want: TraceState, shared: list[str]) -> str:
    moves = [(aid, t) for aid, t, _ in _moves(sim, s, want.instance or "") if t is not None]
    if not moves:
        return f"in NEW, {want.instance} cannot take a step here"
    aid, t = moves[0]
    step = sim.actions[aid][1]
    where = _function(sim, aid)
    after = sim.values(t)
    differs = [n for n in shared if after[n] != want.values[n]]
    shown = ", ".join(f"{n}={_short(after[n])} (OLD: {_short(want.values[n])})" for n in differs[:3])
    return f"in NEW, {want.instance} takes `{_one_line(step.text)}`{where} instead" + (f", giving {shown}" if shown else "")


def _function(sim: Any, aid: int) -> str:
    """The kernel function the step is in, from its location's name ("handle_fasteoi_irq@27")."""
    gid, step = sim.actions[aid]
    agent = sim.layout.instances[gid][1]
    name = str(agent.locations[step.source]).split("@")[0].split(":")[0]
    return f" in {name}()" if name and not name.startswith("L") and name != "idle" else ""


def _check_end(sim: Any, s: Any, want: TraceState, prop: str, k: int) -> Blocked | None:
    for _aid, _t, props in _moves(sim, s, want.instance or ""):
        if props is not None and prop in props:
            return None
    return Blocked(k, want.instance or "?", want.text or want.step or "?",
                   f"in NEW, no step of {want.instance} fails `{prop}` here")


def _short(v: Any) -> str:
    text = str(v).replace("True", "1").replace("False", "0")
    return text if len(text) <= 24 else text[:21] + "..."


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 60 else line[:57] + "..."
