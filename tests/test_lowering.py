"""Lowering: where atomic steps begin and end, inlining, checks, composition.
Each test states a rule of docs/language.md and the IR it must produce."""
from __future__ import annotations

from pathlib import Path

import pytest

from compiler import ir
from compiler.irdump import dump
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics, render_all


def lower(tmp_path: Path, body: str, name: str = "t", **files: str) -> ir.Model:
    for fname, text in files.items():
        (tmp_path / f"{fname}.irqspec").write_text(text)
    path = tmp_path / f"{name}.irqspec"
    path.write_text(body if body.lstrip().startswith("spec") else f"spec {name};\nparam CPUS = 2;\n{body}")
    diags = Diagnostics()
    model = load_model(str(path), {}, diags)
    assert model is not None, render_all(diags)
    return model


def steps(model: ir.Model, agent: str) -> list[str]:
    return [s.text for s in model.agent(agent).steps]


def test_unlocked_statements_are_separate_steps(tmp_path: Path) -> None:
    m = lower(tmp_path, "var a: bool = false; var b: bool = false;\nthread w {\n a = true;\n b = true;\n}\n")
    assert steps(m, "w") == ["a = true;", "b = true;"]
    assert [loc.terminal for loc in m.agent("w").locations] == [False, False, True]


def test_critical_section_is_one_step(tmp_path: Path) -> None:
    m = lower(tmp_path, "lock l; var a: bool = false; var b: bool = false;\n"
                        "thread w {\n lock(l);\n a = true;\n b = true;\n unlock(l);\n a = false;\n}\n")
    assert steps(m, "w") == ["lock(l);", "a = false;"]


def test_atomic_groups_and_yield_splits(tmp_path: Path) -> None:
    m = lower(tmp_path, "lock l; var a: bool = false; var b: bool = false;\n"
                        "thread w {\n atomic { a = true; b = true; }\n lock(l);\n a = false;\n yield;\n"
                        " b = false;\n unlock(l);\n}\n")
    assert steps(m, "w") == ["atomic { a = true; b = true; }", "lock(l);", "yield;"]


def test_await_starts_a_step_and_assert_joins_the_previous(tmp_path: Path) -> None:
    m = lower(tmp_path, "var a: bool = false; var b: bool = false;\n"
                        "thread w {\n a = true;\n assert ok: a;\n await (b);\n}\n")
    first, second = m.agent("w").steps
    assert any(isinstance(s, ir.Check) and s.prop == "ok" for s in first.body)
    assert isinstance(second.body[0], ir.Assume) and second.body[0].reason == "await"


def test_branch_on_own_state_is_not_a_step(tmp_path: Path) -> None:
    m = lower(tmp_path, "var g: bool = false;\nthread w {\n var mine: bool = false;\n"
                        " if (mine)\n  g = true;\n if (g)\n  g = false;\n}\n")
    lines = [s.span.line for s in m.agent("w").steps]
    assert 4 not in lines  # `if (mine)` is folded into the step that follows it
    assert 6 in lines  # `if (g)` reads shared state: a step of its own


def test_loop_inside_a_lock_gets_a_boundary_at_its_head(tmp_path: Path) -> None:
    m = lower(tmp_path, "lock l; var n: 0..3 = 3;\nthread w {\n lock(l);\n while (n > 0) {\n  n -= 1;\n }\n"
                        " unlock(l);\n}\n")
    # one step takes the lock, then one step per iteration, all with the lock held
    w = m.agent("w")
    assert len(w.steps) == 2
    assert any(isinstance(s, ir.Goto) and s.target == w.steps[1].source for s in _flat(w.steps[1].body))


def test_labels_are_per_inlined_call(tmp_path: Path) -> None:
    m = lower(tmp_path, "lock l; var x: bool = false;\n"
                        "fn f() {\n lock(l);\n if (x) goto out;\n x = true;\nout:\n unlock(l);\n}\n"
                        "thread w {\n f();\n f();\n}\n")
    assert len(m.agent("w").steps) == 2


def test_range_checks_only_where_the_type_does_not_guarantee(tmp_path: Path) -> None:
    m = lower(tmp_path, "param N = 2;\nvar x: 0..N = 0; var y: 0..N = 0;\nthread w {\n x += 1;\n y = x;\n}\n")
    incr, copy = m.agent("w").steps
    assert any(isinstance(s, ir.Check) and s.prop == "in_range" for s in incr.body)
    assert not any(isinstance(s, ir.Check) for s in copy.body)
    assert "in_range" in [p.name for p in m.properties]


def test_lock_arrays_are_checked_at_run_time(tmp_path: Path) -> None:
    m = lower(tmp_path, "controller rd[cpu] { lock l; }\ncpu c {\n lock(rd[c].l);\n unlock(rd[c].l);\n}\n")
    assert "lock_discipline" in [p.name for p in m.properties]


def test_scalar_locks_need_no_run_time_check(tmp_path: Path) -> None:
    m = lower(tmp_path, "lock l;\ncpu c {\n lock(l);\n unlock(l);\n}\n")
    assert "lock_discipline" not in [p.name for p in m.properties]


def test_device_steps_are_atomic_self_loops(tmp_path: Path) -> None:
    m = lower(tmp_path, "var p: bool = false;\ndevice d {\n step fire when (!p) { p = true; }\n"
                        " step clear { p = false; }\n}\n")
    d = m.agent("d")
    assert [s.name for s in d.steps] == ["fire", "clear"] and len(d.locations) == 1
    assert all(s.source == 0 for s in d.steps)


def test_cpu_agent_is_per_cpu_and_its_vars_are_arrays(tmp_path: Path) -> None:
    m = lower(tmp_path, "cpu c {\n var mine: bool = false;\n mine = true;\n}\n")
    cpu = m.agent("cpu")
    assert cpu.domain is not None and cpu.domain.name == "cpu"
    [v] = [v for v in m.vars if v.name == "cpu.mine"]
    assert isinstance(v.type, ir.ArrayType)


def test_quiescent_and_deadlock_are_built_in(tmp_path: Path) -> None:
    m = lower(tmp_path, "var p: bool = false;\ndevice d { step fire { p = true; } }\n"
                        "cpu c {\n for (;;) {\n idle:\n  await (p);\n  p = false;\n }\n}\n"
                        "invariant lost: quiescent ==> !p;\n")
    text = dump(m)
    assert "at(cpu[i], {0})" in text and "enabled(cpu[i])" in text
    assert [p.kind for p in m.properties] == ["invariant", "deadlock"]


def test_extends_replaces_in_place_and_adds(tmp_path: Path) -> None:
    base = "spec base;\nparam CPUS = 2;\nvar x: bool = false;\nfn f() { x = true; }\ncpu c { f(); }\n"
    patch = "spec patch extends base;\nvar y: bool = false;\nreplace fn f() { y = true; }\n"
    m = lower(tmp_path, patch, name="patch", base=base)
    assert steps(m, "cpu") == ["replace fn f() { y = true; }"]
    assert [v.name for v in m.vars] == ["x", "y"]
    assert len(m.source_hash) == 64


def test_param_override_changes_sizes_not_the_ir(tmp_path: Path) -> None:
    path = Path(__file__).resolve().parent.parent / "specs" / "gicv3_its_fasteoi.irqspec"
    a, b = Diagnostics(), Diagnostics()
    m2, m3 = load_model(str(path), {}, a), load_model(str(path), {"CPUS": 3}, b)
    assert m2 is not None and m3 is not None
    assert dump(m2).replace("CPUS = 2", "CPUS = 3") == dump(m3)


def _flat(stmts: tuple[ir.Stmt, ...]) -> list[ir.Stmt]:
    out: list[ir.Stmt] = []
    for s in stmts:
        out.append(s)
        if isinstance(s, ir.If):
            out.extend(_flat(s.then) + _flat(s.else_))
    return out


@pytest.mark.parametrize("src,code", [
    ("thread w { x = any t: cpu where t != 0 && y; }\nvar x: cpu = 0; var y: 0..2 = 0;", "E301"),
    ("invariant p: forall i: cpu :: q[i + 1];\nvar q: bool[cpu] = false;", "E301"),
    ("thread w { smp_processor_id(); }", "E201"),
])
def test_front_end_rejects(tmp_path: Path, src: str, code: str) -> None:
    path = tmp_path / "t.irqspec"
    path.write_text(f"spec t;\nparam CPUS = 2;\n{src}\n")
    diags = Diagnostics()
    assert load_model(str(path), {}, diags) is None
    assert code in [d.code for d in diags.items], render_all(diags)
