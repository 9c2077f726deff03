"""The simulators irqc runs itself, compiled once and kept on disk.

Generating a simulator and compiling it with Python's `compile()` cost about a second for an
IMSIC spec, on every `irqc prove`.  The compiled module (a marshalled code object) is kept in
the cache folder beside the compiled searches (`$IRQC_CACHE_DIR/simulators`, else
`~/.cache/irqc/simulators`), named after everything the text depends on: irqc's own source
(every file of `compiler/` and `dsl/`), the Python version, the spec's text (its source hash, and
its path, which the simulator quotes), the model's full IR dump (so a model irqc rewrote, such as
the coverage scan's probe, has its own entry) and the options.  A file that is missing, cannot
be read or does not unmarshal is generated again; a folder that cannot be written is not an
error.  `irqc build` never reads it: its files are generated every time.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import marshal
import os
import sys
import tempfile
import types
from pathlib import Path

from compiler import ir, irdump
from compiler.backends.python.generate import generate

ROOT = Path(__file__).resolve().parents[3]


def folder() -> Path:
    if os.environ.get("IRQC_CACHE_DIR"):
        return Path(os.environ["IRQC_CACHE_DIR"]) / "simulators"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "irqc" / "simulators"


def simulator(model: ir.Model, spec: str, events: bool = True) -> types.ModuleType:
    """`load_simulator(generate(model, spec, events=events), model.name)`, compiled at most once."""
    name = f"<irqc simulator {model.name}>"
    path = folder() / f"sim-{_key(model, spec, events, name)}.marshal"
    code = _read(path)
    if code is None:
        code = compile(generate(model, spec, events=events), name, "exec")
        _write(path, code)
    return module(code, model.name, name)


def module(code: types.CodeType, name: str, filename: str) -> types.ModuleType:
    m = types.ModuleType(name)
    m.__file__ = filename
    exec(code, m.__dict__)  # noqa: S102 - our own generated code
    return m


@functools.cache
def _irqc_hash() -> str:
    h = hashlib.sha256(importlib.util.MAGIC_NUMBER + sys.version.encode())
    for sub in ("compiler", "dsl"):
        for f in sorted((ROOT / sub).rglob("*")):
            if f.is_file() and f.suffix in (".py", ".j2", ".lark"):
                h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _key(model: ir.Model, spec: str, events: bool, name: str) -> str:
    text = "\0".join([_irqc_hash(), model.source_hash, model.path, spec, str(events), name, irdump.dump(model)])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]  # a path need not be UTF-8


def _read(path: Path) -> types.CodeType | None:
    try:
        code = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def _write(path: Path, code: types.CodeType) -> None:
    """Atomically: a concurrent irqc reads the whole file or none."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sim-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(marshal.dumps(code))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
