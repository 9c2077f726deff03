"""IC3/PDR with Z3's Spacer on the Z3 backend's transition relation (`irqc prove --engine ic3`).

    from compiler.backends.z3.ic3 import prove_ic3
    results = prove_ic3(model, {"CPUS": 3}, properties=["no_lost_interrupt"], timeout=60)

For one property P the question "can P ever be violated?" is a system of Constrained Horn
Clauses over one uninterpreted predicate Inv over the state slots:

    Init(s)                      => Inv(s)
    Inv(s) & T(s, s')            => Inv(s')
    Inv(s) & Bad_P(s, s')        => false

T is `TransitionSystem`'s relation, with the selector and the choices quantified like the
state.  It already carries compiler/ir.py's semantics: a failed Check of another property
leaves the step its successor, a failed `in_range` check has none (T stutters, which adds no
state).  Bad_P is `!P(s)` for an invariant, deadlock or cover property, and `T(s, s')` with
the step failing a Check of P for a check property.  Each property is asked alone, as the
semantics judge it.

Spacer's answers:
* sat: the interpretation of Inv is an inductive invariant that excludes Bad_P.  It is not
  taken on trust: `recheck` builds the transition system again and asks fresh solvers the
  three validity questions (initiation, consecution, safety).  Only when all three are
  valid is P "proved (IC3, inductive invariant re-checked)"; a refuted one is a bug
  (`InvariantRejected`: exit 70), never a proof.
* unsat: some run violates P.  Spacer's derivation is not used: the bounded run (bmc.py)
  looks for the shortest counterexample up to `depth` and that is the verdict and trace.
  When the violation is deeper, the result is inconclusive and says so.
* unknown: inconclusive, with the limit that stopped it (`stopped_by`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

import z3

from compiler import ir, limits
from compiler.backends.z3 import DEFAULT_DEPTH, prove, resolve_params
from compiler.backends.z3.bmc import NO_TIMEOUT, Clock, Progress, stopped_by
from compiler.backends.z3.system import TransitionSystem, Unrolled
from compiler.backends.z3.terms import FALSE, TRUE, Renaming, mk_and, mk_not
from compiler.results import PropertyResult

METHOD = "IC3 (inductive invariant re-checked)"  # summary(): "proved (IC3, inductive invariant re-checked)"
OBLIGATIONS = ("initiation (Init => Inv)", "consecution (Inv & T => Inv')", "safety (Inv => !Bad)")


class InvariantRejected(Exception):
    """A fresh solver refutes the invariant Spacer returned: a bug in irqc's clauses or in Z3."""


@dataclass(frozen=True, slots=True)
class Recheck:
    """What fresh solvers said about an invariant's three obligations."""

    refuted: str | None = None  # the first obligation a solver falsified
    unsettled: str | None = None  # the first one it could not settle (a limit): no proof
    stopped_by: str | None = None

    @property
    def passed(self) -> bool:
        return self.refuted is None and self.unsettled is None


@dataclass(frozen=True, slots=True)
class Answer:
    """Spacer on one property: "proved" (with `invariant`), "reachable" or "unknown"."""

    outcome: str
    seconds: float
    invariant: z3.BoolRef | None = None  # over `ts.pre`
    reason: str | None = None
    stopped_by: str | None = None


# --------------------------------------------------------------------------- the clauses


def bad(ts: TransitionSystem, prop: ir.Property, tag: str, step: Unrolled) -> z3.BoolRef:
    """Bad_P in state `tag`, whose step out of it is `step` (a check property fails there)."""
    if prop.kind != "check":
        return mk_not(ts.invariant(prop, tag))
    return mk_and([step.relation, step.aborts.get(prop.name, FALSE)])


def horn_solver(ts: TransitionSystem, prop: ir.Property) -> tuple[z3.Solver, z3.FuncDeclRef]:
    inv = z3.Function(f"Inv.{prop.name}", *[x.sort() for x in ts.pre], z3.BoolSort())
    step = ts.unroll("pre", "post")
    solver = z3.SolverFor("HORN")
    solver.add(_clause(ts.init("pre"), inv(*ts.pre)))
    solver.add(_clause(mk_and([inv(*ts.pre), step.relation]), inv(*ts.post)))
    solver.add(_clause(mk_and([inv(*ts.pre), bad(ts, prop, "pre", step)]), FALSE))
    return solver, inv


def _clause(body: z3.BoolRef, head: z3.BoolRef) -> z3.BoolRef:
    f = z3.Implies(body, head)
    free = _constants(f)
    return z3.ForAll(free, f) if free else f


def _constants(f: z3.ExprRef) -> list[z3.ExprRef]:
    """The uninterpreted constants of `f`: what a clause quantifies."""
    return [e for e in _symbols(f) if e.num_args() == 0]


def _symbols(f: z3.ExprRef) -> list[z3.ExprRef]:
    """Every application of an uninterpreted symbol in `f` (constants included)."""
    seen: set[int] = set()
    found: list[z3.ExprRef] = []
    todo = [f]
    while todo:
        e = todo.pop()
        if e.get_id() in seen:
            continue
        seen.add(e.get_id())
        if z3.is_app(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            found.append(e)
        todo.extend(e.children())
    return found


def _never_bad(ts: TransitionSystem, prop: ir.Property, clock: Clock) -> bool:
    """No state (reachable or not) is bad for P: e.g. a check property no Check statement names."""
    solver = _limited(z3.Solver(), clock)
    solver.add(bad(ts, prop, "pre", ts.unroll("pre", "post")))
    return bool(solver.check() == z3.unsat)


def _limited(solver: z3.Solver, clock: Clock | None, share: float | None = None) -> z3.Solver:
    """The solver, told to stop at the budget's deadline or after `share` seconds, whichever comes
    first (a stop signal interrupts it: the watchdog)."""
    remaining = None if clock is None else clock.remaining()
    if share is not None:
        remaining = share if remaining is None else min(share, remaining)
    # ctrl_c off: Z3's own SIGINT handler would swallow Ctrl-C (bmc.py says the same).
    solver.set(timeout=NO_TIMEOUT if remaining is None else max(1, int(remaining * 1000)), ctrl_c=False)
    return solver


def spacer(ts: TransitionSystem, prop: ir.Property, clock: Clock, share: float | None = None) -> Answer:
    """Ask Spacer about one property, within the clock's budget and at most `share` seconds."""
    start = time.perf_counter()
    if (reason := clock.stop_reason()) is not None:
        return Answer("unknown", 0.0, reason="did not start", stopped_by=reason)
    if _never_bad(ts, prop, clock):
        # Spacer settles this in preprocessing, and its model of Inv is then a quantified formula
        # no solver re-checks in reasonable time; `true` is the invariant, re-checked like any other.
        return Answer("proved", time.perf_counter() - start, invariant=TRUE)
    solver, inv = horn_solver(ts, prop)
    answer = _limited(solver, clock, share).check()
    seconds = time.perf_counter() - start
    if answer == z3.sat:
        try:
            # Not model_completion: with it z3 4.x/5.x evaluates Inv to False here (the re-check caught that).
            return Answer("proved", seconds, invariant=solver.model().eval(inv(*ts.pre)))
        except z3.Z3Exception:
            if (reason := clock.stop_reason()) is None:
                raise
            return Answer("unknown", seconds, reason="stopped while reading the invariant", stopped_by=reason)
    if answer == z3.unsat:
        return Answer("reachable", seconds)
    why = f"after its share of the time, {share:.1f} s" if share is not None and clock.stop_reason() is None \
        else solver.reason_unknown()
    return Answer("unknown", seconds, reason=why, stopped_by=stopped_by(clock, solver))


# --------------------------------------------------------------------------- the re-check


def recheck(ts: TransitionSystem, prop: ir.Property, invariant: z3.BoolRef, clock: Clock | None = None) -> Recheck:
    """The three obligations of `invariant` (a formula over `ts.pre`), each in a fresh solver, on
    states renamed apart from the placeholders Spacer's clauses used."""
    slots = {x.get_id() for x in ts.pre}
    strangers = {str(c.decl()) for c in _symbols(invariant) if c.get_id() not in slots}
    if strangers:
        return Recheck(refuted=f"the invariant mentions {', '.join(sorted(strangers))}, which is no state slot")
    step = ts.unroll("rc0", "rc1")
    inv_now = Renaming(list(zip(ts.pre, ts.state("rc0"))))(invariant)
    inv_next = Renaming(list(zip(ts.pre, ts.state("rc1"))))(invariant)
    questions = ((ts.init("rc0"), mk_not(inv_now)),                   # a start state outside it
                 (inv_now, step.relation, mk_not(inv_next)),         # a step leaving it
                 (inv_now, bad(ts, prop, "rc0", step)))              # a bad state or step inside it
    for name, fs in zip(OBLIGATIONS, questions):
        solver = _limited(z3.Solver(), clock)
        solver.add(*fs)
        answer = solver.check()
        if answer == z3.sat:
            return Recheck(refuted=name)
        if answer == z3.unknown:
            return Recheck(unsettled=f"{name}: {solver.reason_unknown()}",
                           stopped_by=None if clock is None else stopped_by(clock, solver))
    return Recheck()


# --------------------------------------------------------------------------- the engine


def prove_ic3(model: ir.Model, params: dict[str, int] | None = None, *, depth: int = DEFAULT_DEPTH,
              properties: Sequence[str] | None = None, timeout: float | None = None,
              progress: Progress | None = None) -> list[PropertyResult]:
    """Verdicts for the selected properties (default: all), in the model's property order.

    `timeout` bounds the whole call unless a budget is already in force (compiler.limits).
    A violation is reported only as the bounded run finds it (up to `depth`), with its trace."""
    params = resolve_params(model, params)
    wanted = [p for p in model.properties if not properties or p.name in properties]
    out: dict[str, PropertyResult] = {}
    with limits.budget(timeout) as budget:
        clock = Clock(time.perf_counter(), budget)
        try:
            ts = _encode(model, params, budget)
        except limits.Stopped as stop:
            return [_unknown(p, Answer("unknown", 0.0, reason="while building the encoding",
                                       stopped_by=stop.reason), budget) for p in wanted]
        reachable: dict[ir.Property, float] = {}  # Spacer says violated -> its seconds
        for p, answer in _ask(ts, wanted, clock).items():
            if answer.outcome == "proved":
                out[p.name] = _proved(model, params, p, answer, clock, depth)
            elif answer.outcome == "reachable":
                reachable[p] = answer.seconds
            else:
                out[p.name] = _unknown(p, answer, budget)
        if reachable:
            out.update(_bounded(model, params, reachable, depth, timeout, progress))
    return [out[p.name] for p in wanted]


def _ask(ts: TransitionSystem, props: list[ir.Property], clock: Clock) -> dict[ir.Property, Answer]:
    """Spacer on every property.  Under a timeout each gets an equal share of what is left, so
    that one hard property (often a violated one: Spacer refutes slowly) does not keep the
    others from starting; then those whose share ran out share what the others left, as long
    as that at least doubles their share (Spacer does not resume: an attempt starts afresh)."""
    answers: dict[ir.Property, Answer] = {}
    given: dict[ir.Property, float] = {}
    todo = list(props)
    while todo:
        for i, p in enumerate(todo):
            clock.budget.status = f"IC3 (Spacer): property {p.name} ({i + 1}/{len(todo)})"
            share = _share(clock.budget, len(todo) - i)
            answer = spacer(ts, p, clock, share)
            if p in answers:
                answer = replace(answer, seconds=answer.seconds + answers[p].seconds)
            answers[p], given[p] = answer, share or 0.0
        ran_out = [p for p in todo if answers[p].outcome == "unknown" and answers[p].stopped_by == "timeout"]
        more = _share(clock.budget, len(ran_out)) if ran_out and clock.stop_reason() is None else None
        todo = [p for p in ran_out if more is not None and more >= 2 * given[p]]
    return {p: answers[p] for p in props}


def _share(budget: limits.Budget, left: int) -> float | None:
    """An equal part of what is left for each of `left` properties still to ask (time one leaves
    unused goes to the next).  A fifth is kept back for re-checks and BMC's traces."""
    remaining = budget.remaining()
    return None if remaining is None else max(0.0, remaining) * 0.8 / left


def _encode(model: ir.Model, params: dict[str, int], budget: limits.Budget) -> TransitionSystem:
    budget.status = "IC3: building the encoding"
    with limits.interruptible(budget):  # seconds of Python on a large instance, no query to time out
        return TransitionSystem(model, params)


def _proved(model: ir.Model, params: dict[str, int], p: ir.Property, answer: Answer, clock: Clock,
            depth: int) -> PropertyResult:
    assert answer.invariant is not None
    clock.budget.status = f"IC3: re-checking the invariant of {p.name} with fresh solvers"
    start = time.perf_counter()
    fresh = TransitionSystem(model, params)  # nothing cached from the clauses Spacer saw
    checked = recheck(fresh, p, answer.invariant, clock)
    seconds = answer.seconds + time.perf_counter() - start
    if checked.refuted is not None:
        raise InvariantRejected(f"property `{p.name}`: the inductive invariant Spacer returned fails its "
                                f"re-check by a fresh solver: {checked.refuted}")
    if checked.unsettled is not None:
        return PropertyResult(p.name, "inconclusive", -1, "IC3", seconds, expected=p.expect,
                              reason=f"{_stop_words(checked.stopped_by, clock.budget)}IC3 found an invariant, "
                                     f"but its re-check did not finish: {checked.unsettled}",
                              stopped_by=checked.stopped_by)
    return PropertyResult(p.name, "proved", depth, METHOD, seconds, expected=p.expect,
                          invariant=readable(fresh, answer.invariant))


def _unknown(p: ir.Property, answer: Answer, budget: limits.Budget) -> PropertyResult:
    why = _stop_words(answer.stopped_by, budget) + "IC3 (Spacer) gave up"
    if answer.reason == "did not start":
        why = _stop_words(answer.stopped_by, budget) + "IC3 did not start"
    elif answer.reason:
        why += f" {answer.reason}" if answer.reason.startswith("after") else f": {answer.reason}"
    return PropertyResult(p.name, "inconclusive", -1, "IC3", answer.seconds, reason=why, expected=p.expect,
                          stopped_by=answer.stopped_by)


def _stop_words(stopped: str | None, budget: limits.Budget) -> str:
    if stopped == "timeout":
        return f"{budget.ran_out()}: "
    return "" if stopped is None else f"stopped by {limits.describe(stopped)}: "


def _bounded(model: ir.Model, params: dict[str, int], props: dict[ir.Property, float], depth: int,
             timeout: float | None, progress: Progress | None) -> dict[str, PropertyResult]:
    """Spacer says each of `props` is violated: the bounded run finds the shortest counterexample
    (its verdict and trace are what is reported) or, deeper than `depth`, none to show."""
    out: dict[str, PropertyResult] = {}
    spent = {p.name: secs for p, secs in props.items()}
    for r in prove(model, params, depth=depth, properties=list(spent), timeout=timeout,
                   induction=False, progress=progress):
        r = replace(r, seconds=r.seconds + spent[r.property])
        if r.verdict == "holds":
            r = replace(r, verdict="inconclusive",
                        reason=f"IC3 (Spacer) finds a run that violates it, but bounded model checking finds "
                               f"none of up to {depth} steps to show (a larger --depth would)")
        out[r.property] = r
    return out


# --------------------------------------------------------------------------- the readable form


def readable(ts: TransitionSystem, invariant: z3.BoolRef) -> tuple[str, ...]:
    """The invariant as conjuncts in the spec's words: slots by name, integers as the signed values
    their bit-vectors encode, a pc or an enum compared with a value by that value's name."""
    conjuncts = invariant.children() if z3.is_and(invariant) else [invariant]
    printer = _Printer(_value_names(ts), ts.ints.width)
    return tuple(printer.show(c, top=True) for c in conjuncts)


def _value_names(ts: TransitionSystem) -> dict[str, list[str]]:
    """Slot (as Z3 names it in `ts.pre`) -> the names of its values, for pcs and enums."""
    out: dict[str, list[str]] = {}
    for inst in ts.layout.instances:
        out[str(ts.pre[inst.pc])] = [loc.name for loc in inst.agent.locations]
    for x, slot in zip(ts.pre, ts.layout.slots):
        t = slot.var.type if slot.var is not None else None
        while isinstance(t, ir.ArrayType):
            t = t.elem
        if isinstance(t, ir.EnumType):
            out[str(x)] = list(t.members)
    return out


_INFIX = {z3.Z3_OP_LE: "<=", z3.Z3_OP_GE: ">=", z3.Z3_OP_LT: "<", z3.Z3_OP_GT: ">",
          z3.Z3_OP_SLEQ: "<=", z3.Z3_OP_SGEQ: ">=", z3.Z3_OP_SLT: "<", z3.Z3_OP_SGT: ">",
          z3.Z3_OP_ADD: "+", z3.Z3_OP_SUB: "-", z3.Z3_OP_MUL: "*", z3.Z3_OP_BADD: "+", z3.Z3_OP_BSUB: "-",
          z3.Z3_OP_BMUL: "*", z3.Z3_OP_IMPLIES: "==>", z3.Z3_OP_AND: "&&", z3.Z3_OP_OR: "||",
          z3.Z3_OP_DISTINCT: "!="}


class _Printer:
    """One method per kind of term Spacer's invariants use; anything rarer in Z3's own notation."""

    def __init__(self, names: dict[str, list[str]], width: int | None) -> None:
        self.names, self.width = names, width

    def show(self, e: z3.ExprRef, top: bool = False) -> str:
        if not z3.is_app(e):  # a quantifier
            return str(e.sexpr()).replace("@pre", "").replace("|", "")
        k = e.decl().kind()
        if z3.is_true(e) or z3.is_false(e):
            return str(z3.is_true(e)).lower()
        if z3.is_int_value(e) or z3.is_bv_value(e):
            return str(self.number(e))
        if k == z3.Z3_OP_UNINTERPRETED and e.num_args() == 0:
            return str(e).removesuffix("@pre")
        if k == z3.Z3_OP_NOT:
            return "!" + self.show(e.arg(0))
        if k == z3.Z3_OP_EQ:
            return self.wrap(self.equation(e.arg(0), e.arg(1)), top)
        if k == z3.Z3_OP_ITE:
            return self.wrap(f"{self.show(e.arg(0))} ? {self.show(e.arg(1))} : {self.show(e.arg(2))}", top)
        if k == z3.Z3_OP_EXTRACT:
            hi, lo = z3.Z3_get_decl_int_parameter(e.ctx.ref(), e.decl().ast, 0), \
                z3.Z3_get_decl_int_parameter(e.ctx.ref(), e.decl().ast, 1)
            return f"{self.show(e.arg(0))}[bit {lo}]" if hi == lo else f"{self.show(e.arg(0))}[bits {hi}..{lo}]"
        if k in _INFIX:
            return self.wrap(f" {_INFIX[k]} ".join(self.show(a) for a in e.children()), top)
        return str(e.sexpr()).replace("@pre", "").replace("|", "")

    def equation(self, a: z3.ExprRef, b: z3.ExprRef) -> str:
        if z3.is_int_value(a) or z3.is_bv_value(a):
            a, b = b, a
        members = self.names.get(str(a)) if a.decl().kind() == z3.Z3_OP_UNINTERPRETED else None
        value = self.show(b)
        if members is not None and (z3.is_int_value(b) or z3.is_bv_value(b)) and 0 <= self.number(b) < len(members):
            value = members[self.number(b)]
        return f"{self.show(a)} == {value}"

    def number(self, v: z3.ExprRef) -> int:
        """Signed where the bit-vector is the encoding's integer width; a slice of bits unsigned."""
        if isinstance(v, z3.BitVecNumRef):
            return int(v.as_signed_long() if v.size() == self.width else v.as_long())
        assert isinstance(v, z3.IntNumRef)
        return int(v.as_long())

    @staticmethod
    def wrap(text: str, top: bool) -> str:
        return text if top else f"({text})"


__all__ = ["InvariantRejected", "METHOD", "OBLIGATIONS", "Recheck", "horn_solver", "prove_ic3", "readable",
           "recheck", "spacer"]
