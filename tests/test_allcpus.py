"""`irqc prove --all-cpus` (issue 12): the parametric encoding, the invariant checker and the
honest answers.  The checker's input is mutated (a clause dropped, a clause weakened, the spec's
guard weakened) and it must reject every invariant that is not inductive; a spec violated only
at CPUS=3 is never reported proved, even when the instances are not searched that far."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import z3

from compiler import ir
from compiler.backends.allcpus import _seeds, learn, prove_all_cpus
from compiler.backends.allcpus.clauses import Cube, Learner, Positives, bad_states, minimize
from compiler.backends.allcpus.cone import cone
from compiler.backends.allcpus.core import Budget, check, cross_check
from compiler.backends.allcpus.param import System, Unsupported
from compiler.backends.allcpus.views import Views
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics, render_all

ROOT = Path(__file__).resolve().parent.parent

# One CPU at a time between `idle` and `leave`: a test-and-set flag.
MUTEX = """spec mutex "a test-and-set flag keeps one CPU at a time in its critical section";
param CPUS = 2;
var busy: bool = false;
var owner: cpu = 0;
cpu c {
  var crit: bool = false;
  for (;;) {
  idle:
    atomic { await (GUARD); busy = true; }
  enter:
    atomic { crit = true; owner = c; }
  leave:
    atomic { await (busy); assert alone: owner == c; crit = false; }
    busy = false;
  }
}
invariant excl: forall i: cpu :: forall j: cpu :: i != j ==> !(cpu[i].crit && cpu[j].crit);
"""

# Violated only once three CPUs have raised their flag: fine at CPUS = 1 and 2.
THREE = """spec three "violated only with three CPUs";
param CPUS = 2;
cpu c {
  var f: bool = false;
  for (;;) {
  idle:
    atomic { await (!f); f = true; }
  }
}
invariant at_most_two: !(exists i: cpu :: exists j: cpu :: exists k: cpu ::
                         i != j && j != k && i != k && cpu[i].f && cpu[j].f && cpu[k].f);
"""

# CPU ids compared by order: no all-CPU encoding, an honest "no proof".
ORDERED = """spec ordered "the lowest CPU wins";
param CPUS = 2;
var winner: cpu = 0;
cpu c {
  for (;;) {
  idle:
    atomic { await (c < winner); winner = c; }
  }
}
invariant low: winner == winner;
"""


def model(tmp_path: Path, text: str, name: str = "m") -> ir.Model:
    path = tmp_path / f"{name}.irqspec"
    path.write_text(re.sub(r"^spec \w+", f"spec {name}", text), encoding="utf-8")
    diags = Diagnostics()
    m = load_model(str(path), {}, diags)
    assert m is not None, render_all(diags)
    return m


def invariant_of(m: ir.Model, props: list[str], upto: int = 3) -> tuple[Cube, ...]:
    """The clauses the search learns for `props` together, over every variable's features."""
    system = System(m, {})
    views = Views(m, system)
    views.add_pins()
    seeds = _seeds(m, {}, system, views, set(m.vars), upto, {})
    bad = [b for p in props for b in bad_states(system, m.prop(p))]
    return minimize(system, views, Learner(system, views, Positives(seeds), None).run(bad), bad, None)


def answers(m: ir.Model, cubes: tuple[Cube, ...], props: list[str]) -> list[str]:
    ind, per = check(m, {}, cubes, [m.prop(p) for p in props], Budget(None))
    return [o.answer for o in ind] + [o.answer for p in props for o in per[p]]


# --------------------------------------------------------------------------- the checker


def test_learnt_mutex_invariant_is_inductive_and_proves_both(tmp_path: Path) -> None:
    m = model(tmp_path, MUTEX.replace("GUARD", "!busy"))
    cubes = invariant_of(m, ["excl", "alone"])
    assert cubes and set(answers(m, cubes, ["excl", "alone"])) == {"unsat"}
    for n in (1, 2, 3):  # the z3 backend's own encoding of the instance agrees
        assert {o.answer for o in cross_check(m, {}, cubes, n, [m.prop("excl")], Budget(None))} == {"unsat"}


def test_dropping_any_clause_is_rejected(tmp_path: Path) -> None:
    """The invariant is minimized: without any one of its clauses, the checker finds an initial
    state outside it, a step leaving it, or a state in it that violates a property."""
    m = model(tmp_path, MUTEX.replace("GUARD", "!busy"))
    cubes = invariant_of(m, ["excl", "alone"])
    assert len(cubes) >= 2
    for k in range(len(cubes)):
        assert "sat" in answers(m, cubes[:k] + cubes[k + 1:], ["excl", "alone"]), k


def test_a_weakened_clause_is_rejected(tmp_path: Path) -> None:
    """A clause weakened by one more literal (it then forbids fewer states: here only when the
    owner is CPU 0, or only when every CPU is in a given local state) no longer does its job."""
    m = model(tmp_path, MUTEX.replace("GUARD", "!busy"))
    cubes = invariant_of(m, ["excl", "alone"])
    system = System(m, {})
    views = Views(m, system)
    views.add_pins()
    pin = [i for i, f in enumerate(views.glob) if f.kind == "cpin"][0]
    for k, c in enumerate(cubes):
        assert all(i != pin for i, _ in c.glits)
        weaker = replace(c, glits=c.glits + ((pin, True),))
        assert "sat" in answers(m, cubes[:k] + (weaker,) + cubes[k + 1:], ["excl", "alone"]), k


def test_invariant_of_a_weakened_guard_is_rejected(tmp_path: Path) -> None:
    """The invariant learnt with `await (!busy)` checked against the spec whose guard is
    weakened to `await (true)`: the weakened spec lets a second CPU in, so the checker must find
    a step that leaves the invariant, and `excl` is not proved."""
    good = model(tmp_path, MUTEX.replace("GUARD", "!busy"), "good")
    weak = model(tmp_path, MUTEX.replace("GUARD", "true"), "weak")
    cubes = invariant_of(good, ["excl", "alone"])
    ind, _ = check(weak, {}, cubes, [], Budget(None))
    assert [o.what for o in ind if o.answer == "sat"] == ["I is preserved by cpu[c].idle"]


def test_a_clause_that_misses_the_bad_states_is_not_sufficient(tmp_path: Path) -> None:
    """An inductive invariant that does not exclude two CPUs in the critical section (only the
    clauses about `busy` and the owner, true of the weakened spec too) proves no `excl`."""
    m = model(tmp_path, MUTEX.replace("GUARD", "!busy"))
    _, per = check(m, {}, (), [m.prop("excl")], Budget(None))
    assert [o.answer for o in per["excl"]] == ["sat"]


# --------------------------------------------------------------------------- honest answers


def test_violated_only_at_three_cpus_is_never_proved(tmp_path: Path) -> None:
    m = model(tmp_path, THREE)
    (v, _deadlock) = prove_all_cpus(m, {}, timeout=60)
    assert (v.verdict, v.cpus) == ("violated", 3)
    assert v.result is not None and v.result.trace is not None and v.result.depth == 3
    # Searched only up to CPUS=2, the instances see nothing; the invariant must not prove it.
    (w, _deadlock) = prove_all_cpus(m, {}, timeout=60, max_instance=2)
    assert w.verdict == "unknown" and w.settled == 2
    assert w.reason is not None and "violates it" in w.reason


def test_mutex_proved_for_every_cpu_count_with_evidence(tmp_path: Path) -> None:
    m = model(tmp_path, MUTEX.replace("GUARD", "!busy"))
    out = {v.property: v for v in prove_all_cpus(m, {}, properties=["excl", "alone"], timeout=60)}
    for name in ("excl", "alone"):
        v = out[name]
        assert v.verdict == "proved" and v.n0 == 1
        assert v.invariant and v.evidence and {o.answer for o in v.evidence} == {"unsat"}
        assert any(o.what.startswith("CPUS=2") for o in v.evidence)


def test_weakened_guard_is_violated_at_two_cpus(tmp_path: Path) -> None:
    m = model(tmp_path, MUTEX.replace("GUARD", "true"))
    (v,) = prove_all_cpus(m, {}, properties=["excl"], timeout=60)
    assert (v.verdict, v.cpus) == ("violated", 2) and v.instances[1].startswith("proved")


def test_ordering_cpu_ids_gets_no_all_cpu_answer(tmp_path: Path) -> None:
    m = model(tmp_path, ORDERED)
    with pytest.raises(Unsupported, match="ordering"):
        System(m, {})
    (v, *_rest) = prove_all_cpus(m, {}, timeout=60, max_instance=2)
    assert v.verdict == "unknown" and v.reason is not None and "outside" in v.reason


def test_encoding_gives_cpu_ids_an_unbounded_sort(tmp_path: Path) -> None:
    m = model(tmp_path, MUTEX.replace("GUARD", "!busy"))
    system = System(m, {})
    s = z3.Solver()  # five distinct CPUs all initially idle: no bound on the universe
    cs = [z3.Const(f"x{i}", system.CPU) for i in range(5)]
    s.add(system.init, z3.Distinct(*cs))
    assert s.check() == z3.sat


# --------------------------------------------------------------------------- the command


def test_cli_all_cpus_json(tmp_path: Path) -> None:
    path = tmp_path / "three.irqspec"
    path.write_text(THREE, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "compiler.cli", "prove", "--all-cpus", "--json", "--quiet",
                           str(path)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)["specs"]
    assert doc[0]["params"]["CPUS"] == "all"
    res = {r["property"]: r for r in doc[0]["results"]}
    assert res["at_most_two"]["verdict"] == "violated" and res["at_most_two"]["cpus"] == 3
    # Every state of `three` can step or is idle: the invariant `true` (no clause) proves it.
    assert res["deadlock"]["verdict"] == "proved" and res["deadlock"]["invariant"] == []
    assert res["deadlock"]["evidence"] and {o["answer"] for o in res["deadlock"]["evidence"]} == {"unsat"}


def test_cli_all_cpus_rejects_a_cpus_param(tmp_path: Path) -> None:
    path = tmp_path / "three.irqspec"
    path.write_text(THREE, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "compiler.cli", "prove", "--all-cpus", "--param", "CPUS=3",
                           str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "--all-cpus" in proc.stderr


# --------------------------------------------------------------------------- shipped specs


def shipped(name: str) -> ir.Model:
    diags = Diagnostics()
    m = load_model(str(ROOT / "specs" / f"{name}.irqspec"), {}, diags)
    assert m is not None, render_all(diags)
    return m


@pytest.mark.parametrize("spec, prop", [("gicv3_its_fasteoi", "no_lost_interrupt"),
                                        ("fasteoi_rerun_loop", "affinity_respected")])
def test_shipped_violations_are_found_at_two_cpus(spec: str, prop: str) -> None:
    m = shipped(spec)
    params = {p.name: p.default for p in m.params if p.name != "CPUS"}
    (v,) = prove_all_cpus(m, params, properties=[prop], timeout=120, max_instance=2)
    assert (v.verdict, v.cpus) == ("violated", 2) and v.result is not None and v.result.trace is not None


def test_imsic_specs_are_refused_with_the_reason() -> None:
    m = shipped("imsic_move_intermediate")
    with pytest.raises(Unsupported, match=r"set_affinity\.c: a type whose range depends on CPUS"):
        System(m, {p.name: p.default for p in m.params if p.name != "CPUS"})


S3_PROPS = ["no_lost_interrupt", "eoi_pairing", "affinity_respected"]


@pytest.fixture(scope="module")
def s3_verdicts() -> dict[str, object]:
    m = shipped("fasteoi_resend")
    params = {p.name: p.default for p in m.params if p.name != "CPUS"}
    return {v.property: v for v in prove_all_cpus(m, params, properties=S3_PROPS, timeout=200, max_instance=2)}


@pytest.mark.parametrize("prop", S3_PROPS)
def test_s3_is_proved_for_every_cpu_count(s3_verdicts: dict[str, object], prop: str) -> None:
    v = s3_verdicts[prop]
    assert v.verdict == "proved" and v.n0 == 1, v.reason  # type: ignore[attr-defined]
    assert v.invariant and {o.answer for o in v.evidence} == {"unsat"}  # type: ignore[attr-defined]
    kinds = {o.what.split(" by ")[0].split(" from ")[0] for o in v.evidence}  # type: ignore[attr-defined]
    assert {"initial states satisfy I", "I is preserved", "CPUS=1: initial states satisfy I",
            "CPUS=2: I is preserved"} <= kinds


def test_s3_no_lost_interrupt_invariant_loses_its_proof_without_any_clause() -> None:
    """Drop each clause of S3's learnt invariant in turn: the fresh re-check refuses every one."""
    m = shipped("fasteoi_resend")
    params = {p.name: p.default for p in m.params if p.name != "CPUS"}
    system = System(m, params)
    p = m.prop("no_lost_interrupt")
    vars_ = cone(system, p)
    cubes = learn(m, params, system, p, vars_, 3, None)
    for k in range(len(cubes)):
        ind, per = check(m, params, cubes[:k] + cubes[k + 1:], [p], Budget(None), vars_)
        assert "sat" in [o.answer for o in ind + per[p.name]], k
