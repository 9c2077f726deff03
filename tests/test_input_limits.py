"""Issue 13 item 3: inputs no engine can handle get a located diagnostic naming the limit, at
`irqc check` time, or a linear treatment; every shipped spec stays well inside the limits.

Each subprocess has a timeout only as a hang guard: the point is that the command completes.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from compiler import input_limits
from compiler.backends.python import generate
from compiler.pipeline import load_model
from dsl.diagnostics import Diagnostics

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.irqspec"))


def check(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler.cli.__main__", "check", *args, str(path)],
                          capture_output=True, text=True, timeout=120)


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.irqspec"
    path.write_text(f"spec {name};\n{body}\n", encoding="utf-8")
    return path


def nested_quantifiers(n: int) -> str:
    q = "x"
    for k in range(n):
        q = f"forall i{k}: 0..9 :: {q}"
    return q


# name -> (spec body, code, a phrase of the message that names the limit)
REFUSED = {
    "def_chain": ("var x: 0..3 = 0;\ndef d0 = x;\n" + "".join(f"def d{k} = d{k - 1} + d{k - 1};\n" for k in range(1, 21))
                  + "thread t { await (d20 > 0); }", "E213", "20000 nodes"),
    "def_param_twice": ("var x: 0..3 = 0;\ndef dbl(p: 0..3) = p + p;\nthread t { await (" + "dbl(" * 20 + "x"
                        + ")" * 20 + " > 0); }", "E213", "20000 nodes"),
    "fn_chain": ("var x: 0..3 = 0;\nfn f0() { x = 1; }\n" + "".join(f"fn f{k}() {{ f{k - 1}(); f{k - 1}(); }}\n"
                                                                  for k in range(1, 17)) + "thread t { f16(); }",
                 "E213", "20000 nodes"),
    "any_huge": ("var x: 0..1000000000 = 0;\nthread t { x = any v: 0..1000000000; }", "E309", "65536 values"),
    "any_array": ("var a: 0..3[0..99] = any;\nthread t { a[0] = 1; }", "E308", "4294967296 combinations"),
    "dims_40": ("var a: bool" + "[0..1]" * 40 + " = false;\nthread t { yield; }", "E308", "the limit is 65536"),
    "quantifiers_12": ("var x: bool = false;\ninvariant p: " + nested_quantifiers(12) + ";", "E309",
                       "more than 1048576 nodes"),
    "forall_huge": ("var x: bool = false;\ninvariant p: forall i: 0..1000000000 :: x;", "E309",
                    "more than 1048576 nodes"),
    "either_70": ("var n: 0..100 = 0;\nthread t { either " + " or ".join("{ n = %d; }" % k for k in range(70)) + " }",
                  "E410", "more than 64 deep"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unbounded_input_is_refused_with_the_limit_named(tmp_path: Path, name: str) -> None:
    body, code, limit = REFUSED[name]
    proc = check(write(tmp_path, name, body))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert f"[{code}]" in out and limit in out, out
    assert re.search(rf"{name}\.irqspec:\d+:\d+: error", out), out  # located
    assert "Traceback" not in out


def test_a_thousand_cpus_is_refused_after_the_parameters_are_fixed() -> None:
    spec = ROOT / "specs" / "gicv3_its_fasteoi.irqspec"
    proc = check(spec, "--param", "CPUS=1000")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "[E308]" in out and "CPUS=1000" in out and "limit is 256" in out, out
    assert check(spec, "--param", "CPUS=8").returncode == 0


WIDE = {
    "and_250": "var x: bool = false;\nthread t { await (" + " && ".join(["x"] * 250) + "); }",
    "or_250": "var x: bool = false;\nthread t { await (" + " || ".join(["x"] * 250) + "); }",
    "implies_300": "var x: bool = false;\nthread t { await (" + " ==> ".join(["x"] * 300) + "); }",
    "add_250": "var n: 0..1 = 0;\nthread t { await (" + " + ".join(["n"] * 250) + " == 0); }",
    "sub_250": "var n: 0..1 = 0;\nthread t { await (" + " - ".join(["n"] * 250) + " == 0); }",
    "cond_250": "var x: bool = false;\nvar n: 0..1 = 0;\nthread t { n = " + "x ? 0 : " * 250 + "1; }",
    "not_301": "var x: bool = false;\nthread t { await (" + "!" * 301 + "x); }",
    "threads_200": "var x: bool = false;\n" + "".join(f"thread t{k} {{ x = true; }}\n" for k in range(200)),
}


@pytest.mark.parametrize("name", sorted(WIDE))
def test_wide_input_generates_python_that_compiles(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, WIDE[name])
    diags = Diagnostics()
    model = load_model(str(path), {}, diags)
    assert model is not None, diags.items
    compile(generate(model, str(path)), str(path), "exec")


@pytest.mark.parametrize("cpus", [2, 3, 4])
def test_shipped_specs_are_well_inside_the_limits(cpus: int) -> None:
    for spec in SPECS:
        diags = Diagnostics()
        assert load_model(str(spec), {"CPUS": cpus}, diags) is not None, (spec.name, diags.items)


def test_docs_state_every_limit() -> None:
    """docs/language.md's Limits section gives each number the code enforces."""
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    section = text[text.index(". Limits\n"):]
    section = section[:section.index("\n## ")] if "\n## " in section else section
    for name in dir(input_limits):
        if name.startswith("MAX_"):
            value = getattr(input_limits, name)
            assert f"{value:,}" in section, (name, value)


def _load(tmp_path: Path, body: str) -> tuple[bool, str]:
    f = tmp_path / "c.irqspec"
    f.write_text('spec c "choices";\n' + body + "\n")
    diags = Diagnostics()
    model = load_model(str(f), {}, diags)
    return model is not None, "\n".join(d.message for d in diags.items)


def test_choices_count_per_path_not_across_branches(tmp_path: Path) -> None:
    """Both backends enumerate a Choose only on the paths that reach it: two branches with 300
    values each are 300 combinations per path (accepted), the same two choices one after the
    other are 90,000 (refused). Before, the limit multiplied across branches, which refused the
    IMSIC specs' flows once the lpriv sections became steps of their own."""
    branches = ("var x: 0..299 = 0;\nvar b: bool = false;\n"
                "thread t { if (b) { x = any v: 0..299; } else { x = any w: 0..299; } }")
    ok, _ = _load(tmp_path, branches)
    assert ok
    sequence = "var x: 0..299 = 0;\nvar y: 0..299 = 0;\nthread t { atomic { x = any v: 0..299; y = any w: 0..299; } }"
    ok, messages = _load(tmp_path, sequence)
    assert not ok and "on one path" in messages
