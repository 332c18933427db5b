"""What changed between two rounds, per site and item, and why.

:func:`compare` reads two rounds (folders written by ``allocator round`` or
:class:`~allocator.allocate.result.RoundResult` objects) and returns one row per
(site, item) need of either round whose need, fill or reason differs, with the
first explanation that applies (:data:`WHY`, in this order):

- ``need_added`` / ``need_removed``: the need exists in one round only (the site
  is ``excluded`` from the other when its summary says so);
- ``need``: the site asked for a different quantity;
- ``excluded``: a depot that served the need in one round is excluded from the other;
- ``lock``: a lock on this site and item (or on the items shipped for it) was added,
  removed or changed, or, failing that, a lock of one of those items to another site;
- ``unreachable``, ``earmarked``, ``grade``, ``capacity``: the need's shortage reason
  became (or stopped being) this one;
- ``competition``: the needs of the same item changed elsewhere, at a site of the same
  or a higher tier (``detail`` names them with before and after), so the shared stock
  was shared differently;
- ``supply``: anything else (the stock or the rest of the round changed).

Rounds in the database (round ids) are not read here yet: the store's round records
are another branch's work; compare the folders that ``allocator round`` writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.allocate.result import RoundResult
from allocator.errors import AllocatorError

#: The explanations of a change, in the order they are tried.
WHY = ("need_added", "need_removed", "need", "excluded", "lock", "unreachable", "earmarked", "grade",
       "capacity", "competition", "supply")

COLUMNS = ["site_id", "item_id", "tier", "need_before", "need_after", "before", "after", "change",
           "reason_before", "reason_after", "why", "detail"]


class _Round:
    def __init__(self, fill: pd.DataFrame, alloc: pd.DataFrame, summary: dict[str, Any], label: str):
        self.fill, self.alloc, self.summary, self.label = fill, alloc, summary, label
        self.locks = {(lk["depot_id"], lk["site_id"], lk["item_id"]): int(lk["quantity"])
                      for lk in summary.get("locks", [])}
        self.excluded = set(summary.get("excluded", []))


def _read(x: str | Path | RoundResult | Mapping[str, Any]) -> _Round:
    if isinstance(x, RoundResult):
        return _Round(x.fill, x.allocations, x.summary, "round")
    if isinstance(x, Mapping):  # a stored round's tables (``allocator diff 1 2`` reads them from the database)
        fill = pd.DataFrame(x["fill"]).copy()
        alloc = pd.DataFrame(x.get("allocations", []), columns=None if len(x.get("allocations", [])) else
                             ["depot_id", "site_id", "item_id", "need_item_id", "quantity"]).copy()
        for c in ("need", "filled"):
            fill[c] = pd.to_numeric(fill[c], errors="coerce").fillna(0)
        fill["reason"] = fill["reason"].fillna("").astype(str)
        alloc["quantity"] = pd.to_numeric(alloc["quantity"], errors="coerce").fillna(0)
        return _Round(fill, alloc, dict(x.get("summary") or {}), str(x.get("label", "round")))
    p = Path(x)
    if not p.is_dir() or not (p / "fill.csv").is_file():
        raise AllocatorError(f"{p}: not a round folder (written by `allocator round --out`): fill.csv is missing")
    try:
        fill = pd.read_csv(p / "fill.csv", dtype={"site_id": str, "item_id": str, "reason": str},
                           keep_default_na=False)
        alloc = pd.read_csv(p / "allocations.csv", dtype={k: str for k in
                            ("lot_id", "depot_id", "site_id", "item_id", "need_item_id")}, keep_default_na=False) \
            if (p / "allocations.csv").is_file() else pd.DataFrame(columns=["depot_id", "site_id", "item_id",
                                                                            "need_item_id", "quantity"])
        summary = json.loads((p / "summary.json").read_text(encoding="utf-8")) if (p / "summary.json").is_file() else {}
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise AllocatorError(f"{p}: cannot read the round: {exc}") from exc
    for c in ("need", "filled"):
        fill[c] = pd.to_numeric(fill[c], errors="coerce").fillna(0)
    alloc["quantity"] = pd.to_numeric(alloc["quantity"], errors="coerce").fillna(0)
    return _Round(fill, alloc, summary, str(p))


def _num(x: float) -> int | float:
    return int(round(x)) if abs(x - round(x)) < 1e-6 else round(float(x), 3)


def compare(a: str | Path | RoundResult | Mapping[str, Any], b: str | Path | RoundResult | Mapping[str, Any],
            changed_only: bool = True) -> pd.DataFrame:
    """Per site and item, what changed from round ``a`` (before) to round ``b`` (after), and why.

    Parameters
    ----------
    a, b : path, RoundResult or mapping
        Round folders (``allocator round --out``), results of :func:`allocator.allocate`, or a
        stored round's tables as a mapping with ``fill`` and ``allocations`` (records) and ``summary``
        (:func:`allocator.store.round_tables`).
    changed_only : bool
        Only the needs whose need, fill or reason differs (default); False keeps every need.

    Returns
    -------
    DataFrame
        ``site_id, item_id, tier, need_before, need_after, before, after, change,
        reason_before, reason_after, why, detail``: ``before``/``after`` are the units of
        need filled, ``change = after - before``, ``why`` one of :data:`WHY` (empty when
        nothing changed), ``detail`` the facts behind it in ids, numbers and arrows only
        (no words, so any language can show it): ``10 -> 400`` (need), ``C01 10 -> 400``
        (other sites' needs, up to five, ``+N`` more), ``D1->H1 n95: - -> 700`` (a lock
        before and after; ``-`` = none), ``D02: -> x`` (a depot excluded; ``x ->`` back),
        ``supply -> capacity`` (reasons). Sorted by
        tier, then the largest cut first.

    Raises
    ------
    AllocatorError
        A path is not a round folder.

    Examples
    --------
    >>> from allocator import allocate, examples
    >>> a = allocate(examples.two_hospitals())
    >>> b = allocate(examples.two_hospitals(), locks=[("D1", "H1", "n95", 700)])
    >>> compare(a, b)[["site_id", "before", "after", "change", "why"]].to_string(index=False)
    'site_id  before  after  change  why\\n     H2     500    300    -200 lock\\n     H1     500    700     200 lock'
    """
    ra, rb = _read(a), _read(b)
    key = ["site_id", "item_id"]
    fa = ra.fill[key + ["tier", "need", "filled", "reason"]].rename(
        columns={"need": "need_before", "filled": "before", "reason": "reason_before", "tier": "tier_a"})
    fb = rb.fill[key + ["tier", "need", "filled", "reason"]].rename(
        columns={"need": "need_after", "filled": "after", "reason": "reason_after", "tier": "tier_b"})
    d = fa.merge(fb, on=key, how="outer", indicator="side")
    d["tier"] = d.tier_b.fillna(d.tier_a).astype("int64")
    for c in ("need_before", "need_after", "before", "after"):
        d[c] = d[c].fillna(0)
    for c in ("reason_before", "reason_after"):
        d[c] = d[c].fillna("").astype(str)
    d["change"] = d.after - d.before

    # what each round shipped for each need, by depot and shipped item
    def shipped(r: _Round) -> dict[tuple[str, str], set[tuple[str, str]]]:
        out: dict[tuple[str, str], set[tuple[str, str]]] = {}
        a = r.alloc
        for site, need_item, depot, item in zip(a.site_id, a.need_item_id, a.depot_id, a.item_id):
            out.setdefault((str(site), str(need_item)), set()).add((str(depot), str(item)))
        return out

    sa, sb = shipped(ra), shipped(rb)
    need_moves = d[(d.side == "both") & (d.need_before != d.need_after)]
    by_item: dict[str, list[tuple[str, int, float, float]]] = {}
    for part in (need_moves, d[d.side != "both"]):
        for item, site, tier, nb, na in zip(part.item_id, part.site_id, part.tier, part.need_before, part.need_after):
            by_item.setdefault(str(item), []).append((str(site), int(tier), float(nb), float(na)))

    why, detail = [], []
    for r in d.itertuples(index=False):
        w, det = _why(r, ra, rb, sa, sb, by_item)
        why.append(w)
        detail.append(det)
    d["why"], d["detail"] = why, detail
    moved = ((d.need_before != d.need_after) | (np.abs(d.change) > 1e-9) | (d.reason_before != d.reason_after))
    d.loc[~moved, ["why", "detail"]] = ""
    if changed_only:
        d = d[moved]
    for c in ("need_before", "need_after", "before", "after", "change"):
        d[c] = [_num(v) for v in d[c]]
    d = d.sort_values(["tier", "change", "site_id", "item_id"], key=lambda s: s if s.name != "change" else s.astype(float))
    return d[COLUMNS].reset_index(drop=True)


def _why(r: Any, ra: _Round, rb: _Round, sa: dict, sb: dict, by_item: dict) -> tuple[str, str]:
    s, i = r.site_id, r.item_id
    if r.side == "right_only":
        return ("excluded", f"{s}: x -> {_num(r.need_after)}") if s in ra.excluded else ("need_added", f"0 -> {_num(r.need_after)}")
    if r.side == "left_only":
        return ("excluded", f"{s}: {_num(r.need_before)} -> x") if s in rb.excluded else ("need_removed", f"{_num(r.need_before)} -> 0")
    if r.need_before != r.need_after:
        return "need", f"{_num(r.need_before)} -> {_num(r.need_after)}"
    served = sa.get((s, i), set()) | sb.get((s, i), set())
    dep = sorted({dd for dd, _ in served if (dd in ra.excluded) != (dd in rb.excluded)})
    if dep:
        return "excluded", ", ".join(f"{dd}: -> x" if dd in rb.excluded else f"{dd}: x ->" for dd in dep)
    shipped_items = {it for _, it in served} | {i}
    locks = sorted({k for k in set(ra.locks) | set(rb.locks)
                    if k[1] == s and k[2] in shipped_items and ra.locks.get(k) != rb.locks.get(k)})
    if locks:
        return "lock", "; ".join(f"{d_}->{s_} {it}: {ra.locks.get(k, '-')} -> {rb.locks.get(k, '-')}"
                                 for k in locks for d_, s_, it in [k])
    elsewhere = sorted({k for k in set(ra.locks) | set(rb.locks)
                        if k[2] in shipped_items and ra.locks.get(k) != rb.locks.get(k)})
    if elsewhere:
        return "lock", "; ".join(f"{d_}->{s_} {it}: {ra.locks.get(k, '-')} -> {rb.locks.get(k, '-')}"
                                 for k in elsewhere[:5] for d_, s_, it in [k])
    for code in ("unreachable", "earmarked", "grade", "capacity"):
        if code in (r.reason_before, r.reason_after) and r.reason_before != r.reason_after:
            return code, f"{r.reason_before or '-'} -> {r.reason_after or '-'}"
    others = [x for x in by_item.get(i, []) if x[0] != s and x[1] <= int(r.tier)]
    if others:
        others.sort(key=lambda x: -abs(x[3] - x[2]))
        shown = ", ".join(f"{o} {_num(nb)} -> {_num(na)}" for o, t, nb, na in others[:5])
        more = f", +{len(others) - 5}" if len(others) > 5 else ""
        return "competition", f"{shown}{more}"
    return "supply", ""
