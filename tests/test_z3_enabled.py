"""Enabledness in a property's state (`quiescent`, `deadlock`, `enabled(...)`) from the transition
system's own run of each step, with the choices' values substituted, equals running the step
again once per combination of values (what symexec did before, and still does where no run
of the transition system matches: a step guard's `enabled()`, other engines' evaluators)."""
from __future__ import annotations

from pathlib import Path

import pytest
import z3

from compiler import ir
from compiler.backends.z3 import symexec
from compiler.backends.z3.system import TransitionSystem
from compiler.ir import default_params
from tests.specgen import generate
from tests.test_fuzz_engines import load_text

ROOT = Path(__file__).resolve().parent.parent
SPECS = ["gicv3_its_fasteoi", "fasteoi_resend_disable_enable", "edge_irq_busywait_fix", "imsic_naive_move"]


def differences(model: ir.Model, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    params = default_params(model)
    by_substitution = TransitionSystem(model, params)
    props = [p for p in model.properties if p.invariant_expr() is not None]
    with monkeypatch.context() as m:  # the system builds its actions when first asked: ask here
        m.setattr(symexec.Evaluator, "remember_run", lambda *_a, **_k: None)
        by_execution = TransitionSystem(model, params)
        executed = {p.name: by_execution.invariant(p, "0") for p in props}
    out = []
    for p in props:
        s = by_execution.new_solver()
        state = by_execution.state("0")
        s.add(by_execution.domain(state))
        s.add(z3.Xor(executed[p.name], by_substitution.invariant(p, "0")))
        if s.check() != z3.unsat:
            out.append(f"{model.name}: {p.name}")
    return out


@pytest.mark.parametrize("name", SPECS)
def test_shipped_specs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from compiler.pipeline import load_model
    from dsl.diagnostics import Diagnostics

    model = load_model(str(ROOT / "specs" / f"{name}.irqspec"), {}, Diagnostics())
    assert model is not None
    assert differences(model, monkeypatch) == []


def test_random_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = []
    for seed in range(12):
        bad += differences(load_text(generate(seed, f"fuzz_{seed}"), tmp_path, f"fuzz_{seed}"), monkeypatch)
    assert bad == []


def test_a_wrong_substitution_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison can fail: enabledness that ignores every choice's `where` differs on S4."""
    from compiler.pipeline import load_model
    from dsl.diagnostics import Diagnostics

    model = load_model(str(ROOT / "specs" / "imsic_naive_move.irqspec"), {}, Diagnostics())
    assert model is not None
    monkeypatch.setattr(symexec.Evaluator, "_enabled_by_substitution",
                        lambda self, effect, placeholders: symexec.TRUE)
    assert differences(model, monkeypatch) != []
