"""The one road speed table: ``allocator/data/road_speeds.csv``.

Every speed the package assumes lives in that file, one row per road kind:

- ``default_kmh``: the speed of a road of that kind when its file gives none
  (GraphML without ``speed_kmh``, OSM ways without ``maxspeed``, line files);
  ``*`` is any kind not listed (``_link`` suffixes of OSM kinds are ignored);
- ``synthetic_kmh``: the speed of a road of that kind in the generated city grid
  (:mod:`allocator.synth`);
- the row ``(no roads)``: the contract's fallback without a road network,
  great-circle distance x :data:`FALLBACK_DETOUR` at that speed.

This module depends on nothing in the package, so :mod:`allocator.geo`,
:mod:`allocator.network` and :mod:`allocator.synth` all read the same table.

Examples
--------
>>> default_speed("primary"), default_speed("primary_link"), default_speed("track")
(50.0, 50.0, 30.0)
>>> SYNTHETIC_SPEED_KMH["arterial"], FALLBACK_SPEED_KMH
(50.0, 30.0)
"""

from __future__ import annotations

import csv
import io
from importlib import resources

__all__ = [
    "DEFAULT_SPEED_KMH", "SYNTHETIC_SPEED_KMH", "OTHER_KIND_SPEED_KMH", "FALLBACK_SPEED_KMH",
    "FALLBACK_DETOUR", "default_speed", "read_table",
]

#: The contract's detour factor of the great-circle fallback.
FALLBACK_DETOUR = 1.3

_OTHER = "*"
_NO_ROADS = "(no roads)"


def read_table() -> list[dict[str, str]]:
    """The rows of ``allocator/data/road_speeds.csv`` as text."""
    text = resources.files("allocator").joinpath("data", "road_speeds.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _column(rows: list[dict[str, str]], col: str) -> dict[str, float]:
    return {r["kind"]: float(r[col]) for r in rows if r[col].strip()}


_ROWS = read_table()
_DEFAULTS = _column(_ROWS, "default_kmh")

#: Speed (km/h) by road kind when a road file gives none.
DEFAULT_SPEED_KMH: dict[str, float] = {k: v for k, v in _DEFAULTS.items() if k not in (_OTHER, _NO_ROADS)}
#: Speed (km/h) of a kind not in :data:`DEFAULT_SPEED_KMH`.
OTHER_KIND_SPEED_KMH: float = _DEFAULTS[_OTHER]
#: Speed (km/h) of the contract's great-circle fallback without roads.
FALLBACK_SPEED_KMH: float = _DEFAULTS[_NO_ROADS]
#: Speed (km/h) by road kind of the synthetic city grid.
SYNTHETIC_SPEED_KMH: dict[str, float] = _column(_ROWS, "synthetic_kmh")


def default_speed(kind: str) -> float:
    """Speed (km/h) assumed for a road kind when the file gives none."""
    base = kind.removesuffix("_link") if kind else ""
    return DEFAULT_SPEED_KMH.get(base, OTHER_KIND_SPEED_KMH)
