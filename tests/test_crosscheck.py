"""The two backends against each other: the generated simulator and the Z3 encoding
must accept the same runs (language brief §3).  A difference is a compiler bug.

(a) every counterexample Z3 finds replays in the simulator, violating the same
    property at the same step;
(b) exhaustive exploration and BMC agree on every property: the same shortest
    violation depth, or no violation in either;
(c) the same on small random IR models (tests/test_crosscheck_random.py);
(d) a random simulator run satisfies the Z3 transition relation step by step.

A search that completes at depth D has seen every reachable state within D
steps, so BMC to depth D + 1 (checks fail on the step after) covers the same runs.
That can be slow for Z3, so BMC runs to min(D + 1, max(deepest violation the search
found, BMC_FLOOR)): every violation is compared exactly, and a property that holds
is compared up to that bound.  An instance too big to search in full is compared on
the runs the search did cover in full (`ExploreResult.bound`).
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import z3

from compiler import ir
from compiler.backends.python import generate, load_simulator
from compiler.backends.z3 import TransitionSystem, prove
from compiler.cli import main
from compiler.engine import LARGE_ENCODING_SLOTS
from compiler.pipeline import load_model
from compiler.results import PropertyResult
from compiler.trace import to_itf
from dsl.diagnostics import Diagnostics, render_all
from tests import py_irfixtures as fx

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "specs").glob("*.irqspec"))
MAX_STATES = 100_000  # keeps the suite fast; a bigger instance is compared on the runs searched in full
BMC_FLOOR = 12  # BMC depth for comparing properties that hold, when the search's depth is larger
BMC_CAP = 10  # and the deepest BMC run: a violation deeper than that (S6's live-lock at 30 on a
#               large encoding takes minutes of SAT) is compared by the engine's pinned-trace check
BMC_CAP_LARGE = 8  # the same for encodings of more than LARGE_ENCODING_SLOTS slots (the engine's own limit there)


def shipped_model(path: Path) -> ir.Model:
    diags = Diagnostics()
    model = load_model(str(path), {}, diags)
    assert model is not None, render_all(diags)
    return model


def small_params(model: ir.Model) -> dict[str, int]:
    """The spec's defaults, with CPUS at most 2: enough for every shipped race."""
    params = ir.default_params(model)
    if params.get("CPUS", 0) > 2:
        params["CPUS"] = 2
    return params


CASES: list[tuple[str, Any]] = [(p.stem, p) for p in SHIPPED] + [
    ("fixture-lost_irq", fx.lost_irq), ("fixture-lost_irq-fixed", lambda: fx.lost_irq(fixed=True)),
    ("fixture-counter", fx.counter),
]


@dataclass
class Both:
    model: ir.Model
    params: dict[str, int]
    sim: Any  # the generated Simulator
    module: ModuleType
    explored: Any  # ExploreResult
    results: list[PropertyResult]
    bound: int  # the BMC depth
    ts: TransitionSystem | None = None  # built on first use by the random-run test


_CACHE: dict[str, Both] = {}


def both(case: str, source: Any) -> Both:
    """Explore once and prove once per case; tests (a), (b) and (d) share the result."""
    if case not in _CACHE:
        model = shipped_model(source) if isinstance(source, Path) else source()
        params = small_params(model)
        module = load_simulator(generate(model, model.path), model.name)
        sim = module.Simulator(params)
        explored = sim.explore(max_states=MAX_STATES)
        deepest = max((d for d, _ in explored.violations.values()), default=0)
        cap = BMC_CAP if sim.layout.size <= LARGE_ENCODING_SLOTS else BMC_CAP_LARGE
        if explored.complete:
            bound = min(explored.depth + 1, max(deepest, BMC_FLOOR), cap)
        else:  # a big instance: compare the runs the search covered in full
            bound = min(explored.bound, max(deepest, BMC_FLOOR), cap)
        results = prove(model, params, depth=bound, induction=False)
        _CACHE[case] = Both(model, params, sim, module, explored, results, bound)
    return _CACHE[case]


@pytest.mark.parametrize("case,source", CASES, ids=[c for c, _ in CASES])
def test_z3_counterexamples_replay_in_simulator(case: str, source: Any) -> None:
    b = both(case, source)
    for r in b.results:
        if r.verdict != "violated":
            assert r.property not in b.explored.violations or b.explored.violations[r.property][0] > b.bound
            continue
        assert r.trace is not None
        replay = b.sim.replay(to_itf(r.trace))
        assert replay.ok, f"{r.property}: {replay.problem}"
        assert (replay.property, replay.steps) == (r.property, r.depth), r.property


@pytest.mark.parametrize("case,source", CASES, ids=[c for c, _ in CASES])
def test_explore_and_bmc_agree(case: str, source: Any) -> None:
    b = both(case, source)
    z3_says = {r.property: r.depth if r.verdict == "violated" else None for r in b.results}
    found = {p: d for p, (d, _) in b.explored.violations.items() if d <= b.bound}
    sim_says = {p: found[p] if p in found else None for p in z3_says}
    assert sim_says == z3_says, f"BMC depth {b.bound}"
    assert all(r.verdict != "inconclusive" for r in b.results)


@pytest.mark.parametrize("case,source", CASES, ids=[c for c, _ in CASES])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_run_satisfies_transition_relation(case: str, source: Any, seed: int) -> None:
    b = both(case, source)
    path, prop, _ = b.sim.random_run(seed, 40)
    b.ts = b.ts or TransitionSystem(b.model, b.params)
    assert_accepted(b.model, b.params, b.sim, path, prop, b.ts)


def value_like(x: z3.ExprRef, v: int) -> z3.ExprRef:
    """v as a Z3 value of x's sort: the encoding may use Bools, Ints or bit-vectors."""
    if z3.is_bool(x):
        return z3.BoolVal(bool(v))
    if z3.is_bv(x):
        return z3.BitVecVal(int(v), x.size())
    return z3.IntVal(int(v))


def assert_accepted(model: ir.Model, params: dict[str, int], sim: Any, path: list[Any], prop: str | None,
                    ts: TransitionSystem | None = None) -> None:
    """Each (state, action, state) of a simulator run is a transition of the Z3 encoding,
    and the last one fails the check the simulator says failed (its trace repeats the
    pre-state there: the property's run ends, so the post-state is not pinned)."""
    ts = ts or TransitionSystem(model, params)
    slots = ts.layout.slots
    assert len(slots) == len(path[0][0]), "the two backends lay the state out differently"

    def pin(tag: str, state: tuple[int, ...]) -> list[z3.BoolRef]:
        return [x == value_like(x, v) for x, v in zip(ts.state(tag), state)]

    solver = z3.Solver()
    solver.add(ts.init("i"), *pin("i", path[0][0]))
    assert solver.check() == z3.sat, "the simulator's initial state is not initial for Z3"
    # One solver holds the step relation; each step of the run is asked under push/pop.
    step = ts.unroll("a", "b")
    solver = z3.Solver()
    solver.add(step.relation)
    for k in range(1, len(path)):
        (pre, _), (post, aid) = path[k - 1], path[k]
        aborted = prop is not None and k == len(path) - 1 and post == pre
        solver.push()
        solver.add(step.sel == aid, *pin("a", pre))
        if aborted:
            solver.add(step.aborts.get(prop, z3.BoolVal(False)))
        else:
            solver.add(*pin("b", post))
        assert solver.check() == z3.sat, f"step {k} ({sim.actions[aid][1].name}) is not a Z3 transition"
        solver.pop()


def test_prove_trace_out_replays_in_built_program(tmp_path: Path) -> None:
    """End to end, as a user would: `irqc prove --trace-out`, `irqc build`, then the
    generated program replays each trace and reports the same property and step."""
    spec = ROOT / "specs" / "gicv3_its_fasteoi.irqspec"
    traces, out = tmp_path / "traces", tmp_path / "gen"
    assert main(["prove", str(spec), "--depth", "10", "--max-k", "0", "--property", "no_lost_interrupt",
                 "--trace-out", str(traces)]) == 1
    assert main(["build", str(spec), "-o", str(out)]) == 0
    written = sorted(traces.glob("*.itf.json"))
    assert written
    for trace in written:
        res = subprocess.run([sys.executable, "-I", "-S", str(out / "gicv3_its_fasteoi.py"), "replay", str(trace)],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "no_lost_interrupt (invariant) is violated at step" in res.stdout
