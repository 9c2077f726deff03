"""Dead variable reduction (compiler/liveness.py, docs/prove.md "Reductions"): which variables
the analysis finds dead where, and that storing states with them reset changes nothing but the
state count: the same verdicts, depths and concrete, replayable traces, in both searches."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler import engine, ir, liveness
from compiler.backends.c import driver, search
from compiler.backends.c.generate import generate as generate_c
from compiler.backends.python import generate, load_simulator
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics
from tests import specgen
from tests.test_c_search import reduced_differences

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def _model(path: Path, params: dict[str, int] | None = None) -> ir.Model:
    diags = Diagnostics()
    m = load_model(str(path), params or {}, diags)
    assert m is not None, diags
    return m


def _spec(tmp_path: Path, body: str) -> ir.Model:
    p = tmp_path / "s.irqspec"
    p.write_text(f"spec s;\nparam CPUS = 2;\n{body}")
    return _model(p)


def _dead(m: ir.Model) -> dict[str, tuple[bool, dict[str, list[str]]]]:
    """var -> (a row?, agent -> the names of the locations where it is dead for that agent)."""
    return {d.var.name: (d.row, {a: sorted(m.agent(a).locations[k].name for k in locs) for a, locs in d.where})
            for d in liveness.analyse(m)}


# --------------------------------------------------------------------------- the analysis

HANDLER = """
var pending: bool[cpu] = false;
var seen: 0..3 = 0;
device dev {
  var outstanding: bool = false;
  step fire { outstanding = true; pending[0] = true; }
}
cpu c {
  var got: bool = false;     // claimed in one step, read in a later one: live in between
  var scratch: 0..3 = 0;     // written and read within one step: dead everywhere
  var hist: bool[0..1] = false; // only one element written: never killed
  for (;;) {
  idle:
    atomic { await (pending[c]); pending[c] = false; got = true; scratch = seen; seen = scratch; hist[0] = got; }
    dev.outstanding = false;
    yield;
    if (got && !hist[1])
      seen = 1;
    PEEK
  }
}
invariant no_lost_interrupt: quiescent ==> !dev.outstanding;
"""


def test_a_claim_read_in_a_later_step_is_live_until_read(tmp_path: Path) -> None:
    m = _spec(tmp_path, HANDLER.replace("PEEK", ""))
    idle, shared, yielded, after = (loc.name for loc in m.agent("cpu").locations)  # the claim, two steps, the read
    dead = _dead(m)
    assert dead["cpu.scratch"] == (True, {"cpu": sorted([idle, shared, yielded, after])})  # read where written
    assert dead["cpu.got"] == (True, {"cpu": sorted([idle, after])})  # the step after the yield reads it
    assert "cpu.hist" not in dead  # hist[0] = ... kills no element, and hist[1] is read
    assert dead["seen"] == (False, {"cpu": [after]})  # the next step writes it; only where every CPU is there
    assert "dev.outstanding" not in dead and "pending" not in dead  # a property, a guard read them


@pytest.mark.parametrize("extra, peek, why", [
    ("", "thread watcher { seen = cpu[1].got ? 1 : 0; }", "another agent reads it"),
    ("", "invariant peek: cpu[0].got || !cpu[0].got;", "a property reads it"),
    ("seen = cpu[0].got ? 1 : 0;", "", "an instance reads another's row"),
])
def test_what_another_agent_a_property_or_another_row_reads_is_no_row(tmp_path: Path, extra: str, peek: str,
                                                                       why: str) -> None:
    dead = _dead(_spec(tmp_path, HANDLER.replace("PEEK", extra) + peek + "\n"))
    assert dead["cpu.scratch"][0], why  # still a row, dead everywhere
    assert "cpu.got" not in dead or not dead["cpu.got"][0], why
    if why == "another agent reads it":  # dead where both stand: the watcher never writes it
        assert dead.get("cpu.got") is None


def test_a_shared_variable_is_dead_where_every_agent_mentioning_it_is(tmp_path: Path) -> None:
    body = HANDLER.replace("PEEK", "") + "thread mover { req = 1; seen = req; req = 2; }\nvar req: 0..3 = 0;\n"
    m = _spec(tmp_path, body)
    first, second, third, end = (loc.name for loc in m.agent("mover").locations)
    assert _dead(m)["req"] == (False, {"mover": sorted([first, third, end])})  # read by the step from second


def test_a_ghost_steers_nothing_and_feeds_only_its_properties(tmp_path: Path) -> None:
    ghosts = {g.var.name: g.props for g in liveness.ghosts(_spec(tmp_path, HANDLER.replace("PEEK", "")))}
    # dev.outstanding feeds no_lost_interrupt alone; seen and scratch feed only each other
    assert ghosts == {"dev.outstanding": ("no_lost_interrupt",), "seen": (), "cpu.scratch": ()}
    (tmp_path / "awaits").mkdir()
    steered = _spec(tmp_path / "awaits", HANDLER.replace("PEEK", "await (seen != 3);"))  # a guard reads seen
    assert {g.var.name for g in liveness.ghosts(steered)} == {"dev.outstanding"}  # and seen = scratch


@pytest.mark.parametrize("bump, ghost", [
    ("atomic { if (cnt <= 2) cnt += 1; }", True),   # saturating: lowering's range check cannot fail
    ("atomic { cnt += 1; }", False),                # it can: a path may end there, which steers the run
    ("atomic { if (cnt <= 3) cnt += 1; }", False),  # off by one: the check can fail at 3
])
def test_a_range_check_the_branch_implies_does_not_steer(tmp_path: Path, bump: str, ghost: bool) -> None:
    body = HANDLER.replace("PEEK", bump + "\n    assert small: cnt <= 2;") + "var cnt: 0..3 = 0;\n"
    ghosts = {g.var.name: g.props for g in liveness.ghosts(_spec(tmp_path, body))}
    assert (ghosts.get("cnt") == ("small",)) == ghost, ghosts


def test_the_generated_simulator_carries_the_tables() -> None:
    m = _model(SPECS / "imsic_naive_move.irqspec")
    sim = load_simulator(generate(m, m.path), m.name).Simulator({"CPUS": 2})
    pcs = {slot for _, _, _, slot in sim.layout.instances}
    tables = sim.dead_tables()
    assert tables and all(pc in pcs for conds, _, _ in tables for pc, _ in conds)


# --------------------------------------------------------------------------- soundness


def _verdicts(res: Any) -> tuple[bool, dict[str, int]]:
    return res.complete, {p: d for p, (d, _) in res.violations.items()}


def _same_with_and_without(mod: Any, params: dict[str, int], symmetry: bool = False,
                           max_states: int | None = None) -> tuple[int, int]:
    """Explore with and without the reduction: the same verdicts and depths, and every trace of
    the reduced search replays in a fresh simulator.  Returns the state counts (plain, reduced)."""
    plain = mod.Simulator(params).explore(max_states, None, symmetry=symmetry)
    sim = mod.Simulator(params)
    reduced = sim.explore(max_states, None, symmetry=symmetry, dead=True)
    assert _verdicts(reduced) == _verdicts(plain)
    for prop, (depth, path) in reduced.violations.items():
        assert len(path) == depth + 1
        replay = mod.Simulator(params).replay(sim.trace(path, prop, depth))
        assert replay.ok and replay.property == prop and replay.steps == depth, (prop, replay.problem)
    # Not fewer states, always: a ghost is reset only in the layers after its properties are
    # violated, and a state met before keeps its own key.
    assert reduced.dead == bool(sim.dead_tables(symmetry))
    return plain.states, reduced.states


def _random_models(tmp_path: Path, cpus: int | None, seeds: range) -> Any:
    for seed in seeds:
        text = specgen.generate(seed)
        if cpus is not None and "param CPUS = 2;" not in text:
            continue
        (tmp_path / str(seed)).mkdir()
        path = tmp_path / str(seed) / "fuzz.irqspec"  # a spec's file is named after it
        path.write_text(text)
        m = load_model(str(path), {} if cpus is None else {"CPUS": cpus}, Diagnostics())
        if m is not None and liveness.analyse(m):
            yield seed, m, {**ir.default_params(m), **({} if cpus is None else {"CPUS": cpus})}


def test_random_specs_same_verdicts_depths_and_replayable_traces(tmp_path: Path) -> None:
    """Random specs (tests/specgen.py) with a private variable dead somewhere: the reduction
    changes nothing but the state count."""
    reduced = 0
    for seed, m, params in _random_models(tmp_path, None, range(300)):
        mod = load_simulator(generate(m, m.path), m.name)
        if not mod.Simulator(params).explore(30_000).complete:
            continue
        plain, fewer = _same_with_and_without(mod, params)
        reduced += fewer < plain
        if reduced == 20:
            break
    assert reduced == 20  # the test is not vacuous


def test_random_specs_with_the_cpu_symmetry(tmp_path: Path) -> None:
    """The same at 3 CPUs where a constant CPU id leaves two to swap: reset, then the least image."""
    checked = 0
    for seed, m, params in _random_models(tmp_path, 3, range(1000)):
        mod = load_simulator(generate(m, m.path), m.name)
        if len(mod.Simulator(params).symmetry_group()) < 2 or not mod.Simulator(params).explore(30_000).complete:
            continue
        _same_with_and_without(mod, params, symmetry=True)
        checked += 1
        if checked == 3:
            break
    assert checked == 3


@pytest.mark.parametrize("spec, cpus", [("imsic_naive_move", 2), ("imsic_move_timer_wrong_cpu", 2),
                                        ("gicv3_its_fasteoi", 3)])
def test_shipped_specs_same_verdicts_depths_and_replayable_traces(spec: str, cpus: int) -> None:
    m = _model(SPECS / f"{spec}.irqspec", {"CPUS": cpus})
    mod = load_simulator(generate(m, m.path), m.name)
    plain, reduced = _same_with_and_without(mod, {**ir.default_params(m), "CPUS": cpus}, symmetry=cpus > 2)
    assert reduced < plain


# --------------------------------------------------------------------------- the compiled search


def _c_differences(m: ir.Model, params: dict[str, int], max_states: int, symmetry: bool,
                   opt: str = driver.OPT) -> list[str] | None:
    """What the Python and compiled searches with the reduction disagree on: the states, their
    order, the violations and the traces must all be the same (with the CPU symmetry too, where
    the spec has a group at these parameters)."""
    sym = symmetry and len(load_simulator(generate(m, m.path), m.name).Simulator(params).symmetry_group()) > 1
    return reduced_differences(m, params, max_states, opt, symmetry=sym, dead=True)


@pytest.mark.parametrize("spec, cpus", [("imsic_naive_move", 2), ("imsic_naive_move", 3),
                                        ("imsic_hotplug_force_complete", 2), ("x86_msi_set_affinity", 3)])
def test_the_compiled_search_resets_what_the_python_search_resets(spec: str, cpus: int) -> None:
    """The same states in the same order, violations and traces (S4 at 3 CPUs and the x86 spec
    also reduce by the CPU symmetry, the x86 one tangled; the larger ones are cut at 60,000)."""
    m = _model(SPECS / f"{spec}.irqspec", {"CPUS": cpus})
    assert _c_differences(m, {**ir.default_params(m), "CPUS": cpus}, 60_000, symmetry=True) == []


def test_random_specs_compiled_and_python_agree(tmp_path: Path) -> None:
    checked = 0
    for seed, m, params in _random_models(tmp_path, None, range(200)):
        assert _c_differences(m, params, 20_000, symmetry=False, opt="-O0") == [], f"seed {seed}"
        checked += 1
        if checked == 10:
            break
    assert checked == 10


def test_the_engine_names_the_reduction_and_finds_the_same_verdicts() -> None:
    m = _model(SPECS / "imsic_naive_move.irqspec")
    params = ir.default_params(m)
    on = engine.check(m, params, search_with="c")
    off = engine.check(m, params, search_with="c", dead="off")
    def settled(rs: list[Any]) -> list[tuple[str, str, int | None]]:  # a proof's depth is the search's diameter
        return [(r.property, r.verdict, r.depth if r.verdict in ("violated", "covered") else None) for r in rs]
    assert settled(on) == settled(off)
    proved = [r.method for r in on if r.verdict in ("proved", "unreachable")]
    assert proved and all(x.endswith("states up to dead variables") for x in proved), proved
    assert all("dead" not in r.method for r in off)


SHIPPED = sorted(p.stem for p in SPECS.glob("*.irqspec"))


@pytest.mark.parametrize("spec", SHIPPED)
def test_every_shipped_spec_same_violations_with_and_without(spec: str) -> None:
    """Every shipped spec at CPUS=2, the compiled search with and without the reduction (the
    CPU symmetry on in both), each cut at 40,000 states: every violation either meets within
    the depth both covered is met by both at the same depth, and a search both finish proves
    the same properties."""
    m = _model(SPECS / f"{spec}.irqspec")
    params = ir.default_params(m)
    sim = load_simulator(generate(m, m.path), m.name).Simulator(params)
    sym = len(sim.symmetry_group()) > 1
    runs = [search.run(generate_c(m, params, sim.symmetry_tables() if sym else None,
                                  sim.dead_tables(sym) if dead else None), sim, 40_000, None, opt="-O0")
            for dead in (False, True)]
    kept, reset = runs
    assert reset.dead == bool(sim.dead_tables(sym)) and not kept.dead
    both = min(r.depth if r.complete else r.bound for r in runs) + 1  # a check fails on the step after
    assert {p: d for p, (d, _) in kept.violations.items() if d <= both} == \
        {p: d for p, (d, _) in reset.violations.items() if d <= both}
    if kept.complete:
        assert reset.complete and set(kept.violations) == set(reset.violations)
