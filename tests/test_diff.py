"""`irqc diff OLD NEW` (issue 11 item 2): the verdict changes a patch makes, and where OLD's
counterexample stops on NEW."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.cli import main
from tests.schemas import problems, valid

ROOT = Path(__file__).resolve().parent.parent
S1, S2, S3 = (str(ROOT / "specs" / f"{n}.irqspec") for n in ("gicv3_its_fasteoi", "fasteoi_rerun_loop", "fasteoi_resend"))


def diff(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, dict[str, object]]]:
    code = main(["diff", *args, "--json"])
    doc = json.loads(capsys.readouterr().out)
    valid("diff.schema.json", doc)  # docs/schemas/diff.schema.json, on every real output
    return code, {p["property"]: p for p in doc["properties"]}


def test_s1_to_s3_fixes_the_lost_interrupt_where_irq_may_run_records_pending(capsys: pytest.CaptureFixture[str]) -> None:
    code, props = diff(capsys, S1, S3)
    assert code == 0
    lost = props["no_lost_interrupt"]
    assert (lost["old"], lost["new"], lost["change"]) == ("violated at depth 9", "proved", "fixed")
    blocked = lost["blocked_at"]
    assert isinstance(blocked, dict) and blocked["step"] == 8
    assert "handle_fasteoi_irq()" in str(blocked["why"]) and "desc.pending=1" in str(blocked["why"])
    assert {p["change"] for n, p in props.items() if n not in ("no_lost_interrupt", "resend_taken")} == {"unchanged"}
    assert props["resend_taken"]["change"] == "added"


def test_s1_to_s2_fixes_one_and_breaks_two(capsys: pytest.CaptureFixture[str]) -> None:
    code, props = diff(capsys, S1, S2)
    assert code == 1  # a regression
    assert props["no_lost_interrupt"]["change"] == "fixed"
    assert props["affinity_respected"]["change"] == "broken"
    assert props["bounded_rerun"]["change"] == "broken"
    assert props["affinity_respected"]["new"] == "violated at depth 9"


def test_a_spec_against_itself_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    code, props = diff(capsys, S1, S1)
    assert code == 0 and {p["change"] for p in props.values()} == {"unchanged"}


def test_bad_input_is_exit_2_with_diagnostics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.irqspec"
    bad.write_text("spec bad;\nvar x: bool = ;\n")
    assert main(["diff", S1, str(bad), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["diagnostics"] and doc["diagnostics"][0]["code"].startswith("E")
    valid("diff.schema.json", doc)
    assert main(["diff", S1, "--frobnicate", "--json"]) == 2
    valid("diff.schema.json", json.loads(capsys.readouterr().out))


def test_the_diff_schema_rejects_what_diff_does_not_print() -> None:
    """The validation can fail: the schema is not vacuous."""
    blocked = {"step": 8, "instance": "cpu[1]", "old_text": "t", "why": "w", "text": "blocked at step 8"}
    prop = {"property": "p", "old": "violated at depth 9", "new": "proved", "change": "fixed", "blocked_at": blocked}
    good = {"old": "a", "new": "b", "properties": [prop]}
    valid("diff.schema.json", good)
    for bad in ({**prop, "change": "better"}, {**prop, "old": "violated"}, {**prop, "blocked_at": {"step": 0}},
                {k: v for k, v in prop.items() if k != "blocked_at"}):
        assert problems("diff.schema.json", {**good, "properties": [bad]}), bad
    assert problems("diff.schema.json", [good])


def test_text_output_names_the_change_and_the_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", S1, S3]) == 0
    out = capsys.readouterr().out
    assert "no_lost_interrupt" in out and "fixed" in out and "blocked at step 8" in out


def test_prove_json_on_a_broken_spec_is_json_with_the_diagnostics(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 11: `--json` prints JSON on every path, bad input included (exit 2)."""
    bad = tmp_path / "bad.irqspec"
    bad.write_text("spec bad;\nvar x: bool = ;\n")
    assert main(["prove", str(bad), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["diagnostics"][0]["location"]["path"] == str(bad)
    assert main(["prove", S1, "--property", "nope", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["diagnostics"][0]["code"] == "E501"
