"""Small IR models built by hand, with verdicts worked out by hand (see each docstring).

They exercise the Z3 backend without the front end.  Spans point at made-up
lines of "fixture.irqspec" so that tables and ITF spans are predictable.
"""
from __future__ import annotations

from compiler import ir
from dsl.source import Span

PATH = "fixture.irqspec"
ANY = ir.IntType(ir.Lit(-(2**31), ir.BOOL), ir.Lit(2**31, ir.BOOL))  # the type of an int literal


def sp(line: int) -> Span:
    return Span(PATH, 0, 0, line, 1)


def n(v: int) -> ir.Lit:
    return ir.Lit(v, ANY)


def b(v: bool) -> ir.Lit:
    return ir.Lit(v, ir.BOOL)


def rng(lo: int, hi: int, name: str | None = None) -> ir.IntType:
    return ir.IntType(n(lo), n(hi), name)


def ref(v: ir.Var) -> ir.VarRef:
    return ir.VarRef(v)


def bi(op: str, a: ir.Expr, c: ir.Expr) -> ir.Binary:
    return ir.Binary(op, a, c)


def step(name: str, source: int, body: list[ir.Stmt], line: int, text: str | None = None) -> ir.Step:
    return ir.Step(name, source, tuple(body), text or name, sp(line))


def locs(*names: str, idle: tuple[str, ...] = ()) -> tuple[ir.Location, ...]:
    return tuple(ir.Location(i, nm, sp(1), idle=nm in idle) for i, nm in enumerate(names))


def guarded_write(target: ir.Expr, value: ir.Expr, hi: int) -> list[ir.Stmt]:
    """What lowering emits for a write into a bounded int: a range check first."""
    return [ir.Check(bi("le", value, n(hi)), "in_range"), ir.Assign(target, value)]


BUILTIN_CHECKS = (ir.Property("in_range", "check", None), ir.Property("lock_discipline", "check", None))


def model(name: str, vars: list[ir.Var], agents: list[ir.Agent], props: list[ir.Property],
          params: tuple[ir.Param, ...] = (), initially: tuple[ir.Expr, ...] = ()) -> ir.Model:
    return ir.Model(name, name, PATH, "0" * 64, params, (), tuple(vars), tuple(agents), initially,
                    tuple(props) + BUILTIN_CHECKS)


def counter(limit: int = 3) -> ir.Model:
    """x counts 0,1,2,... in a 0..limit var.

    `below` (x < limit) is violated at depth `limit`; `in_range` at depth
    limit+1 (the step that would store limit+1 aborts); lock_discipline proved.
    """
    x = ir.Var("x", rng(0, limit), n(0), span=sp(2))
    tick = step("tick", 0, [*guarded_write(ref(x), bi("add", ref(x), n(1)), limit), ir.Goto(0)], 5, "x = x + 1")
    dev = ir.Agent("ticker", "device", None, locs("idle", idle=("idle",)), 0, (tick,))
    below = ir.Property("below", "invariant", bi("lt", ref(x), n(limit)), expect="violated")
    return model("counter", [x], [dev], [below])


def late_violation(at: int = 50) -> ir.Model:
    """x counts up from 0 in 0..at+10; `not_yet` (x != at) first fails at depth `at`.

    With a bound below `at` it holds up to the bound and must not be proved:
    from the arbitrary state x == at-1 one step violates it.
    """
    x = ir.Var("x", rng(0, at + 10), n(0))
    tick = step("tick", 0, [*guarded_write(ref(x), bi("add", ref(x), n(1)), at + 10), ir.Goto(0)], 5)
    dev = ir.Agent("ticker", "device", None, locs("idle"), 0, (tick,))
    return model("late", [x], [dev], [ir.Property("not_yet", "invariant", bi("ne", ref(x), n(at)))])


def cycle_with_tail(hi: int = 20) -> ir.Model:
    """x cycles 0->1->2->0 in a 0..hi var, so `never_hi` (x != hi) holds forever.

    It is not k-inductive for k <= hi-3: from the unreachable x == 3 a simple path
    climbs to hi.  It is (hi-2)-inductive: no simple path of that length avoids hi
    before its end, since only 2 -> 0 leaves the tail.
    """
    x = ir.Var("x", rng(0, hi), n(0))
    nxt = ir.Ite(bi("eq", ref(x), n(2)), n(0), bi("add", ref(x), n(1)))
    tick = step("tick", 0, [*guarded_write(ref(x), nxt, hi), ir.Goto(0)], 5)
    dev = ir.Agent("ticker", "device", None, locs("idle"), 0, (tick,))
    return model("cycle", [x], [dev], [ir.Property("never_hi", "invariant", bi("ne", ref(x), n(hi)))])


def follower() -> ir.Model:
    """y copies x, then x steps 0..3 and wraps, both in 0..7 vars.

    `y_small` (y <= 3) holds; it is not 1-inductive (from y=0, x=7 the copy
    gives y=7) but 2-inductive (y(1) <= 3 is x(0) <= 3, so x(1) <= 3): proved, k=2.
    """
    x = ir.Var("x", rng(0, 7), n(0))
    y = ir.Var("y", rng(0, 7), n(0))
    wrap = ir.Ite(bi("eq", ref(x), n(3)), n(0), bi("add", ref(x), n(1)))
    body: list[ir.Stmt] = [ir.Assign(ref(y), ref(x)), *guarded_write(ref(x), wrap, 7), ir.Goto(0)]
    dev = ir.Agent("pump", "device", None, locs("idle"), 0, (step("pump", 0, body, 4, "y = x; x = next(x)"),))
    return model("follower", [x, y], [dev], [ir.Property("y_small", "invariant", bi("le", ref(y), n(3)))])


def race(locked: bool, cpus: int = 2) -> ir.Model:
    """CPUS cpus each do x = x + 1 as a read step and a write step.

    Unlocked: `no_lost_update` (all done -> x == CPUS) is violated at depth 4 with
    both reads before both writes.  Locked (lock/unlock steps around): it holds.
    """
    param = ir.Param("CPUS", cpus)
    top = ir.Binary("sub", ir.ParamRef(param), n(1))
    cpu_t = ir.IntType(n(0), top, "cpu")
    x = ir.Var("x", ir.IntType(n(0), ir.ParamRef(param)), n(0), span=sp(3))
    r = ir.Var("c.r", ir.ArrayType(cpu_t, ir.IntType(n(0), ir.ParamRef(param))), n(0), span=sp(4))
    lock = ir.Var("desc.lock", ir.IntType(n(-1), top), n(-1), kind="lock", span=sp(5))
    me = ir.SelfIndex()
    r_me = ir.Index(ref(r), me)
    steps: list[ir.Step] = []
    names = ["idle", "locked", "read", "wrote", "done"] if locked else ["idle", "read", "done"]
    at = {nm: i for i, nm in enumerate(names)}
    if locked:
        steps.append(step("lock", at["idle"], [ir.Assume(bi("eq", ref(lock), n(-1)), "lock"),
                                                ir.Assign(ref(lock), me), ir.Goto(at["locked"])], 10, "lock desc.lock"))
    start = at["locked"] if locked else at["idle"]
    steps.append(step("read", start, [ir.Assign(r_me, ref(x)), ir.Goto(at["read"])], 11, "r = x"))
    after = at["wrote"] if locked else at["done"]
    write = guarded_write(ref(x), bi("add", r_me, n(1)), cpus)
    steps.append(step("write", at["read"], [*write, ir.Goto(after)], 12, "x = r + 1"))
    if locked:
        steps.append(step("unlock", at["wrote"], [ir.Check(bi("eq", ref(lock), me), "lock_discipline"),
                                                  ir.Assign(ref(lock), n(-1)), ir.Goto(at["done"])], 13,
                          "unlock desc.lock"))
    agent = ir.Agent("c", "cpu", cpu_t, locs(*names, idle=("idle", "done")), 0, tuple(steps))
    k = ir.Bound("k", cpu_t)
    all_done = ir.Quant("forall", k, ir.AtLoc("c", ir.BoundRef(k), frozenset({at["done"]})))
    prop = ir.Property("no_lost_update", "invariant", bi("implies", all_done, bi("eq", ref(x), ir.ParamRef(param))),
                       expect="holds" if locked else "violated")
    return model("race_locked" if locked else "race", [x, r, lock], [agent], [prop], params=(param,))


def bad_unlock() -> ir.Model:
    """A thread releases a lock it does not hold: lock_discipline violated at depth 2.

    Step 1 `work` (the lock is free), step 2 `unlock` aborts on the failed check.
    """
    lock = ir.Var("desc.lock", rng(-1, 0), n(-1), kind="lock")
    done = ir.Var("t.done", ir.BOOL, b(False))
    work = step("work", 0, [ir.Assign(ref(done), b(True)), ir.Goto(1)], 20, "do_work()")
    unlock = step("unlock", 1, [ir.Check(bi("eq", ref(lock), n(0)), "lock_discipline"),
                                ir.Assign(ref(lock), n(-1)), ir.Goto(2)], 21, "unlock desc.lock")
    t = ir.Agent("t", "thread", None, locs("start", "mid", "end"), 0, (work, unlock))
    return model("bad_unlock", [lock, done], [t], [])


def abba() -> ir.Model:
    """Two threads take locks l1, l2 in opposite orders: deadlock at depth 2."""
    l1 = ir.Var("l1", rng(-1, 1), n(-1), kind="lock")
    l2 = ir.Var("l2", rng(-1, 1), n(-1), kind="lock")

    def thread(name: str, gid: int, first: ir.Var, second: ir.Var, line: int) -> ir.Agent:
        def take(lk: ir.Var, src: int, dst: int, ln: int) -> ir.Step:
            return step(f"lock_{lk.name}", src, [ir.Assume(bi("eq", ref(lk), n(-1)), "lock"),
                                                   ir.Assign(ref(lk), n(gid)), ir.Goto(dst)], ln, f"lock {lk.name}")

        def drop(lk: ir.Var, src: int, dst: int, ln: int) -> ir.Step:
            return step(f"unlock_{lk.name}", src, [ir.Check(bi("eq", ref(lk), n(gid)), "lock_discipline"),
                                                     ir.Assign(ref(lk), n(-1)), ir.Goto(dst)], ln, f"unlock {lk.name}")

        steps = (take(first, 0, 1, line), take(second, 1, 2, line + 1), drop(second, 2, 3, line + 2),
                 drop(first, 3, 4, line + 3))
        return ir.Agent(name, "thread", None, locs("start", "one", "two", "three", "end", idle=("end",)), 0, steps)

    a, c = thread("a", 0, l1, l2, 30), thread("b", 1, l2, l1, 40)
    finished = bi("and", ir.AtLoc("a", None, frozenset({4})), ir.AtLoc("b", None, frozenset({4})))
    live = bi("or", bi("or", ir.Enabled("a", None), ir.Enabled("b", None)), finished)
    return model("abba", [l1, l2], [a, c], [ir.Property("deadlock", "deadlock", live, expect="holds")])


def big(width: int = 40) -> ir.Model:
    """Many cpus incrementing shared counters: slow enough that a tiny timeout expires."""
    param = ir.Param("CPUS", width)
    cpu_t = ir.IntType(n(0), ir.Binary("sub", ir.ParamRef(param), n(1)), "cpu")
    cnt = ir.Var("cnt", ir.ArrayType(cpu_t, rng(0, 1000)), n(0))
    total = ir.Var("total", rng(0, 100000), n(0))
    me = ir.SelfIndex()
    j = ir.Choice("j", cpu_t)
    body: list[ir.Stmt] = [ir.Choose(j),
                           *guarded_write(ir.Index(ref(cnt), ir.ChoiceRef(j)),
                                          bi("add", ir.Index(ref(cnt), ir.ChoiceRef(j)), me), 1000),
                           *guarded_write(ref(total), bi("add", ref(total), bi("mul", me, ir.Index(ref(cnt), me))),
                                          100000),
                           ir.Goto(0)]
    agent = ir.Agent("c", "cpu", cpu_t, locs("idle"), 0, (step("bump", 0, body, 3),))
    k = ir.Bound("k", cpu_t)
    prop = ir.Property("sum", "invariant", ir.Quant("forall", k, bi("ne", ir.Index(ref(cnt), ir.BoundRef(k)), n(999))))
    return model("big", [cnt, total], [agent], [prop], params=(param,))
