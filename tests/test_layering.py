"""The dependency direction, checked cheaply: dsl never imports compiler; the two backends
never import each other; generated simulators import only the standard library; nothing
outside tests imports generated/."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def py_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_dsl_does_not_import_compiler() -> None:
    for f in py_files("dsl"):
        assert not any(m == "compiler" or m.startswith("compiler.") for m in imports(f)), f


def test_backends_do_not_import_each_other() -> None:
    for a, b in (("z3", "python"), ("python", "z3")):
        for f in py_files(f"compiler/backends/{a}"):
            assert not any(m.startswith(f"compiler.backends.{b}") for m in imports(f)), f


def test_generated_simulators_import_only_the_standard_library() -> None:
    for f in py_files("generated"):
        for m in imports(f):
            assert m.split(".")[0] in sys.stdlib_module_names or m == "__future__", (f, m)


def test_nothing_but_tests_imports_generated() -> None:
    for folder in ("dsl", "compiler", "bench"):
        for f in py_files(folder):
            assert not any(m == "generated" or m.startswith("generated.") for m in imports(f)), f
