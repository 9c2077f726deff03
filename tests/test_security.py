"""Outside text never becomes code in a generated simulator (issue 13, item 2).

Paths, titles, step texts and names reach the generated Python only through repr() or the
one comment/docstring sanitiser of compiler/backends/python/generate.py.  Each payload here
would create the file `PWNED` in the current directory if it ran; every test builds the spec,
proves it (which loads the simulator in-process), runs the built simulator, and checks that
the marker does not exist and that everything still works.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.backends.python.generate import comment_safe, docstring_safe
from compiler.cli import main

RUN = "open('PWNED', 'w').close()"
SPEC_BODY = "var x: bool = false;\nthread th {{ x = true; {extra}}}\ninvariant small: !x || x;\n"

# Folder names: every way out of a `#` comment, a docstring or a string literal we know of.
DIR_PAYLOADS = {
    "newline": f"a\n{RUN}\n#",
    "carriage_return": f"a\r{RUN}\r#",
    "crlf": f"a\r\n{RUN}\r\n#",
    "form_feed_vt": f"a\x0c\x0b\n{RUN}\n#",
    "line_separator": f"a\u2028{RUN}\u2029\x85#",
    "triple_double": f'a"""\n{RUN}\n"""',
    "triple_single": f"a'''\n{RUN}\n'''",
    "quotes": f"a\"; {RUN}; \"'; {RUN}; '",
    "backslash_newline": f"a\\\n{RUN} #\\",
    "trailing_backslash": "a\\",
    "hash": f"a # {RUN} #",
    "escape_sequences": "a\\n\\x00\\u2028\\N{LATIN SMALL LETTER A}",
    "control": "a\x01\x1b[31m\x7f",
    "bidi": f"a\u202e{RUN}\u202c",
    "coding_cookie": "x -*- coding: latin-1 -*-",
    "coding_utf7": f"x coding=utf-7 +AAo-{RUN.replace(chr(39), '+ACI-')}",
}


def _spec_text(name: str = "t", title: str | None = None, extra: str = "") -> str:
    head = f'spec {name} "{title}";\n' if title is not None else f"spec {name};\n"
    return head + SPEC_BODY.format(extra=extra)


def _write_spec(folder: Path, text: str, stem: str = "t") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.irqspec"
    path.write_bytes(text.encode("utf-8"))
    return path


def _run_simulator(path: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(path), *args], cwd=cwd, capture_output=True, text=True,
                          errors="replace", timeout=60)


def _build_prove_run(spec_arg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Build, prove in-process, run the built simulator; every step must succeed and run nothing."""
    assert main(["build", spec_arg, "-o", "out"]) == 0, capsys.readouterr().err
    assert main(["prove", spec_arg]) == 0, capsys.readouterr().err
    built = tmp_path / "out" / "t.py"
    data = built.read_bytes()
    data.decode("utf-8")  # strict: the file is valid UTF-8 whatever the path's bytes were
    enc, _ = tokenize.detect_encoding(iter(data.splitlines(keepends=True)).__next__)
    assert enc == "utf-8"  # no coding cookie slipped into line 2
    compile(data, str(built), "exec")
    r = _run_simulator(built, tmp_path, "explore")
    assert r.returncode == 0, r.stderr
    assert "small (invariant): holds" in r.stdout
    assert not (tmp_path / "PWNED").exists()
    return built


@pytest.mark.parametrize("payload", list(DIR_PAYLOADS.values()), ids=list(DIR_PAYLOADS))
def test_folder_name_is_never_code(payload: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _write_spec(tmp_path / payload, _spec_text())
    built = _build_prove_run(payload, tmp_path, capsys)
    text = built.read_text(encoding="utf-8")
    spec_line = text.splitlines()[1]
    assert spec_line.startswith("# spec: ../")
    # SPEC holds the path itself (repr), so the simulator's traces name the real file.
    namespace: dict[str, object] = {}
    spec_assign = next(line for line in text.splitlines() if line.startswith("SPEC = "))
    exec(spec_assign, namespace)  # noqa: S102 - a single literal assignment
    assert namespace["SPEC"] == f"../{payload}/t.irqspec"


def test_non_utf8_folder_and_output_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Undecodable bytes in paths: no exit 70 anywhere (they used to fail writing the file)."""
    monkeypatch.chdir(tmp_path)
    folder = os.fsdecode(b"bad\xff\xfe\n" + RUN.encode() + b"\n#")
    _write_spec(tmp_path / folder, _spec_text())
    built = _build_prove_run(folder, tmp_path, capsys)
    assert "# spec: ../bad\\xff\\xfe\\nopen(" in built.read_text(encoding="utf-8")
    out = os.fsdecode(b"out\xff")
    assert main(["build", folder, "-o", out]) == 0
    assert (tmp_path / out / "t.py").read_bytes() == built.read_bytes()


@pytest.mark.parametrize("command", [["check"], ["prove"], ["build", "-o", "o\udcffut"], ["build", "--check"]])
def test_non_utf8_paths_with_a_strict_stdout(command: list[str], tmp_path: Path) -> None:
    """With a UTF-8 locale Python's stdout refuses the surrogates of an undecodable file name."""
    folder = tmp_path / os.fsdecode(b"bad\xff")
    _write_spec(folder, _spec_text())
    env = dict(os.environ, PYTHONIOENCODING="utf-8")  # errors="strict"
    r = subprocess.run([sys.executable, "-m", "compiler.cli", command[0], os.fsencode(str(folder)), *command[1:]],
                       cwd=tmp_path, capture_output=True, env=env, timeout=120)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode in (0, 1) and "Traceback" not in err, err  # --check of a missing file: 1
    assert b"\\udcff" in r.stdout + r.stderr  # shown escaped, as Python shows it


@pytest.mark.parametrize("title", [
    "a\\", "'''" + RUN + "'''", "\\\\\\", "x\\\"\"\"", "a\x00b", "a\rb\x0c\x0bc", "a\x1b[2J\x07",
    "a\u2028" + RUN, "\u202e" + RUN, "# " + RUN, "\\N{BULLET}\\x41\\u0041",
])
def test_title_is_never_code(title: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _write_spec(tmp_path / "specs", _spec_text(title=title))
    if '"' in title or "\x00" in title:  # the front end refuses these, with a location
        assert main(["build", "specs", "-o", "out"]) == 2
        assert "t.irqspec:1:" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()
        return
    built = _build_prove_run("specs", tmp_path, capsys)
    doc = ast.get_docstring(ast.parse(built.read_text(encoding="utf-8")))
    assert doc is not None and doc.startswith("Simulator of spec `t`: ")
    assert "\n" not in doc.split("\n\n", 1)[0]  # the title stays on its line


@pytest.mark.parametrize("comment", [
    f'/* """\n{RUN}\n""" */', f"/* '''\\\n{RUN} */", "/* \x00 \x1b[2J \x7f */", f"/* \r{RUN}\r */",
    f"/* \u2028{RUN}\u2029 */", "/* \\ */", f"// \\\n",
])
def test_step_text_is_never_code(comment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A step's text (its source, comments included) is printed above its function."""
    monkeypatch.chdir(tmp_path)
    _write_spec(tmp_path / "specs", _spec_text(extra=comment + "\n"))
    r = main(["check", "specs"])
    if r != 0:  # the front end may refuse a character: then it says where, and that is all
        assert r == 2 and "t.irqspec:" in capsys.readouterr().err
        return
    _build_prove_run("specs", tmp_path, capsys)


def test_python_names_in_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Identifiers are [A-Za-z_][A-Za-z0-9_]*; ones that are Python keywords, builtins or the
    generated code's own locals (s, i, out, L, P) must still give working code."""
    monkeypatch.chdir(tmp_path)
    text = ("spec t;\nparam CPUS = 2;\nparam P = 1;\nparam L = 1;\n"
            "type sys = enum { os, None, True, __import__ };\n"
            "var s: bool = false;\nvar i: 0..1 = 0;\nvar out: sys = os;\nvar exec: bool[0..(CPUS-1)] = false;\n"
            "thread lambda { s = true; out = None; }\n"
            "cpu c { for (;;) { idle: atomic { await (s); exec[c] = true; } } }\n"
            "invariant small: !s || s;\ninvariant __import__: out != True;\n")
    _write_spec(tmp_path / "specs", text)
    _build_prove_run("specs", tmp_path, capsys)


@pytest.mark.parametrize("stem", [f"a\n{RUN}\n#", "a'''b", 'a"""b', "a\\b", os.fsdecode(b"a\xffb")])
def test_odd_file_names_are_refused_with_a_location(stem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The output file is named after the spec file, whose stem must be the spec's name (an
    identifier): anything else is E212, exit 2, and nothing is written."""
    monkeypatch.chdir(tmp_path)
    _write_spec(tmp_path / "specs", _spec_text(), stem=stem)
    assert main(["build", "specs", "-o", "out"]) == 2
    assert "[E212]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "PWNED").exists()


STDLIB_NAMES = ["argparse", "json", "random", "os", "itertools", "time", "re", "encodings"]


def test_specs_named_like_standard_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`python3 out/t.py` puts out/ first on sys.path: out/json.py (the simulator of spec `json`)
    must not be imported in place of the standard module, by any simulator in the folder."""
    monkeypatch.chdir(tmp_path)
    for name in [*STDLIB_NAMES, "t"]:
        _write_spec(tmp_path / "specs", _spec_text(name=name), stem=name)
    assert main(["build", "specs", "-o", "out"]) == 0, capsys.readouterr().err
    for name in [*STDLIB_NAMES, "t"]:
        for cwd in (tmp_path, tmp_path / "out"):
            script = tmp_path / "out" / f"{name}.py"
            r = _run_simulator(script, cwd, "run", "--seed", "1", "--steps", "3")
            assert r.returncode in (0, 1) and "Traceback" not in r.stderr, (name, r.stderr)
            assert f"random run of {name}" in r.stdout
    r = subprocess.run([sys.executable, "-m", "json", "explore"], cwd=tmp_path / "out", capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "explore json" in r.stdout, r.stderr


# --------------------------------------------------------------------------- the sanitiser itself

ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=()), max_size=40)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_comment_safe_is_one_printable_line(text: str) -> None:
    safe = comment_safe(text)
    safe.encode("utf-8")
    assert safe.isprintable() and "\n" not in safe
    tree = compile(f"x = 1\n# {safe}\ny = 2\n", "<t>", "exec", ast.PyCF_ONLY_AST)
    assert len(tree.body) == 2  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_docstring_safe_round_trips_to_the_comment_text(text: str) -> None:
    for source in (f'"""{docstring_safe(text)}"""', f'"""a {docstring_safe(text)}."""'):
        value = ast.literal_eval(source)
        assert comment_safe(text) in value


def test_comment_safe_examples() -> None:
    assert comment_safe("specs/x.irqspec") == "specs/x.irqspec"
    assert comment_safe("a\nb\\c\td") == "a\\nb\\\\c\\td"
    assert comment_safe(os.fsdecode(b"a\xff")) == "a\\xff"
    assert comment_safe("\u2028\x00é") == "\\u2028\\x00é"
    assert comment_safe("coding: latin-1") == "coding\\x3a latin-1"
