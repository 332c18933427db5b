"""The public donation page: no login; reads only published snapshots, never the database.

Everything shown comes from :func:`allocator.public.view_model` of the newest
snapshot under the publication folder (``$ALLOCATOR_PUBLIC_DIR``, default
``var/public``), the same data the static site (``allocator site``) renders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from allocator import i18n, public
from ui.common import lang, tr


@st.cache_data(show_spinner=False, max_entries=8)
def _model(path: str, stamp: tuple[int, int], channels_stamp: str) -> dict[str, Any]:
    snap = public.load_snapshot(path)
    model = public.view_model(snap, channels=public.load_channels())
    model["_files"] = {p.name: p.read_bytes() for p in Path(path).iterdir()
                       if p.is_file() and p.suffix in (".csv", ".jsonl", ".json", ".xml")}
    return model


def _stamp(path: Path) -> tuple[int, int]:
    m = (path / "manifest.json").stat()
    return (m.st_mtime_ns, m.st_size)


def _name(rows: list[dict[str, Any]], id_col: str, ident: str) -> str:
    for r in rows:
        if r.get(id_col) == ident:
            if lang() == "zh" and r.get("name_zh"):
                return str(r["name_zh"])
            return str(r.get("name") or ident)
    return ident


def _donor(name: str) -> str:
    return tr("public.anonymous") if name == "anonymous" else name


def _channels(model: dict[str, Any]) -> None:
    st.subheader(tr("public.give"))
    base = model.get("channels") or {}
    ch = {**base, **(base.get(lang()) or {})}
    if not ch.get("hotline") and not ch.get("addresses"):
        st.caption(tr("public.channels_missing"))
        return
    if ch.get("hotline"):
        st.text(f"{tr('public.hotline')}: {ch['hotline']}")
    for a in ch.get("addresses") or []:
        st.text(f"{tr('public.address')}: {a}")
    if ch.get("note"):
        st.caption(str(ch["note"]))


def _status(model: dict[str, Any], folder: Path) -> None:
    s = model["snapshot"]
    if s["verified"]:
        st.success(tr("public.verified"), icon=":material/verified:")
    else:
        st.error(tr("public.not_verified", message=s["message"]))
    c1, c2 = st.columns([1, 3])
    c1.metric(tr("public.entries"), f"{s['head_seq']:,}")
    c2.text(f"{tr('public.published_at')}: {s['published_at']}\n{tr('public.head')}: {s['head_hash']}")
    prev = s.get("previous")
    if isinstance(prev, dict) and int(prev.get("seq") or 0) > 0:
        st.caption(tr("public.extends" if s.get("extends_checked") else "public.previous_named", seq=prev["seq"]))
    else:
        st.caption(tr("public.no_previous"))
    if s.get("public_key"):
        st.caption(tr("public.signature_ok", fingerprint=s["public_key"]))
    st.caption(tr("public.recheck"))
    st.code(public.RECHECK_COMMAND.format(path=folder.name), language="bash")


def _totals(model: dict[str, Any]) -> None:
    st.subheader(tr("public.totals"))
    tabs = st.tabs([tr("public.by_item"), tr("public.by_donor"), tr("public.by_site")])
    specs = [("item", "item_id", "items"), ("donor", "donor", None), ("site", "site_id", "sites")]
    for tab, (by, col, ref) in zip(tabs, specs):
        rows = model["totals"][by]
        df = pd.DataFrame(rows)
        with tab:
            if df.empty:
                st.caption(tr("public.trail_empty"))
                continue
            label = tr("public.col.item" if by == "item" else "public.col.donor" if by == "donor" else "public.col.site")
            df[label] = [(_name(model[ref], col, r[col]) if ref else _donor(r[col])) for r in rows]
            nums = ["allocated", "dispatched", "delivered", "donations"] if by == "site" else \
                ["received", "passed", "allocated", "delivered", "in_stock", "written_off", "donations"]
            shown = df[[label, *nums]].rename(columns={n: tr(f"public.col.{n}") for n in nums})
            bar = "delivered" if by == "site" else "received"
            st.bar_chart(shown.set_index(label)[[tr(f"public.col.{bar}")]], horizontal=True,
                         height=max(160, 28 * len(shown)))
            st.dataframe(shown, hide_index=True, width="stretch", key=f"totals_{by}")


def _map(model: dict[str, Any], reached: dict[str, int]) -> None:
    pts = []
    for s in model["sites"]:
        try:
            lat, lon = float(s.get("lat", "")), float(s.get("lon", ""))
        except (TypeError, ValueError):
            continue
        pts.append({"site": _name(model["sites"], "site_id", s["site_id"]), "lat": lat, "lon": lon,
                    "delivered": reached.get(s["site_id"], 0), "hit": s["site_id"] in reached})
    if not pts:
        st.caption(tr("public.no_map"))
        return
    import pydeck as pdk

    df = pd.DataFrame(pts)
    df["color"] = [[179, 38, 30, 220] if h else [138, 148, 163, 160] for h in df.hit]
    df["radius"] = [300 if h else 120 for h in df.hit]
    layer = pdk.Layer("ScatterplotLayer", df, get_position="[lon, lat]", get_fill_color="color",
                      get_radius="radius", pickable=True)
    view = pdk.ViewState(latitude=float(df.lat.mean()), longitude=float(df.lon.mean()), zoom=10)
    st.pydeck_chart(pdk.Deck(layers=[layer], initial_view_state=view, map_provider=None,
                             tooltip={"text": "{site}: {delivered}"}), key="public_map")


def _trail(model: dict[str, Any], did: str) -> None:
    d = next((x for x in model["donations"] if x["donation_id"] == did), None)
    tr_ = model["trails"].get(did)
    if d is None or tr_ is None:
        return
    st.subheader(tr("public.trail", donation_id=did))
    st.text(" · ".join(x for x in (d["code"], _donor(d["donor"]), d["date"]) if x))
    rows = []
    for e in tr_["events"]:
        ev = e["event"]
        key = f"public.event.{ev}"
        detail = e["detail"]
        if ev == "inspected":
            detail = tr(f"public.inspection.{detail}") if detail else ""
        elif ev == "pledged" and detail:
            detail = tr("public.earmark", to="、".join(_name(model["sites"], "site_id", x) for x in detail.split(";")))
        elif ev == "delivered" and detail:
            detail = tr("public.confirmed_by_site") if ("site" in detail or "receiver" in detail) \
                else tr("public.confirmed_by_dispatch")
        rows.append({
            tr("public.col.date"): d["date"] if ev == "pledged" and d["date"] else e["at"][:19].replace("T", " "),
            tr("public.col.event"): tr(key) if i18n.has(key, lang()) else tr("public.event.other", event=ev),
            tr("public.col.item"): _name(model["items"], "item_id", e["item_id"]) if e["item_id"] else "",
            tr("public.col.quantity"): "" if ev == "pledged" else f"{e['quantity']:,}",
            tr("public.col.site"): _name(model["sites"], "site_id", e["site_id"]) if e["site_id"] else e["depot_id"],
            tr("public.col.detail"): detail,
            tr("public.col.hash"): e["hash"][:16],
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="trail_table")
    stock = tr_["stock"]
    st.caption(tr("public.stock_note", available=f"{stock['available']:,}", quarantined=f"{stock['quarantined']:,}",
                  written_off=f"{stock['written_off']:,}"))
    reached: dict[str, int] = {}
    for e in tr_["events"]:
        if e["event"] == "delivered" and e["site_id"]:
            reached[e["site_id"]] = reached.get(e["site_id"], 0) + e["quantity"]
    st.subheader(tr("public.map"))
    _map(model, reached)


def _search(model: dict[str, Any]) -> None:
    st.subheader(tr("public.search"))
    q = st.text_input(tr("public.search_hint"), key="public_query")
    if not q:
        return
    fold = public._fold(q)
    hits = [d for d in model["donations"] if fold in public._fold(d["donation_id"])
            or (d["code"] and fold in public._fold(d["code"])) or fold in public._fold(d["donor"])]
    if not hits:
        st.info(tr("public.no_match", query=q))
        return
    st.caption(tr("public.matches", n=len(hits)))
    ids = [d["donation_id"] for d in hits[:50]]
    label = {d["donation_id"]: " · ".join(x for x in (d["donation_id"], d["code"], _donor(d["donor"])) if x)
             for d in hits}
    did = st.radio(tr("public.open_trail"), ids, format_func=label.get, key="public_pick")
    if did:
        _trail(model, did)


def _receipt(model: dict[str, Any]) -> None:
    st.subheader(tr("public.receipt"))
    code = st.text_input(tr("public.receipt_hint"), key="public_receipt")
    if not code:
        return
    f = public._fold(code)
    d = next((x for x in model["donations"] if public._fold(x["code"] or "\0") == f
              or public._fold(x["donation_id"]) == f), None)
    pledge = None if d is None else next((e for e in model["trails"][d["donation_id"]]["events"]
                                          if e["event"] == "pledged"), None)
    if pledge is None:
        st.error(tr("public.receipt_not_found", code=code))
    else:
        st.success(tr("public.receipt_ok", seq=pledge["seq"], hash=pledge["hash"]))


def _downloads(model: dict[str, Any]) -> None:
    import io
    import zipfile

    st.subheader(tr("public.downloads"))
    files = model["_files"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(files.items()):
            if name.endswith(".csv") or name == "manifest.json":
                z.writestr(name, data)
    c = st.columns(4)
    c[0].download_button(tr("public.download_csv"), buf.getvalue(), "snapshot-csv.zip", "application/zip",
                         key="dl_csv")
    body = {k: v for k, v in model.items() if not k.startswith("_")}
    c[1].download_button(tr("public.download_json"), json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8"),
                         "snapshot.json", "application/json", key="dl_json")
    if "ledger.jsonl" in files:
        c[2].download_button(tr("public.download_ledger"), files["ledger.jsonl"], "ledger.jsonl",
                             "application/jsonl", key="dl_ledger")
    if "iati-activities.xml" in files:
        c[3].download_button(tr("public.download_iati"), files["iati-activities.xml"], "iati-activities.xml",
                             "application/xml", key="dl_iati")


def main() -> None:
    st.title(tr("public.title"))
    root = public.public_root()
    folder = public.latest_snapshot(root)
    if folder is None:
        st.info(tr("public.no_snapshot"))
        _channels({"channels": public.load_channels()})
        return
    model = _model(str(folder), _stamp(folder), json.dumps(public.load_channels(), sort_keys=True))
    name = model["snapshot"].get("name")
    st.caption(tr("public.subtitle", name=name) if name else tr("public.subtitle_plain"))
    _status(model, folder)
    _search(model)
    _receipt(model)
    _totals(model)
    _channels(model)
    _downloads(model)


main()
