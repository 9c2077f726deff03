"""The front end in one call: path -> checked, lowered `ir.Model` (or diagnostics)."""
from __future__ import annotations

import os
import sys

from compiler import ir
from compiler.compose import compose
from compiler.exprs import LowerError
from compiler.lower import lower
from dsl.diagnostics import Diagnostics, Label

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
    if diags.has_errors or model is None:
        return None
    _check_initial_states(model, overrides, diags)
    return None if diags.has_errors else model


def _check_initial_states(model: ir.Model, overrides: dict[str, int], diags: Diagnostics) -> None:
    """E307: with no initial state every property would hold vacuously.  Only a spec with
    `initially` clauses can lack one, so only it pays for loading Z3."""
    if not model.initially:
        return
    from compiler.backends.z3.initial import conflicting_initially

    clauses = conflicting_initially(model, {**ir.default_params(model), **overrides})
    if clauses is None:
        return
    spans = [model.initially[i].span for i in clauses]
    others = [Label(span, "this clause takes part in the conflict") for span in spans[1:]]
    diags.error("E307", "no initial state: the `initially` clauses cannot all hold"
                + (f" at {_params_text(model, overrides)}" if model.params else ""), spans[0],
                "every property would hold vacuously; relax a clause, or change the initial values",
                labels=others)


def _params_text(model: ir.Model, overrides: dict[str, int]) -> str:
    values = {**ir.default_params(model), **overrides}
    return " ".join(f"{k}={v}" for k, v in sorted(values.items()))


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
