"""Packaging: the licence (PEP 639), an sdist that carries what the tests read, one version
string, and the Pygments lexer for `.irqspec` registered under its entry point."""
from __future__ import annotations

import platform
import re
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points, version
from pathlib import Path

import pytest

from compiler import cli

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

pygments = pytest.importorskip("pygments")
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename  # noqa: E402
from pygments.token import Error, Keyword, Name  # noqa: E402

from dsl.lexer import IrqspecLexer  # noqa: E402


def test_license_is_an_spdx_expression_with_its_file() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "irqc authors" in text
    # setuptools reads PEP 639 `license` strings from version 77 on.
    assert any(re.fullmatch(r"setuptools>=(7[7-9]|[89]\d|\d{3})(\.\d+)*", r)
               for r in PYPROJECT["build-system"]["requires"])


def test_sdist_carries_every_folder_the_tests_read() -> None:
    grafted = {line.split()[1] for line in (ROOT / "MANIFEST.in").read_text().splitlines()
               if line.startswith("graft ")}
    read = set()
    for test in (ROOT / "tests").glob("*.py"):
        read |= set(re.findall(r'ROOT / "([A-Za-z_][\w.-]*)"', test.read_text(encoding="utf-8")))
    packages = {"dsl", "compiler"}  # in the sdist as packages
    folders = {name for name in read if (ROOT / name).is_dir()} - packages
    assert {"specs", "generated", "docs", "tests"} <= folders | grafted
    assert folders <= grafted, folders - grafted


def test_one_version_string() -> None:
    assert cli.version() == version("irqc") == PYPROJECT["project"]["version"]
    assert cli._source_tree_version() == PYPROJECT["project"]["version"]


def test_version_names_python_and_z3() -> None:
    import z3

    r = subprocess.run([sys.executable, "-m", "compiler.cli", "--version"], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (f"irqc {version('irqc')} (Python {platform.python_version()}, "
                                f"Z3 {z3.get_version_string()})")


# --------------------------------------------------------------------------- the lexer


def _tokens(text: str) -> list[tuple[object, str]]:
    return list(IrqspecLexer().get_tokens(text))


def test_lexer_is_registered() -> None:
    assert any(ep.name == "irqspec" and ep.value == "dsl.lexer:IrqspecLexer"
               for ep in entry_points(group="pygments.lexers"))
    assert isinstance(get_lexer_by_name("irqspec"), IrqspecLexer)
    assert isinstance(get_lexer_for_filename("specs/x.irqspec"), IrqspecLexer)


@pytest.mark.parametrize("spec", sorted((ROOT / "specs").glob("*.irqspec")), ids=lambda p: p.stem)
def test_every_shipped_spec_lexes_without_errors(spec: Path) -> None:
    text = spec.read_text(encoding="utf-8")
    tokens = _tokens(text)
    assert [v for t, v in tokens if t is Error] == []
    assert "".join(v for _, v in tokens) == text + ("" if text.endswith("\n") else "\n")


def test_every_doc_example_lexes_without_errors() -> None:
    fence = re.compile(r"^```irqspec[ \t]*\n(.*?)^```", re.S | re.M)
    blocks = [b for doc in (ROOT / "docs").rglob("*.md") for b in fence.findall(doc.read_text(encoding="utf-8"))]
    assert blocks
    for block in blocks:
        assert [v for t, v in _tokens(block) if t is Error] == [], block


def test_lexer_knows_the_grammar_and_flags_what_is_not_irqspec() -> None:
    grammar = (ROOT / "dsl" / "irqspec.lark").read_text(encoding="utf-8")
    for word in set(re.findall(r'"([a-z_]+)"', grammar)):
        assert any(v == word and t in Keyword for t, v in _tokens(word)), word
    tokens = _tokens("cpu c {\nidle:\n  raw_spin_lock(&desc->lock); x = $;\n}\n")
    assert (Name.Label, "idle") in tokens and (Name.Attribute, "lock") in tokens
    assert (Name.Function, "raw_spin_lock") in tokens and (Error, "$") in tokens


def test_pygmentize_highlights_a_spec() -> None:
    spec = ROOT / "specs" / "gicv3_its_fasteoi.irqspec"
    r = subprocess.run([sys.executable, "-m", "pygments", "-l", "irqspec", "-f", "html", str(spec)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert '<span class="k">invariant</span>' in r.stdout
