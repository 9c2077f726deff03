"""What a backend established about one property: the data the CLI prints.

Verdict words are exact (docs/prove.md):
  violated      a run of `depth` steps violates the property; `trace` shows it
  holds         no run of at most `depth` steps violates it (bounded)
  proved        no run of any length violates it; `method` says how
  inconclusive  the solver gave up (`reason`); nothing was violated up to `depth`
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compiler.trace import Trace

VERDICTS = ("violated", "holds", "proved", "inconclusive")


@dataclass(frozen=True, slots=True)
class PropertyResult:
    property: str
    verdict: str  # one of VERDICTS
    depth: int  # violated: the violation depth; otherwise the depth the bounded check covered
    method: str  # "bmc", "k-induction (k=3)"
    seconds: float
    reason: str | None = None  # inconclusive: why; holds: why no proof (if a proof was tried)
    trace: Trace | None = None  # violated only
    expected: str | None = None  # `expect` from the spec: "violated" | "holds" | None

    def __post_init__(self) -> None:
        assert self.verdict in VERDICTS, self.verdict

    @builtins.property  # the field `property` shadows the builtin in this class body
    def matches_expectation(self) -> bool | None:
        """None when the spec states no expectation; `proved` satisfies `expect holds`."""
        if self.expected is None:
            return None
        if self.expected == "holds":
            return self.verdict in ("holds", "proved")
        return self.verdict == self.expected

    def summary(self) -> str:
        """The verdict line: `violated at depth 9`, `proved (k-induction, k=2)`, ..."""
        if self.verdict == "violated":
            return f"violated at depth {self.depth}"
        if self.verdict == "holds":
            return f"holds up to depth {self.depth}"
        if self.verdict == "proved":
            return f"proved ({self.method.replace(' (', ', ').rstrip(')')})"
        return f"inconclusive ({self.reason or 'unknown'})"
