"""`irqc trace FILE --to FORMAT`: show an ITF trace (from `irqc prove --trace-out` or a
simulator) as a table, a race diagram, Mermaid, VCD, SARIF or canonical ITF; docs/prove.md."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from compiler import traceview, tracefmt
from compiler.traceview import write_atomically

EXIT_OK, EXIT_USAGE = 0, 2

# A trace irqc writes is a few kB per step; anything this big is not one of ours.
MAX_TRACE_BYTES = 64 << 20

EPILOG = """formats:
  table    one column per agent instance, one row per step (irqc prove's default)
  lkml     the race diagram of LKML threads: acting lanes, CPUs first, function-level events,
           changes as numbered footnotes; no line wider than 75 columns
  mermaid  a Mermaid sequenceDiagram (renders in GitHub and GitLab Markdown)
  vcd      a Value Change Dump for waveform viewers (GTKWave, Surfer): one signal per state
           element, time = step
  sarif    a SARIF 2.1.0 log: one result, one threadFlow per agent instance
  itf      the trace itself, re-indented

exit status:
  0   the trace was shown
  2   the file is unreadable or not an ITF trace (the error names the state and the field)
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "trace", help="show an ITF trace as a table, race diagram, Mermaid, VCD or SARIF",
        description="Render an ITF trace written by `irqc prove --trace-out` or a generated simulator.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="an .itf.json trace")
    p.add_argument("--to", choices=tracefmt.FORMATS, default="table", help="the output format (default table)")
    p.add_argument("-o", "--output", metavar="OUT", help="write to OUT (atomically) instead of stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        doc = read_document(args.file)
        if args.to in ("lkml", "mermaid", "sarif"):
            _add_events(doc)
        text = tracefmt.render(doc, args.to)
    except traceview.TraceFormatError as e:
        return _bad_input(args.file, str(e))
    if args.output:
        if (msg := sarif_problem(args.output, "-o")) is not None:
            from compiler.cli import usage_error
            return usage_error(msg, as_json=False)
        write_atomically(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def read_document(path: str) -> dict[str, Any]:
    """The trace file as a checked ITF document; TraceFormatError says what is wrong and where."""
    try:
        size = os.stat(path).st_size
        if size > MAX_TRACE_BYTES:
            raise traceview.TraceFormatError(f"{size} bytes: irqc reads traces of up to {MAX_TRACE_BYTES >> 20} MiB")
        with open(path, encoding="utf-8") as f:
            doc = json.load(f, parse_constant=_not_json)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise traceview.TraceFormatError(f"cannot read an ITF trace: {getattr(e, 'strerror', None) or e}") from e
    except RecursionError as e:
        raise traceview.TraceFormatError("cannot read an ITF trace: nested too deeply") from e
    traceview.check_document(doc)
    if not doc["states"]:
        raise traceview.TraceFormatError("the trace has no states")
    checked: dict[str, Any] = doc
    return checked


def _add_events(doc: dict[str, Any]) -> None:
    """A trace without events (a simulator's `explore --trace-out`, an older irqc) gets them from
    its spec, when `source` still names it and its `source_hash` matches: the diagram then
    names functions, as `irqc prove --style lkml` does.  Otherwise it is shown as it is."""
    meta = doc.get("#meta", {})
    if any("event" in s.get("#meta", {}) for s in doc["states"][1:]):
        return
    source, want = meta.get("source"), meta.get("source_hash")
    if not isinstance(source, str) or not want or not os.path.isfile(source):
        return
    from compiler.events import ghost_vars, hidden_for, kinds, property_reads, step_events
    from compiler.pipeline import load_model
    from dsl.diagnostics import Diagnostics

    params = meta.get("params", {})
    overrides = {str(k): v for k, v in params.items() if isinstance(v, int) and not isinstance(v, bool)}
    model = load_model(source, overrides, Diagnostics())
    if model is None or model.source_hash != want:
        return
    hidden = hidden_for(ghost_vars(model), property_reads(model), meta.get("property"))
    traceview.annotate(doc, step_events(model), hidden, kinds(model))


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _bad_input(path: str, message: str) -> int:
    """A located diagnostic in the gcc shape (`FILE:1:1: error: ... [E502]`), exit 2."""
    from dsl.diagnostics import Diagnostic, render
    from dsl.source import Span

    sys.stderr.write(render(Diagnostic("E502", message, Span(path, 0, 0, 1, 1)), {}) + "\n")
    return EXIT_USAGE


# --------------------------------------------------------------------------- SARIF files


def sarif_problem(path: str, option: str = "--sarif") -> str | None:
    """Why `path` cannot be written as a file; None when it can (checked before any proving)."""
    from compiler.cli.paths import output_dir_problem

    if os.path.isdir(path):
        return f"{option} {path}: is a folder"
    parent = os.path.dirname(os.path.abspath(path))
    problem = output_dir_problem(option, parent)
    return problem.replace(f"{option} {parent}", f"{option} {path}", 1) if problem else None


def write_sarif(path: str, docs: list[dict[str, Any]]) -> None:
    """The SARIF 2.1.0 log of a whole run (one result per violation), written atomically."""
    from compiler.cli import version

    write_atomically(path, json.dumps(tracefmt.sarif_log(docs, version()), indent=2) + "\n")


__all__ = ["add_parser", "run", "read_document", "sarif_problem", "write_sarif"]
