"""``allocator round SCENARIO --out OUT``: run one allocation round and write the contract's outputs."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING

from allocator.errors import LockError

#: ``allocator.allocate.SOLVERS``, spelled out so that ``--help`` does not import the optimiser
#: (tests/test_startup.py checks that they agree).
SOLVERS = ("highs", "cbc")

if TYPE_CHECKING:
    from allocator.allocate.prepare import Lock

_WHOLE = re.compile(r"^\s*\d+\s*$")


def parse_lock(text: str) -> Lock:
    """``DEPOT,SITE,ITEM,QTY`` -> :class:`Lock` (argparse type; a bad value is exit 2 with a clear message).

    Examples
    --------
    >>> parse_lock("D02,H09,n95,2000")
    Lock(depot_id='D02', site_id='H09', item_id='n95', quantity=2000)
    """
    from allocator.allocate.prepare import Lock

    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4 or not all(parts):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a lock is DEPOT,SITE,ITEM,QTY (four values separated by commas)")
    if not _WHOLE.match(parts[3]):
        raise argparse.ArgumentTypeError(f"{text!r}: the quantity {parts[3]!r} must be a whole number >= 0")
    try:
        return Lock(parts[0], parts[1], parts[2], int(parts[3]))
    except LockError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("round", help="run an allocation round and write its outputs")
    p.add_argument("scenario", help="folder of CSV files or .xlsx workbook")
    p.add_argument("--out", required=True, help="folder to write allocations.csv, fill.csv, ... into")
    p.add_argument("--at", default=None, help="date and time of the round (overrides as_of)")
    p.add_argument("--solver", choices=SOLVERS, default="highs", help="LP solver (default: highs)")
    p.add_argument("--exclude", action="append", default=[], metavar="ID",
                   help="leave a depot or site out of the round (repeatable)")
    p.add_argument("--lock", action="append", default=[], type=parse_lock, metavar="DEPOT,SITE,ITEM,QTY",
                   help="ship exactly QTY units of ITEM from DEPOT to SITE (repeatable; 0 forbids the pair; "
                        "adds to the scenario's locks.csv)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of summary.txt (default: en)")
    p.add_argument("--json", action="store_true", help="print summary.json instead of the plain summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from allocator.allocate import allocate
    from allocator.allocate.result import _jsonable
    from allocator.scenario import load

    sc = load(args.scenario, as_of=args.at)  # ScenarioError -> exit 2, nothing written
    try:  # a malformed lock (duplicates between --lock and locks.csv, unknown ids): exit 2, nothing written
        result = allocate(sc, exclude=args.exclude, solver=args.solver, locks=args.lock, lang=args.lang)
    except LockError as exc:
        print(f"allocator: error: {exc}", file=sys.stderr)
        return 2
    out = result.write(args.out)
    if args.json:
        print(json.dumps(_jsonable(result.summary), indent=2, ensure_ascii=False))
    else:
        print(result.text)
        print(f"written to {out}")
    return 0
