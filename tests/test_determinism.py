"""One counterexample per property, whatever else is on the command line (issue 8 item 3).

The printed trace is the exhaustive search's: the first run breadth-first search meets
(docs/prove.md, "Which counterexample").  Z3 confirms it; a tampered trace is rejected."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from compiler import engine, ir
from compiler.backends.z3 import TransitionSystem
from compiler.backends.z3.confirm import confirm_trace
from compiler.pipeline import load_model
from compiler.trace import to_itf
from dsl.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parent.parent


def load(name: str) -> ir.Model:
    diags = Diagnostics()
    model = load_model(str(ROOT / "specs" / f"{name}.irqspec"), {}, diags)
    assert model is not None
    return model


def trace_of(model: ir.Model, prop: str, **kw: object) -> dict[str, object]:
    params = ir.default_params(model)
    [r] = [r for r in engine.check(model, params, **kw) if r.property == prop]  # type: ignore[arg-type]
    assert r.verdict == "violated" and r.trace is not None
    assert r.method == "exhaustive search, trace confirmed by Z3"
    return to_itf(r.trace)


def test_the_s1_trace_is_the_same_alone_with_property_and_after_other_specs() -> None:
    s1 = load("gicv3_its_fasteoi")
    alone = trace_of(s1, "no_lost_interrupt")
    assert trace_of(s1, "no_lost_interrupt", properties=["no_lost_interrupt"]) == alone
    trace_of(load("imsic_naive_move"), "msi_lands_owned")  # another spec in the same process first
    assert trace_of(load("gicv3_its_fasteoi"), "no_lost_interrupt") == alone
    assert len(alone["states"]) == 10  # type: ignore[arg-type]


def test_z3_rejects_a_tampered_counterexample() -> None:
    s1 = load("gicv3_its_fasteoi")
    params = ir.default_params(s1)
    [r] = [r for r in engine.check(s1, params, properties=["no_lost_interrupt"])]
    assert r.trace is not None
    ts = TransitionSystem(s1, params)
    prop = s1.prop("no_lost_interrupt")
    assert confirm_trace(ts, r.trace, prop) is None
    bad = copy.deepcopy(r.trace)
    bad.states[3].values["nic.outstanding"] = not bad.states[3].values["nic.outstanding"]
    assert confirm_trace(ts, bad, prop) == "Z3 finds no such run"
    short = copy.deepcopy(r.trace)
    short.states = short.states[:-1]  # the violation needs its last step
    assert confirm_trace(ts, short, prop) == "Z3 finds no such run"


def test_z3_rejects_a_tampered_failed_check() -> None:
    """A failed `assert` (S2's bounded_rerun): its last step's path must fail it; the trace cut
    short, or a step credited to another action, is no such run (the per-step queries of
    confirm_trace, compiler/backends/z3/confirm.py)."""
    s2 = load("fasteoi_rerun_loop")
    params = ir.default_params(s2)
    [r] = [r for r in engine.check(s2, params, properties=["bounded_rerun"])]
    assert r.trace is not None and r.verdict == "violated"
    ts = TransitionSystem(s2, params)
    prop = s2.prop("bounded_rerun")
    assert prop.kind == "check" and confirm_trace(ts, r.trace, prop) is None
    short = copy.deepcopy(r.trace)
    short.states = short.states[:-1]
    assert confirm_trace(ts, short, prop) == "Z3 finds no such run"
    moved = copy.deepcopy(r.trace)
    k = next(i for i, st in enumerate(moved.states) if i > 0 and st.instance and st.instance.endswith("[0]"))
    moved.states[k].instance = moved.states[k].instance.replace("[0]", "[1]")  # type: ignore[union-attr]
    assert confirm_trace(ts, moved, prop) is not None


def test_the_cross_check_gives_the_same_verdicts_depths_and_traces() -> None:
    """--cross-check adds Z3 BMC re-deriving each least depth; nothing it prints changes but
    the method (S2: a failed check at 15 and an invariant at 9, both within BMC's 12 or not)."""
    s2 = load("fasteoi_rerun_loop")
    params = ir.default_params(s2)
    plain = engine.check(s2, params)
    crossed = engine.check(s2, params, cross_check=True)
    assert [(r.property, r.verdict, r.depth) for r in plain] == [(r.property, r.verdict, r.depth) for r in crossed]
    assert [to_itf(r.trace) for r in plain if r.trace] == [to_itf(r.trace) for r in crossed if r.trace]
    methods = {r.property: (a.method, r.method) for a, r in zip(plain, crossed) if r.verdict == "violated"}
    assert methods == {
        "affinity_respected": ("exhaustive search, trace confirmed by Z3", "exhaustive search, confirmed by Z3"),
        "bounded_rerun": ("exhaustive search, trace confirmed by Z3",
                          "exhaustive search, trace confirmed by Z3 (none shorter up to depth 12)")}


def test_a_search_trace_z3_rejects_is_a_backend_disagreement(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --cross-check the trace's confirmation is the only check of the search's
    counterexample: a rejection is exit 70, never a printed violation."""
    monkeypatch.setattr(engine, "confirm_trace", lambda ts, trace, prop, timeout=None: "Z3 finds no such run")
    s1 = load("gicv3_its_fasteoi")
    with pytest.raises(engine.BackendDisagreement, match="Z3 rejects the exhaustive search's counterexample"):
        engine.check(s1, ir.default_params(s1), properties=["no_lost_interrupt"])
