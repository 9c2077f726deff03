"""Shared fixtures.

`shipped_test`: `irqc test --json` over every shipped spec at its own parameters, run once per
session, one spec per process, two at a time.  It is the suite's one exhaustive pass over the
shipped specs at their defaults: test_irqc_test.py holds it to the specs' `expect`s and
never-taken steps, test_specs_e2e.py its verdicts and counterexample lengths.  Modules using
it are in one xdist group (`pytest -n 2 --dist loadgroup`, as `.ci/run` runs it), so a parallel
run computes it once as well.
"""
from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "specs").glob("*.irqspec"))


def _irqc_test(path: Path) -> tuple[int, dict[str, Any]]:
    # A process per spec: Z3's context is not safe to share between threads.
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "test", "--json", str(path)], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode in (0, 1), (path, p.returncode, p.stderr[-2000:])
    doc: dict[str, Any] = json.loads(p.stdout)
    return p.returncode, doc


@pytest.fixture(scope="session")
def shipped_test() -> dict[str, Any]:
    """{"code": worst exit code, "specs": [irqc test's spec documents, in file order]}."""
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(_irqc_test, SHIPPED))
    return {"code": max(code for code, _ in runs), "specs": [s for _, doc in runs for s in doc["specs"]]}
