"""The front end in one call: path -> checked, lowered `ir.Model` (or diagnostics)."""
from __future__ import annotations

import os
import sys

from compiler import ir
from compiler.compose import compose
from compiler.exprs import LowerError
from compiler.lower import lower
from dsl.diagnostics import Diagnostics

# Lowering recurses over statements and expressions; real specs are shallow and the
# parser already refuses absurd nesting, so this only has to cover honest inputs.
_RECURSION = 20_000


def load_model(path: str, overrides: dict[str, int], diags: Diagnostics) -> ir.Model | None:
    """Parse, compose (`extends`), resolve, type-check and lower one spec.

    `overrides` are `--param NAME=VALUE` settings; they are part of the check,
    because ranges and constants are checked at the parameters in force.
    Returns None when `diags` holds an error.
    """
    if sys.getrecursionlimit() < _RECURSION:
        sys.setrecursionlimit(_RECURSION)
    composed = compose(path, diags)
    if composed is None:
        return None
    try:
        model = lower(composed, overrides, diags)
    except LowerError:
        model = None
    except RecursionError:
        diags.error("E104", "the spec nests too deeply to lower", None)
        model = None
    if diags.has_errors:
        return None
    return model


def spec_files(paths: list[str], diags: Diagnostics) -> list[str]:
    """Files as given; a folder means every `.irqspec` directly in it, sorted."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".irqspec"))
            if not found:
                diags.error("E001", f"no .irqspec files in folder `{p}`", None)
            out.extend(found)
        elif os.path.exists(p):
            out.append(p)
        else:
            diags.error("E001", f"no such file or folder: `{p}`", None)
    return out


def parse_params(settings: list[str], diags: Diagnostics) -> dict[str, int]:
    """`NAME=VALUE` strings from `--param` -> a dict; bad ones become E306 diagnostics."""
    out: dict[str, int] = {}
    for s in settings:
        name, eq, value = s.partition("=")
        name = name.strip()
        try:
            if not eq or not name.isidentifier():
                raise ValueError
            out[name] = int(value.strip(), 0)
        except ValueError:
            diags.error("E306", f"`--param {s}`: expected NAME=INTEGER, e.g. `--param CPUS=3`", None)
    return out
