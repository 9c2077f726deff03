"""A Pygments lexer for `.irqspec`, so that docs and `pygmentize -l irqspec` highlight specs.

Registered with the `pygments.lexers` entry point (pygments is an optional extra).  The
keywords are read from the grammar, so a keyword added there is highlighted without an edit
here.  Like the grammar's contextual lexer, a keyword after `->` or `.` is a field
(`desc->lock`).
"""
from __future__ import annotations

import re
from importlib import resources

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace


def _grammar_keywords() -> list[str]:
    grammar = resources.files("dsl").joinpath("irqspec.lark").read_text(encoding="utf-8")
    return sorted(set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', grammar)))


_CONSTANTS = ("true", "false")
_TYPES = ("bool",)
_KEYWORDS = tuple(k for k in _grammar_keywords() if k not in _CONSTANTS + _TYPES)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


class IrqspecLexer(RegexLexer):  # type: ignore[misc]  # pygments ships no type hints
    name = "irqspec"
    aliases = ["irqspec"]
    filenames = ["*.irqspec"]
    mimetypes = ["text/x-irqspec"]

    tokens = {
        "root": [
            (rf"^([ \t]*)({_NAME})([ \t]*)(:)(?![:=])", bygroups(Whitespace, Name.Label, Whitespace, Punctuation)),
            (r"\n|[^\S\n]+", Whitespace),  # a newline alone, so that a label's line start is seen
            (r"//[^\n]*", Comment.Single),
            (r"/\*(.|\n)*?\*/", Comment.Multiline),
            (r'"[^"\n]*"', String),
            (r"0x[0-9a-fA-F]+", Number.Hex),
            (r"[0-9]+", Number.Integer),
            (rf"(->|\.(?!\.))(\s*)({_NAME})", bygroups(Operator, Whitespace, Name.Attribute)),
            (words(_CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(_TYPES, suffix=r"\b"), Keyword.Type),
            (words(_KEYWORDS, suffix=r"\b"), Keyword),
            (rf"{_NAME}(?=\s*\()", Name.Function),
            (_NAME, Name),
            (r"==>|::|\.\.|==|!=|<=|>=|\+\+|--|\+=|-=|\|=|&=|&&|\|\||[-+*!&|~<>=?:]", Operator),
            (r"[{}()\[\];,]", Punctuation),
        ],
    }
