"""Diagnostics are data: a code, a message, a span, notes.  Rendering is separate.

Codes are grouped by phase:
  E0xx  input (files, encoding, size)
  E1xx  syntax
  E2xx  names (resolution, composition of specs)
  E3xx  types and constants
  E4xx  control flow and locks (what lowering to steps can see statically)
  E5xx  command line
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from dsl.source import Span, SourceFile

# Every code the tool can emit, with a one-line title.  Each has a golden test.
CODES: dict[str, str] = {
    "E001": "cannot read the input file",
    "E002": "the input is not UTF-8 text",
    "E003": "the input is too large",
    "E101": "syntax error",
    "E102": "unexpected end of file",
    "E103": "invalid token",
    "E104": "the input nests too deeply",
    "E201": "undefined name",
    "E202": "duplicate declaration",
    "E203": "base spec not found",
    "E204": "cycle of extends",
    "E205": "replace of a declaration the base does not have",
    "E206": "goto to a missing label",
    "E207": "duplicate label",
    "E208": "recursive call",
    "E209": "wrong kind of name",
    "E210": "wrong number of arguments",
    "E211": "unknown parameter",
    "E212": "the spec name does not match the file name",
    "E213": "a def or fn expands past the size limit",
    "E301": "type mismatch",
    "E302": "constant out of range",
    "E303": "assignment to a parameter or constant",
    "E304": "not assignable",
    "E305": "empty range",
    "E306": "bad parameter value",
    "E307": "no initial state",
    "E308": "the instance is past a size limit at these parameters",
    "E309": "too many values to enumerate",
    "E401": "unlock of a lock not held",
    "E402": "lock taken twice",
    "E403": "lock held on one path and not another",
    "E404": "lock still held at the end",
    "E405": "break or continue outside a loop",
    "E406": "control construct not allowed here",
    "E407": "too many paths in one atomic step",
    "E408": "quiescent needs an idle label",
    "E409": "a switch case runs on into the next without `fallthrough;`",
    "E410": "branches nest too deeply in one step",
    "E411": "a fn with a result can end without `return EXPR;`",
    "E501": "bad command line",
    "E502": "unreadable trace file",
}


@dataclass(frozen=True, slots=True)
class Label:
    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None
    notes: tuple[str, ...] = ()
    labels: tuple[Label, ...] = ()
    severity: str = "error"

    def to_json(self) -> dict[str, object]:
        loc: dict[str, object] | None = None
        if self.span is not None:
            loc = {
                "path": self.span.path,
                "line": self.span.line,
                "col": self.span.col,
                "end_line": self.span.end_line,
                "end_col": self.span.end_col,
            }
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "location": loc,
            "notes": list(self.notes),
            "labels": [{"path": l.span.path, "line": l.span.line, "col": l.span.col, "message": l.message}
                       for l in self.labels],
        }


class CompileError(Exception):
    """Raised to abandon a phase; the diagnostics are already in the collector."""


@dataclass(slots=True)
class Diagnostics:
    """Collector passed to every phase.  Phases add; the CLI renders."""

    items: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, SourceFile] = field(default_factory=dict)

    def error(self, code: str, message: str, span: Span | None, *notes: str, labels: Iterable[Label] = ()) -> None:
        assert code in CODES, code
        self.items.append(Diagnostic(code, message, span, tuple(n for n in notes if n), tuple(labels)))

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def add_source(self, src: SourceFile) -> None:
        self.sources[src.path] = src


def render(diag: Diagnostic, sources: dict[str, SourceFile]) -> str:
    """gcc/clang shape, so editors and CI problem matchers (VS Code's `$gcc`, Emacs, Vim) locate it:
    `path:line:col: error: message [CODE]`, the line with a caret under the span, each label as a
    `path:line:col: note: ...` of its own, then the hints."""
    out = [f"{_where(diag.span)}: {diag.severity}: {diag.message} [{diag.code}]"]
    if diag.span is not None:
        out.extend(_excerpt(sources, diag.span))
    for lab in diag.labels:
        out.append(f"{_where(lab.span)}: note: {lab.message}")
        out.extend(_excerpt(sources, lab.span))
    for note in diag.notes:
        out.append(f"  = hint: {note}")
    return "\n".join(out)


def _where(sp: Span | None) -> str:
    # A diagnostic with no place in a spec (a command-line error) is the tool's, as gcc's are.
    return "irqc" if sp is None else f"{sp.path}:{sp.line}:{sp.col}"


def _excerpt(sources: dict[str, SourceFile], sp: Span) -> list[str]:
    src = sources.get(sp.path)
    if src is None or sp.line < 1:
        return []
    text = src.line_text(sp.line)
    # Control characters would garble a terminal (and a golden file); show them as `?`.
    shown = "".join(ch if ch.isprintable() else "?" for ch in text.expandtabs(1)[:200])
    gutter = f"{sp.line:>4} | "
    width = 1
    if sp.end_line == sp.line and sp.end_col > sp.col:
        width = sp.end_col - sp.col
    width = max(1, min(width, max(1, len(shown) - sp.col + 1)))
    caret = " " * (len(gutter) - 2) + "| " + " " * (sp.col - 1) + "^" * width
    return [gutter + shown, caret]


def render_all(diags: Diagnostics) -> str:
    return "\n".join(render(d, diags.sources) for d in diags.items)
