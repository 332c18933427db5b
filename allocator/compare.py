"""What changed between two rounds: shipments per (depot, site, item) and fill per (site, item).

Used after a re-run with a lock or an exclusion, so an officer sees what the
change did before approving. Both functions take the round's tables (the
``allocations`` and ``fill`` of a :class:`~allocator.allocate.RoundResult` or
the stored round's lines), so they work on fresh and stored rounds alike.

Examples
--------
>>> import pandas as pd
>>> a = pd.DataFrame({"depot_id": ["D1"], "site_id": ["H1"], "item_id": ["n95"], "quantity": [500]})
>>> b = pd.DataFrame({"depot_id": ["D1", "D1"], "site_id": ["H1", "H2"], "item_id": ["n95", "n95"],
...                   "quantity": [300, 200]})
>>> shipment_changes(a, b)[["site_id", "before", "after", "change"]].to_dict("records")
[{'site_id': 'H1', 'before': 500, 'after': 300, 'change': -200}, {'site_id': 'H2', 'before': 0, 'after': 200, 'change': 200}]
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["shipment_changes", "fill_changes", "Changes", "changes"]

SHIP_KEY = ["depot_id", "site_id", "item_id"]
FILL_KEY = ["site_id", "item_id"]


def _sum(df: pd.DataFrame | None, key: list[str], col: str) -> pd.Series:
    if df is None or len(df) == 0:
        return pd.Series(dtype="float64", index=pd.MultiIndex.from_tuples([], names=key))
    return df.assign(**{k: df[k].astype(str) for k in key}).groupby(key)[col].sum()


def _as_int(s: pd.Series) -> pd.Series:
    return s.astype("int64") if len(s) == 0 or (s % 1 == 0).all() else s


def _largest_first(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    order = df.assign(_abs=-df.change.abs()).sort_values(["_abs", *key], kind="stable").index
    return df.loc[order].reset_index(drop=True)


def shipment_changes(before: pd.DataFrame | None, after: pd.DataFrame | None) -> pd.DataFrame:
    """Units shipped per (depot, site, item) that differ between two rounds' allocations.

    Returns
    -------
    DataFrame
        ``depot_id, site_id, item_id, before, after, change``, one row per
        triple whose units changed, largest change first (then by key).
    """
    b, a = _sum(before, SHIP_KEY, "quantity"), _sum(after, SHIP_KEY, "quantity")
    idx = b.index.union(a.index)
    out = pd.DataFrame({"before": b.reindex(idx).fillna(0), "after": a.reindex(idx).fillna(0)}, index=idx)
    out["change"] = out.after - out.before
    out = out[out.change != 0].reset_index()
    out.columns = [*SHIP_KEY, "before", "after", "change"]
    for c in ("before", "after", "change"):
        out[c] = _as_int(out[c])
    return _largest_first(out, SHIP_KEY)


def fill_changes(before: pd.DataFrame | None, after: pd.DataFrame | None) -> pd.DataFrame:
    """Units filled per (site, item) need that differ between two rounds' fill tables.

    Returns
    -------
    DataFrame
        ``site_id, item_id, before, after, change, reason_before, reason_after``.
    """
    b, a = _sum(before, FILL_KEY, "filled"), _sum(after, FILL_KEY, "filled")
    idx = b.index.union(a.index)
    out = pd.DataFrame({"before": b.reindex(idx).fillna(0), "after": a.reindex(idx).fillna(0)}, index=idx)
    out["change"] = out.after - out.before

    def reasons(df: pd.DataFrame | None) -> pd.Series:
        if df is None or len(df) == 0 or "reason" not in df:
            return pd.Series("", index=idx, dtype="object")
        r = df.assign(**{k: df[k].astype(str) for k in FILL_KEY}).groupby(FILL_KEY).reason.first()
        return r.reindex(idx).fillna("").astype(str)

    out["reason_before"] = reasons(before)
    out["reason_after"] = reasons(after)
    out = out[out.change.abs() > 1e-9].reset_index()
    out.columns = [*FILL_KEY, "before", "after", "change", "reason_before", "reason_after"]
    for c in ("before", "after", "change"):
        out[c] = _as_int(out[c])
    return _largest_first(out, FILL_KEY)


@dataclass(frozen=True)
class Changes:
    """Both tables of changes and their totals."""

    shipments: pd.DataFrame
    fill: pd.DataFrame

    @property
    def empty(self) -> bool:
        """Whether nothing changed."""
        return self.shipments.empty and self.fill.empty

    def counts(self) -> dict[str, int]:
        """``shipments`` and ``needs`` changed, ``more`` and ``less`` filled needs."""
        return {
            "shipments": int(len(self.shipments)), "needs": int(len(self.fill)),
            "more": int((self.fill.change > 0).sum()), "less": int((self.fill.change < 0).sum()),
        }


def changes(before_alloc: pd.DataFrame | None, before_fill: pd.DataFrame | None,
            after_alloc: pd.DataFrame | None, after_fill: pd.DataFrame | None) -> Changes:
    """:func:`shipment_changes` and :func:`fill_changes` of two rounds together."""
    return Changes(shipment_changes(before_alloc, after_alloc), fill_changes(before_fill, after_fill))
