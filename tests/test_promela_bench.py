"""bench/promela.py, the Promela that bench/spin_bench.py gives SPIN, against the simulator.

SPIN itself is not on CI's machine, so `bench/spin_bench.py check` (every shipped spec: SPIN's
states and violated properties equal irqc's) is run by hand.  What can be checked here is the
part of the translation that is ours alone: the guard of each (step, choice values) option,
computed by symbolic execution of the step body.  On reachable states of every shipped spec, a
guard that bench/promela.py calls exact must be true exactly when the simulator says the step
has a successor (or fails an in_range check) for those choice values, and one it leaves to run
time (`rollback`) must be true at least then.
"""
from __future__ import annotations

import itertools
import sys
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from compiler import ir
from tests.specgen import generate as random_spec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import promela  # noqa: E402

SPECS = sorted((ROOT / "specs").glob("*.irqspec"))
STATES = 600  # reachable states per spec, breadth first


def value(s: promela.Sym, state: tuple[int, ...]) -> int:
    kind = s[0]
    if kind == "lit":
        return int(s[1])
    if kind == "cell":
        return state[s[1]]
    if kind == "arr":
        return state[s[1].base + value(s[2], state)]
    if kind == "un":
        v = value(s[2], state)
        return int(not v) if s[1] == "not" else -v
    if kind == "ite":
        return value(s[2], state) if value(s[1], state) else value(s[3], state)
    if s[1] == "and":
        return int(bool(value(s[2], state)) and bool(value(s[3], state)))
    if s[1] == "or":
        return int(bool(value(s[2], state)) or bool(value(s[3], state)))
    return int(promela._PY[s[1]](value(s[2], state), value(s[3], state)))


def reachable(sim: Any, n: int) -> list[tuple[int, ...]]:
    seen = dict.fromkeys(sim.initial_states())
    todo = deque(seen)
    while todo and len(seen) < n:
        for _, succ, _ in sim.step_all(todo.popleft()):
            if succ is not None and succ not in seen:
                seen[succ] = None
                todo.append(succ)
    return list(seen)[:n]


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_guards_are_the_simulators_enabledness(spec: Path) -> None:
    assert agree(spec) > 0


def test_guards_on_random_specs(tmp_path: Path) -> None:
    """The shipped specs' branches before a step's first write mostly test its choices, which the
    options fix; random specs branch on state there too."""
    for seed in range(40):
        spec = tmp_path / f"fuzz{seed}.irqspec"
        spec.write_text(random_spec(seed, f"fuzz{seed}"))
        agree(spec)


BRANCHY = """spec branchy;
param CPUS = 2;
var a: bool = false;
var b: 0..3 = 0;
var n: 0..2 = 0;
thread flip { for (;;) { atomic { a = !a; b = (b + 1 < 4) ? b + 1 : 0; } } }
cpu c {
  for (;;) {
  idle:
    atomic {
      if (a) { await (b > 1); } else { await (b == 0); }
      if (b == 3) { n = n + 1; }
      a = false;
    }
  }
}
invariant small: n < 2;
"""


def test_guards_that_branch_on_state_before_the_first_write(tmp_path: Path) -> None:
    """An await in either branch of a test of the state, before anything is written: the guard is
    exact there, so each branch must keep its own condition; and an increment that can leave its
    type (n = 2 + 1) fails in_range, which makes the step enabled without a successor."""
    spec = tmp_path / "branchy.irqspec"
    spec.write_text(BRANCHY)
    assert agree(spec) > 0


def agree(spec: Path) -> int:
    """Checks every guard of the spec on its first reachable states; how many were exact."""
    model, params, sim = promela.load(str(spec), {})
    lay = promela.Layout(model, params)
    assert lay.size == sim.layout.size
    # per (instance, step), each option: its guard, its escape, whether it undoes at run time,
    # and its guard through its writes (None: within the cap only)
    options: dict[tuple[int, str], list[tuple[promela.Sym, promela.Sym, bool, promela.Sym | None]]] = {}
    for gid, (agent, val, _) in enumerate(lay.instances):
        for step in agent.steps:
            chs = promela._choices(step.body, [])
            for vals in itertools.product(*(ir.domain_values(c.type, params) for c in chs)):
                g = promela.Guard(promela.Eval(lay, model, val, dict(zip(chs, vals))))
                g.run(step.body, {}, promela.TRUE)
                x = None
                if g.rollback:  # what enabled() in a property reads instead, within the size cap
                    full = promela.Guard(g.ev, through=True)
                    full.run(step.body, {}, promela.TRUE)
                    both = promela.disj(full.done, full.escape)
                    x = both if promela.nodes(both) <= promela.EXACT_CAP else None
                options.setdefault((gid, step.name), []).append((g.done, g.escape, g.rollback, x))
    checked = exact = 0
    through = 0  # exact guards through writes checked
    for state in reachable(sim, STATES):
        for gid, (agent, _, pc) in enumerate(lay.instances):
            for step in agent.steps:
                if state[pc] != step.source:
                    continue
                real = any(t is not None or ir.IN_RANGE in (props or ())
                           for t, props in sim.successors(state, gid, step.name))
                opts = options[(gid, step.name)]
                said = any(value(d, state) or value(e, state) for d, e, _, _ in opts)
                if any(rb for _, _, rb, _ in opts):
                    assert said or not real, (spec.stem, step.name, state)
                    if all(x is not None for _, _, rb, x in opts if rb):
                        # every option exact: by its own guard, or by its guard through its writes
                        full = any(value(x, state) if rb and x is not None else (value(d, state) or value(e, state))
                                   for d, e, rb, x in opts)
                        assert full == real, (spec.stem, step.name, state, "through its writes")
                        through += 1
                else:
                    assert said == real, (spec.stem, step.name, state)
                    exact += 1
                checked += 1
    assert checked > 0
    return exact + through
