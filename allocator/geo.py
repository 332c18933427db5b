"""Distances on the sphere, nearest-node look-ups and the great-circle travel-time fallback."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# The contract's fallback without a road network: great-circle distance x 1.3 at 30 km/h
# (both figures live in the road speed table, ``allocator/data/road_speeds.csv``).
from allocator.speeds import FALLBACK_DETOUR, FALLBACK_SPEED_KMH

__all__ = [
    "EARTH_RADIUS_KM", "FALLBACK_DETOUR", "FALLBACK_SPEED_KMH", "haversine_km", "unit_vectors", "chord_to_km",
    "nearest", "fallback_minutes",
]

#: Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM = 6371.0088


def haversine_km(
    lat1: Iterable[float] | float,
    lon1: Iterable[float] | float,
    lat2: Iterable[float] | float,
    lon2: Iterable[float] | float,
) -> np.ndarray:
    """Great-circle distance in km; arguments broadcast like numpy arrays.

    Examples
    --------
    >>> round(float(haversine_km(30.6692, 114.2814, 30.5291, 114.0822)), 1)
    24.6
    """
    la1, lo1, la2, lo2 = (np.radians(np.asarray(x, dtype=float)) for x in (lat1, lon1, lat2, lon2))
    a = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def unit_vectors(lat: Iterable[float], lon: Iterable[float]) -> np.ndarray:
    """Points as 3-D unit vectors, so that a KD-tree on them finds great-circle neighbours."""
    la, lo = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    """Convert chord lengths between unit vectors to great-circle km."""
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord) / 2, 0, 1))


def nearest(
    lat: Iterable[float], lon: Iterable[float], ref_lat: Iterable[float], ref_lon: Iterable[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Index of and distance (km) to the nearest reference point for every point (a KD-tree)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(unit_vectors(ref_lat, ref_lon))
    chord, idx = tree.query(unit_vectors(lat, lon))
    return np.asarray(idx), chord_to_km(chord)


def fallback_minutes(
    lat1: Iterable[float], lon1: Iterable[float], lat2: Iterable[float], lon2: Iterable[float]
) -> np.ndarray:
    """The contract's travel time without roads: great-circle km x 1.3 at 30 km/h, in minutes."""
    return haversine_km(lat1, lon1, lat2, lon2) * FALLBACK_DETOUR / FALLBACK_SPEED_KMH * 60.0
