"""``allocator diff ROUND_A ROUND_B``: per site and item, what changed between two rounds and why."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="show per site and item what changed between two rounds, and why")
    p.add_argument("round_a", help="the earlier round: a folder written by `allocator round --out`, "
                   "or a round id in the database")
    p.add_argument("round_b", help="the later round: a folder or a round id")
    p.add_argument("--db", metavar="URL", help="database URL for round ids (default: $ALLOCATOR_DATABASE_URL "
                   "or sqlite:///var/allocator.db)")
    p.add_argument("--all", action="store_true", help="list every need, not only those that changed")
    p.add_argument("--csv", default=None, metavar="FILE", help="also write the comparison to FILE (CSV)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the listing (default: en)")
    p.set_defaults(func=run)


def _source(args: argparse.Namespace, ref: str) -> Any:
    """A round folder as it is; a round id (digits, no such folder) as the stored round's tables."""
    from pathlib import Path

    if not ref.isdigit() or Path(ref).exists():
        return ref
    from allocator.commands.store import _session
    from allocator.store import round_tables

    with _session(args, write=False) as s:
        return round_tables(s, int(ref))


def run(args: argparse.Namespace) -> int:
    from allocator.allocate.diff import compare
    from allocator.cells import escape_frame
    from allocator.i18n import t

    d = compare(_source(args, args.round_a), _source(args, args.round_b), changed_only=not args.all)
    lang = args.lang
    changed = d[d.why != ""]
    print(t("summary.diff.header", lang, a=str(args.round_a), b=str(args.round_b), n=len(changed), needs=len(d)))
    for r in d.to_dict("records"):
        print(t("summary.diff.line", lang, site=str(r["site_id"]), item=str(r["item_id"]), tier=r["tier"],
                before=r["before"], after=r["after"], change=f"{r['change']:+,}" if r["change"] else "0",
                reason_before=t(f"reason.label.{r['reason_before']}", lang) if r["reason_before"] else "-",
                reason_after=t(f"reason.label.{r['reason_after']}", lang) if r["reason_after"] else "-",
                why=t(f"summary.diff.why.{r['why']}", lang) if r["why"] else "-", detail=r["detail"]))
    if args.csv:
        from allocator.fsutil import write_csv

        write_csv(escape_frame(d), args.csv)
        print(t("summary.diff.written", lang, path=args.csv))
    return 0
