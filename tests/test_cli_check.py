"""`irqc check`: exit codes, rendering, JSON, and the codes no single file can trigger."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from compiler.cli import main

ROOT = Path(__file__).resolve().parent.parent
S1 = str(ROOT / "specs" / "gicv3_its_fasteoi.irqspec")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler.cli.__main__", *args], capture_output=True, text=True,
                          cwd=ROOT)


def test_shipped_specs_check_clean(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", str(ROOT / "specs")]) == 0
    out = capsys.readouterr().out
    assert "gicv3_its_fasteoi.irqspec: ok" in out


def test_error_exits_2_with_location(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "bad.irqspec"
    f.write_text("spec bad;\nparam CPUS = 2;\nvar x: bool = flase;\n")
    assert main(["check", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}:3:15: error: " in err and "[E301]" in err
    assert "var x: bool = flase;" in err and "^^^^^" in err


def test_json_output(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "bad.irqspec"
    f.write_text("spec bad;\nparam CPUS = 2;\ncpu c { y = true; }\n")
    assert main(["check", "--json", str(f)]) == 2
    data = json.loads(capsys.readouterr().out)
    [d] = data["diagnostics"]
    assert d["code"] == "E201" and d["location"]["line"] == 3 and d["location"]["col"] == 9
    assert data["files"] == [{"path": str(f), "ok": False}]


def test_missing_file_is_E001(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", "no/such/spec.irqspec"]) == 2
    assert "[E001]" in capsys.readouterr().err


def test_huge_file_is_E003(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "huge.irqspec"
    f.write_text("spec huge;\n" + "// padding\n" * 120_000)
    assert main(["check", str(f)]) == 2
    assert "[E003]" in capsys.readouterr().err


def test_unknown_param_is_E211(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", "--param", "CPU=3", S1]) == 2
    err = capsys.readouterr().err
    assert "[E211]" in err and "did you mean `CPUS`?" in err


def test_param_override_is_checked(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", "--param", "CPUS=3", S1]) == 0
    assert main(["check", "--param", "CPUS=0", S1]) == 2
    assert "[E306]" in capsys.readouterr().err


def test_bad_command_line_is_E501_exit_2() -> None:
    r = run("check", "--frobnicate", S1)
    assert r.returncode == 2 and "irqc: error: " in r.stderr and "[E501]" in r.stderr and "Traceback" not in r.stderr


def test_console_script_runs_check() -> None:
    r = run("check", S1)
    assert r.returncode == 0, r.stderr
