"""Random valid specs (tests/specgen.py) through the three engines, plus replay (issue 13).

For each spec: the generated simulator's exhaustive `explore()`, `engine.check` as `irqc prove`
runs it (search, then Z3 for each counterexample) and `engine.check(engine="bmc")` (Z3 bounded
model checking and k-induction alone) must give every property the same verdict and the same
shortest violation depth, and every counterexample (Z3's and the search's own) must replay in
the simulator, violating that property at that step.  A disagreement fails with the spec text,
ready to be saved as a regression case.

IRQC_FUZZ_N sets how many specs (default 30; bench/fuzz_campaign.py runs thousands), IRQC_FUZZ_SEED the first seed (default 0).
`bench/fuzz_campaign.py` runs the same cross-check on a thousand specs and more.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

from compiler import engine, ir
from compiler.backends.python import generate as generate_simulator
from compiler.backends.python import load_simulator
from compiler.pipeline import load_model
from compiler.results import PropertyResult
from compiler.trace import to_itf
from dsl.diagnostics import Diagnostics, render_all
from tests.specgen import generate

N = int(os.environ.get("IRQC_FUZZ_N", "30"))
FIRST = int(os.environ.get("IRQC_FUZZ_SEED", "0"))
# A few generated specs reach tens of thousands of states; past this the search is cut and the
# engines are compared on the runs it covered in full.
MAX_STATES = 20_000
MAX_K = 6  # k-induction beyond this proves nothing more on specs this small, and costs


def load_text(text: str, directory: Path, name: str = "fuzz") -> ir.Model:
    """The checked, lowered model of `text`, saved as `<name>.irqspec` in `directory`."""
    path = directory / f"{name}.irqspec"
    path.write_text(text)
    diags = Diagnostics()
    model = load_model(str(path), {}, diags)
    assert model is not None and not diags.items, f"generated spec rejected:\n{render_all(diags)}\n{text}"
    return model


def crosscheck(model: ir.Model, params: dict[str, int] | None = None) -> list[str]:
    """Every way the three engines and replay disagree about `model` (empty: they agree).
    An exception is a problem too (`BackendDisagreement`, a simulator refusing its own state)."""
    try:
        return _crosscheck(model, params)
    except Exception:  # noqa: BLE001 - any crash is a finding, reported with the spec
        return ["crashed:\n" + traceback.format_exc()]


def _crosscheck(model: ir.Model, params: dict[str, int] | None) -> list[str]:
    params = ir.default_params(model) if params is None else params
    sim: Any = load_simulator(generate_simulator(model, model.path), model.name).Simulator(params)
    ex = sim.explore(MAX_STATES)
    # A complete search saw every state; a check can still fail on the step after the deepest one.
    # A cut one (or one that stopped because every property was violated) covered `bound` steps.
    bound = ex.depth + 1 if ex.complete else ex.bound
    found = {p: d for p, (d, _) in ex.violations.items()}
    shortest = {p.name: found.get(p.name) if found.get(p.name, bound + 1) <= bound else None
                for p in model.properties}
    problems = [f"search: {p}: {why}" for p, why in _replay_search(sim, ex)]
    auto = engine.check(model, params, depth=bound, max_states=MAX_STATES, max_k=MAX_K)
    bmc = engine.check(model, params, depth=bound, engine="bmc", max_k=MAX_K)
    for name, results in (("default engine", auto), ("bmc", bmc)):
        for r in results:
            problems += [f"{name}: {r.property}: {why}" for why in _judge(r, shortest[r.property], found, ex.complete)]
            if r.trace is not None:
                problems += [f"{name}: {r.property}: {why}" for why in _replay(sim, to_itf(r.trace), r.property, r.depth)]
    return problems


# A cover is judged as the invariant `!E`: covered is violated, unreachable is proved.
AS_INVARIANT = {"covered": "violated", "unreachable": "proved", "not_covered": "holds"}


def _judge(r: PropertyResult, shortest: int | None, found: dict[str, int], complete: bool) -> list[str]:
    said = f"says {r.summary()}"
    verdict = AS_INVARIANT.get(r.verdict, r.verdict)
    if shortest is not None:
        return [] if (verdict, r.depth) == ("violated", shortest) else \
            [f"{said}, the search finds a shortest violation (or witness) at depth {shortest}"]
    if verdict == "violated":
        return [f"{said}, the search finds none that short"]
    if verdict == "inconclusive":
        return [f"{said} with no time limit"]
    if verdict == "proved" and r.property in found:
        return [f"{said}, the search finds a violation (or witness) at depth {found[r.property]}"]
    if complete and r.method.startswith("exhaustive") and verdict != "proved":
        return [f"{said} after a complete search"]
    return []


def _replay(sim: Any, doc: dict[str, Any], prop: str, depth: int) -> list[str]:
    rr = sim.replay(doc)
    if not rr.ok:
        return [f"its trace does not replay: {rr.problem}"]
    if (rr.property, rr.steps) != (prop, depth):
        return [f"its trace replays as {rr.property} at step {rr.steps}, not {prop} at {depth}"]
    return []


def _replay_search(sim: Any, ex: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for prop, (d, path) in ex.violations.items():
        out += [(prop, why) for why in _replay(sim, sim.trace(path, prop, d), prop, d)]
    return out


def failure_report(seed: int, text: str, problems: list[str]) -> str:
    return (f"seed {seed}: the engines disagree ({len(problems)} problems):\n  " + "\n  ".join(problems)
            + f"\n--- spec (save as fuzz.irqspec) ---\n{text}")


# --------------------------------------------------------------------------- the generator itself


def test_generator_is_seed_stable() -> None:
    assert generate(7) == generate(7)
    assert generate(7, "other") == generate(7).replace("spec fuzz;", "spec other;")
    assert len({generate(s) for s in range(20)}) == 20


def test_generated_specs_pass_check(tmp_path: Path) -> None:
    for seed in range(FIRST, FIRST + max(N, 100)):
        load_text(generate(seed), tmp_path)


def test_generated_specs_pass_the_real_command(tmp_path: Path) -> None:
    for seed in range(FIRST, FIRST + 20):
        (tmp_path / f"fuzz_{seed}.irqspec").write_text(generate(seed, f"fuzz_{seed}"))
    r = subprocess.run([sys.executable, "-m", "compiler.cli", "check", str(tmp_path)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


GRAMMAR = {
    "one cpu": r"param CPUS = 1;", "two cpus": r"param CPUS = 2;", "enum": r"mode = enum", "array": r"bool\[cpu\]",
    "int array": r"small\[cpu\]", "lock": r"lock l0;", "irqdesc": r"irqdesc desc", "lock array": r"lock la\[cpu\];",
    "device step": r"step s\d", "when": r" when \(", "idle": r"idle:", "thread": r"thread t\d",
    "looping thread": r"thread t\d \{\n(  var .*\n)?  for \(;;\)", "atomic": r"atomic \{", "await": r"await \(",
    "if": r"if \(", "else": r"\} else \{", "either": r"either \{", "while": r"while \(", "do": r"do \{",
    "goto": r"goto skip\d+;", "yield": r"yield;", "break": r"break;|continue;", "return": r"return;",
    "any where": r"= any x: .* where ", "any type": r"= any (bool|cpu|small|0\.\.\d|mode);",
    "conditional": r" \? .* : ", "int conditional": r"\? \w+(\[[^]]*\])? : \d", "def": r"def ok =",
    "def with params": r"def (fits|sel)\(", "int def": r"def pick\(", "fn": r"fn f\d\(v: ", "cpu fn": r"fn ack\(\)",
    "fn call": r"f\d\(.*\);", "named assert": r"assert a\d: ", "two assert names": r"assert a1: ",
    "invariant": r"invariant i\d: ", "implication invariant": r"invariant i\d: .* ==> ", "quiescent": r"quiescent",
    "quantifier": r"forall i: cpu ::", "cover": r"cover c0: ", "held": r"held\(", "initially": r"initially ", "any init": r"= any;",
    "compound assignment": r"(\+=|-=|\|=|&=)", "critical section": r"raw_spin_lock\(&|spin_lock\(&|lock\(l0\)",
}


def test_generator_covers_the_grammar() -> None:
    texts = "\n".join(generate(s) for s in range(60))
    missing = [name for name, pattern in GRAMMAR.items() if not re.search(pattern, texts)]
    assert not missing, missing


# --------------------------------------------------------------------------- the engines


@pytest.mark.parametrize("seed", range(FIRST, FIRST + N))
def test_engines_agree_on_random_specs(seed: int, tmp_path: Path) -> None:
    text = generate(seed)
    problems = crosscheck(load_text(text, tmp_path))
    assert not problems, failure_report(seed, text, problems)
