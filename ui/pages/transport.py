"""Transport: the road network under traffic control, what-if rules, truck trips, trip sheets, dispatch."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from allocator import opsview as view
from allocator import tripsheet
from allocator.errors import AllocatorError
from allocator.jobs import Job
from allocator.network import Rule
from allocator.network.paths import control_of
from allocator.network.replan import replan
from allocator.roundwork import plan_trips_job, store_error_code
from allocator.store import dispatch_round, lines_frame, rounds_frame, vehicles_by_drop
from ui import ops_common as oc
from ui.common import PAGE_ROLES, current_scenario, database, lang, require_role, session, tr

user = require_role(*PAGE_ROLES["transport"])
T = oc.translator()
L = lang()
st.title(tr("app.page.transport"))
sc = current_scenario()
travel = oc.travel()
control = control_of(sc)

# ----------------------------------------------------------------- the network and the rules in force
st.subheader(T("app.transport.network"))
what_if = st.session_state.get("transport_whatif")
shown_control = what_if["control"] if what_if else control
routes = what_if.get("routes") if what_if else None
roads_now = view.road_paths(sc, control=shown_control, lang=L) if what_if else oc.road_paths()
st.pydeck_chart(oc.deck(sc, roads=roads_now, routes=routes),
                key="transport_map")
st.caption(T("app.transport.legend"))
rules = view.rule_table(control, sc.at)
st.dataframe(oc.labels(rules.assign(kind=[T(f"app.transport.kinds.{k}") for k in rules.kind],
                                    in_force=[T("app.ops.yes") if x else T("app.ops.no") for x in rules.in_force])),
             hide_index=True, key="transport_rules")

# ----------------------------------------------------------------- add or lift a rule (what-if)
st.subheader(T("app.transport.whatif"))
if travel is None or getattr(travel, "fallback", True):
    st.info(T("app.transport.no_roads"))
else:
    roads = sorted({str(n) for n in sc.roads.name.dropna() if str(n).strip()})
    c1, c2, c3 = st.columns([2, 4, 2])
    kind = c1.selectbox(T("app.transport.kind"), ["closure", "checkpoint"], key="transport_rule_kind",
                        format_func=lambda k: T(f"app.transport.kinds.{k}"))
    road = c2.selectbox(T("app.ops.col.road"), roads, key="transport_rule_road")
    delay = c3.number_input(T("app.ops.col.delay_min"), min_value=0.0, value=15.0, step=5.0,
                            key="transport_rule_delay")
    lift = st.multiselect(T("app.transport.lift"), list(rules.rule_id[rules.in_force]), key="transport_rule_lift",
                          placeholder=T("app.ops.choose"))
    b1, b2 = st.columns(2)
    if b1.button(T("app.transport.replan"), key="transport_replan", type="primary"):
        rid = f"WHATIF{len(control.rules) + 1}"
        add = [Rule(rid, kind, road=road, delay_min=float(delay) if kind == "checkpoint" else 0.0)] \
            if road else []
        with session() as s:
            rf = rounds_frame(s)
        pairs = None
        if len(rf):
            last = rf[rf.state.isin(["draft", "approved", "dispatched"])]
            if len(last):
                with session() as s:
                    lf = lines_frame(s, int(last.round_id.iloc[-1]))
                pairs = sorted(set(zip(lf.depot_id, lf.site_id))) or None
        try:
            out = replan(travel, add=add, lift=lift, pairs=pairs, with_paths=True)
        except (AllocatorError, ValueError) as exc:
            st.error(T("app.transport.replan_failed", detail=str(exc)))
        else:
            ch = out.changes
            moved = [(d, s) for d, s, fin in zip(ch.depot_id, ch.site_id, ch.after_min) if pd.notna(fin)
                     and fin != float("inf")]
            rts = view.route_paths(sc, out.travel.routes(moved)) if moved else None
            st.session_state["transport_whatif"] = {"control": out.travel.control, "changes": ch, "routes": rts,
                                                    "add": [r.rule_id for r in add], "lift": list(lift)}
            st.rerun()
    if b2.button(T("app.transport.reset"), key="transport_reset", disabled=what_if is None):
        st.session_state.pop("transport_whatif", None)
        st.rerun()
    if what_if:
        ch = what_if["changes"]
        st.markdown(T("app.transport.changed", n=len(ch), add=", ".join(what_if["add"]) or "-",
                      lift=", ".join(what_if["lift"]) or "-"))
        if len(ch):
            st.dataframe(oc.labels(oc.with_names(ch, sc, ("depot_id", "site_id"))), hide_index=True,
                         key="transport_changes")

# ----------------------------------------------------------------- trips of an approved round
st.subheader(T("app.transport.trips"))
with session() as s:
    rf = rounds_frame(s)
ready = rf[rf.state.isin(["approved", "dispatched"])] if len(rf) else rf
if ready is None or ready.empty:
    st.info(T("app.transport.no_approved"))
    st.stop()
ids = [int(x) for x in ready.round_id]
rid = st.selectbox(T("app.transport.pick_round"), ids, index=len(ids) - 1, key="transport_round",
                   format_func=lambda i: T("app.transport.round_label", round_id=i,
                                           state=T(f"app.ops.state.{ready.set_index('round_id').at[i, 'state']}")))
state = str(ready.set_index("round_id").at[rid, "state"])
plans = st.session_state.setdefault("transport_plans", {})
job: Job | None = st.session_state.get("transport_job")
running = job is not None and not job.poll().finished
if st.button(T("app.transport.plan"), key="transport_plan", disabled=running):
    st.session_state["transport_job"] = Job.start(plan_trips_job, database(), rid, name="trips")
    st.session_state["transport_job_round"] = rid
    running = True


def _plan_progress() -> None:
    j: Job | None = st.session_state.get("transport_job")
    if j is None:
        return
    snap = j.poll()
    if snap.state == "running":
        st.progress(0.5, text=T("app.transport.planning", seconds=f"{snap.elapsed_s:.1f}"))
    elif st.session_state.get("transport_job_seen") is not j:
        st.session_state["transport_job_seen"] = j
        if snap.state == "done":
            plans[st.session_state["transport_job_round"]] = snap.result
        else:
            code, params = store_error_code(snap.error or Exception("?"))
            st.session_state["transport_error"] = T(code, **params)
        st.rerun()


st.fragment(run_every=oc.POLL_S if running else None)(_plan_progress)()
if st.session_state.get("transport_error"):
    st.error(st.session_state.pop("transport_error"))

plan = plans.get(rid)
if plan is None:
    st.caption(T("app.transport.plan_first"))
else:
    t = plan.trips
    vids = sorted(set(map(str, t.vehicle_id)))
    st.markdown(T("app.transport.summary", vehicles=len(vids), trips=int(t.groupby("vehicle_id").trip.nunique().sum()),
                  stops=len(t), unplanned=len(plan.unplanned)))
    vid = st.selectbox(T("app.ops.col.vehicle_id"), vids, key="transport_vehicle")
    mine = oc.with_names(t[t.vehicle_id.astype(str) == vid], sc, ("depot_id", "site_id"))
    mine = mine.assign(manifest=[";".join(m) for m in mine.manifest])
    st.dataframe(oc.labels(mine[["trip", "stop", "site_id", "site", "arrival", "depart", "load_kg", "drop_kg",
                                 "manifest"]]), hide_index=True, key="transport_trips_table")
    if len(plan.unplanned):
        st.warning(T("app.transport.unplanned", n=len(plan.unplanned)))
        st.dataframe(oc.labels(oc.with_names(plan.unplanned, sc)), hide_index=True, key="transport_unplanned")
    sheets = st.session_state.setdefault("transport_sheets", {})
    if tripsheet.font_path() is None:
        st.warning(T("app.transport.no_font"))
    elif st.button(T("app.transport.sheets"), key="transport_make_sheets"):
        with st.spinner(T("app.transport.making_sheets")):
            sheets[(rid, L)] = tripsheet.trip_sheets(sc, plan, L, round_id=rid)
    for v, pdf in sheets.get((rid, L), {}).items():
        oc.download("app.transport.sheet", pdf, f"round-{rid}-{v}.pdf", oc.PDF, f"transport_sheet_{v}", vehicle=v)
    oc.download("app.transport.trips_csv", lambda: view.csv_bytes(t), f"round-{rid}-trips.csv", oc.CSV,
                "transport_dl_trips")
    if state == "approved":
        if not user.has("officer", "approver", "admin"):
            st.info(T("app.transport.dispatch_role"))
        elif st.button(T("app.transport.dispatch"), key="transport_dispatch", type="primary"):
            try:
                with session() as s:
                    dispatch_round(s, rid, user.name, vehicles=vehicles_by_drop(plan))
            except AllocatorError as exc:
                code, params = store_error_code(exc)
                st.error(T(code, **params))
            else:
                st.success(T("app.transport.dispatched", round_id=rid, page=tr("app.page.deliveries")))
    else:
        st.success(T("app.transport.already_dispatched", round_id=rid))
