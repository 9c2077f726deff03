"""Golden tests: diagnostics per code, and the IR of every shipped spec.
Regenerate with `python -m tests.golden` and review the diff."""
from __future__ import annotations

from pathlib import Path

import pytest

from dsl.diagnostics import CODES
from tests import golden

REGEN = "regenerate with `python -m tests.golden` and review `git diff`"


@pytest.mark.parametrize("case", golden.diag_cases(), ids=lambda p: p.stem)
def test_diagnostic_golden(case: Path) -> None:
    expected = golden.expected_path(case).read_text(encoding="utf-8")
    assert golden.render_case(case) == expected, REGEN


@pytest.mark.parametrize("case", golden.diag_cases(), ids=lambda p: p.stem)
def test_case_shows_its_own_code(case: Path) -> None:
    code = case.stem.split("_")[0]
    first = golden.render_case(case).splitlines()[0]
    assert ": error: " in first and first.endswith(f" [{code}]")


# Codes that need something other than a file to trigger: tested in test_cli_check.py.
NOT_FILE_CODES = {"E001", "E003", "E211", "E501", "E502"}  # E502: a trace file, tests/test_trace_formats.py
# E407: since branches that meet share their code, a spec long enough for it meets E213 (the
# agent's size) first; tests/test_step_merge.py reaches it with a lower limit.
NOT_FILE_CODES.add("E407")


def test_every_code_has_a_golden_case() -> None:
    covered = {p.stem.split("_")[0] for p in golden.diag_cases()}
    missing = set(CODES) - covered - NOT_FILE_CODES
    assert not missing, f"no golden case for {sorted(missing)}"


@pytest.mark.parametrize("spec", golden.ir_cases(), ids=lambda p: p.stem)
def test_ir_golden(spec: Path) -> None:
    expected = golden.ir_expected_path(spec)
    assert expected.exists(), REGEN
    assert golden.render_ir(spec) == expected.read_text(encoding="utf-8"), REGEN
