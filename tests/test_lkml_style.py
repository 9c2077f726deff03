"""`--style lkml`, the race diagram: on every shipped violation no line is wider than 75
columns, every step is a function-level event (never a raw statement), ghost state stays out
of the footnotes, and S1's diagram is Gowans's (docs/specs/gicv3_its_fasteoi.md shows both).

The violations come from each shipped spec's generated simulator (the search `irqc prove` runs
first), at its default parameters; the diagram is drawn from the ITF document exactly as
`irqc prove --style lkml`, `irqc trace --to lkml` and the simulator's `run --style lkml` do.
"""
from __future__ import annotations

import contextlib
import functools
import io
import types
from pathlib import Path
from typing import Any

import pytest

from compiler import events, traceview
from compiler.backends.python.generate import generate
from compiler.cli import main
from compiler.pipeline import load_model
from compiler.trace import Trace, from_itf, to_itf
from dsl.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.irqspec"))
MAX_STATES = 20_000  # keeps the file near a minute; the shallow violations are all found by then


@functools.lru_cache(maxsize=None)
def diagrams(spec: Path) -> list[tuple[str, Trace, str]]:
    """(property, annotated trace, race diagram) of each violation the search finds."""
    model = load_model(str(spec), {}, Diagnostics())
    assert model is not None, spec
    mod = types.ModuleType(model.name)
    exec(compile(generate(model, str(spec)), str(spec), "exec"), mod.__dict__)
    sim = mod.Simulator()
    res = sim.explore(MAX_STATES)
    table = events.step_events(model)
    out = []
    for prop, (depth, path) in sorted(res.violations.items()):
        if depth == 0:
            continue
        trace = from_itf(sim.trace(path, prop, depth))
        events.annotate(trace, model, table)
        out.append((prop, trace, traceview.render_lkml(to_itf(trace))))
    return out


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_violation_fits_75_columns_and_names_functions(spec: Path) -> None:
    found = diagrams(spec)
    for prop, trace, text in found:
        wide = [line for line in text.splitlines() if len(line) > 75]
        assert not wide, (prop, wide)
        for st in trace.states[1:]:
            # every step was matched to a path of its body: its cell is an event, not a statement
            assert st.event, (prop, st.index, st.step)
            if trace.kinds.get(st.agent or "") == "cpu":
                assert st.text not in st.event, (prop, st.index, st.event)
        for ghost in trace.hidden:
            assert f" {ghost}=" not in text and f" {ghost}[" not in text, (prop, ghost)


def test_the_specs_expected_violations_are_drawn() -> None:
    """The test above is not vacuous: the shallow shipped violations are among those drawn."""
    drawn: set[tuple[str, str]] = set()
    for name in ("gicv3_its_fasteoi", "fasteoi_rerun_loop"):
        drawn |= {(name, prop) for prop, _, _ in diagrams(ROOT / "specs" / f"{name}.irqspec")}
    assert {("gicv3_its_fasteoi", "no_lost_interrupt"), ("fasteoi_rerun_loop", "affinity_respected"),
            ("fasteoi_rerun_loop", "bounded_rerun")} <= drawn


def lanes_of(text: str) -> list[list[str]]:
    """The diagram's rows, split into lane cells (header and rule excluded)."""
    rows = []
    for line in text.splitlines()[2:]:
        if not line.strip():
            break
        rows.append([c.strip() for c in line.split("|")])
    return rows


def test_s1_reads_like_gowans_diagram() -> None:
    """Gowans's diagram, in order: CPU 0 takes the interrupt and runs the handler; set_affinity
    moves it to CPU 1; CPU 1 takes it, handle_fasteoi_irq takes the early out; CPU 0 returns."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["prove", str(ROOT / "specs" / "gicv3_its_fasteoi.irqspec"), "--style", "lkml",
                     "--quiet", "--property", "no_lost_interrupt"]) == 1
    assert max(len(line) for line in buf.getvalue().splitlines()) <= 75  # every line, not only the diagram's
    text = buf.getvalue().split("counterexample, 9 steps\n", 1)[1]
    head = text.splitlines()[0]
    assert [c.strip() for c in head.split("|")] == ["CPU 0", "CPU 1", "nic", "set_affinity"]
    cells: list[tuple[int, str]] = []
    for row in lanes_of(text):
        for lane, cell in enumerate(row):
            if cell and cell != "...":
                cells.append((lane, cell))
    # unwrap: a continuation line starts with two spaces in the raw text, here it follows its lane
    story = " / ".join(f"{lane}:{cell}" for lane, cell in cells)
    order = ["0:interrupt start", "0:handle_fasteoi_irq", "0:handle_irq_event_percpu", "3:set_affinity",
             "1:interrupt start", "1:handle_fasteoi_irq", "1:irq_may_run() ->", "1:early out", "1:interrupt end",
             "0:handle_fasteoi_irq", "0:return", "0:interrupt end"]
    at = 0
    for want in order:
        found = story.find(want, at)
        assert found >= 0, (want, story[at:])
        at = found + len(want)
    assert max(len(line) for line in text.splitlines()) <= 75
    assert "aff_w" not in text and "cpu.runs" not in text  # S1's ghost state (AFF, BOUND) is hidden
    assert "[1] step 1 (nic): nic.outstanding=1" in text


def test_stacked_when_lanes_cannot_fit() -> None:
    """Many acting lanes: one entry per step, still nothing wider than 75 columns, nothing cut."""
    states: list[dict[str, Any]] = [{"#meta": {"index": 0}, "x": False}]
    for k in range(1, 8):
        states.append({"#meta": {"index": k, "instance": f"worker_thread_{k}", "agent": f"worker_thread_{k}",
                                 "step": "go", "event": ["a_rather_long_function_name_that_does_not_fit()"]},
                       "x": bool(k % 2)})
    doc = {"#meta": {"property": "p", "violated_at": 7}, "vars": ["x"], "states": states}
    text = traceview.render_lkml(doc)
    assert max(len(line) for line in text.splitlines()) <= 75
    assert text.count("a_rather_long_function_name_that_does_not_fit()") == 7


def test_simulator_and_irqc_draw_the_same_diagram(tmp_path: Path) -> None:
    """One implementation: the simulator's `replay --style lkml` prints, byte for byte, what
    `irqc trace --to lkml` prints for the same trace; `run --style lkml` fits 75 columns too;
    a simulator's `explore` trace (which carries no events) gets them from its spec."""
    import subprocess
    import sys

    spec = ROOT / "specs" / "gicv3_its_fasteoi.irqspec"
    model = load_model(str(spec), {}, Diagnostics())
    assert model is not None
    sim = tmp_path / "s1.py"
    sim.write_text(generate(model, "specs/gicv3_its_fasteoi.irqspec"), encoding="utf-8")
    subprocess.run([sys.executable, "-I", "-S", str(sim), "explore", "--trace-out", str(tmp_path)], cwd=ROOT,
                   capture_output=True, text=True, check=False)
    trace = tmp_path / "gicv3_its_fasteoi.no_lost_interrupt.itf.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["trace", str(trace), "--to", "lkml"]) == 0
    drawn = buf.getvalue()
    assert "irq_may_run() ->" in drawn  # events from the spec, not the fallback
    rep = subprocess.run([sys.executable, "-I", "-S", str(sim), "replay", "--style", "lkml", str(trace)], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout.split("\n", 1)[1].startswith(drawn)  # then replay's verdict lines
    run = subprocess.run([sys.executable, "-I", "-S", str(sim), "run", "--seed", "7", "--steps", "40", "--style", "lkml"],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert run.returncode in (0, 1) and run.stdout.count("\n") > 10, run.stderr
    assert max(len(line) for line in run.stdout.splitlines()[1:]) <= 75
