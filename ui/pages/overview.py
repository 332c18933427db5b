"""Overview: stock by depot and item, needs and shortages by tier, days of supply, alerts."""

import math

import pandas as pd
import streamlit as st

from ui.common import (
    PAGE_ROLES,
    current_overview,
    current_scenario,
    display_names,
    frame_labels,
    require_role,
    tr,
)
from ui.publication import publication_panel

user = require_role(*PAGE_ROLES["overview"])
st.title(tr("app.page.overview"))
publication_panel(user, key="overview")

sc = current_scenario()
ov = current_overview()
items, sites, depots = display_names("items"), display_names("sites"), display_names("depots")

c1, c2, c3, c4 = st.columns(4)
c1.metric(tr("app.overview.sites"), len(sc.sites))
c2.metric(tr("app.overview.depots"), len(sc.depots))
c3.metric(tr("app.overview.available_units"), f"{int(ov.stock.available.sum()):,}")
c4.metric(tr("app.overview.alerts"), len(ov.alerts))
st.caption(tr("app.overview.as_of", name=sc.name, at=sc.at.strftime("%Y-%m-%d %H:%M")))

st.subheader(tr("app.overview.alerts"))
if not len(ov.alerts):
    st.success(tr("app.overview.no_alerts"))
else:
    def _days(x: float) -> str:
        return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"

    rows = []
    for a in ov.alerts.to_dict("records"):
        rows.append({
            tr("app.col.alert"): tr(f"app.alert_kind.{a['kind']}"),
            tr("app.col.message"): tr(
                f"app.alert.{a['kind']}", site=sites.get(a["site_id"], a["site_id"]),
                depot=depots.get(a["depot_id"], a["depot_id"]), lot=a["lot_id"],
                item=items.get(a["item_id"], a["item_id"]), quantity=f"{int(a['quantity']):,}",
                days=f"{int(a['days']):,}" if a["kind"] == "review" else _days(a["days"]), detail=tr(f"app.category.{a['detail']}") if a["kind"] == "review"
                else a["detail"]),
        })
    counts = ov.alerts.kind.value_counts()
    st.caption(" · ".join(f"{tr(f'app.alert_kind.{k}')}: {n}" for k, n in counts.items()))
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="alerts_table")

st.subheader(tr("app.overview.stock"))
stock = ov.stock.assign(depot=ov.stock.depot_id.map(depots), item=ov.stock.item_id.map(items))
st.dataframe(frame_labels(stock[["depot", "item", "available", "quarantined", "rejected", "expired", "lots"]]),
             hide_index=True, width="stretch", key="stock_table")

st.subheader(tr("app.overview.tiers"))
st.caption(tr("app.overview.tiers_note"))
tiers = ov.tiers.assign(item=ov.tiers.item_id.map(items))
st.dataframe(frame_labels(tiers[["tier", "item", "sites", "need", "projected_served", "projected_shortage"]]),
             hide_index=True, width="stretch", key="tiers_table")

st.subheader(tr("app.overview.days"))
days = ov.days.assign(site=ov.days.site_id.map(sites), item=ov.days.item_id.map(items))
st.dataframe(frame_labels(days[["site", "tier", "item", "days_of_supply", "days_of_supply_burn"]]).round(1),
             hide_index=True, width="stretch", key="days_table")
