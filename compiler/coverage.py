"""What a run of `irqc prove` says beyond pass and fail: covers.

A cover (`cover NAME: EXPR;`) is judged by both backends as the invariant `!EXPR`
(`ir.Property.invariant_expr`), so the engine's verdict for it is about `!EXPR`.  This
module puts that verdict in the cover's own words: a violation of `!EXPR` is a run that
reaches EXPR (its trace is the witness), a proof of `!EXPR` shows EXPR unreachable.
"""
from __future__ import annotations

from dataclasses import replace

from compiler import ir
from compiler.results import PropertyResult

# The engine's verdict about `!EXPR` -> the cover's.  `inconclusive` stays as it is.
_COVER_VERDICT = {"violated": "covered", "proved": "unreachable", "holds": "not_covered"}


def judge_covers(model: ir.Model, results: list[PropertyResult]) -> list[PropertyResult]:
    """The results, with each cover's verdict about `!EXPR` turned into one about EXPR."""
    covers = {p.name for p in model.properties if p.kind == "cover"}
    return [_as_cover(r) if r.property in covers else r for r in results]


def _as_cover(r: PropertyResult) -> PropertyResult:
    verdict = _COVER_VERDICT.get(r.verdict, r.verdict)
    return r if verdict == r.verdict else replace(r, verdict=verdict)


__all__ = ["judge_covers"]
