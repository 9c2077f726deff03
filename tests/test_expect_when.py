"""`expect P: holds when CPUS <= 2, violated when CPUS >= 3;`: the expected verdict per parameter
values, picked at the parameters in force (the first case whose condition holds; none: the
default expectation), and machine-checked by `irqc test` at each."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parent.parent

SPEC = """spec three "a property only three CPUs violate";

param CPUS = 2;
var inside: 0..7 = 0;

cpu c {
  atomic { inside++; }         // each CPU enters once and stays
}

invariant fewer_than_three: inside < 3;
expect fewer_than_three: EXPECT;
"""


def write(tmp_path: Path, expect: str) -> Path:
    f = tmp_path / "three.irqspec"
    f.write_text(SPEC.replace("EXPECT", expect))
    return f


def expected(path: Path, cpus: int) -> str | None:
    diags = Diagnostics()
    model = load_model(str(path), {"CPUS": cpus}, diags)
    assert model is not None, diags.items
    return model.prop("fewer_than_three").expect


def test_the_parameters_pick_the_case(tmp_path: Path) -> None:
    f = write(tmp_path, "holds when CPUS <= 2, violated when CPUS >= 3 && CPUS < 5")
    assert [expected(f, n) for n in (1, 2, 3, 4, 5)] == ["holds", "holds", "violated", "violated", None]
    f = write(tmp_path, "holds when CPUS == 2, violated")  # a last case without `when`: otherwise
    assert [expected(f, n) for n in (2, 3, 6)] == ["holds", "violated", "violated"]
    f = write(tmp_path, "violated")
    assert expected(f, 2) == "violated"


def irqc_test(path: Path, cpus: int) -> tuple[int, dict[str, object]]:
    proc = subprocess.run([sys.executable, "-m", "compiler.cli", "test", "--json", "--param", f"CPUS={cpus}",
                           str(path)], cwd=ROOT, capture_output=True, text=True, check=False)
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.parametrize("cpus", [2, 3])
def test_irqc_test_checks_the_case_in_force(tmp_path: Path, cpus: int) -> None:
    code, doc = irqc_test(write(tmp_path, "holds when CPUS <= 2, violated when CPUS >= 3"), cpus)
    [result] = [r for r in doc["specs"][0]["results"] if r["property"] == "fewer_than_three"]  # type: ignore[index]
    assert code == 0 and result["met"] and result["expected"] == ("holds" if cpus == 2 else "violated")


def test_a_plain_expect_fails_where_the_verdict_differs(tmp_path: Path) -> None:
    code, doc = irqc_test(write(tmp_path, "holds"), 3)
    [result] = [r for r in doc["specs"][0]["results"] if r["property"] == "fewer_than_three"]  # type: ignore[index]
    assert code == 1 and not result["met"] and result["verdict"] == "violated"


@pytest.mark.parametrize("when, message", [
    ("holds when CPUS", "a comparison of parameters, not a number"),
    ("holds when CPUS == true", "does not apply"),
    ("holds when inside == 0", "reads parameters only"),
    ("holds when CPUS == 2, proved", "expected verdict"),
])
def test_bad_conditions_are_located(tmp_path: Path, when: str, message: str) -> None:
    diags = Diagnostics()
    assert load_model(str(write(tmp_path, when)), {}, diags) is None
    [d] = diags.items
    assert d.code == "E301" and message in d.message and d.span is not None and d.span.line == 11
