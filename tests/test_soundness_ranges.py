"""Issue 13 item 1: a value that may be out of its range never reaches the state unchecked.

Each spec below stores or indexes through a conditional whose then-arm fits and whose else-arm
does not, directly or through a def, a def parameter or a fn argument.  Both engines must report
`in_range` violated at depth 1 (the first step takes the else-arm), and the generated simulator
must never reach a state with a value outside its type or write into a neighbouring variable.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from compiler import ir
from compiler.backends.python import generate, load_simulator
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics

HEADER = """spec {name};
var x: bool = false;
var n: 0..1 = 0;
var i: 0..1 = 0;
var a: bool[0..1];
var b: bool = false;
"""

# name -> the declarations and thread that go through the hole
HOLES = {
    "cond_store": "thread t { n = x ? n : 2; }\ninvariant small: n <= 1;",
    "cond_index": "thread t { a[x ? i : 2] = true; }\ninvariant b_untouched: !b;",
    "def_store": "def pick = x ? n : 2;\nthread t { n = pick; }",
    "def_index": "def pick = x ? i : 2;\nthread t { a[pick] = true; }\ninvariant b_untouched: !b;",
    "def_param_store": "def id(p: 0..1) = p;\nthread t { n = id(x ? n : 2); }",
    "def_param_index": "def id(p: 0..1) = p;\nthread t { a[id(x ? i : 2)] = true; }\ninvariant b_untouched: !b;",
    "fn_arg_store": "fn put(p: 0..1) { n = p; }\nthread t { put(x ? n : 2); }",
    "fn_arg_index": "fn put(p: 0..1) { a[p] = true; }\nthread t { put(x ? i : 2); }\ninvariant b_untouched: !b;",
    "nested_cond": "thread t { n = x ? (x ? n : 0) : (x ? 1 : 3); }",
    "compound": "thread t { n += x ? 0 : 1; n += 1; }",
}


def write_spec(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.irqspec"
    path.write_text(HEADER.format(name=name) + HOLES[name] + "\n", encoding="utf-8")
    return path


def prove(path: Path, *args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "compiler.cli.__main__", "prove", "--json", *args, str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)["specs"][0]
    return doc


def verdict(doc: dict[str, Any], prop: str) -> tuple[str, int | None]:
    r = next(r for r in doc["results"] if r["property"] == prop)
    return r["verdict"], r.get("depth")


@pytest.mark.parametrize("engine", ["auto", "bmc"])
@pytest.mark.parametrize("name", sorted(HOLES))
def test_hole_is_an_in_range_violation(tmp_path: Path, name: str, engine: str) -> None:
    doc = prove(write_spec(tmp_path, name), "--engine", engine)
    assert verdict(doc, "in_range") == ("violated", 1 if name != "compound" else 2)
    for r in doc["results"]:  # nothing else can go wrong before the bad store, and nothing after it
        if r["property"] != "in_range":
            assert r["verdict"] != "violated", r


def reachable(sim: Any) -> set[tuple[int, ...]]:
    """Every state the simulator's steps reach (a failed check's successor, if any, is the pre-state)."""
    seen = set(sim.initial_states())
    work = list(seen)
    while work:
        s = work.pop()
        for item in sim.step_all(s):
            t = item[1]
            if t is not None and t not in seen:
                seen.add(t)
                work.append(t)
    return seen


@pytest.mark.parametrize("name", sorted(HOLES))
def test_simulator_never_writes_out_of_range(tmp_path: Path, name: str) -> None:
    diags = Diagnostics()
    model = load_model(str(write_spec(tmp_path, name)), {}, diags)
    assert model is not None, diags.items
    sim = load_simulator(generate(model, model.path), name).Simulator()
    states = reachable(sim)
    for s in states:
        values = sim.values(s)
        assert 0 <= values["n"] <= 1 and values["b"] is False, values
        for v in sim.layout.vars:
            assert all(v.lo <= s[k] <= v.hi for k in range(v.base, v.base + v.size)), (v.name, s)
    result = sim.explore()
    assert "in_range" in result.violations


def conditional_type(then: ir.Expr, else_: ir.Expr) -> ir.Type:
    return ir.type_of(ir.Ite(ir.Lit(True, ir.BOOL), then, else_))


def test_conditional_is_typed_by_both_arms() -> None:
    small = ir.IntType(ir.Lit(0, ir.INT), ir.Lit(1, ir.INT))
    other = ir.IntType(ir.Lit(0, ir.INT), ir.Lit(2, ir.INT))
    v = ir.VarRef(ir.Var("v", small, None))
    w = ir.VarRef(ir.Var("w", other, None))
    assert conditional_type(v, v) == small
    assert conditional_type(v, w) is ir.INT
    assert conditional_type(v, ir.Lit(1, ir.INT)) is ir.INT
    assert conditional_type(ir.Lit(1, ir.INT), v) is ir.INT
    assert conditional_type(ir.Lit(True, ir.BOOL), ir.Lit(False, ir.BOOL)) == ir.BOOL


def test_conditional_whose_arms_fit_needs_no_check(tmp_path: Path) -> None:
    """The union is INT, but each arm fits on its own: no in_range property appears."""
    path = tmp_path / "arms_fit.irqspec"
    path.write_text(HEADER.format(name="arms_fit") + "thread t { n = x ? i : 1; a[x ? 0 : i] = true; }\n",
                    encoding="utf-8")
    diags = Diagnostics()
    model = load_model(str(path), {}, diags)
    assert model is not None
    assert "in_range" not in [p.name for p in model.properties]


def test_invariant_index_through_a_conditional_must_fit(tmp_path: Path) -> None:
    """A formula cannot check at run time: an index that may not fit is an error, not a hole."""
    path = tmp_path / "inv_cond.irqspec"
    path.write_text(HEADER.format(name="inv_cond") + "invariant p: a[x ? i : 2] || true;\n", encoding="utf-8")
    diags = Diagnostics()
    assert load_model(str(path), {}, diags) is None
    assert [d.code for d in diags.items] == ["E301"]


def test_constant_argument_must_fit_its_declared_parameter(tmp_path: Path) -> None:
    """A constant is substituted into the body, so it is checked against the declared range
    where it is passed (a non-constant is stored with a check, or keeps its own type)."""
    path = tmp_path / "const_args.irqspec"
    path.write_text(HEADER.format(name="const_args") + "def id(p: 0..1) = p;\nfn put(p: 0..1) { b = true; }\n"
                    "thread t { x = id(2) == 2; put(3); }\n", encoding="utf-8")
    diags = Diagnostics()
    assert load_model(str(path), {}, diags) is None
    assert sorted((d.code, d.message.split()[0]) for d in diags.items) == [("E302", "2"), ("E302", "3")]
