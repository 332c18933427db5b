"""Every check of a scenario, collected into one report: :func:`validate`.

The checks themselves (conversion of every cell, the schema's types, bounds,
choices and uniqueness through pandera, references between tables and the
domain warnings) live in :mod:`allocator.parse`, below both the reader
(:mod:`allocator.scenario`, whose ``load`` uses them) and this module; they are
importable from here too, as are :class:`Report`, :class:`Problem` and
:data:`PROBLEM_CODES` (from :mod:`allocator.report`). What is added here is
checking a scenario given as a path, a raw scenario or an already typed
:class:`Scenario` (for example one edited in a notebook) without re-parsing text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from allocator import schema
from allocator.parse import (
    CHECKS,
    SNAP_WARN_KM,
    pandera_checks,
    pandera_schema,
    parse,
    row_line,
    usable_lots,
    wkt_checks,
)
from allocator.report import PROBLEM_CODES, Problem, Report
from allocator.scenario import RawScenario, Scenario, raw_of, read_raw

__all__ = ["Problem", "Report", "PROBLEM_CODES", "parse", "validate", "usable_lots", "pandera_schema",
           "SNAP_WARN_KM"]


def validate(source: Scenario | str | Path) -> Report:
    """Check a scenario (a path or a :class:`Scenario`) and report every problem.

    Parameters
    ----------
    source : Scenario, str or Path
        A scenario object (for example one edited in a notebook) or a path.

    Returns
    -------
    Report
        ``report.ok`` is True when there are no errors; warnings may remain.

    Examples
    --------
    >>> from allocator import examples
    >>> validate(examples.two_hospitals()).ok
    True
    """
    if isinstance(source, Scenario) and _is_typed(source):
        return _check_typed(source)
    raw = source if isinstance(source, RawScenario) else (
        raw_of(source) if isinstance(source, Scenario) else read_raw(source)
    )
    return parse(raw)[1]


def _column_is_typed(s: pd.Series, c: schema.ColumnSpec) -> bool:
    t = c.type
    if t == "int":
        return pd.api.types.is_integer_dtype(s.dtype) and s.dtype != bool and (
            not c.required or bool(s.notna().all()))
    if t == "float":
        return pd.api.types.is_float_dtype(s.dtype)
    if t == "bool":
        return s.dtype == bool
    if t in ("date", "datetime"):
        return pd.api.types.is_datetime64_dtype(s.dtype)
    if t in ("list", "enum_list"):
        return s.dtype == object and all(type(v) is tuple for v in s.tolist())
    # text columns: the string dtype without missing values ("" is "not given")
    return isinstance(s.dtype, pd.StringDtype) and bool(s.notna().all())


def _is_typed(sc: Scenario) -> bool:
    """Whether every table still has the typed form :func:`parse` gives (so text need not be re-parsed)."""
    specs = schema.tables()
    for name, df in sc.tables.items():
        spec = specs.get(name)
        if spec is None or not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
            return False
        for c in spec.columns:
            if c.name not in df.columns or not _column_is_typed(df[c.name], c):
                return False
    return True


def _check_typed(sc: Scenario) -> Report:
    """The checks of :func:`parse` on a scenario that is already typed: values, not text.

    Gives the same report as formatting the tables as text and parsing them again
    (tested), without the round trip.
    """
    report = Report()
    specs = schema.tables()
    labels = {name: spec.filename for name, spec in specs.items()}
    for name, spec in specs.items():
        if name not in sc.tables:
            if spec.required:
                report.problem(labels[name], None, None, "file_missing")
            continue
        df = sc.tables[name]
        for c in spec.columns:
            if not c.required:
                continue
            s = df[c.name]
            empty = (s == "") if c.type in ("id", "str", "enum", "wkt") else s.isna()
            for i in df.index[empty.to_numpy(bool)]:
                report.problem(labels[name], row_line(i), c.name, "value_required", "")
        pandera_checks(name, df, labels[name], report)
        for c in spec.columns:
            if c.type == "wkt":
                wkt_checks(df, c.name, labels[name], report)
    for check in CHECKS:
        check(sc, labels, report)
    return report
