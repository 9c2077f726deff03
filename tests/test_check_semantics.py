"""What a failed check means (compiler/ir.py): each property is judged as if it were the
only one.  A failed `assert P` violates P, and the run goes on for every other property;
a failed `in_range` check leaves the path without a successor, for every property.

Every case runs through both engines (the exhaustive search confirmed by Z3, and Z3
bounded model checking alone) and the simulator, which must agree."""
from __future__ import annotations

from pathlib import Path

import pytest

from compiler import engine
from compiler.backends.python import generate, load_simulator
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parent.parent


def model_of(tmp_path: Path, name: str, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.irqspec"
    path.write_text(text)
    diags = Diagnostics()
    model = load_model(str(path), {}, diags)
    assert model is not None, [d.message for d in diags.items] if hasattr(diags, "items") else diags
    return model


def verdicts(model, engine_name: str, depth: int = 12) -> dict[str, tuple[str, int | None]]:  # type: ignore[no-untyped-def]
    params = {p.name: p.default for p in model.params}
    results = engine.check(model, params, depth=depth, engine=engine_name)
    return {r.property: (r.verdict, r.depth if r.verdict == "violated" else None) for r in results}


def both(model, depth: int = 12) -> dict[str, tuple[str, int | None]]:  # type: ignore[no-untyped-def]
    auto = verdicts(model, "auto", depth)
    bmc = verdicts(model, "bmc", depth)
    for name, (verdict, d) in auto.items():
        if verdict == "violated":
            assert bmc[name] == (verdict, d), f"{name}: search says {auto[name]}, Z3 says {bmc[name]}"
        else:
            assert bmc[name][0] in ("proved", "holds"), f"{name}: search says {verdict}, Z3 says {bmc[name]}"
    return auto


TWO_CHECKS = """spec two_checks;
var x: 0..2 = 0;
thread t {
  atomic { assert p: x != 0; x = 1; }
  yield;
  atomic { assert q: x != 1; x = 2; }
}
invariant never_two: x != 2;
"""


def test_a_failed_check_does_not_end_the_run_for_the_other_properties(tmp_path: Path) -> None:
    v = both(model_of(tmp_path, "two_checks", TWO_CHECKS))
    assert v["p"] == ("violated", 1)
    assert v["q"] == ("violated", 2)  # only reachable past p's failure
    assert v["never_two"] == ("violated", 2)


CHECK_THEN_GUARD = """spec check_then_guard;
var x: bool = false;
thread t { atomic { assert p: x; await (x); } }
"""


def test_a_check_before_a_false_guard_is_still_violated(tmp_path: Path) -> None:
    v = both(model_of(tmp_path, "check_then_guard", CHECK_THEN_GUARD))
    assert v["p"] == ("violated", 1)
    assert v["deadlock"] == ("violated", 0)  # checks never enable a step


RANGE_STOP = """spec range_stop;
var n: 0..1 = 0;
var k: bool = false;
thread t { atomic { n = n + 2; k = true; } }
invariant never_k: !k;
"""


def test_a_failed_range_check_has_no_successor_for_any_property(tmp_path: Path) -> None:
    model = model_of(tmp_path, "range_stop", RANGE_STOP)
    v = both(model)
    assert v["in_range"] == ("violated", 1)
    assert v["never_k"][0] == "proved"  # k = true is never reached: no state outside the types
    assert v["deadlock"][0] == "proved"  # a move that leaves the types is not a deadlock
    sim = load_simulator(generate(model, model.path), model.name).Simulator()
    s0 = sim.initial_states()[0]
    assert sim.successors(s0, "t", sim.enabled(s0)[0][1]) == [(None, ("in_range",))]


def test_the_s2_eoi_in_the_loop_variant_reports_both_violations(tmp_path: Path) -> None:
    """Issue 8: with the EOI moved into Gowans's re-run loop, eoi_pairing fails first (a second
    EOIR for one IAR); bounded_rerun used to come out proved because that failure ended the
    run.  Judged alone, each is violated at its own depth, with or without the other."""
    base = (ROOT / "specs" / "gicv3_its_fasteoi.irqspec").read_text()
    (tmp_path / "gicv3_its_fasteoi.irqspec").write_text(base)
    s2 = (ROOT / "specs" / "fasteoi_rerun_loop.irqspec").read_text()
    loop = "    handle_irq_event();                 //     handle_irq_event(desc);  (clears IRQS_PENDING first)\n"
    after = "  cond_unmask_eoi_irq();\n\n  raw_spin_unlock(&desc->lock);\n  return;\n"
    assert loop in s2 and after in s2
    moved = s2.replace(loop, loop + "    cond_unmask_eoi_irq();\n").replace(after, after.replace("  cond_unmask_eoi_irq();\n", ""))
    moved = moved.replace("spec fasteoi_rerun_loop ", "spec eoi_in_loop ")
    model = model_of(tmp_path, "eoi_in_loop", moved)
    v = verdicts(model, "auto")
    assert v["eoi_pairing"] == ("violated", 11)
    assert v["bounded_rerun"] == ("violated", 15)
    alone = model_of(tmp_path, "eoi_in_loop_alone", moved.replace("spec eoi_in_loop ", "spec eoi_in_loop_alone ")
                     .replace("assert eoi_pairing: iar;", ""))
    assert verdicts(alone, "auto")["bounded_rerun"] == ("violated", 15)
    params = {p.name: p.default for p in model.params}
    [only] = engine.check(model, params, properties=["bounded_rerun"])
    assert (only.verdict, only.depth) == ("violated", 15)


@pytest.mark.parametrize("text", [TWO_CHECKS, CHECK_THEN_GUARD, RANGE_STOP])
def test_every_counterexample_replays(tmp_path: Path, text: str) -> None:
    name = text.split()[1].rstrip(";")
    model = model_of(tmp_path, name, text)
    params = {p.name: p.default for p in model.params}
    sim = load_simulator(generate(model, model.path), model.name).Simulator()
    from compiler.trace import to_itf
    for r in engine.check(model, params, depth=12):
        if r.verdict == "violated" and r.trace is not None:
            replay = sim.replay(to_itf(r.trace))
            assert replay.ok and replay.property == r.property, (r.property, replay.problem)
