"""A built simulator's `replay` on malformed traces (issue 13, item 7): always one line
`error: ...` naming the state and the field, exit status 2, promptly; never a traceback, a
hang, or a "DISAGREES" (exit 1 is kept for well-formed traces the spec does not allow)."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from compiler import traceview
from compiler.cli import main

SPEC = """spec t;
param CPUS = 2;
type mode = enum { off, on, busy };
var x: bool = false;
var n: 0..3 = 0;
var m: mode = off;
var pending: bool[cpu] = false;
cpu c { for (;;) { idle: atomic { await (!pending[c]); pending[c] = true; n = n < 3 ? n + 1 : n; } pending[c] = false; } }
thread th { x = true; m = on; }
invariant small: n <= 1;
"""

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Doc]:
    """The simulator of SPEC, built with `irqc build`, and the trace `irqc prove` writes for it."""
    root = tmp_path_factory.mktemp("replay")
    (root / "specs").mkdir()
    (root / "specs" / "t.irqspec").write_text(SPEC)
    assert main(["build", str(root / "specs"), "-o", str(root / "out")]) == 0
    assert main(["prove", str(root / "specs"), "--property", "small", "--trace-out", str(root / "traces")]) == 1
    doc = json.loads((root / "traces" / "t.small.itf.json").read_text())
    traceview.decode_meta(doc)  # the cases below mutate #meta values: 0.1's form, which replay still reads
    assert len(doc["states"]) == 3 and doc["states"][1]["#meta"]["step"] == "idle"
    return root / "out" / "t.py", doc


def _replay(sim: Path, trace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(sim), "replay", str(trace)], capture_output=True, text=True,
                          timeout=30)


def _set(path: list[Any], value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        d: Any = doc
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value
    return mutate


def _delete(path: list[Any]) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        d: Any = doc
        for key in path[:-1]:
            d = d[key]
        del d[path[-1]]
    return mutate


def _nested(depth: int) -> Any:
    v: Any = False
    for _ in range(depth):
        v = [v]
    return v


# (mutation of the parsed trace, fragments the one error line must contain)
DOC_CASES: dict[str, tuple[Callable[[Doc], None], list[str]]] = {
    "top_level_list": (lambda d: d.clear() or d.update({"states": None}), ['no "states" list']),
    "no_states": (_delete(["states"]), ['no "states" list']),
    "states_an_object": (_set(["states"], {"0": {}}), ['no "states" list']),
    "state_a_list": (_set(["states", 1], [1, 2]), ["state 1 is not an object"]),
    "state_null": (_set(["states", 2], None), ["state 2 is not an object"]),
    "state_meta_a_list": (_set(["states", 1, "#meta"], ["cpu[1]", "idle"]), ["state 1: #meta is not an object"]),
    "doc_meta_a_string": (_set(["#meta"], "ITF"), ["#meta is not an object"]),
    "params_a_list": (_set(["#meta", "params"], [2]), ["#meta: params is not an object"]),
    "param_a_string": (_set(["#meta", "params", "CPUS"], "two"), ["params: CPUS", "not an integer"]),
    "param_a_bool": (_set(["#meta", "params", "CPUS"], True), ["params: CPUS", "not an integer"]),
    "param_a_float": (_set(["#meta", "params", "CPUS"], 2.5), ["params: CPUS: unsupported ITF value 2.5"]),
    "param_unknown": (_set(["#meta", "params", "FOO"], 1), ["params: \"FOO\" is not a parameter of spec t"]),
    "param_huge": (_set(["#meta", "params", "CPUS"], 10 ** 9), ["state 0 holds 8 values", "CPUS=1000000000",
                                                                 "params do not fit"]),
    "param_huge_bigint": (_set(["#meta", "params", "CPUS"], {"#bigint": "9" * 5000}), ["params: CPUS: bad #bigint"]),
    "param_bigint_huge_value": (_set(["#meta", "params", "CPUS"], {"#bigint": "9" * 60}), ["params do not fit"]),
    "param_negative": (_set(["#meta", "params", "CPUS"], -1), ["state 0: pending: expected a list of 0 values, not [false, false]"]),
    "missing_var": (_delete(["states", 2, "n"]), ["state 2: no value for n"]),
    "missing_pc": (_delete(["states", 0, "pc.th"]), ["state 0: no value for pc.th"]),
    "unknown_var": (_set(["states", 1, "zz\nprint(1)"], 1), ['state 1: "zz\\nprint(1)" is not a variable of spec t']),
    "bool_as_int": (_set(["states", 1, "x"], 1), ["state 1: x: 1 is not a value of its type"]),
    "bool_as_bigint": (_set(["states", 1, "x"], {"#bigint": "1"}), ["state 1: x: 1 is not a value of its type"]),
    "int_as_string": (_set(["states", 1, "n"], "1"), ['state 1: n: "1" is not a value of its type']),
    "int_as_float": (_set(["states", 1, "n"], 1.0), ["state 1, n: unsupported ITF value 1.0"]),
    "int_out_of_range": (_set(["states", 1, "n"], {"#bigint": "99"}), ["state 1: n: 99 is not a value of its type"]),
    "int_as_bool": (_set(["states", 1, "n"], True), ["state 1: n: true is not a value of its type"]),
    "int_as_null": (_set(["states", 1, "n"], None), ["state 1, n: unsupported ITF value null"]),
    "int_as_object": (_set(["states", 1, "n"], {"value": 1}), ["state 1, n: unsupported ITF value"]),
    "bigint_not_digits": (_set(["states", 1, "n"], {"#bigint": "0x1"}), ['state 1, n: bad #bigint "0x1"']),
    "bigint_underscores": (_set(["states", 1, "n"], {"#bigint": "1_0"}), ["state 1, n: bad #bigint"]),
    "bigint_not_a_string": (_set(["states", 1, "n"], {"#bigint": 1}), ["state 1, n: bad #bigint 1"]),
    "bigint_empty": (_set(["states", 1, "n"], {"#bigint": "-"}), ["state 1, n: bad #bigint"]),
    "bigint_extra_key": (_set(["states", 1, "n"], {"#bigint": "1", "#x": 0}), ["state 1, n: unsupported ITF"]),
    "bigint_million_digits": (_set(["states", 1, "n"], {"#bigint": "7" * 1_000_000}), ["state 1, n: bad #bigint"]),
    "enum_unknown_member": (_set(["states", 2, "m"], "sideways"), ['state 2: m: "sideways" is not a value']),
    "enum_as_index": (_set(["states", 2, "m"], 1), ["state 2: m: 1 is not a value of its type"]),
    "array_too_short": (_set(["states", 0, "pending"], [False]), ["state 0: pending: expected a list of 2 values"]),
    "array_too_long": (_set(["states", 1, "pending"], [False] * 3), ["state 1: pending: expected a list of 2"]),
    "array_as_scalar": (_set(["states", 1, "pending"], False), ["state 1: pending: expected a list of 2 values"]),
    "array_too_deep": (_set(["states", 1, "pending"], [[False], [True]]), ["state 1: pending: [false] is not a"]),
    "nesting_100_deep": (_set(["states", 1, "pending"], _nested(100)), ["state 1, pending: lists nested more than"]),
    "pc_unknown_location": (_set(["states", 1, "pc.th"], "nowhere"), ['state 1: pc.th has no location "nowhere"']),
    "pc_wrong_length": (_set(["states", 1, "pc.cpu"], ["idle"]), ["state 1: pc.cpu should list 2 locations"]),
    "pc_an_int": (_set(["states", 1, "pc.th"], 0), ["state 1: pc.th has no location 0"]),
    "pc_a_list_of_lists": (_set(["states", 1, "pc.cpu"], [["idle"], "idle"]), ["state 1: pc.cpu has no location"]),
    "unknown_step": (_set(["states", 1, "#meta", "step"], "fly"), ["state 1: #meta: instance cpu[", "] has no step 'fly'"]),
    "unknown_instance": (_set(["states", 1, "#meta", "instance"], "cpu[7]"), ["state 1: #meta: no agent instance"]),
    "step_a_list": (_set(["states", 2, "#meta", "step"], ["idle"]), ['state 2: #meta: step is ["idle"], not a name']),
    "no_step_meta": (_delete(["states", 1, "#meta"]), ["state 1: #meta: instance is null, not a name"]),
    "property_a_list": (_set(["#meta", "property"], ["small"]), ["#meta: property is"]),
    "violated_at_a_string": (_set(["#meta", "violated_at"], "two"), ["#meta: violated_at is \"two\""]),
    "params_bad_json_text": (_set(["#meta", "params"], "{CPUS: 2"), ["#meta: params is \"{CPUS: 2\", not JSON text"]),
    "event_bad_json_text": (_set(["states", 1, "#meta", "event"], "[idle"), ["state 1: #meta: event is \"[idle\""]),
}


@pytest.mark.parametrize("name", list(DOC_CASES))
def test_malformed_trace(name: str, built: tuple[Path, Doc], tmp_path: Path) -> None:
    sim, base = built
    mutate, fragments = DOC_CASES[name]
    doc = copy.deepcopy(base)
    mutate(doc)
    trace = tmp_path / "bad.itf.json"
    trace.write_text(json.dumps(doc))
    _assert_one_error(_replay(sim, trace), fragments)


# Bytes on disk that are not a JSON document, or not a sensible one.
TEXT_CASES: dict[str, tuple[Callable[[str], bytes], list[str]]] = {
    "truncated": (lambda t: t[: len(t) // 2].encode(), ["cannot read an ITF trace", "line"]),
    "empty_file": (lambda t: b"", ["cannot read an ITF trace: Expecting value: line 1 column 1"]),
    "not_json": (lambda t: b"hello", ["cannot read an ITF trace"]),
    "not_utf8": (lambda t: b'{"states": ["\xff\xfe"]}', ["cannot read an ITF trace", "utf-8"]),
    "nan_value": (lambda t: t.replace('"#bigint": "1"', '"#bigint": NaN', 1).encode(), ["NaN is not a JSON value"]),
    "infinity_param": (lambda t: t.replace('"CPUS": 2', '"CPUS": Infinity', 1).encode(),
                       ["Infinity is not a JSON value"]),
    "huge_int_literal": (lambda t: t.replace('"CPUS": 2', '"CPUS": ' + "9" * 5000, 1).encode(),
                         ["cannot read an ITF trace", "digits"]),
    "deep_brackets": (lambda t: b"[" * 200_000 + b"]" * 200_000, ["cannot read an ITF trace"]),
    "deep_objects": (lambda t: b'{"a":' * 100_000 + b"1" + b"}" * 100_000, ["cannot read an ITF trace"]),
    "top_level_number": (lambda t: b"42", ['not an ITF trace (no "states" list)']),
}


@pytest.mark.parametrize("name", list(TEXT_CASES))
def test_malformed_file(name: str, built: tuple[Path, Doc], tmp_path: Path) -> None:
    sim, base = built
    make, fragments = TEXT_CASES[name]
    trace = tmp_path / "bad.itf.json"
    trace.write_bytes(make(json.dumps(base, indent=2)))
    _assert_one_error(_replay(sim, trace), fragments)


def test_a_100_mb_file_is_refused_without_reading_it(built: tuple[Path, Doc], tmp_path: Path) -> None:
    sim, _ = built
    trace = tmp_path / "big.itf.json"
    with open(trace, "wb") as f:
        f.truncate(100 << 20)  # sparse: 100 MiB claimed by the file system, nothing written
    _assert_one_error(_replay(sim, trace), ["104857600 bytes: replay reads traces of up to 64 MiB"])


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_unreadable_path(what: str, built: tuple[Path, Doc], tmp_path: Path) -> None:
    sim, _ = built
    trace = tmp_path / "t.itf.json"
    if what == "folder":
        trace.mkdir()
    _assert_one_error(_replay(sim, trace), ["cannot read an ITF trace"])


def test_well_formed_traces_still_replay_or_disagree(built: tuple[Path, Doc], tmp_path: Path) -> None:
    """The controls: the trace as written replays (0); a well-formed trace the spec does not
    allow disagrees (1), which is not a malformed trace."""
    sim, base = built
    trace = tmp_path / "t.itf.json"
    trace.write_text(json.dumps(base))
    r = _replay(sim, trace)
    assert r.returncode == 0 and "all 2 steps match" in r.stdout and r.stderr == "", r.stderr
    wrong = copy.deepcopy(base)
    wrong["states"][1]["x"] = True  # a value of its type, but not what step 1 does
    trace.write_text(json.dumps(wrong))
    r = _replay(sim, trace)
    assert r.returncode == 1 and "DISAGREES at step 1" in r.stdout and "Traceback" not in r.stderr


def test_help_documents_the_exit_status(built: tuple[Path, Doc]) -> None:
    sim, _ = built
    r = subprocess.run([sys.executable, str(sim), "replay", "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert "2   the trace is unreadable or malformed" in r.stdout and "1   the trace disagrees" in r.stdout


def test_library_replay_raises_simulator_error_not_attribute_error(built: tuple[Path, Doc]) -> None:
    """`Simulator.replay` (the library call) on a state that is not an object."""
    sim_path, base = built
    ns: dict[str, Any] = {"__name__": "t_sim"}
    exec(compile(sim_path.read_text(), str(sim_path), "exec"), ns)  # noqa: S102 - our generated file
    sim = ns["Simulator"]({"CPUS": 2})
    for bad in ([1, 2], {"#meta": []}):
        doc = copy.deepcopy(base)
        doc["states"][1] = bad
        with pytest.raises(ns["SimulatorError"], match="state 1"):
            sim.replay(doc)


def _assert_one_error(r: subprocess.CompletedProcess[str], fragments: list[str]) -> None:
    lines = r.stderr.splitlines()
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "" and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert len(lines[0]) < 300
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_every_case_is_fast(built: tuple[Path, Doc], tmp_path: Path) -> None:
    """The cases that used to hang (parameters that make huge states) answer at once."""
    sim, base = built
    doc = copy.deepcopy(base)
    doc["#meta"]["params"]["CPUS"] = 10 ** 12
    trace = tmp_path / "t.itf.json"
    trace.write_text(json.dumps(doc))
    t0 = time.monotonic()
    _assert_one_error(_replay(sim, trace), ["params do not fit"])
    assert time.monotonic() - t0 < 10
