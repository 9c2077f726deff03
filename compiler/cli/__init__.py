"""`irqc`: the command line.  The `compiler.cli` package is the only code that prints
or chooses an exit status; each subcommand lives in its own module with
`add_parser(subparsers)` and `run(args) -> int`.

Exit status (the same for every subcommand):
  0  every property holds (bounded or proved; the output says which), or no error
  1  a property is violated (prove), or generated files are stale (build --check)
  2  the input or the command line is wrong
  3  inconclusive: the solver gave up on some property and none was violated
  4  --strict (prove, test): nothing else to report, but a step is never taken or a property is vacuous
  70 internal error: a bug in irqc (please report it)
"""
from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Iterable, NoReturn, Sequence, TextIO

from dsl.diagnostics import Diagnostic, Diagnostics, render

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_STRICT, EXIT_INTERNAL = 0, 1, 2, 3, 4, 70


def aligned(rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the first row a heading, underlined, every column padded to its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

# Each is the module compiler.cli.<name>.  Only the one being run is imported, so that
# `irqc check` does not pay for z3 and jinja2.
SUBCOMMANDS = ("check", "prove", "build", "test", "trace", "diff")

EPILOG = """exit status:
  0   all properties hold (bounded or proved), or nothing to report
  1   a property is violated (prove); generated files are stale (build --check)
  2   bad input or bad command line (a located diagnostic is printed)
  3   inconclusive: the solver gave up and nothing was violated
  4   --strict (prove, test): otherwise 0, but a step is never taken or a property holds vacuously
  70  internal error in irqc: please report it with the command and the spec
"""


# --------------------------------------------------------------------------- diagnostics out


def emit_diagnostics_json(diags: Diagnostics | Iterable[Diagnostic], stream: TextIO, **extra: object) -> None:
    """`{"diagnostics": [...], **extra}` on `stream`: what every `--json` prints for bad input
    (schema: docs/schemas/diagnostics.schema.json)."""
    items = diags.items if isinstance(diags, Diagnostics) else diags
    doc: dict[str, object] = {"diagnostics": [d.to_json() for d in items], **extra}
    stream.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def usage_error(message: str, *, as_json: bool, usage: str = "") -> int:
    """A bad command line: an E501 diagnostic (JSON on stdout with `--json`), exit status 2."""
    diag = Diagnostic("E501", message, None)
    if as_json:
        emit_diagnostics_json([diag], sys.stdout)
    else:
        sys.stderr.write(usage + render(diag, {}) + "\n")
    return EXIT_USAGE


class _UsageError(Exception):
    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.message, self.usage = message, usage


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # `--dep 3` must not silently mean `--depth 3`, nor break when an option is added.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message, self.format_usage())


# --------------------------------------------------------------------------- version


def version() -> str:
    """The distribution's version: one string, set in pyproject.toml."""
    from importlib.metadata import PackageNotFoundError, version as dist_version

    try:
        return dist_version("irqc")
    except PackageNotFoundError:  # a source tree that was never installed
        return _source_tree_version()


def _source_tree_version() -> str:
    import tomllib

    try:
        with open(Path(__file__).resolve().parents[2] / "pyproject.toml", "rb") as f:
            return str(tomllib.load(f)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def version_text() -> str:
    """What a bug report needs: irqc's, Python's and Z3's versions."""
    try:
        import z3

        z3_version = str(z3.get_version_string())
    except ImportError:
        z3_version = "not installed"
    return f"irqc {version()} (Python {sys.version.split()[0]}, Z3 {z3_version})"


class _VersionAction(argparse.Action):
    """argparse's own version action takes a string, which would import z3 on every run."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(version_text())
        parser.exit()


# --------------------------------------------------------------------------- parsing


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (given `command`) one whose other subcommands are empty stand-ins,
    so that only `command`'s module, and what it imports, is loaded."""
    parser = _Parser(prog="irqc", description="Find interrupt races in .irqspec models, or show there are none.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_VersionAction, help="print the irqc, Python and Z3 versions")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        if command is None or name == command:
            importlib.import_module(f"compiler.cli.{name}").add_parser(sub)
        else:
            sub.add_parser(name)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand, when it is known before parsing: the first word that is not an option
    (the top-level options take no value).  None when the top-level help comes first."""
    for arg in argv:
        if arg in ("-h", "--help") or arg == "--":
            return None
        if not arg.startswith("-"):
            return arg if arg in SUBCOMMANDS else None
    return None


def _wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv


def _tolerant(stream: TextIO) -> None:
    # A file name that is not UTF-8 arrives as lone surrogates (PEP 383): printing it is not a crash.
    if getattr(stream, "errors", None) == "strict" and isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _tolerant(sys.stdout)
    _tolerant(sys.stderr)
    try:
        parser = build_parser(_command_of(argv))
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        code: int = args.run(args)
        return code
    except _UsageError as e:
        return usage_error(e.message, as_json=_wants_json(argv), usage=e.usage)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("irqc: interrupted\n")
        return 130
    except BrokenPipeError:  # `irqc prove ... | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception:  # noqa: BLE001 - the last line of defence: never a bare traceback
        sys.stderr.write("irqc: internal error: this is a bug in irqc, please report it with the command and the spec.\n")
        sys.stderr.write(traceback.format_exc())
        return EXIT_INTERNAL
