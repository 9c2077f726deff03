"""`irqc diff OLD NEW`: what a patch changes.

For each property: OLD's verdict -> NEW's verdict, labelled fixed, broken, unchanged (or
added, removed, unknown); for each property OLD violates and NEW does not, OLD's
counterexample replayed on NEW, up to the step where NEW departs from it
(compiler/diff.py says how steps are matched).

Exit status: 0 nothing broken, 1 some property broken (a regression), 2 bad input.
`--json`: `{"old", "new", "properties": [{"property", "old", "new", "change", "blocked_at"}]}`
with `blocked_at` null or `{"step", "instance", "old_text", "why", "text"}`.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from compiler import ir
from compiler.cli import EXIT_OK, EXIT_USAGE, EXIT_VIOLATED, emit_diagnostics_json
from compiler.pipeline import load_model, parse_params
from dsl.diagnostics import Diagnostics, render_all


def add_parser(sub: Any) -> None:
    p = sub.add_parser("diff", help="compare the verdicts of two specs (a patch): fixed, broken, unchanged",
                       description="Prove OLD and NEW, compare each property's verdict, and replay each of OLD's "
                                   "counterexamples that NEW no longer has on NEW, to the step where NEW departs.")
    p.add_argument("old", metavar="OLD", help="the spec before the patch")
    p.add_argument("new", metavar="NEW", help="the spec after the patch")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="prove both at this parameter value (repeatable)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="budget of each spec")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from compiler import engine
    from compiler.backends.python import generate, load_simulator
    from compiler.diff import compare, replay_on

    diags = Diagnostics()
    overrides = parse_params(args.param, diags)
    old = load_model(args.old, overrides, diags) if not diags.has_errors else None
    new = load_model(args.new, overrides, diags) if not diags.has_errors else None
    if diags.has_errors or old is None or new is None:
        if args.json:
            emit_diagnostics_json(diags, sys.stdout)
        else:
            print(render_all(diags), file=sys.stderr)
        return EXIT_USAGE
    results = [engine.check(m, {**ir_defaults(m), **_known(m, overrides)}, timeout=args.timeout) for m in (old, new)]
    changes = compare(*results)
    traces = {r.property: r.trace for r in results[0] if r.verdict == "violated" and r.trace is not None}
    sim = None
    out = []
    for c in changes:
        blocked = None
        if c.change == "fixed" and c.property in traces:
            if sim is None:
                sim = load_simulator(generate(new, new.path), new.name).Simulator({**ir_defaults(new),
                                                                                   **_known(new, overrides)})
            blocked = replay_on(sim, traces[c.property], new)
        out.append((c, blocked))
    if args.json:
        print(json.dumps({"old": args.old, "new": args.new, "properties": [_json(c, b) for c, b in out]},
                         indent=2, sort_keys=True))
    else:
        _print(args.old, args.new, out)
    return EXIT_VIOLATED if any(c.change == "broken" for c, _ in out) else EXIT_OK


def ir_defaults(model: ir.Model) -> dict[str, int]:
    return {p.name: p.default for p in model.params}


def _known(model: ir.Model, overrides: dict[str, int]) -> dict[str, int]:
    names = {p.name for p in model.params}
    return {k: v for k, v in overrides.items() if k in names}


def _json(c: Any, b: Any) -> dict[str, Any]:
    blocked = None if b is None else {"step": b.step, "instance": b.instance, "old_text": b.old_text, "why": b.why,
                                      "text": b.describe()}
    return {"property": c.property, "old": c.old, "new": c.new, "change": c.change, "blocked_at": blocked}


def _print(old: str, new: str, out: list[Any]) -> None:
    print(f"irqc diff {old} -> {new}")
    width = max((len(c.property) for c, _ in out), default=8)
    for c, b in out:
        print(f"  {c.property:<{width}}  {c.change:<9}  {c.old} -> {c.new}")
        if b is not None:
            print(f"  {'':<{width}}  {'':<9}  OLD's counterexample on NEW: {b.describe()}")
        elif c.change == "fixed":
            print(f"  {'':<{width}}  {'':<9}  OLD's counterexample replays on NEW to its end "
                  "(the property now holds for another reason, or NEW's steps differ too much to match)")
