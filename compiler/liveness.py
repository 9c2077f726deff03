"""Dead variables: what the exhaustive search may forget, from where each agent stands.

A variable that no property and no `initially` reads is *dead for an agent* at a location when
every path of that agent from there writes it before any statement of the agent reads it (a
guard, a check, an index or an assigned value reads; only a write of the whole variable kills
it, or, for a *row*, of the instance's own element).  It is dead in a state when it is dead for
every instance of every agent that mentions it, at the location each stands: then the value it
holds is never read.  Whichever instance reads it first must, by its own path, have written it
before, after now.  (An agent's enabledness reads only its guards, which count as reads.)  So
two states that differ only in dead variables have the same steps, to states that again differ
only in dead variables, and the same value of every property: they are bisimilar, and the
search may keep one of them.  It stores each state with its dead variables reset (`reset`), as
the model checkers of the SPIN family do ("dead variable reduction").  Traces stay concrete:
irqc rebuilds them forwards from an initial state, matching each step by the stored key
(docs/prove.md, "Reductions").

A *row* is a variable of a `cpu` block that every step reads and writes only at `[self]`: each
instance owns its element (or row), which is dead where that instance alone stands.

The analysis is the textbook backward data flow over each agent's locations, conservative
where it is unsure.

*Ghosts* (`ghosts`) are the other way a variable stops mattering: it lies outside the cone of
influence of everything that steers the run and of every property but the ones it feeds, so
once those are violated the search may forget it too (from the next layer on).
"""
from __future__ import annotations

from dataclasses import dataclass

from compiler import ir


@dataclass(frozen=True, slots=True)
class Dead:
    """Where one variable is dead: per agent that mentions it, the locations where it is dead for it."""

    var: ir.Var
    row: bool  # a cpu block's own row: each instance's row is dead where that instance stands
    where: tuple[tuple[str, frozenset[int]], ...]


def analyse(model: ir.Model) -> tuple[Dead, ...]:
    """Every variable dead somewhere, in declaration order."""
    users: dict[ir.Var, list[str]] = {}
    off_row: set[ir.Var] = set()  # read or written at a row not the instance's own
    for agent in model.agents:
        for step in agent.steps:
            for var, at_self in _stmt_refs(step.body):
                if agent.name not in users.setdefault(var, []):
                    users[var].append(agent.name)
                if not at_self:
                    off_row.add(var)
    read: set[ir.Var] = set()  # by a property or `initially`: never dead
    for e in [p.expr for p in model.properties if p.expr is not None] + list(model.initially):
        read |= {var for var, _ in _expr_refs(e)}
    rows = {v for v, who in users.items() if len(who) == 1 and v not in off_row and _is_row(v, model.agent(who[0]))}
    live = {a.name: _live(a, {v for v, who in users.items() if a.name in who and v not in read}, rows)
            for a in model.agents}
    out: list[Dead] = []
    for var in model.vars:
        if var in read or var not in users:
            continue
        where = tuple((name, frozenset(loc.index for loc in model.agent(name).locations
                                       if var not in live[name][loc.index])) for name in users[var])
        if all(locs for _, locs in where):
            out.append(Dead(var, var in rows, where))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Ghost:
    """A variable that steers nothing: it flows only into itself, other ghosts and the verdicts
    of `props` (its cone of influence has no guard, no branch that ends a path and no other
    property).  Once every one of `props` is settled, it is reset like a dead variable."""

    var: ir.Var
    props: tuple[str, ...]  # in the model's property order, then the checks' names


def ghosts(model: ir.Model) -> tuple[Ghost, ...]:
    """The variables outside the cone of influence of the control (guards, and branches that
    end paths or hold a guard or a range check) and of every property but `props`.

    A var is in a cone when something in it reads the var: an assignment to a var in the cone
    (its value, its indices, and the conditions of the branches it sits in), a guard, a check
    of the property (and the branches it sits in), the property's own expression.  A state's
    projection onto the control's cone decides which steps it has and where they go; onto a
    property's cone, also that property's value: so once every property a ghost feeds is
    settled, states that differ only in it are bisimilar for what is left to judge."""
    deps: list[tuple[ir.Var, set[ir.Var]]] = []
    control: set[ir.Var] = set()
    seeds: dict[str, set[ir.Var]] = {p.name: _reads(p.expr) for p in model.properties if p.expr is not None}
    safe: set[int] = set()  # the range checks that cannot fail (by id: equal checks may sit in other places)

    def walk(stmts: tuple[ir.Stmt, ...], guards: set[ir.Var]) -> None:
        for st in stmts:
            if isinstance(st, ir.Assign):
                root, indices = _chain(st.target) if isinstance(st.target, ir.Index) else (_root(st.target), [])
                deps.append((root, guards | _reads(st.value) | set().union(*map(_reads, indices))))
            elif isinstance(st, ir.Assume) or (isinstance(st, ir.Check) and st.prop == ir.IN_RANGE):
                if id(st) not in safe:
                    control.update(guards | _reads(st.cond))
            elif isinstance(st, ir.Check):
                seeds.setdefault(st.prop, set()).update(guards | _reads(st.cond))
            elif isinstance(st, ir.If):
                cond = _reads(st.cond)
                if ir.contains(st.then + st.else_, (ir.Goto, ir.Assume)) or _checks_range(st.then + st.else_, safe):
                    control.update(guards | cond)
                walk(st.then, guards | cond)
                walk(st.else_, guards | cond)

    for agent in model.agents:
        for step in agent.steps:
            _unfailable_checks(step.body, [], safe)
            walk(step.body, set())

    def closed(start: set[ir.Var]) -> set[ir.Var]:
        out, grew = set(start), True
        while grew:
            grew = False
            for target, reads in deps:
                if target in out and not reads <= out:
                    out |= reads
                    grew = True
        return out

    control = closed(control)
    cones = {name: closed(control | vs) for name, vs in seeds.items()}
    return tuple(Ghost(v, tuple(name for name, cone in cones.items() if v in cone))
                 for v in model.vars if v not in control)


def _reads(e: ir.Expr | None) -> set[ir.Var]:
    return set() if e is None else {v for v, _ in _expr_refs(e)}


def _root(e: ir.Expr) -> ir.Var:
    assert isinstance(e, ir.VarRef), "an assignment's target is a VarRef or an Index chain (compiler/ir.py)"
    return e.var


def _checks_range(stmts: tuple[ir.Stmt, ...], safe: set[int]) -> bool:
    """Some range check in `stmts` may fail."""
    for st in stmts:
        if isinstance(st, ir.Check) and st.prop == ir.IN_RANGE and id(st) not in safe:
            return True
        if isinstance(st, ir.If) and _checks_range(st.then + st.else_, safe):
            return True
    return False


def _unfailable_checks(stmts: tuple[ir.Stmt, ...], known: list[ir.Expr], safe: set[int]) -> None:
    """Add to `safe` the range checks that hold wherever they are reached: implied by the
    conditions of the branches and guards they sit in, met since the last assignment (lowering
    checks `runs[c] + 1` inside `if (runs[c] <= RERUN_BOUND)`, which cannot fail)."""
    for st in stmts:
        if isinstance(st, ir.Assign):
            known = []  # it may change what the conditions read
        elif isinstance(st, ir.Assume):
            known = [*known, st.cond]
        elif isinstance(st, ir.Check) and st.prop == ir.IN_RANGE and known \
                and _reads(st.cond) <= set().union(*map(_reads, known)) and _implied(st.cond, known):
            safe.add(id(st))  # (only checks whose variables the conditions constrain can follow from them)
        elif isinstance(st, ir.If):
            _unfailable_checks(st.then, [*known, st.cond], safe)
            _unfailable_checks(st.else_, [*known, ir.Unary("not", st.cond)], safe)
            if ir.contains(st.then + st.else_, ir.Assign):
                known = []


_Lin = dict[object, int]  # a linear form: atom (a parameter, a variable's element, or 1) -> coefficient
_ONE = "1"


def _implied(cond: ir.Expr, known: list[ir.Expr]) -> bool:
    """`known` implies `cond` for every value of the parameters and every in-type value of the
    variables they read.  Each conjunct of `cond` must be a linear comparison that follows from
    bounding each variable by its type or by a comparison in `known` (whichever makes it hold),
    with the parameters cancelling out.  Anything else is not implied: sound, and enough for
    lowering's range checks under a saturating branch (no solver, so generating a simulator
    does not import Z3)."""
    uppers: dict[object, list[_Lin]] = {}
    lowers: dict[object, list[_Lin]] = {}
    for k in known:
        for a, b in _comparisons(k):
            la, lb = _lin(a), _lin(b)
            one = None if la is None or lb is None else _single(_sub(lb, la))  # known: that form >= 0
            if one is not None and one[1] == 1:  # var + rest >= 0: var >= -rest
                lowers.setdefault(one[0], []).append({x: -v for x, v in one[2].items()})
            elif one is not None and one[1] == -1:  # rest - var >= 0: var <= rest
                uppers.setdefault(one[0], []).append(one[2])
    goals = _comparisons(cond)
    return len(goals) == _conjuncts(cond) and all(_holds(a, b, uppers, lowers) for a, b in goals)


def _conjuncts(e: ir.Expr) -> int:
    return _conjuncts(e.left) + _conjuncts(e.right) if isinstance(e, ir.Binary) and e.op == "and" else 1


def _comparisons(e: ir.Expr) -> list[tuple[ir.Expr, ir.Expr]]:
    """The conjuncts of `e` that are integer comparisons, each as (a, b) meaning a <= b."""
    if isinstance(e, ir.Binary) and e.op == "and":
        return _comparisons(e.left) + _comparisons(e.right)
    neg = isinstance(e, ir.Unary) and e.op == "not"
    c = e.arg if isinstance(e, ir.Unary) and neg else e
    if not isinstance(c, ir.Binary) or c.op not in ("le", "lt", "ge", "gt"):
        return []
    op = {"le": "gt", "lt": "ge", "ge": "lt", "gt": "le"}[c.op] if neg else c.op
    one = ir.Lit(1, ir.INT)
    if op == "le":
        return [(c.left, c.right)]
    if op == "ge":
        return [(c.right, c.left)]
    if op == "lt":
        return [(ir.Binary("add", c.left, one), c.right)]
    return [(ir.Binary("add", c.right, one), c.left)]


def _lin(e: ir.Expr) -> _Lin | None:
    if isinstance(e, ir.Lit) and not isinstance(e.value, bool):
        return {_ONE: e.value}
    if isinstance(e, (ir.ParamRef, ir.VarRef, ir.Index)):
        if isinstance(e, (ir.VarRef, ir.Index)) and not isinstance(ir.type_of(e), ir.IntType):
            return None
        return {e: 1}
    if isinstance(e, ir.Unary) and e.op == "neg":
        a = _lin(e.arg)
        return None if a is None else {k: -v for k, v in a.items()}
    if isinstance(e, ir.Binary) and e.op in ("add", "sub"):
        a, b = _lin(e.left), _lin(e.right)
        return None if a is None or b is None else (_add(a, b) if e.op == "add" else _sub(a, b))
    if isinstance(e, ir.Binary) and e.op == "mul":
        a, b = _lin(e.left), _lin(e.right)
        if a is None or b is None:
            return None
        for x, y in ((a, b), (b, a)):
            if set(x) <= {_ONE}:
                return {k: v * x.get(_ONE, 0) for k, v in y.items()}
    return None


def _add(a: _Lin, b: _Lin) -> _Lin:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return {k: v for k, v in out.items() if v}


def _sub(a: _Lin, b: _Lin) -> _Lin:
    return _add(a, {k: -v for k, v in b.items()})


def _single(a: _Lin) -> tuple[object, int, _Lin] | None:
    """(atom, coefficient, the form with it removed) for a form with one variable atom."""
    atoms = [k for k in a if isinstance(k, (ir.VarRef, ir.Index))]
    return (atoms[0], a[atoms[0]], {k: v for k, v in a.items() if k != atoms[0]}) if len(atoms) == 1 else None


def _holds(a: ir.Expr, b: ir.Expr, uppers: dict[object, list[_Lin]], lowers: dict[object, list[_Lin]]) -> bool:
    """a <= b for every value: bound each variable of b - a from below (where its coefficient is
    positive) or above, by its type or a known comparison, until a constant >= 0 is left."""
    la, lb = _lin(a), _lin(b)
    if la is None or lb is None:
        return False
    todo = [_sub(lb, la)]
    for _ in range(64):  # each round replaces one variable; nested bounds are shallow
        if not todo:
            return False
        d = todo.pop()
        var = next((k for k in d if isinstance(k, (ir.VarRef, ir.Index))), None)
        if var is None:
            if set(d) <= {_ONE} and d.get(_ONE, 0) >= 0:
                return True
            continue
        t = ir.type_of(var)
        assert isinstance(t, ir.IntType)
        c = d[var]
        by_type = _lin(t.lo if c > 0 else t.hi)
        bounds = (lowers if c > 0 else uppers).get(var, []) + ([] if by_type is None else [by_type])
        rest = {k: v for k, v in d.items() if k != var}
        todo += [_add(rest, {k: v * c for k, v in bound.items()}) for bound in bounds]
    return False


def _is_row(var: ir.Var, agent: ir.Agent) -> bool:
    return agent.domain is not None and isinstance(var.type, ir.ArrayType) and var.type.index == agent.domain


def _expr_refs(e: ir.Expr) -> list[tuple[ir.Var, bool]]:
    """Every variable `e` reads, each with whether it is read at `[self]` (its first index)."""
    out: list[tuple[ir.Var, bool]] = []
    _refs(e, out)
    return out


def _refs(e: ir.Expr, out: list[tuple[ir.Var, bool]]) -> None:
    if isinstance(e, ir.VarRef):
        out.append((e.var, False))
    elif isinstance(e, ir.Index):
        root, indices = _chain(e)
        out.append((root, isinstance(indices[0], ir.SelfIndex)))
        for i in indices:
            _refs(i, out)
    elif isinstance(e, ir.Unary):
        _refs(e.arg, out)
    elif isinstance(e, ir.Binary):
        _refs(e.left, out)
        _refs(e.right, out)
    elif isinstance(e, ir.Ite):
        _refs(e.cond, out)
        _refs(e.then, out)
        _refs(e.else_, out)
    elif isinstance(e, ir.Quant):
        _refs(e.body, out)
    elif isinstance(e, ir.AtLoc) and e.index is not None:
        _refs(e.index, out)
    elif isinstance(e, ir.Enabled) and e.index is not None:
        _refs(e.index, out)


def _chain(e: ir.Index) -> tuple[ir.Var, list[ir.Expr]]:
    indices: list[ir.Expr] = []
    base: ir.Expr = e
    while isinstance(base, ir.Index):
        indices.append(base.index)
        base = base.base
    assert isinstance(base, ir.VarRef), "an Index chain ends in a VarRef (compiler/ir.py)"
    indices.reverse()
    return base.var, indices


def _stmt_refs(body: tuple[ir.Stmt, ...]) -> list[tuple[ir.Var, bool]]:
    out: list[tuple[ir.Var, bool]] = []
    for st in body:
        if isinstance(st, ir.Assign):
            _refs(st.target, out)
            _refs(st.value, out)
        elif isinstance(st, (ir.Assume, ir.Check)):
            _refs(st.cond, out)
        elif isinstance(st, ir.If):
            _refs(st.cond, out)
            out += _stmt_refs(st.then) + _stmt_refs(st.else_)
    return out


# --------------------------------------------------------------------------- live variables


def _live(agent: ir.Agent, mine: set[ir.Var], rows: set[ir.Var]) -> list[frozenset[ir.Var]]:
    """live[loc]: the variables of `mine` some path of the agent from `loc` reads before it writes them."""
    flows = [_flow(step.body, mine, rows) for step in agent.steps]
    live: list[frozenset[ir.Var]] = [frozenset()] * len(agent.locations)
    changed = True
    while changed:
        changed = False
        for step, (gen, exits) in zip(agent.steps, flows):
            now = set(gen)
            for target, written in exits:
                now |= live[target] - written
            grown = live[step.source] | now
            if grown != live[step.source]:
                live[step.source] = frozenset(grown)
                changed = True
    return live


def _flow(body: tuple[ir.Stmt, ...], mine: set[ir.Var],
          rows: set[ir.Var]) -> tuple[set[ir.Var], list[tuple[int, frozenset[ir.Var]]]]:
    """What a step reads before writing it, and per Goto its target and what every path there wrote."""
    gen: set[ir.Var] = set()
    exits: list[tuple[int, frozenset[ir.Var]]] = []

    def read(e: ir.Expr, written: set[ir.Var]) -> None:
        gen.update(v for v, _ in _expr_refs(e) if v in mine and v not in written)

    def walk(stmts: tuple[ir.Stmt, ...], written: set[ir.Var]) -> set[ir.Var] | None:
        for st in stmts:
            if isinstance(st, ir.Assign):
                read(st.value, written)
                target = st.target
                if isinstance(target, ir.Index):
                    root, indices = _chain(target)
                    for i in indices:
                        read(i, written)
                    if root in rows and len(indices) == 1 and isinstance(indices[0], ir.SelfIndex) \
                            and not isinstance(_elem(root.type), ir.ArrayType):
                        written = written | {root}
                elif isinstance(target, ir.VarRef) and not isinstance(target.var.type, ir.ArrayType):
                    written = written | {target.var}
            elif isinstance(st, (ir.Assume, ir.Check)):
                read(st.cond, written)
            elif isinstance(st, ir.If):
                read(st.cond, written)
                ends = [w for w in (walk(st.then, set(written)), walk(st.else_, set(written))) if w is not None]
                if not ends:
                    return None
                written = set.intersection(*ends)
            elif isinstance(st, ir.Goto):
                exits.append((st.target, frozenset(written)))
                return None
        return written

    walk(body, set())
    return gen, exits


def _elem(t: ir.Type) -> ir.Type:
    return t.elem if isinstance(t, ir.ArrayType) else t
