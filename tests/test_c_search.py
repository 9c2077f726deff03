"""The compiled search (compiler/backends/c) against the Python simulator's search, the reference.

Both must meet the same states in the same order, so they agree exactly: completeness, the
number of states, the depth and the bound, every violated property's depth and path (hence
identical traces), and the sequence of states met (`reached`, which the coverage scan reads).
Checked on every shipped spec at CPUS=2 and on S1-S3 at CPUS=3 (the larger instances on a
search cut at the same number of states: cuts by --max-states are deterministic too), on 100
random specs (tests/specgen.py), and through `engine.check` with traces confirmed by Z3.
"""
from __future__ import annotations

import ast
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from dataclasses import replace

from compiler import engine, ir, limits
from compiler.backends.c import UnsupportedC, driver, generate, layout, search
from compiler.backends.python import generate as generate_simulator
from compiler.backends.python import load_simulator
from compiler.coverage import Scan, scan
from compiler.pipeline import load_model
from compiler.trace import to_itf
from dsl.diagnostics import Diagnostics
from tests import py_irfixtures as fx
from tests.specgen import generate as random_spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.irqspec"))
SMALL = ("gicv3_its_fasteoi", "fasteoi_rerun_loop", "fasteoi_resend")  # S1-S3, also at CPUS=3
CASES = [(p, 2) for p in SPECS] + [(p, 3) for p in SPECS if p.stem in SMALL]
MAX_STATES = 120_000  # S4-S6 at CPUS=2 and S2 at CPUS=3 are cut here, keeping the test short
RANDOM = int(os.environ.get("IRQC_C_RANDOM_N", "100"))

pytestmark = pytest.mark.skipif(driver.compiler() is None, reason="no C compiler (cc, gcc or clang) on this machine")


def load(path: Path, cpus: int | None = None) -> tuple[ir.Model, dict[str, int]]:
    overrides = {} if cpus is None else {"CPUS": cpus}
    diags = Diagnostics()
    model = load_model(str(path), overrides, diags)
    assert model is not None and not diags.items, path
    return model, {**ir.default_params(model), **overrides}


def simulator(model: ir.Model, params: dict[str, int]) -> Any:
    return load_simulator(generate_simulator(model, model.path), model.name).Simulator(params)


def differences(model: ir.Model, params: dict[str, int], max_states: int, opt: str = driver.OPT) -> list[str]:
    """Everything the two searches disagree on (empty: nothing)."""
    sim = simulator(model, params)
    py = sim.explore(max_states)
    c = search.run(generate(model, params), sim, max_states, None, opt=opt)
    out = [f"{what}: python {a}, C {b}" for what, a, b in (
        ("complete", py.complete, c.complete), ("states", py.states, c.states), ("depth", py.depth, c.depth),
        ("bound", py.bound, c.bound), ("violated", sorted(py.violations), sorted(c.violations))) if a != b]
    for prop in sorted(set(py.violations) & set(c.violations)):
        (d1, path1), (d2, path2) = py.violations[prop], c.violations[prop]
        if d1 != d2:
            out.append(f"{prop}: depth python {d1}, C {d2}")
        elif sim.trace(path1, prop, d1) != sim.trace(path2, prop, d2):
            out.append(f"{prop}: the traces differ")
    py_states, c_states = list(py.reached), list(c.reached)
    if not out and py_states != c_states:
        out.append("the states were met in a different order")
    if not out and c.complete:
        # The steps a complete compiled search saw taken stand in for the scan's own look.
        mine, theirs = scan(model, params, sim, c_states, True, c.taken), scan(model, params, sim, py_states, True)
        if found(mine) != found(theirs):
            out.append(f"the coverage differs: {mine} against {theirs}")
    return out


def found(s: Scan) -> tuple[object, ...]:
    """What a scan established (not how many states it read to establish it)."""
    return s.coverage.steps, s.coverage.never_taken, s.coverage.complete, s.vacuous


@pytest.mark.parametrize("path,cpus", CASES, ids=[f"{p.stem}-CPUS={n}" for p, n in CASES])
def test_shipped_specs_agree(path: Path, cpus: int) -> None:
    model, params = load(path, cpus)
    assert differences(model, params, MAX_STATES) == []


def test_random_specs_agree(tmp_path: Path) -> None:
    """Random valid specs, compiled at -O0 (the semantics are the C's, not the optimiser's), two
    compiles at a time. The specs are loaded here, in one thread: loading asks Z3 (the initial-state
    check), and Z3's shared context must not be used from two threads at once (it aborted in CI)."""
    loaded = []
    for seed in range(RANDOM):
        folder = tmp_path / str(seed)
        folder.mkdir()
        spec = folder / "fuzz.irqspec"
        spec.write_text(random_spec(seed))
        loaded.append((seed, *load(spec)))

    def one(case: tuple[int, ir.Model, dict[str, int]]) -> list[str]:
        seed, model, params = case
        try:
            return [f"seed {seed}: {d}" for d in differences(model, params, 20_000, "-O0")]
        except Exception as e:  # noqa: BLE001 - any failure is a finding, reported with its seed
            return [f"seed {seed}: {type(e).__name__}: {e}"]

    with ThreadPoolExecutor(2) as pool:
        problems = [p for found in pool.map(one, loaded) for p in found]
    assert problems == []


def test_engine_gives_the_same_results_and_traces() -> None:
    """Through irqc prove's engine, with every counterexample confirmed by Z3: S2 has two violations."""
    model, params = load(ROOT / "specs" / "fasteoi_rerun_loop.irqspec")
    a = engine.check(model, params, search_with="python")
    b = engine.check(model, params, search_with="c")
    assert [(r.property, r.verdict, r.depth, r.method) for r in a] == [(r.property, r.verdict, r.depth, r.method)
                                                                       for r in b]
    assert [to_itf(r.trace) if r.trace else None for r in a] == [to_itf(r.trace) if r.trace else None for r in b]
    assert any(r.verdict == "violated" for r in b)


def reduced_differences(model: ir.Model, params: dict[str, int], max_states: int, opt: str = driver.OPT, *,
                        symmetry: bool = True, dead: bool = False) -> list[str] | None:
    """What the two searches with the reductions asked for (the CPU symmetry, the dead variables
    and ghosts) disagree on; None: the symmetry was asked for where no CPU may move."""
    sim = simulator(model, params)
    tables = sim.symmetry_tables() if symmetry else None
    if symmetry and tables is None:
        return None
    py = sim.explore(max_states, symmetry=symmetry, dead=dead)
    c = search.run(generate(model, params, tables, sim.dead_tables(symmetry) if dead else None), sim, max_states,
                   None, opt=opt)
    out = [f"{what}: python {a}, C {b}" for what, a, b in (
        ("complete", py.complete, c.complete), ("states", py.states, c.states), ("depth", py.depth, c.depth),
        ("bound", py.bound, c.bound), ("group", py.symmetry, c.symmetry), ("dead", py.dead, c.dead),
        ("violations", {p: d for p, (d, _) in py.violations.items()}, {p: d for p, (d, _) in c.violations.items()}))
        if a != b]
    for prop in sorted(set(py.violations) & set(c.violations)):
        (d1, path1), (d2, path2) = py.violations[prop], c.violations[prop]
        if sim.trace(path1, prop, d1) != sim.trace(path2, prop, d2):
            out.append(f"{prop}: the traces differ")
    if not out and list(py.reached) != list(c.reached):
        out.append("the states kept were met in a different order")
    return out


SYMMETRIC = [("fasteoi_resend", 3), ("gicv3_its_fasteoi", 3), ("fasteoi_rerun_loop", 3), ("fasteoi_resend", 4),
             ("x86_msi_set_affinity", 3), ("x86_msi_set_affinity_as_coded", 3),  # the x86 pair: tangled
             ("imsic_naive_move", 3), ("imsic_move_timer_wrong_cpu", 3)]  # CPUS for "on no CPU"


@pytest.mark.parametrize("name,cpus", SYMMETRIC, ids=[f"{n}-CPUS={c}" for n, c in SYMMETRIC])
def test_symmetry_reduced_searches_agree(name: str, cpus: int) -> None:
    """The compiled search keeps the Python search's representative of each orbit, in its order:
    the same states, violations and concrete traces (S2 at 3 and S3 at 4 CPUs are cut at the cap)."""
    model, params = load(ROOT / "specs" / f"{name}.irqspec", cpus)
    assert reduced_differences(model, params, MAX_STATES) == []


def test_symmetry_reduced_random_specs_agree(tmp_path: Path) -> None:
    """Random specs at 3 CPUs whose group is not trivial (a constant CPU id leaves two to swap)."""
    checked = 0
    for seed in range(1000):
        text = random_spec(seed)
        if "param CPUS = 2;" not in text:
            continue
        (tmp_path / str(seed)).mkdir()
        spec = tmp_path / str(seed) / "fuzz.irqspec"
        spec.write_text(text)
        diags = Diagnostics()
        model = load_model(str(spec), {"CPUS": 3}, diags)
        if model is None:
            continue  # a constant CPU id of the spec may not fit 3 CPUs' types
        params = {**ir.default_params(model), "CPUS": 3}
        if not simulator(model, params).symmetry_group():
            continue
        found = reduced_differences(model, params, 20_000, "-O0")
        assert found == [], f"seed {seed}"
        checked += 1
        if checked == 12:
            break
    assert checked >= 10  # the test is not vacuous


TANGLED = {
    # CPU ids in an array indexed by cpu, and a violation whose trace is compared
    "tangled": "param CPUS = 3;\nvar peer: cpu[cpu] = 0;\nvar hits: 0..2 = 0;\n"
               "cpu c { for (;;) { idle: peer[smp_processor_id()] = any cpu;\n"
               "  work: if (peer[peer[smp_processor_id()]] == smp_processor_id() && hits < 2) { hits = hits + 1; } } }\n"
               "invariant few: hits < 2;\n",
    # two cpu indices over signed cells: the packed bytes order -1 (0xff) after 0 and 1
    "tangled_signed": "param CPUS = 3;\ntype sgn = (0 - 1)..1;\nvar m: sgn[cpu][cpu] = 0;\nvar pick: cpu[cpu] = 0;\n"
                      "cpu c { for (;;) { idle: pick[smp_processor_id()] = any cpu;\n"
                      "  m[smp_processor_id()][pick[smp_processor_id()]] = 0 - 1;\n"
                      "  work: m[pick[smp_processor_id()]][smp_processor_id()] = 1; } }\n",
}


@pytest.mark.parametrize("name,cpus", [("tangled", 3), ("tangled", 4), ("tangled_signed", 3)])
def test_a_tangled_spec_keeps_the_least_packed_image(tmp_path: Path, name: str, cpus: int) -> None:
    """CPU ids held in an array indexed by cpu (or two cpu indices): among CPUs whose own cells
    tie, the least image as the simulator's packed bytes, as its search keeps it (the same
    states, in the same order, and the same concrete traces)."""
    spec = tmp_path / f"{name}.irqspec"
    spec.write_text(f"spec {name};\n" + TANGLED[name])
    model, params = load(spec, cpus)
    sim = simulator(model, params)
    tables = sim.symmetry_tables()
    assert tables is not None and tables[5]  # tangled
    assert reduced_differences(model, params, MAX_STATES) == []


def test_the_default_cap_is_sized_from_the_memory_available(monkeypatch: pytest.MonkeyPatch) -> None:
    """3.5 GiB (or half the memory available, if less) at packed bytes + 12 B a state (parent
    link, action, hash slot); never below the old fixed cap, whatever /proc/meminfo says."""
    model, params = load(ROOT / "specs" / "imsic_move_intermediate.irqspec", 3)
    program = generate(model, params)
    assert program.state_bytes == 26  # 141 cells, 203 bits, packed
    assert program.link_bytes == 6  # a 4-byte parent, a 2-byte action
    per_state = 26 + 6 + search.TABLE_BYTES
    monkeypatch.setattr(limits, "meminfo", lambda: (64 * 2**30, 128 * 2**30))
    assert search.memory_cap(program) == search.MEMORY_BUDGET // per_state > 56_790_700  # S6's states at CPUS=3
    monkeypatch.setattr(limits, "meminfo", lambda: None)
    assert search.memory_cap(program) == search.MEMORY_BUDGET // per_state
    monkeypatch.setattr(limits, "meminfo", lambda: (4 * 2**30, 8 * 2**30))
    assert search.memory_cap(program) == 2 * 2**30 // per_state
    monkeypatch.setattr(limits, "meminfo", lambda: (2**29, 2**30))
    assert search.memory_cap(program) == search.MIN_DEFAULT_CAP


def test_steps_taken_decide_coverage() -> None:
    """The comparison above can fail: a compiled search that reported no step taken would make
    every step of S3 "never taken"."""
    model, params = load(ROOT / "specs" / "fasteoi_resend.irqspec")
    sim = simulator(model, params)
    c = search.run(generate(model, params), sim, None, None)
    assert c.complete and c.taken
    states = list(c.reached)
    assert found(scan(model, params, sim, states, True, c.taken)) == found(scan(model, params, sim, states, True))
    nothing = scan(model, params, sim, states, True, frozenset())
    assert nothing.coverage.taken == 0 and nothing.coverage.steps > 0


def test_a_path_the_simulator_does_not_take_is_a_disagreement() -> None:
    model, params = load(ROOT / "specs" / "gicv3_its_fasteoi.irqspec")
    sim = simulator(model, params)
    c = search.run(generate(model, params), sim, None, None)
    prop, (depth, path) = next(iter(c.violations.items()))
    raw: list[list[Any]] = [[aid, list(s)] for s, aid in path]
    search._replayed(sim, prop, depth, raw)  # the real path replays
    wrong_action = [raw[0], [path[1][1] + 1 if path[1][1] is not None else 0, raw[1][1]]] + raw[2:]
    with pytest.raises(search.Disagreement, match="step 1"):
        search._replayed(sim, prop, depth, wrong_action)
    with pytest.raises(search.Disagreement, match="initial"):
        search._replayed(sim, prop, depth, [[None, raw[1][1]]] + raw[1:])


def test_the_program_is_cached_by_its_source() -> None:
    model, params = load(ROOT / "specs" / "fasteoi_resend.irqspec")
    program = generate(model, params)
    with driver.build(program.source) as first:
        pass
    with driver.build(program.source) as second:
        assert second.cached and second.exe == first.exe and second.seconds == 0
    assert driver.cached(program.source) == first.exe


def test_an_unwritable_cache_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("IRQC_CACHE_DIR", str(blocker / "cache"))  # under a file: cannot be made
    model, params = load(ROOT / "specs" / "gicv3_its_fasteoi.irqspec")
    program = generate(model, params)
    with driver.build(program.source) as built:
        assert not built.cached and built.exe.is_file()
        exe = built.exe
    assert not exe.exists()  # the temporary build is gone


def test_read_only_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("IRQC_CACHE_DIR", str(folder))
    model, params = load(ROOT / "specs" / "gicv3_its_fasteoi.irqspec")
    sim = simulator(model, params)
    assert search.run(generate(model, params), sim, None, None).complete


def test_stopped_by_watch_reports_what_it_established() -> None:
    """`watch` saying stop (a signal, memory, the budget) ends the program with SIGUSR1; it then
    reports a cut search whose violations still replay, and the states it met (for the scan)."""
    model, params = load(ROOT / "specs" / "imsic_move_deferred_hotplug.irqspec")
    sim = simulator(model, params)
    seen: list[tuple[int, int]] = []

    def watch(states: int, depth: int) -> bool:
        seen.append((states, depth))
        return True

    c = search.run(generate(model, params), sim, None, None, watch)
    if not seen:
        pytest.skip("the search finished before its first progress line")
    assert not c.complete and c.stopped == "watch" and c.bound == c.depth
    assert c.states >= seen[0][0] and sum(1 for _ in c.reached) == c.states


def test_time_limit() -> None:
    model, params = load(ROOT / "specs" / "imsic_naive_move.irqspec")
    sim = simulator(model, params)
    c = search.run(generate(model, params), sim, None, 0.0)
    assert not c.complete and c.stopped == "timeout"


def test_engine_falls_back_when_asked_for_python(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_c(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the C search ran")

    monkeypatch.setattr(search, "run", no_c)
    model, params = load(ROOT / "specs" / "gicv3_its_fasteoi.irqspec")
    assert engine.explore(model, params, 100_000, None, "python").complete


def test_no_compiler_falls_back_with_a_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver, "compiler", lambda: None)
    notes: list[str] = []
    model, params = load(ROOT / "specs" / "gicv3_its_fasteoi.irqspec")
    result = engine.explore(model, params, 100_000, None, "c", notes.append)
    assert result.complete and result.states == 1384  # 2,729 with every variable kept (dead=False)
    assert notes and "no C compiler" in notes[0]


def test_c_backend_imports_neither_other_backend() -> None:
    for f in sorted((ROOT / "compiler" / "backends" / "c").rglob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any(m.startswith(("compiler.backends.python", "compiler.backends.z3", "z3")) for m in mods), f


def test_auto_races_the_python_search_against_the_compiler(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRQC_CACHE_DIR", str(tmp_path))  # nothing compiled yet
    model, params = load(ROOT / "specs" / "gicv3_its_fasteoi.irqspec")  # 2,729 states
    small = search.explore(model, params, simulator(model, params), 2_000_000, None, search="auto")
    assert not isinstance(small, search.CResult) and small.complete  # the Python search won
    assert driver.cached(generate(model, params).source) is None  # and the compile was dropped
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".build-")]
    model, params = load(ROOT / "specs" / "imsic_move_deferred_hotplug.irqspec")  # 5,455,930 states
    large = search.explore(model, params, simulator(model, params), 10_000_000, None, search="auto",
                           python_max_states=2_000_000)
    assert isinstance(large, search.CResult) and large.complete and not large.cached
    again = search.explore(model, params, simulator(model, params), 10_000_000, None, search="auto")
    assert isinstance(again, search.CResult) and again.cached and again.states == large.states


def test_hand_built_ir() -> None:
    """tests/py_irfixtures.lost_irq has every IR node kind (enabled, quantifiers, locks, choices)."""
    assert differences(fx.lost_irq(budget_check=False), {"CPUS": 3}, 100_000) == []


def test_wide_values_and_a_deep_path() -> None:
    """A counter to 1,000: 16-bit cells, and violations 1,000 steps deep."""
    model, params = fx.counter(1000), {"TOP": 1000}
    assert layout.build(model, params).cell_bits == 16
    assert differences(model, params, 10_000) == []


def test_values_that_may_leave_64_bits_are_refused() -> None:
    model = fx.counter(60_000)
    x = fx.ref(model.vars[0])
    big = fx.bin_("mul", fx.bin_("mul", x, x), fx.bin_("mul", x, x))  # up to 60,000^4 > 2^62
    model = replace(model, properties=model.properties + (ir.Property("big", "invariant", fx.bin_("ge", big, fx.n(0))),))
    with pytest.raises(UnsupportedC, match="64-bit"):
        generate(model, {"TOP": 60_000})
    notes: list[str] = []
    assert search.explore(model, {"TOP": 60_000}, None, None, None, search="c", notice=notes.append) is None
    assert notes and "does not handle" in notes[0]


def test_an_index_outside_its_array_stops_the_program() -> None:
    """Lowering guards every index that may leave its array; an IR that does not (a bug) must not
    read a neighbouring slot silently, as a Python list would."""
    model = fx.lost_irq(budget_check=False)
    pending = next(v for v in model.vars if v.name == "redist.pending")
    target = next(v for v in model.vars if v.name == "its.target")
    wild = fx.not_(fx.at(pending, fx.bin_("add", fx.ref(target), fx.n(1))))  # its.target = 1 reads pending[2]
    model = replace(model, properties=model.properties + (ir.Property("wild", "invariant", wild),))
    params = {"CPUS": 2}
    with pytest.raises(search.RunError, match="exited with 70.*index out of range"):
        search.run(generate(model, params), simulator(model, params), None, None)


def test_a_killed_compile_leaves_nothing_for_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRQC_CACHE_DIR", str(tmp_path))
    stale, fresh = tmp_path / ".build-stale", tmp_path / ".build-fresh"
    stale.mkdir()
    fresh.mkdir()  # perhaps another irqc compiling right now
    os.utime(stale, (0, 0))
    with driver.build(generate(fx.counter(3), {"TOP": 3}).source, "-O0") as built:
        assert built.exe.parent == tmp_path
    assert not stale.exists() and fresh.exists()
