"""`irqc prove --all-cpus` (issue 12): the parametric encoding, the invariant checker and the
honest answers.  The checker is mutated (a conjunct dropped, a guard weakened, the spec's
step changed) and must reject every invariant that is not inductive; a spec violated only at
CPUS=3 is never reported proved, even when the instances are not searched that far."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import z3

from compiler import ir
from compiler.backends.allcpus import prove_all_cpus
from compiler.backends.allcpus.core import Budget, check, cross_check, infer
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


def invariant_of(m: ir.Model) -> tuple[System, Views, set]:  # type: ignore[type-arg]
    system = System(m, {})
    views = Views(m, system)
    views.add_pins()
    return system, views, infer(system, views, set(), Budget(None)).states


def answers(m: ir.Model, states: set, props: list[str]) -> list[str]:  # type: ignore[type-arg]
    ind, per = check(m, {}, states, [m.prop(p) for p in props], Budget(None))
    return [o.answer for o in ind] + [o.answer for p in props for o in per[p]]


# --------------------------------------------------------------------------- the checker


def test_inferred_mutex_invariant_is_inductive_and_proves_both(tmp_path: Path) -> None:
    m = model(tmp_path, MUTEX.replace("GUARD", "!busy"))
    _, _, states = invariant_of(m)
    assert set(answers(m, states, ["excl", "alone"])) == {"unsat"}
    for n in (1, 2, 3):  # the z3 backend's own encoding of the instance agrees
        assert {o.answer for o in cross_check(m, {}, states, n, [m.prop("excl")], Budget(None))} == {"unsat"}


@pytest.mark.parametrize("drop", range(6))
def test_dropping_an_abstract_state_breaks_inductiveness(tmp_path: Path, drop: int) -> None:
    """Each abstract state is one disjunct of I: without one reachable disjunct, I is not closed
    under the steps (or misses an initial state), and the checker says so."""
    m = model(tmp_path, MUTEX.replace("GUARD", "!busy"))
    _, _, states = invariant_of(m)
    ordered = sorted(states, key=repr)
    mutated = set(ordered) - {ordered[drop % len(ordered)]}
    ind, _ = check(m, {}, mutated, [], Budget(None))
    assert any(o.answer == "sat" for o in ind), [o.what for o in ind]


def test_invariant_of_a_weakened_guard_is_rejected(tmp_path: Path) -> None:
    """The invariant inferred with `await (!busy)` checked against the spec whose guard is
    weakened to `await (true)`: the weakened spec lets a second CPU in, so the checker must find
    a step that leaves the invariant, and `excl` is not proved."""
    good = model(tmp_path, MUTEX.replace("GUARD", "!busy"), "good")
    weak = model(tmp_path, MUTEX.replace("GUARD", "true"), "weak")
    _, _, states = invariant_of(good)
    ind, _ = check(weak, {}, states, [], Budget(None))
    assert [o.what for o in ind if o.answer == "sat"] == ["I is preserved by cpu[c].idle"]


def test_a_property_false_in_an_abstract_state_is_not_implied(tmp_path: Path) -> None:
    m = model(tmp_path, MUTEX.replace("GUARD", "!busy"))
    system, views, states = invariant_of(m)
    # Add the abstraction of a state with two CPUs in the critical section: I stays inductive
    # or not, but it can no longer imply excl.
    g, counts = sorted(states, key=repr)[0]
    crit = [i for i, f in enumerate(views.local) if f.kind == "arr"][0]
    named = [i for i, f in enumerate(views.local) if f.kind in ("pin", "is")]  # CPU 0, and the owner
    plain = [loc for loc, _ in counts if not any(loc[i] for i in named)]
    assert plain
    # At least two CPUs that are neither CPU 0 nor the owner, both in the critical section.
    both = [(loc[:crit] + (True,) + loc[crit + 1:], 2) for loc in plain]
    bad = (g, tuple(sorted(both + [(loc, n) for loc, n in counts if loc not in plain])))
    _, per = check(m, {}, states | {bad}, [m.prop("excl")], Budget(None))
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
    assert w.reason is not None and "I implies at_most_two" in w.reason


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
    assert res["deadlock"]["verdict"] == "proved" and res["deadlock"]["invariant"]


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


def test_s3_eoi_pairing_is_proved_for_every_cpu_count() -> None:
    m = shipped("fasteoi_resend")
    params = {p.name: p.default for p in m.params if p.name != "CPUS"}
    (v,) = prove_all_cpus(m, params, properties=["eoi_pairing"], timeout=240, max_instance=2)
    assert v.verdict == "proved" and v.n0 == 1, v.reason
    assert {o.answer for o in v.evidence} == {"unsat"}
    assert any("fails eoi_pairing" in o.what for o in v.evidence)
    assert any(o.what.startswith("CPUS=2") for o in v.evidence)
