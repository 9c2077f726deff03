"""What a backend established about one property: the data the CLI prints.

Verdict words are exact (docs/prove.md):
  violated      a run of `depth` steps violates the property; `trace` shows it
  holds         no run of at most `depth` steps violates it (bounded)
  proved        no run of any length violates it; `method` says how
  inconclusive  the solver gave up (`reason`); nothing was violated up to `depth`
A cover (a state some run must reach) has its own words, `compiler.coverage.judge_covers`:
  covered       a run of `depth` steps reaches it (the shortest); `trace` is that witness
  unreachable   no run of any length reaches it; `method` says how
  not_covered   no run of at most `depth` steps reaches it (bounded)
`stopped_by` names the limit that stopped an engine short of a settled verdict, when one
did: "max-states", "timeout", "memory", "SIGINT", "SIGTERM" (compiler.limits).
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compiler.trace import Trace

VERDICTS = ("violated", "holds", "proved", "inconclusive", "covered", "unreachable", "not_covered")


@dataclass(frozen=True, slots=True)
class PropertyResult:
    property: str
    verdict: str  # one of VERDICTS
    depth: int  # violated: the violation depth; otherwise the depth the bounded check covered
    method: str  # "bmc", "k-induction (k=3)"
    seconds: float
    reason: str | None = None  # inconclusive: why; holds: why no proof (if a proof was tried)
    trace: Trace | None = None  # violated (the counterexample) or covered (the witness) only
    expected: str | None = None  # `expect` from the spec: "violated" | "holds" | "covered" | "unreachable" | None
    stopped_by: str | None = None  # the limit that stopped an engine short of a settled verdict
    vacuous: str | None = None  # holds or proved with no state that could violate it: why (compiler.coverage)
    invariant: tuple[str, ...] | None = None  # proved by IC3: the re-checked inductive invariant, one conjunct each

    def __post_init__(self) -> None:
        assert self.verdict in VERDICTS, self.verdict

    @builtins.property  # the field `property` shadows the builtin in this class body
    def matches_expectation(self) -> bool | None:
        """None when the spec states no expectation; `proved` satisfies `expect holds`."""
        if self.expected is None:
            return None
        if self.expected == "holds":
            return self.verdict in ("holds", "proved")
        if self.expected == "unreachable":
            return self.verdict in ("unreachable", "not_covered")
        return self.verdict == self.expected

    @builtins.property
    def fails(self) -> bool:
        """Violated, or a cover settled against its expectation (`irqc prove` exits 1)."""
        if self.verdict in ("covered", "unreachable"):
            return self.matches_expectation is False
        return self.verdict == "violated"

    @builtins.property
    def unsettled(self) -> bool:
        """Inconclusive, or a cover expected `covered` that no run searched reaches (exit 3)."""
        return self.verdict == "inconclusive" or (self.verdict == "not_covered" and self.expected == "covered")

    def summary(self) -> str:
        """The verdict line: `violated at depth 9`, `proved (k-induction, k=2)`, ..."""
        if self.verdict == "violated":
            return f"violated at depth {self.depth}"
        if self.vacuous is not None and self.verdict in ("holds", "proved"):
            bound = f"up to depth {self.depth}" if self.verdict == "holds" else self._how()
            return f"{self.verdict} (vacuously: {self.vacuous}; {bound})"
        if self.verdict == "holds":
            return f"holds up to depth {self.depth}"
        if self.verdict == "covered":
            return f"covered at depth {self.depth}"
        if self.verdict == "not_covered":
            return f"not covered up to depth {self.depth}"
        if self.verdict == "unreachable":
            return f"unreachable ({self._how()})"
        if self.verdict == "proved":
            return f"proved ({self._how()})"
        return f"inconclusive ({self.reason or 'unknown'})"

    def _how(self) -> str:
        return self.method.replace(" (", ", ").rstrip(")")
