"""The specs shown in docs/language.md and docs/tutorial.md must pass `irqc check`.

Every ```irqspec fenced block that is a complete spec (its first line that is not blank or a
comment starts with `spec`) is written to one temporary folder as `<spec name>.irqspec`, so that
a patch spec finds the base it `extends`, and checked with the real command line.  Blocks that
are fragments (a `replace cpu c { ... }` excerpt, a single statement) are not checked.

The tutorial also quotes what `irqc prove` prints; the verdict lines are compared too (without
the timings, which vary from machine to machine).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "language.md", ROOT / "docs" / "tutorial.md")

_FENCE = re.compile(r"^```irqspec[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_HEADER = re.compile(r"\s*spec\s+([A-Za-z_][A-Za-z0-9_]*)")


def _strip_leading_comments(text: str) -> str:
    """Drop blank lines, `//` lines and `/* */` comments before the first token."""
    while True:
        stripped = text.lstrip()
        if stripped.startswith("//"):
            text = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        elif stripped.startswith("/*") and "*/" in stripped:
            text = stripped.split("*/", 1)[1]
        else:
            return stripped


def complete_specs() -> list[tuple[str, str, str]]:
    """(doc file name, spec name, text) of every complete spec in the docs."""
    found: list[tuple[str, str, str]] = []
    for doc in DOCS:
        for block in _FENCE.findall(doc.read_text(encoding="utf-8")):
            m = _HEADER.match(_strip_leading_comments(block))
            if m:
                found.append((doc.name, m.group(1), block))
    return found


SPECS = complete_specs()


def _irqc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "compiler.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("docs_specs")
    for _doc, name, text in SPECS:
        (d / f"{name}.irqspec").write_text(text, encoding="utf-8")
    return d


def test_docs_have_examples() -> None:
    docs = {doc for doc, _name, _text in SPECS}
    assert docs == {"language.md", "tutorial.md"}, "a doc lost all its ```irqspec examples"
    assert len(SPECS) >= 20


def test_spec_names_are_unique() -> None:
    """Each example is checked as `<name>.irqspec`; two examples with one name would collide."""
    seen: dict[str, str] = {}
    for doc, name, _text in SPECS:
        assert name not in seen, f"spec `{name}` appears in {seen[name]} and {doc}"
        seen[name] = doc


@pytest.mark.parametrize("doc,name,text", SPECS, ids=[f"{d}:{n}" for d, n, _ in SPECS])
def test_example_checks(doc: str, name: str, text: str, spec_dir: Path) -> None:
    r = _irqc("check", f"{name}.irqspec", cwd=spec_dir)
    assert r.returncode == 0, f"{doc}: example `{name}` is rejected by irqc check:\n{r.stderr}{r.stdout}"
    assert r.stdout.strip() == f"{name}.irqspec: ok"


# --------------------------------------------------------------------------- tutorial output

_TIMING = re.compile(r"\s*\(\d+\.\d+ s\)")


def _quoted_outputs(doc: Path) -> dict[str, str]:
    """`$ irqc prove X.irqspec` blocks of the tutorial: command -> the verdict lines it shows."""
    out: dict[str, str] = {}
    text = doc.read_text(encoding="utf-8")
    for block in re.findall(r"^```console[ \t]*\n(.*?)^```[ \t]*$", text, re.S | re.M):
        lines = block.splitlines()
        if not lines or not lines[0].startswith("$ irqc prove "):
            continue
        out[lines[0][2:]] = "\n".join(_verdicts(lines[1:]))
    return out


def _verdicts(lines: list[str]) -> list[str]:
    """The header line and the per-property verdict lines, without timings."""
    keep: list[str] = []
    for line in lines:
        if line.startswith("$ "):  # a second command in the same block (echo $?)
            break
        if ": spec " in line or (line.startswith("  ") and not line.startswith("   ")):
            keep.append(_TIMING.sub("", line).rstrip())
        elif keep and not line.strip():
            break
    return keep


TUTORIAL_RUNS = sorted(_quoted_outputs(ROOT / "docs" / "tutorial.md").items())


def test_tutorial_quotes_prove_runs() -> None:
    assert len(TUTORIAL_RUNS) >= 2


@pytest.mark.parametrize("command,expected", TUTORIAL_RUNS, ids=[c for c, _ in TUTORIAL_RUNS])
def test_tutorial_prove_output(command: str, expected: str, spec_dir: Path) -> None:
    args = command.split()[1:]
    r = _irqc(*args, cwd=spec_dir)
    assert r.returncode in (0, 1), r.stderr
    got = "\n".join(_verdicts(r.stdout.splitlines()))
    assert got == expected, f"`{command}` now prints:\n{r.stdout}"
