"""The dependency direction, checked cheaply: dsl never imports compiler; the two backends
never import each other; generated simulators import only the standard library; nothing
outside tests imports generated/."""
from __future__ import annotations

import ast
import re
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


def line_imports(path: Path) -> set[str]:
    """The modules named by import statements, read line by line: the simulators are tens of
    thousands of lines, and parsing them whole took most of a minute.  Every import statement
    starts a line (the generator writes no `;` before one), and a string that happens to read
    like one can only add a module, never hide one."""
    out: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*from\s+(\.*)([\w.]*)\s+import\b", line)
        if m:
            if not m.group(1):  # relative imports stay inside the file's own package
                out.add(m.group(2))
            continue
        m = re.match(r"\s*import\s+(.+)", line)
        if m:
            out.update(part.split()[0] for part in m.group(1).split("#")[0].split(",") if part.strip())
    return out


def test_line_imports_reads_what_the_parser_reads() -> None:
    for f in py_files("compiler") + py_files("dsl"):
        assert imports(f) <= line_imports(f), f


def test_generated_simulators_import_only_the_standard_library() -> None:
    for f in py_files("generated"):
        for m in line_imports(f):
            assert m.split(".")[0] in sys.stdlib_module_names or m == "__future__", (f, m)


def test_nothing_but_tests_imports_generated() -> None:
    for folder in ("dsl", "compiler", "bench"):
        for f in py_files(folder):
            assert not any(m == "generated" or m.startswith("generated.") for m in imports(f)), f
