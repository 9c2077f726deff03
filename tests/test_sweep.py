"""Sweeps (issue 9): `irqc prove SPEC... --param CPUS=2..3` runs the matrix of specs × parameter
values, each run in a process of its own, locally or on a Dask cluster, and prints one table
with a column per value.

The runs are S1 at CPUS=2 and 3 (about a second each); the stop test uses S6 under Z3 alone,
which does not finish, as the signal tests do."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from compiler.cli import main
from compiler.cli.sweep import Axis, columns, parse
from compiler.engine import check
from compiler.pipeline import load_model
from compiler.backends.z3 import resolve_params
from dsl.diagnostics import Diagnostics
from tests.schemas import valid

ROOT = Path(__file__).resolve().parent.parent
S1 = str(ROOT / "specs" / "gicv3_its_fasteoi.irqspec")
S6 = str(ROOT / "specs" / "imsic_move_intermediate.irqspec")


def irqc(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *kw.pop("python", []), "-m", "compiler.cli", "prove", *args],
                          cwd=ROOT, text=True, capture_output=True, timeout=120, **kw)


# --------------------------------------------------------------------------- parsing


def test_ranges_and_lists_make_axes_and_their_cross_product() -> None:
    diags = Diagnostics()
    fixed, axes = parse(["CPUS=2..4", "RERUN_BOUND=1", "X=5,2,0x3", "Y=1,3..4,3"], diags)
    assert not diags.has_errors
    assert fixed == {"RERUN_BOUND": 1}
    assert axes == [Axis("CPUS", (2, 3, 4)), Axis("X", (5, 2, 3)), Axis("Y", (1, 3, 4))]
    cols = columns(axes)
    assert len(cols) == 27 and cols[0] == {"CPUS": 2, "X": 5, "Y": 1} and cols[1] == {"CPUS": 2, "X": 5, "Y": 3}
    assert columns([]) == [{}]


@pytest.mark.parametrize("setting, words", [
    ("CPUS=4..2", "the range 4..2 is empty"),
    ("CPUS=a..b", "`a..b` is not a value"),
    ("CPUS=2,", "`` is not a value"),
    ("CPUS=2...3", "is not a value"),
    ("CPUS=1..1000000000", "more than 64 values"),
    ("2=1..2", "expected NAME=VALUE"),
])
def test_bad_sweep_syntax_is_e306(setting: str, words: str) -> None:
    diags = Diagnostics()
    parse([setting], diags)
    assert [d.code for d in diags.items] == ["E306"] and words in diags.items[0].message, diags.items


@pytest.mark.parametrize("argv, code, words", [
    (["--param", "CPUS=4..2"], "E306", "the range 4..2 is empty"),
    (["--param", "CPUS=a..b"], "E306", "is not a value"),
    (["--param", "CPUS=2..3", "--param", "CPUS=4"], "E306", "`CPUS` is given twice"),
    (["--param", "NOPE=2..3"], "E211", "the spec has no parameter `NOPE`"),
    (["--param", "CPUS=1..8", "--param", "RERUN_BOUND=0..8"], "E501", "the sweep has 72 runs"),
    (["--param", "CPUS=2..3", "--property", "nope"], "E501", "--property nope"),
    (["--param", "CPUS=2..3", "--jobs", "0"], "E501", "--jobs 0"),
    (["--param", "CPUS=2..3", "--style", "lkml"], "E501", "not available in a sweep"),
])
def test_bad_sweeps_are_exit_2_before_any_run(argv: list[str], code: str, words: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", S1, *argv, "--json"]) == 2
    diags = json.loads(capsys.readouterr().out)["diagnostics"]
    assert diags[0]["code"] == code and words in diags[0]["message"], diags


# --------------------------------------------------------------------------- running


def single_runs() -> dict[int, dict[str, tuple[str, int]]]:
    """S1 proved alone at CPUS=2 and 3, in this process: property -> (verdict, depth)."""
    out = {}
    for cpus in (2, 3):
        model = load_model(S1, {"CPUS": cpus}, Diagnostics())
        assert model is not None
        out[cpus] = {r.property: (r.verdict, r.depth) for r in check(model, resolve_params(model, {"CPUS": cpus}))}
    return out


@pytest.fixture(scope="module")
def singles() -> dict[int, dict[str, tuple[str, int]]]:
    return single_runs()


def short(verdict: str, depth: int) -> str:
    return {"violated": f"violated@{depth}", "holds": f"holds≤{depth}"}.get(verdict, verdict)


def test_a_local_sweep_prints_one_table_whose_columns_are_the_single_runs(
        singles: dict[int, dict[str, tuple[str, int]]]) -> None:
    r = irqc(S1, "--param", "CPUS=2..3", "--jobs", "2", python=["-X", "importtime"])
    assert r.returncode == 1, r.stderr  # S1's lost interrupt, at both CPU counts
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["spec", "property", "CPUS=2", "CPUS=3"], r.stdout
    rows = {cells[1]: cells[2:] for cells in (re.split(r" {2,}", line) for line in lines[2:])}
    assert rows == {p: [short(*singles[2][p]), short(*singles[3][p])] for p in singles[2]}
    assert rows["no_lost_interrupt"] == ["violated@9", "violated@9"]
    assert "distributed" not in r.stderr and "dask" not in r.stderr  # -X importtime lists every import
    assert len(re.findall(r"irqc prove: progress: \d/2 runs", r.stderr)) == 2, r.stderr


def sweep_json(*extra: str) -> list[dict[str, Any]]:
    r = irqc(S1, "--param", "CPUS=2..3", "--json", "--quiet", *extra)
    assert r.returncode == 1 and r.stderr == "", r.stderr
    doc = json.loads(r.stdout)
    valid("prove.schema.json", doc)
    assert [d["params"]["CPUS"] for d in doc["specs"]] == [2, 3]
    return list(doc["specs"])


def results(docs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [[{k: v for k, v in res.items() if k != "seconds"} for res in d["results"]] for d in docs]


def test_the_dask_cluster_gives_the_results_of_local_processes(
        singles: dict[int, dict[str, tuple[str, int]]]) -> None:
    distributed = pytest.importorskip("distributed")
    local = sweep_json()
    for doc, cpus in zip(local, (2, 3)):
        assert {r["property"]: (r["verdict"], r["depth"]) for r in doc["results"]} == singles[cpus]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        remote = sweep_json("--scheduler", cluster.scheduler_address)
    assert results(remote) == results(local)


def test_a_bad_scheduler_address_is_exit_2() -> None:
    pytest.importorskip("distributed")
    r = irqc(S1, "--param", "CPUS=2..3", "--scheduler", "no-port", "--quiet")
    assert r.returncode == 2 and "--scheduler no-port: cannot connect" in r.stderr, r.stderr


def children(pid: int) -> list[int]:
    """The processes `pid` started, from any of its threads (each thread lists its own)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            pass
    return out


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to see the runs start")
def test_ctrl_c_stops_the_sweep_and_prints_what_finished() -> None:
    p = subprocess.Popen([sys.executable, "-m", "compiler.cli", "prove", S6, "--param", "CPUS=2,3", "--jobs", "1",
                          "--engine", "bmc", "--depth", "200"], cwd=ROOT, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (cells := children(p.pid)) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    assert cells, "the sweep started no run"
    time.sleep(1)  # a stop forwarded while the run loads is held until its watchdog reports it anyway
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and time.monotonic() - sent < 10, (p.returncode, err)
    assert re.search(r"msi_lands_owned +inconclusive +not run", out), out
    assert "irqc prove: stopped by Ctrl-C (SIGINT)" in err and f"not run: {S6} (CPUS=3)" in err, err
    assert not any(Path(f"/proc/{c}").exists() for c in cells)  # no run is left behind
