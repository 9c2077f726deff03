"""`irqc prove`'s engine: exhaustive search for proofs, Z3 for counterexamples, and a loud
internal error when the two backends disagree."""
from __future__ import annotations

from pathlib import Path

import pytest

from compiler import engine
from compiler.cli import main
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parent.parent
S1 = str(ROOT / "specs" / "gicv3_its_fasteoi.irqspec")


def model(path: str = S1):  # type: ignore[no-untyped-def]
    m = load_model(path, {}, Diagnostics())
    assert m is not None
    return m


def test_complete_search_proves_and_z3_traces_the_violation() -> None:
    m = model()
    results = {r.property: r for r in engine.check(m, {"CPUS": 2, **{p.name: p.default for p in m.params}})}
    lost = results["no_lost_interrupt"]
    assert lost.verdict == "violated" and lost.depth == 9 and lost.trace is not None
    assert len(lost.trace.states) == 10  # Z3's trace, with the initial state
    eoi = results["eoi_pairing"]
    assert eoi.verdict == "proved" and eoi.method.startswith("exhaustive search, ")


def test_cut_search_falls_back_to_bmc_and_says_how_far_it_got() -> None:
    m = model()
    params = {p.name: p.default for p in m.params}
    [r] = engine.check(m, params, properties=["eoi_pairing"], depth=6, max_states=50, max_k=0)
    assert r.verdict == "holds" and r.depth == 6
    assert r.reason is not None and "exhaustive search stopped at" in r.reason


def test_engine_bmc_is_z3_alone() -> None:
    m = model()
    params = {p.name: p.default for p in m.params}
    [r] = engine.check(m, params, properties=["eoi_pairing"], depth=5, max_k=0, engine="bmc")
    assert r.verdict == "holds" and r.method == "bmc" and r.depth == 5


def test_disagreement_is_an_internal_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    real = engine.explore

    def lying(m, params, max_states, max_seconds=None, *rest):  # type: ignore[no-untyped-def]
        s = real(m, params, max_states, max_seconds, *rest)
        return engine.Search(s.complete, s.states, s.depth, s.covered, {"no_lost_interrupt": 7}, s.seconds)

    monkeypatch.setattr(engine, "explore", lying)
    assert main(["prove", S1, "--property", "no_lost_interrupt"]) == 70
    err = capsys.readouterr().err
    assert "the two backends disagree" in err and "depth 7" in err and "report" in err


def test_every_search_verdict_matches_bmc_where_bmc_can_decide() -> None:
    """On S1, what the search proves BMC cannot violate within 20 steps, and vice versa."""
    m = model()
    params = {p.name: p.default for p in m.params}
    auto = {r.property: r for r in engine.check(m, params)}
    bmc = {r.property: r for r in engine.check(m, params, depth=20, max_k=0, engine="bmc")}
    for name, r in auto.items():
        if r.verdict == "proved":
            assert bmc[name].verdict in ("holds", "proved"), name
        else:
            assert (bmc[name].verdict, bmc[name].depth) == (r.verdict, r.depth), name
