"""The generated simulator on hand-built IR models: semantics, library API, program."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from compiler import ir
from compiler.backends.python import MARKER, UnsupportedIR, generate, load_simulator
from compiler.trace import from_itf, render_table
from tests import py_irfixtures as fx


def sim_module(model: ir.Model) -> ModuleType:
    return load_simulator(generate(model, model.path), model.name)


@pytest.fixture(scope="module")
def lost() -> ModuleType:
    return sim_module(fx.lost_irq())


def write_module(tmp_path: Path, model: ir.Model) -> Path:
    path = tmp_path / f"{model.name}.py"
    path.write_text(generate(model, model.path), encoding="utf-8")
    return path


def run_program(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # -I -S: no site-packages and no user paths, as the issue requires of a simulator
    return subprocess.run([sys.executable, "-I", "-S", str(path), *args], capture_output=True, text=True,
                          timeout=60, cwd=path.parent)


# --------------------------------------------------------------------------- generated text


def test_generation_is_deterministic() -> None:
    assert generate(fx.lost_irq(), "a.irqspec") == generate(fx.lost_irq(), "a.irqspec")


def test_header_names_spec_hash_and_lines() -> None:
    text = generate(fx.lost_irq(), "../specs/lost_irq.irqspec")
    lines = text.splitlines()
    assert lines[0] == MARKER
    assert lines[1] == "# spec: ../specs/lost_irq.irqspec"
    assert lines[2] == "# source_hash: sha256:0123"
    # above each step function: the spec line and the step's text
    at = lines.index("    def step_cpu__ack(s, i):")
    assert lines[at - 2] == "    # specs/lost_irq.irqspec:20: cpu.ack  [idle]"
    assert lines[at - 1] == "    # ack = gic_read_iar()"


def test_generated_module_imports_only_the_standard_library() -> None:
    text = generate(fx.lost_irq(), "x")
    imports = {line.split()[1] for line in text.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "argparse", "gc", "itertools", "json", "os", "random", "sys", "time"}


def test_names_that_mangle_alike_stay_apart_and_titles_stay_in_their_docstring() -> None:
    m = fx.counter()
    x = m.vars[0]
    twin = ir.Var("x.y", x.type, fx.n(1))
    other = ir.Var("x_y", x.type, fx.n(2))
    inc = m.agents[0].steps[0]
    bump = ir.Step("bump", 0, (ir.Assign(ir.VarRef(other), fx.n(0)), ir.Goto(0)), "x_y = 0")
    agent = ir.Agent("t", "thread", None, m.agents[0].locations, 0, (inc, bump))
    model = ir.Model(m.name, 'a """quoted""" \\ title', m.path, m.source_hash, m.params, m.enums,
                     (x, twin, other), (agent,), m.initially, m.properties)
    module = load_simulator(generate(model, model.path), "twins")
    assert "quoted" in (module.__doc__ or "")
    sim = module.Simulator()
    [(s, _)] = sim.successors(sim.initial_states()[0], "t", "bump")
    assert (sim.values(s)["x.y"], sim.values(s)["x_y"]) == (1, 0)


def test_unhandled_expression_kind_is_a_loud_error() -> None:
    class Strange:  # not an IR node
        pass

    m = fx.counter()
    bad = ir.Property("odd", "invariant", Strange(), None)  # type: ignore[arg-type]
    model = ir.Model(m.name, m.title, m.path, m.source_hash, m.params, m.enums, m.vars, m.agents, m.initially,
                     (*m.properties, bad))
    with pytest.raises(UnsupportedIR, match="Strange"):
        generate(model, "x")


def test_a_path_without_goto_is_a_loud_error() -> None:
    m = fx.counter()
    step = ir.Step("stop", 0, (ir.Assume(fx.b(True), "when"),), "stop")
    agent = ir.Agent("t", "thread", None, m.agents[0].locations, 0, (step,))
    model = ir.Model(m.name, m.title, m.path, m.source_hash, m.params, m.enums, m.vars, (agent,), (), ())
    with pytest.raises(UnsupportedIR, match="does not end in a Goto"):
        generate(model, "x")


# --------------------------------------------------------------------------- semantics


def test_initial_states_enumerate_free_vars_and_filter_by_initially(lost: ModuleType) -> None:
    sim = lost.Simulator({"CPUS": 3})
    inits = sim.initial_states()
    # its.target is free over 0..CPUS-1; `initially` (target >= 0) keeps all three
    assert sorted(sim.values(s)["its.target"] for s in inits) == [0, 1, 2]
    assert all(sim.is_initial(s) for s in inits)


def test_layout_follows_params(lost: ModuleType) -> None:
    two, three = lost.Simulator(), lost.Simulator({"CPUS": 3})
    # one more pending bit, cpu.state element and pc
    assert len(three.initial_states()[0]) == len(two.initial_states()[0]) + 3
    assert three.instances == ["cpu[0]", "cpu[1]", "cpu[2]", "dev", "adm"]


def test_a_failed_range_check_leaves_no_successor() -> None:
    sim = sim_module(fx.counter(1)).Simulator()
    s0 = sim.initial_states()[0]
    [(s1, ok)] = sim.successors(s0, "t", "inc")
    assert ok is None and sim.values(s1)["x"] == 1
    [(s2, props)] = sim.successors(s1, "t", "inc")
    assert props == ("in_range",) and s2 is None
    assert sim.enabled(s1) == [("t", "inc")]  # it does something: it violates in_range


def test_choose_with_where_yields_one_successor_per_allowed_value(lost: ModuleType) -> None:
    sim = lost.Simulator({"CPUS": 3})
    s = next(s for s in sim.initial_states() if sim.values(s)["its.target"] == 0)
    [(locked, _)] = sim.successors(s, "adm", "lock")
    assert sim.values(locked)["desc.lock"] == 4  # adm's global instance id
    moved = sim.successors(locked, "adm", "move")
    assert sorted(sim.values(t)["its.target"] for t, _ in moved) == [1, 2]


def test_enabled_and_violated(lost: ModuleType) -> None:
    sim = lost.Simulator()
    s = sim.initial_states()[0]
    assert sim.enabled(s) == [("dev", "fire"), ("adm", "lock")]
    assert sim.violated(s) == []
    assert sim.successors(s, "cpu[0]", "ack") == []  # not enabled: nothing pending


def test_explore_shortest_violations(lost: ModuleType) -> None:
    res = lost.Simulator().explore()
    assert res.complete
    assert {p: d for p, (d, _) in res.violations.items()} == {"LOST": 10, "BOUND": 6}
    depth, path = res.violations["BOUND"]
    assert len(path) == depth + 1 and path[-1][0] == path[-2][0]  # the aborted step repeats its pre-state


def test_explore_fixed_model_and_params() -> None:
    res = sim_module(fx.lost_irq(fixed=True)).Simulator().explore()
    assert "LOST" not in res.violations and res.complete
    res = sim_module(fx.counter()).Simulator({"TOP": 5}).explore()
    assert {p: d for p, (d, _) in res.violations.items()} == {"SMALL": 5, "in_range": 6}


def test_explore_max_states_is_honest(lost: ModuleType) -> None:
    res = lost.Simulator().explore(max_states=20)
    assert not res.complete and res.states <= 20 + 10


def test_a_check_the_property_list_omits_is_still_reported() -> None:
    m = fx.lost_irq()
    model = ir.Model(m.name, m.title, m.path, m.source_hash, m.params, m.enums, m.vars, m.agents, m.initially,
                     tuple(p for p in m.properties if p.name != "BOUND"))
    sim = sim_module(model).Simulator()
    assert [p.name for p in sim.properties][-1] == "BOUND"
    assert sim.explore().violations["BOUND"][0] == 6


def test_unknown_param_is_an_error(lost: ModuleType) -> None:
    with pytest.raises(lost.SimulatorError, match="unknown parameter 'CPU'"):
        lost.Simulator({"CPU": 3})


# --------------------------------------------------------------------------- traces and replay


def explore_trace(sim: Any, prop: str) -> dict[str, Any]:
    depth, path = sim.explore().violations[prop]
    doc: dict[str, Any] = sim.trace(path, prop, depth)
    return doc


@pytest.mark.parametrize("prop", ["LOST", "BOUND"])
def test_replay_of_own_trace(lost: ModuleType, prop: str) -> None:
    sim = lost.Simulator()
    doc = json.loads(json.dumps(explore_trace(sim, prop)))  # through JSON, as from a file
    res = sim.replay(doc)
    assert res.ok and res.property == prop and res.steps == doc["#meta"]["violated_at"]


def test_replay_reports_first_disagreement(lost: ModuleType) -> None:
    sim = lost.Simulator()
    doc = explore_trace(sim, "LOST")
    doc["states"][3]["desc.inprogress"] = not doc["states"][3]["desc.inprogress"]
    res = sim.replay(doc)
    assert not res.ok and res.steps == 3 and "desc.inprogress" in res.problem


def test_table_matches_compiler_trace_renderer(lost: ModuleType) -> None:
    sim = lost.Simulator()
    for prop in ("LOST", "BOUND"):
        doc = explore_trace(sim, prop)
        assert lost.render_table(doc) == render_table(from_itf(doc))


# --------------------------------------------------------------------------- the program


def test_program_runs_isolated(tmp_path: Path) -> None:
    path = write_module(tmp_path, fx.lost_irq())
    out = run_program(path, "explore")
    assert out.returncode == 1, out.stderr
    assert "LOST (invariant): violated at depth 10" in out.stdout
    assert "deadlock (deadlock): holds" in out.stdout

    out = run_program(path, "run", "--seed", "3", "--steps", "12", "--param", "CPUS=3")
    assert out.returncode in (0, 1), out.stderr
    assert out.stdout.splitlines()[1].startswith("step | cpu[0]") and "cpu[2]" in out.stdout


def test_program_explore_then_replay(tmp_path: Path) -> None:
    path = write_module(tmp_path, fx.lost_irq())
    run_program(path, "explore", "--trace-out", str(tmp_path / "traces"))
    trace = tmp_path / "traces" / "lost_irq.LOST.itf.json"
    out = run_program(path, "replay", str(trace))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "LOST (invariant) is violated at step 10" in out.stdout

    doc = json.loads(trace.read_text())
    doc["states"][2]["#meta"]["step"] = "exit"
    trace.write_text(json.dumps(doc))
    out = run_program(path, "replay", str(trace))
    assert out.returncode == 1 and "DISAGREES at step 2" in out.stdout


def test_program_complete_search_says_so(tmp_path: Path) -> None:
    path = write_module(tmp_path, fx.lost_irq(fixed=True, budget_check=False))
    out = run_program(path, "explore")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "every property holds in every reachable state of this instance" in out.stdout
    out = run_program(path, "explore", "--max-states", "10")
    assert out.returncode == 3 and "not a proof" in out.stdout


@pytest.mark.parametrize("args", [["run", "--param", "CPUS"], ["run", "--param", "NOPE=1"],
                                  ["replay", "missing.json"]])
def test_program_bad_input_has_no_traceback(tmp_path: Path, args: list[str]) -> None:
    out = run_program(write_module(tmp_path, fx.lost_irq()), *args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and out.stderr.startswith("error: ")


# --------------------------------------------------------------------------- initial states: pruned = product


def _plain_initial_states(sim: Any) -> list[tuple[int, ...]]:
    """The definition: every value of every free slot, in product order, kept when `initially` holds."""
    import itertools
    base = [0] * sim.layout.size
    free = []
    for v in sim.layout.vars:
        for k in range(v.base, v.base + v.size):
            if v.init is None:
                free.append((k, range(v.lo, v.hi + 1)))
            else:
                base[k] = v.init
    for _, agent, _, slot in sim.layout.instances:
        base[slot] = agent.initial
    out = []
    for values in itertools.product(*(dom for _, dom in free)):
        for (k, _), x in zip(free, values):
            base[k] = x
        if sim.initially(tuple(base)):
            out.append(tuple(base))
    return out


def _loaded(path: Path, params: dict[str, int]) -> Any:
    from compiler.pipeline import load_model
    from dsl.diagnostics import Diagnostics
    diags = Diagnostics()
    model = load_model(str(path), params, diags)
    assert model is not None, diags.items
    return sim_module(model).Simulator(params)


SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.irqspec"))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_pruned_initial_states_are_the_product_filtered_in_order(path: Path) -> None:
    sim = _loaded(path, {})
    assert sim.initial_states() == _plain_initial_states(sim)


def test_pruned_initial_states_of_random_specs(tmp_path: Path) -> None:
    from tests.specgen import generate as random_spec
    checked = 0
    for seed in range(60):
        spec = tmp_path / f"r{seed}.irqspec"
        spec.write_text(random_spec(seed, f"r{seed}"))
        sim = _loaded(spec, {})
        plain = _plain_initial_states(sim)
        assert sim.initial_states() == plain, seed
        checked += len(plain) > 1
    assert checked >= 10  # the specs did have free vars to choose


MANY = """spec many;
param CPUS = 2;
var x: 0..99 = any;
var y: 0..99 = any;
initially x <= y;
thread t { x = y; }
invariant ok: x <= y;
"""


def test_initial_states_stop_when_asked(tmp_path: Path) -> None:
    spec = tmp_path / "many.irqspec"
    spec.write_text(MANY)
    sim = _loaded(spec, {})
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) == 3

    with pytest.raises(sim.SearchStopped):
        sim.initial_states(stop)
    assert len(asked) == 3  # asked every 1024 choices of the 10,100 (100 for x, 100 y's each)
    assert len(sim.initial_states()) == 5050
    sim.watch = lambda states, depth: True  # the search's own hook stops it there too
    result = sim.explore()
    assert (result.states, result.bound, result.complete) == (0, -1, False)
