"""IR steps -> C step and guard functions, one small function per statement kind.

The shape follows the Python backend (compiler/backends/python/steps.py), because the two
must produce the same results in the same order:

* a step function `static void step_K(const cell *s, int i, int aid)` reports each path
  that has a successor or fails a check by calling `result(aid, successor or NULL, failed)`,
  in path order (`failed` is a bit set of property numbers);
* reads go to `s` until the path's first write, which copies the state into a working
  array; each `Choose` loop level has its own array and its own failed set, so every value
  starts from the state and failures before the loop;
* a failed `Assume` ends the path (`return`, or `continue` inside a choice loop), still
  reporting the checks it failed; a failed soft `Check` adds its bit and the path goes on;
  a failed `in_range` check reports `failed | in_range` with no successor and ends the path;
* a guard function `static int guard_K(const cell *s, int i)` is the same code cut short: a
  path counts once it has passed its last `Assume`, or when it fails an `in_range` check.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

from compiler import ir
from compiler.backends.c import cexprs
from compiler.backends.c.cexprs import Scope
from compiler.backends.c.layout import UnsupportedC, scalar_bounds


@dataclass(frozen=True, slots=True)
class Path:
    scope: Scope
    source: str  # the state a copy starts from
    copied: bool
    loops: int
    step: ir.Step
    agent: ir.Agent
    props: dict[str, int]  # property name -> bit number
    guard_only: bool = False

    @property
    def f(self) -> str:
        return f"f{self.loops}"

    @property
    def leave(self) -> str:
        return "continue;" if self.loops else "return;"


@dataclass(slots=True)
class Code:
    lines: list[str]

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)


def step_function(name: str, agent: ir.Agent, step: ir.Step, sc: Scope, props: dict[str, int]) -> list[str]:
    return _function(f"static void {name}(const cell *s, int i, int aid)", agent, step, sc, props, False)


def guard_function(name: str, agent: ir.Agent, step: ir.Step, sc: Scope, props: dict[str, int]) -> list[str]:
    return _function(f"static int {name}(const cell *s, int i)", agent, step, sc, props, True)


def _function(head: str, agent: ir.Agent, step: ir.Step, sc: Scope, props: dict[str, int], guard: bool) -> list[str]:
    levels = _choose_depth(step.body)
    code = Code([head + " {"])
    code.emit(1, "cell " + ", ".join(f"t{k}[W]" for k in range(levels + 1)) + ";")
    if not guard:
        code.emit(1, "uint64_t " + ", ".join(f"f{k}" for k in range(levels + 1)) + ";")
        code.emit(1, "f0 = 0;")
    code.emit(1, "(void)i;")
    path = Path(replace(sc, state="s", agent=agent), "s", False, 0, step, agent, props, guard)
    _seq(list(step.body), path, code, 1)
    code.lines.append("}")
    return code.lines


# --------------------------------------------------------------------------- sequences


def _seq(stmts: list[ir.Stmt], path: Path, code: Code, depth: int) -> None:
    for k, st in enumerate(stmts):
        if path.guard_only and not ir.contains(stmts[k:], (ir.Assume, ir.Choose)):
            code.emit(depth, "return 1;")  # nothing left that can disable this path
            return
        rule = _RULES.get(type(st))
        if rule is None:
            raise UnsupportedC(f"no C rule for IR statement {type(st).__name__}")
        path, stop = rule(st, stmts[k + 1:], path, code, depth)
        if stop:
            return
    raise UnsupportedC(f"a path of step {path.agent.name}.{path.step.name} does not end in a Goto")


def _fail_path(path: Path, code: Code, depth: int) -> None:
    """A failed Assume: no successor; the checks this path failed still count."""
    if path.guard_only:
        code.emit(depth, path.leave if path.loops else "return 0;")
        return
    code.emit(depth, f"if ({path.f}) result(aid, NULL, {path.f});")
    code.emit(depth, path.leave)


def _ensure_copy(path: Path, code: Code, depth: int) -> Path:
    if path.copied:
        return path
    work = f"t{path.loops}"
    code.emit(depth, f"memcpy({work}, {path.source}, WB);")
    return replace(path, scope=path.scope.reading(work), copied=True)


# --------------------------------------------------------------------------- statements

Result = tuple[Path, bool]


def _assign(st: ir.Assign, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    value = cexprs.expr(st.value, path.scope)  # read before the copy: the same values
    path = _ensure_copy(path, code, depth)
    var, _ = cexprs._unwind(st.target)
    vs = path.scope.layout.vars[var]
    code.emit(depth, f"ST({path.scope.state}, {cexprs.slot(st.target, path.scope)}, {value}, "
                     f"{cexprs.lit(vs.lo)}, {cexprs.lit(vs.hi)});")
    return path, False


def _assume(st: ir.Assume, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    code.emit(depth, f"if (!{cexprs.expr(st.cond, path.scope)}) {{  /* {st.reason} */")
    _fail_path(path, code, depth + 1)
    code.emit(depth, "}")
    return path, False


def _check(st: ir.Check, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    if st.prop == ir.IN_RANGE:
        code.emit(depth, f"if (!{cexprs.expr(st.cond, path.scope)}) {{  /* in_range: no successor */")
        if path.guard_only:
            code.emit(depth + 1, "return 1;")
        else:
            code.emit(depth + 1, f"result(aid, NULL, {path.f} | BIT({path.props[st.prop]}));")
            code.emit(depth + 1, path.leave)
        code.emit(depth, "}")
        return path, False
    if path.guard_only:
        return path, False  # other checks never enable or disable a step
    code.emit(depth, f"if (!{cexprs.expr(st.cond, path.scope)}) {path.f} |= BIT({path.props[st.prop]});"
                     f"  /* check {_safe(st.prop)} */")
    return path, False


def _goto(st: ir.Goto, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    if rest:
        raise UnsupportedC(f"statements after the Goto in step {path.agent.name}.{path.step.name}")
    if path.guard_only:
        code.emit(depth, "return 1;")
        return path, True
    path = _ensure_copy(path, code, depth)
    pc = path.scope.layout.pc_base[path.agent.name]
    where = str(pc) if path.agent.domain is None else f"{pc} + i"
    code.emit(depth, f"{path.scope.state}[{where}] = {st.target};")
    code.emit(depth, f"result(aid, {path.scope.state}, {path.f});")
    if path.loops:
        code.emit(depth, "continue;")
    else:
        code.emit(depth, "return;")
    return path, True


def _choose(st: ir.Choose, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    name = path.scope.names.of(st.choice, "c")
    lo, hi = scalar_bounds(st.choice.type, path.scope.layout.params)
    code.emit(depth, f"for (int64_t {name} = {cexprs.lit(lo)}; {name} <= {cexprs.lit(hi)}; {name}++) {{")
    inner = replace(path, source=path.scope.state, copied=False, loops=path.loops + 1)
    if not path.guard_only:
        code.emit(depth + 1, f"{inner.f} = {path.f};")
    _seq(rest, inner, code, depth + 1)
    code.emit(depth, "}")
    if path.loops:
        code.emit(depth, "continue;")
    else:
        code.emit(depth, "return 0;" if path.guard_only else "return;")
    return path, True


def _if(st: ir.If, rest: list[ir.Stmt], path: Path, code: Code, depth: int) -> Result:
    branches = (st.then, st.else_)
    if any(ir.contains(b, ir.Choose) for b in branches):
        # The rest runs inside the choice's loop: it is emitted into each branch.
        code.emit(depth, f"if ({cexprs.expr(st.cond, path.scope)}) {{")
        _seq(ir.then_rest(st.then, rest), path, code, depth + 1)
        code.emit(depth, "} else {")
        _seq(ir.then_rest(st.else_, rest), path, code, depth + 1)
        code.emit(depth, "}")
        return path, True
    if any(ir.contains(b, ir.Assign) for b in branches):
        path = _ensure_copy(path, code, depth)
    code.emit(depth, f"if ({cexprs.expr(st.cond, path.scope)}) {{")
    _branch(list(st.then), path, code, depth + 1)
    code.emit(depth, "} else {")
    _branch(list(st.else_), path, code, depth + 1)
    code.emit(depth, "}")
    return path, ir.always_ends(st.then) and ir.always_ends(st.else_)


def _branch(stmts: list[ir.Stmt], path: Path, code: Code, depth: int) -> None:
    """A branch whose paths rejoin after the If unless a Goto ends them there (`return`, or
    `continue` in a choice loop): the statements after the If are written once."""
    for st in stmts:
        path, stop = _RULES[type(st)](st, [], path, code, depth)
        if stop:
            break


_RULES: dict[type, Callable[..., Result]] = {
    ir.Assign: _assign,
    ir.Assume: _assume,
    ir.Check: _check,
    ir.Goto: _goto,
    ir.Choose: _choose,
    ir.If: _if,
}


# --------------------------------------------------------------------------- helpers


def _choose_depth(stmts: Sequence[ir.Stmt]) -> int:
    """At least the most Choose loops a path nests: their number (unused arrays cost nothing)."""
    n = 0
    for st in stmts:
        if isinstance(st, ir.Choose):
            n += 1
        elif isinstance(st, ir.If):
            n += _choose_depth(st.then) + _choose_depth(st.else_)
    return n


def _safe(text: str) -> str:
    """Text for a C comment: printable ASCII, never closing the comment."""
    out = "".join(c if " " <= c <= "~" else "?" for c in text)
    return out.replace("*/", "*_/")
