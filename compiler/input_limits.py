"""Bounds on what one spec may ask of the engines, checked while lowering, before any engine starts.

Each bound is far above what the shipped specs need at CPUS=2..4 (the figure after each) and
far below where an engine runs out of memory or never answers.  A spec past one gets a located
diagnostic that names the limit.  docs/language.md ("Limits") lists them for users.
"""
from __future__ import annotations

from typing import Iterator

from compiler import ir
from compiler.resolve import Symbols
from dsl.diagnostics import Diagnostics
from dsl.source import Span

MAX_EXPR_NODES = 20_000  # IR nodes in one expression, defs expanded (shipped: 30)
MAX_AGENT_NODES = 20_000  # graph nodes of one agent, fns inlined (shipped: 237)
MAX_INSTANCES = 256  # agent instances: CPUs, devices, threads (shipped: 7)
MAX_STATE_SLOTS = 65_536  # var elements and pcs in a state (shipped: 72)
MAX_INITIAL_CANDIDATES = 2**32  # combinations of the vars that start with any value (shipped: 12^8, S6 at CPUS=4)
MAX_CHOICES = 65_536  # combinations of the `any`s and `either`s in one step (shipped: 64)
MAX_UNROLLED = 2**20  # nodes of an expression with its forall/exists unrolled (shipped: 152)
MAX_BRANCH_DEPTH = 64  # branches nested in one step (shipped: 18); Python allows 100 indents


def state_fits(sym: Symbols, diags: Diagnostics) -> bool:
    """The instance at these parameters: few enough agent instances, state slots and initial states."""
    at = _at(sym.param_values)
    instances = 0
    for info in sym.agents.values():
        instances += 1 if info.domain is None else _size(info.domain, sym.param_values)
    if instances > MAX_INSTANCES:
        cpu = sym.agents.get("cpu")
        span = cpu.decl.span if cpu is not None else next(iter(sym.agents.values())).decl.span
        diags.error("E308", f"{instances} agent instances{at}: the limit is {MAX_INSTANCES}", span,
                    "a race needs a few CPUs; lower CPUS with `--param CPUS=N`")
        return False
    slots = {v: _slots(v.type, sym.param_values) for v in sym.all_vars}
    total = instances + sum(slots.values())
    if total > MAX_STATE_SLOTS:
        big = max(slots, key=lambda v: slots[v])
        diags.error("E308", f"the state has {total} slots{at} ({slots[big]} in `{big.name}`): the limit is "
                            f"{MAX_STATE_SLOTS}", big.span, "every array element is a slot of every state")
        return False
    return _initial_fits(sym, slots, at, diags)


def _initial_fits(sym: Symbols, slots: dict[ir.Var, int], at: str, diags: Diagnostics) -> bool:
    # Vars without an initial value start with every value of their type, element by element:
    # the search enumerates every combination before it filters them with `initially`.
    combos = 1
    for v, n in slots.items():
        if v.init is not None:
            continue
        values = _size(_elem(v.type), sym.param_values)
        for _ in range(n):
            combos *= values
            if combos > MAX_INITIAL_CANDIDATES:
                diags.error("E308", f"the vars without an initial value start in more than {MAX_INITIAL_CANDIDATES} "
                                    f"combinations of values{at}", v.span,
                            "give this var an initial value (`= default` is its type's first value), or narrow "
                            "its type")
                return False
    return True


def model_fits(model: ir.Model, params: dict[str, int], diags: Diagnostics) -> bool:
    """Each step's choices and branch nesting, and every expression's quantifiers unrolled, within their limits."""
    ok = True
    for agent in model.agents:
        for step in agent.steps:
            ok = _step_fits(agent, step, params, diags) and ok
    exprs = [p.expr for p in model.properties if p.expr is not None] + list(model.initially)
    exprs += [e for a in model.agents for st in a.steps for e in _stmt_exprs(st.body)]
    reported: set[Span] = set()
    for e in exprs:
        q = _too_unrolled(e, params)
        if q is not None and q not in reported:
            reported.add(q)
            diags.error("E309", f"this forall/exists unrolls to more than {MAX_UNROLLED} nodes{_at(params)}, its "
                                "body once for every value of its variables: that is the limit", q,
                        "quantify over fewer or smaller types")
            ok = False
    return ok


def _step_fits(agent: ir.Agent, step: ir.Step, params: dict[str, int], diags: Diagnostics) -> bool:
    _, crossing = _path_choices(step.body, params)
    if crossing is not None:
        diags.error("E309", f"the choices of step `{agent.name}.{step.name}` combine more than {MAX_CHOICES} "
                            f"values on one path{_at(params)}", crossing.span,
                    "choose from a smaller type, or in separate steps")
        return False
    deep = _deep_branch(step.body, 1)
    if deep is not None:
        diags.error("E410", f"branches nest more than {MAX_BRANCH_DEPTH} deep in one step of `{agent.name}`",
                    deep.span, "split the step with `yield`, or test the conditions one after another")
        return False
    return True


def _deep_branch(body: tuple[ir.Stmt, ...], depth: int) -> ir.If | None:
    for s in body:
        if isinstance(s, ir.If):
            if depth > MAX_BRANCH_DEPTH:
                return s
            found = _deep_branch(s.then, depth + 1) or _deep_branch(s.else_, depth + 1)
            if found is not None:
                return found
    return None


def _too_unrolled(e: ir.Expr, params: dict[str, int]) -> Span | None:
    """Where the outermost quantifier whose unrolling is past the limit is."""
    memo: dict[int, int] = {}

    def unrolled(x: ir.Expr) -> int:
        if id(x) not in memo:
            n = 1 + sum(unrolled(c) for c in _children(x))
            memo[id(x)] = min(MAX_UNROLLED + 1, n * _size(x.bound.type, params) if isinstance(x, ir.Quant) else n)
        return memo[id(x)]

    if unrolled(e) <= MAX_UNROLLED:
        return None
    work = [e]
    while work:
        x = work.pop()
        if isinstance(x, ir.Quant) and unrolled(x) > MAX_UNROLLED:
            return x.span
        work.extend(reversed(_children(x)))
    return None


def _children(e: ir.Expr) -> tuple[ir.Expr, ...]:
    if isinstance(e, ir.Quant):
        return (e.body,)
    if isinstance(e, ir.Unary):
        return (e.arg,)
    if isinstance(e, ir.Binary):
        return (e.left, e.right)
    if isinstance(e, ir.Ite):
        return (e.cond, e.then, e.else_)
    if isinstance(e, ir.Index):
        return (e.base, e.index)
    if isinstance(e, (ir.AtLoc, ir.Enabled)) and e.index is not None:
        return (e.index,)
    return ()


def _stmt_exprs(body: tuple[ir.Stmt, ...]) -> Iterator[ir.Expr]:
    for s in body:
        if isinstance(s, ir.If):
            yield s.cond
            yield from _stmt_exprs(s.then)
            yield from _stmt_exprs(s.else_)
        elif isinstance(s, ir.Assign):
            yield s.value
        elif isinstance(s, (ir.Assume, ir.Check)):
            yield s.cond


def _path_choices(body: tuple[ir.Stmt, ...], params: dict[str, int], combos: int = 1
                  ) -> tuple[int, ir.Choice | None]:
    """The most value combinations a path reaching the end of `body` has enumerated, given
    `combos` on entry (both backends loop over a Choose only on the paths that reach it, so the
    branches of an If count apart, and a path a Goto ends counts no further), and the choice at
    which some path passes MAX_CHOICES."""
    for s in body:
        if isinstance(s, ir.Choose):
            combos *= _size(s.choice.type, params)
            if combos > MAX_CHOICES:
                return combos, s.choice
        elif isinstance(s, ir.If):
            going = []
            for b in (s.then, s.else_):
                n, crossing = _path_choices(b, params, combos)
                if crossing is not None:
                    return n, crossing
                if not ir.always_ends(b):
                    going.append(n)
            combos = max(going, default=combos)
        elif isinstance(s, ir.Goto):
            break
    return combos, None


def tree_size(e: ir.Expr, limit: int) -> int:
    """The node count of `e` as a tree (shared subexpressions count once per use), counted in
    time linear in the distinct nodes; stops counting past `limit`."""
    memo: dict[int, int] = {}

    def size(x: ir.Expr) -> int:
        if id(x) not in memo:
            memo[id(x)] = min(limit + 1, 1 + sum(size(c) for c in _children(x)))
        return memo[id(x)]

    return size(e)


def _slots(t: ir.Type, params: dict[str, int]) -> int:
    n = 1
    while isinstance(t, ir.ArrayType):
        n *= _size(t.index, params)
        t = t.elem
    return n


def _elem(t: ir.Type) -> ir.ScalarType:
    while isinstance(t, ir.ArrayType):
        t = t.elem
    return t


def _size(t: ir.ScalarType, params: dict[str, int]) -> int:
    try:
        return len(ir.domain_values(t, params))
    except (ValueError, KeyError):
        return 1  # not constant at these parameters: reported where the type was declared


def _at(params: dict[str, int]) -> str:
    return f" at {', '.join(f'{k}={v}' for k, v in sorted(params.items()))}" if params else ""

