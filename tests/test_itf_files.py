"""ITF trace files as other tools read them (issue 11, item 4): every file irqc or a simulator
writes is one the Rust `itf` crate reads, names who acted in each state, and is written
atomically; irqc 0.1's files still read and replay."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from compiler import traceview
from compiler.cli import main
from compiler.trace import read_itf, to_itf, write_itf
from tests.schemas import valid

SPEC = """spec itf_t;
param CPUS = 2;
type mode = enum { off, on, busy };
var x: bool = false;
var n: 0..3 = 0;
var m: mode = off;
var pending: bool[cpu] = false;
irqdesc desc { lock lock; flag inprogress; }
cpu c { for (;;) { idle: atomic { await (!pending[c]); pending[c] = true; n = n < 3 ? n + 1 : n; } pending[c] = false; } }
thread th { raw_spin_lock(&desc->lock); x = true; m = on; raw_spin_unlock(&desc->lock); }
invariant small: n <= 1;
"""

# --------------------------------------------------------------------------- the crate's rules
# informalsystems/itf-rs 0.3.0 reads a trace with serde: src/trace.rs's Meta has format,
# format-description, source, description (Option<String>), varTypes (map of strings),
# timestamp (Option<u64>) and `#[serde(flatten)] other: BTreeMap<String, String>`; src/state.rs's
# Meta has index (Option<u64>) and the same `other`.  So every other #meta value must be a
# string (a null, a number, a list or an object fails the whole trace).  src/value.rs: a value
# is a bool, an i64, a string, a list, or an object (#bigint, #tup, #set, #map, a record).

U64, I64 = 2 ** 64 - 1, 2 ** 63


def _u64(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= U64


def _trace_meta_problems(meta: Any) -> list[str]:
    if not isinstance(meta, dict):
        return ["#meta is not an object"]
    out = []
    for key, v in meta.items():
        if key in ("format", "format-description", "source", "description"):
            ok = v is None or isinstance(v, str)
        elif key == "varTypes":
            ok = isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
        elif key == "timestamp":
            ok = v is None or _u64(v)
        else:
            ok = isinstance(v, str)
        if not ok:
            out.append(f"#meta: {key} is {v!r}")
    return out


def _value_problems(v: Any, where: str) -> list[str]:
    if isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool) and not -I64 <= v < I64):
        return [f"{where}: {v!r} is not an i64"]
    if isinstance(v, list):
        return [p for i, x in enumerate(v) for p in _value_problems(x, f"{where}[{i}]")]
    if isinstance(v, dict):
        if set(v) == {"#bigint"} and not (isinstance(v["#bigint"], str) and v["#bigint"].lstrip("-").isdigit()):
            return [f"{where}: bad #bigint {v!r}"]
        return [p for k, x in v.items() for p in _value_problems(x, f"{where}.{k}")]
    return []


def crate_problems(doc: Any) -> list[str]:
    """What keeps the `itf` crate from reading `doc` as a Trace<Value>: [] when it reads it."""
    if not isinstance(doc, dict) or not isinstance(doc.get("states"), list):
        return ["no states"]
    out = _trace_meta_problems(doc.get("#meta"))
    for key in ("params", "vars"):
        if not (isinstance(doc.get(key, []), list) and all(isinstance(x, str) for x in doc.get(key, []))):
            out.append(f"{key} is not a list of strings")
    if doc.get("loop") is not None and not _u64(doc["loop"]):
        out.append("loop is not a u64")
    for k, state in enumerate(doc["states"]):
        if not isinstance(state, dict) or not isinstance(state.get("#meta"), dict):
            out.append(f"state {k}: no #meta object")
            continue
        for key, v in state["#meta"].items():
            ok = (v is None or _u64(v)) if key == "index" else isinstance(v, str)
            if not ok:
                out.append(f"state {k}: #meta: {key} is {v!r}")
        out += [p for name, v in state.items() if name != "#meta" for p in _value_problems(v, f"state {k}: {name}")]
    return out


# --------------------------------------------------------------------------- the files


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One trace file from each writer: irqc prove, a simulator's explore and run, irqc trace."""
    root = tmp_path_factory.mktemp("itf")
    (root / "specs").mkdir()
    (root / "specs" / "itf_t.irqspec").write_text(SPEC, encoding="utf-8")
    assert main(["prove", str(root / "specs"), "--trace-out", str(root / "prove"), "--quiet"]) == 1
    assert main(["build", str(root / "specs"), "-o", str(root / "sim")]) == 0
    sim = root / "sim" / "itf_t.py"
    for argv in (["explore", "--trace-out", str(root / "explore")],
                 ["run", "--seed", "3", "--steps", "6", "--trace-out", str(root / "run.itf.json")]):
        subprocess.run([sys.executable, "-I", "-S", str(sim), *argv], capture_output=True, timeout=60, check=False)
    files = {"prove": root / "prove" / "itf_t.small.itf.json", "explore": root / "explore" / "itf_t.small.itf.json",
             "run": root / "run.itf.json", "trace --to itf": root / "again.itf.json", "sim": sim}
    assert main(["trace", str(files["prove"]), "--to", "itf", "-o", str(files["trace --to itf"])]) == 0
    return files


TRACES = ["prove", "explore", "run", "trace --to itf"]


def _doc(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("writer", TRACES)
def test_every_file_is_one_the_itf_crate_reads(written: dict[str, Path], writer: str) -> None:
    doc = _doc(written[writer])
    assert crate_problems(doc) == []
    valid("itf.schema.json", doc)


@pytest.mark.parametrize("writer", TRACES)
def test_each_state_names_who_acted(written: dict[str, Path], writer: str) -> None:
    doc = _doc(written[writer])
    assert doc["vars"][0] == traceview.ACTION_TAKEN == "mbt::actionTaken"
    states = doc["states"]
    assert len(states) >= 2 and states[0]["mbt::actionTaken"] == "init"
    for state in states[1:]:
        m = state["#meta"]
        assert state["mbt::actionTaken"] == f"{m['instance']}.{m['step']}"
    assert {s["mbt::actionTaken"].split(".")[0] for s in states[1:]} <= {"cpu[0]", "cpu[1]", "th"}


def test_the_crate_rules_reject_what_0_1_wrote(written: dict[str, Path]) -> None:
    """The check can fail: irqc 0.1's file (#meta values as they are) is one the crate refuses."""
    old = to_itf(read_itf(written["prove"]))
    found = "\n".join(crate_problems(old))
    for key in ("params", "violated_at", "instances", "locks", "indices", "kinds", "event"):
        assert f"{key} is" in found, key
    new = _doc(written["prove"])
    assert json.loads(new["#meta"]["params"]) == {"CPUS": 2} and new["#meta"]["violated_at"] == "2"


def test_files_of_0_1_still_read_replay_and_convert(written: dict[str, Path], tmp_path: Path) -> None:
    old = tmp_path / "old.itf.json"
    old.write_text(json.dumps(to_itf(read_itf(written["prove"])), indent=2) + "\n", encoding="utf-8")
    assert "mbt::actionTaken" not in old.read_text(encoding="utf-8")
    assert read_itf(old) == read_itf(written["prove"])
    for trace in (old, written["prove"], written["explore"], written["run"]):
        r = subprocess.run([sys.executable, "-I", "-S", str(written["sim"]), "replay", str(trace)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "steps match" in r.stdout, (trace, r.stdout, r.stderr)
    converted = tmp_path / "new.itf.json"
    assert main(["trace", str(old), "--to", "itf", "-o", str(converted)]) == 0
    assert converted.read_text(encoding="utf-8") == written["prove"].read_text(encoding="utf-8")


# --------------------------------------------------------------------------- atomic writes


def test_a_failed_write_leaves_the_old_file_and_no_temporary(written: dict[str, Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    trace = read_itf(written["prove"])
    target = tmp_path / "t.itf.json"
    target.write_text("the previous trace\n", encoding="utf-8")

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(traceview._os, "fsync", full)
    with pytest.raises(OSError):
        write_itf(trace, target)
    assert target.read_text(encoding="utf-8") == "the previous trace\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.itf.json"]
    monkeypatch.undo()
    write_itf(trace, target)
    assert read_itf(target) == trace and sorted(p.name for p in tmp_path.iterdir()) == ["t.itf.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not mkstemp's private one


def test_simulators_write_trace_files_atomically_too(written: dict[str, Path]) -> None:
    """The simulator's writer is traceview's, inlined: no second copy to drift."""
    source = written["sim"].read_text(encoding="utf-8")
    assert source.count("def write_atomically(") == 1 and "write_atomically(path, itf_text(doc))" in source
    assert not [p for d in ("explore", "prove") for p in (written["prove"].parent.parent / d).iterdir()
                if p.name.startswith(".irqc-")]


# --------------------------------------------------------------------------- --trace-out checked first


def test_unusable_trace_out_with_json_is_a_json_diagnostic_before_proving(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "itf_t.irqspec"
    spec.write_text(SPEC, encoding="utf-8")
    (tmp_path / "afile").write_text("not a folder\n", encoding="utf-8")
    t0 = time.monotonic()
    assert main(["prove", str(spec), "--json", "--trace-out", str(tmp_path / "afile" / "traces")]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert [d["code"] for d in doc["diagnostics"]] == ["E501"] and "--trace-out" in doc["diagnostics"][0]["message"]
    valid("prove.schema.json", doc)
    assert err == "" and time.monotonic() - t0 < 5
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "not a folder\n"
