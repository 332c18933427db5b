"""``allocator round SCENARIO --out OUT``: run one allocation round and write the contract's outputs."""

from __future__ import annotations

import argparse
import json

#: ``allocator.allocate.SOLVERS``, spelled out so that ``--help`` does not import the optimiser
#: (tests/test_startup.py checks that they agree).
SOLVERS = ("highs", "cbc")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("round", help="run an allocation round and write its outputs")
    p.add_argument("scenario", help="folder of CSV files or .xlsx workbook")
    p.add_argument("--out", required=True, help="folder to write allocations.csv, fill.csv, ... into")
    p.add_argument("--at", default=None, help="date and time of the round (overrides as_of)")
    p.add_argument("--solver", choices=SOLVERS, default="highs", help="LP solver (default: highs)")
    p.add_argument("--exclude", action="append", default=[], metavar="ID",
                   help="leave a depot or site out of the round (repeatable)")
    p.add_argument("--json", action="store_true", help="print summary.json instead of the plain summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from allocator.allocate import allocate
    from allocator.allocate.result import _jsonable
    from allocator.scenario import load

    sc = load(args.scenario, as_of=args.at)  # ScenarioError -> exit 2, nothing written
    result = allocate(sc, exclude=args.exclude, solver=args.solver)
    out = result.write(args.out)
    if args.json:
        print(json.dumps(_jsonable(result.summary), indent=2, ensure_ascii=False))
    else:
        print(result.text)
        print(f"written to {out}")
    return 0
