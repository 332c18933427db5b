"""``allocator needs SCENARIO --days 3 --out needs.csv``: write the needs of a round.

Explicit needs are kept for the sites that sent them; every other site gets
the estimate from beds, patients, staff and the consumption norms. The file is
the contract's ``needs.csv`` (``site_id, item_id, quantity``) with extra
columns the loader keeps and ignores: ``origin, estimate, daily_use, on_hand,
review, flag`` (the number of the review flag covering the row, see
:func:`allocator.demand.review_flags`). ``--detail`` also writes the full
estimate table (one row per site and item, including items a requesting site
left out).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from allocator.errors import InvalidArgumentError

if TYPE_CHECKING:  # imported when the command runs, not when the CLI starts
    import pandas as pd

    from allocator import demand

#: At most this many review lines are printed.
MAX_REVIEW_LINES = 30


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("needs", help="estimate needs from beds, patients and staff; write needs.csv")
    p.add_argument("scenario", help="folder of CSV files or .xlsx workbook")
    p.add_argument("--days", type=float, default=3.0, help="days of cover (default 3)")
    p.add_argument("--out", required=True, help="needs.csv to write")
    p.add_argument("--norms", default=None, help="consumption norms CSV (default: the shipped WHO ESFT-based table)")
    p.add_argument("--detail", default=None, help="also write the full estimate table here")
    p.set_defaults(func=run)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    from allocator.fsutil import write_csv

    write_csv(df, path, encoding="utf-8")


def needs_table(scenario, days: float, norms: demand.Norms) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(needs.csv rows with explanatory columns, full estimate)."""
    from allocator import demand

    est = demand.estimate(scenario, days_of_cover=days, norms=norms)
    rnd = demand.needs_for_round(scenario, days_of_cover=days, norms=norms)
    detail = est[["site_id", "item_id", "estimate", "daily_use", "on_hand", "review", "flag"]]
    out = rnd.merge(detail, on=["site_id", "item_id"], how="left")
    out["daily_use"] = out.daily_use.round(4)
    return out, est


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from allocator import demand
    from allocator.scenario import load

    if args.days < 0:
        raise InvalidArgumentError(f"--days must be >= 0 (got {args.days:g})")
    norms = demand.load_norms(args.norms)
    sc = load(args.scenario)
    out, est = needs_table(sc, args.days, norms)
    _write_csv(out, Path(args.out))
    if args.detail:
        _write_csv(est, Path(args.detail))
    n_req = int((out.origin == demand.ORIGIN_REQUESTED).sum())
    n_est = int((out.origin == demand.ORIGIN_ESTIMATED).sum())
    est_sites = out.loc[out.origin == demand.ORIGIN_ESTIMATED, "site_id"].nunique()
    print(f"wrote {args.out}: {len(out)} needs ({n_req} requested, {n_est} estimated for "
          f"{est_sites} site(s)), {args.days:g} days of cover, norms {norms.path}")
    for w in est.attrs.get("warnings", []):
        print(f"warning: {w}")
    from allocator.i18n import t

    flags = pd.DataFrame(est.attrs.get("review_flags", []))
    if len(flags):
        print(t("records.flag.header", n=len(flags), requests=int(est.review.sum())))
        for _, f in flags.head(MAX_REVIEW_LINES).iterrows():
            print(f"review {int(f.flag)}: {demand.flag_message(f)}")
        if len(flags) > MAX_REVIEW_LINES:
            print(f"... and {len(flags) - MAX_REVIEW_LINES} more (columns review and flag of --out and --detail)")
    return 0
