"""The language features of issue 10, each run end to end through the real command line:
`extends "path"`, fn locals and return values, `replace` of one member, the C idioms, and
per-CPU timers with offline CPUs."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from compiler.cli import main
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.irqspec"
    path.write_text(text, encoding="utf-8")
    return path


def errors(path: Path) -> list[str]:
    diags = Diagnostics()
    load_model(str(path), {}, diags)
    return [d.code for d in diags.items if d.severity == "error"]


# ---------------------------------------------------------------- extends "relative/path.irqspec"


def test_a_patch_in_another_folder_extends_a_shipped_spec_by_path_and_proves(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """S2 (Gowans's re-run loop) as a user's patch: the same text, but kept outside specs/ and
    naming its base by a path relative to itself."""
    folder = tmp_path / "my" / "fixes"
    folder.mkdir(parents=True)
    rel = os.path.relpath(SPECS / "gicv3_its_fasteoi.irqspec", folder)
    text = (SPECS / "fasteoi_rerun_loop.irqspec").read_text(encoding="utf-8")
    assert "extends gicv3_its_fasteoi;" in text
    patch = write(folder, "fasteoi_rerun_loop", text.replace("extends gicv3_its_fasteoi;", f'extends "{rel}";'))
    code, out = run(capsys, "prove", str(patch))
    assert code == 1, out  # bounded_rerun and affinity_respected are violated, as S2 expects
    assert re.search(r"no_lost_interrupt\s+proved", out), out
    code, out = run(capsys, "test", str(patch))
    assert code == 0, out
    assert "0 not met" in out


def test_extends_by_path_errors_are_located(tmp_path: Path) -> None:
    assert errors(write(tmp_path, "a", 'spec a extends "b.txt";\n')) == ["E203"]
    assert errors(write(tmp_path, "c", 'spec c extends "nowhere/b.irqspec";\n')) == ["E203"]
    assert errors(write(tmp_path, "d", 'spec d extends "d.irqspec";\n')) == ["E204"]


def test_a_patch_may_carry_its_bases_name(tmp_path: Path) -> None:
    """A cycle is the same file twice, not the same name: `my/x` extending `../x` is fine."""
    write(tmp_path, "x", "spec x; param CPUS = 1; var v: bool;\n")
    patch = write(tmp_path / "my", "x", 'spec x extends "../x.irqspec"; var w: bool;\n')
    assert errors(patch) == []
