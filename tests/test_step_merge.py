"""Where a step's paths meet again, lowering writes the code once, after the If, and a Goto
ends its path where it stands (compiler/ir.py).  Before, lowering copied what follows each
meeting point into every branch; `ir.as_tree` still builds that form, and these tests hold
each backend's reading of the new form to it: the Z3 encoding action by action, the Python
simulator state by state, and the compiled search through `test_c_search`'s comparison."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import z3

from compiler import cfg, ir
from compiler.backends.python import generate, load_simulator
from compiler.backends.z3.system import TransitionSystem
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics
from tests.test_fuzz_engines import load_text

ROOT = Path(__file__).resolve().parent.parent
# Each has Ifs whose branches end a path while others go on (1 to 54 of them).
Z3_SPECS = ["gicv3_its_fasteoi", "edge_irq_busywait_fix", "x86_msi_set_affinity", "imsic_naive_move",
            "imsic_move_timer_wrong_cpu"]
SEARCH_SPECS = ["gicv3_its_fasteoi", "fasteoi_resend_disable_enable", "edge_irq_busywait_fix", "simple_irq_resend",
                "imsic_move_timer_wrong_cpu"]

EARLY_EXIT = """spec early_exit;
param CPUS = 2;
irqdesc desc { lock lock; }
var n: 0..3 = 0;
var hits: 0..2 = 0;
var flag: bool = false;
var pend: bool[cpu] = false;
invariant n_small: n <= 2;
cpu c {
  for (;;) {
  idle:
    raw_spin_lock(&desc->lock);
    if (flag) {
      if (n == 1) {
        pend[smp_processor_id()] = true;
        raw_spin_unlock(&desc->lock);
        continue;
      }
      n = n + 1;
    } else {
      flag = true;
      if (pend[smp_processor_id()]) {
        await (hits < 2);
        hits = hits + 1;
      }
    }
    assert one: n <= 2;
    pend[smp_processor_id()] = any bool;
    raw_spin_unlock(&desc->lock);
    flag = false;
  }
}
"""


def tree_model(model: ir.Model) -> ir.Model:
    """`model` with every step body in the form lowering wrote before."""
    agents = tuple(replace(a, steps=tuple(replace(st, body=ir.as_tree(st.body)) for st in a.steps))
                   for a in model.agents)
    return replace(model, agents=agents)


def shipped(name: str) -> ir.Model:
    model = load_model(str(ROOT / "specs" / f"{name}.irqspec"), {}, Diagnostics())
    assert model is not None
    return model


def early_exits(stmts: tuple[ir.Stmt, ...]) -> int:
    """Ifs that end some paths while statements follow them: the form under test."""
    n = 0
    for k, s in enumerate(stmts):
        if isinstance(s, ir.If):
            n += (ir.contains((s,), ir.Goto) and k + 1 < len(stmts)) + early_exits(s.then) + early_exits(s.else_)
    return n


def size(stmts: tuple[ir.Stmt, ...]) -> int:
    return sum(1 + (size(s.then) + size(s.else_) if isinstance(s, ir.If) else 0) for s in stmts)


def encoding_differences(model: ir.Model) -> list[str]:
    """Actions whose guard, writes or failed checks differ between the two forms, for some
    pre-state and choice values (the two encodings share their constants' names)."""
    params = ir.default_params(model)
    new, old = TransitionSystem(model, params), TransitionSystem(tree_model(model), params)
    out = []
    for k, (a, b) in enumerate(zip(new._actions, old._actions)):
        same = [a.guard == b.guard]
        same += [a.writes.get(i, new.pre[i]) == b.writes.get(i, new.pre[i]) for i in set(a.writes) | set(b.writes)]
        same += [a.aborts.get(p, z3.BoolVal(False)) == b.aborts.get(p, z3.BoolVal(False))
                 for p in set(a.aborts) | set(b.aborts)]
        s = new.new_solver()
        s.add(z3.Not(z3.And(same)))
        if s.check() != z3.unsat:
            out.append(f"{model.name}: action {k} ({new.layout.actions[k].step.name})")
    return out


def search(model: ir.Model) -> tuple[object, ...]:
    sim = load_simulator(generate(model, model.path), model.name).Simulator(ir.default_params(model))
    r = sim.explore(2_000_000, None)
    return r.complete, r.states, r.depth, {p: d for p, (d, _) in r.violations.items()}


@pytest.mark.parametrize("name", Z3_SPECS)
def test_z3_encoding_equals_the_copied_form(name: str) -> None:
    model = shipped(name)
    assert sum(early_exits(st.body) for a in model.agents for st in a.steps) > 0
    assert encoding_differences(model) == []


@pytest.mark.parametrize("name", SEARCH_SPECS)
def test_python_search_equals_the_copied_form(name: str) -> None:
    model = shipped(name)
    assert search(model) == search(tree_model(model))


def test_a_handwritten_early_exit(tmp_path: Path) -> None:
    """An unlock-and-continue inside a nested branch, an await on one branch only, and a choice
    and an assert after the meeting point: both forms agree, the merged one is shorter."""
    model = load_text(EARLY_EXIT, tmp_path, "early_exit")
    bodies = [st.body for a in model.agents for st in a.steps]
    assert sum(early_exits(b) for b in bodies) > 0
    assert encoding_differences(model) == []
    assert search(model) == search(tree_model(model))
    assert sum(size(ir.as_tree(b)) for b in bodies) > sum(size(b) for b in bodies)


def test_a_wrong_reading_is_caught(tmp_path: Path) -> None:
    """The comparison can fail: a reading where a Goto in a branch does not end its path (the
    statements after the If run on it too) finds other states."""
    model = load_text(EARLY_EXIT, tmp_path, "early_exit")

    def run_on(stmts: tuple[ir.Stmt, ...]) -> tuple[ir.Stmt, ...]:
        return tuple(ir.If(s.cond, run_on(s.then), run_on(s.else_), s.span) if isinstance(s, ir.If) else s
                     for s in stmts if not isinstance(s, ir.Goto))

    def misread(st: ir.Step) -> ir.Step:
        return replace(st, body=(*run_on(st.body[:-1]), st.body[-1])) if early_exits(st.body) else st

    broken = replace(model, agents=tuple(replace(a, steps=tuple(misread(st) for st in a.steps))
                                         for a in model.agents))
    assert search(broken) != search(model)


def test_branches_that_meet_do_not_multiply(tmp_path: Path) -> None:
    """Sixteen if/else in one critical section: one copy of each, not 2^16 paths' worth (this
    spec was E407 before)."""
    decls = "".join(f"var b{k}: bool = false;\n" for k in range(16))
    body = "".join(f"  if (b{k}) b{k} = false; else b{k} = true;\n" for k in range(16))
    text = (f"spec many_ifs;\nparam CPUS = 1;\nirqdesc desc {{ lock lock; }}\n{decls}"
            f"cpu c {{\n  raw_spin_lock(&desc->lock);\n{body}  raw_spin_unlock(&desc->lock);\n}}\n")
    model = load_text(text, tmp_path, "many_ifs")
    locked = [st for a in model.agents for st in a.steps if st.text.startswith("raw_spin_lock")]
    assert len(locked) == 1 and size(locked[0].body) < 80


def test_a_step_too_long_is_e407(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cfg, "MAX_STEP_NODES", 30)
    body = "".join(f"  n = {k % 3};\n" for k in range(40))
    path = tmp_path / "long.irqspec"
    path.write_text(f"spec long;\nparam CPUS = 1;\nvar n: 0..2 = 0;\ncpu c {{\n  atomic {{\n{body}  }}\n}}\n")
    diags = Diagnostics()
    assert load_model(str(path), {}, diags) is None
    [err] = [d for d in diags.items if d.code == "E407"]
    assert "more than 30 statements" in err.message and err.span.line == 4
