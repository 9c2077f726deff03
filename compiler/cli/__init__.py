"""`irqc`: the command line.  The `compiler.cli` package is the only code that prints
or chooses an exit status; each subcommand lives in its own module with
`add_parser(subparsers)` and `run(args) -> int`.

Exit status (the same for every subcommand):
  0  every property holds (bounded or proved; the output says which), or no error
  1  a property is violated (prove), or generated files are stale (build --check)
  2  the input or the command line is wrong
  3  inconclusive: the solver gave up on some property and none was violated
  70 internal error: a bug in irqc (please report it)
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import NoReturn, Sequence

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_INTERNAL = 0, 1, 2, 3, 70

EPILOG = """exit status:
  0   all properties hold (bounded or proved), or nothing to report
  1   a property is violated (prove); generated files are stale (build --check)
  2   bad input or bad command line (a located diagnostic is printed)
  3   inconclusive: the solver gave up and nothing was violated
  70  internal error in irqc: please report it with the command and the spec
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 already; keep the message short
        self.print_usage(sys.stderr)
        sys.stderr.write(f"irqc: error[E501]: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    from compiler.cli import check as check_cmd

    parser = _Parser(prog="irqc", description="Find interrupt races in .irqspec models, or show there are none.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version="irqc 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    check_cmd.add_parser(sub)
    for name in ("prove", "build"):
        try:
            module = __import__(f"compiler.cli.{name}", fromlist=["add_parser"])
        except ImportError:  # a subcommand still being written
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        code: int = args.run(args)
        return code
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
