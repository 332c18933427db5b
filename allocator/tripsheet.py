"""Printable trip sheets: one PDF per vehicle with its trips, stops, loads and times.

A driver and a site's storekeeper read the sheet on paper, in Chinese or
English: the labels come from the catalogue (``app.tripsheet.*``), facility and
item names follow the language (``name_zh`` in Chinese), and the text is set in
Noto Sans CJK (Debian's ``fonts-noto-cjk``; another font file can be named with
``$ALLOCATOR_CJK_FONT``), embedded as a subset so the PDF prints anywhere.

Examples
--------
>>> from allocator import examples
>>> from allocator.network import travel_times
>>> from allocator.network.trips import plan_trips
>>> sc = examples.ring_road()
>>> ship = pd.DataFrame({"lot_id": ["L1"], "depot_id": ["D1"], "site_id": ["H1"], "item_id": ["n95"],
...                      "quantity": [8000]})
>>> plan = plan_trips(sc, ship, travel_times(sc), time_limit_s=0.5)
>>> vid = str(plan.trips.vehicle_id.iloc[0])
>>> pdf = trip_sheet(sc, plan, vid, "zh") if font_path() else b"%PDF"
>>> pdf[:4]
b'%PDF'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.errors import AllocatorError
from allocator.i18n import t
from allocator.opsview import names
from allocator.scenario import Scenario

__all__ = ["trip_sheet", "trip_sheets", "font_path", "TripSheetError", "FONT_ENV", "DEFAULT_FONTS"]

FONT_ENV = "ALLOCATOR_CJK_FONT"
#: Font files tried in order (a TrueType/OpenType file or collection with CJK glyphs).
DEFAULT_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
#: Face of each language in the Noto CJK collections (2 = Simplified Chinese).
COLLECTION_FACE = 2


class TripSheetError(AllocatorError):
    """A trip sheet cannot be made (no CJK font, or no such vehicle in the plan)."""


def font_path() -> str | None:
    """The font file the sheets use, or None when none is installed."""
    env = os.environ.get(FONT_ENV)
    for p in ([env] if env else []) + list(DEFAULT_FONTS):
        if p and Path(p).is_file():
            return p
    return None


def _fmt_time(x: Any) -> str:
    return "" if x is None or pd.isna(x) else pd.Timestamp(x).strftime("%H:%M:%S")


def _fmt_num(x: float, digits: int = 1) -> str:
    x = float(x)
    return f"{int(x):,}" if x.is_integer() else f"{x:,.{digits}f}"


def trip_sheet(scenario: Scenario, plan: object, vehicle_id: str, lang: str, *,
               title: str = "", round_id: int | None = None) -> bytes:
    """The PDF trip sheet of one vehicle.

    Parameters
    ----------
    scenario : Scenario
        Gives depot, site and item names.
    plan : allocator.network.trips.Trips
        The planned trips (``trips`` and ``manifest`` tables).
    vehicle_id : str
    lang : {"zh", "en"}
    title : str
        A line under the heading (for example the round's name).
    round_id : int, optional
        The stored round the trips belong to, printed on the sheet.

    Raises
    ------
    TripSheetError
        No CJK font file, or the vehicle has no trip in the plan.
    """
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    font = font_path()
    if font is None:
        raise TripSheetError(f"no CJK font for trip sheets: install fonts-noto-cjk or set ${FONT_ENV}")
    trips = plan.trips  # type: ignore[attr-defined]
    man = plan.manifest  # type: ignore[attr-defined]
    mine = trips[trips.vehicle_id.astype(str) == str(vehicle_id)].sort_values(["trip", "stop"])
    if mine.empty:
        raise TripSheetError(f"vehicle {vehicle_id} has no trip in this plan")
    dn, sn, inm = names(scenario, "depots", lang), names(scenario, "sites", lang), names(scenario, "items", lang)
    tr = lambda key, **kw: t(f"app.tripsheet.{key}", lang, **kw)  # noqa: E731

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("cjk", "", font, collection_font_number=COLLECTION_FACE if font.lower().endswith(".ttc") else 0)
    pdf.set_title(tr("title", vehicle=vehicle_id))
    pdf.set_creator("supply-allocator")
    pdf.add_page()

    def line(h: float, text: str) -> None:
        pdf.cell(0, h, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_font("cjk", size=16)
    line(10, tr("title", vehicle=vehicle_id))
    pdf.set_font("cjk", size=10)
    depot = str(mine.depot_id.iloc[0])
    head = [tr("depot", depot=dn.get(depot, depot), depot_id=depot),
            tr("date", date=f"{scenario.at:%Y-%m-%d}")]
    if round_id is not None:
        head.append(tr("round", round_id=round_id))
    if title:
        head.append(title)
    for text in head:
        line(6, text)
    widths = (12, 58, 22, 22, 22, 54)
    for trip_no, stops in mine.groupby("trip", sort=True):
        pdf.ln(3)
        pdf.set_font("cjk", size=12)
        first = stops.iloc[0]
        line(8, tr("trip", trip=int(trip_no), depart=_fmt_time(first.trip_depart),
                          back=_fmt_time(first.trip_return), kg=_fmt_num(first.load_kg)))
        pdf.set_font("cjk", size=9)
        heads = [tr("col.stop"), tr("col.site"), tr("col.arrival"), tr("col.depart"), tr("col.kg"),
                 tr("col.signature")]
        for w, h in zip(widths, heads):
            pdf.cell(w, 7, h, border=1)
        pdf.ln(7)
        for st in stops.itertuples(index=False):
            site = str(st.site_id)
            cells = [str(int(st.stop)), f"{sn.get(site, site)} ({site})", _fmt_time(st.arrival),
                     _fmt_time(st.depart), _fmt_num(st.drop_kg), ""]
            for w, c in zip(widths, cells):
                pdf.cell(w, 7, c, border=1)
            pdf.ln(7)
            lines = man[(man.vehicle_id.astype(str) == str(vehicle_id)) & (man.trip == trip_no)
                        & (man.stop == st.stop)]
            for ln in lines.itertuples(index=False):
                item = str(ln.item_id)
                pdf.cell(widths[0], 6, "")
                line(6, tr("line", item=inm.get(item, item), item_id=item, lot=str(ln.lot_id),
                                  quantity=f"{int(ln.quantity):,}"))
    pdf.ln(4)
    line(6, tr("driver"))
    return bytes(pdf.output())


def trip_sheets(scenario: Scenario, plan: object, lang: str, **kw: object) -> dict[str, bytes]:
    """Every vehicle's trip sheet: ``{vehicle_id: pdf bytes}`` in vehicle order."""
    vids = sorted(set(map(str, plan.trips.vehicle_id)))  # type: ignore[attr-defined]
    return {v: trip_sheet(scenario, plan, v, lang, **kw) for v in vids}  # type: ignore[arg-type]
