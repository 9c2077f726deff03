"""A per-CPU agent besides the cpu block (a timer) keeps its pcs in place under a permutation
of CPU ids, so the search must not reduce such a spec by symmetry."""
from __future__ import annotations

from pathlib import Path

from compiler import symmetry
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics

TIMER = """spec timer_sym;
param CPUS = 2;
var hits: bool[cpu] = false;
cpu c {
  timer t = tick;
  for (;;) {
  idle:
    mod_timer(&t);
  }
}
fn tick() { hits[c] = true; }
invariant some: hits[0] ==> hits[0];
"""


def test_a_spec_with_per_cpu_timers_is_not_reduced(tmp_path: Path) -> None:
    path = tmp_path / "timer_sym.irqspec"
    path.write_text(TIMER)
    diags = Diagnostics()
    model = load_model(str(path), {}, diags)
    assert model is not None, [d.message for d in diags.items]
    a = symmetry.analyse(model)
    assert not a.symmetric
    assert any("agent `t` has one instance per value of `cpu`" in r for r in a.reasons)
