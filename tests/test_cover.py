"""`cover NAME: EXPR;`: the shortest run reaching EXPR, or a proof that none exists.

Each case runs through both engines (the exhaustive search with Z3 for the witness, and Z3
alone), through the real front end and the `irqc prove` command line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler import ir
from compiler.cli import main
from compiler.engine import check
from compiler.pipeline import load_model
from compiler.results import PropertyResult
from dsl.diagnostics import Diagnostics, render_all

# x counts 0, 1, 2 in two steps of one thread; 3 is never reached.
COUNTER = """spec {name};
param CPUS = 2;
var x: 0..3 = 0;
var seen: bool = false;
thread t {{ x = 1; x = 2; seen = true; }}
invariant small: x < 3;
{extra}
"""

ENGINES = ("auto", "bmc")


def write(tmp_path: Path, name: str, extra: str) -> Path:
    path = tmp_path / f"{name}.irqspec"
    path.write_text(COUNTER.format(name=name, extra=extra), encoding="utf-8")
    return path


def model_of(path: Path) -> ir.Model:
    diags = Diagnostics()
    model = load_model(str(path), {}, diags)
    assert model is not None, render_all(diags)
    return model


def verdicts(path: Path, engine: str, **kw: int) -> dict[str, PropertyResult]:
    model = model_of(path)
    params = {p.name: p.default for p in model.params}
    return {r.property: r for r in check(model, params, engine=engine, **kw)}


def prove(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["prove", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_cover_is_a_property_of_kind_cover_expected_covered(tmp_path: Path) -> None:
    m = model_of(write(tmp_path, "c", "cover two: x == 2;\ncover three: x == 3;\nexpect three: unreachable;"))
    two, three = m.prop("two"), m.prop("three")
    assert (two.kind, two.expect, ir.show(two.expr)) == ("cover", "covered", "(x == 2)")  # type: ignore[arg-type]
    assert (three.kind, three.expect) == ("cover", "unreachable")
    assert ir.show(two.invariant_expr()) == "!(x == 2)"  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ENGINES)
def test_covered_at_the_shortest_depth_with_a_witness(tmp_path: Path, engine: str) -> None:
    r = verdicts(write(tmp_path, "c", "cover two: x == 2;\ncover start: x == 0;"), engine)
    assert (r["two"].verdict, r["two"].depth) == ("covered", 2)
    assert r["two"].summary() == "covered at depth 2" and r["two"].matches_expectation
    trace = r["two"].trace
    assert trace is not None and trace.property_kind == "cover"
    xs = [s.values["x"] for s in trace.states]
    assert xs[-1] == 2 and 2 not in xs[:-1]  # the witness ends at the first state where x == 2
    assert (r["start"].verdict, r["start"].depth) == ("covered", 0)  # an initial state covers it


@pytest.mark.parametrize("engine", ENGINES)
def test_unreachable_is_proved(tmp_path: Path, engine: str) -> None:
    r = verdicts(write(tmp_path, "c", "cover three: x == 3;"), engine)["three"]
    assert r.verdict == "unreachable" and r.trace is None
    assert r.summary().startswith("unreachable (")
    assert r.fails  # expected covered (the default): a failed expectation


def test_a_cut_search_says_not_covered_up_to_its_depth(tmp_path: Path) -> None:
    r = verdicts(write(tmp_path, "c", "cover three: x == 3;"), "auto", max_states=2, depth=1, max_k=0)["three"]
    assert (r.verdict, r.depth) == ("not_covered", 1)
    assert r.summary() == "not covered up to depth 1" and r.unsettled and not r.fails


def test_cover_and_invariant_of_the_same_state_agree(tmp_path: Path) -> None:
    """`cover c: E` is covered at depth N exactly when `invariant i: !E` is violated at depth N."""
    r = verdicts(write(tmp_path, "c", "cover done: seen;\ninvariant never: !seen;"), "auto")
    assert r["done"].verdict == "covered" and r["never"].verdict == "violated"
    assert r["done"].depth == r["never"].depth == 3


# --------------------------------------------------------------------------- the command line


def test_prove_prints_the_witness_and_exits_0_when_covered(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = prove(capsys, str(write(tmp_path, "c", "cover two: x == 2;")))
    assert code == 0 and err == ""
    assert "  two       covered at depth 2" in out
    assert "two: witness, 2 steps" in out and "counterexample" not in out
    assert "=> two covered after step 2" in out


def test_an_unreachable_cover_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = prove(capsys, str(write(tmp_path, "c", "cover three: x == 3;")))
    assert code == 1
    assert "three     unreachable (exhaustive search, 4 states up to dead variables)" in out
    assert "[the spec expects: covered]" in out


def test_expect_unreachable_is_met_by_unreachable_and_failed_by_covered(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = prove(capsys, str(write(tmp_path, "c", "cover three: x == 3;\nexpect three: unreachable;")))
    assert code == 0
    code, out, _ = prove(capsys, str(write(tmp_path, "d", "cover two: x == 2;\nexpect two: unreachable;")))
    assert code == 1 and "[the spec expects: unreachable]" in out


def test_not_covered_within_the_bound_is_inconclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "c", "cover two: x == 2;")
    code, out, _ = prove(capsys, str(path), "--max-states", "2", "--depth", "1", "--max-k", "0")
    assert code == 3 and "two       not covered up to depth 1" in out


def test_json_verdicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "c", "cover two: x == 2;\ncover three: x == 3;\nexpect three: unreachable;")
    code, out, _ = prove(capsys, str(path), "--json")
    assert code == 0
    res = {r["property"]: r for r in json.loads(out)["specs"][0]["results"]}
    assert (res["two"]["verdict"], res["two"]["depth"], res["two"]["expected"]) == ("covered", 2, "covered")
    assert len(res["two"]["trace"]["states"]) == 3  # the ITF document inline
    assert (res["three"]["verdict"], res["three"]["expected"], res["three"]["trace"]) == ("unreachable", "unreachable",
                                                                                            None)


def test_the_simulator_searches_a_cover_like_prove(tmp_path: Path) -> None:
    from compiler.backends.python import generate, load_simulator

    model = model_of(write(tmp_path, "c", "cover two: x == 2;\ncover three: x == 3;"))
    sim = load_simulator(generate(model, model.path), model.name).Simulator({})
    res = sim.explore()
    assert res.complete and res.violations["two"][0] == 2 and "three" not in res.violations


# --------------------------------------------------------------------------- diagnostics


def diagnose(tmp_path: Path, name: str, extra: str) -> str:
    diags = Diagnostics()
    assert load_model(str(write(tmp_path, name, extra)), {}, diags) is None
    return render_all(diags)


def test_a_cover_must_be_boolean(tmp_path: Path) -> None:
    assert "[E301]" in diagnose(tmp_path, "c", "cover odd: x + 1;")


def test_a_cover_shares_the_property_namespace(tmp_path: Path) -> None:
    out = diagnose(tmp_path, "c", "cover small: x == 2;")
    assert "`small` is declared twice in this spec [E202]" in out


def test_a_cover_is_expected_covered_or_unreachable(tmp_path: Path) -> None:
    out = diagnose(tmp_path, "c", "cover two: x == 2;\nexpect two: holds;")
    assert "expected verdict `covered` or `unreachable`, not `holds` [E301]" in out
    out = diagnose(tmp_path, "d", "expect small: covered;")
    assert "expected verdict `violated` or `holds`, not `covered` [E301]" in out
