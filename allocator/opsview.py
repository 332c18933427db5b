"""Tables the officers' Round, Transport and Deliveries pages show, built from library results.

Nothing here draws: the functions return plain DataFrames (map layers as
rows with ``[lon, lat]`` positions and ``[r, g, b]`` colours, ready for pydeck)
and bytes (CSV and XLSX exports), so the pages stay thin and everything is
tested without a browser. Display names follow the reader's language: a
facility's or item's Chinese name (``name_zh``) in Chinese when the scenario
has one, its English name otherwise.

Every export passes text through :func:`allocator.cells.escape_frame`, so a
donor's or facility's name can never run as a spreadsheet formula.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from allocator import rules
from allocator.cells import escape_frame
from allocator.scenario import Scenario

__all__ = [
    "names", "fill_colour", "site_points", "depot_points", "shipment_arcs", "road_paths", "fill_by_tier",
    "shortages", "manifest_frame", "csv_bytes", "xlsx_bytes", "rule_table", "route_paths",
]

RED, AMBER, GREEN = (215, 48, 39), (253, 174, 97), (26, 152, 80)
ROAD_GREY = (150, 150, 150)
CLOSED, CHECKPOINT, ZONE = (200, 0, 0), (230, 140, 0), (120, 60, 170)


def names(scenario: Scenario, table: str, lang: str) -> dict[str, str]:
    """Id -> display name of the rows of ``sites``, ``depots`` or ``items`` in ``lang``.

    Examples
    --------
    >>> from allocator import examples
    >>> names(examples.three_tiers(), "sites", "en")["DH"] != ""
    True
    """
    key = {"sites": "site_id", "depots": "depot_id", "items": "item_id"}[table]
    df = scenario.table(table)
    en = df["name"].astype("string").fillna("") if "name" in df else pd.Series("", index=df.index)
    out = en.copy()
    if lang == "zh" and "name_zh" in df:
        zh = df["name_zh"].astype("string").fillna("")
        out = zh.where(zh.str.len() > 0, en)
    ids = df[key].astype(str)
    return {i: (str(n) if str(n) else i) for i, n in zip(ids, out)}


def fill_colour(ratio: float) -> list[int]:
    """Red (0) through amber (0.5) to green (1): the colour of a fill ratio.

    Examples
    --------
    >>> fill_colour(0.0), fill_colour(1.0)
    ([215, 48, 39], [26, 152, 80])
    """
    r = float(np.clip(0.0 if pd.isna(ratio) else ratio, 0.0, 1.0))
    a, b, f = (RED, AMBER, r / 0.5) if r <= 0.5 else (AMBER, GREEN, (r - 0.5) / 0.5)
    return [int(round(x + (y - x) * f)) for x, y in zip(a, b)]


def site_points(scenario: Scenario, fill: pd.DataFrame, lang: str) -> pd.DataFrame:
    """One row per site: ``site_id, name, tier, lon, lat, need, filled, fill_ratio, fill_pct, colour``.

    The fill ratio is units filled over units needed across the site's needs
    (1.0 for a site with no need).
    """
    s = scenario.sites
    nm = names(scenario, "sites", lang)
    agg = fill.assign(site_id=fill.site_id.astype(str)).groupby("site_id")[["need", "filled"]].sum()
    ids = s.site_id.astype(str)
    need = agg.need.reindex(ids).fillna(0).to_numpy(float)
    filled = agg.filled.reindex(ids).fillna(0).to_numpy(float)
    ratio = np.where(need > 0, filled / np.where(need > 0, need, 1), 1.0)
    return pd.DataFrame({
        "site_id": ids.to_numpy(), "name": [nm[i] for i in ids], "tier": s.tier.to_numpy(),
        "lon": s.lon.to_numpy(float), "lat": s.lat.to_numpy(float), "need": need, "filled": filled,
        "fill_ratio": ratio.round(4), "fill_pct": [f"{100 * r:.0f}%" for r in ratio],
        "colour": [fill_colour(r) for r in ratio],
    })


def depot_points(scenario: Scenario, lang: str) -> pd.DataFrame:
    """One row per depot: ``depot_id, name, lon, lat``."""
    d = scenario.depots
    nm = names(scenario, "depots", lang)
    ids = d.depot_id.astype(str)
    return pd.DataFrame({"depot_id": ids.to_numpy(), "name": [nm[i] for i in ids],
                         "lon": d.lon.to_numpy(float), "lat": d.lat.to_numpy(float)})


def shipment_arcs(scenario: Scenario, allocations: pd.DataFrame, lang: str) -> pd.DataFrame:
    """One row per (depot, site) shipped to: ``depot_id, site_id, depot, site, units, kg, source, target``.

    ``source`` and ``target`` are ``[lon, lat]``; ``kg`` uses the items' unit
    weight (1 kg a unit when not given, as the capacity rule does).
    """
    cols = ["depot_id", "site_id", "depot", "site", "units", "kg", "source", "target"]
    if allocations is None or allocations.empty:
        return pd.DataFrame(columns=cols)
    it = scenario.items.set_index(scenario.items.item_id.astype(str))
    w = rules.unit_weight(it, of=allocations.item_id.astype(str))
    a = allocations.assign(kg=rules.shipment_kg(allocations.quantity, w))
    g = a.groupby(["depot_id", "site_id"], as_index=False).agg(units=("quantity", "sum"), kg=("kg", "sum"))
    dp = depot_points(scenario, lang).set_index("depot_id")
    sp = scenario.sites.set_index(scenario.sites.site_id.astype(str))
    sn = names(scenario, "sites", lang)
    dname, dlon, dlat = dp["name"].to_dict(), dp["lon"].to_dict(), dp["lat"].to_dict()
    slon, slat = sp["lon"].to_dict(), sp["lat"].to_dict()
    g["depot"] = [dname[d] for d in g.depot_id]
    g["site"] = [sn[s] for s in g.site_id]
    g["source"] = [[float(dlon[d]), float(dlat[d])] for d in g.depot_id]
    g["target"] = [[float(slon[s]), float(slat[s])] for s in g.site_id]
    g["kg"] = g.kg.round(1)
    return g[cols]


def road_paths(scenario: Scenario, control: object | None = None, lang: str = "en") -> pd.DataFrame:
    """The scenario's roads as 2-point paths: ``path, name, kind, state, rules, colour``.

    ``state`` is ``open``, ``closed``, ``checkpoint`` or ``zone`` under the
    rules in force at the scenario's ``as_of`` (``control`` defaults to the
    scenario's traffic control; pass a changed one to preview a rule).
    A road in both directions is one path. Empty when the scenario has no roads.
    """
    from allocator.network.paths import control_of, network_of

    cols = ["path", "name", "kind", "state", "rules", "colour"]
    net = network_of(scenario)
    if net is None:
        return pd.DataFrame(columns=cols)
    tc = control if control is not None else control_of(scenario)
    a = net.arrays
    state = np.full(a.n_arcs, "open", dtype=object)
    rules: list[list[str]] = [[] for _ in range(a.n_arcs)]
    rank = {"open": 0, "checkpoint": 1, "zone": 2, "closed": 3}
    for rule in tc.in_force(scenario.at):  # type: ignore[attr-defined]
        kind = {"closure": "closed", "checkpoint": "checkpoint", "restricted_zone": "zone"}[rule.kind]
        for i in tc.arcs(net, rule):  # type: ignore[attr-defined]
            rules[i].append(rule.rule_id)
            if rank[kind] > rank[state[i]]:
                state[i] = kind
    lo = np.minimum(a.u, a.v)
    hi = np.maximum(a.u, a.v)
    _, first = np.unique(np.stack([lo, hi], axis=1), axis=0, return_index=True)
    first = np.sort(first)
    colour = {"open": list(ROAD_GREY), "closed": list(CLOSED), "checkpoint": list(CHECKPOINT), "zone": list(ZONE)}
    return pd.DataFrame({
        "path": [[[float(a.lon[a.u[i]]), float(a.lat[a.u[i]])], [float(a.lon[a.v[i]]), float(a.lat[a.v[i]])]]
                 for i in first],
        "name": [str(a.name[i] or "") for i in first], "kind": [str(a.kind[i] or "") for i in first],
        "state": state[first], "rules": [";".join(sorted(set(rules[i]))) for i in first],
        "colour": [colour[state[i]] for i in first],
    })


def route_paths(scenario: Scenario, routes: pd.DataFrame) -> pd.DataFrame:
    """Routes (``Travel.routes`` rows with ``path`` node ids) as lon/lat paths: ``depot_id, site_id, path``."""
    nodes = scenario.road_nodes.set_index(scenario.road_nodes.node_id.astype(str)) if scenario.has(
        "road_nodes") else None
    nlon: dict[Any, Any] = {} if nodes is None else nodes["lon"].to_dict()
    nlat: dict[Any, Any] = {} if nodes is None else nodes["lat"].to_dict()
    rows = []
    for depot, site, path in zip(routes.depot_id, routes.site_id, routes.path):
        p = [[float(nlon[n]), float(nlat[n])] for n in path if n in nlon]
        rows.append({"depot_id": depot, "site_id": site, "path": p})
    return pd.DataFrame(rows, columns=["depot_id", "site_id", "path"])


def fill_by_tier(fill: pd.DataFrame) -> pd.DataFrame:
    """Per tier: ``tier, need, filled, shortage, fill_pct`` (units; percent of need filled).

    Examples
    --------
    >>> f = pd.DataFrame({"tier": [1, 1, 2], "need": [10, 10, 5], "filled": [10, 5, 0], "shortage": [0, 5, 5]})
    >>> fill_by_tier(f).fill_pct.tolist()
    [75.0, 0.0]
    """
    g = fill.groupby("tier", as_index=False)[["need", "filled", "shortage"]].sum()
    g["fill_pct"] = np.where(g.need > 0, 100.0 * g.filled / g.need.where(g.need > 0, 1), 100.0).round(1)
    return g


def shortages(fill: pd.DataFrame, scenario: Scenario, lang: str) -> pd.DataFrame:
    """The needs left short, highest tier first: ``site_id, site, tier, item_id, item, need, filled, shortage, reason``."""
    s = fill[fill.shortage > 0].sort_values(["tier", "shortage"], ascending=[True, False])
    sn, it = names(scenario, "sites", lang), names(scenario, "items", lang)
    out = s.assign(site=[sn.get(str(x), str(x)) for x in s.site_id], item=[it.get(str(x), str(x)) for x in s.item_id])
    return out[["site_id", "site", "tier", "item_id", "item", "need", "filled", "shortage", "reason"]].reset_index(
        drop=True)


def manifest_frame(allocations: pd.DataFrame, scenario: Scenario, lang: str) -> pd.DataFrame:
    """Per drop (depot to site) the lots to load: ``depot_id, depot, site_id, site, lot_id, item_id, item, quantity, kg``."""
    cols = ["depot_id", "depot", "site_id", "site", "lot_id", "item_id", "item", "quantity", "kg"]
    if allocations is None or allocations.empty:
        return pd.DataFrame(columns=cols)
    dn, sn, inm = names(scenario, "depots", lang), names(scenario, "sites", lang), names(scenario, "items", lang)
    it = scenario.items.set_index(scenario.items.item_id.astype(str))
    a = allocations.groupby(["depot_id", "site_id", "lot_id", "item_id"], as_index=False).agg(
        quantity=("quantity", "sum"))
    a["depot"] = [dn.get(str(x), str(x)) for x in a.depot_id]
    a["site"] = [sn.get(str(x), str(x)) for x in a.site_id]
    a["item"] = [inm.get(str(x), str(x)) for x in a.item_id]
    a["kg"] = rules.shipment_kg(a.quantity, rules.unit_weight(it, of=a.item_id.astype(str))).round(2)
    return a[cols].sort_values(["depot_id", "site_id", "lot_id"]).reset_index(drop=True)


def rule_table(control: object, at: pd.Timestamp | None) -> pd.DataFrame:
    """The traffic-control rules with whether each is in force at ``at``:
    ``rule_id, kind, road, u, v, delay_min, permits, in_force``."""
    rows = []
    for r in control.rules:  # type: ignore[attr-defined]
        rows.append({"rule_id": r.rule_id, "kind": r.kind, "road": r.road, "u": r.u, "v": r.v,
                     "delay_min": float(r.delay_min or 0.0), "permits": ";".join(sorted(r.permits)),
                     "in_force": bool(r.in_force(at))})
    return pd.DataFrame(rows, columns=["rule_id", "kind", "road", "u", "v", "delay_min", "permits", "in_force"])


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and len(out) and isinstance(out[c].dropna().iloc[0] if out[c].notna().any()
                                                              else None, tuple | list):
            out[c] = [";".join(map(str, v)) if isinstance(v, tuple | list) else v for v in out[c]]
        if isinstance(out[c].dtype, pd.StringDtype):
            out[c] = out[c].astype(object)
    return out


def csv_bytes(df: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV (with a BOM, so spreadsheet programs read Chinese correctly), formulas escaped."""
    return escape_frame(_plain(df)).to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """Tables as one ``.xlsx`` workbook, one sheet each (text cells never formulas)."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, df in sheets.items():
            escape_frame(_plain(df)).to_excel(xw, sheet_name=str(name)[:31], index=False)
    return buf.getvalue()
