"""`irqc test PATH...`: prove every spec and hold each verdict to the spec's `expect`.

The regression command for a library of specs: one located line per expectation not met,
a summary line, exit 0 when every expectation is met.  A property with no `expect` is
expected to hold (a cover: to be covered), so an unannounced violation is a mismatch.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, replace
from typing import Any, TextIO

from compiler import ir
from compiler.cli import (EXIT_INTERNAL, EXIT_OK, EXIT_STRICT, EXIT_USAGE, EXIT_VIOLATED, emit_diagnostics_json,
                          usage_error)
from compiler.coverage import Scan, step_warnings, suspicious, vacuity_warnings
from compiler.results import PropertyResult


EPILOG = """expectations:
  expect P: violated      met by `violated at depth N`
  expect P: holds         met by `proved` or `holds up to depth K` (also the default, with no expect)
  expect C: covered       met by `covered at depth N` (the default for a cover)
  expect C: unreachable   met by `unreachable` or `not covered up to depth K`
An inconclusive verdict meets no expectation.

exit status:
  0   every expectation is met
  1   some expectation is not met
  2   bad input or bad command line
  4   --strict: every expectation is met, but a step is never taken or a property holds vacuously
  70  internal error in irqc: please report it
"""


def add_parser(subparsers: Any) -> None:
    from compiler.backends.z3 import DEFAULT_DEPTH, DEFAULT_MAX_K
    from compiler.engine import DEFAULT_MAX_STATES, DEFAULT_MAX_STATES_C

    p = subparsers.add_parser(
        "test", help="prove every spec and compare each verdict with its `expect`",
        description="Prove each spec (as `irqc prove` does) and report every verdict that differs from the "
                    "spec's `expect`.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH", help=".irqspec files, or folders of them")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    p.add_argument("--depth", type=int, default=DEFAULT_DEPTH, metavar="K",
                   help=f"where the search is cut, Z3 checks runs of up to K steps (default {DEFAULT_DEPTH}); "
                        "`expect P: holds` is then met by `holds up to depth K`")
    p.add_argument("--max-k", type=int, default=DEFAULT_MAX_K, metavar="N",
                   help=f"try k-induction up to k=N after a clean bounded run; 0 turns it off (default {DEFAULT_MAX_K})")
    p.add_argument("--max-states", type=int, default=None, metavar="N",
                   help=f"give up the exhaustive search after N states (default {DEFAULT_MAX_STATES:,} for the "
                        f"Python search; for the compiled one, what 3.5 GiB holds, or half the free "
                        f"memory if less, at least {DEFAULT_MAX_STATES_C:,})")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="give up on a property after this much time (inconclusive: a mismatch)")
    p.add_argument("--strict", action="store_true",
                   help="also print steps never taken and vacuous properties, and exit 4 if there are any")
    p.add_argument("--cross-check", action="store_true",
                   help="also have Z3 BMC re-derive each counterexample's least depth (as irqc prove --cross-check)")
    p.add_argument("--json", action="store_true", help="print the results as JSON (schema in docs/prove.md)")
    p.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class Judged:
    """One property's verdict held to its expectation."""

    prop: ir.Property
    result: PropertyResult
    expected: str  # the spec's `expect`, or the default

    @property
    def met(self) -> bool:
        return replace(self.result, expected=self.expected).matches_expectation is True


@dataclass(frozen=True, slots=True)
class SpecTest:
    path: str
    model: ir.Model
    judged: list[Judged]
    scan: Scan | None  # coverage and vacuity, when the exhaustive search ran

    def warnings(self) -> list[str]:
        steps = step_warnings(self.model, self.scan) if self.scan is not None else []
        return steps + vacuity_warnings(self.model, [j.result for j in self.judged])


def run(args: argparse.Namespace) -> int:
    from compiler.pipeline import load_model, parse_params, spec_files
    from dsl.diagnostics import Diagnostics, render_all

    if args.timeout is not None and not (args.timeout > 0 and math.isfinite(args.timeout)):
        return usage_error(f"--timeout {args.timeout:g}: the timeout must be a positive number of seconds",
                           as_json=args.json)
    for flag, value in (("--max-states", args.max_states), ("--depth", args.depth), ("--max-k", args.max_k)):
        if value is not None and value < 0:
            return usage_error(f"{flag} {value}: must be 0 or more", as_json=args.json)
    diags = Diagnostics()
    files = spec_files(args.paths, diags)
    overrides = parse_params(args.param, diags)
    models = [] if diags.has_errors else [(path, load_model(path, overrides, diags)) for path in files]
    if diags.has_errors:
        if args.json:
            emit_diagnostics_json(diags, sys.stdout)
        else:
            sys.stderr.write(render_all(diags) + "\n")
        return EXIT_USAGE
    t0 = time.monotonic()
    try:
        specs = [_judge(path, m, overrides, args) for path, m in models if m is not None]
    except _Disagreement as e:
        sys.stderr.write(f"irqc: internal error: the two backends disagree: {e}\n"
                         "This is a bug in irqc's compiler; please report it with the spec and the command.\n")
        return EXIT_INTERNAL
    seconds = time.monotonic() - t0
    if args.json:
        _print_json(specs, seconds, sys.stdout)
    else:
        _print_text(specs, seconds, args.strict, sys.stdout)
    if not all(j.met for sp in specs for j in sp.judged):
        return EXIT_VIOLATED
    if args.strict and any(suspicious(sp.scan, [j.result for j in sp.judged]) for sp in specs):
        return EXIT_STRICT
    return EXIT_OK


class _Disagreement(Exception):
    pass


def _judge(path: str, model: ir.Model, overrides: dict[str, int], args: argparse.Namespace) -> SpecTest:
    from compiler.backends.z3 import resolve_params
    from compiler.engine import BackendDisagreement, check

    params = resolve_params(model, overrides)
    scans: list[Scan] = []
    try:
        results = check(model, params, depth=args.depth, max_k=args.max_k, timeout=args.timeout,
                        max_states=args.max_states, on_scan=scans.append, cross_check=args.cross_check)
    except BackendDisagreement as e:
        raise _Disagreement(str(e)) from e
    props = {p.name: p for p in model.properties}
    judged = [Judged(props[r.property], r, r.expected or _default(props[r.property])) for r in results
              if r.property in props]
    return SpecTest(path, model, judged, scans[0] if scans else None)


def _default(p: ir.Property) -> str:
    return "covered" if p.kind == "cover" else "holds"


# --------------------------------------------------------------------------- output


def mismatch_line(path: str, model: ir.Model, j: Judged) -> str:
    """`path:line:col: error: property P expected holds, got violated at depth 9 [T001]`, at the
    property's declaration (in a base spec, the line says which spec was tested)."""
    sp = j.prop.span
    where = f"{sp.path}:{sp.line}:{sp.col}" if sp.line > 0 else path
    what = "cover" if j.prop.kind == "cover" else "property"
    tested = "" if sp.path == path or sp.line <= 0 else f" (in spec {model.name}, {path})"
    return f"{where}: error: {what} {j.prop.name} expected {j.expected}, got {j.result.summary()}{tested} [T001]"


def _print_text(specs: list[SpecTest], seconds: float, strict: bool, out: TextIO) -> None:
    judged = [j for sp in specs for j in sp.judged]
    for sp in specs:
        for j in sp.judged:
            if not j.met:
                out.write(mismatch_line(sp.path, sp.model, j) + "\n")
    warnings = [w for sp in specs for w in sp.warnings()]
    if strict:
        out.writelines(w + "\n" for w in warnings)
    bad = sum(not j.met for j in judged)
    out.write(f"irqc test: {len(specs)} spec{'s' if len(specs) != 1 else ''}, {len(judged)} expectations, "
              f"{len(judged) - bad} met, {bad} not met, {len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
              f"{'' if strict or not warnings else ' (--strict shows them)'} ({seconds:.1f} s)\n")


def _print_json(specs: list[SpecTest], seconds: float, out: TextIO) -> None:
    docs = [{"spec": sp.path, "name": sp.model.name, "results": [_judged_json(j) for j in sp.judged],
             **({"coverage": sp.scan.coverage.to_json()} if sp.scan is not None else {})} for sp in specs]
    judged = [j for sp in specs for j in sp.judged]
    doc = {"specs": docs, "expectations": len(judged), "met": sum(j.met for j in judged),
           "ok": all(j.met for j in judged), "seconds": round(seconds, 3)}
    out.write(json.dumps(doc, indent=2) + "\n")


def _judged_json(j: Judged) -> dict[str, Any]:
    r = j.result
    return {"property": r.property, "kind": j.prop.kind, "expected": j.expected, "explicit": r.expected is not None,
            "verdict": r.verdict, "depth": r.depth, "method": r.method, "met": j.met,
            "line": j.prop.span.line if j.prop.span.line > 0 else None, "seconds": round(r.seconds, 4),
            **({"vacuous": True} if r.vacuous is not None else {})}


__all__ = ["add_parser", "run", "mismatch_line"]
