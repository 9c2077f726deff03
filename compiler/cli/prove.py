"""`irqc prove`: bounded model checking (and k-induction) with Z3; see docs/prove.md."""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from compiler import ir, limits
from compiler.backends.c.search import SEARCHES
from compiler.backends.z3 import DEFAULT_DEPTH, DEFAULT_MAX_K, resolve_params
from compiler.backends.z3 import interrupt as z3_interrupt
from compiler.cli.watchdog import EXIT_STATUS, Watchdog
from compiler.cli import (EXIT_INCONCLUSIVE, EXIT_INTERNAL, EXIT_OK, EXIT_STRICT, EXIT_USAGE, EXIT_VIOLATED, aligned,
                          emit_diagnostics_json, sweep, usage_error)
from compiler.cli.paths import output_dir_problem
from compiler.coverage import Scan, step_warnings, suspicious
from compiler.events import annotate, step_events
from compiler.cli.trace import sarif_problem, write_sarif
from compiler.engine import DEFAULT_MAX_STATES, DEFAULT_MAX_STATES_C, ENGINES, BackendDisagreement, check
from compiler.results import PropertyResult
from compiler.traceview import fit_lines
from compiler.trace import itf_document, itf_filename, render_lkml, render_table, to_itf, write_itf


EPILOG = f"""verdicts:
  violated at depth N               a run of N steps violates it (the shortest); the table shows it
  holds up to depth K               no run of at most K steps violates it
  proved (exhaustive search, N st.) every reachable state of this instance was examined
  proved (k-induction, k=N)         no run of any length violates it
  proved (IC3, inductive invariant re-checked)
                                    --engine ic3: Spacer's invariant, re-checked by fresh solvers
  inconclusive (reason)             a limit or the solver stopped it (the reason says which); nothing
                                    violated up to the depth given

How: the generated simulator first searches the instance exhaustively (up to --max-states,
default {DEFAULT_MAX_STATES:,} in Python; compiled, what 3.5 GiB holds, or half the free memory
if less, at least {DEFAULT_MAX_STATES_C:,}); Z3 then confirms each counterexample the search found, step
by step (--cross-check: Z3 BMC also re-derives its least depth).
When the search cannot finish, Z3 checks every run up to --depth (default {DEFAULT_DEPTH}) and tries
k-induction for k <= --max-k (default {DEFAULT_MAX_K}).  --engine bmc uses Z3 alone; --engine ic3
uses Z3's Spacer (IC3/PDR) for proofs and BMC for counterexamples (--show-invariant prints each proof).
--timeout S bounds each spec, every engine together; the search may use half of it.

exit status:
  0   every property holds or is proved
  1   some property is violated
  2   bad input or bad command line
  3   inconclusive (and none violated)
  4   --strict: nothing else to report, but a step is never taken or a property holds vacuously
  70  internal error in irqc: please report it
  130 stopped by Ctrl-C (143: SIGTERM); what was established is printed
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "prove", help="check properties with Z3 (bounded, then k-induction)",
        description="Check every property of each spec over all interleavings up to a depth; print the "
                    "shortest counterexample of each violated property.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH", help=".irqspec files, or folders of them")
    p.add_argument("--depth", type=int, default=DEFAULT_DEPTH, metavar="K",
                   help=f"check runs of up to K steps (default {DEFAULT_DEPTH})")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    p.add_argument("--property", action="append", default=[], metavar="NAME",
                   help="check only this property (repeatable; default: all)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="wall-clock budget of each spec, every engine together (the exhaustive search may use "
                        "half); what is unsettled then is reported with the limit that stopped it")
    p.add_argument("--max-k", type=int, default=DEFAULT_MAX_K, metavar="N",
                   help=f"try k-induction up to k=N after a clean run; 0 turns it off (default {DEFAULT_MAX_K})")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="auto: exhaustive search, then Z3 for traces (or BMC and k-induction when the search "
                        "cannot finish); bmc: Z3 alone; ic3: Z3's Spacer (IC3/PDR), each proof an inductive "
                        "invariant re-checked by fresh solvers, each violation found by BMC (default auto)")
    p.add_argument("--show-invariant", action="store_true",
                   help="--engine ic3: print the inductive invariant of each property it proves (--json always "
                        "carries it, in `invariant`)")
    p.add_argument("--search", choices=SEARCHES, default="auto",
                   help="how the exhaustive search runs: c, compiled with the system C compiler and cross-checked "
                        "against the Python simulator; python, the simulator alone; auto, c when the spec is "
                        "large or its program is already compiled (default auto)")
    p.add_argument("--symmetry", choices=("auto", "off"), default="auto",
                   help="auto: where the spec treats CPUs alike, the search keeps one state per orbit of the "
                        "CPU permutations (same verdicts, depths and concrete traces, up to N! fewer states); "
                        "off: every state (default auto)")
    p.add_argument("--dead-vars", choices=("auto", "off"), default="auto",
                   help="auto: the search stores each state with the private variables its agents will write "
                        "before they read them reset (same verdicts, depths and concrete traces, fewer states); "
                        "off: as they are (default auto)")
    p.add_argument("--max-states", type=int, default=None, metavar="N",
                   help=f"give up the exhaustive search after N states (default {DEFAULT_MAX_STATES:,} for the "
                        f"Python search, about 0.6 GB per million; for the compiled search, the states that "
                        f"fit in 3.5 GiB, or in half the free memory if less, at least {DEFAULT_MAX_STATES_C:,})")
    p.add_argument("--cross-check", action="store_true",
                   help="also have Z3 BMC re-derive each counterexample's least depth (up to 12 steps, 8 for "
                        "encodings of more than 64 state slots); by default Z3 confirms the trace itself and "
                        "breadth-first search gives its depth")
    p.add_argument("--trace-out", metavar="DIR", help="write each counterexample as ITF JSON into DIR")
    p.add_argument("--style", choices=("table", "lkml"), default="table",
                   help="how counterexamples print: table, one column per agent instance (default); lkml, the "
                        "race diagram of LKML threads, at most 75 columns wide (docs/prove.md)")
    p.add_argument("--sarif", metavar="FILE",
                   help="also write the violations as a SARIF 2.1.0 log to FILE (for code scanning and SARIF viewers)")
    p.add_argument("--json", action="store_true", help="print results as JSON (schema in docs/prove.md)")
    p.add_argument("--strict", action="store_true",
                   help="exit 4 instead of 0 when a step is never taken or a property holds vacuously")
    p.add_argument("--quiet", action="store_true",
                   help="no progress lines and no notes on stderr (errors are still printed)")
    p.add_argument("--all-cpus", action="store_true",
                   help="one answer per property for every number of CPUs: proved (with an inductive invariant "
                        "re-checked by fresh solvers), violated at the smallest CPUS, or no proof (docs/prove.md)")
    sweep.add_arguments(p)
    p.set_defaults(run=run)


@dataclass(slots=True)
class SpecRun:
    path: str
    model: ir.Model
    params: dict[str, int]
    results: list[PropertyResult]
    trace_files: dict[str, str]
    scan: Scan | None = None  # coverage and vacuity from the exhaustive search, when one ran


def run(args: argparse.Namespace) -> int:
    from compiler.pipeline import load_model, parse_params, spec_files
    from dsl.diagnostics import Diagnostics, render_all

    if (msg := _bad_options(args)) is not None:
        return _usage(msg, args.json)
    if sweep.wanted(args):  # --param CPUS=2..4, --jobs, --scheduler: the matrix (compiler/cli/sweep.py)
        return sweep.run(args)
    diags = Diagnostics()
    files = spec_files(args.paths, diags)
    overrides = parse_params(args.param, diags)
    models: list[tuple[str, ir.Model]] = []
    if not diags.has_errors:
        for path in files:
            model = load_model(path, overrides, diags)
            if model is not None:
                models.append((path, model))
    if diags.has_errors:
        if args.json:  # --json prints JSON on every path (docs/schemas/diagnostics.schema.json)
            emit_diagnostics_json(diags, sys.stdout)
        else:
            sys.stderr.write(render_all(diags) + "\n")
        return EXIT_USAGE
    if (msg := _unknown_names(models, overrides, args.property)) is not None:
        return _usage(msg, args.json)
    if args.all_cpus:
        from compiler.cli.allcpus import run_all_cpus
        return run_all_cpus(models, overrides, args)
    runs: list[SpecRun] = []
    try:
        with Watchdog(sys.stderr, quiet=args.quiet, interrupt=z3_interrupt):
            for path, model in models:
                if limits.stop_requested():
                    break
                runs.append(_prove_one(path, model, overrides, args))
            stopped = limits.stop_requested()
    except BackendDisagreement as e:
        sys.stderr.write(f"irqc: internal error: the two backends disagree: {e}\n"
                         "This is a bug in irqc's compiler; please report it with the spec and the command.\n")
        return EXIT_INTERNAL
    if args.json:
        _print_json(runs, sys.stdout)
    else:
        _print_text(runs, args.depth, sys.stdout, args.style, args.show_invariant)
    if args.sarif is not None:
        write_sarif(args.sarif, [to_itf(r.trace) for sr in runs for r in sr.results if r.trace is not None])
    if stopped is not None:
        return _stopped(stopped, [path for path, _ in models[len(runs):]])
    code = exit_status([r for sr in runs for r in sr.results])
    if code == EXIT_OK and args.strict and any(suspicious(sr.scan, sr.results) for sr in runs):
        return EXIT_STRICT
    return code


def _stopped(signal_name: str, not_started: list[str]) -> int:
    """A stop signal: what was established is printed above; say so, and which specs never ran."""
    rest = f"; not started: {', '.join(not_started)}" if not_started else ""
    sys.stderr.write(f"irqc prove: stopped by {limits.describe(signal_name)}: the results above are what was "
                     f"established before it{rest}\n")
    return EXIT_STATUS[signal_name]


def exit_status(results: list[PropertyResult]) -> int:
    if any(r.fails for r in results):
        return EXIT_VIOLATED
    if any(r.unsettled for r in results):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def _usage(message: str, as_json: bool = False) -> int:
    return usage_error(message, as_json=as_json)


def _bad_options(args: argparse.Namespace) -> str | None:
    if args.depth < 0:
        return f"--depth {args.depth}: the depth must be 0 or more"
    if args.timeout is not None and not (args.timeout > 0 and math.isfinite(args.timeout)):
        return f"--timeout {args.timeout:g}: the timeout must be a positive number of seconds"
    if args.max_k < 0:
        return f"--max-k {args.max_k}: must be 0 or more"
    if args.max_states is not None and args.max_states < 0:
        return f"--max-states {args.max_states}: must be 0 or more (0 turns the exhaustive search off)"
    if args.sarif is not None and (msg := sarif_problem(args.sarif)) is not None:
        return msg
    if args.trace_out is not None:
        return output_dir_problem("--trace-out", args.trace_out)
    return None


def _unknown_names(models: list[tuple[str, ir.Model]], overrides: dict[str, int], props: list[str]) -> str | None:
    """Names every spec lacks.  The front end already rejects a --param a spec does not declare."""
    for path, model in models:
        known = {p.name for p in model.params}
        for name in overrides:
            if name not in known:
                return f"--param {name}: {path} has no parameter `{name}` (it has: {_listing(known)})"
    all_props = {p.name for _, m in models for p in m.properties}
    for name in props:
        if name not in all_props:
            return f"--property {name}: no spec given has a property `{name}` (they have: {_listing(all_props)})"
    return None


def _listing(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none"


# --------------------------------------------------------------------------- running


def _prove_one(path: str, model: ir.Model, overrides: dict[str, int], args: argparse.Namespace) -> SpecRun:
    params = resolve_params(model, overrides)
    wanted = [p.name for p in model.properties if not args.property or p.name in args.property]
    results: list[PropertyResult] = []
    scans: list[Scan] = []
    if wanted:
        with limits.budget(args.timeout, model.name):
            results = check(model, params, depth=args.depth, properties=wanted, timeout=args.timeout,
                            max_k=args.max_k, max_states=args.max_states, engine=args.engine,
                            search_with=args.search, symmetry=args.symmetry, dead=args.dead_vars,
                            cross_check=args.cross_check,
                            notice=None if args.quiet else _note, on_scan=scans.append)
    if any(r.trace is not None for r in results):
        table = step_events(model, {(s.agent, s.step) for r in results if r.trace is not None
                                    for s in r.trace.states if s.agent is not None and s.step is not None})
        for r in results:
            if r.trace is not None:
                annotate(r.trace, model, table)
    traces: dict[str, str] = {}
    if args.trace_out:
        for r in results:
            if r.trace is not None:
                traces[r.property] = str(write_itf(r.trace, os.path.join(args.trace_out,
                                                                        itf_filename(model.name, r.property))))
    return SpecRun(path, model, params, results, traces, scans[0] if scans else None)


def _note(line: str) -> None:
    sys.stderr.write(f"irqc prove: note: {line}\n")


# --------------------------------------------------------------------------- text output


def _print_text(runs: list[SpecRun], depth: int, out: TextIO, style: str = "table",
                invariants: bool = False) -> None:
    if style == "lkml":  # a patch-review reply: every line fits 75 columns, not only the diagram's
        buf = io.StringIO()
        _print_text_lines(runs, depth, buf, style, invariants)
        out.write(fit_lines(buf.getvalue()))
    else:
        _print_text_lines(runs, depth, out, style, invariants)


def _print_text_lines(runs: list[SpecRun], depth: int, out: TextIO, style: str, invariants: bool) -> None:
    for i, sr in enumerate(runs):
        if i:
            out.write("\n")
        params = " ".join(f"{k}={v}" for k, v in sorted(sr.params.items()))
        out.write(f"{sr.path}: spec {sr.model.name}{' (' + params + ')' if params else ''}, depth {depth}\n")
        if not sr.results:
            out.write("  (none of the selected properties is in this spec)\n")
        width = max([len(r.property) for r in sr.results] + [0])
        for r in sr.results:
            out.write(f"  {r.property.ljust(width)}  {r.summary()}  ({r.seconds:.2f} s){_stop_note(r)}"
                      f"{_expect_note(r)}\n")
        for line in step_warnings(sr.model, sr.scan) if sr.scan is not None else []:
            out.write(line + "\n")
        for r in sr.results if invariants else []:
            if r.invariant is not None:
                out.write(f"\n{r.property}: inductive invariant (IC3, re-checked), the conjunction of\n")
                out.write("".join(f"  {c}\n" for c in r.invariant))
        for r in sr.results:
            if r.trace is not None:
                what = "witness" if r.verdict == "covered" else "counterexample"
                out.write(f"\n{r.property}: {what}, {r.depth} steps\n")
                out.write((render_lkml(r.trace) if style == "lkml" else render_table(r.trace)) + "\n")
                if r.property in sr.trace_files:
                    out.write(f"trace written to {sr.trace_files[r.property]}\n")
    rows = [(sr.model.name, r) for sr in runs for r in sr.results]
    if len(rows) > 1:
        out.write("\n" + summary_table(rows) + "\n")


def _stop_note(r: PropertyResult) -> str:
    """Which limit kept the verdict from being settled (an inconclusive one says it already)."""
    if r.stopped_by is None or r.verdict == "inconclusive":
        return ""
    return f"  [stopped by {limits.describe(r.stopped_by)}: {r.reason}]" if r.reason else \
        f"  [stopped by {limits.describe(r.stopped_by)}]"


def _expect_note(r: PropertyResult) -> str:
    if r.matches_expectation is False:
        return f"  [the spec expects: {r.expected}]"
    return ""


def summary_table(rows: list[tuple[str, PropertyResult]]) -> str:
    head = ("spec", "property", "verdict", "depth/method", "seconds")
    body = [(spec, r.property, r.verdict + ("" if r.matches_expectation is not False else " (unexpected)"),
             _depth_or_method(r), f"{r.seconds:.2f}") for spec, r in rows]
    return aligned([head, *body])


def _depth_or_method(r: PropertyResult) -> str:
    if r.verdict in ("proved", "unreachable"):
        return r.method
    if r.verdict == "inconclusive":
        return f"depth {r.depth} ({r.reason})" if r.reason else f"depth {r.depth}"
    return f"depth {r.depth}"


# --------------------------------------------------------------------------- JSON output


def _print_json(runs: list[SpecRun], out: TextIO) -> None:
    out.write(json.dumps(prove_document([spec_json(sr) for sr in runs]), indent=2) + "\n")


def prove_document(specs: list[dict[str, Any]], *, all_cpus: bool = False) -> dict[str, Any]:
    """What `irqc prove --json` prints: one object whatever the number of specs, with or without
    --all-cpus (docs/schemas/prove.schema.json; 0.1 printed a bare object for one spec, a list
    for several)."""
    from compiler.cli import version

    return {"irqc": version(), "all_cpus": all_cpus, "specs": specs}


def spec_json(sr: SpecRun) -> dict[str, Any]:
    return {"spec": sr.path, "name": sr.model.name, "params": dict(sorted(sr.params.items())),
            "results": [_result_json(r, sr.trace_files.get(r.property)) for r in sr.results],
            **({"coverage": sr.scan.coverage.to_json()} if sr.scan is not None else {})}


def _result_json(r: PropertyResult, trace_file: str | None) -> dict[str, Any]:
    trace: Any = None
    if r.trace is not None:  # the file's path, or the document the file would hold
        trace = trace_file if trace_file else itf_document(r.trace)
    return {"property": r.property, "verdict": r.verdict, "depth": r.depth, "method": r.method,
            "seconds": round(r.seconds, 4), "expected": r.expected, "reason": r.reason, "trace": trace,
            **({"stopped_by": r.stopped_by} if r.stopped_by is not None else {}),
            **({"vacuous": True} if r.vacuous is not None else {}),
            **({"invariant": list(r.invariant)} if r.invariant is not None else {})}


__all__ = ["add_parser", "run", "exit_status", "summary_table", "spec_json", "prove_document"]
