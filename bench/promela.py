"""Promela for SPIN, generated from a spec's IR: the equivalent model `bench/spin_bench.py` runs.

    python bench/promela.py SPEC [--param NAME=VALUE ...] [-o OUT.pml]

A bench tool, not a backend: it exists so that irqc can be timed against SPIN on the same
transition system, not on a hand-written model that is only "like" the spec.  The Promela has
exactly the spec's states and steps at fixed parameter values:

* every IR variable is a global (arrays flattened row-major, as the simulator lays them out),
  plus `pc[]`, one program counter per agent instance;
* every agent instance is one `active proctype` whose body is a `do` with one option per
  (step, value of the step's choices): `d_step { pc == L && GUARD -> BODY }`.  GUARD is the
  step's enabledness for those choice values (some path passes every Assume), computed by
  symbolic execution of the body with the choices fixed (`Guard`), exactly up to the path's
  first write.  An Assume or an in_range check after a write is tested in BODY, and a failed
  one restores the cells the step wrote (hidden copies), so the state is unchanged: no state is
  stored inside a step, and SPIN's states are the spec's, plus the one before `init` picks an
  initial state;
* a path that fails an `in_range` check has no successor (ir.py): its option only asserts;
* a check property is an `assert` where the step makes it, an invariant (and a cover, as `!E`,
  and the deadlock property) an `assert` after every step and in every initial state; each
  fails once per run (`Emitter.violate`), so one full search (`pan -c0`) reports every
  violated property.  `enabled(...)` in them is the disjunction of the guards, of the
  locations an enclosing `at(...) &&` allows;
* `init` chooses among the initial states the Python simulator enumerates (`initially` kept).

`enabled()` in a property needs each option's exact enabledness, also for an option that undoes
at run time: `Guard(through=True)` follows such a step through its writes.  Those conditions grow with
every write they look through (past 300,000 nodes in the IMSIC specs), so past `EXACT_CAP`
nodes the property gets no assert; the file's first lines name it (in the shipped specs:
`deadlock`, in the 8 IMSIC specs).
"""
from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler import ir  # noqa: E402
from compiler.pipeline import load_model  # noqa: E402
from dsl.diagnostics import Diagnostics  # noqa: E402

# --------------------------------------------------------------------------- symbolic values
# A value over the pre-state of a step: ("lit", n) | ("cell", k) | ("arr", var, flat offset sym)
# | ("un", op, a) | ("bin", op, a, b) | ("ite", c, a, b).  Folded as they are built, so that
# the constant in_range checks of unrolled loops vanish from the guards.
Sym = tuple[Any, ...]

TRUE: Sym = ("lit", 1)
FALSE: Sym = ("lit", 0)

_PY: dict[str, Callable[[int, int], int]] = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
       "eq": lambda a, b: int(a == b), "ne": lambda a, b: int(a != b), "lt": lambda a, b: int(a < b),
       "le": lambda a, b: int(a <= b), "gt": lambda a, b: int(a > b), "ge": lambda a, b: int(a >= b)}
_PML = {"add": "+", "sub": "-", "mul": "*", "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">",
        "ge": ">=", "and": "&&", "or": "||"}


def lit(v: int | bool) -> Sym:
    return ("lit", int(v))


def is_lit(s: Sym) -> bool:
    return bool(s[0] == "lit")


def neg(a: Sym) -> Sym:
    if is_lit(a):
        return lit(not a[1])
    if a[0] == "un" and a[1] == "not":
        return a[2]  # type: ignore[no-any-return]
    return ("un", "not", a)


def _terms(op: str, a: Sym) -> list[Sym]:
    return _terms(op, a[2]) + _terms(op, a[3]) if a[0] == "bin" and a[1] == op else [a]


def _join(op: str, unit: Sym, zero: Sym, a: Sym, b: Sym) -> Sym:
    """a op b, flattened, without repeated terms, and absorbing: x && (x || y) is x, and
    x || (x && y) is x.  The guards and the quiescence tests would otherwise repeat themselves."""
    other = "or" if op == "and" else "and"
    terms: list[Sym] = []
    for t in _terms(op, a) + _terms(op, b):
        if t == zero:
            return zero
        if t != unit and t not in terms:
            terms.append(t)
    kept = [t for t in terms
            if not (t[0] == "bin" and t[1] == other and any(u in _terms(other, t) for u in terms if u is not t))]
    if not kept:
        return unit
    out = kept[0]
    for t in kept[1:]:
        out = ("bin", op, out, t)
    return out


def conj(a: Sym, b: Sym) -> Sym:
    return _join("and", TRUE, FALSE, a, b)


def disj(a: Sym, b: Sym) -> Sym:
    return _join("or", FALSE, TRUE, a, b)


def binop(op: str, a: Sym, b: Sym) -> Sym:
    if op == "and":
        return conj(a, b)
    if op == "or":
        return disj(a, b)
    if op == "implies":
        return disj(neg(a), b)
    if is_lit(a) and is_lit(b):
        return lit(_PY[op](a[1], b[1]))
    if op in ("eq", "ne") and a == b:
        return lit(op == "eq")
    return ("bin", op, a, b)


def ite(c: Sym, a: Sym, b: Sym) -> Sym:
    if is_lit(c):
        return a if c[1] else b
    if a == b:
        return a
    return ("ite", c, a, b)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Slot:
    """Where a variable lives: its Promela name, first flat cell, strides and index lows."""

    name: str
    base: int
    size: int
    strides: tuple[int, ...]
    lows: tuple[int, ...]
    ctype: str
    var: ir.Var | None


def _ident(name: str) -> str:
    return "v_" + name.replace(".", "_").replace("@", "_").replace("#", "_")


def _ctype(t: ir.Type, params: dict[str, int], lock: bool) -> str:
    if lock:
        return "short"
    if isinstance(t, ir.BoolType):
        return "bit"
    vals = ir.domain_values(t, params)  # type: ignore[arg-type]
    if vals.start >= 0 and vals.stop - 1 <= 255:
        return "byte"
    return "short" if -32768 <= vals.start and vals.stop <= 32767 else "int"


class Layout:
    """The simulator's layout (var elements row-major in declaration order, then the pcs)."""

    def __init__(self, model: ir.Model, params: dict[str, int]) -> None:
        self.params = params
        self.slots: dict[ir.Var, Slot] = {}
        self.cells: list[tuple[Slot, int]] = []
        n = 0
        for v in model.vars:
            t, sizes, lows = v.type, [], []
            while isinstance(t, ir.ArrayType):
                vals = ir.domain_values(t.index, params)
                sizes.append(len(vals))
                lows.append(vals.start)
                t = t.elem
            strides: list[int] = []
            size = 1
            for d in reversed(sizes):
                strides.insert(0, size)
                size *= d
            s = Slot(_ident(v.name), n, size, tuple(strides), tuple(lows), _ctype(t, params, v.kind == "lock"), v)
            self.slots[v] = s
            self.cells.extend((s, k) for k in range(size))
            n += size
        self.instances: list[tuple[ir.Agent, int, int]] = []  # agent, index value, pc cell
        self.pc_first = n
        for a in model.agents:
            for value in [0] if a.domain is None else list(ir.domain_values(a.domain, params)):
                self.instances.append((a, value, n))
                n += 1
        self.size = n
        self.pc_slot = Slot("pc", self.pc_first, n - self.pc_first, (1,), (0,), "byte", None)
        self.cells.extend((self.pc_slot, k) for k in range(n - self.pc_first))

    def cell_text(self, k: int) -> str:
        s, off = self.cells[k]
        return s.name if s.size == 1 and s.var is not None and not s.strides else f"{s.name}[{off}]"


# --------------------------------------------------------------------------- expressions


Env = dict[int, Sym]


class Eval:
    """IR expressions as symbolic values over a step's pre-state, with `env` the cells written
    so far; with `env` empty they read the current state (what the d_step body wants)."""

    def __init__(self, lay: Layout, model: ir.Model, self_value: int, choices: dict[ir.Choice, int]) -> None:
        self.lay, self.model, self.self_value, self.choices = lay, model, self_value, choices
        self.bounds: dict[ir.Bound, int] = {}
        self.known: dict[int, frozenset[int]] = {}  # pc cell -> the locations it may hold here
        self.used: set[tuple[int, int]] = set()  # (pc cell, location) whose EN macro was read

    def read_cell(self, k: int, env: Env) -> Sym:
        return env.get(k, ("cell", k))

    def place(self, e: ir.Expr, env: Env) -> tuple[Slot, Sym]:
        """The slot and flat offset (symbolic) of a VarRef/Index chain."""
        idx: list[ir.Expr] = []
        while isinstance(e, ir.Index):
            idx.insert(0, e.index)
            e = e.base
        assert isinstance(e, ir.VarRef), e
        s = self.lay.slots[e.var]
        off: Sym = lit(0)
        for j, ie in enumerate(idx):
            term = binop("mul", binop("sub", self.ev(ie, env), lit(s.lows[j])), lit(s.strides[j]))
            off = binop("add", off, term)
        return s, off

    def read(self, s: Slot, off: Sym, env: Env) -> Sym:
        if is_lit(off):
            return self.read_cell(s.base + off[1], env)
        out: Sym = ("arr", s, off)
        for k in range(s.base, s.base + s.size):
            if k in env:
                out = ite(binop("eq", off, lit(k - s.base)), env[k], out)
        return out

    def ev(self, e: ir.Expr, env: Env) -> Sym:
        if isinstance(e, ir.Lit):
            return lit(e.value)
        if isinstance(e, ir.ParamRef):
            return lit(self.lay.params[e.param.name])
        if isinstance(e, (ir.VarRef, ir.Index)):
            return self.read(*self.place(e, env), env)
        if isinstance(e, ir.SelfIndex):
            return lit(self.self_value)
        if isinstance(e, ir.ChoiceRef):
            return lit(self.choices[e.choice])
        if isinstance(e, ir.BoundRef):
            return lit(self.bounds[e.bound])
        if isinstance(e, ir.Unary):
            a = self.ev(e.arg, env)
            if e.op == "not":
                return neg(a)
            return lit(-a[1]) if is_lit(a) else ("un", "neg", a)
        if isinstance(e, ir.Binary):
            a = self.ev(e.left, env)
            if e.op == "and" and a == FALSE:
                return FALSE
            if e.op == "or" and a == TRUE:
                return TRUE
            if e.op in ("and", "implies") and isinstance(e.left, ir.AtLoc) and not env:
                cell = self._at_cell(e.left)
                if cell is not None:
                    before = self.known.get(cell)
                    self.known[cell] = e.left.locs if before is None else before & e.left.locs
                    try:
                        return binop(e.op, a, self.ev(e.right, env))
                    finally:
                        if before is None:
                            del self.known[cell]
                        else:
                            self.known[cell] = before
            return binop(e.op, a, self.ev(e.right, env))
        if isinstance(e, ir.Ite):
            c = self.ev(e.cond, env)
            if is_lit(c):
                return self.ev(e.then if c[1] else e.else_, env)
            return ite(c, self.ev(e.then, env), self.ev(e.else_, env))
        if isinstance(e, ir.Quant):
            acc = TRUE if e.kind == "forall" else FALSE
            for v in ir.domain_values(e.bound.type, self.lay.params):
                self.bounds[e.bound] = v
                b = self.ev(e.body, env)
                acc = conj(acc, b) if e.kind == "forall" else disj(acc, b)
            self.bounds.pop(e.bound, None)
            return acc
        if isinstance(e, ir.AtLoc):
            return self._per_instance(e.agent, e.index, env,
                                      lambda k: self._any_of(self.read_cell(k, env), e.locs))
        if isinstance(e, ir.Enabled):
            assert not env, "enabled() is read in properties only"
            return self._per_instance(e.agent, e.index, env, self._enabled)
        raise TypeError(type(e).__name__)

    def _enabled(self, k: int) -> Sym:
        """Instance at pc cell k has an enabled step: per location it may stand at, as far as
        an enclosing `at(...) && ...` tells (quiescence reads enabled() at the idle location only)."""
        agent = next(a for a, _, cell in self.lay.instances if cell == k)
        locs = self.known.get(k, frozenset(range(len(agent.locations))))
        out = FALSE
        for loc in sorted(locs):
            self.used.add((k, loc))
            term: Sym = ("macro", f"EN_{k}_{loc}")
            out = disj(out, term if len(locs) == 1 else conj(binop("eq", ("cell", k), lit(loc)), term))
        return out

    def _at_cell(self, e: ir.AtLoc) -> int | None:
        insts = [(v, k) for a, v, k in self.lay.instances if a.name == e.agent]
        if e.index is None:
            return insts[0][1]
        i = self.ev(e.index, {})
        return dict(insts)[i[1]] if is_lit(i) else None

    def _any_of(self, pc: Sym, locs: frozenset[int]) -> Sym:
        acc = FALSE
        for loc in sorted(locs):
            acc = disj(acc, binop("eq", pc, lit(loc)))
        return acc

    def _per_instance(self, agent: str, index: ir.Expr | None, env: Env, at: Callable[[int], Sym]) -> Sym:
        insts = [(v, k) for a, v, k in self.lay.instances if a.name == agent]
        if index is None:
            return at(insts[0][1])
        i = self.ev(index, env)
        if is_lit(i):
            return at(dict(insts)[i[1]])
        out = FALSE
        for v, k in insts:
            out = disj(out, conj(binop("eq", i, lit(v)), at(k)))
        return out


def nodes(s: Sym, memo: dict[int, int] | None = None) -> int:
    """How many nodes `text` writes for `s` (a shared part once per use), without writing it."""
    memo = {} if memo is None else memo
    if id(s) in memo:
        return memo[id(s)]
    kind = s[0]
    if kind in ("lit", "cell", "macro"):
        n = 1
    elif kind == "arr":
        n = 1 + nodes(s[2], memo)
    elif kind == "un":
        n = 1 + nodes(s[2], memo)
    else:
        n = 1 + sum(nodes(part, memo) for part in s[2:] if isinstance(part, tuple)) + \
            (nodes(s[1], memo) if kind == "ite" else 0)
    memo[id(s)] = n
    return n


def text(s: Sym, lay: Layout) -> str:
    kind = s[0]
    if kind == "lit":
        return str(s[1])
    if kind == "cell":
        return lay.cell_text(s[1])
    if kind == "arr":
        return f"{s[1].name}[{text(s[2], lay)}]"
    if kind == "macro":
        return str(s[1])
    if kind == "un":
        return f"(!{text(s[2], lay)})" if s[1] == "not" else f"(-{text(s[2], lay)})"
    if kind == "bin":
        return f"({text(s[2], lay)} {_PML[s[1]]} {text(s[3], lay)})"
    if kind == "ite":
        return f"({text(s[1], lay)} -> {text(s[2], lay)} : {text(s[3], lay)})"
    raise TypeError(kind)


# --------------------------------------------------------------------------- guards


_WROTE = -1  # the env key that only says "the path wrote something" (Guard without `through`)


class Guard:
    """When does a path of one step body, with its choices fixed, reach a Goto (`done`) or fail
    an in_range check (`escape`), as conditions over the pre-state.

    Without `through` (the options' guards), exact up to the path's first write; after it, an
    Assume or an in_range check is left to the d_step to test at run time (`rollback`: the step
    undoes its writes and leaves the state as it was), because the conditions over the pre-state
    it would take grow with every write they look through.  With `through` (for `enabled()` in
    properties, where a test at run time cannot serve), the writes are followed (`env`: cell ->
    value over the pre-state), and the caller caps the size of what comes out."""

    def __init__(self, ev: Eval, through: bool = False) -> None:
        self.ev, self.through = ev, through
        self.done: Sym = FALSE
        self.escape: Sym = FALSE
        self.rollback = False

    def run(self, stmts: tuple[ir.Stmt, ...], env: Env, live: Sym) -> tuple[Env, Sym]:
        for st in stmts:
            if live == FALSE:
                break
            cut = bool(env) and not self.through  # a write came first: conditions are not followed
            if isinstance(st, ir.Assign):
                self._assign(st, env)
            elif isinstance(st, ir.Assume) or (isinstance(st, ir.Check) and st.prop == ir.IN_RANGE):
                if cut:
                    # true after the writes too when it reads no state (unrolled loops' bounds)
                    self.rollback = self.rollback or self.ev.ev(st.cond, {}) != TRUE
                    continue
                test = self.ev.ev(st.cond, env)
                if isinstance(st, ir.Check):
                    self.escape = disj(self.escape, conj(live, neg(test)))
                live = conj(live, test)
            elif isinstance(st, ir.Goto):
                self.done = disj(self.done, live)
                live = FALSE
            elif isinstance(st, ir.If):
                c = None if cut else self.ev.ev(st.cond, env)  # None: either branch may be taken
                if c is not None and is_lit(c):
                    env, live = self.run(st.then if c[1] else st.else_, env, live)
                    continue
                env_t, live_t = self.run(st.then, dict(env), live if c is None else conj(live, c))
                env_e, live_e = self.run(st.else_, dict(env), live if c is None else conj(live, neg(c)))
                env = {**env_e, **env_t} if c is None else {
                    k: ite(c, env_t.get(k, ("cell", k)), env_e.get(k, ("cell", k))) for k in set(env_t) | set(env_e)}
                live = live_t if live_t == live_e else disj(live_t, live_e)
            # Choose: the value is fixed for this option; other checks change no successor
        return env, live

    def _assign(self, st: ir.Assign, env: Env) -> None:
        if not self.through:
            env[_WROTE] = TRUE
            return
        s, off = self.ev.place(st.target, env)
        val = self.ev.ev(st.value, env)
        if is_lit(off):
            env[s.base + off[1]] = val
        else:
            for k in range(s.base, s.base + s.size):
                env[k] = ite(binop("eq", off, lit(k - s.base)), val, self.ev.read_cell(k, env))


# --------------------------------------------------------------------------- the model

EXACT_CAP = 20_000  # nodes (about 6 characters each) of an exact guard through writes, beyond which enabled() gives up


def _choices(stmts: tuple[ir.Stmt, ...], out: list[ir.Choice]) -> list[ir.Choice]:
    for st in stmts:
        if isinstance(st, ir.Choose) and st.choice not in out:
            out.append(st.choice)
        elif isinstance(st, ir.If):
            _choices(st.then, out)
            _choices(st.else_, out)
    return out


class Emitter:
    def __init__(self, model: ir.Model, params: dict[str, int]) -> None:
        self.model, self.params = model, params
        self.lay = Layout(model, params)
        self.defines: list[str] = []
        self.saved: list[Slot] = []  # hidden copies for the steps that may undo their writes
        self.inexact: set[tuple[int, int]] = set()  # (pc cell, location) whose guards over-approximate
        self.unencoded: dict[str, list[str]] = {}  # property -> why it has no assert
        self.labels = 0
        self.flags: list[str] = []

    def body(self, stmts: tuple[ir.Stmt, ...], ev: Eval, pc_cell: int, depth: int, fail: str | None,
             done: str) -> list[str]:
        """The step's code, as the IR says it (a Goto ends its path: `goto done`)."""
        pad = "    " * depth
        out: list[str] = []
        for st in stmts:
            if isinstance(st, ir.Assign):
                s, off = ev.place(st.target, {})
                lhs = self.lay.cell_text(s.base + off[1]) if is_lit(off) else f"{s.name}[{text(off, self.lay)}]"
                out.append(f"{pad}{lhs} = {text(ev.ev(st.value, {}), self.lay)};")
            elif isinstance(st, ir.Check) and st.prop != ir.IN_RANGE:
                out.append(f"{pad}{self.violate(st.prop, text(ev.ev(st.cond, {}), self.lay))}  /* check */")
            elif fail is not None and isinstance(st, (ir.Assume, ir.Check)):
                c = ev.ev(st.cond, {})
                if c != TRUE:
                    stop, why = ((self.violate(ir.IN_RANGE, "0") + " ", "in_range") if isinstance(st, ir.Check)
                                 else ("", st.reason))
                    out.append(f"{pad}if :: {text(c, self.lay)} -> skip :: else -> {stop}goto {fail} fi;  /* {why} */")
            elif isinstance(st, ir.Goto):
                out.append(f"{pad}{self.lay.cell_text(pc_cell)} = {st.target}; goto {done};")
                break
            elif isinstance(st, ir.If):
                c = ev.ev(st.cond, {})
                if is_lit(c):
                    out.extend(self.body(st.then if c[1] else st.else_, ev, pc_cell, depth, fail, done))
                    if ir.always_ends(st.then if c[1] else st.else_):
                        break
                    continue
                out.append(f"{pad}if")
                out.append(f"{pad}:: {text(c, self.lay)} ->")
                out.extend(self.body(st.then, ev, pc_cell, depth + 1, fail, done) or [f"{pad}    skip;"])
                out.append(f"{pad}:: else ->")
                out.append(f"{pad}    skip;")
                out.extend(self.body(st.else_, ev, pc_cell, depth + 1, fail, done))
                out.append(f"{pad}fi;")
            # otherwise (Assume, in_range, Choose): the option's guard holds them, the choice is fixed
        return out

    def violate(self, prop: str, cond: str) -> str:
        """`assert(cond)` for `prop`, failing once per run: `ok_<prop>` is hidden (not part of the
        state, so backtracking does not reset it), so the run reports each property's first
        violation, as `assertion violated ok_<prop>`, and goes on with the others (-c0)."""
        flag = "ok_" + _ident(prop)[2:]
        if flag not in self.flags:
            self.flags.append(flag)
        return f"if :: {flag} && !({cond}) -> {flag} = 0; assert({flag}) :: else -> skip fi;"

    def _copy(self, cells: list[int], back: bool) -> str:
        parts: list[str] = []
        for k in cells:
            s, off = self.lay.cells[k]
            if s not in self.saved:
                self.saved.append(s)
            real = self.lay.cell_text(k)
            copy = "s" + real if s.size == 1 and not s.strides else f"s{s.name}[{off}]"
            parts.append(f"{real} = {copy};" if back else f"{copy} = {real};")
        return " ".join(parts)

    def _written(self, stmts: tuple[ir.Stmt, ...], ev: Eval, out: list[int]) -> list[int]:
        """The cells a step may write, with its choices fixed (a write at a computed index: all
        of the array's)."""
        for st in stmts:
            if isinstance(st, ir.Assign):
                s, off = ev.place(st.target, {})
                for k in [s.base + off[1]] if is_lit(off) else range(s.base, s.base + s.size):
                    if k not in out:
                        out.append(k)
            elif isinstance(st, ir.If):
                self._written(st.then, ev, out)
                self._written(st.else_, ev, out)
        return out

    def instance(self, agent: ir.Agent, value: int, pc_cell: int, inst: int) -> list[str]:
        options: list[str] = []
        enabled: dict[int, list[str]] = {}  # per location, the exact enabledness of each option
        for step in agent.steps:
            chs = _choices(step.body, [])
            for n, vals in enumerate(itertools.product(*(ir.domain_values(c.type, self.params) for c in chs))):
                ev = Eval(self.lay, self.model, value, dict(zip(chs, vals)))
                g = Guard(ev)
                g.run(step.body, {}, TRUE)
                tag = f"G_{inst}_{_ident(step.name)[2:]}_{n}"
                at = f"({self.lay.cell_text(pc_cell)} == {step.source})"
                what = f"/* {agent.name} step {step.name} {dict((c.name, v) for c, v in zip(chs, vals))} */"
                if g.done != FALSE:
                    self.defines.append(f"#define {tag} {text(g.done, self.lay)}")
                    self.labels += 1
                    fail, ok = f"F{self.labels}", f"D{self.labels}"
                    if g.rollback:
                        exact = Guard(ev, through=True)
                        exact.run(step.body, {}, TRUE)
                        full = disj(exact.done, exact.escape)
                        if nodes(full) <= EXACT_CAP:
                            self.defines.append(f"#define X{tag} {text(full, self.lay)}")
                            enabled.setdefault(step.source, []).append(f"X{tag}")
                        else:
                            self.inexact.add((pc_cell, step.source))
                            enabled.setdefault(step.source, []).append(tag)
                        cells = sorted(self._written(step.body, ev, []))
                        code = self.body(step.body, ev, pc_cell, 2, fail, ok)
                        options.append(f"    :: d_step {{ {at} && {tag} ->  {what}\n        {self._copy(cells, False)}\n"
                                       + "\n".join(code) + "\n"
                                       f"        {fail}: {self._copy(cells, True)}  /* an Assume failed: no such step */\n"
                                       f"        {ok}: INVARIANTS }}")
                    else:
                        enabled.setdefault(step.source, []).append(tag)
                        code = self.body(step.body, ev, pc_cell, 2, None, ok)
                        options.append(f"    :: d_step {{ {at} && {tag} ->  {what}\n" + "\n".join(code)
                                       + f"\n        {ok}: INVARIANTS }}")
                if g.escape != FALSE:
                    self.defines.append(f"#define E{tag} {text(g.escape, self.lay)}")
                    enabled.setdefault(step.source, []).append(f"E{tag}")
                    options.append(f"    :: d_step {{ {at} && E{tag} -> {self.violate(ir.IN_RANGE, '0')} }}")
        for loc in range(len(agent.locations)):
            gs = enabled.get(loc, [])
            self.defines.append(f"#define EN_{pc_cell}_{loc} ({' || '.join(gs) or '0'})")
        name = agent.name if agent.domain is None else f"{agent.name}_{value}"
        if not options:
            return [f"/* {name}: no steps */"]
        return [f"active proctype {_ident(name)[2:]}() {{", "    do"] + options + ["    od", "}"]

    def emit(self, initial: list[tuple[int, ...]]) -> str:
        lay = self.lay
        procs: list[str] = []
        for inst, (agent, value, cell) in enumerate(lay.instances):
            procs.extend(self.instance(agent, value, cell, inst))
        ev0 = Eval(lay, self.model, 0, {})
        asserts: list[str] = []
        for p in self.model.properties:
            e = p.expr if p.kind == "deadlock" else p.invariant_expr()
            if e is None:
                continue
            ev0.used = set()
            body = text(ev0.ev(e, {}), lay)
            bad = sorted(ev0.used & self.inexact)
            if bad:
                self.unencoded[p.name] = [f"{lay.cell_text(c)} at {loc}" for c, loc in bad]
                continue
            self.defines.append(f"#define INV_{_ident(p.name)[2:]} {body}")
            asserts.append(self.violate(p.name, f"INV_{_ident(p.name)[2:]}"))
        self.defines.append("#define INVARIANTS " + (" ".join(asserts).rstrip(";") or "skip"))
        decls: list[str] = []
        for s in lay.slots.values():
            decls.append(f"{s.ctype} {s.name}" + (f"[{s.size}];" if s.strides else ";")
                         + f"  /* {s.var.name if s.var else ''} */")
        decls.append(f"byte pc[{lay.pc_slot.size}] = 255;  /* per instance; 255 until init */")
        decls.extend(f"hidden byte {f} = 1;" for f in self.flags)
        for s in self.saved:
            decls.append(f"hidden {'byte' if s.ctype == 'bit' else s.ctype} s{s.name}" + (f"[{s.size}];" if s.strides else ";"))
        inits: list[str] = []
        for st in initial:
            sets = " ".join(f"{lay.cell_text(k)} = {int(v)};" for k, v in enumerate(st))
            inits.append(f"    :: d_step {{ {sets} INVARIANTS }}")
        unenc = "".join(f"\n/* not checked here: {p} reads enabled() where a guard is checked at run time"
                        f" ({', '.join(w)}) */" for p, w in self.unencoded.items())
        head = (f"/* {self.model.name} at {self.params}: generated by bench/promela.py from the IR. */\n"
                f"/* {len(lay.instances)} agent instances, {lay.size} cells, {len(initial)} initial states */" + unenc)
        return "\n".join([head, *decls, "", *self.defines, "", *procs, "",
                          "init {", "    if", *inits, "    fi;",
                          "    false  /* init stays: a process that ends could die at any time, doubling the states */",
                          "}", ""])


def load(spec: str, overrides: dict[str, int]) -> tuple[ir.Model, dict[str, int], Any]:
    """The spec's model, its parameter values and its simulator (which enumerates the initial states)."""
    model = load_model(spec, overrides, Diagnostics())
    if model is None:
        raise SystemExit(f"{spec}: does not load (irqc check {spec} says why)")
    params = {**ir.default_params(model), **overrides}
    from compiler.backends.python import cache
    return model, params, cache.simulator(model, spec).Simulator(params)


def emit(model: ir.Model, params: dict[str, int], sim: Any) -> tuple[str, Emitter]:
    """The Promela, and the emitter that wrote it (`unencoded`: the properties left out)."""
    em = Emitter(model, params)
    assert em.lay.size == sim.layout.size, "layout differs from the simulator's"
    return em.emit(list(sim.initial_states())), em


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("-o", "--output")
    args = ap.parse_args(argv)
    overrides = {k: int(v) for k, v in (p.split("=", 1) for p in args.param)}
    out, _ = emit(*load(args.spec, overrides))
    if args.output:
        Path(args.output).write_text(out)
    else:
        sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
