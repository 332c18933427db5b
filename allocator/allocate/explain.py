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
    """The reason of every shortage (empty string where there is none), aligned with ``fill``.

    The facts of :data:`allocator.rules.REASON_FACTS` are gathered over every (short need,
    group of lots of its item or a substitute) pair. Each rule is evaluated once per
    distinct input, reachability per (depot, site), earmark per (earmark, site), grade per
    (grade, site), and the pairs look the answers up.
    """
    short = fill[fill.shortage > 1e-9]
    out = pd.Series([""] * len(fill), index=fill.index, dtype="string")
    if short.empty:
        return out
    row, grp = _short_pairs(data, short.item_id.astype(str).to_numpy(dtype=object))
    if not len(row):
        out[short.index] = "supply"
        return out
    site_ids = short.site_id.astype(str).to_numpy(dtype=object)
    s_code, sites = pd.factorize(pd.Series(site_ids, dtype=object), use_na_sentinel=False)
    sites_arr = np.asarray(sites, dtype=object)
    g = _GroupFacts(data, alloc)
    s_site, s_tier = s_code[row], short.tier.to_numpy()[row]
    reach = _reach_table(data, g.depots, sites_arr)[g.depot[grp], s_site]
    em_ok = _earmark_table(data, g.earmarks, sites_arr)[g.earmark[grp], s_site]
    grade_ok = _grade_table(data, g.grades, sites_arr)[g.grade[grp], s_site]
    has_left = g.has_left[grp]
    kept = has_left | (g.max_tier[grp] > s_tier)
    reach_earmark = reach & em_ok
    allowed_left = reach_earmark & grade_ok & has_left
    pair_facts = {
        "stocked": np.ones(len(row), dtype=bool), "reach": reach, "reach_earmark": reach_earmark,
        "reach_earmark_grade": reach_earmark & grade_ok, "reach_kept": reach & kept,
        "reach_earmark_kept": reach_earmark & kept, "allowed_left": allowed_left,
        "capacity_stopped": allowed_left & g.cap_stop[grp],
    }
    facts = pd.DataFrame({k: np.bincount(row, weights=pair_facts[k], minlength=len(short)) > 0
                          for k in rules.REASON_FACTS})
    out[short.index] = rules.shortage_reason(facts)
    return out


def _short_pairs(data: RoundData, need_item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (short need, group) pair whose group holds the need's item or a substitute of it.

    Parameters
    ----------
    data : RoundData
        The round (``coverage`` and ``groups``).
    need_item : ndarray of str
        The item of each short need.

    Returns
    -------
    (ndarray, ndarray)
        For each pair, the short need's position in ``need_item`` and the group's row in
        ``data.groups``.
    """
    gitem = data.groups.item_id.astype(str).to_numpy(dtype=object) if len(data.groups) else np.zeros(0, object)
    cov = data.coverage
    ships: dict[str, list[str]] = {}
    for ni, it in zip(cov.need_item_id.astype(str).tolist(), cov.item_id.astype(str).tolist()):
        ships.setdefault(ni, []).append(it)
    codes, uniq = pd.factorize(pd.Series(need_item, dtype=object), use_na_sentinel=False)
    rows, grps = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for j, ni in enumerate(uniq):
        gs = np.concatenate([np.zeros(0, np.int64)] + [np.flatnonzero(gitem == it) for it in ships.get(str(ni), [])])
        if len(gs):
            r = np.flatnonzero(codes == j)
            rows.append(np.repeat(r, len(gs)))
            grps.append(np.tile(gs, len(r)))
    return np.concatenate(rows), np.concatenate(grps)


class _GroupFacts:
    """What :func:`reasons` needs of each group (row of ``data.groups``), as arrays.

    ``depot``, ``earmark`` and ``grade`` number the group's depot, earmark (sites, kinds)
    and grade among ``depots``, ``earmarks`` and ``grades``; ``has_left``: one unit or more
    left unshipped; ``max_tier``: the lowest-priority tier it shipped to (0 when none);
    ``cap_stop``: its depot's capacity left cannot carry one more unit.
    """

    def __init__(self, data: RoundData, alloc: pd.DataFrame):
        g = data.groups
        self.has_left, self.max_tier = _shipped_by_group(data, alloc)
        cap_used = _kg_by_depot(data, alloc)
        cap = pd.Series(data.capacity)
        room = (cap - cap_used.reindex(cap.index).fillna(0.0)).astype(float).reindex(g.depot_id).to_numpy(float)
        self.cap_stop = np.nan_to_num(room, nan=np.inf) < g.weight.to_numpy(float)
        self.depot, self.depots = _numbered(g.depot_id)
        self.grade, self.grades = _numbered(g.grade)
        self.earmark, self.earmarks = _numbered(pd.Series(list(zip(g.em_sites, g.em_kinds)), dtype=object))


def _shipped_by_group(data: RoundData, alloc: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For each group (row of ``data.groups``): one unit or more left unshipped, and the
    lowest-priority tier it shipped to (0 when it shipped nothing)."""
    g = data.groups
    lot_ids, group_ids = pd.Index(data.lots.lot_id), pd.Index(g.group)
    if not len(g):
        return np.zeros(0, dtype=bool), np.zeros(0)
    if not (lot_ids.is_unique and group_ids.is_unique):  # as a join would count them
        at = alloc.merge(data.lots[["lot_id", "group"]], on="lot_id")
        by_group = at.groupby("group").quantity.sum()
        rest = (g.quantity - by_group.reindex(g.group).fillna(0).to_numpy()).to_numpy()
        at = at.assign(tier=data.sites.tier.reindex(at.site_id).to_numpy())
        return np.asarray(rest >= 1, dtype=bool), at.groupby("group").tier.max().reindex(g.group).fillna(0).to_numpy()
    lot = lot_ids.get_indexer(pd.Index(alloc.lot_id.astype(str)))
    row = np.full(len(alloc), -1)
    row[lot >= 0] = group_ids.get_indexer(data.lots.group.to_numpy()[lot[lot >= 0]])
    ok = row >= 0
    shipped = np.bincount(row[ok], weights=alloc.quantity.to_numpy(float)[ok], minlength=len(g))
    left = g.quantity.to_numpy(float) - shipped
    site = pd.Index(data.sites.index).get_indexer(pd.Index(alloc.site_id.astype(str)))
    tier = np.where(site >= 0, data.sites.tier.to_numpy(float)[site], np.nan)
    ok &= ~np.isnan(tier)
    max_tier = np.full(len(g), -np.inf)
    np.maximum.at(max_tier, row[ok], tier[ok])
    return left >= 1, np.where(np.isinf(max_tier), 0.0, max_tier)


def _kg_by_depot(data: RoundData, alloc: pd.DataFrame) -> pd.Series:
    """Kilograms each depot ships (hard rule 7), summed in allocation order by pandas."""
    item = pd.Index(data.items.index).get_indexer(pd.Index(alloc.item_id.astype(str)))
    ok = item >= 0
    kg = rules.shipment_kg(alloc.quantity.to_numpy()[ok], data.items.weight.to_numpy(float)[item[ok]])
    return pd.Series(kg).groupby(alloc.depot_id.to_numpy(dtype=object)[ok]).sum()


def _numbered(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(number of each value, the distinct values as an object array); a missing value is a value too."""
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    out = np.empty(len(uniq), dtype=object)
    for i, u in enumerate(uniq):  # element by element: a tuple stays one value
        out[i] = u
    return np.asarray(codes), out


def _reach_table(data: RoundData, depots: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Hard rule 6 for every depot x site: :func:`allocator.rules.reachable` of the round's travel times."""
    m = data.travel.minutes.reindex(index=list(data.depots.index), columns=list(data.sites.index))
    t = rules.travel_lookup(m, np.repeat(depots, len(sites)), np.tile(sites, len(depots)))
    return rules.reachable(t).reshape(len(depots), len(sites))


def _earmark_table(data: RoundData, earmarks: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Hard rule 5 for every earmark (sites, kinds) x site: :func:`allocator.rules.earmark_allows`."""
    kind = np.tile(data.sites.kind.astype(str).reindex(sites).to_numpy(), len(earmarks))
    em = [e for e in earmarks for _ in range(len(sites))]
    ok = rules.earmark_allows([e[0] for e in em], [e[1] for e in em], np.tile(sites, len(earmarks)), kind)
    return ok.reshape(len(earmarks), len(sites))


def _grade_table(data: RoundData, grades: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Hard rule 4 for every grade x site: :func:`allocator.rules.grade_allows`."""
    clinical = data.sites.clinical.reindex(sites).to_numpy()
    ok = rules.grade_allows(np.repeat(grades, len(sites)), np.tile(clinical, len(grades)))
    return ok.reshape(len(grades), len(sites))


def _num(x: float) -> int | float:
    """A whole number as int, else rounded to one decimal (for ``{x:,}`` in the templates)."""
    x = float(x)
    return int(round(x)) if abs(x - round(x)) < 1e-6 else round(x, 1)


def _named(frame: pd.DataFrame, key: str, ident: str) -> dict[str, str]:
    """``{key}``, ``{key}_name`` and ``{key}_name_zh`` parameters of one id (the id when no name is given)."""
    name = name_zh = ""
    pos = frame.index.get_loc(ident) if ident in frame.index else None
    if isinstance(pos, int) and frame.columns.is_unique:  # one row: read its two cells
        name = str(_cell(frame, "name", pos) or "")
        name_zh = str(_cell(frame, "name_zh", pos) or "")
    elif pos is not None:
        row = frame.loc[ident]
        name = str(row.get("name", "") or "")
        name_zh = str(row.get("name_zh", "") or "")
    name = name if name and name != "nan" else ident
    name_zh = name_zh if name_zh and name_zh != "nan" else name
    return {key: ident, f"{key}_name": name, f"{key}_name_zh": name_zh}


def _cell(frame: pd.DataFrame, column: str, pos: int) -> object:
    """``frame.iloc[pos][column]``, or ``""`` when there is no such column."""
    return frame[column].iat[pos] if column in frame.columns else ""


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
        present = set(short.reason.tolist())
        used = [c for c in REASONS if c in present]
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
