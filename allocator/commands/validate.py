"""``allocator validate SCENARIO``: print every problem; exit 0 when there is no error, else 2."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a scenario and list every problem")
    p.add_argument("scenario", help="folder of CSV files or .xlsx workbook")
    p.add_argument("--quiet", action="store_true", help="print errors only, not warnings")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from allocator.validate import validate

    report = validate(args.scenario)
    for p in report.problems:
        if p.severity == "error" or not args.quiet:
            print(p, file=sys.stderr if p.severity == "error" else sys.stdout)
    n_err, n_warn = len(report.errors), len(report.warnings)
    if n_err:
        print(f"{n_err} error(s), {n_warn} warning(s): the scenario is invalid", file=sys.stderr)
        return 2
    print(f"ok: {args.scenario} is valid ({n_warn} warning(s))")
    return 0
