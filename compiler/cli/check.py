"""`irqc check PATH...`: parse and check; print diagnostics; exit 0 when clean, 2 on any error.

`--json` prints one document whatever the number of specs (docs/schemas/check.schema.json):
`{"diagnostics": [...], "files": [{"path", "ok"}]}`.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from compiler.cli import EXIT_OK, EXIT_USAGE, emit_diagnostics_json
from compiler.pipeline import load_model, parse_params, spec_files
from dsl.diagnostics import Diagnostics, render_all


def add_parser(sub: Any) -> None:
    p = sub.add_parser("check", help="parse and check specs; print diagnostics",
                       description="Parse and check .irqspec files (a folder means every .irqspec in it).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="a spec file, or a folder of them")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="check at this parameter value (repeatable)")
    p.add_argument("--json", action="store_true", help="print diagnostics as JSON")
    p.add_argument("--dump-ir", action="store_true",
                   help="print the core IR each spec lowers to: its atomic steps, as both backends see them")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    diags = Diagnostics()
    overrides = parse_params(args.param, diags)
    files = spec_files(args.paths, diags)
    checked: list[dict[str, object]] = []
    if not diags.has_errors:
        for path in files:
            before = len(diags.items)
            model = load_model(path, overrides, diags)
            checked.append({"path": path, "ok": model is not None and len(diags.items) == before})
            if model is not None and args.dump_ir and not args.json:
                from compiler.irdump import dump

                print(dump(model), end="")
    if args.json:
        emit_diagnostics_json(diags, sys.stdout, files=checked)
    elif diags.items:
        print(render_all(diags), file=sys.stderr)
    elif not args.dump_ir:
        for c in checked:
            print(f"{c['path']}: ok")
    return EXIT_USAGE if diags.has_errors else EXIT_OK
