"""The ``allocator`` command.

Each command group lives in ``allocator/commands/<name>.py`` and exposes
``register(subparsers)``; this module only wires them together and turns the
library's typed errors into the contract's exit codes:

- 0: done;
- 2: the scenario is invalid (every problem on standard error, nothing written);
- 1: anything else, one line, no traceback unless ``--debug``.
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
    "allocator.commands.round",
    "allocator.commands.site",
]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


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
    except (AllocatorError, OSError, ValueError, KeyError) as exc:
        if args.debug:
            raise
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"allocator: error: {msg}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("allocator: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
