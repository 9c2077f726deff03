"""`irqc prove --engine ic3`: Spacer's proofs, each re-checked by fresh solvers, against the
exhaustive search (compiler/backends/z3/ic3.py, docs/prove.md "IC3").

Cheap by design: S1 and S3 at their defaults (S3 once at CPUS=3 for the timeout), a counter
spec written here, and 20 random specs from tests/specgen.py."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import z3

from compiler import engine, ir, limits
from compiler.backends.z3 import ic3, resolve_params
from compiler.backends.z3.bmc import Clock
from compiler.backends.z3.system import TransitionSystem
from compiler.cli import main
from compiler.pipeline import load_model
from compiler.results import PropertyResult
from dsl.diagnostics import Diagnostics, render_all
from tests import schemas
from tests.specgen import generate

ROOT = Path(__file__).resolve().parent.parent
S1 = ROOT / "specs" / "gicv3_its_fasteoi.irqspec"
S3 = ROOT / "specs" / "fasteoi_resend.irqspec"
INITIATION, CONSECUTION, SAFETY = ic3.OBLIGATIONS

# x counts 0, 1, 2 and stops: x < 3 holds, x <= 1 does not.
COUNTER = """spec counter;
var x: 0..3 = 0;
thread t { x = 1; x = 2; }
invariant small: x < 3;
"""


def model_of(path: Path | str, overrides: dict[str, int] | None = None) -> ir.Model:
    diags = Diagnostics()
    model = load_model(str(path), overrides or {}, diags)
    assert model is not None and not diags.has_errors, render_all(diags)
    return model


def run(model: ir.Model, engine_name: str, overrides: dict[str, int] | None = None,
        **kw: object) -> dict[str, PropertyResult]:
    params = resolve_params(model, overrides)
    return {r.property: r for r in engine.check(model, params, engine=engine_name, **kw)}  # type: ignore[arg-type]


def prove(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["prove", "--quiet", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def spacer_answer(ts: TransitionSystem, prop: ir.Property) -> ic3.Answer:
    with limits.budget(None) as budget:
        return ic3.spacer(ts, prop, Clock(time.perf_counter(), budget))


def slot(ts: TransitionSystem, name: str) -> z3.ExprRef:
    return ts.pre[[s.name for s in ts.layout.slots].index(name)]


# --------------------------------------------------------------------------- proofs


def test_what_the_search_proves_on_s1_ic3_proves_with_a_rechecked_invariant() -> None:
    model = model_of(S1)
    wanted = ["eoi_pairing", "bounded_rerun", "affinity_respected"]
    search = run(model, "auto", properties=wanted)
    assert {search[p].verdict for p in wanted} == {"proved"}
    rs = run(model, "ic3", properties=wanted)
    for p in wanted:
        assert (rs[p].verdict, rs[p].method) == ("proved", ic3.METHOD)
        assert rs[p].summary() == "proved (IC3, inductive invariant re-checked)"
        assert rs[p].invariant and all(isinstance(c, str) and c for c in rs[p].invariant)
    # The re-check on its own, on a freshly built encoding, accepts what Spacer found.
    ts = TransitionSystem(model, resolve_params(model))
    answer = spacer_answer(ts, model.prop("eoi_pairing"))
    assert answer.outcome == "proved" and answer.invariant is not None
    fresh = TransitionSystem(model, resolve_params(model))
    assert ic3.recheck(fresh, model.prop("eoi_pairing"), answer.invariant).passed


def test_s3_at_two_cpus_every_property_the_search_proves_ic3_proves(capsys: pytest.CaptureFixture[str]) -> None:
    model = model_of(S3)
    wanted = [p.name for p in model.properties if p.kind != "cover"]  # the cover is covered: see below
    search = run(model, "auto", properties=wanted)
    assert {search[p].verdict for p in wanted} == {"proved"}
    code, out, _ = prove(capsys, "--engine", "ic3", "--json", *[f"--property={p}" for p in wanted], str(S3))
    doc = json.loads(out)
    schemas.valid("prove.schema.json", doc)
    assert code == 0
    for r in doc["specs"][0]["results"]:
        assert (r["verdict"], r["method"]) == ("proved", ic3.METHOD), r
        assert r["invariant"] and all(isinstance(c, str) for c in r["invariant"])


def test_show_invariant_prints_it_in_the_specs_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = prove(capsys, "--engine", "ic3", "--show-invariant", "--property", "no_lost_interrupt", str(S3))
    assert code == 0
    assert "no_lost_interrupt  proved (IC3, inductive invariant re-checked)" in out
    block = out.split("no_lost_interrupt: inductive invariant (IC3, re-checked), the conjunction of\n")[1]
    lines = [line for line in block.splitlines() if line.startswith("  ")]
    assert lines and not any("@pre" in line for line in lines)
    assert any("nic.outstanding" in line for line in lines)  # the property's own variable takes part


# --------------------------------------------------------------------------- violations


def test_a_violated_property_is_never_proved_and_its_trace_is_bmcs_shortest() -> None:
    model = model_of(S1)
    search = run(model, "auto", properties=["no_lost_interrupt"])["no_lost_interrupt"]
    r = run(model, "ic3", properties=["no_lost_interrupt"])["no_lost_interrupt"]
    assert (search.verdict, search.depth) == ("violated", 9)
    assert (r.verdict, r.depth, r.method) == ("violated", 9, "bmc")
    assert r.trace is not None and len(r.trace.states) == 10 and r.invariant is None


def test_a_violation_deeper_than_depth_is_inconclusive_never_proved_nor_holds(tmp_path: Path) -> None:
    path = tmp_path / "counter.irqspec"
    path.write_text(COUNTER.replace("x < 3", "x < 2"), encoding="utf-8")  # violated at depth 2
    model = model_of(path)
    assert run(model, "ic3", depth=2)["small"].verdict == "violated"
    r = run(model, "ic3", depth=1)["small"]
    assert (r.verdict, r.depth) == ("inconclusive", 1)
    assert r.reason is not None and "IC3 (Spacer) finds a run that violates it" in r.reason


# --------------------------------------------------------------------------- the re-check


@pytest.fixture
def counter(tmp_path: Path) -> tuple[TransitionSystem, ir.Property]:
    path = tmp_path / "counter.irqspec"
    path.write_text(COUNTER, encoding="utf-8")
    model = model_of(path)
    return TransitionSystem(model, resolve_params(model)), model.prop("small")


def test_the_recheck_accepts_spacers_invariant_of_the_counter(counter: tuple[TransitionSystem, ir.Property]) -> None:
    ts, small = counter
    answer = spacer_answer(ts, small)
    assert answer.outcome == "proved" and answer.invariant is not None
    assert ic3.recheck(ts, small, answer.invariant) == ic3.Recheck()


def test_a_weakened_invariant_fails_safety(counter: tuple[TransitionSystem, ir.Property]) -> None:
    ts, small = counter
    x = slot(ts, "x")
    assert ic3.recheck(ts, small, z3.BoolVal(True)).refuted == SAFETY  # admits x == 3
    assert ic3.recheck(ts, small, x <= 3).refuted == SAFETY
    answer = spacer_answer(ts, small)
    assert answer.invariant is not None
    assert ic3.recheck(ts, small, z3.Or(answer.invariant, x == 3)).refuted == SAFETY


def test_a_non_inductive_or_too_strong_invariant_fails(counter: tuple[TransitionSystem, ir.Property]) -> None:
    ts, small = counter
    x = slot(ts, "x")
    assert ic3.recheck(ts, small, x <= 1).refuted == CONSECUTION  # 1 -> 2 leaves it
    assert ic3.recheck(ts, small, x == 1).refuted == INITIATION  # x starts at 0
    ghost = ic3.recheck(ts, small, z3.Or(x <= 2, z3.Bool("ghost"))).refuted
    assert ghost is not None and "ghost" in ghost and "no state slot" in ghost


def test_a_refuted_invariant_is_an_internal_error_never_proved(capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "counter.irqspec"
    path.write_text(COUNTER, encoding="utf-8")

    def weakened(ts: TransitionSystem, prop: ir.Property, clock: Clock, share: float | None = None) -> ic3.Answer:
        return ic3.Answer("proved", 0.0, invariant=z3.BoolVal(True))

    monkeypatch.setattr(ic3, "spacer", weakened)
    code, out, err = prove(capsys, "--engine", "ic3", str(path))
    assert code == 70 and "proved" not in out
    assert "internal error" in err and "fails its re-check" in err and SAFETY in err


# --------------------------------------------------------------------------- limits


def test_timeout_gives_inconclusive_stopped_by_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    # The cover of S3 at 3 CPUs takes Spacer about 50 s (docs/prove.md): 2 s cannot settle it.
    start = time.perf_counter()
    code, out, _ = prove(capsys, "--engine", "ic3", "--json", "--timeout", "2", "--param", "CPUS=3",
                         "--property", "resend_taken", str(S3))
    assert time.perf_counter() - start < 20
    doc = json.loads(out)
    schemas.valid("prove.schema.json", doc)
    [r] = doc["specs"][0]["results"]
    assert code == 3
    assert (r["verdict"], r["stopped_by"]) == ("inconclusive", "timeout")
    assert "timeout after 2 s" in r["reason"]


# --------------------------------------------------------------------------- random specs

SETTLED_BAD = ("violated", "covered")
SETTLED_GOOD = ("proved", "unreachable")


@pytest.mark.parametrize("seed", range(20))
def test_ic3_agrees_with_the_exhaustive_search_on_random_specs(seed: int, tmp_path: Path) -> None:
    text = generate(seed)
    path = tmp_path / "fuzz.irqspec"
    path.write_text(text, encoding="utf-8")
    model = model_of(path)
    search = run(model, "auto", depth=12, max_states=20_000)
    mine = run(model, "ic3", depth=12, timeout=5)  # Spacer takes 15 s on seed 7's deadlock: inconclusive
    for name, r in mine.items():
        s = search[name]
        where = f"seed {seed}, {name}: IC3 says {r.summary()}, the search {s.summary()}\n{text}"
        if r.verdict in SETTLED_GOOD:
            assert s.verdict not in SETTLED_BAD, where
            assert r.invariant is not None, where
        if s.verdict in SETTLED_BAD:
            assert r.verdict not in SETTLED_GOOD, where
            if r.verdict in SETTLED_BAD:
                assert r.depth == s.depth, where  # both shortest
