"""User mistakes on the command line are exit 2 before any work (issue 13, item 6), and
`irqc build` cleans up after a `kill -9` and never replaces or follows a symbolic link it
does not own (item 7)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compiler.backends.python import MARKER
from compiler.cli import main
from compiler.cli.build import check_generated

SPEC = "var x: bool = false;\nthread th { x = true; }\ninvariant small: !x;\n"  # violated at depth 1


def _spec(folder: Path, name: str = "t") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.irqspec"
    path.write_text(f"spec {name};\n{SPEC}")
    return path


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    _spec(tmp_path / "specs")
    (tmp_path / "afile").write_text("not a folder\n")
    return tmp_path


# --------------------------------------------------------------------------- exit 2, before any work

PROVE_MISTAKES = [
    (["--timeout", "inf"], "--timeout inf: the timeout must be a positive number"),
    (["--timeout", "nan"], "--timeout nan: the timeout must be a positive number"),
    (["--timeout", "-1"], "--timeout -1: the timeout must be a positive number"),
    (["--timeout=-inf"], "--timeout -inf: the timeout must be a positive number"),
    (["--max-states", "-1"], "--max-states -1: must be 0 or more"),
    (["--depth", "-1"], "--depth -1: the depth must be 0 or more"),
    (["--trace-out", "afile"], "--trace-out afile: exists and is not a folder"),
    (["--trace-out", "afile/traces"], "--trace-out afile/traces: cannot create it: "),
    (["--trace-out", "afile/a/b/c"], "is not a folder"),
    (["--trace-out", "dangling"], "--trace-out dangling: is a symbolic link to 'nowhere', which does not exist"),
]


@pytest.mark.parametrize("argv, message", PROVE_MISTAKES, ids=[" ".join(a) for a, _ in PROVE_MISTAKES])
def test_prove_option_mistakes_exit_2_before_any_work(argv: list[str], message: str, project: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    os.symlink("nowhere", project / "dangling")
    t0 = time.monotonic()
    assert main(["prove", "specs", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no result: the spec (violated, exit 1) was never proved
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("irqc: error: ") and lines[0].endswith("[E501]"), err
    assert message in lines[0]
    assert time.monotonic() - t0 < 5
    assert not (project / "afile").is_dir() and (project / "afile").read_text() == "not a folder\n"


@pytest.mark.parametrize("timeout", ["inf", "nan"])
def test_irqc_test_timeout_must_be_finite(timeout: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "specs", "--timeout", timeout]) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"--timeout {timeout}: the timeout must be a positive number" in err and "[E501]" in err


def test_prove_option_mistake_with_json_is_a_json_diagnostic(project: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["prove", "specs", "--json", "--timeout", "inf"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in doc["diagnostics"]] == ["E501"]


def test_prove_trace_out_that_can_be_created_is_accepted(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "specs", "--trace-out", "new/deeper/traces"]) == 1
    assert (project / "new" / "deeper" / "traces" / "t.small.itf.json").is_file()


BUILD_MISTAKES = [
    (["-o", "afile"], "-o afile: exists and is not a folder"),
    (["-o", "afile/out"], "-o afile/out: cannot create it: "),
    (["-o", "afile", "--check"], "-o afile: exists and is not a folder"),
    (["-o", "dangling"], "-o dangling: is a symbolic link to 'nowhere', which does not exist"),
]


@pytest.mark.parametrize("argv, message", BUILD_MISTAKES, ids=[" ".join(a) for a, _ in BUILD_MISTAKES])
def test_build_output_mistakes_exit_2(argv: list[str], message: str, project: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    os.symlink("nowhere", project / "dangling")
    assert main(["build", "specs", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("irqc: error: ") and message in err and "[E501]" in err, err
    assert (project / "afile").read_text() == "not a folder\n" and not (project / "nowhere").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_build_into_a_read_only_folder_is_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "ro").mkdir()
    (project / "ro").chmod(0o555)
    try:
        assert main(["build", "specs", "-o", "ro/out"]) == 2
        assert "is not writable" in capsys.readouterr().err
    finally:
        (project / "ro").chmod(0o755)


def test_build_folder_that_cannot_be_made_is_exit_2_not_70(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A name too long for the file system (ENAMETOOLONG, which os.path.exists hides)."""
    assert main(["build", "specs", "-o", "x" * 300]) == 2
    assert "File name too long" in capsys.readouterr().err


# --------------------------------------------------------------------------- symbolic links at outputs


def test_dangling_link_at_an_output_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "out").mkdir()
    link = project / "out" / "t.py"
    os.symlink("../elsewhere/t.py", link)
    assert main(["build", "specs", "-o", "out"]) == 2
    assert "is a symbolic link to '../elsewhere/t.py'" in capsys.readouterr().err
    assert link.is_symlink() and os.readlink(link) == "../elsewhere/t.py"
    assert not (project / "elsewhere").exists()
    assert check_generated(["specs"], "out").exit_code == 2


def test_link_to_a_foreign_file_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "out").mkdir()
    os.symlink("../afile", project / "out" / "t.py")
    assert main(["build", "specs", "-o", "out"]) == 2
    assert (project / "afile").read_text() == "not a folder\n"
    assert (project / "out" / "t.py").is_symlink()


def test_link_to_a_generated_file_is_written_through(project: Path) -> None:
    """Our decision (docs/simulator.md): the link stays and the marked file it points at is updated."""
    assert main(["build", "specs", "-o", "real"]) == 0
    target = project / "real" / "t.py"
    target.write_text(target.read_text() + "# stale\n")
    (project / "out").mkdir()
    os.symlink("../real/t.py", project / "out" / "t.py")
    assert check_generated(["specs"], "out").exit_code == 1  # stale, through the link
    assert main(["build", "specs", "-o", "out"]) == 0
    assert (project / "out" / "t.py").is_symlink()
    assert target.read_text().startswith(MARKER) and "# stale" not in target.read_text()
    assert check_generated(["specs"], "out").exit_code == 0


# --------------------------------------------------------------------------- leftovers of a killed build


def _temp_name(output: str, pid: int) -> str:
    return f".{output}.irqc-{pid}-abcd1234.tmp"


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temp_files_are_reported_then_removed_and_nothing_else(project: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "specs", "-o", "out"]) == 0
    out = project / "out"
    dead = _dead_pid()
    partial = out / _temp_name("t.py", dead)
    partial.write_text(MARKER[:20])  # killed mid-write
    empty = out / _temp_name("gone.py", dead)
    empty.write_text("")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy = out / _temp_name("t.py", live.pid)  # another build still writing: not ours to remove
        busy.write_text(MARKER)
        keep = [out / _temp_name("t.py", dead).replace("abcd1234", "user"),  # looks like ours, is not
                out / ".t.py.tmp", out / "notes.tmp", out / f".t.py.irqc-{dead}-x.tmp.bak"]
        keep[0].write_text("my own notes\n")
        for k in keep[1:]:
            k.write_text("")
        capsys.readouterr()
        result = check_generated(["specs"], "out")
        assert result.exit_code == 1
        assert sorted(p.path.name for p in result.problems if p.kind == "leftover") == sorted([partial.name, empty.name])
        assert main(["build", "specs", "-o", "out", "--check"]) == 1
        assert "is a temporary file left by an interrupted `irqc build`" in capsys.readouterr().err
        assert main(["build", "specs", "-o", "out"]) == 0
        assert "removed (a temporary file left by an interrupted build)" in capsys.readouterr().out
        assert not partial.exists() and not empty.exists()
        assert busy.exists() and all(k.exists() for k in keep)
        assert keep[0].read_text() == "my own notes\n"
    finally:
        live.kill()
        live.wait()


N_SPECS = 24


def _kill_mid_write(root: Path, out: Path) -> list[str]:
    """Start `irqc build`, SIGKILL it while it has a temp file open after a few outputs are
    written; the folder's names at that moment."""
    proc = subprocess.Popen([sys.executable, "-m", "compiler.cli", "build", "specs", "-o", str(out)], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                names = os.listdir(out)
            except FileNotFoundError:
                time.sleep(0.01)
                continue
            if any(n.endswith(".tmp") for n in names) and sum(n.endswith(".py") for n in names) >= 3:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        if proc.poll() is None and time.monotonic() >= deadline:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    return sorted(os.listdir(out))


def test_sigkill_during_build_then_next_build_is_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    for k in range(N_SPECS):
        _spec(tmp_path / "specs", f"s{k:02d}")
    monkeypatch.chdir(tmp_path)
    assert main(["build", "specs", "-o", "reference"]) == 0
    expected = {p.name: p.read_bytes() for p in (tmp_path / "reference").iterdir()}
    out = tmp_path / "out"
    for _ in range(3):  # the kill can land just after a rename: try again for a leftover
        left = _kill_mid_write(tmp_path, out)
        if any(n.endswith(".tmp") for n in left):
            break
    temps = [n for n in left if n.endswith(".tmp")]
    assert temps, f"no temp file was left by three kills: {left}"
    for name in left:  # what the killed build left is whole: old, new, or ours to remove
        if name.endswith(".py"):
            assert (out / name).read_bytes() == expected[name]
    result = check_generated(["specs"], "out")
    kinds = {p.path.name: p.kind for p in result.problems}
    assert all(kinds[t] == "leftover" for t in temps) and result.exit_code == 1
    assert main(["build", "specs", "-o", "out"]) == 0
    after = sorted(os.listdir(out))
    assert after == sorted(expected)  # every output, and no .tmp
    for name in after:
        data = (out / name).read_bytes()
        assert data == expected[name]
        compile(data, name, "exec")
    assert check_generated(["specs"], "out").exit_code == 0
