"""`irqc prove --all-cpus`: one answer per property for every number of CPUs (docs/prove.md,
"Proofs for every number of CPUs").  Exit status: 1 when some property is violated at some
CPU count (a cover: reached though expected unreachable), 3 when some property has no all-CPU
answer, 0 otherwise."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from compiler import ir
from compiler.backends.allcpus import AllCpuVerdict, prove_all_cpus
from compiler.backends.allcpus.param import CPUS
from compiler.trace import itf_document, render_table

SHOWN_LINES = 12  # lines of a proved invariant printed in text; --json carries all of them
DEFAULT_TIMEOUT = 300.0  # seconds per spec when --timeout is not given: the invariant search can run for hours


def run_all_cpus(models: list[tuple[str, ir.Model]], overrides: dict[str, int], args: argparse.Namespace) -> int:
    if CPUS in overrides:
        from compiler.cli import usage_error
        return usage_error(f"--all-cpus answers for every value of {CPUS}: do not also give --param {CPUS}=...",
                           as_json=args.json)
    done: list[tuple[str, ir.Model, dict[str, int], list[AllCpuVerdict]]] = []
    for path, model in models:
        params = {p.name: overrides.get(p.name, p.default) for p in model.params if p.name != CPUS}
        say = None if args.quiet else _progress
        verdicts = prove_all_cpus(model, params, properties=args.property or None,
                                  timeout=args.timeout or DEFAULT_TIMEOUT, progress=say)
        done.append((path, model, params, verdicts))
    if args.json:
        from compiler.cli.prove import prove_document
        specs = [_json(path, model, params, vs) for path, model, params, vs in done]
        sys.stdout.write(json.dumps(prove_document(specs, all_cpus=True), indent=2) + "\n")
    else:
        for path, model, params, vs in done:
            _text(path, model, params, vs, sys.stdout)
    every = [v for _, _, _, vs in done for v in vs]
    if any(_fails(v) for v in every):
        return 1
    if any(v.verdict == "unknown" for v in every):
        return 3
    return 0


def _fails(v: AllCpuVerdict) -> bool:
    """Violated; for a cover, reached when the spec expects it unreachable (as `irqc prove`)."""
    if v.expected in ("covered", "unreachable"):
        return v.verdict == "violated" and v.expected == "unreachable"
    return v.verdict == "violated"


def _progress(message: str) -> None:
    sys.stderr.write(message + "\n")


def summary(v: AllCpuVerdict) -> str:
    cover = v.expected in ("covered", "unreachable")
    if v.verdict == "proved":
        what = "unreachable" if cover else "proved"
        return (f"{what} for every CPUS >= {v.n0} (inductive invariant of {len(v.invariant)} clause"
                f"{'' if len(v.invariant) == 1 else 's'}; "
                f"{len(v.evidence)} obligations re-checked by fresh solvers)")
    if v.verdict == "violated":
        depth = f", depth {v.result.depth}" if v.result is not None else ""
        return f"{'covered' if cover else 'violated'} at CPUS={v.cpus}{depth}"
    settled = f"CPUS=1..{v.settled} settled" if v.settled else "no instance settled"
    return f"no proof for every CPU count ({settled}): {v.reason or 'no answer within the budget'}"


def _text(path: str, model: ir.Model, params: dict[str, int], vs: list[AllCpuVerdict], out: TextIO) -> None:
    others = ", ".join(f"{k}={v}" for k, v in params.items())
    out.write(f"{model.name} ({path}): every number of CPUs{f'; {others}' if others else ''}\n")
    width = max((len(v.property) for v in vs), default=8)
    for v in vs:
        out.write(f"  {v.property:<{width}}  {summary(v)}\n")
    for v in vs:
        if v.verdict == "violated" and v.result is not None and v.result.trace is not None:
            what = "witness" if v.expected in ("covered", "unreachable") else "counterexample"
            out.write(f"\n{v.property}: {what} at CPUS={v.cpus}\n{render_table(v.result.trace)}\n")
        if v.verdict == "proved":
            lines = v.invariant or ["true (the property needs no clause)"]
            out.write(f"\n{v.property}: the invariant (over any number of CPUs), each of:\n")
            for line in lines[:SHOWN_LINES]:
                out.write(f"  {line}\n")
            if len(lines) > SHOWN_LINES:
                out.write(f"  ... {len(lines) - SHOWN_LINES} more (--json lists them all)\n")
            below = [n for n in v.instances if n < v.n0]
            if below:
                out.write(f"  below CPUS={v.n0}: " + "; ".join(f"CPUS={n}: {v.instances[n]}" for n in below) + "\n")
    out.write("\n")


def _json(path: str, model: ir.Model, params: dict[str, int], vs: list[AllCpuVerdict]) -> dict[str, Any]:
    return {
        "spec": path, "name": model.name, "params": {CPUS: "all", **params},
        "results": [{
            "property": v.property, "verdict": v.verdict, "summary": summary(v), "n0": v.n0, "cpus": v.cpus,
            "depth": None if v.result is None else v.result.depth, "settled": v.settled,
            "instances": {str(n): s for n, s in sorted(v.instances.items())},
            "invariant": v.invariant, "evidence": [{"obligation": o.what, "answer": o.answer} for o in v.evidence],
            "reason": v.reason, "expected": v.expected, "seconds": round(v.seconds, 3),
            "trace": None if v.result is None or v.result.trace is None else itf_document(v.result.trace),
        } for v in vs],
    }
