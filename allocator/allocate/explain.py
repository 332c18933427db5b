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

from allocator import rules
from allocator.allocate.prepare import FALLBACK_WARNING, RoundData
from allocator.rules import REASONS

__all__ = ["REASONS", "fill_table", "reasons", "summary_messages", "traffic_messages", "render", "summary_text"]


def fill_table(data: RoundData, alloc: pd.DataFrame) -> pd.DataFrame:
    """``fill.csv``: one row per need of the round's sites, without reasons."""
    nd = data.all_needs
    a = alloc.merge(data.coverage, on=["need_item_id", "item_id"], how="left")
    a["covered"] = rules.need_units(a.quantity, a.ratio)
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
                .assign(kg=lambda d: rules.shipment_kg(d.quantity, d.weight)).groupby("depot_id").kg.sum())
    cov = data.coverage[["need_item_id", "item_id"]].rename(columns={"item_id": "ship_item_id"})
    s = short[["site_id", "item_id"]].rename(columns={"item_id": "need_item_id"}).reset_index()
    s = s.merge(cov, on="need_item_id").merge(
        g.rename(columns={"item_id": "ship_item_id"}), on="ship_item_id")
    if s.empty:
        out[short.index] = "supply"
        return out
    m = data.travel.minutes.reindex(index=list(data.depots.index), columns=list(data.sites.index))
    s["reach"] = rules.reachable(rules.travel_lookup(m, s.depot_id, s.site_id))
    kind = data.sites.kind.astype(str).reindex(s.site_id).to_numpy()
    clinical = data.sites.clinical.reindex(s.site_id).to_numpy()
    s["em_ok"] = rules.earmark_allows(s.em_sites.tolist(), s.em_kinds.tolist(), s.site_id, kind)
    s["grade_ok"] = rules.grade_allows(s.grade, clinical)
    s["has_left"] = s.left >= 1
    s["kept"] = s.has_left | (s.max_tier > fill.tier.reindex(s["index"]).to_numpy())
    cap = pd.Series(data.capacity)
    room = (cap - cap_used.reindex(cap.index).fillna(0.0)).astype(float).reindex(s.depot_id).to_numpy(float)
    s["cap_stop"] = np.nan_to_num(room, nan=np.inf) < s.weight.to_numpy(float)
    s["reach_earmark"] = s.reach & s.em_ok
    s["reach_earmark_grade"] = s.reach_earmark & s.grade_ok
    s["reach_kept"] = s.reach & s.kept
    s["reach_earmark_kept"] = s.reach_earmark & s.kept
    s["allowed_left"] = s.reach_earmark_grade & s.has_left
    s["capacity_stopped"] = s.allowed_left & s.cap_stop
    s["stocked"] = True
    facts = s.groupby("index")[list(rules.REASON_FACTS)].any().reindex(short.index, fill_value=False)
    why = rules.shortage_reason(facts)
    out[short.index] = why
    return out


def _num(x: float) -> int | float:
    """A whole number as int, else rounded to one decimal (for ``{x:,}`` in the templates)."""
    x = float(x)
    return int(round(x)) if abs(x - round(x)) < 1e-6 else round(x, 1)


def _named(frame: pd.DataFrame, key: str, ident: str) -> dict[str, str]:
    """``{key}``, ``{key}_name`` and ``{key}_name_zh`` parameters of one id (the id when no name is given)."""
    name = name_zh = ""
    if ident in frame.index:
        row = frame.loc[ident]
        name = str(row.get("name", "") or "")
        name_zh = str(row.get("name_zh", "") or "")
    name = name if name and name != "nan" else ident
    name_zh = name_zh if name_zh and name_zh != "nan" else name
    return {key: ident, f"{key}_name": name, f"{key}_name_zh": name_zh}


def _msg(code: str, **params: object) -> dict[str, object]:
    return {"code": code, "params": params}


#: Shortage lines listed by name in the summary; the rest are counted by reason.
SHORT_LISTED = 12


def summary_messages(data: RoundData, fill: pd.DataFrame, alloc: pd.DataFrame, warnings: list[str],
                     routes: pd.DataFrame | None = None) -> list[dict[str, object]]:
    """The round's summary as catalogue codes with parameters (``summary.*`` keys, ``reason.*`` codes).

    Each message is ``{"code": "summary.<key>", "params": {...}}``; ids come with their names
    (``site``, ``site_name``, ``site_name_zh``, likewise ``item``, ``depot``), reasons as codes
    (``reason``), numbers as numbers. :func:`render` turns the list into text in either
    language; :attr:`RoundResult.summary` keeps it under ``"messages"`` for the app.
    """
    sc = data.scenario
    sites = sc.sites.set_index("site_id")
    items = sc.items.set_index("item_id")
    depots = sc.depots.set_index("depot_id")
    out: list[dict[str, object]] = []
    need, filled = float(fill.need.sum()), float(fill.filled.sum())
    out.append(_msg("summary.headline", scenario=sc.name, at=f"{sc.at:%Y-%m-%d %H:%M}", sites=len(data.sites),
                    depots=len(data.depots), needs=len(fill), filled=_num(filled), need=_num(need),
                    pct=100.0 * filled / need if need else 100.0))
    for t, df in fill.groupby("tier"):
        n, f = float(df.need.sum()), float(df.filled.sum())
        out.append(_msg("summary.tier", tier=int(str(t)), filled=_num(f), need=_num(n),
                        pct=100.0 * f / n if n else 100.0, short=int((df.shortage > 0).sum()), needs=len(df)))
    short = fill[fill.shortage > 0].sort_values(["tier", "shortage"], ascending=[True, False])
    if len(short):
        out.append(_msg("summary.short_header"))
        for r in short.head(SHORT_LISTED).to_dict("records"):
            out.append(_msg("summary.short_line", **_named(sites, "site", str(r["site_id"])),
                            **_named(items, "item", str(r["item_id"])), tier=int(r["tier"]),
                            shortage=_num(r["shortage"]), need=_num(r["need"]), reason=str(r["reason"])))
        rest = short.iloc[SHORT_LISTED:]
        if len(rest):
            counts = {str(k): int(v) for k, v in rest.reason.value_counts().items()}
            out.append(_msg("summary.short_more", more=len(rest), counts=counts))
        used = [c for c in REASONS if c in set(short.reason)]
        out.append(_msg("summary.reasons_header"))
        for c in used:
            out.append(_msg("summary.reason_line", reason=c))
    else:
        out.append(_msg("summary.all_filled"))
    sub = alloc[alloc.item_id != alloc.need_item_id]
    if len(sub):
        out.append(_msg("summary.subs_header"))
        for (i, ni), df in sub.groupby(["item_id", "need_item_id"]):
            nm = _named(items, "need_item", str(ni))
            out.append(_msg("summary.sub_line", quantity=_num(df.quantity.sum()), **_named(items, "item", str(i)),
                            **nm, sites=int(df.site_id.nunique())))
    ear = fill[fill.reason == "earmarked"]
    if len(ear):
        out.append(_msg("summary.earmarks", n=len(ear),
                        pairs=[{**_named(sites, "site", str(r.site_id)), **_named(items, "item", str(r.item_id))}
                               for r in ear.head(8).itertuples()]))
    if data.excluded:
        out.append(_msg("summary.excluded", ids=[
            _named(sites if x in sites.index else depots, "id", x) for x in sorted(data.excluded)]))
    if data.locks:
        out.append(_msg("summary.locks_header", n=len(data.locks)))
        for lk in data.locks:
            out.append(_msg("summary.lock_line", quantity=lk.quantity, **_named(items, "item", lk.item_id),
                            **_named(depots, "depot", lk.depot_id), **_named(sites, "site", lk.site_id)))
    out.extend(traffic_messages(data, routes))
    scenario_warnings = [w for w in warnings if ".csv:" in w or ".xlsx[" in w]
    for w in warnings:
        if w == FALLBACK_WARNING:
            out.append(_msg("summary.fallback"))
        elif w not in scenario_warnings:
            out.append(_msg("summary.note", text=w))
    if scenario_warnings:
        out.append(_msg("summary.scenario_warnings", n=len(scenario_warnings)))
    return out


def traffic_messages(data: RoundData, routes: pd.DataFrame | None = None) -> list[dict[str, object]]:
    """The traffic-control rules in force at the round's time and what each changed.

    From the road network's travel object (when the round has one): each rule's kind, the
    road (or nodes, or zone) it names, how many road arcs it applies to, and how many of
    the round's routes pass a checkpoint. Nothing when the round has no road network.
    """
    net = data.travel.network
    control = getattr(net, "control", None)
    roads = getattr(net, "network", None)
    if control is None or roads is None:
        return []
    rules = control.in_force(getattr(net, "at", None) or data.scenario.at)
    if not rules:
        return [_msg("summary.traffic_none")]
    passes: dict[str, int] = {}
    if routes is not None and "checkpoints" in routes and len(routes):
        for cps in routes.checkpoints:
            for rid in set(cps or ()):
                passes[str(rid)] = passes.get(str(rid), 0) + 1
    out = [_msg("summary.traffic_header", n=len(rules))]
    for r in rules:
        try:
            arcs = int(len(control.arcs(roads, r)))
        except Exception:  # noqa: BLE001 - a rule the network cannot resolve is reported as matching nothing
            arcs = 0
        target = r.road or (f"{r.u}-{r.v}" if r.u and r.v else ("zone" if r.area_wkt else ""))
        permits = ", ".join(sorted(r.permits))
        code = f"summary.traffic_{r.kind}" if arcs else "summary.traffic_nothing"
        if code == "summary.traffic_closure" and not permits:
            code = "summary.traffic_closure_all"
        out.append(_msg(code, rule=r.rule_id, kind=r.kind, target=target, arcs=arcs,
                        delay=_num(r.delay_min), permits=permits or "-", routes=passes.get(r.rule_id, 0)))
    return out


def _param(lang: str, key: str, value: object, params: dict[str, object]) -> object:
    from allocator.i18n import t

    if isinstance(value, dict) and key == "counts":
        sep = "，" if lang == "zh" else ", "
        return sep.join(f"{t('reason.label.' + k, lang)}: {v}" for k, v in value.items())
    if isinstance(value, list):
        sep = "、" if lang == "zh" else ", "
        return sep.join(t("summary.named_pair" if "item" in v and "site" in v else "summary.named", lang,
                          **_localise(lang, v)) for v in value)
    return value


def _localise(lang: str, params: dict[str, object]) -> dict[str, object]:
    """``*_name`` parameters in the reader's language (``*_name_zh`` for Chinese)."""
    out = dict(params)
    if lang == "zh":
        for k in list(out):
            if k.endswith("_name") and out.get(k + "_zh"):
                out[k] = out[k + "_zh"]
    return out


def render(messages: list[dict[str, object]], lang: str = "en") -> str:
    """Text of :func:`summary_messages` in ``lang`` ("en" or "zh"), one line per message.

    Examples
    --------
    >>> render([{"code": "summary.all_filled", "params": {}}], "en")
    'Every need is filled.'
    """
    from allocator.i18n import t

    lines = []
    for m in messages:
        raw = m.get("params", {})
        params = _localise(lang, dict(raw) if isinstance(raw, dict) else {})
        params = {k: _param(lang, k, v, params) for k, v in params.items()}
        if "reason" in params:
            params["reason_label"] = t(f"reason.label.{params['reason']}", lang)
            params["reason_text"] = t(f"reason.{params['reason']}", lang)
        if "kind" in params:
            params["kind_label"] = t(f"summary.kind.{params['kind']}", lang)
        lines.append(t(str(m["code"]), lang, **params))
    return "\n".join(lines)


def summary_text(data: RoundData, fill: pd.DataFrame, alloc: pd.DataFrame, warnings: list[str],
                 routes: pd.DataFrame | None = None, lang: str = "en") -> str:
    """A short plain-language account of the round, in ``lang`` (:func:`render` of :func:`summary_messages`)."""
    return render(summary_messages(data, fill, alloc, warnings, routes), lang)
