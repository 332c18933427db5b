"""What the Round, Transport, Deliveries and Donations pages share beyond ``ui/common.py``.

Thin helpers only: the session's :class:`~allocator.roundwork.RoundWork`, the
cached travel times, the pydeck map (rendered with ``map_provider=None``, so no
request leaves the machine), translated tables and the shortage reasons in
plain words. Every action still calls the library.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import pydeck as pdk
import streamlit as st

from allocator import i18n
from allocator import opsview as view
from allocator.roundwork import RoundWork
from ui.common import current_scenario, data_fingerprint, database_url, lang

WORK_KEY = "ops_round_work"
#: Seconds between two polls of a running job's progress (``$ALLOCATOR_APP_POLL_S``). Polling every
#: 0.5 s made the demo round 80 s instead of 9 s in the server (each fragment rerun competes for the GIL).
POLL_S = float(os.environ.get("ALLOCATOR_APP_POLL_S", "1.0") or 1.0)


def round_work() -> RoundWork:
    """The session's round working state (locks, exclusions, runs), created on first use."""
    w = st.session_state.get(WORK_KEY)
    if not isinstance(w, RoundWork):
        w = RoundWork()
        st.session_state[WORK_KEY] = w
    return w


@st.cache_resource(show_spinner=False, max_entries=2)
def _travel(url: str, fingerprint: str) -> Any:
    from allocator.network import travel_times

    sc = current_scenario()
    if not (sc.has("roads") and len(sc.roads)):
        return None
    return travel_times(sc)


def travel() -> Any:
    """Travel times of the current scenario under its traffic control, cached until the data changes."""
    return _travel(database_url(), data_fingerprint())


def t_ops(key: str, **params: Any) -> str:
    """A string of this slice's catalogue (``app.ops.*``, ``app.round.*`` ...) in the session's language."""
    return i18n.t(key, lang(), **params)


def translator() -> Callable[..., str]:
    """:func:`t_ops` with the language of this run fixed (for ``format_func`` callbacks called later)."""
    code = lang()
    return lambda key, **params: i18n.t(key, code, **params)


def reason_words(code: str, **params: Any) -> str:
    """A shortage reason in plain words: the library's ``reason.<code>`` when the catalogue has it,
    else this app's own sentence ``app.round.reason.<code>``."""
    for key in (f"reason.{code}", f"reasons.{code}", f"app.round.reason.{code}"):
        if i18n.has(key, lang()):
            return i18n.t(key, lang(), **params)
    return code


def labels(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with column names translated (``app.ops.col.<name>``; others kept)."""
    return df.rename(columns={c: t_ops(f"app.ops.col.{c}") if i18n.has(f"app.ops.col.{c}", lang()) else c
                              for c in df.columns})


def with_names(df: pd.DataFrame, scenario: Any, cols: Iterable[str] = ("depot_id", "site_id", "item_id")) -> pd.DataFrame:
    """``df`` with a name column after each id column present (``depot``, ``site``, ``item``)."""
    out = df.copy()
    for c in cols:
        if c not in out:
            continue
        table = {"depot_id": "depots", "site_id": "sites", "item_id": "items"}[c]
        nm = view.names(scenario, table, lang())
        pos = list(out.columns).index(c) + 1
        out.insert(pos, c.removesuffix("_id"), [nm.get(str(x), str(x)) for x in out[c]])
    return out


def deck(scenario: Any, *, sites: pd.DataFrame | None = None, arcs: pd.DataFrame | None = None,
         roads: pd.DataFrame | None = None, routes: pd.DataFrame | None = None) -> pdk.Deck:
    """The pydeck map: roads (PathLayer), routes, shipments (ArcLayer), sites and depots; no base map tiles."""
    layers = []
    if roads is not None and len(roads):
        layers.append(pdk.Layer("PathLayer", roads[["path", "colour", "name", "state"]], get_path="path",
                                get_color="colour", width_min_pixels=1, get_width=2, pickable=True))
    if routes is not None and len(routes):
        layers.append(pdk.Layer("PathLayer", routes, get_path="path", get_color=[30, 90, 200], width_min_pixels=3,
                                get_width=4, pickable=True))
    if arcs is not None and len(arcs):
        layers.append(pdk.Layer("ArcLayer", arcs, get_source_position="source", get_target_position="target",
                                get_source_color=[40, 70, 160], get_target_color=[230, 120, 30],
                                get_width="1 + Math.log10(1 + kg)", pickable=True))
    if sites is not None and len(sites):
        layers.append(pdk.Layer("ScatterplotLayer", sites, get_position=["lon", "lat"], get_fill_color="colour",
                                get_radius=450, radius_min_pixels=4, pickable=True, stroked=True,
                                get_line_color=[40, 40, 40], line_width_min_pixels=1))
    dp = view.depot_points(scenario, lang())
    layers.append(pdk.Layer("ScatterplotLayer", dp, get_position=["lon", "lat"], get_fill_color=[30, 30, 120],
                            get_radius=700, radius_min_pixels=6, pickable=True))
    s = scenario.sites
    vs = pdk.ViewState(latitude=float(s.lat.mean()), longitude=float(s.lon.mean()), zoom=10, pitch=0)
    return pdk.Deck(layers=layers, initial_view_state=vs, map_provider=None, map_style=None,
                    tooltip={"text": "{name}"})


@st.cache_data(show_spinner=False, max_entries=8)
def _road_paths(url: str, fingerprint: str, lang_code: str) -> pd.DataFrame:
    return view.road_paths(current_scenario(), lang=lang_code)


def road_paths() -> pd.DataFrame:
    """The current scenario's roads under the rules in force, cached until the data changes."""
    return _road_paths(database_url(), data_fingerprint(), lang())


def download(label_key: str, data: bytes | Callable[[], bytes], file_name: str, mime: str, key: str,
             **params: Any) -> None:
    """A download button with a translated label (``data`` may be a callable, made only on the click)."""
    st.download_button(t_ops(label_key, **params), data=data, file_name=file_name, mime=mime, key=key)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
PDF = "application/pdf"
