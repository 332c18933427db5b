"""Round: run an allocation round with live progress, lock and exclude, re-run, compare, approve, export."""

from __future__ import annotations

import streamlit as st

from allocator import opsview as view
from allocator.errors import AllocatorError
from allocator.roundwork import store_error_code
from allocator.store import approve_round, rounds_frame
from ui import ops_common as oc
from ui.common import (
    PAGE_ROLES,
    current_scenario,
    database,
    lang,
    render_problems,
    require_role,
    session,
    tr,
)

user = require_role(*PAGE_ROLES["round"])
T = oc.translator()
st.title(tr("app.page.round"))

sc = current_scenario()
work = oc.round_work()
L = lang()
depots = view.names(sc, "depots", L)
sites = view.names(sc, "sites", L)
items = view.names(sc, "items", L)
can_run = user.has("officer", "approver", "admin")

# ----------------------------------------------------------------- overrides
st.subheader(T("app.round.overrides"))
c1, c2, c3, c4 = st.columns([3, 3, 3, 2])
ld = c1.selectbox(T("app.ops.col.depot"), list(depots), format_func=lambda x: f"{depots[x]} ({x})",
                  key="round_lock_depot")
ls = c2.selectbox(T("app.ops.col.site"), list(sites), format_func=lambda x: f"{sites[x]} ({x})",
                  key="round_lock_site")
li = c3.selectbox(T("app.ops.col.item"), list(items), format_func=lambda x: f"{items[x]} ({x})",
                  key="round_lock_item")
lq = c4.number_input(T("app.ops.col.quantity"), min_value=0, step=1, value=0, key="round_lock_qty")
b1, b2 = st.columns(2)
if b1.button(T("app.round.lock_add"), key="round_lock_add", disabled=not can_run):
    work.lock(ld, ls, li, int(lq))
if b2.button(T("app.round.lock_clear"), key="round_lock_clear", disabled=not work.locks):
    work.locks.clear()
if work.locks:
    st.dataframe(oc.labels(oc.with_names(work.locks_frame(), sc)), hide_index=True, key="round_locks_table")
else:
    st.caption(T("app.round.no_locks"))
choices = sorted(depots) + sorted(sites)
excluded = st.multiselect(T("app.round.exclude"), choices, default=sorted(x for x in work.excluded if x in choices),
                          format_func=lambda x: f"{depots.get(x) or sites.get(x)} ({x})", key="round_exclude",
                          placeholder=T("app.ops.choose"))
work.excluded = set(excluded)

# ----------------------------------------------------------------- run
if st.button(T("app.round.run"), key="round_run", type="primary",
             disabled=not can_run or work.state == "running"):
    try:
        work.start(sc, travel=oc.travel(), engine=database(), user=user.name)
    except AllocatorError as exc:
        code, params = store_error_code(exc)
        st.error(T(code, **params))


def _progress() -> None:
    snap = work.poll()
    if snap.state == "running":
        phase = T(f"app.round.phase.{snap.phase}") if snap.phase else T("app.round.phase.start")
        st.progress(min(max(snap.fraction, 0.0), 1.0),
                    text=T("app.round.progress", phase=phase, seconds=f"{snap.elapsed_s:.1f}"))
    elif snap.state in ("done", "failed") and st.session_state.get("round_shown") is not work.job:
        st.session_state["round_shown"] = work.job
        st.rerun()


st.fragment(run_every=oc.POLL_S if work.state == "running" else None)(_progress)()

snap = work.poll()
if snap.state == "failed" and snap.error is not None:
    err = snap.error
    code, params = store_error_code(err)
    st.error(T(code, **params))
    if code == "app.round.error.scenario" and hasattr(err, "report"):
        render_problems(err.report, key="round_problems")

run = work.current_run
if run is not None:
    res = run.result
    st.subheader(T("app.round.results"))
    tot = res.summary.get("totals", {})
    need, filled = float(tot.get("need", 0)), float(tot.get("filled", 0))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(T("app.round.filled"), f"{100 * filled / need if need else 100:.1f}%")
    m2.metric(T("app.round.shortage"), f"{int(tot.get('shortage', 0)):,}")
    m3.metric(T("app.round.lines"), f"{len(res.allocations):,}")
    m4.metric(T("app.round.seconds"), f"{snap.elapsed_s:.1f}")
    if run.round_id is not None:
        st.success(T("app.round.stored", round_id=run.round_id)
                   + (" " + T("app.round.superseded", round_id=run.superseded) if run.superseded else ""))
    tabs = st.tabs([T("app.round.tab.table"), T("app.round.tab.map"), T("app.round.tab.tiers"),
                    T("app.round.tab.shortages"), T("app.round.tab.changes"), T("app.round.tab.export")])
    with tabs[0]:
        st.dataframe(oc.labels(oc.with_names(res.allocations, sc)), hide_index=True, key="round_alloc_table")
    with tabs[1]:
        deck = oc.deck(sc, sites=view.site_points(sc, res.fill, L), arcs=view.shipment_arcs(sc, res.allocations, L),
                       roads=oc.road_paths())
        st.pydeck_chart(deck, key="round_map")
        st.caption(T("app.round.map_legend"))
    with tabs[2]:
        tiers = view.fill_by_tier(res.fill)
        chart = tiers.assign(tier=[T("app.round.tier", tier=int(t)) for t in tiers.tier]).set_index("tier")
        st.bar_chart(chart[["fill_pct"]].rename(columns={"fill_pct": T("app.ops.col.fill_pct")}))
        st.dataframe(oc.labels(tiers), hide_index=True, key="round_tiers_table")
    with tabs[3]:
        short = view.shortages(res.fill, sc, L)
        if short.empty:
            st.success(T("app.round.no_shortage"))
        else:
            short["reason_text"] = [
                oc.reason_words(r.reason, site=r.site, item=r.item, shortage=f"{int(r.shortage):,}",
                                need=f"{int(r.need):,}", tier=int(r.tier))
                for r in short.itertuples()]
            st.dataframe(oc.labels(short.drop(columns=["site_id", "item_id"])), hide_index=True,
                         key="round_short_table")
    with tabs[4]:
        ch = work.changes()
        if ch is None:
            st.info(T("app.round.changes_first"))
        elif ch.empty:
            st.info(T("app.round.changes_none"))
        else:
            st.markdown(T("app.round.changes_counts", **ch.counts()))
            st.dataframe(oc.labels(oc.with_names(ch.shipments, sc)), hide_index=True, key="round_changes_ship")
            st.dataframe(oc.labels(oc.with_names(ch.fill, sc, ("site_id", "item_id"))), hide_index=True,
                         key="round_changes_fill")
    with tabs[5]:
        rid = run.round_id or "draft"

        def _alloc() -> bytes:
            return view.csv_bytes(oc.with_names(res.allocations, sc))

        def _manifest() -> bytes:
            return view.csv_bytes(view.manifest_frame(res.allocations, sc, L))

        def _book() -> bytes:
            return view.xlsx_bytes({"allocations": oc.with_names(res.allocations, sc),
                                    "manifests": view.manifest_frame(res.allocations, sc, L), "fill": res.fill,
                                    "routes": res.routes})

        oc.download("app.round.export.alloc_csv", _alloc, f"round-{rid}-allocations.csv", oc.CSV,
                    "round_dl_alloc_csv")
        oc.download("app.round.export.manifest_csv", _manifest, f"round-{rid}-manifests.csv", oc.CSV,
                    "round_dl_manifest_csv")
        oc.download("app.round.export.xlsx", _book, f"round-{rid}.xlsx", oc.XLSX, "round_dl_xlsx")

# ----------------------------------------------------------------- approval (against the stored drafts)
st.subheader(T("app.round.approval"))


def _approve(round_id: int, version: int) -> None:
    """Approve in the click's callback, so a round that moved meanwhile still gets a clear message."""
    try:
        with session() as s:
            approve_round(s, round_id, user.name, expected_version=version)
    except AllocatorError as exc:
        code, params = store_error_code(exc)
        st.session_state["round_approval_msg"] = ("error", T(code, round_id=round_id, **params))
    else:
        if work.current_run is not None and work.current_run.round_id == round_id:
            work.approved()
        st.session_state["round_approval_msg"] = ("success", T("app.round.approved", round_id=round_id))


msg = st.session_state.pop("round_approval_msg", None)
if msg is not None:
    (st.error if msg[0] == "error" else st.success)(msg[1])
with session() as s:
    rf = rounds_frame(s)
drafts = rf[rf.state == "draft"] if len(rf) else rf
if not user.has("approver"):
    st.info(T("app.round.approve_role"))
elif drafts is None or drafts.empty:
    st.info(T("app.round.no_drafts"))
else:
    ids = [int(x) for x in drafts.round_id]
    by_id = drafts.set_index("round_id")
    mine = work.current_run.round_id if work.current_run is not None else None
    pick = st.selectbox(T("app.round.pick_draft"), ids, index=ids.index(mine) if mine in ids else len(ids) - 1,
                        format_func=lambda i: T("app.round.draft_label", round_id=i,
                                                user=str(by_id.at[i, "created_by"]),
                                                units=f"{int(by_id.at[i, 'units']):,}"),
                        key="round_approve_pick")
    version = int(by_id.at[pick, "version"])
    st.button(T("app.round.approve"), key="round_approve", type="primary", on_click=_approve,
              args=(pick, version))
