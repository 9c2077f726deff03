"""An invariant for every number of CPUs as a conjunction of quantified clauses, learnt from
counterexamples to induction (IC3-style) and the reachable states of the small instances.

Each clause forbids one *cube*, a pattern of states over the features of
compiler/backends/allcpus/views.py:

    forbid  g  and  exists distinct i1..ik. w1(i1) and .. wk(ik)  and  forall j. c1(j) or .. cm(j)

with g some global literals (`desc.pending=false`), each w a partial local state of one CPU
(`pc[i]=2`), and the optional cover (c1..cm, partial local states) saying what every CPU is.
`forall i != j: not (pc[i]=2 and pc[j]=3)` forbids two witnesses; "an outstanding event is
somewhere" forbids `outstanding and action and forall j. pc[j]=idle and not redist.pending[j]`.
Such a cube is an abstract state (views.py) with most of its literals dropped, so a dozen
clauses say what thousands of abstract states would.  As formulas the clauses are
exists-forall (the cover's forall and the witnesses' exists never nest), so every query stays in
Z3's decidable effectively propositional fragment.

`Learner` is only a search: the invariant it returns is judged by core.check, from scratch.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Hashable, Sequence

import z3

from compiler import ir
from compiler.backends.allcpus.param import PState, System, elem_type
from compiler.backends.allcpus.views import Abstract, Feature, Local, ModelConcrete, ParamSymbolic, Symbolic, Views

Lit = tuple[int, Hashable]  # (feature index, value)
LCube = tuple[Lit, ...]  # a partial local state: literals on one CPU's local features

MAX_WITNESSES = 2  # the small instances' states speak for 2 CPUs and a third (CPUS=3)
SMALL = 3  # counterexamples to induction are asked for with at most this many CPUs first
MAX_CLAUSES = 400  # clauses held at once before the search gives up (S3's proofs learn 17 to 30)


class Stopped(Exception):
    """The budget ran out, Z3 answered unknown, or the property looks violated: no invariant."""


@dataclass(frozen=True)
class Cube:
    """The states a clause forbids (see the module docstring)."""

    glits: tuple[Lit, ...] = ()
    wits: tuple[LCube, ...] = ()
    cover: tuple[LCube, ...] | None = None

    def size(self) -> int:
        return len(self.glits) + sum(len(w) for w in self.wits) + sum(len(c) for c in self.cover or ())


# --------------------------------------------------------------------------- meaning


def _local(views: Views, acc: Symbolic, lc: LCube, j: Any) -> z3.BoolRef:
    return z3.And([views.local_literal(views.local[i], acc, j, v) for i, v in lc])


def _witnesses(views: Views, acc: Symbolic, wits: tuple[LCube, ...], bound: list[Any]) -> z3.BoolRef:
    if len(bound) == len(wits):
        distinct = [z3.Not(acc.cpu_eq(a, b)) for a, b in itertools.combinations(bound, 2)]
        return z3.And(*distinct, *[_local(views, acc, w, j) for w, j in zip(wits, bound)])
    return acc.exists(lambda j: _witnesses(views, acc, wits, [*bound, j]))


def cube_formula(views: Views, acc: Symbolic, cube: Cube) -> z3.BoolRef:
    parts = [views.global_literal(acc, i, v) for i, v in cube.glits]
    if cube.wits:
        parts.append(_witnesses(views, acc, cube.wits, []))
    if cube.cover is not None:
        cover = cube.cover
        parts.append(acc.forall(lambda j: z3.Or([_local(views, acc, c, j) for c in cover])))
    return z3.And(parts)


@dataclass
class Clauses:
    """AND over `cubes` of NOT gamma(cube)."""

    views: Views
    cubes: tuple[Cube, ...] = ()

    def formula(self, acc: Symbolic, cache: dict[Any, z3.BoolRef] | None = None) -> z3.BoolRef:
        return z3.And([z3.Not(cube_formula(self.views, acc, c)) for c in self.cubes])

    def text(self) -> list[str]:
        return [describe(self.views, c) for c in self.cubes]


def _lc_text(views: Views, lc: LCube, j: str) -> str:
    return " and ".join(_lit_text(views, views.local[i], v, j) for i, v in lc) or "true"


def _lit_text(views: Views, f: Feature, v: Hashable, j: str = "j") -> str:
    """`busy`, `!busy`, `j != owner`, `pc[j]=handle_irq_event@134`, `aff_w=W_RECORDED`."""
    text = f.text(j)
    if v is True:
        return text
    if v is False:
        return text.replace(" == ", " != ") if " == " in text else f"!{text}"
    return f"{text}={_value_text(views, f, v)}"


def _value_text(views: Views, f: Feature, v: Hashable) -> str:
    if f.kind in ("pc", "gpc") and isinstance(v, int):
        return views.model.agent(f.agent or views.sys.cpu_agent.name).locations[v].name
    elem = elem_type(f.var.type)[1] if f.var is not None else None
    if isinstance(elem, ir.EnumType) and isinstance(v, int):
        return elem.members[v]
    return str(v)


def describe(views: Views, cube: Cube) -> str:
    """One clause in words: "never: ..." over the global literals, the witnesses, the cover."""
    parts = [_lit_text(views, views.glob[i], v) for i, v in cube.glits]
    names = [f"i{k + 1}" for k in range(len(cube.wits))]
    if cube.wits:
        who = ", ".join(names)
        parts.append(f"some CPU{'s' if len(names) > 1 else ''} {who}{' (distinct)' if len(names) > 1 else ''} with "
                     + "; ".join(_lc_text(views, w, n) for w, n in zip(cube.wits, names)))
    if cube.cover is not None:
        parts.append("every CPU j has " + " or ".join(f"({_lc_text(views, c, 'j')})" for c in cube.cover))
    return "never: " + ", ".join(parts or ["true"])


# --------------------------------------------------------------------------- concrete states


def _fits(lc: LCube, loc: Local) -> bool:
    return all(loc[i] == v for i, v in lc)


def holds_in(cube: Cube, a: Abstract) -> bool:
    """Whether an abstract state (counts capped at 2: "2" is read as "as many as needed") can
    be in the cube.  Only guides the search; Z3 judges the invariant."""
    g, counts = a
    if any(g[i] != v for i, v in cube.glits):
        return False
    if cube.cover is not None and not all(any(_fits(c, loc) for c in cube.cover) for loc, _ in counts):
        return False
    return _place(cube.wits, list(counts), {})


def _place(wits: tuple[LCube, ...], counts: list[tuple[Local, int]], used: dict[Local, int]) -> bool:
    if not wits:
        return True
    w, rest = wits[0], wits[1:]
    for loc, n in counts:
        if _fits(w, loc) and (n >= 2 or used.get(loc, 0) < n):
            used[loc] = used.get(loc, 0) + 1
            if _place(rest, counts, used):
                return True
            used[loc] -= 1
    return False


class Positives:
    """Abstract states taken as reachable: the small instances' states, and the successors of
    states taken as reachable.  Indexed by bitsets, so that a cube is tested against thousands
    of them at once."""

    def __init__(self, states: set[Abstract]) -> None:
        self.states: list[Abstract] = []
        self.by_glit: dict[Lit, int] = {}
        self.by_local: dict[Local, int] = {}
        self.all = 0
        for a in sorted(states, key=repr):
            self.add(a)

    def add(self, a: Abstract) -> None:
        bit = 1 << len(self.states)
        self.states.append(a)
        self.all |= bit
        g, counts = a
        for i, v in enumerate(g):
            self.by_glit[(i, v)] = self.by_glit.get((i, v), 0) | bit
        for loc, _ in counts:
            self.by_local[loc] = self.by_local.get(loc, 0) | bit

    def _with(self, lc: LCube) -> int:
        out = 0
        for loc, bits in self.by_local.items():
            if _fits(lc, loc):
                out |= bits
        return out

    def any_in(self, cube: Cube) -> Abstract | None:
        bits = self.all
        for lit in cube.glits:
            bits &= self.by_glit.get(lit, 0)
        for w in cube.wits:
            if bits:
                bits &= self._with(w)
        if bits and cube.cover is not None:
            cover = cube.cover
            for loc, lbits in self.by_local.items():
                if not any(_fits(c, loc) for c in cover):
                    bits &= ~lbits
        while bits:
            low = bits & -bits
            a = self.states[low.bit_length() - 1]
            if holds_in(cube, a):
                return a
            bits ^= low
        return None


def full_cube(a: Abstract) -> Cube:
    """The most specific cube of an abstract state: every literal, one witness per CPU (two
    for a count of 2+), and the cover of its local states."""
    g, counts = a
    wits = tuple(tuple(enumerate(loc)) for loc, n in counts for _ in range(n))
    return Cube(tuple(enumerate(g)), wits, tuple(tuple(enumerate(loc)) for loc, _ in counts))


def generalize(cube: Cube, positives: Positives) -> Cube | None:
    """The most general cube found under `cube` that no positive state falls in: the fewest
    witnesses (at most MAX_WITNESSES), no cover if it can go, then as few global literals and
    local literals as can go.  None when every choice of witnesses meets a positive: the
    state is then taken as reachable."""
    def ok(c: Cube) -> bool:
        return positives.any_in(c) is None

    start = _witnesses_and_cover(cube, ok)
    if start is None:
        return None
    cube = _shrink(start, ok, lambda c: len(c.glits), lambda c, k: replace(c, glits=_without(c.glits, k)))
    for w in range(len(cube.wits)):
        cube = _shrink(cube, ok, lambda c: len(c.wits[w]),
                       lambda c, k: replace(c, wits=_put(c.wits, w, _without(c.wits[w], k))))
    for w in range(len(cube.cover or ())):
        cube = _shrink(cube, ok, lambda c: len((c.cover or ())[w]),
                       lambda c, k: replace(c, cover=_put(c.cover or (), w, _without((c.cover or ())[w], k))))
    if cube.cover is not None:
        cube = replace(cube, cover=tuple(sorted(set(cube.cover), key=repr)))
    return cube


def _shrink(cube: Cube, ok: Callable[[Cube], bool], n: Callable[[Cube], int],
            drop: Callable[[Cube, int], Cube]) -> Cube:
    """Drop the k-th element, for each k in turn, wherever the cube stays ok."""
    k = 0
    while k < n(cube):
        c = drop(cube, k)
        cube, k = (c, k) if ok(c) else (cube, k + 1)
    return cube


def _without(t: tuple[Any, ...], k: int) -> tuple[Any, ...]:
    return t[:k] + t[k + 1:]


def _put(t: tuple[Any, ...], k: int, x: Any) -> tuple[Any, ...]:
    return t[:k] + (x,) + t[k + 1:]


def _witnesses_and_cover(cube: Cube, ok: Callable[[Cube], bool]) -> Cube | None:
    """A cube of the states the small instances reach says nothing about k witnesses once k
    reaches their CPU count (there is no room for a (k+1)-th CPU): at most MAX_WITNESSES."""
    for n in range(MAX_WITNESSES + 1):
        for cover in (None, cube.cover):
            for wits in sorted(set(itertools.combinations(cube.wits, n))):
                c = Cube(cube.glits, wits, cover)
                if ok(c):
                    return c
    return None


# --------------------------------------------------------------------------- the search


@dataclass
class Learner:
    sys: System
    views: Views
    positives: Positives
    deadline: float | None
    progress: Callable[[str], None] = lambda _m: None
    cubes: list[Cube] = field(default_factory=list)
    queries: int = 0
    small_first: bool = True  # see _ask; only a yes/no is wanted when minimizing

    def _solver(self) -> z3.Solver:
        s = z3.Solver()
        if self.deadline is not None:
            left = self.deadline - time.perf_counter()
            if left <= 0:
                raise Stopped("the time budget ran out")
            s.set(timeout=max(1, int(left * 1000)))
        return s

    def inv(self, s: PState) -> z3.BoolRef:
        return Clauses(self.views, tuple(self.cubes)).formula(ParamSymbolic(self.sys, s))

    def _hyp(self) -> list[z3.BoolRef]:
        return [self.sys.distinct(), self.sys.domain(self.sys.pre), self.inv(self.sys.pre)]

    def _ask(self, *fs: z3.BoolRef) -> z3.ModelRef | None:
        """A model of fs, with at most SMALL CPUs when there is one: a counterexample the size
        of the small instances is one their states judge well (a model with six CPUs, four of
        them unnamed, looks unlike every state of CPUS=3 and made the search drop good clauses)."""
        s = self._solver()
        s.add(*fs)
        self.queries += 1
        answer = z3.unknown
        if self.small_first:
            s.push()
            s.add(self._at_most(SMALL))
            answer = s.check()
        if answer != z3.sat:
            if self.small_first:
                s.pop()
            answer = s.check()
        if answer == z3.unknown:
            why = s.reason_unknown()
            raise Stopped("the time budget ran out" if why in ("timeout", "canceled") else f"Z3 gave up on a query: {why}")
        return s.model() if answer == z3.sat else None

    def _at_most(self, n: int) -> z3.BoolRef:
        us = [self.sys.fresh_cpu("u") for _ in range(n)]
        x = self.sys.fresh_cpu("x")
        return z3.ForAll([x], z3.Or([x == u for u in us]))

    def _alpha(self, s: PState, m: z3.ModelRef) -> Abstract:
        return self.views.alpha(ModelConcrete(self.sys, s, m))

    def run(self, bad: list[list[z3.BoolRef]]) -> tuple[Cube, ...]:
        """Clauses that exclude every state of `bad` (conditions on the pre-state) and are
        closed under the steps; raises Stopped otherwise."""
        while True:
            if len(self.cubes) > MAX_CLAUSES:
                raise Stopped(f"more than {MAX_CLAUSES} clauses learnt without an inductive invariant")
            cti = self.counterexample(bad)
            if cti is None:
                return tuple(self.cubes)
            kind, post, m, what = cti
            a = self._alpha(self.sys.pre, m)
            if kind != "init" and self._learn(a):
                continue
            if kind == "bad":
                raise Stopped("a state like the small instances' reachable states violates it: "
                              + describe(self.views, full_cube(a)))
            self._accept(post, m, what)

    def counterexample(self, bad: list[list[z3.BoolRef]]) -> tuple[str, PState, z3.ModelRef, str] | None:
        """An initial state outside the clauses, a state inside them that is bad, or a step
        from inside them to outside: (kind, the state outside, the model, what it is)."""
        m = self._ask(self.sys.distinct(), self.sys.init, z3.Not(self.inv(self.sys.init_state)))
        if m is not None:
            return "init", self.sys.init_state, m, "an initial state"
        for b in bad:
            m = self._ask(*self._hyp(), *b)
            if m is not None:
                return "bad", self.sys.pre, m, "a bad state"
        for act in self.sys.actions:
            post = act.effect.post
            m = self._ask(*self._hyp(), act.at, act.ranges, act.effect.ok,
                          z3.Not(z3.And(self.inv(post), self.sys.domain(post))))
            if m is not None:
                return "step", post, m, f"a successor by {act.name}"
        return None

    def _learn(self, a: Abstract) -> bool:
        cube = generalize(full_cube(a), self.positives)
        if cube is None:
            return False
        self.cubes.append(cube)
        self.progress(f"clause {len(self.cubes)}: {describe(self.views, cube)}")
        return True

    def _accept(self, s: PState, m: z3.ModelRef, what: str) -> None:
        """A state taken as reachable falsifies some clauses: they go (Houdini), and the state
        joins the positives so that no clause excluding it is learnt again."""
        self.positives.add(self._alpha(s, m))
        g, locs = observe(self.views, ModelConcrete(self.sys, s, m))
        keep = [c for c in self.cubes if not holds_exactly(c, g, locs)]
        if len(keep) == len(self.cubes):
            raise Stopped(f"{what} taken as reachable falsifies no clause: the abstraction is too coarse here")
        self.progress(f"{len(self.cubes) - len(keep)} clause(s) dropped: false in {what}")
        self.cubes = keep


def observe(views: Views, s: Any) -> tuple[tuple[Hashable, ...], list[Local]]:
    """The global part and every CPU's local state (alpha without the counting)."""
    g = tuple(views.global_value(f, s) for f in views.glob)
    return g, [tuple(views.local_value(f, s, j) for f in views.local) for j in s.cpus()]


def holds_exactly(cube: Cube, g: tuple[Hashable, ...], locs: list[Local]) -> bool:
    if any(g[i] != v for i, v in cube.glits):
        return False
    if cube.cover is not None and not all(any(_fits(c, loc) for c in cube.cover) for loc in locs):
        return False
    return any(all(_fits(w, locs[j]) for w, j in zip(cube.wits, js))
               for js in itertools.permutations(range(len(locs)), len(cube.wits)))


def bad_states(sys: System, prop: ir.Property) -> list[list[z3.BoolRef]]:
    """The pre-states the invariant must exclude: where the property is false, or (an assert)
    where some step fails it."""
    pred = prop.invariant_expr()
    if pred is not None:
        return [[z3.Not(sys.prop(pred, sys.pre))]]
    return [[act.at, act.ranges, z3.Or(act.effect.aborts[prop.name])]
            for act in sys.actions if act.effect.aborts.get(prop.name)]


def minimize(sys: System, views: Views, cubes: Sequence[Cube], bad: list[list[z3.BoolRef]],
             deadline: float | None) -> tuple[Cube, ...]:
    """Drop each clause the others keep inductive and sufficient without it (fewer lines to
    read, and every clause printed is one the proof needs)."""
    keep = list(cubes)
    while True:
        before = len(keep)
        # Passes until none goes: a clause needed only by one dropped later is not needed then.
        for c in sorted(keep, key=lambda c: -c.size()):
            trial = [k for k in keep if k is not c]
            if Learner(sys, views, Positives(set()), deadline, cubes=trial, small_first=False).counterexample(bad) is None:
                keep = trial
        if len(keep) == before:
            return tuple(keep)
