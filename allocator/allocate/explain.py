"""Explain a round: the fill table with a reason for every shortage, and a plain-language summary.

Reasons (allocation-rules.md), the first that applies to a need with shortage > 0:
``unreachable`` (no depot holding usable stock of the item or a substitute reaches the
site), ``earmarked`` (reachable stock exists but what is left of it is earmarked for
other sites), ``grade`` (what is left is civil-grade and the site is clinical),
``capacity`` (a depot with allowed stock left was stopped by its dispatch capacity),
``supply`` (not enough stock once higher tiers and fair shares were served).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.allocate.prepare import RoundData, allows

REASONS = ("unreachable", "earmarked", "grade", "capacity", "supply")


def fill_table(data: RoundData, alloc: pd.DataFrame) -> pd.DataFrame:
    """``fill.csv``: one row per need of the round's sites, without reasons."""
    nd = data.all_needs
    cov = pd.DataFrame(
        [(n, s, r) for n, lst in data.subs.items() for s, r in lst], columns=["need_item_id", "item_id", "ratio"]
    ).drop_duplicates(["need_item_id", "item_id"])
    a = alloc.merge(cov, on=["need_item_id", "item_id"], how="left")
    a["covered"] = a.quantity / a.ratio
    got = a.groupby(["site_id", "need_item_id"]).covered.sum()
    key = pd.MultiIndex.from_arrays([nd.site_id.astype(str), nd.item_id.astype(str)])
    covered = got.reindex(key).fillna(0.0).to_numpy()
    need = nd.quantity.to_numpy(float)
    filled = np.minimum(covered, need)
    filled = np.where(np.abs(filled - np.round(filled)) < 1e-6, np.round(filled), np.round(filled, 6))
    out = pd.DataFrame({
        "site_id": nd.site_id.astype("string"), "tier": nd.tier.astype("int64"),
        "item_id": nd.item_id.astype("string"), "need": nd.quantity.astype("int64"),
        "filled": filled, "shortage": need - filled,
        "fill_ratio": np.where(need > 0, filled / np.where(need > 0, need, 1), 1.0),
        "reason": pd.Series([""] * len(nd), dtype="string"),
    })
    if np.all(np.mod(out.filled, 1) == 0):
        out["filled"] = out.filled.astype("int64")
        out["shortage"] = out.shortage.astype("int64")
    out["fill_ratio"] = out.fill_ratio.round(6)
    return out.sort_values(["tier", "site_id", "item_id"]).reset_index(drop=True)


def reasons(data: RoundData, fill: pd.DataFrame, alloc: pd.DataFrame) -> pd.Series:
    """The reason of every shortage (empty string where there is none), aligned with ``fill``."""
    short = fill[fill.shortage > 1e-9]
    out = pd.Series([""] * len(fill), index=fill.index, dtype="string")
    if short.empty:
        return out
    g = data.groups
    shipped = alloc.merge(data.lots[["lot_id", "group"]], on="lot_id").groupby("group").quantity.sum()
    left = (g.quantity - shipped.reindex(g.group).fillna(0).to_numpy()).to_numpy() if len(g) else np.zeros(0)
    g = g.assign(left=left)
    # the lowest-priority tier each group shipped to: stock an earmark or a grade kept from
    # this site counts when it is left over or went to a lower tier
    at = alloc.merge(data.lots[["lot_id", "group"]], on="lot_id")
    at = at.assign(tier=data.sites.tier.reindex(at.site_id).to_numpy())
    g = g.assign(max_tier=at.groupby("group").tier.max().reindex(g.group).fillna(0).to_numpy())
    cap_used = (alloc.merge(data.items[["weight"]], left_on="item_id", right_index=True)
                .assign(kg=lambda d: d.quantity * d.weight).groupby("depot_id").kg.sum())
    cov = pd.DataFrame(
        [(n, s) for n, lst in data.subs.items() for s, _ in lst], columns=["need_item_id", "ship_item_id"]
    ).drop_duplicates()
    s = short[["site_id", "item_id"]].rename(columns={"item_id": "need_item_id"}).reset_index()
    s = s.merge(cov, on="need_item_id").merge(
        g.rename(columns={"item_id": "ship_item_id"}), on="ship_item_id")
    if s.empty:
        out[short.index] = "supply"
        return out
    m = data.travel.minutes.reindex(index=list(data.depots.index), columns=list(data.sites.index))
    di = pd.Index(m.index).get_indexer(s.depot_id)
    si = pd.Index(m.columns).get_indexer(s.site_id)
    tm = m.to_numpy(float)[di, si]
    s["reach"] = np.isfinite(tm) & (di >= 0) & (si >= 0)
    kind = data.sites.kind.astype(str).to_dict()
    clinical = data.sites.clinical
    s["em_ok"] = [not es and not ek or allows(es, ek, site, kind[site])
                  for es, ek, site in zip(s.em_sites, s.em_kinds, s.site_id)]
    s["grade_ok"] = ~((s.grade == "civil") & clinical.reindex(s.site_id).to_numpy())
    s["has_left"] = s.left >= 1
    s["kept"] = s.has_left | (s.max_tier > fill.tier.reindex(s["index"]).to_numpy())
    cap = pd.Series(data.capacity)
    room = (cap - cap_used.reindex(cap.index).fillna(0.0)).astype(float).reindex(s.depot_id).to_numpy(float)
    s["cap_stop"] = np.nan_to_num(room, nan=np.inf) < s.weight.to_numpy(float)
    s["r"] = s.reach
    s["re"] = s.reach & s.em_ok
    s["reg"] = s.re & s.grade_ok
    s["r_left"] = s.r & s.kept
    s["re_left"] = s.re & s.kept
    s["reg_left"] = s.reg & s.has_left
    s["reg_cap"] = s.reg_left & s.cap_stop
    agg = s.groupby("index")[["r", "re", "reg", "r_left", "re_left", "reg_left", "reg_cap"]].any()
    stocked = agg.index
    agg = agg.reindex(short.index, fill_value=False)
    why = np.select(
        [~agg.r, ~agg.re | (~agg.re_left & agg.r_left), ~agg.reg | (~agg.reg_left & agg.re_left), agg.reg_cap],
        ["unreachable", "earmarked", "grade", "capacity"], default="supply")
    # no usable stock of the item or a substitute anywhere: plain lack of supply
    why = np.where(short.index.isin(stocked), why, "supply")
    out[short.index] = why
    return out


def _fmt(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.1f}"


def summary_text(data: RoundData, fill: pd.DataFrame, alloc: pd.DataFrame, warnings: list[str]) -> str:
    """A short plain-language account of the round."""
    sc = data.scenario
    lines = []
    need, filled = float(fill.need.sum()), float(fill.filled.sum())
    pct = 100.0 * filled / need if need else 100.0
    lines.append(
        f"Round '{sc.name}' at {sc.at:%Y-%m-%d %H:%M}: {len(data.sites)} sites, {len(data.depots)} depots, "
        f"{len(fill)} needs; {_fmt(filled)} of {_fmt(need)} units of need filled ({pct:.1f}%)."
    )
    for t, df in fill.groupby("tier"):
        n, f = float(df.need.sum()), float(df.filled.sum())
        lines.append(f"Tier {t}: {_fmt(f)} of {_fmt(n)} filled ({100.0 * f / n if n else 100.0:.1f}%), "
                     f"{int((df.shortage > 0).sum())} of {len(df)} needs short.")
    short = fill[fill.shortage > 0].sort_values(["tier", "shortage"], ascending=[True, False])
    if len(short):
        lines.append("Short:")
        for r in short.head(12).itertuples(index=False):
            lines.append(f"  - {r.site_id} (tier {r.tier}) is short of {_fmt(r.shortage)} {r.item_id} "
                         f"of {_fmt(r.need)} needed: {r.reason}")
        if len(short) > 12:
            counts = short.reason.value_counts().to_dict()
            lines.append(f"  ... and {len(short) - 12} more ({', '.join(f'{k}: {v}' for k, v in counts.items())}).")
    else:
        lines.append("Every need is filled.")
    sub = alloc[alloc.item_id != alloc.need_item_id]
    if len(sub):
        lines.append("Substitutions:")
        for (i, n), df in sub.groupby(["item_id", "need_item_id"]):
            lines.append(f"  - {_fmt(df.quantity.sum())} {i} shipped for {n} to {df.site_id.nunique()} site(s).")
    ear = fill[fill.reason == "earmarked"]
    if len(ear):
        lines.append(
            f"Earmarks constrained {len(ear)} need(s): donated stock earmarked for other sites stayed "
            f"with them (" + ", ".join(f"{r.site_id}/{r.item_id}" for r in ear.head(8).itertuples()) + ")."
        )
    if data.excluded:
        lines.append(f"Excluded from this round: {', '.join(sorted(data.excluded))}.")
    if data.locks:
        lines.append(f"Locks kept: {len(data.locks)}.")
    scenario_warnings = [w for w in warnings if ".csv:" in w or ".xlsx[" in w]
    for w in warnings:
        if w not in scenario_warnings:
            lines.append(f"Note: {w}")
    if scenario_warnings:
        lines.append(f"The scenario has {len(scenario_warnings)} warning(s) (lots not allocated and the like): "
                     "see `warnings` in summary.json or run `allocator validate`.")
    return "\n".join(lines)
