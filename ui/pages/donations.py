"""Donations: register a donation and its lots as they arrive, record inspections and earmarks.

Registration and inspection call ``allocator.store.donations`` (the ``ledger``
branch: reference codes, receipts, ``pledged``/``received``/``inspected``
ledger entries). Until that module is installed the page shows the stored
donations and lots and says that registration is not available yet.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from allocator import opsview as view
from allocator.errors import AllocatorError
from allocator.roundwork import store_error_code
from allocator.store import donations as dstore
from ui import ops_common as oc
from ui.common import PAGE_ROLES, current_scenario, lang, require_role, session, tr

user = require_role(*PAGE_ROLES["donations"])
T = oc.translator()
L = lang()
st.title(tr("app.page.donations"))
sc = current_scenario()
items = view.names(sc, "items", L)
depots = view.names(sc, "depots", L)
sites = view.names(sc, "sites", L)
kinds = sorted({str(k) for k in sc.sites.kind})

if st.session_state.get("donations_done"):
    st.success(st.session_state.pop("donations_done"))
if st.session_state.get("donations_receipt"):
    code, text = st.session_state["donations_receipt"]
    oc.download("app.donations.receipt", text.encode("utf-8"), f"receipt-{code}.json", "application/json",
                "donations_dl_receipt", code=code)

# ----------------------------------------------------------------- register
st.subheader(T("app.donations.register"))
c1, c2 = st.columns([3, 1])
donor = c1.text_input(T("app.ops.col.donor"), key="donations_donor")
publish = c2.checkbox(T("app.donations.publish_name"), value=True, key="donations_publish")
c3, c4 = st.columns(2)
received = c3.date_input(T("app.ops.col.received_at"), value=sc.at.date(), key="donations_received")
note = c4.text_input(T("app.ops.col.note"), key="donations_note")
e1, e2 = st.columns(2)
em_sites = e1.multiselect(T("app.ops.col.earmark_site_id"), sorted(sites), key="donations_em_sites",
                          format_func=lambda x: f"{sites[x]} ({x})", placeholder=T("app.ops.choose"))
em_kinds = e2.multiselect(T("app.ops.col.earmark_kind"), kinds, key="donations_em_kinds",
                          placeholder=T("app.ops.choose"))
n = st.number_input(T("app.donations.n_lots"), min_value=1, max_value=10, value=1, step=1, key="donations_n")
specs = []
for i in range(int(n)):
    a, b, c, d = st.columns([3, 3, 2, 2])
    it = a.selectbox(T("app.ops.col.item"), list(items), key=f"donations_lot_{i}_item",
                     format_func=lambda x: f"{items[x]} ({x})")
    de = b.selectbox(T("app.ops.col.depot"), list(depots), key=f"donations_lot_{i}_depot",
                     format_func=lambda x: f"{depots[x]} ({x})")
    q = c.number_input(T("app.ops.col.quantity"), min_value=0, value=0, step=1, key=f"donations_lot_{i}_qty")
    ex = d.date_input(T("app.ops.col.expires"), value=None, key=f"donations_lot_{i}_expires")
    specs.append(dstore.LotSpec(item_id=it, depot_id=de, quantity=int(q), expires=ex))
if st.button(T("app.donations.register_button"), key="donations_register", type="primary"):
    try:
        with session() as s:
            rc = dstore.register_donation(s, donor=donor, lots=specs, user=user.name, publish_name=publish,
                                          earmark_site_id=em_sites, earmark_kind=em_kinds,
                                          received=received, note=note)
    except AllocatorError as exc:
        code, params = store_error_code(exc)
        st.error(T(code, **params))
    else:
        st.session_state["donations_done"] = T("app.donations.registered", code=rc.reference_code,
                                               donation_id=rc.donation_id, lots=len(rc.lots))
        st.session_state["donations_receipt"] = (rc.reference_code, rc.to_json())
        st.rerun()

# ----------------------------------------------------------------- inspect
stock = sc.stock
donated = stock[stock.donation_id.fillna("").astype(str) != ""]
waiting = donated[donated.status.astype(str) == "quarantined"]
st.subheader(T("app.donations.inspect"))
if waiting.empty:
    st.info(T("app.donations.none_waiting"))
else:
    lot_ids = [str(x) for x in waiting.lot_id]
    by_lot = waiting.set_index(waiting.lot_id.astype(str))
    lot = st.selectbox(T("app.ops.col.lot_id"), lot_ids, key="donations_inspect_lot",
                       format_func=lambda x: T("app.donations.lot_label", lot=x,
                                               item=items.get(str(by_lot.at[x, "item_id"]), ""),
                                               quantity=f"{int(by_lot.at[x, 'quantity']):,}"))
    result = st.radio(T("app.donations.result"), ["passed", "downgraded", "rejected"], key="donations_result",
                      format_func=lambda r: T(f"app.donations.results.{r}"), horizontal=True)
    to_item = None
    if result == "downgraded":
        cat = str(sc.items.set_index("item_id").at[by_lot.at[lot, "item_id"], "category"])
        civil = [str(i) for i, c, g in zip(sc.items.item_id, sc.items.category, sc.items.grade)
                 if str(c) == cat and str(g) == "civil"]
        if civil:
            to_item = st.selectbox(T("app.donations.to_item"), civil, key="donations_to_item",
                                   format_func=lambda x: f"{items[x]} ({x})")
        else:
            st.warning(T("app.donations.no_civil", category=cat))
    reason = st.text_input(T("app.donations.reason"), key="donations_reason")
    if st.button(T("app.donations.inspect_button"), key="donations_inspect", type="primary"):
        try:
            with session() as s:
                dstore.inspect_lot(s, lot, result, user=user.name, reason=reason, to_item_id=to_item)
        except AllocatorError as exc:
            code, params = store_error_code(exc)
            st.error(T(code, **params))
        else:
            st.session_state["donations_done"] = T("app.donations.inspected", lot=lot,
                                                   result=T(f"app.donations.results.{result}"))
            st.rerun()

# ----------------------------------------------------------------- what is stored
st.subheader(T("app.donations.stored"))
don = sc.donations.copy()
for c in ("earmark_site_id", "earmark_kind"):
    if c in don:
        don[c] = [";".join(map(str, v)) if isinstance(v, list | tuple) else ("" if pd.isna(v) else str(v))
                  for v in don[c]]
if "received" in don:
    don["received"] = [x.date().isoformat() if isinstance(x, dt.datetime | pd.Timestamp) and pd.notna(x) else ""
                       for x in don["received"]]
cols = [c for c in ("donation_id", "donor", "received", "earmark_site_id", "earmark_kind", "note") if c in don]
st.dataframe(oc.labels(don[cols].rename(columns={"received": "received_at"})), hide_index=True,
             key="donations_table")
lots = oc.with_names(donated[["lot_id", "donation_id", "depot_id", "item_id", "quantity", "status", "expires"]], sc,
                     ("depot_id", "item_id"))
lots = lots.assign(status=[T(f"app.donations.status.{x}") for x in lots.status.astype(str)],
                   expires=[x.date().isoformat() if isinstance(x, dt.datetime | pd.Timestamp) and pd.notna(x) else ""
                            for x in lots.expires])
st.dataframe(oc.labels(lots), hide_index=True, key="donations_lots")
