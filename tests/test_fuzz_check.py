"""No input, however broken, crashes `irqc check`: it is clean, or every diagnostic is located.

Mutants of the shipped specs (lines deleted, tokens swapped, cut at random points, bytes
flipped) and random bytes go through the whole front end in-process; a sample also goes
through the real command to check the exit status and that no traceback is printed."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.irqspec"))
TEXTS = [p.read_bytes() for p in SPECS]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])


def check_bytes(tmp_path: Path, name: str, data: bytes) -> Diagnostics:
    """Write `data` as `<name>.irqspec` beside copies of the shipped specs (so `extends` works)."""
    for p in SPECS:
        target = tmp_path / p.name
        if not target.exists():
            target.write_bytes(p.read_bytes())
    path = tmp_path / f"{name}.irqspec"
    path.write_bytes(data)
    diags = Diagnostics()
    load_model(str(path), {}, diags)  # must not raise
    for d in diags.items:
        assert d.span is not None and d.span.line >= 1 and d.span.col >= 1, d
        assert d.span.path == str(path) or d.span.path.endswith(".irqspec")
    return diags


def _lines_deleted(text: bytes, data: st.DataObject) -> bytes:
    lines = text.split(b"\n")
    i = data.draw(st.integers(0, len(lines) - 1))
    n = data.draw(st.integers(1, 4))
    return b"\n".join(lines[:i] + lines[i + n:])


def _tokens_swapped(text: bytes, data: st.DataObject) -> bytes:
    toks = re.split(rb"(\s+)", text)
    words = [i for i, t in enumerate(toks) if t.strip()]
    if not words:
        return text
    i, j = data.draw(st.sampled_from(words)), data.draw(st.sampled_from(words))
    toks[i], toks[j] = toks[j], toks[i]
    return b"".join(toks)


def _cut(text: bytes, data: st.DataObject) -> bytes:
    return text[: data.draw(st.integers(0, len(text)))]


def _flipped(text: bytes, data: st.DataObject) -> bytes:
    b = bytearray(text)
    if not b:
        return text
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(b) - 1))
        b[i] = data.draw(st.integers(0, 255))
    return bytes(b)


MUTATORS = [_lines_deleted, _tokens_swapped, _cut, _flipped]


@FUZZ
@given(st.data())
def test_mutants_of_shipped_specs_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(SPECS) - 1))
    text = TEXTS[k]
    for _ in range(data.draw(st.integers(1, 3))):
        text = data.draw(st.sampled_from(MUTATORS))(text, data)
    check_bytes(tmp_path, SPECS[k].stem, text)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(tmp_path: Path, data: bytes) -> None:
    check_bytes(tmp_path, "random", b"spec random;\n" + data)


TOKENS = ["spec", "t", ";", "param", "CPUS", "=", "2", "var", "x", ":", "bool", "cpu", "c", "{", "}", "(", ")",
          "[", "]", "lock", "l", "raw_spin_lock", "&", "->", ".", "if", "else", "while", "do", "goto", "out",
          "out:", "await", "assert", "atomic", "either", "or", "any", "where", "true", "false", "!", "&&", "||",
          "==>", "==", "+", "1", "0..2", "fn", "f", "thread", "w", "device", "d", "step", "invariant", "p",
          "quiescent", "forall", "i", "::", "idle:", "yield", "return", "break", "replace", "extends", "x[c]"]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=80))
def test_random_token_soup_never_crashes(tmp_path: Path, toks: list[str]) -> None:
    check_bytes(tmp_path, "soup", ("spec soup;\nparam CPUS = 2;\n" + " ".join(toks)).encode())


def test_sample_through_the_real_command(tmp_path: Path) -> None:
    cases = {
        "empty": b"",
        "cut": TEXTS[0][: len(TEXTS[0]) // 2],
        "nul": b"spec nul;\x00",
        "deep": b"spec deep;\ninvariant p: " + b"(" * 5000 + b"true" + b")" * 5000 + b";",
        "long": b"spec long;\nparam CPUS = 2;\ninvariant p: " + b" || ".join([b"true"] * 20000) + b";",
    }
    for name, data in cases.items():
        f = tmp_path / f"{name}.irqspec"
        f.write_bytes(data)
        r = subprocess.run([sys.executable, "-m", "compiler.cli", "check", str(f)], capture_output=True, text=True)
        assert r.returncode in (0, 2), (name, r.stderr)
        assert "Traceback" not in r.stderr, (name, r.stderr)
        if r.returncode == 2:
            assert re.search(rf"{re.escape(str(f))}:\d+:\d+: error: .* \[E\d+\]$", r.stderr, re.M), (name, r.stderr)
