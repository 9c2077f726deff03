"""What a run of `irqc prove` says beyond pass and fail: covers, coverage and vacuity.

Covers.  A cover (`cover NAME: EXPR;`) is judged by both backends as the invariant
`!EXPR` (`ir.Property.invariant_expr`), so the engine's verdict for it is about `!EXPR`.
`judge_covers` puts that verdict in the cover's own words: a violation of `!EXPR` is a
run that reaches EXPR (its trace is the witness), a proof of `!EXPR` shows EXPR
unreachable.

Coverage and vacuity.  After the exhaustive search, `scan` looks at the states it reached
(all of them when it finished; otherwise the ones it met, and the result says it is
partial) for evidence that the spec does what it seems to:
  * every atomic step is taken: some reachable state has a successor by it;
  * every invariant `A ==> B` has a reachable state where its premise A holds;
  * every assert is reached: from some reachable state, some path of a step gets to it.
A "proved" without that evidence is vacuous: nothing could have violated the property.

Asserts are found reached with a probe simulator: the model with every assert's
condition replaced by `false`.  Under the semantics of failed checks (compiler/ir.py:
the path goes on for every other property), the probe's step reports a property exactly
when one of its paths evaluates an assert of it.  The premises become covers of the
probe model, so the generated code evaluates them.  The scan stops as soon as every
step, premise and assert has its evidence; the search itself is not touched.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from compiler import ir
from compiler.results import PropertyResult

# The engine's verdict about `!EXPR` -> the cover's.  `inconclusive` stays as it is.
_COVER_VERDICT = {"violated": "covered", "proved": "unreachable", "holds": "not_covered"}
# Checks lowering inserts: not the author's asserts, and no claim of the spec to make vacuous.
BUILTIN_CHECKS = ("in_range", "lock_discipline")


def judge_covers(model: ir.Model, results: list[PropertyResult]) -> list[PropertyResult]:
    """The results, with each cover's verdict about `!EXPR` turned into one about EXPR."""
    covers = {p.name for p in model.properties if p.kind == "cover"}
    return [_as_cover(r) if r.property in covers else r for r in results]


def _as_cover(r: PropertyResult) -> PropertyResult:
    verdict = _COVER_VERDICT.get(r.verdict, r.verdict)
    return r if verdict == r.verdict else replace(r, verdict=verdict)


# --------------------------------------------------------------------------- what a scan finds


@dataclass(frozen=True, slots=True)
class StepRef:
    """An atomic step of the spec, where the source has it."""

    agent: str
    step: str
    path: str
    line: int
    col: int

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "step": self.step, "path": self.path, "line": self.line}


@dataclass(frozen=True, slots=True)
class Coverage:
    steps: int  # atomic steps in the spec (per agent, not per instance)
    never_taken: tuple[StepRef, ...]
    complete: bool  # the scan saw every reachable state (else: the states a cut search met)
    states: int  # states looked at

    @property
    def taken(self) -> int:
        return self.steps - len(self.never_taken)

    def to_json(self) -> dict[str, Any]:
        return {"steps": self.steps, "taken": self.taken, "never_taken": [s.to_json() for s in self.never_taken],
                "complete": self.complete}


@dataclass(frozen=True, slots=True)
class Scan:
    coverage: Coverage
    vacuous: dict[str, str] = field(default_factory=dict)  # property -> why no state could violate it


def scan(model: ir.Model, params: dict[str, int], sim: Any, states: Iterable[tuple[int, ...]],
         complete: bool, taken: frozenset[int] | None = None) -> Scan:
    """Coverage and vacuity from `states` (the search's reachable states), for the simulator
    `sim` the search ran: its step functions say which steps have successors.  `taken`: the
    actions (indices into `sim.actions`) that have a successor from some reachable state, as a
    complete compiled search recorded them; the scan then has no step functions to run."""
    from compiler.backends.python.cache import simulator as cached_simulator

    probe_model, premises = _probe_model(model)
    probe: Any = sim  # with no assert and no premise to look for, the search's own simulator will do
    if premises or _assert_props(model):
        probe = cached_simulator(probe_model, model.path, events=False).Simulator(params)
    todo = _Todo(model, sim, probe, premises)
    if taken is not None and complete:
        todo.settle_steps({(sim.layout.agents[st.agent].name, st.name) for a, (_, st) in enumerate(sim.actions)
                           if a in taken})
    looked = 0
    for s in states:
        looked += 1
        if todo.see(s):
            break
    return todo.result(complete, looked)


class _Todo:
    """The evidence still missing, and how to look for it in one state."""

    def __init__(self, model: ir.Model, sim: Any, probe: Any, premises: dict[str, str]) -> None:
        self.model = model
        # (agent, step) -> its actions: (pc slot, instance index, source location, step function)
        self.steps: dict[tuple[str, str], list[tuple[int, int, int, Any]]] = {}
        self.asserts = _assert_props(model)  # not yet seen reached
        # the probe's actions whose step has asserts: (pc slot, instance index, source, function, their props)
        self.probes: list[tuple[int, int, int, Any, set[str]]] = []
        self.never: list[tuple[str, str]] = []  # steps known never taken (settle_steps)
        self.premises = {name: fn for name, fn in ((p.name, p.fn) for p in probe.properties) if name in premises}
        self.premise_text = premises
        self.invariant_of = {name: name.split(":", 1)[1] for name in premises}
        checks = _assert_props_by_step(model)
        for (gid, st), (_, pst) in zip(sim.actions, probe.actions):
            _, _, index, slot = sim.layout.instances[gid]
            agent = sim.layout.agents[st.agent].name
            self.steps.setdefault((agent, st.name), []).append((slot, index, st.source, st.fn))
            if (agent, st.name) in checks:
                self.probes.append((slot, index, pst.source, pst.fn, checks[(agent, st.name)]))
        # pc slot -> a source location in it -> the missing steps' actions there: a state can only
        # take a step whose source its pc holds, so one lookup per pc slot finds the few step
        # functions worth running (after the first states, most states take no missing step)
        self.at: dict[int, dict[int, list[tuple[tuple[str, str], int, Any]]]] = {}
        for key, acts in self.steps.items():
            for slot, index, source, fn in acts:
                self.at.setdefault(slot, {}).setdefault(source, []).append((key, index, fn))

    def settle_steps(self, taken: set[tuple[str, str]]) -> None:
        """Which steps are taken is known for every reachable state: the others never are."""
        self.never = [key for key in self.steps if key not in taken]
        self.steps, self.at = {}, {}

    def _taken(self, key: tuple[str, str]) -> None:
        for slot, _, source, _ in self.steps.pop(key):
            here = self.at[slot]
            here[source] = [a for a in here[source] if a[0] != key]
            if not here[source]:
                del here[source]

    def see(self, s: tuple[int, ...]) -> bool:
        """Collect what state `s` shows; True when nothing is missing any more."""
        for slot, by_source in self.at.items():
            for key, index, fn in by_source.get(s[slot], ()):
                if key in self.steps and any(t is not None for t, _ in fn(s, index)):
                    self._taken(key)
        for name in [n for n, fn in self.premises.items() if not fn(s)]:  # the probe's fn is `!premise`
            del self.premises[name]
        for slot, index, source, fn, props in self.probes:
            if s[slot] == source and not props.isdisjoint(self.asserts):
                for _, failed in fn(s, index):  # the probe's asserts always fail: failing is reaching
                    self.asserts.difference_update(failed or ())
        if not self.asserts:
            self.probes = []
        return not (self.steps or self.premises or self.asserts)

    def result(self, complete: bool, looked: int) -> Scan:
        never = tuple(_step_ref(self.model, agent, step) for agent, step in [*self.never, *self.steps])
        total = sum(len(a.steps) for a in self.model.agents)
        where = "" if complete else f" in the {looked} states the cut search reached"
        vacuous = {self.invariant_of[n]: f"the premise `{self.premise_text[n]}` is never true{where}"
                   for n in self.premises}
        vacuous.update({prop: f"no assert of it is ever reached{where}" for prop in self.asserts})
        return Scan(Coverage(total, never, complete, looked), vacuous)


def _step_ref(model: ir.Model, agent: str, step: str) -> StepRef:
    st = next(x for x in model.agent(agent).steps if x.name == step)
    return StepRef(agent, step, st.span.path, st.span.line, st.span.col)


# --------------------------------------------------------------------------- the probe model


def _probe_model(model: ir.Model) -> tuple[ir.Model, dict[str, str]]:
    """The model with every assert made to fail, and a cover per invariant premise (named
    `premise:<invariant>`, a name no spec can declare), with the premise's text."""
    asserts = _assert_props(model)
    agents = tuple(replace(a, steps=tuple(replace(st, body=_failing(st.body, asserts)) for st in a.steps))
                   for a in model.agents)
    covers: list[ir.Property] = []
    texts: dict[str, str] = {}
    for p in model.properties:
        if p.kind == "invariant" and isinstance(p.expr, ir.Binary) and p.expr.op == "implies":
            name = f"premise:{p.name}"
            covers.append(ir.Property(name, "cover", p.expr.left, None, p.expr.left.span))
            texts[name] = _text(p.expr.left)
    return replace(model, agents=agents, properties=(*model.properties, *covers)), texts


def _assert_props(model: ir.Model) -> set[str]:
    return {p.name for p in model.properties if p.kind == "check" and p.name not in BUILTIN_CHECKS}


def _failing(body: tuple[ir.Stmt, ...], asserts: set[str]) -> tuple[ir.Stmt, ...]:
    return tuple(_fail_stmt(s, asserts) for s in body)


def _fail_stmt(s: ir.Stmt, asserts: set[str]) -> ir.Stmt:
    if isinstance(s, ir.Check) and s.prop in asserts:
        return ir.Check(ir.Lit(False, ir.BOOL), s.prop, s.span)
    if isinstance(s, ir.If):
        return ir.If(s.cond, _failing(s.then, asserts), _failing(s.else_, asserts), s.span)
    return s


def _assert_props_by_step(model: ir.Model) -> dict[tuple[str, str], set[str]]:
    asserts = _assert_props(model)
    return {(a.name, st.name): found for a in model.agents for st in a.steps
            if (found := {c.prop for c in _checks(st.body)} & asserts)}


def _checks(body: tuple[ir.Stmt, ...]) -> Iterable[ir.Check]:
    for s in body:
        if isinstance(s, ir.Check):
            yield s
        elif isinstance(s, ir.If):
            yield from _checks(s.then)
            yield from _checks(s.else_)


def _text(e: ir.Expr) -> str:
    """The expression as the spec writes it, when its source can be read; else the IR's form."""
    sp = e.span
    try:
        with open(sp.path, encoding="utf-8") as f:
            text = f.read()[sp.start:sp.end]
    except (OSError, UnicodeDecodeError):
        text = ""
    return " ".join(text.split()) or ir.show(e)


# --------------------------------------------------------------------------- results


def finish(model: ir.Model, results: list[PropertyResult], found: Scan | None) -> list[PropertyResult]:
    """The engine's last word: covers in their own words, and each property proved (or bounded)
    without any state that could violate it marked vacuous."""
    results = judge_covers(model, results)
    if found is None:
        return results
    return [replace(r, vacuous=found.vacuous[r.property]) if r.property in found.vacuous
            and r.verdict in ("proved", "holds") else r for r in results]


# --------------------------------------------------------------------------- what the command line prints


def step_warnings(model: ir.Model, found: Scan) -> list[str]:
    """One `path:line:col: warning: step cpu.x is never taken [W001]` per step without evidence."""
    cov = found.coverage
    how = "is never taken" if cov.complete else f"is not taken in the {cov.states} states the cut search reached"
    return [f"{s.path}:{s.line}:{s.col}: warning: step {s.agent}.{s.step} {how}{_in_spec(model, s.path)} [W001]"
            for s in cov.never_taken]


def vacuity_warnings(model: ir.Model, results: list[PropertyResult]) -> list[str]:
    """One `path:line:col: warning: ... holds vacuously: ... [W002]` per vacuous result."""
    out = []
    for r in results:
        if r.vacuous is not None:
            sp = model.prop(r.property).span
            out.append(f"{sp.path}:{sp.line}:{sp.col}: warning: {model.prop(r.property).kind} {r.property} holds "
                       f"vacuously: {r.vacuous}{_in_spec(model, sp.path)} [W002]")
    return out


def _in_spec(model: ir.Model, where: str) -> str:
    """A line located in a base spec names the spec the run was about."""
    return "" if where == model.path else f" (in spec {model.name}, {model.path})"


def suspicious(found: Scan | None, results: list[PropertyResult]) -> bool:
    """What `--strict` refuses (exit 4): a step never taken, or a property vacuous."""
    return (found is not None and bool(found.coverage.never_taken)) or any(r.vacuous for r in results)


__all__ = ["BUILTIN_CHECKS", "Coverage", "Scan", "StepRef", "finish", "judge_covers", "scan", "step_warnings",
           "suspicious", "vacuity_warnings"]
