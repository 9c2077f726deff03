"""`irqc build`: files on disk, --check, ownership, atomic writes; and generated/ is up to date."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from compiler.backends.python import MARKER
from compiler.cli import main
from compiler.cli.build import check_generated

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SPEC = SPECS / "gicv3_its_fasteoi.irqspec"


def test_generated_folder_is_up_to_date() -> None:
    """The check CI runs: `irqc build specs/ -o generated/ --check` must exit 0."""
    result = check_generated([str(SPECS)], str(ROOT / "generated"))
    assert not result.diags.has_errors
    stale = "\n".join(p.summary() for p in result.problems)
    assert result.exit_code == 0, f"{stale}\nrun `irqc build specs -o generated` and commit the result"


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch project with one shipped spec, as the current directory."""
    (tmp_path / "specs").mkdir()
    shutil.copy(SPEC, tmp_path / "specs" / SPEC.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def build(*args: str) -> int:
    return main(["build", *args])


def test_build_writes_one_module_per_spec(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert build("specs", "-o", "out") == 0
    out = project / "out" / "gicv3_its_fasteoi.py"
    text = out.read_text()
    assert text.startswith(MARKER + "\n# spec: ../specs/gicv3_its_fasteoi.irqspec\n# source_hash: ")
    assert "out/gicv3_its_fasteoi.py: wrote" in capsys.readouterr().out
    assert [p.name for p in (project / "out").iterdir()] == ["gicv3_its_fasteoi.py"]  # no temp file left


def test_build_is_deterministic_and_independent_of_cwd(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert build("specs", "-o", "a") == 0
    first = (project / "a" / "gicv3_its_fasteoi.py").read_bytes()
    assert build("specs/gicv3_its_fasteoi.irqspec", "-o", "a") == 0
    assert (project / "a" / "gicv3_its_fasteoi.py").read_bytes() == first
    (project / "elsewhere").mkdir()
    monkeypatch.chdir(project / "elsewhere")
    assert build(str(project / "specs"), "-o", str(project / "b")) == 0
    assert (project / "b" / "gicv3_its_fasteoi.py").read_bytes() == first


def test_unchanged_file_is_not_rewritten(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build("specs", "-o", "out")
    target = project / "out" / "gicv3_its_fasteoi.py"
    os.utime(target, (1, 1))
    assert build("specs", "-o", "out") == 0
    assert target.stat().st_mtime == 1
    assert "unchanged" in capsys.readouterr().out


def test_check_up_to_date(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build("specs", "-o", "out")
    capsys.readouterr()
    assert build("specs", "-o", "out", "--check") == 0
    assert "up to date" in capsys.readouterr().out


def test_check_stale_shows_a_unified_diff(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build("specs", "-o", "out")
    target = project / "out" / "gicv3_its_fasteoi.py"
    target.write_text(target.read_text().replace("def _build(P):", "def _build(P):  # edited"))
    capsys.readouterr()
    assert build("specs", "-o", "out", "--check") == 1
    out, err = capsys.readouterr()
    assert "--- out/gicv3_its_fasteoi.py" in out and "+++ out/gicv3_its_fasteoi.py" in out
    assert "-def _build(P):  # edited" in out and "+def _build(P):" in out
    assert "is stale" in err
    assert "# edited" in target.read_text()  # --check writes nothing


def test_check_missing_and_orphaned(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build("specs", "-o", "out")
    out_dir = project / "out"
    os.rename(out_dir / "gicv3_its_fasteoi.py", out_dir / "old_spec.py")
    capsys.readouterr()
    assert build("specs", "-o", "out", "--check") == 1
    out, err = capsys.readouterr()
    assert "out/gicv3_its_fasteoi.py: is missing" in err
    assert "out/old_spec.py: is orphaned" in err
    assert "+++ /dev/null" in out and "--- /dev/null" in out


def test_foreign_file_is_never_overwritten(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = project / "out"
    out_dir.mkdir()
    mine = out_dir / "gicv3_its_fasteoi.py"
    mine.write_text("# my own notes\n")
    helper = out_dir / "helper.py"
    helper.write_text("x = 1\n")
    assert build("specs", "-o", "out") == 2
    assert "not written by `irqc build`" in capsys.readouterr().err
    assert mine.read_text() == "# my own notes\n" and helper.read_text() == "x = 1\n"
    assert build("specs", "-o", "out", "--check") == 2
    assert sorted(p.name for p in out_dir.iterdir()) == ["gicv3_its_fasteoi.py", "helper.py"]


def test_failed_write_leaves_the_old_file(project: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    build("specs", "-o", "out")
    target = project / "out" / "gicv3_its_fasteoi.py"
    old = target.read_text()
    target.write_text(old.replace("def _build(P):", "def _build(P):  # older"))
    before = target.read_text()

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    assert build("specs", "-o", "out") == 2
    assert "cannot write out/gicv3_its_fasteoi.py: disk full" in capsys.readouterr().err
    assert target.read_text() == before
    assert [p.name for p in (project / "out").iterdir()] == ["gicv3_its_fasteoi.py"]


def test_spec_with_errors_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "specs" / "broken.irqspec").write_text("spec broken\nvar x: bool = ;\n")
    assert build("specs", "-o", "out") == 2
    err = capsys.readouterr().err
    assert "broken.irqspec:" in err and ": error: " in err and "Traceback" not in err
    assert not (project / "out").exists()


def test_two_specs_with_one_stem_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "more").mkdir()
    shutil.copy(SPEC, project / "more" / SPEC.name)
    assert build("specs", "more", "-o", "out") == 2
    assert "would both be generated as" in capsys.readouterr().err
