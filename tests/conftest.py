"""Shared fixtures.

`shipped_test`: `irqc test --json` over every shipped spec at its own parameters, one spec per
process, two at a time.  It is the suite's one exhaustive pass over the shipped specs at their
defaults: test_irqc_test.py holds it to the specs' `expect`s and never-taken steps,
test_specs_e2e.py takes its verdicts and counterexample lengths from it.

`once(name, compute)` computes a JSON value once per test session, also when pytest-xdist runs
the session in several workers (`.ci/run` does): the first worker to ask computes it under a
file lock in the session's shared temporary folder, the others wait and read it.

The compiled searches of the whole session share one cache in that folder (`_c_search_cache`).
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


def _shared_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's temporary folder, the same for every xdist worker (pytest-xdist's docs)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def _c_search_cache(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One compiled-search cache for the whole session, its workers and the `irqc` processes it
    starts (unless IRQC_CACHE_DIR is set): the tests never read or fill the user's own cache,
    and a spec compiled by one test is not compiled again by the next."""
    if os.environ.get("IRQC_CACHE_DIR"):
        yield
        return
    os.environ["IRQC_CACHE_DIR"] = str(_shared_temp(tmp_path_factory) / "c-search-cache")
    yield
    del os.environ["IRQC_CACHE_DIR"]


@pytest.fixture(scope="session")
def once(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Callable[[], Any]], Any]:
    shared = _shared_temp(tmp_path_factory)

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
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "test", "--json", "--cross-check", str(path)], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode in (0, 1), (path, p.returncode, p.stderr[-2000:])
    doc: dict[str, Any] = json.loads(p.stdout)
    return p.returncode, doc


def _shipped() -> dict[str, Any]:
    # The IMSIC specs first: they take most of the time, and a long one started last would
    # leave the other process idle at the end.
    order = sorted(SHIPPED, key=lambda p: not p.stem.startswith("imsic"))
    with ThreadPoolExecutor(2) as pool:
        runs = dict(zip(order, pool.map(_irqc_test, order)))
    return {"code": max(code for code, _ in runs.values()),
            "specs": [s for path in SHIPPED for s in runs[path][1]["specs"]]}


@pytest.fixture(scope="session")
def shipped_test(once: Callable[[str, Callable[[], Any]], Any]) -> dict[str, Any]:
    """{"code": worst exit code, "specs": [irqc test's spec documents, in file order]}."""
    doc: dict[str, Any] = once("shipped_test", _shipped)
    return doc
