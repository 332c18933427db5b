"""Road and traffic-control tables, checked through the scenario schema once.

``road_nodes``, ``roads`` and ``traffic_control`` are defined by the scenario
schema (``allocator/schema/*.csv``) and checked by the scenario validator
(:mod:`allocator.validate`: types, bounds, unique node ids, references, self-loops,
rule kinds, polygons, windows). The network package checks nothing of its own:
its builders and readers pass the tables through :func:`check_tables` (typed or
text frames) or :func:`parse_tables` (text frames read from files), and raise
:class:`RoadFileError` with the validator's coded problems.

The road-file readers of :mod:`allocator.network.io` (GeoJSON, OSM, shapefile,
GraphML, WKT lines) find problems the schema does not describe; they report them
with the codes of :data:`NETWORK_PROBLEM_CODES` (``problem.<code>`` keys at the
end of ``allocator/locale/<lang>/problems.toml``) through :func:`add_problem`.

Examples
--------
>>> import pandas as pd
>>> nodes = pd.DataFrame({"node_id": ["a", "b"], "lat": [30.0, 30.0], "lon": [114.0, 114.01]})
>>> roads = pd.DataFrame({"u": ["a"], "v": ["c"], "length_m": [0.0], "speed_kmh": [30.0]})
>>> print(check_tables({"road_nodes": nodes, "roads": roads}))
roads.csv:2: length_m: must be > 0 (got 0)
roads.csv:2: v: unknown node_id (got c)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from allocator import i18n, schema
from allocator.errors import NetworkError
from allocator.report import PROBLEM_CODES, Problem, Report
from allocator.scenario import RawScenario, Scenario, to_raw
from allocator.validate import parse, validate

__all__ = [
    "ROAD_TABLES", "NETWORK_PROBLEM_CODES", "RoadFileError", "add_problem", "check_tables", "parse_tables",
    "raise_errors",
]

#: The scenario tables the network is built from.
ROAD_TABLES = ("road_nodes", "roads", "traffic_control")

#: Problem codes of the road-file readers (formats the scenario schema does not describe).
NETWORK_PROBLEM_CODES: frozenset[str] = frozenset({
    "road_file_not_found", "road_nodes_not_found", "road_graphml_unreadable", "road_node_needs_lat_lon",
    "road_arc_needs_length", "road_json_invalid", "road_geojson_not_collection", "road_geojson_not_feature",
    "road_not_a_line", "road_speed_not_positive", "road_line_too_short", "road_no_linestrings",
    "road_no_lines", "road_wkt_not_linestring", "road_shapefile_unreadable", "road_shapefile_not_lines",
    "road_shapefile_empty", "road_shapefile_not_degrees", "road_shapefile_no_field", "road_osm_unknown_node",
    "road_osm_no_ways", "road_osm_not_osm", "road_osm_bad_lat_lon", "road_osm_malformed", "road_pbf_unreadable",
})

#: Codes about a table that was not given (checked when the caller gives it).
_ABSENT_CODES = {"file_missing", "refers_absent"}
#: Codes that need the roads to check a traffic-control rule.
_TARGET_CODES = {"rule_unknown_road", "rule_unknown_edge"}


class RoadFileError(NetworkError):
    """Road or traffic-control tables are malformed; ``report`` lists every problem found.

    Examples
    --------
    >>> r = Report(); r.problem("roads.csv", 3, "length_m", "out_of_bounds", "0", bounds="> 0")
    >>> print(RoadFileError(r))
    road file is invalid: 1 error(s)
    roads.csv:3: length_m: must be > 0 (got 0)
    """

    def __init__(self, report: Report):
        self.report = report
        errs = report.errors
        lines = [str(p) for p in errs[:20]]
        if len(errs) > 20:
            lines.append(f"... and {len(errs) - 20} more")
        super().__init__("\n".join([f"road file is invalid: {len(errs)} error(s)", *lines]))


def add_problem(report: Report, file: str, row: int | None, column: str | None, code: str, value: Any = None,
                *, severity: str = "error", **params: Any) -> None:
    """Add problem ``code`` (of :data:`NETWORK_PROBLEM_CODES` or the validator's codes) to ``report``."""
    if code not in NETWORK_PROBLEM_CODES and code not in PROBLEM_CODES:  # a programming error, caught by the tests
        raise AssertionError(f"unknown problem code {code!r}")
    msg = i18n.t(f"problem.{code}", "en", **params)
    report.problems.append(Problem(file, row, column, msg, None if value is None else str(value), severity,
                                   code, dict(params)))


def raise_errors(report: Report) -> None:
    """Raise :class:`RoadFileError` when ``report`` holds an error."""
    if report.errors:
        raise RoadFileError(report)


def _keep(report: Report, given: set[str], labels: Mapping[str, str]) -> Report:
    """The problems about the given tables (not those about tables the caller did not give)."""
    files = {labels[t] for t in given}
    drop = set(_ABSENT_CODES) | (set() if "roads" in given else _TARGET_CODES)
    out = Report(texts=report.texts, unreadable=report.unreadable)
    out.problems = [p for p in report.problems if p.file in files and p.code not in drop]
    return out


def _is_text(df: pd.DataFrame) -> bool:
    """Whether every cell is a string (a frame as the scenario readers give it)."""
    return all(pd.api.types.infer_dtype(df[c], skipna=False) in ("string", "empty") for c in df.columns)


def _labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    out = {name: spec.filename for name, spec in schema.tables().items()}
    out.update(labels or {})
    return out


def check_tables(tables: Mapping[str, pd.DataFrame]) -> Report:
    """Check road tables (``road_nodes``, ``roads``, ``traffic_control``; typed or any dtypes) with the validator.

    Only the problems about the given tables are returned: a rule's road name is
    checked when ``roads`` is given, references to node ids when ``road_nodes`` is.
    Typed tables (as :func:`allocator.scenario.load` gives them) are checked as
    values, without formatting them as text.
    """
    given = {t for t in tables if t in ROAD_TABLES}
    report = validate(Scenario(tables={t: tables[t] for t in given}))
    return _keep(report, given, _labels(None))


def parse_tables(
    tables: Mapping[str, pd.DataFrame], labels: Mapping[str, str] | None = None, problems: list[Problem] | None = None
) -> tuple[dict[str, pd.DataFrame], Report]:
    """Type road tables through the schema (text frames as the scenario readers give them, or any frames).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Some of ``road_nodes``, ``roads``, ``traffic_control``. Text frames are
        indexed by line - 2 (as :func:`allocator.scenario.read_csv_text` gives
        them); other frames are formatted as the scenario files would hold them.
    labels : mapping, optional
        How problems name each table's file (default ``<table>.csv``).
    problems : list of Problem, optional
        What the file readers already found (put first in the report).

    Returns
    -------
    typed : dict of str to DataFrame
        The typed tables with the schema's defaults (usable only without errors).
    report : Report
        The validator's problems about the given tables.
    """
    lab = _labels(labels)
    given = {t for t in tables if t in ROAD_TABLES}
    texts = {t: tables[t] for t in given}
    if not all(_is_text(df) for df in texts.values()):
        texts = to_raw(texts).tables
    raw = RawScenario(tables=texts, labels=lab, problems=list(problems or []))
    sc, report = parse(raw)
    return {t: sc.tables[t] for t in given if t in sc.tables}, _keep(report, given, lab)
