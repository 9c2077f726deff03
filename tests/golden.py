"""Golden cases: `.irqspec` in, rendered diagnostics out.

Regenerate every expected file with one command, then review with `git diff`:

    python -m tests.golden
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics, render_all

ROOT = Path(__file__).resolve().parent.parent
DIAG_DIR = Path("tests") / "golden" / "diag"
IR_DIR = Path("tests") / "golden" / "ir"
SPECS_DIR = Path("specs")


def diag_cases() -> list[Path]:
    """Every case file: its name starts with the code it demonstrates (helpers start with `_`)."""
    return sorted(p for p in (ROOT / DIAG_DIR).glob("E*.irqspec"))


def render_case(path: Path) -> str:
    """The diagnostics `irqc check` prints for a case, with a repo-relative path."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        diags = Diagnostics()
        load_model(str(DIAG_DIR / path.name), {}, diags)
        return render_all(diags) + "\n"
    finally:
        os.chdir(cwd)


def expected_path(path: Path) -> Path:
    return path.with_suffix(".expected")


def ir_cases() -> list[Path]:
    """The lowering of every shipped spec, as the canonical IR dump."""
    return sorted((ROOT / SPECS_DIR).glob("*.irqspec"))


def render_ir(spec: Path) -> str:
    from compiler.irdump import dump

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        diags = Diagnostics()
        model = load_model(str(SPECS_DIR / spec.name), {}, diags)
        return dump(model) if model is not None else render_all(diags) + "\n"
    finally:
        os.chdir(cwd)


def ir_expected_path(spec: Path) -> Path:
    return ROOT / IR_DIR / (spec.stem + ".ir")


def regenerate() -> int:
    for case in diag_cases():
        expected_path(case).write_text(render_case(case), encoding="utf-8")
        print(f"wrote {expected_path(case).relative_to(ROOT)}")
    (ROOT / IR_DIR).mkdir(parents=True, exist_ok=True)
    for old in (ROOT / IR_DIR).glob("*.ir"):
        old.unlink()
    for spec in ir_cases():
        ir_expected_path(spec).write_text(render_ir(spec), encoding="utf-8")
        print(f"wrote {ir_expected_path(spec).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(regenerate())
