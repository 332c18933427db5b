"""The ``allocator`` command.

Each command group lives in ``allocator/commands/<name>.py`` and exposes
``register(subparsers)``; this module only wires them together and turns the
library's typed errors into the contract's exit codes:

- 0: done;
- 2: the input is invalid: a scenario (every problem on standard error, nothing
  written) or any other :class:`~allocator.errors.AllocatorError` marked
  ``invalid_input`` (a bad database URL, an impossible lock, a bad argument);
- 1: any other failure, one line, no traceback unless ``--debug``;
- an exception the library did not foresee is a bug: one line
  ``allocator: internal error: ...; run with --debug for the traceback and report it``,
  exit 1 (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from allocator.errors import AllocatorError, ScenarioError

#: Command modules, in the order ``allocator --help`` lists them.
COMMAND_MODULES = [
    "allocator.commands.validate",
    "allocator.commands.schema",
    "allocator.commands.needs",
    "allocator.commands.synth",
    "allocator.commands.routes",
    "allocator.commands.store",
    "allocator.commands.ledger",
    "allocator.commands.round",
    "allocator.commands.diff",
    "allocator.commands.site",
]

EXIT_FAILED, EXIT_INVALID = 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="allocator",
        description="Medical-supply allocation for epidemic command centres.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ScenarioError as exc:
        for p in exc.report.problems:
            print(p, file=sys.stderr)
        print(f"{len(exc.report.errors)} error(s): the scenario is invalid", file=sys.stderr)
        return EXIT_INVALID
    except AllocatorError as exc:
        if args.debug:
            raise
        print(f"allocator: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_INVALID if exc.invalid_input else EXIT_FAILED
    except OSError as exc:  # the machine's answer (no space, permission denied): not a bug
        if args.debug:
            raise
        print(f"allocator: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("allocator: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"allocator: internal error: {type(exc).__name__}: {_one_line(exc)}; "
              "run with --debug for the traceback and report it", file=sys.stderr)
        return EXIT_FAILED


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
