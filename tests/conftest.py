"""Shared fixtures.

`shipped_test`: `irqc test --json` over every shipped spec at its own parameters, one spec per
process, two at a time.  It is the suite's one exhaustive pass over the shipped specs at their
defaults: test_irqc_test.py holds it to the specs' `expect`s and never-taken steps,
test_specs_e2e.py takes its verdicts and counterexample lengths from it.

`once(name, compute)` computes a JSON value once per test session, also when pytest-xdist runs
the session in several workers (`.ci/run` does): the first worker to ask computes it under a
file lock in the session's shared temporary folder, the others wait and read it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "specs").glob("*.irqspec"))


@pytest.fixture(scope="session")
def once(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Callable[[], Any]], Any]:
    # Under xdist each worker's basetemp is a folder of the session's one (pytest-xdist's docs).
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent

    def get(name: str, compute: Callable[[], Any]) -> Any:
        import fcntl

        path = shared / f"once-{name}.json"
        with open(shared / f"once-{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if path.exists():
                return json.loads(path.read_text())
            value = compute()
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(value))
            tmp.replace(path)
            return value

    return get


def _irqc_test(path: Path) -> tuple[int, dict[str, Any]]:
    # A process per spec: Z3's context is not safe to share between threads.
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "test", "--json", str(path)], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode in (0, 1), (path, p.returncode, p.stderr[-2000:])
    doc: dict[str, Any] = json.loads(p.stdout)
    return p.returncode, doc


def _shipped() -> dict[str, Any]:
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(_irqc_test, SHIPPED))
    return {"code": max(code for code, _ in runs), "specs": [s for _, doc in runs for s in doc["specs"]]}


@pytest.fixture(scope="session")
def shipped_test(once: Callable[[str, Callable[[], Any]], Any]) -> dict[str, Any]:
    """{"code": worst exit code, "specs": [irqc test's spec documents, in file order]}."""
    doc: dict[str, Any] = once("shipped_test", _shipped)
    return doc
