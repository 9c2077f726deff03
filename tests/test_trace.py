"""Traces: ITF JSON written and read back, the exact encoding of values, and the table."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.backends.z3 import prove
from compiler.trace import (ITF_DESCRIPTION, Trace, TraceFormatError, TraceState, from_itf, read_itf, render_table,
                            to_itf, write_itf)
from tests import irfixtures as F


def violation(model, prop: str) -> Trace:  # type: ignore[no-untyped-def]
    r = {r.property: r for r in prove(model)}[prop]
    assert r.trace is not None
    return r.trace


def sample() -> Trace:
    """A hand-made trace with every kind of value."""
    vals0 = {"flag": False, "n": 0, "mode": "IDLE", "grid": [[0, 1], [2, 3]], "lk": -1, "pc.c": ["idle", "idle"]}
    vals1 = {**vals0, "flag": True, "grid": [[0, 1], [2, 9]], "lk": 1, "pc.c": ["idle", "locked"]}
    return Trace(spec="demo", source="specs/demo.irqspec", source_hash="ab" * 32, params={"CPUS": 2},
                 property="p", violated_at=1, vars=sorted(vals0),
                 states=[TraceState(0, vals0),
                         TraceState(1, vals1, "c[1]", "c", "take", "lock lk", "specs/demo.irqspec:7:3")],
                 property_kind="invariant", instances=["c[0]", "c[1]"], locks=["lk"],
                 indices={"grid": [["0", "1"], ["A", "B"]]})


def test_itf_round_trip_of_a_real_counterexample(tmp_path: Path) -> None:
    trace = violation(F.race(locked=False), "no_lost_update")
    path = write_itf(trace, tmp_path / "race.no_lost_update.itf.json")
    assert read_itf(path) == trace


def test_itf_round_trip_of_every_value_kind(tmp_path: Path) -> None:
    trace = sample()
    assert read_itf(write_itf(trace, tmp_path / "t.itf.json")) == trace


def test_itf_layout() -> None:
    doc = to_itf(sample())
    meta = doc["#meta"]
    assert meta["format"] == "ITF" and meta["format-description"] == ITF_DESCRIPTION
    assert (meta["source"], meta["spec"], meta["property"], meta["violated_at"]) == \
        ("specs/demo.irqspec", "demo", "p", 1)
    assert meta["generator"] == "irqc prove" and meta["params"] == {"CPUS": 2}
    assert doc["vars"] == sorted(doc["vars"])
    s0, s1 = doc["states"]
    assert s0["#meta"] == {"index": 0}
    assert s1["#meta"] == {"index": 1, "instance": "c[1]", "agent": "c", "step": "take", "text": "lock lk",
                           "span": "specs/demo.irqspec:7:3"}
    assert s1["n"] == {"#bigint": "0"} and s1["flag"] is True and s1["mode"] == "IDLE"
    assert s1["lk"] == {"#bigint": "1"} and s0["lk"] == {"#bigint": "-1"}
    assert s1["grid"] == [[{"#bigint": "0"}, {"#bigint": "1"}], [{"#bigint": "2"}, {"#bigint": "9"}]]
    assert s1["pc.c"] == ["idle", "locked"]


def test_real_trace_pcs_and_meta() -> None:
    trace = violation(F.abba(), "deadlock")
    doc = to_itf(trace)
    assert "pc.a" in doc["vars"] and doc["states"][0]["pc.a"] == "start"
    assert doc["#meta"]["locks"] == ["l1", "l2"] and doc["#meta"]["instances"] == ["a", "b"]
    assert doc["states"][1]["#meta"]["span"].startswith("fixture.irqspec:")


def test_reader_accepts_plain_json_integers_and_missing_optional_meta() -> None:
    doc = {"vars": ["x"], "states": [{"#meta": {"index": 0}, "x": 3}]}
    t = from_itf(doc)
    assert t.states[0].values == {"x": 3} and t.instances == [] and t.locks == []


@pytest.mark.parametrize("text, fragment", [
    ("{", "cannot read"),
    ('{"states": 3}', "no \"states\" list"),
    ('{"states": [{"x": {"#bigint": "zz"}}]}', "bad #bigint"),
    ('{"states": [{"x": {"#set": []}}]}', "unsupported ITF value"),
])
def test_reader_errors_are_located(tmp_path: Path, text: str, fragment: str) -> None:
    p = tmp_path / "bad.itf.json"
    p.write_text(text)
    with pytest.raises(TraceFormatError, match=fragment):
        read_itf(p)


def test_table_one_column_per_instance_and_changed_vars() -> None:
    table = render_table(sample())
    lines = table.splitlines()
    assert lines[0].split(" | ") == ["step", "c[0]", "c[1]"]
    assert "L7: lock lk" in lines[2]
    body = "\n".join(lines[2:])
    assert "flag=1" in body and "grid[1][B]=9" in body and "lk=c[1]" in body
    assert "n=" not in body and "pc." not in body  # unchanged vars and pcs are not listed
    assert lines[-1] == "=> p violated after step 1"


def test_table_marks_the_aborting_step() -> None:
    table = render_table(violation(F.bad_unlock(), "lock_discipline"))
    assert "L21: unlock desc.lock" in table
    assert "!! check lock_discipline fails" in table
    assert table.splitlines()[-1] == "=> lock_discipline violated at step 2"


def test_table_shows_released_lock_as_dash() -> None:
    trace = sample()
    trace.states.append(TraceState(2, {**trace.states[1].values, "lk": -1}, "c[1]", "c", "drop", "unlock lk",
                                   "specs/demo.irqspec:9:3"))
    assert "lk=-" in render_table(trace)


def test_itf_text_is_deterministic(tmp_path: Path) -> None:
    t = sample()
    a = write_itf(t, tmp_path / "a.json").read_text()
    b = write_itf(t, tmp_path / "b.json").read_text()
    assert a == b and json.loads(a)["vars"] == ["mbt::actionTaken", *t.vars]
