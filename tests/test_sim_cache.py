"""The cache of the simulators irqc runs itself (compiler/backends/python/cache.py)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from compiler import ir
from compiler.backends.python import cache
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "gicv3_its_fasteoi.irqspec"


def _model() -> ir.Model:
    m = load_model(str(SPEC), {}, Diagnostics())
    assert m is not None
    return m


def _no_generate(*_a: object, **_k: object) -> str:
    raise AssertionError("generated again")


def test_a_second_run_reads_the_compiled_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRQC_CACHE_DIR", str(tmp_path))
    m = _model()
    first = cache.simulator(m, m.path).Simulator({}).explore()
    assert len(list((tmp_path / "simulators").glob("sim-*.marshal"))) == 1
    monkeypatch.setattr(cache, "generate", _no_generate)
    again = cache.simulator(m, m.path).Simulator({}).explore()
    assert (again.states, {p: d for p, (d, _) in again.violations.items()}) == \
        (first.states, {p: d for p, (d, _) in first.violations.items()})


def test_another_model_or_option_is_another_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRQC_CACHE_DIR", str(tmp_path))
    m = _model()
    cache.simulator(m, m.path)
    cache.simulator(m, m.path, events=False)
    cache.simulator(replace(m, properties=m.properties[:1]), m.path)  # a rewritten model: the probe's case
    assert len(list((tmp_path / "simulators").glob("sim-*.marshal"))) == 3


def test_a_damaged_entry_is_generated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRQC_CACHE_DIR", str(tmp_path))
    m = _model()
    cache.simulator(m, m.path)
    (entry,) = (tmp_path / "simulators").glob("sim-*.marshal")
    entry.write_bytes(b"not marshal")
    assert cache.simulator(m, m.path).Simulator({}).explore().complete
    assert entry.read_bytes() != b"not marshal"


def test_a_folder_that_cannot_be_written_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("IRQC_CACHE_DIR", str(blocker))  # simulators/ under a file: cannot be made
    m = _model()
    assert cache.simulator(m, m.path).Simulator({}).explore().complete
