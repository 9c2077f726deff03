"""Text -> `ast.Spec`.  Syntax errors become diagnostics; nothing here raises to the caller."""
from __future__ import annotations

import hashlib
import os
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import lark
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from dsl import ast
from dsl.diagnostics import Diagnostics
from dsl.source import SourceFile, Span

MAX_BYTES = 1_000_000
MAX_NESTING = 120


_LARK_OPTIONS: dict[str, Any] = {"parser": "lalr", "propagate_positions": True, "maybe_placeholders": False}


@lru_cache(maxsize=1)
def _lark() -> Lark:
    """Building the LALR tables took a third of `irqc check`; loading them takes a tenth of that.
    So they are cached in a file named by a hash of all they depend on, and built when it is
    missing or unreadable.  Lark's own `cache=` would do, but it writes in place (a reader running
    at the same time may see half a file) and, by default, into the shared temporary directory."""
    grammar = resources.files("dsl").joinpath("irqspec.lark").read_text(encoding="utf-8")
    key = repr((grammar, _LARK_OPTIONS, lark.__version__, sys.version_info[:2]))
    folder = _cache_dir()
    path = folder / f"irqspec-{hashlib.sha256(key.encode()).hexdigest()[:32]}.lark" if folder else None
    if path is not None:
        try:
            with open(path, "rb") as f:
                return Lark.load(f)
        except Exception:  # noqa: BLE001 - missing, truncated, or not Lark's: any of it means rebuild
            pass
    parser = Lark(grammar, **_LARK_OPTIONS)
    if path is not None:
        _save_tables(parser, path)
    return parser


def _cache_dir() -> Path | None:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    try:
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    except RuntimeError:  # no home directory: no cache
        return None
    return base / "irqc"


def _save_tables(parser: Lark, path: Path) -> None:
    """Write whole or not at all (os.replace), and never fail: a read-only home or a full disk
    only costs the time to rebuild."""
    import tempfile  # with `random`, 5 ms of every start: only a cache miss needs it

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                parser.save(f)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass


# Common mistakes, recognised by the parser state they leave it in (Lark's match_examples).
_EXAMPLES: dict[str, list[str]] = {
    "`->` is field access, as in C; write `==>` for implication": [
        "spec s; invariant p: a -> !b;",
        "spec s; invariant p: a -> (b);",
    ],
    "a statement ends with `;`": [
        "spec s; cpu c { x = 1 y = 2; }",
        "spec s; cpu c { f() g(); }",
        "spec s; cpu c { goto out x = 1; }",
    ],
    "a declaration ends with `;`": [
        "spec s; var x: bool = false var y: bool;",
        "spec s; param N = 2 param M = 3;",
    ],
    "conditions are written in parentheses, as in C: `if (cond) { ... }`": [
        "spec s; cpu c { if x { } }",
        "spec s; cpu c { while x { } }",
    ],
    "use `==` to compare; `=` assigns": [
        "spec s; cpu c { if (x = 1) { } }",
        "spec s; invariant p: x = 1;",
    ],
    "a spec starts with `spec NAME;`": [
        "var x: bool;",
        "param N = 2;",
        "cpu c { }",
    ],
}


def _span_of(src: SourceFile, meta: Any) -> Span:
    if getattr(meta, "empty", True):
        return src.span(0, 0)
    return src.span(meta.start_pos, meta.end_pos)


def _tok_span(src: SourceFile, tok: Token) -> Span:
    start = tok.start_pos or 0
    end = tok.end_pos if tok.end_pos is not None else start + len(tok)
    return src.span(start, end)


class _Build(Transformer[Token, Any]):
    """Parse tree -> AST.  Must never raise (Lark would wrap it in VisitError)."""

    def __init__(self, src: SourceFile) -> None:
        super().__init__()
        self.src = src

    def sp(self, meta: Any) -> Span:
        return _span_of(self.src, meta)

    # ---------------------------------------------------------------- top level
    @v_args(meta=True)
    def start(self, meta: Any, children: list[Any]) -> ast.Spec:
        header, *decls = children
        name_tok, title, base_tok = header
        by_path = base_tok is not None and base_tok.type == "STRING"
        base = None if base_tok is None else str(base_tok)[1:-1] if by_path else str(base_tok)
        return ast.Spec(
            name=str(name_tok), title=title, base=base,
            decls=tuple(decls), path=self.src.path, span=self.sp(meta),
            name_span=_tok_span(self.src, name_tok),
            base_span=_tok_span(self.src, base_tok) if base_tok is not None else self.sp(meta),
            base_is_path=by_path,
        )

    def header(self, children: list[Any]) -> tuple[Token, str, Token | None]:
        name = children[0]
        title = ""
        base = None
        for c in children[1:]:
            if isinstance(c, _Base):
                base = c.token
            else:
                title = str(c)[1:-1]
        return name, title, base

    def base_clause(self, children: list[Any]) -> _Base:
        return _Base(children[0])

    @v_args(meta=True)
    def decl(self, meta: Any, children: list[Any]) -> ast.Decl:
        replace = len(children) == 2
        return ast.Decl(children[-1], replace, self.sp(meta))

    @v_args(meta=True)
    def param_decl(self, meta: Any, c: list[Any]) -> ast.ParamDecl:
        return ast.ParamDecl(str(c[0]), c[1], self.sp(meta))

    def signed_int(self, c: list[Any]) -> int:
        value = _int(c[-1])
        return -value if len(c) == 2 else value

    @v_args(meta=True)
    def enum_decl(self, meta: Any, c: list[Any]) -> ast.EnumDecl:
        return ast.EnumDecl(str(c[0]), tuple(c[1]), self.sp(meta))

    @v_args(meta=True)
    def range_decl(self, meta: Any, c: list[Any]) -> ast.RangeDecl:
        return ast.RangeDecl(str(c[0]), c[1], self.sp(meta))

    def name_list(self, c: list[Any]) -> list[str]:
        return [str(t) for t in c]

    @v_args(meta=True)
    def var_decl(self, meta: Any, c: list[Any]) -> ast.VarDecl:
        init = c[2] if len(c) > 2 else ast.DefaultInit(self.sp(meta))
        if isinstance(init, _AnyInit):
            init = None
        return ast.VarDecl(str(c[0]), c[1], init, self.sp(meta))

    def init(self, c: list[Any]) -> ast.Expr:
        return c[0]  # type: ignore[no-any-return]

    def any_init(self, c: list[Any]) -> _AnyInit:
        return _ANY

    @v_args(meta=True)
    def lock_decl(self, meta: Any, c: list[Any]) -> ast.LockDecl:
        return ast.LockDecl(str(c[0]), c[1] if len(c) > 1 else None, self.sp(meta))

    @v_args(meta=True)
    def flag_decl(self, meta: Any, c: list[Any]) -> list[ast.VarDecl]:
        sp = self.sp(meta)
        return [ast.VarDecl(n, ast.TBool(sp), ast.BoolLit(False, sp), sp) for n in c[0]]

    @v_args(meta=True)
    def def_decl(self, meta: Any, c: list[Any]) -> ast.DefDecl:
        params = c[1] if len(c) == 3 else ()
        return ast.DefDecl(str(c[0]), tuple(params), c[-1], self.sp(meta))

    @v_args(meta=True)
    def fn_decl(self, meta: Any, c: list[Any]) -> ast.FnDecl:
        params = next((x for x in c[1:-1] if isinstance(x, tuple)), ())
        result = next((x for x in c[1:-1] if not isinstance(x, tuple)), None)
        return ast.FnDecl(str(c[0]), tuple(params), c[-1], self.sp(meta), result)

    def params(self, c: list[Any]) -> tuple[ast.Param, ...]:
        return tuple(c)

    @v_args(meta=True)
    def param(self, meta: Any, c: list[Any]) -> ast.Param:
        return ast.Param(str(c[0]), c[1], self.sp(meta))

    def agent_kw(self, c: list[Any]) -> str:
        return str(c[0])

    group_kw = agent_kw
    quant_kw = agent_kw

    @v_args(meta=True)
    def agent_decl(self, meta: Any, c: list[Any]) -> ast.AgentDecl:
        kind, name, *rest = c
        timers = tuple(r for r in rest if isinstance(r, ast.TimerDecl))
        vars_, body = _members([r for r in rest if not isinstance(r, ast.TimerDecl)])
        return ast.AgentDecl(kind, str(name), vars_, body, (), self.sp(meta), timers)

    @v_args(meta=True)
    def timer_decl(self, meta: Any, c: list[Any]) -> ast.TimerDecl:
        return ast.TimerDecl(str(c[0]), str(c[1]), self.sp(meta), _tok_span(self.src, c[1]))

    @v_args(meta=True)
    def device_decl(self, meta: Any, c: list[Any]) -> ast.AgentDecl:
        name, *rest = c
        vars_, steps = _members(rest)
        return ast.AgentDecl("device", str(name), vars_, (), steps, self.sp(meta))

    @v_args(meta=True)
    def step_decl(self, meta: Any, c: list[Any]) -> ast.StepDecl:
        guard = c[1] if len(c) == 3 else None
        return ast.StepDecl(str(c[0]), guard, c[-1], self.sp(meta))

    @v_args(meta=True)
    def member_step(self, meta: Any, c: list[Any]) -> ast.MemberDecl:
        owner, _dot, name, *rest = c
        guard = rest[0] if len(rest) == 2 else None
        return ast.MemberDecl(str(owner), ast.StepDecl(str(name), guard, rest[-1], self.sp(meta)), self.sp(meta))

    @v_args(meta=True)
    def member_var(self, meta: Any, c: list[Any]) -> ast.MemberDecl:
        return ast.MemberDecl(str(c[0]), self.var_decl(meta, c[2:]), self.sp(meta))

    @v_args(meta=True)
    def member_lock(self, meta: Any, c: list[Any]) -> ast.MemberDecl:
        return ast.MemberDecl(str(c[0]), self.lock_decl(meta, c[2:]), self.sp(meta))

    @v_args(meta=True)
    def group_decl(self, meta: Any, c: list[Any]) -> ast.GroupDecl:
        kind, name, *rest = c
        index = None
        members: list[ast.VarDecl | ast.LockDecl] = []
        for r in rest:
            if isinstance(r, list):
                members.extend(r)
            elif isinstance(r, (ast.VarDecl, ast.LockDecl)):
                members.append(r)
            else:
                index = r
        return ast.GroupDecl(kind, str(name), index, tuple(members), self.sp(meta))

    @v_args(meta=True)
    def invariant_decl(self, meta: Any, c: list[Any]) -> ast.InvariantDecl:
        return ast.InvariantDecl(str(c[0]), c[1], self.sp(meta))

    @v_args(meta=True)
    def cover_decl(self, meta: Any, c: list[Any]) -> ast.CoverDecl:
        return ast.CoverDecl(str(c[0]), c[1], self.sp(meta))

    @v_args(meta=True)
    def initially_decl(self, meta: Any, c: list[Any]) -> ast.InitiallyDecl:
        return ast.InitiallyDecl(c[0], self.sp(meta))

    @v_args(meta=True)
    def expect_decl(self, meta: Any, c: list[Any]) -> ast.ExpectDecl:
        return ast.ExpectDecl(str(c[0]), tuple(c[1:]), self.sp(meta))

    @v_args(meta=True)
    def expect_case(self, meta: Any, c: list[Any]) -> ast.ExpectCase:
        return ast.ExpectCase(str(c[0]), c[1] if len(c) > 1 else None, self.sp(meta))

    # ---------------------------------------------------------------- types
    @v_args(meta=True)
    def type_expr(self, meta: Any, c: list[Any]) -> ast.TypeExpr:
        t: ast.TypeExpr = c[0]
        for dim in c[1:]:
            t = ast.TArray(t, dim, self.sp(meta))
        return t

    def dims(self, c: list[Any]) -> ast.TypeExpr:
        return c[0]  # type: ignore[no-any-return]

    @v_args(meta=True)
    def bool_type(self, meta: Any, c: list[Any]) -> ast.TBool:
        return ast.TBool(self.sp(meta))

    @v_args(meta=True)
    def named_type(self, meta: Any, c: list[Any]) -> ast.TName:
        return ast.TName(str(c[0]), self.sp(meta))

    @v_args(meta=True)
    def range_type(self, meta: Any, c: list[Any]) -> ast.TRange:
        return ast.TRange(c[0], c[1], self.sp(meta))

    # ---------------------------------------------------------------- statements
    @v_args(meta=True)
    def block(self, meta: Any, c: list[Any]) -> ast.Block:
        return ast.Block(tuple(c), self.sp(meta))

    fn_body = block
    step_body = block

    @v_args(meta=True)
    def assign_stmt(self, meta: Any, c: list[Any]) -> ast.AssignS:
        return ast.AssignS(c[0], str(c[1]), c[2], self.sp(meta))

    @v_args(meta=True)
    def call_stmt(self, meta: Any, c: list[Any]) -> ast.CallS:
        return ast.CallS(str(c[0]), tuple(c[1]) if len(c) > 1 else (), self.sp(meta))

    @v_args(meta=True)
    def lock_call_stmt(self, meta: Any, c: list[Any]) -> ast.CallS:
        return ast.CallS("lock", tuple(c[0]) if c else (), self.sp(meta))

    def assign_op(self, c: list[Any]) -> str:
        return str(c[0])

    cmp_op = add_op = mul_op = assign_op

    @v_args(meta=True)
    def cpu_name(self, meta: Any, c: list[Any]) -> ast.Name:
        return ast.Name("cpu", self.sp(meta))

    @v_args(meta=True)
    def goto_stmt(self, meta: Any, c: list[Any]) -> ast.GotoS:
        return ast.GotoS(str(c[0]), self.sp(meta))

    @v_args(meta=True)
    def return_stmt(self, meta: Any, c: list[Any]) -> ast.ReturnS:
        return ast.ReturnS(self.sp(meta), c[0] if c else None)

    @v_args(meta=True)
    def local_stmt(self, meta: Any, c: list[Any]) -> ast.LocalS:
        t, name = c[0], c[1]
        return ast.LocalS(t, str(name), c[2] if len(c) > 2 else None, self.sp(meta))

    @v_args(meta=True)
    def local_type(self, meta: Any, c: list[Any]) -> ast.TypeExpr:
        text = str(c[0])
        return ast.TBool(self.sp(meta)) if text == "bool" else ast.TName(text, self.sp(meta))

    @v_args(meta=True)
    def break_stmt(self, meta: Any, c: list[Any]) -> ast.BreakS:
        return ast.BreakS(self.sp(meta))

    @v_args(meta=True)
    def continue_stmt(self, meta: Any, c: list[Any]) -> ast.ContinueS:
        return ast.ContinueS(self.sp(meta))

    @v_args(meta=True)
    def await_stmt(self, meta: Any, c: list[Any]) -> ast.AwaitS:
        return ast.AwaitS(c[0], self.sp(meta))

    @v_args(meta=True)
    def named_assert_stmt(self, meta: Any, c: list[Any]) -> ast.AssertS:
        return ast.AssertS(str(c[0]), c[1], self.sp(meta))

    @v_args(meta=True)
    def assert_stmt(self, meta: Any, c: list[Any]) -> ast.AssertS:
        return ast.AssertS(None, c[0], self.sp(meta))

    @v_args(meta=True)
    def yield_stmt(self, meta: Any, c: list[Any]) -> ast.YieldS:
        return ast.YieldS(self.sp(meta))

    @v_args(meta=True)
    def if_stmt(self, meta: Any, c: list[Any]) -> ast.IfS:
        return ast.IfS(c[0], c[1], c[2] if len(c) > 2 else None, self.sp(meta))

    @v_args(meta=True)
    def while_stmt(self, meta: Any, c: list[Any]) -> ast.WhileS:
        return ast.WhileS(c[0], c[1], self.sp(meta))

    @v_args(meta=True)
    def do_stmt(self, meta: Any, c: list[Any]) -> ast.DoS:
        return ast.DoS(c[0], c[1], self.sp(meta))

    @v_args(meta=True)
    def loop_stmt(self, meta: Any, c: list[Any]) -> ast.LoopS:
        return ast.LoopS(c[0], self.sp(meta))

    @v_args(meta=True)
    def label_stmt(self, meta: Any, c: list[Any]) -> ast.LabelS:
        return ast.LabelS(str(c[0]), self.sp(meta))

    @v_args(meta=True)
    def atomic_stmt(self, meta: Any, c: list[Any]) -> ast.AtomicS:
        return ast.AtomicS(c[0], self.sp(meta))

    @v_args(meta=True)
    def either_stmt(self, meta: Any, c: list[Any]) -> ast.EitherS:
        return ast.EitherS(tuple(c), self.sp(meta))

    @v_args(meta=True)
    def empty_stmt(self, meta: Any, c: list[Any]) -> ast.EmptyS:
        return ast.EmptyS(self.sp(meta))

    @v_args(meta=True)
    def fallthrough_stmt(self, meta: Any, c: list[Any]) -> ast.FallthroughS:
        return ast.FallthroughS(self.sp(meta))

    @v_args(meta=True)
    def incdec_stmt(self, meta: Any, c: list[Any]) -> ast.AssignS:
        """`x++`, `++x`, `x--`, `--x` as statements: `x += 1` and `x -= 1`."""
        op, target = (c[1], c[0]) if isinstance(c[1], Token) else (c[0], c[1])
        sp = self.sp(meta)
        return ast.AssignS(target, str(op), ast.Num(1, sp), sp)

    @v_args(meta=True)
    def switch_stmt(self, meta: Any, c: list[Any]) -> ast.SwitchS:
        return ast.SwitchS(c[0], tuple(c[1:]), self.sp(meta))

    @v_args(meta=True)
    def case_clause(self, meta: Any, c: list[Any]) -> ast.CaseClause:
        labels = tuple(x.value for x in c if isinstance(x, _CaseLabel))
        body = tuple(x for x in c if not isinstance(x, _CaseLabel))
        return ast.CaseClause(labels, body, self.sp(meta))

    def case_label(self, c: list[Any]) -> _CaseLabel:
        return _CaseLabel(c[0])

    def default_label(self, c: list[Any]) -> _CaseLabel:
        return _CaseLabel(None)

    @v_args(meta=True)
    def scoped_guard_stmt(self, meta: Any, c: list[Any]) -> ast.ScopedGuardS:
        return ast.ScopedGuardS(str(c[0]), c[1], c[2], self.sp(meta))

    @v_args(meta=True)
    def guard_stmt(self, meta: Any, c: list[Any]) -> ast.GuardS:
        return ast.GuardS(str(c[0]), c[1], self.sp(meta))

    @v_args(meta=True)
    def any_bound(self, meta: Any, c: list[Any]) -> ast.AnyChoice:
        return ast.AnyChoice(str(c[0]), c[1], c[2] if len(c) > 2 else None, self.sp(meta))

    @v_args(meta=True)
    def any_type(self, meta: Any, c: list[Any]) -> ast.AnyChoice:
        return ast.AnyChoice(None, c[0], None, self.sp(meta))

    def args(self, c: list[Any]) -> tuple[ast.Expr, ...]:
        return tuple(c)

    # ---------------------------------------------------------------- expressions
    @v_args(meta=True)
    def quant(self, meta: Any, c: list[Any]) -> ast.Quantifier:
        return ast.Quantifier(c[0], str(c[1]), c[2], c[3], self.sp(meta))

    @v_args(meta=True)
    def cond(self, meta: Any, c: list[Any]) -> ast.Cond:
        return ast.Cond(c[0], c[1], c[2], self.sp(meta))

    def _bin(op: str) -> Callable[..., ast.Binop]:  # type: ignore[misc]  # noqa: N805
        @v_args(meta=True)
        def build(self: _Build, meta: Any, c: list[Any]) -> ast.Binop:
            return ast.Binop(op, c[0], c[-1], self.sp(meta))

        return build

    implies = _bin("==>")
    or_ = _bin("||")
    and_ = _bin("&&")
    bit_or_op = _bin("|")
    bit_and_op = _bin("&")

    @v_args(meta=True)
    def compare(self, meta: Any, c: list[Any]) -> ast.Binop:
        return ast.Binop(str(c[1]), c[0], c[2], self.sp(meta))

    arith_op = compare

    @v_args(meta=True)
    def not_(self, meta: Any, c: list[Any]) -> ast.Unop:
        return ast.Unop("!", c[0], self.sp(meta))


    @v_args(meta=True)
    def bit_not(self, meta: Any, c: list[Any]) -> ast.Unop:
        return ast.Unop("~", c[0], self.sp(meta))

    @v_args(meta=True)
    def neg(self, meta: Any, c: list[Any]) -> ast.Unop:
        return ast.Unop("-", c[0], self.sp(meta))

    @v_args(meta=True)
    def addr_of(self, meta: Any, c: list[Any]) -> ast.Expr:
        return c[0]  # type: ignore[no-any-return]  # `&desc->lock` means the lock itself

    @v_args(meta=True)
    def index(self, meta: Any, c: list[Any]) -> ast.IndexE:
        return ast.IndexE(c[0], c[1], self.sp(meta))

    @v_args(meta=True)
    def field(self, meta: Any, c: list[Any]) -> ast.Field:
        return ast.Field(c[0], str(c[2]), self.sp(meta), _tok_span(self.src, c[2]))

    @v_args(meta=True)
    def call(self, meta: Any, c: list[Any]) -> ast.Call:
        return ast.Call(str(c[0]), tuple(c[1]) if len(c) > 1 else (), self.sp(meta))

    @v_args(meta=True)
    def int_lit(self, meta: Any, c: list[Any]) -> ast.Num:
        return ast.Num(_int(c[0]), self.sp(meta))

    @v_args(meta=True)
    def true_lit(self, meta: Any, c: list[Any]) -> ast.BoolLit:
        return ast.BoolLit(True, self.sp(meta))

    @v_args(meta=True)
    def false_lit(self, meta: Any, c: list[Any]) -> ast.BoolLit:
        return ast.BoolLit(False, self.sp(meta))

    @v_args(meta=True)
    def name(self, meta: Any, c: list[Any]) -> ast.Name:
        return ast.Name(str(c[0]), self.sp(meta))


def _members(children: list[Any]) -> tuple[tuple[ast.VarDecl, ...], tuple[Any, ...]]:
    """An agent's `var`s (a `flag` line gives a list of them) apart from its statements or steps."""
    vars_: list[ast.VarDecl] = []
    rest: list[Any] = []
    for r in children:
        if isinstance(r, list):
            vars_.extend(r)
        elif isinstance(r, ast.VarDecl):
            vars_.append(r)
        else:
            rest.append(r)
    return tuple(vars_), tuple(rest)


class _AnyInit:
    pass


class _CaseLabel:
    def __init__(self, value: ast.Expr | None) -> None:
        self.value = value


class _Base:
    """The token after `extends`: a quoted one is a path, and so must not be taken for the title."""

    def __init__(self, token: Token) -> None:
        self.token = token


_ANY = _AnyInit()


def _int(tok: Token) -> int:
    text = str(tok)
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def _flatten_decls(spec: ast.Spec) -> ast.Spec:
    """`flag a, b;` builds a list of VarDecls; spread it into one Decl each."""
    decls: list[ast.Decl] = []
    for d in spec.decls:
        item: object = d.item
        if isinstance(item, list):
            decls.extend(ast.Decl(v, d.replace, d.span) for v in item)
        else:
            decls.append(d)
    return ast.Spec(spec.name, spec.title, spec.base, tuple(decls), spec.path, spec.span, spec.name_span,
                    spec.base_span, spec.base_is_path)


def _nesting_too_deep(text: str) -> int | None:
    depth = 0
    for i, ch in enumerate(text):
        if ch in "({[":
            depth += 1
            if depth > MAX_NESTING:
                return i
        elif ch in ")}]":
            depth = max(0, depth - 1)
    return None


def parse(src: SourceFile, diags: Diagnostics) -> ast.Spec | None:
    diags.add_source(src)
    too_deep = _nesting_too_deep(src.text)
    if too_deep is not None:
        diags.error("E104", f"the input nests brackets more than {MAX_NESTING} deep", src.span(too_deep, too_deep + 1),
                    "split the expression or statement; no real spec needs this depth")
        return None
    try:
        tree = _lark().parse(src.text)
    except UnexpectedInput as e:
        _syntax_error(src, e, diags)
        return None
    try:
        spec = _Build(src).transform(tree)
    except (VisitError, RecursionError) as e:  # a bug in the transformer, or absurd depth
        diags.error("E104", f"cannot build the syntax tree: {type(e).__name__}", src.span(0, 0))
        return None
    return _flatten_decls(spec)


def parse_file(path: str, diags: Diagnostics) -> ast.Spec | None:
    text = read_source(path, diags)
    if text is None:
        return None
    return parse(SourceFile(path, text), diags)


def read_source(path: str, diags: Diagnostics) -> str | None:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        diags.error("E001", f"cannot read `{path}`: {e.strerror or e}", None)
        return None
    if len(data) > MAX_BYTES:
        diags.error("E003", f"`{path}` is larger than {MAX_BYTES} bytes", None, "a spec is a page or two of text")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        src = SourceFile(path, data.decode("utf-8", "replace"))
        diags.add_source(src)
        at = len(data[: e.start].decode("utf-8", "replace"))
        diags.error("E002", f"the file is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})",
                    src.span(at, at + 1), "irqspec files are UTF-8 text")
        return None
    if "\x00" in text:
        src = SourceFile(path, text)
        diags.add_source(src)
        off = text.index("\x00")
        diags.error("E002", "the file contains a NUL byte; it looks binary", src.span(off, off + 1))
        return None
    return text


# ------------------------------------------------------------------------- syntax errors

_TOKEN_NAMES = {
    "SEMICOLON": "`;`", "LBRACE": "`{`", "RBRACE": "`}`", "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`",
    "RSQB": "`]`", "COLON": "`:`", "COMMA": "`,`", "EQUAL": "`=`", "NAME": "a name", "INT": "a number",
    "STRING": "a string", "DOT": "`.`", "$END": "end of file",
}


def _terminal_text(name: str) -> str:
    if name in _TOKEN_NAMES:
        return _TOKEN_NAMES[name]
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if isinstance(pattern, lark.lexer.PatternStr):
        return f"`{pattern.value}`"
    return "`-`" if name == "SIGN" else "an operator"


def _describe(expected: set[str]) -> str:
    names = sorted({_terminal_text(t) for t in expected})
    if len(names) > 6:
        names = names[:6] + ["..."]
    return ", ".join(names)


def _found(tok: Token | None) -> str:
    if tok is None or tok.type == "$END":
        return "end of file"
    return f"`{str(tok)[:30]}`"


def _syntax_error(src: SourceFile, e: UnexpectedInput, diags: Diagnostics) -> None:
    hint = _match_example(e)
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream or 0
        ch = src.text[pos] if pos < len(src.text) else "?"
        diags.error("E103", f"unexpected character `{ch}`" if ch.isprintable() else f"unexpected character U+{ord(ch):04X}",
                    src.span(pos, pos + 1), hint or "")
        return
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        pos = len(src.text.rstrip())
        expected = set(getattr(e, "expected", None) or getattr(e, "accepts", None) or ())
        diags.error("E102", "unexpected end of file" + (f"; expected {_describe(expected)}" if expected else ""),
                    src.span(max(0, pos - 1), pos), hint or "a `}` or `;` may be missing")
        return
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    start = tok.start_pos or 0
    end = tok.end_pos if tok.end_pos is not None else start + 1
    expected = set(e.accepts or e.expected or ())
    line_before = src.text[src.text.rfind("\n", 0, start) + 1:start]
    if not hint and str(tok) in ("+", "-", "*") and ".." in line_before:
        hint = "a range bound with arithmetic needs parentheses: `0..(N-1)`"
    if not hint and "SEMICOLON" in expected:
        before = src.text[:start].rstrip()
        line, _ = src.line_col(len(before))
        if before and line < (tok.line or line):  # the token starts a new line: the old one lacks its `;`
            hint = f"a `;` is missing at the end of line {line}?"
        elif len(expected) <= 3:
            hint = "a `;` is missing at the end of the previous statement or declaration?"
    diags.error("E101", f"unexpected {_found(tok)}; expected {_describe(expected)}", src.span(start, end), hint or "")


def _match_example(e: UnexpectedInput) -> str | None:
    try:
        label = e.match_examples(_lark().parse, _EXAMPLES, use_accepts=True)
    except Exception:  # noqa: BLE001 - a hint is optional; never let it turn into a crash
        return None
    return label if isinstance(label, str) else None


__all__ = ["parse", "parse_file", "read_source"]
