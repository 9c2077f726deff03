"""`irqc trace FILE --to FORMAT` and `irqc prove --sarif`: every format from a real S1
counterexample, the SARIF validated against the OASIS SARIF 2.1.0 schema, and bad input as one
located E502 error with exit 2.

tests/data/sarif-schema-2.1.0.json is the schema as published by OASIS (github.com/oasis-tcs/
sarif-spec, sarif-2.1/schema/sarif-schema-2.1.0.json at a560296), vendored: the tests run offline.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from compiler import traceview
from compiler.cli import main
from compiler.trace import read_itf, render_table

ROOT = Path(__file__).resolve().parent.parent
S1 = ROOT / "specs" / "gicv3_its_fasteoi.irqspec"
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def s1_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """S1 proved once: its trace file, the SARIF of the run, and what prove printed."""
    out = tmp_path_factory.mktemp("s1")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["prove", str(S1), "--trace-out", str(out / "tr"), "--sarif", str(out / "run.sarif"), "--quiet"])
    assert code == 1
    return out / "tr" / "gicv3_its_fasteoi.no_lost_interrupt.itf.json", out / "run.sarif", buf.getvalue()


def render(path: Path, to: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["trace", str(path), "--to", to]) == 0
    return capsys.readouterr().out


def doc_of(path: Path) -> dict[str, Any]:
    """The trace as irqc reads it: the file's string-encoded #meta values decoded."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    traceview.check_document(doc)
    return doc


# --------------------------------------------------------------------------- the formats


def test_table_is_the_table_prove_printed(s1_run: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    trace, _, printed = s1_run
    table = render(trace, "table", capsys)
    assert table.rstrip("\n") in printed
    assert table.rstrip("\n") == render_table(read_itf(trace))


def test_itf_round_trips(s1_run: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    trace, _, _ = s1_run
    assert render(trace, "itf", capsys) == trace.read_text(encoding="utf-8")  # byte for byte


def test_lkml_names_the_functions(s1_run: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    trace, _, _ = s1_run
    text = render(trace, "lkml", capsys)
    assert max(len(line) for line in text.splitlines()) <= 75
    for event in ("handle_fasteoi_irq", "irq_may_run() ->", "early out", "interrupt start", "interrupt end",
                  "set_affinity", "fire"):
        assert event in text, event
    events = [s["#meta"].get("event") for s in doc_of(trace)["states"][1:]]
    assert ["handle_fasteoi_irq", "irq_may_run() -> early out", "irq_eoi", "interrupt end"] in events
    assert text.splitlines()[0].split() == ["CPU", "0", "|", "CPU", "1", "|", "nic", "|", "set_affinity"]


def test_mermaid_one_participant_per_acting_instance(s1_run: tuple[Path, Path, str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    trace, _, _ = s1_run
    text = render(trace, "mermaid", capsys)
    lines = text.splitlines()
    doc = doc_of(trace)
    acting = {s["#meta"]["instance"] for s in doc["states"][1:]}
    assert lines[0] == "sequenceDiagram"
    participants = [ln for ln in lines if ln.strip().startswith("participant ")]
    assert len(participants) == len(acting) == 4  # free_irq never acts in S1's counterexample
    notes = [ln for ln in lines if ln.strip().startswith("Note over")]
    assert len(notes) == len(doc["states"]) - 1 + 1  # one per step, then the verdict
    assert "irq_may_run() -> early out" in text


def parse_vcd(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Signal names by id, and the value of every signal at each time (a reader of our own)."""
    names: dict[str, str] = {}
    scope: list[str] = []
    for m in re.finditer(r"\$(scope module (\S+)|upscope|var \S+ \d+ (\S+) (\S+)) \$end", text):
        if m.group(2):
            scope.append(m.group(2))
        elif m.group(1) == "upscope":
            scope.pop()
        else:
            names[m.group(3)] = ".".join(scope[1:] + [m.group(4)])
    body = text.split("$enddefinitions $end", 1)[1].split()
    times: list[dict[str, str]] = []
    current: dict[str, str] = {}
    i = 0
    while i < len(body):
        tok = body[i]
        if tok.startswith("#"):
            while len(times) < int(tok[1:]):
                times.append(dict(current))
        elif tok.startswith(("b", "s")):
            current[body[i + 1]] = tok[1:]
            i += 1
        elif tok[0] in "01":
            current[tok[1:]] = tok[0]
        i += 1
    times.append(dict(current))
    return names, times


def test_vcd_one_signal_per_state_element_time_is_step(s1_run: tuple[Path, Path, str],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    trace, _, _ = s1_run
    names, times = parse_vcd(render(trace, "vcd", capsys))
    doc = doc_of(trace)
    assert len(times) == len(doc["states"])
    by_name = {v: k for k, v in names.items()}
    assert {"nic.outstanding", "redist.pending[0]", "redist.pending[1]", "its.target", "pc.cpu[0]", "state.aff_w"} \
        <= set(by_name)
    for k, state in enumerate(doc["states"]):
        values = traceview.itf_values(state, k)
        assert times[k][by_name["nic.outstanding"]] == str(int(values["nic.outstanding"]))
        assert times[k][by_name["redist.pending[1]"]] == str(int(values["redist.pending"][1]))
        assert int(times[k][by_name["its.target"]], 2) == values["its.target"]
        assert times[k][by_name["pc.cpu[0]"]] == values["pc.cpu"][0]


def check_sarif(log: dict[str, Any], doc: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    (run,) = log["runs"]
    (result,) = [r for r in run["results"] if r["ruleId"] == doc["#meta"]["property"]]
    (flow,) = result["codeFlows"]
    acting = [s["#meta"]["instance"] for s in doc["states"][1:]]
    assert sorted(t["id"] for t in flow["threadFlows"]) == sorted(set(acting))
    order = sorted((loc["executionOrder"], t["id"]) for t in flow["threadFlows"] for loc in t["locations"])
    assert order == [(k, inst) for k, inst in enumerate(acting, 1)]  # every step once, by the global step
    states = {loc["executionOrder"]: loc.get("state", {}) for t in flow["threadFlows"] for loc in t["locations"]}
    assert states[6]["its.target"] == {"text": "1"}  # set_affinity(CPU 1)
    assert "redist.pending[1]" in states[6]


def test_sarif_validates_against_the_schema(s1_run: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    trace, sarif, _ = s1_run
    check_sarif(json.loads(render(trace, "sarif", capsys)), doc_of(trace))
    whole = json.loads(sarif.read_text(encoding="utf-8"))
    check_sarif(whole, doc_of(trace))
    assert [r["ruleId"] for r in whole["runs"][0]["results"]] == ["no_lost_interrupt"]  # one per violation
    assert not [p for p in sarif.parent.iterdir() if p.name.startswith(".irqc-")]  # no temporary left


def test_the_schema_rejects_a_broken_log(s1_run: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    """The validation can fail: the vendored schema is not vacuous."""
    trace, _, _ = s1_run
    log = json.loads(render(trace, "sarif", capsys))
    log["runs"][0]["results"][0]["codeFlows"][0]["threadFlows"][0]["locations"][0]["executionOrder"] = "first"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SCHEMA).validate(log)


def test_prove_sarif_to_a_folder_is_exit_2_before_proving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", str(S1), "--sarif", str(tmp_path), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "--sarif" in err and "[E501]" in err


# --------------------------------------------------------------------------- bad input


def malformed(good: dict[str, Any]) -> dict[str, str]:
    def edit(f: Any) -> str:
        d = json.loads(json.dumps(good))
        f(d)
        return json.dumps(d)

    return {
        "not JSON": "{\"states\": [",
        "NaN": "{\"states\": [{\"x\": NaN}]}",
        "no states": "{\"vars\": []}",
        "states not a list": "{\"states\": {}}",
        "empty": "{\"states\": []}",
        "state not an object": edit(lambda d: d["states"].__setitem__(2, 7)),
        "bad bigint": edit(lambda d: d["states"][3].__setitem__("its.target", {"#bigint": "x1"})),
        "event not a list": edit(lambda d: d["states"][4]["#meta"].__setitem__("event", "early out")),
        "no instance": edit(lambda d: d["states"][5]["#meta"].pop("instance")),
        "instances not names": edit(lambda d: d["#meta"].__setitem__("instances", [1, 2])),
        "deep": "{\"states\": [{\"x\": " + "[" * 40 + "]" * 40 + "}]}",
    }


def test_bad_input_is_one_located_error_exit_2(s1_run: tuple[Path, Path, str], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    trace, _, _ = s1_run
    cases = malformed(doc_of(trace))
    for name, text in cases.items():
        p = tmp_path / f"{name.replace(' ', '_')}.itf.json"
        p.write_text(text, encoding="utf-8")
        for to in ("table", "lkml", "sarif"):
            capsys.readouterr()
            assert main(["trace", str(p), "--to", to]) == 2, (name, to)
            out, err = capsys.readouterr()
            lines = err.strip().splitlines()
            assert out == "" and len(lines) == 1, (name, err)
            assert lines[0].startswith(f"{p}:1:1: error: ") and lines[0].endswith("[E502]"), (name, err)
    capsys.readouterr()
    assert main(["trace", str(tmp_path / "missing.itf.json")]) == 2
    assert "[E502]" in capsys.readouterr().err


def test_table_names_files_when_a_trace_spans_several(s1_run: tuple[Path, Path, str]) -> None:
    """A patch spec's trace mixes its own lines with its base's: `L68` would not say which file."""
    trace, _, _ = s1_run
    doc = doc_of(trace)
    one = traceview.render_table(doc)
    assert "L68: step fire" in one and ".irqspec:" not in one
    doc["states"][8]["#meta"]["span"] = "specs/fasteoi_resend.irqspec:32:3"
    two = traceview.render_table(doc)
    assert "gicv3_its_fasteoi.irqspec:68: step fire" in two and "fasteoi_resend.irqspec:32: " in two
    assert "L68" not in two
