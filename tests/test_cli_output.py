"""What editors, CI and tools read from irqc: the gcc-shaped diagnostic line (VS Code's `$gcc`
matcher, docs/problem-matcher.json for GitHub Actions), JSON on every path of `check --json`,
and a start-up that loads neither z3 nor jinja2 for `irqc check` and reuses the parser tables."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from dsl import parser as dsl_parser
from dsl.diagnostics import Diagnostics
from tests import golden

ROOT = Path(__file__).resolve().parent.parent
S1 = str(ROOT / "specs" / "gicv3_its_fasteoi.irqspec")

# VS Code's built-in `$gcc` problem matcher, verbatim.
VSCODE_GCC = re.compile(r"^(.*?):(\d+):(\d*):?\s+(?:fatal\s+)?(warning|error):\s+(.*)$")

UNDEFINED = "spec undefined;\nparam CPUS = 2;\ncpu c { y = true; }\n"  # E201 at 3:9
DUPLICATE = "spec duplicate;\nvar x: bool = false;\nvar x: bool = true;\n"  # E202 at 3:1, label at 2:1


def irqc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)


def spec(tmp_path: Path, text: str) -> Path:
    name = text.split(";")[0].split()[1]
    f = tmp_path / f"{name}.irqspec"
    f.write_text(text)
    return f


# --------------------------------------------------------------------------- the text shape


def test_vscode_gcc_matcher_locates_and_classifies_an_error(tmp_path: Path) -> None:
    f = spec(tmp_path, UNDEFINED)
    r = irqc("check", str(f))
    assert r.returncode == 2
    m = VSCODE_GCC.match(r.stderr.splitlines()[0])
    assert m is not None, r.stderr
    assert m.groups() == (str(f), "3", "9", "error", "undefined name `y` [E201]")


@pytest.mark.parametrize("case", golden.diag_cases(), ids=lambda p: p.stem)
def test_gcc_matcher_sees_each_error_once_and_no_other_line(case: Path) -> None:
    diags = Diagnostics()
    from compiler.pipeline import load_model

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        load_model(str(golden.DIAG_DIR / case.name), {}, diags)
    finally:
        os.chdir(cwd)
    text = golden.render_case(case)
    matched = [m for m in map(VSCODE_GCC.match, text.splitlines()) if m]
    located = [d for d in diags.items if d.span is not None]
    assert [(m.group(1), int(m.group(2)), int(m.group(3))) for m in matched] == \
           [(d.span.path, d.span.line, d.span.col) for d in located if d.span is not None]
    assert all(m.group(4) == "error" and m.group(5).endswith(f"[{d.code}]") for m, d in zip(matched, located))


def test_labels_are_notes_with_their_own_location(tmp_path: Path) -> None:
    f = spec(tmp_path, DUPLICATE)
    lines = irqc("check", str(f)).stderr.splitlines()
    assert lines[0].startswith(f"{f}:3:1: error: ") and lines[0].endswith("[E202]")
    assert f"{f}:2:1: note: first declared here" in lines
    assert VSCODE_GCC.match(f"{f}:2:1: note: first declared here") is None  # a note is not a second problem


def test_command_line_error_has_the_tool_as_its_place() -> None:
    r = irqc("check", "--frobnicate", S1)
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1] == "irqc: error: unrecognized arguments: --frobnicate [E501]"


def _matchers() -> list[dict[str, Any]]:
    doc = json.loads((ROOT / "docs" / "problem-matcher.json").read_text(encoding="utf-8"))
    return list(doc["problemMatcher"])


def _match(line: str) -> dict[str, str] | None:
    """What GitHub Actions would extract from one line: the first matcher whose regexp matches."""
    for matcher in _matchers():
        [pattern] = matcher["pattern"]
        m = re.match(pattern["regexp"], line)
        if m:
            return {k: m.group(v) for k, v in pattern.items() if k != "regexp"}
    return None


def test_problem_matcher_reads_our_errors(tmp_path: Path) -> None:
    f = spec(tmp_path, DUPLICATE)
    err = irqc("check", str(f)).stderr.splitlines()
    found = [m for m in map(_match, err) if m]
    assert found == [{"file": str(f), "line": "3", "column": "1", "severity": "error",
                      "message": "`x` is declared twice in this spec", "code": "E202"}]


def test_problem_matcher_reads_errors_with_no_place() -> None:
    err = irqc("check", "no/such.irqspec").stderr.splitlines()
    assert [m for m in map(_match, err) if m] == [
        {"severity": "error", "message": "no such file or folder: `no/such.irqspec`", "code": "E001"}]


def test_problem_matcher_reads_irqc_test_mismatches() -> None:
    line = "specs/s.irqspec:40:1: error: invariant p expected holds, got violated at depth 9 [T001]"
    assert _match(line) == {"file": "specs/s.irqspec", "line": "40", "column": "1", "severity": "error",
                            "message": "invariant p expected holds, got violated at depth 9", "code": "T001"}
    assert VSCODE_GCC.match(line) is not None


def test_problem_matcher_is_well_formed() -> None:
    for matcher in _matchers():
        assert matcher["owner"].startswith("irqc")
        for pattern in matcher["pattern"]:
            assert re.compile(pattern["regexp"]).groups == max(v for k, v in pattern.items() if k != "regexp")


# --------------------------------------------------------------------------- --json


def _json(r: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(r.stdout)  # the whole of stdout is one document


def test_check_json_clean_spec() -> None:
    r = irqc("check", "--json", S1)
    assert r.returncode == 0
    assert _json(r) == {"diagnostics": [], "files": [{"path": S1, "ok": True}]}


def test_check_json_one_shape_for_many_specs(tmp_path: Path) -> None:
    bad = spec(tmp_path, DUPLICATE)
    r = irqc("check", "--json", S1, str(bad))
    assert r.returncode == 2
    doc = _json(r)
    assert doc["files"] == [{"path": S1, "ok": True}, {"path": str(bad), "ok": False}]
    [d] = doc["diagnostics"]
    assert d["code"] == "E202" and d["location"]["path"] == str(bad) and d["location"]["line"] == 3
    assert d["labels"] == [{"path": str(bad), "line": 2, "col": 1, "message": "first declared here"}]


def test_check_json_label_in_another_file(tmp_path: Path) -> None:
    """A patch spec's label may point into its base: the label says which file."""
    base = spec(tmp_path, "spec base;\nvar x: bool = false;\n")
    patch = spec(tmp_path, "spec patch extends base;\nvar x: bool = true;\n")
    [d] = _json(irqc("check", "--json", str(patch)))["diagnostics"]
    assert d["code"] == "E202" and d["location"]["path"] == str(patch)
    assert d["labels"] == [{"path": str(base), "line": 2, "col": 1, "message": "declared here"}]


@pytest.mark.parametrize("argv, code", [
    (["--frobnicate", S1], "E501"),
    (["--js", S1], "E501"),  # no abbreviations: `--js` is not `--json`
    (["no/such.irqspec"], "E001"),
    (["--param", "CPUS=two", S1], "E306"),
    (["--param", "CPU=3", S1], "E211"),
])
def test_check_json_on_every_bad_path(argv: list[str], code: str) -> None:
    r = irqc("check", "--json", *argv)
    assert r.returncode == 2, r.stderr
    doc = _json(r)
    assert [d["code"] for d in doc["diagnostics"]] == [code]
    assert "Traceback" not in r.stderr


def test_usage_error_without_json_is_text_on_stderr() -> None:
    r = irqc("check", "--js", S1)
    assert r.returncode == 2 and r.stdout == "" and "[E501]" in r.stderr


def test_prove_rejects_abbreviated_options() -> None:
    r = irqc("prove", "--dep", "3", S1)
    assert r.returncode == 2 and "[E501]" in r.stderr


# --------------------------------------------------------------------------- start-up


@pytest.mark.parametrize("argv, loaded", [
    (["check", S1], []),
    (["check", "--json", "--dump-ir", S1], []),
    (["build", "--check", S1, "-o", "OUT"], ["jinja2"]),  # it generates, to compare
    (["prove", "--property", "eoi_pairing", S1], ["jinja2", "z3"]),
])
def test_a_subcommand_imports_only_what_it_uses(argv: list[str], loaded: list[str], tmp_path: Path) -> None:
    argv = [str(tmp_path) if a == "OUT" else a for a in argv]
    code = ("import sys\nfrom compiler.cli import main\n"
            f"main({argv!r})\n"
            "print(sorted(m for m in ('z3', 'jinja2') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stdout.splitlines()[-1] == repr(loaded)


def test_every_subcommand_still_registers() -> None:
    top = irqc("--help")
    assert top.returncode == 0 and all(c in top.stdout for c in ("check", "prove", "build"))
    for command, option in (("prove", "--max-states"), ("build", "--check"), ("check", "--dump-ir")):
        r = irqc(command, "--help")
        assert r.returncode == 0 and option in r.stdout, r.stderr


@pytest.fixture
def fresh_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private cache folder; the parser is rebuilt or reloaded as if in a new process."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    dsl_parser._lark.cache_clear()
    yield tmp_path / "cache" / "irqc"
    dsl_parser._lark.cache_clear()


def _parse(text: str) -> str:
    from dsl.source import SourceFile

    return repr(dsl_parser.parse(SourceFile("p.irqspec", text), Diagnostics()))


class _NeverBuilt(dsl_parser.Lark):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("the tables were rebuilt instead of loaded")


def test_tables_are_saved_then_loaded(fresh_tables: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = Path(S1).read_text()
    built = _parse(text)
    [cached] = fresh_tables.glob("irqspec-*.lark")
    dsl_parser._lark.cache_clear()
    monkeypatch.setattr(dsl_parser, "Lark", _NeverBuilt)
    assert _parse(text) == built
    assert list(fresh_tables.iterdir()) == [cached]  # no temporary file left behind


def test_a_corrupt_cache_file_is_rebuilt(fresh_tables: Path) -> None:
    _parse(UNDEFINED)
    [cached] = fresh_tables.glob("irqspec-*.lark")
    cached.write_bytes(cached.read_bytes()[:5000])
    dsl_parser._lark.cache_clear()
    assert _parse(UNDEFINED) != "None"
    with open(cached, "rb") as f:  # rewritten whole (pickling is not byte-for-byte repeatable)
        dsl_parser.Lark.load(f)


def test_an_unusable_cache_folder_costs_only_time(tmp_path: Path) -> None:
    (tmp_path / "not_a_folder").write_text("")
    for env in (dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "not_a_folder")),
                dict(os.environ, XDG_CACHE_HOME="", HOME=str(tmp_path / "not_a_folder" / "home"))):
        r = irqc("check", S1, env=env)
        assert r.returncode == 0 and r.stderr == "", r.stderr
    assert (tmp_path / "not_a_folder").read_text() == ""


# --------------------------------------------------------------------------- JSON Schemas (docs/schemas)

SCHEMAS = ROOT / "docs" / "schemas"
jsonschema = pytest.importorskip("jsonschema")


def _validator(name: str) -> Any:
    """A validator for one schema; the others are reachable by their file names, as `$ref`s
    between files in one folder are for any tool that reads them from disk."""
    from referencing import Registry, Resource

    docs = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in SCHEMAS.glob("*.schema.json")}
    registry: Any = Registry().with_resources((n, Resource.from_contents(d)) for n, d in docs.items())
    return jsonschema.Draft202012Validator(docs[name], registry=registry)


def _valid(name: str, doc: Any) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(name).iter_errors(doc)]
    assert errors == [], errors


def test_schemas_are_schemas() -> None:
    for p in SCHEMAS.glob("*.schema.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(p.read_text(encoding="utf-8")))


def test_check_json_matches_its_schema(tmp_path: Path) -> None:
    base = spec(tmp_path, "spec base;\nvar x: bool = false;\n")
    patch = spec(tmp_path, "spec patch extends base;\nvar x: bool = true;\n")
    runs = [irqc("check", "--json", "specs"), irqc("check", "--json", S1, str(spec(tmp_path, DUPLICATE))),
            irqc("check", "--json", str(spec(tmp_path, UNDEFINED)), str(patch), str(base)),
            irqc("check", "--json", "no/such.irqspec"), irqc("check", "--json", "--frobnicate")]
    assert [r.returncode for r in runs] == [0, 2, 2, 2, 2]
    for r in runs:
        _valid("check.schema.json", _json(r))


def test_schemas_reject_what_irqc_does_not_print() -> None:
    good = {"code": "E201", "severity": "error", "message": "m", "location": None, "notes": [], "labels": []}
    _valid("check.schema.json", {"diagnostics": [good], "files": []})
    for bad in ({**good, "code": "201"}, {**good, "severity": "fatal"}, {**good, "labels": [{"line": 1, "col": 1}]},
                {k: v for k, v in good.items() if k != "location"}):
        assert not _validator("check.schema.json").is_valid({"diagnostics": [bad]}), bad
    run = {"spec": "s", "name": "s", "params": {}, "results": [
        {"property": "p", "verdict": "holds", "depth": 1, "method": "bmc", "seconds": 0, "expected": None,
         "reason": None, "trace": None}]}
    _valid("prove.schema.json", {"irqc": "0.2", "all_cpus": False, "specs": [run]})
    maybe = {**run, "results": [{**run["results"][0], "verdict": "maybe"}]}
    for bad in ({"irqc": "0.2", "all_cpus": False, "specs": [maybe]}, run, [run],  # 0.1's shapes are gone
                {"irqc": "0.2", "all_cpus": True, "specs": [run]}):
        assert not _validator("prove.schema.json").is_valid(bad), bad


def test_prove_json_and_its_itf_trace_match_their_schemas(tmp_path: Path) -> None:
    r = irqc("prove", "--json", "--trace-out", str(tmp_path / "traces"), S1)
    assert r.returncode == 1, r.stderr  # S1 models Gowans's race: no_lost_interrupt is violated
    doc = _json(r)
    _valid("prove.schema.json", doc)
    files = [res["trace"] for res in doc["specs"][0]["results"] if res["trace"] is not None]
    assert files and all(isinstance(f, str) for f in files)
    for f in files:
        _valid("itf.schema.json", json.loads(Path(f).read_text(encoding="utf-8")))


def test_prove_json_for_several_specs_with_inline_traces() -> None:
    r = irqc("prove", "--json", "--property", "no_lost_interrupt", S1, S1)
    assert r.returncode == 1, r.stderr
    doc = _json(r)
    assert len(doc["specs"]) == 2
    inline = doc["specs"][0]["results"][0]["trace"]
    assert inline["#meta"]["property"] == "no_lost_interrupt" and len(inline["states"]) == 10
    _valid("prove.schema.json", doc)
    _valid("itf.schema.json", inline)


THREE = """spec three "violated only with three CPUs";
param CPUS = 2;
cpu c {
  var f: bool = false;
  for (;;) {
  idle:
    atomic { await (!f); f = true; }
  }
}
invariant at_most_two: !(exists i: cpu :: exists j: cpu :: exists k: cpu ::
                         i != j && j != k && i != k && cpu[i].f && cpu[j].f && cpu[k].f);
"""


def test_prove_all_cpus_json_is_the_same_envelope_and_matches_the_schema(tmp_path: Path) -> None:
    path = spec(tmp_path, THREE)
    r = irqc("prove", "--all-cpus", "--json", "--quiet", str(path))
    assert r.returncode == 1, r.stderr  # violated at CPUS=3
    doc = _json(r)
    _valid("prove.schema.json", doc)
    assert doc["all_cpus"] is True and [(s["spec"], s["name"]) for s in doc["specs"]] == [(str(path), "three")]
    res = {x["property"]: x for x in doc["specs"][0]["results"]}
    assert (res["at_most_two"]["verdict"], res["at_most_two"]["cpus"]) == ("violated", 3)
    _valid("itf.schema.json", res["at_most_two"]["trace"])
    assert not _validator("prove.schema.json").is_valid({**doc, "all_cpus": False})  # the flag picks the objects


def test_prove_json_usage_error_matches_the_schema() -> None:
    r = irqc("prove", "--json", "--frobnicate", S1)
    assert r.returncode == 2
    _valid("prove.schema.json", _json(r))
