"""IR steps -> flat Python step functions, one small function per statement kind.

A generated step function has the signature `step(s, i)`: `s` is the pre-state
(a tuple of ints), `i` the 0-based instance number.  It returns a list of
`(successor or None, tuple of violated properties or None)`, one per path that
has a successor or violates something; empty when the step is not enabled.

How the IR semantics (compiler/ir.py) map onto the code:
* guards (`Assume`) read `s` directly; the state is copied into a list `t` only
  at the first write on a path, so a disabled step costs no allocation;
* `Choose` becomes a `for` loop over the choice's range; the rest of the body
  runs inside it, and a failed `Assume` moves on to the next value (`continue`);
* a failed `Check` adds its property to the path's tuple `f` and the path goes
  on; a failed `Assume` after that still yields `(None, f)`: the violation
  stands, there is no successor;
* a failed `in_range` check yields `(None, f + ("in_range",))` and ends the path;
* `Goto` writes the pc and yields `(tuple(t), f)` (`None` when no check failed).
A step without `Choose` has exactly one path, so it returns a one-element list
directly instead of gathering successors in `out`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

from compiler import ir
from compiler.backends.python import exprs
from compiler.backends.python.exprs import Scope, UnsupportedIR


@dataclass(frozen=True, slots=True)
class Path:
    """What the code generator knows about the path it is emitting."""

    scope: Scope  # reads go to scope.state: the source until the first write, then the copy
    source: str  # the state a copy starts from: "s", or the enclosing loop's list
    copied: bool  # has this path made its own working list yet?
    loops: int  # enclosing Choose loops: a finished path then says `continue`
    collects: bool  # the function gathers successors in `out` (it has a Choose)
    tracks: bool  # the step has a Check that does not end the path: failures gather in `f`
    step: ir.Step
    agent: ir.Agent
    guard_only: bool = False  # emitting the guard function: only "is there a path?" matters
    dirty: bool = False  # a check on this path may have failed already: `f` may be set


@dataclass(slots=True)
class Code:
    lines: list[str]

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)


def step_function(name: str, agent: ir.Agent, step: ir.Step, sc: Scope) -> list[str]:
    """The text of one step function, unindented."""
    collects = ir.contains(step.body, ir.Choose)
    tracks = _has_soft_check(step.body)
    path = Path(replace(sc, state="s", agent=agent), "s", False, 0, collects, tracks, step, agent)
    code = Code([f"def {name}(s, i):"])
    if collects:
        code.emit(1, "out = []")
    if tracks:
        code.emit(1, "f = None")
    _seq(list(step.body), path, code, 1)
    return code.lines


def guard_function(name: str, agent: ir.Agent, step: ir.Step, sc: Scope) -> list[str]:
    """`guard(s, i) -> bool`: the step is enabled in s (what `enabled(...)` asks).

    The same code as the step function, cut short: a path counts once it has passed
    its last `Assume`, or when it fails an `in_range` check (ir.py: that is enabled);
    other checks do not matter.  The state is copied only when a later guard reads
    a write.
    """
    path = Path(replace(sc, state="s", agent=agent), "s", False, 0, False, False, step, agent, guard_only=True)
    code = Code([f"def {name}(s, i):"])
    _seq(list(step.body), path, code, 1)
    return code.lines


# --------------------------------------------------------------------------- sequences


def _seq(stmts: list[ir.Stmt], path: Path, code: Code, depth: int) -> None:
    """Emit a statement sequence; every path through it must end in a Goto."""
    for k, st in enumerate(stmts):
        if path.guard_only and not ir.contains(stmts[k:], (ir.Assume, ir.Choose)):
            code.emit(depth, "return True")  # nothing left that can disable this path
            return
        rule = _RULES.get(type(st))
        if rule is None:
            raise UnsupportedIR(f"no Python rule for IR statement {type(st).__name__}")
        path, stop = rule(st, stmts[k + 1:], path, code, depth)
        if stop:  # the rule consumed the rest of the sequence
            return
    raise UnsupportedIR(f"a path of step {path.agent.name}.{path.step.name} does not end in a Goto")


def _end(path: Path, code: Code, depth: int, successor: str | None) -> None:
    """Finish a path: yield `successor` (text of a (state, props) pair) if any, then leave.

    A path that ends without a successor still yields the checks it failed."""
    if path.guard_only:
        code.emit(depth, "return True" if successor else "continue" if path.loops else "return False")
        return
    if successor is None and path.tracks and path.dirty:
        f = _fname(path)
        if not path.collects:
            code.emit(depth, f"return [(None, {f})] if {f} else []")
            return
        code.emit(depth, f"if {f}:")
        code.emit(depth + 1, f"out.append((None, {f}))")
    if not path.collects:
        code.emit(depth, f"return [{successor}]" if successor else "return []")
        return
    if successor:
        code.emit(depth, f"out.append({successor})")
    code.emit(depth, "continue" if path.loops else "return out")


def _fname(path: Path) -> str:
    """The variable gathering the path's failed checks: one per Choose loop, so that
    each value of a choice starts from the failures before the loop."""
    return "f" if not path.loops else f"f{path.loops}"


def _failed(path: Path) -> str:
    return _fname(path) if path.tracks and path.dirty else "None"


def _ensure_copy(path: Path, code: Code, depth: int) -> Path:
    """Make the path's working list before its first write."""
    if path.copied:
        return path
    work = "t" if path.source == "s" else f"t{path.loops}"
    code.emit(depth, f"{work} = list({path.source})")
    return replace(path, scope=path.scope.reading(work), copied=True)


# --------------------------------------------------------------------------- statements

Result = tuple[Path, bool]


def _assign(st: ir.Assign, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    value = exprs.expr(st.value, path.scope)  # read before the copy: same values, and `s` is faster
    path = _ensure_copy(path, code, depth)
    code.emit(depth, f"{path.scope.state}[{exprs.slot(st.target, path.scope)}] = {_strip(value)}")
    return path, False


def _assume(st: ir.Assume, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    code.emit(depth, f"if {_negated(st.cond, path.scope)}:  # {st.reason}")
    _end(path, code, depth + 1, None)
    return path, False


def _check(st: ir.Check, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    if st.prop == ir.IN_RANGE:
        code.emit(depth, f"if {_negated(st.cond, path.scope)}:  # check {st.prop}: no successor")
        if path.guard_only:
            code.emit(depth + 1, "return True")
        else:
            failed = f"(({st.prop!r},) if {_fname(path)} is None else {_fname(path)} + ({st.prop!r},))" \
                if path.tracks and path.dirty else f"({st.prop!r},)"
            _end(replace(path, tracks=False), code, depth + 1, f"(None, {failed})")
        return path, False
    if path.guard_only:
        return path, False  # other checks never enable or disable a step
    f = _fname(path)
    code.emit(depth, f"if {_negated(st.cond, path.scope)}:  # check {st.prop}")
    code.emit(depth + 1, f"{f} = ({st.prop!r},) if {f} is None else {f} + ({st.prop!r},)")
    return replace(path, dirty=True), False


def _goto(st: ir.Goto, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    if rest:
        raise UnsupportedIR(f"statements after the Goto in step {path.agent.name}.{path.step.name}")
    path = _ensure_copy(path, code, depth)
    pc = path.scope.names.pc_base(path.agent.name)
    where = pc if path.agent.domain is None else f"{pc} + i"
    code.emit(depth, f"{path.scope.state}[{where}] = {st.target}  # -> {_loc_name(path.agent, st.target)}")
    _end(path, code, depth, f"(tuple({path.scope.state}), {_failed(path)})")
    return path, True


def _choose(st: ir.Choose, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    name = path.scope.names.choice(st.choice)
    code.emit(depth, f"for {name} in {exprs.type_range(st.choice.type, path.scope)}:  # any {st.choice.name}")
    # Each value starts from the state (and the failed checks) as they were before the loop.
    inner = replace(path, source=path.scope.state, copied=False, loops=path.loops + 1)
    if path.tracks:
        code.emit(depth + 1, f"{_fname(inner)} = {_fname(path)}")
    _seq(rest, inner, code, depth + 1)
    if code.lines[-1] == "    " * (depth + 1) + "continue":  # the loop does that anyway
        code.lines.pop()
    if not path.loops:
        code.emit(depth, "return False" if path.guard_only else "return out")
    return path, True


def _if(st: ir.If, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    branches = (st.then, st.else_)
    if any(ir.contains(b, ir.Choose) for b in branches):
        _if_split(st, rest, path, code, depth)
        return path, True
    if any(ir.contains(b, ir.Assign) for b in branches):
        path = _ensure_copy(path, code, depth)
    code.emit(depth, f"if {exprs.cond(st.cond, path.scope)}:")
    _branch(list(st.then), path, code, depth + 1)
    if st.else_:
        code.emit(depth, "else:")
        _branch(list(st.else_), path, code, depth + 1)
    if path.tracks and any(_has_soft_check(b) for b in branches):
        path = replace(path, dirty=True)
    return path, ir.always_ends(st.then) and ir.always_ends(st.else_)


def _branch(stmts: list[ir.Stmt], path: Path, code: Code, depth: int) -> None:
    """A branch whose paths rejoin after the If unless they end: a Goto in it finishes its
    path on the spot (`return`, or `continue` in a choice loop), so the statements after the
    If are written once, not once per branch (a run takes one path either way)."""
    before = len(code.lines)
    for st in stmts:
        path, stop = _RULES[type(st)](st, [], path, code, depth)
        if stop:
            break
    if len(code.lines) == before:
        code.emit(depth, "pass")


def _if_split(st: ir.If, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> None:
    """A branch that chooses: the rest of the body runs inside the choice's loop, so it is
    emitted into each branch, and every path stays straight-line code."""
    code.emit(depth, f"if {exprs.cond(st.cond, path.scope)}:")
    _seq(ir.then_rest(st.then, rest), path, code, depth + 1)
    code.emit(depth, "else:")
    _seq(ir.then_rest(st.else_, rest), path, code, depth + 1)


_RULES: dict[type, Callable[..., Result]] = {
    ir.Assign: _assign,
    ir.Assume: _assume,
    ir.Check: _check,
    ir.Goto: _goto,
    ir.Choose: _choose,
    ir.If: _if,
}

# --------------------------------------------------------------------------- helpers


def _has_soft_check(stmts: Sequence[ir.Stmt]) -> bool:
    """A Check other than in_range: its failure does not end the path."""
    for st in stmts:
        if isinstance(st, ir.Check) and st.prop != ir.IN_RANGE:
            return True
        if isinstance(st, ir.If) and (_has_soft_check(st.then) or _has_soft_check(st.else_)):
            return True
    return False


def _negated(e: ir.Expr, sc: Scope) -> str:
    """`not (e)`, or the operand itself when e is already a negation."""
    if isinstance(e, ir.Unary) and e.op == "not":
        return exprs.cond(e.arg, sc)
    return f"not ({exprs.cond(e, sc)})"


def _strip(text: str) -> str:
    return text[1:-1] if text.startswith("(") and exprs._balanced_outer(text) else text


def _loc_name(agent: ir.Agent, index: int) -> str:
    for loc in agent.locations:
        if loc.index == index:
            return loc.name
    raise UnsupportedIR(f"agent {agent.name} has no location {index}")
