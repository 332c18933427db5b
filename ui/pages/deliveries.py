"""Deliveries: confirm what arrived per trip, with short, damaged or wrong items as discrepancies.

A receiver sees only the trips to their own site (``allocator.store.receivers``),
and a trip they confirm is marked as confirmed by the receiving site.
"""

from __future__ import annotations

import streamlit as st

from allocator.errors import AllocatorError
from allocator.roundwork import store_error_code
from allocator.store import Discrepancy, confirm_delivery, lines_frame
from allocator.store import models as m
from allocator.store.receivers import site_bound, trips_frame
from ui import ops_common as oc
from ui.common import PAGE_ROLES, current_scenario, require_role, session, tr
from ui.publication import publication_panel

user = require_role(*PAGE_ROLES["deliveries"])
T = oc.translator()
st.title(tr("app.page.deliveries"))
sc = current_scenario()

with session() as s:
    bound = site_bound(s, user.name)
    tf = trips_frame(s, user.name)
if bound:
    st.info(T("app.deliveries.own_site", site=user.site_id or "-"))
if tf.empty:
    st.info(T("app.deliveries.none"))
    st.stop()

open_trips = tf[tf.state != "delivered"]
st.subheader(T("app.deliveries.confirm"))
if open_trips.empty:
    st.success(T("app.deliveries.all_confirmed"))
else:
    ids = [int(x) for x in open_trips.trip_id]
    by_id = open_trips.set_index("trip_id")
    sites = oc.view.names(sc, "sites", oc.lang())
    depots = oc.view.names(sc, "depots", oc.lang())
    tid = st.selectbox(
        T("app.deliveries.pick_trip"), ids, key="deliveries_trip",
        format_func=lambda i: T("app.deliveries.trip_label", trip_id=i, round_id=int(by_id.at[i, "round_id"]),
                                depot=depots.get(by_id.at[i, "depot_id"], by_id.at[i, "depot_id"]),
                                site=sites.get(by_id.at[i, "site_id"], by_id.at[i, "site_id"]),
                                vehicle=by_id.at[i, "vehicle_id"] or "-"))
    rid = int(by_id.at[tid, "round_id"])
    with session() as s:
        lf = lines_frame(s, rid)
    lines = oc.with_names(lf[lf.trip_id == tid], sc, ("item_id",))
    st.caption(T("app.deliveries.help"))
    disc: dict[int, Discrepancy] = {}
    kinds = list(m.DISCREPANCIES)
    for r in lines.itertuples(index=False):
        lid = int(r.line_id)
        c1, c2, c3, c4, c5 = st.columns([4, 2, 2, 2, 3])
        c1.markdown(T("app.deliveries.line", item=r.item, item_id=r.item_id, lot=r.lot_id,
                      quantity=f"{int(r.quantity):,}"))
        got = c2.number_input(T("app.ops.col.received"), min_value=0, max_value=int(r.quantity),
                              value=int(r.quantity), step=1, key=f"deliveries_recv_{lid}")
        kind = c3.selectbox(T("app.ops.col.discrepancy"), kinds, key=f"deliveries_kind_{lid}",
                            format_func=lambda k: T(f"app.deliveries.kinds.{k}"), disabled=got == r.quantity)
        disp = c4.selectbox(T("app.deliveries.disposition"), list(m.DISPOSITIONS), key=f"deliveries_disp_{lid}",
                            format_func=lambda k: T(f"app.deliveries.dispositions.{k}"), disabled=got == r.quantity)
        why = c5.text_input(T("app.deliveries.reason"), key=f"deliveries_reason_{lid}", disabled=got == r.quantity)
        if got != r.quantity:
            disc[lid] = Discrepancy(received=int(got), kind=kind, disposition=disp, reason=why)
    if st.button(T("app.deliveries.confirm_button"), key="deliveries_confirm", type="primary"):
        try:
            with session() as s:
                confirm_delivery(s, rid, user.name, trip_id=tid, discrepancies=disc)
        except AllocatorError as exc:
            code, params = store_error_code(exc)
            st.error(T(code, **params))
        else:
            st.session_state["deliveries_done"] = T("app.deliveries.confirmed", trip_id=tid, n=len(disc))
            st.rerun()
if st.session_state.get("deliveries_done"):
    st.success(st.session_state.pop("deliveries_done"))
    st.session_state["deliveries_offer_publish"] = True
if st.session_state.get("deliveries_offer_publish"):  # after a confirmation: publish what arrived
    publication_panel(user, key="deliveries")

st.subheader(T("app.deliveries.trips"))
shown = tf.assign(state=[T(f"app.ops.state.{x}") for x in tf.state],
                  by_site=[T("app.deliveries.by_site") if b else "" for b in tf.by_site])
st.dataframe(oc.labels(oc.with_names(shown, sc, ("depot_id", "site_id"))), hide_index=True, key="deliveries_table")
