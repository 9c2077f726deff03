"""Coverage and vacuity: steps never taken, invariants whose premise never holds, asserts never
reached; `--strict` turns them into exit status 4.  Through the real front end and command line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler import coverage
from compiler.cli import main
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics, render_all

# The README's tutorial, with the device's only step guarded by a flag nothing sets (issue 8).
TUTORIAL = """spec {name} "a flow handler that drops concurrent invocations";

param CPUS = 2;

var pending: bool[cpu] = false;
var target: cpu = 0;
{armed}
irqdesc desc {{ lock lock; flag inprogress; }}

device dev {{
  var outstanding: bool = false;
  step fire{guard} {{ outstanding = true; pending[target] = true; }}
}}

cpu c {{
  for (;;) {{
  idle:
    atomic {{ await (pending[c]); pending[c] = false; }}
    raw_spin_lock(&desc->lock);
    if (desc->inprogress)
      goto out;
    desc->inprogress = true;
    raw_spin_unlock(&desc->lock);
    dev.outstanding = false;
    raw_spin_lock(&desc->lock);
    desc->inprogress = false;
  out:
    raw_spin_unlock(&desc->lock);
  }}
}}

thread set_affinity {{ target = any t: cpu where t != target; }}

invariant no_lost_interrupt: quiescent ==> !dev.outstanding;
{extra}
"""


def tutorial(folder: Path, name: str, *, never_fires: bool, extra: str = "") -> Path:
    path = folder / f"{name}.irqspec"
    path.write_text(TUTORIAL.format(name=name, armed="var armed: bool = false;" if never_fires else "",
                                    guard=" when (armed)" if never_fires else "", extra=extra), encoding="utf-8")
    return path


def prove(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["prove", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_never_firing_tutorial_lists_fire_and_strict_exits_4(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tutorial(tmp_path, "quiet", never_fires=True)
    code, out, _ = prove(capsys, str(path))
    assert code == 0  # nothing is violated: without --strict the warnings change nothing
    assert "  no_lost_interrupt  proved (exhaustive search, 2 states up to dead variables)" in out
    assert f"{path}:12:3: warning: step dev.fire is never taken [W001]" in out
    assert "[W001]" in out and out.count("[W001]") == 5  # fire, and the four CPU steps it would lead to
    code, out, _ = prove(capsys, str(path), "--strict")
    assert code == 4
    code, out, _ = prove(capsys, str(path), "--json")
    cov = json.loads(out)["specs"][0]["coverage"]
    assert {"agent": "dev", "step": "fire", "path": str(path), "line": 12} in cov["never_taken"]
    assert (cov["steps"], cov["taken"], cov["complete"]) == (6, 1, True)


def test_the_tutorial_takes_every_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tutorial(tmp_path, "tut", never_fires=False)
    code, out, _ = prove(capsys, str(path), "--strict", "--json")
    assert code == 1  # the race: violated, whatever --strict says
    doc = json.loads(out)["specs"][0]
    assert doc["coverage"] == {"steps": 6, "taken": 6, "never_taken": [], "complete": True}
    assert not any("vacuous" in r for r in doc["results"])  # present only when true


def test_an_invariant_whose_premise_never_holds_is_vacuous(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tutorial(tmp_path, "tut", never_fires=False,
                    extra="invariant calm: dev.outstanding && target == 1 && !desc->inprogress && false ==> true;\n"
                          "invariant live: dev.outstanding ==> true;")
    code, out, _ = prove(capsys, str(path), "--property", "calm", "--property", "live")
    assert code == 0
    assert ("  calm  proved (vacuously: the premise `dev.outstanding && target == 1 && !desc->inprogress && false` "
            "is never true; exhaustive search, ") in out
    assert "  live  proved (exhaustive search, " in out
    code, out, _ = prove(capsys, str(path), "--property", "calm", "--property", "live", "--strict", "--json")
    assert code == 4
    vac = {r["property"]: r.get("vacuous", False) for r in json.loads(out)["specs"][0]["results"]}
    assert vac == {"calm": True, "live": False}


ASSERTS = """spec {name};
var x: 0..2 = 0;
var y: bool = false;
thread t {{
  x = x + 1;
  if (y) {{ assert never_here: x == 1; }}
  assert always_here: x == 1;
  x = x + 1;
}}
"""


def test_an_assert_never_reached_is_vacuous(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "asserts.irqspec"
    path.write_text(ASSERTS.format(name="asserts"), encoding="utf-8")
    code, out, _ = prove(capsys, str(path), "--json")
    assert code == 0
    res = {r["property"]: r for r in json.loads(out)["specs"][0]["results"]}
    assert (res["never_here"]["verdict"], res["never_here"]["vacuous"]) == ("proved", True)
    assert "vacuous" not in res["always_here"]
    assert "vacuous" not in res["in_range"]  # built-in checks make no claim of the author's
    code, out, _ = prove(capsys, str(path))
    assert "  never_here   proved (vacuously: no assert of it is ever reached; exhaustive search, " in out


def test_a_cut_search_gives_partial_coverage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tutorial(tmp_path, "tut", never_fires=False)
    code, out, _ = prove(capsys, str(path), "--max-states", "3", "--depth", "1", "--json")
    cov = json.loads(out)["specs"][0]["coverage"]
    assert cov["complete"] is False and cov["taken"] < cov["steps"]
    code, out, _ = prove(capsys, str(path), "--max-states", "3", "--depth", "1")
    assert "warning: step cpu." in out and "is not taken in the 3 states the cut search reached [W001]" in out


def test_z3_alone_reports_no_coverage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tutorial(tmp_path, "quiet", never_fires=True)
    code, out, _ = prove(capsys, str(path), "--engine", "bmc", "--json", "--max-k", "2", "--depth", "3")
    assert "coverage" not in json.loads(out)["specs"][0]
    code, _, _ = prove(capsys, str(path), "--engine", "bmc", "--strict", "--max-k", "2", "--depth", "3")
    assert code == 0  # nothing to be strict about: no search, no evidence either way


def test_scan_stops_once_everything_is_seen(tmp_path: Path) -> None:
    """The scan is lazy: with every step, premise and assert evidenced early it reads few states."""
    from compiler.backends.python import generate, load_simulator

    diags = Diagnostics()
    model = load_model(str(tutorial(tmp_path, "tut", never_fires=False)), {}, diags)
    assert model is not None, render_all(diags)
    params = {p.name: p.default for p in model.params}
    sim = load_simulator(generate(model, model.path), model.name).Simulator(params)
    states = _reachable(sim)
    found = coverage.scan(model, params, sim, states, True)
    assert found.coverage.never_taken == () and found.vacuous == {}
    assert found.coverage.states < len(states)


def _reachable(sim: object) -> list[tuple[int, ...]]:
    seen = list(sim.initial_states())  # type: ignore[attr-defined]
    known = set(seen)
    for s in seen:  # grows while it is read: breadth first
        for t, _ in sim._successors(s):  # type: ignore[attr-defined]
            if t is not None and t not in known:
                known.add(t)
                seen.append(t)
    return seen
