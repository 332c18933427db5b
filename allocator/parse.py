"""From text to a checked :class:`~allocator.tables.Scenario`: every cell converted, every rule of the contract checked.

Checks are small functions that each add :class:`~allocator.report.Problem`
entries to a :class:`~allocator.report.Report`; none stops at the first
problem, because a user fixing a spreadsheet wants every problem at once.
Problems print in the contract's format ``FILE:ROW: COLUMN: what is wrong (got
VALUE)``, ROW being the 1-based line in the file with the header as line 1.

Column types, bounds, choices and uniqueness come from the schema tables
(:mod:`allocator.schema`) and are checked with pandera; references between
tables and the domain warnings are checked here. Every problem carries a stable
code (:data:`allocator.report.PROBLEM_CODES`) with parameters, so interfaces can
render it in Chinese or English.

Values are strict: integers are parsed as integers (never through a float) and
must fit int64, floats must be finite, dates and date-times must be ISO 8601
(``YYYY-MM-DD``, optionally with a time after ``T`` or a space), and every
problem quotes the cell's original text.

This module sits below both :mod:`allocator.scenario` (whose :func:`load`
parses what it read) and :mod:`allocator.validate` (which checks a path or an
edited scenario), so that loading never imports the validator.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import numpy as np
import pandas as pd
import pandera.pandas as pa

from allocator import rules, schema
from allocator.geo import chord_to_km, unit_vectors
from allocator.report import Report
from allocator.tables import RawScenario, Scenario

#: A site or depot farther than this from every road node gets a warning.
SNAP_WARN_KM = 5.0

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def row_line(index: Any) -> int:
    """The 1-based file line (header = line 1) of a table row's index."""
    return int(index) + 2


#: ISO 8601 as the format allows it: a date, optionally a time after ``T`` or a space, optionally a zone.
_ISO_DATE = (r"\d{4}-\d{2}-\d{2}"
             r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?")
_PLAIN_INT = r"[+-]?\d{1,18}"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _iso_timestamp(text: str) -> pd.Timestamp | None:
    """The timestamp of an ISO 8601 text already matched by ``_ISO_DATE``; None when the date does not exist."""
    try:
        ts = pd.Timestamp(text.replace(",", "."))
    except (ValueError, TypeError, OverflowError):
        return None
    if ts is pd.NaT:
        return None
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def _parse_int(text: str) -> tuple[int | None, str | None]:
    """One integer from its text, exactly (never through a float): (value, None) or (None, problem code)."""
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None, "not_integer"
    if not d.is_finite():
        return None, "not_integer"
    if d != d.to_integral_value():
        return None, "not_whole"
    if d.adjusted() > 30:  # far outside int64; also keeps int() of 1e999999 cheap
        return None, "int_range"
    v = int(d)
    if not INT64_MIN <= v <= INT64_MAX:
        return None, "int_range"
    return v, None


def _parse_ints(text: pd.Series) -> tuple[pd.Series, dict[Any, str]]:
    """Integers of non-empty texts as an ``Int64`` series, and the problem code of each cell that is not one.

    Plain integers of up to 18 digits (the common case) are converted at once;
    anything else (``3.0``, ``1e3``, ``99999999999999999999``, ``inf``) goes
    through :class:`decimal.Decimal`, which is exact.
    """
    out = pd.Series(pd.NA, index=text.index, dtype="Int64")
    if text.empty:
        return out, {}
    plain = text.str.fullmatch(_PLAIN_INT)
    if plain.any():
        out[plain] = text[plain].astype("int64")
    problems: dict[Any, str] = {}
    for i in text.index[~plain]:
        v, code = _parse_int(text[i])
        if code is None:
            out[i] = v
        else:
            problems[i] = code
    return out, problems


# --------------------------------------------------------------------------- conversion


def _convert(
    raw: pd.Series, col: schema.ColumnSpec, label: str, report: Report
) -> pd.Series:
    """Convert one text column to its type, reporting every cell that does not parse.

    Cells that do not parse become missing, so later checks do not report them twice.
    """
    text = raw.astype(str).str.strip()
    empty = text == ""
    if col.required:
        for i in text.index[empty]:
            report.problem(label, row_line(i), col.name, "value_required", "")
    t = col.type

    def bad(i: Any, code: str) -> None:
        report.problem(label, row_line(i), col.name, code, raw[i])

    if t in ("id", "str", "enum", "wkt"):
        return text.astype(str)
    if t in ("list", "enum_list"):
        return text.map(lambda s: tuple(x.strip() for x in s.split(";") if x.strip()))
    if t == "bool":
        low = text.str.lower()
        ok = low.isin(_TRUE | _FALSE) | empty
        for i in text.index[~ok]:
            bad(i, "not_bool")
        return low.isin(_TRUE)  # missing handled by defaults
    if t == "int":
        values, problems = _parse_ints(text[~empty])
        for i, code in problems.items():
            bad(i, code)
        return values.reindex(text.index)
    if t == "float":
        num = pd.to_numeric(text.where(~empty), errors="coerce").astype("float64")
        for i in text.index[num.isna() & ~empty]:
            bad(i, "not_number")
        inf = num.notna() & ~np.isfinite(num)
        for i in text.index[inf]:
            bad(i, "not_finite")
        return num.where(~inf)
    if t in ("date", "datetime"):
        out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
        iso = text.str.fullmatch(_ISO_DATE)
        for i in text.index[~empty]:
            ts = _iso_timestamp(text[i]) if iso[i] else None
            if ts is None:
                bad(i, "not_date" if t == "date" else "not_datetime")
            else:
                out[i] = ts
        return out
    raise AssertionError(t)  # pragma: no cover


def wkt_checks(df: pd.DataFrame, col: str, label: str, report: Report) -> None:
    from shapely import wkt
    from shapely.errors import ShapelyError

    for i, s in df[col].items():
        if not s:
            continue
        try:
            g = wkt.loads(s)
        except (ShapelyError, ValueError, TypeError):
            report.problem(label, row_line(i), col, "wkt_invalid", s)
            continue
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            report.problem(label, row_line(i), col, "wkt_not_polygon", s[:60], geom_type=g.geom_type)
        elif not g.is_valid:
            report.problem(label, row_line(i), col, "polygon_invalid", s[:60])
        elif g.bounds[0] < -180 or g.bounds[2] > 180 or g.bounds[1] < -90 or g.bounds[3] > 90:
            report.problem(label, row_line(i), col, "polygon_degrees", s[:60])


# --------------------------------------------------------------------------- pandera


def pandera_schema(table: str) -> pa.DataFrameSchema:
    """The pandera schema of one typed table, built from the schema tables."""
    spec = schema.tables()[table]
    columns = {}
    for c in spec.columns:
        checks = []
        if c.bounds is not None:
            b = c.bounds
            if b.low is not None:
                checks.append(pa.Check.gt(b.low) if b.low_open else pa.Check.ge(b.low))
            if b.high is not None:
                checks.append(pa.Check.le(b.high))
        if c.choices and c.type == "enum":
            checks.append(pa.Check.isin(list(c.choices), ignore_na=True))
        if c.choices and c.type == "enum_list":
            allowed = frozenset(c.choices)
            checks.append(
                pa.Check(
                    lambda v, allowed=allowed: all(x in allowed for x in v),
                    element_wise=True,
                    name=f"each in {sorted(allowed)}",
                )
            )
        columns[c.name] = pa.Column(
            checks=checks,
            nullable=True,
            required=False,
            unique=c.name == spec.key,
        )
    return pa.DataFrameSchema(columns, strict=False, coerce=False)


def _describe_check(col: schema.ColumnSpec, check: str) -> tuple[str, dict[str, str]]:
    """The problem code and parameters of a failed pandera check."""
    if check == "field_uniqueness":
        return "duplicate_key", {"column": col.name}
    if check.startswith(("greater_than", "less_than")) and col.bounds:
        return "out_of_bounds", {"bounds": col.bounds.describe()}
    if check.startswith("isin") or check.startswith("each in"):
        return "not_in_choices", {"choices": ", ".join(col.choices)}
    return "check_failed", {"check": check}


def pandera_checks(table: str, df: pd.DataFrame, label: str, report: Report) -> None:
    spec = schema.tables()[table]
    # empty strings are "not given": do not check them against choices
    check_df = df.copy()
    for c in spec.columns:
        if c.name in check_df and c.type == "enum":
            check_df[c.name] = check_df[c.name].where(check_df[c.name] != "", None)
        if c.name == spec.key and c.name in check_df:
            check_df[c.name] = check_df[c.name].where(check_df[c.name] != "", None)
    try:
        pandera_schema(table).validate(check_df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        for rec in fc.itertuples(index=False):
            if rec.column not in spec.column_names or rec.index is None or pd.isna(rec.index):
                continue
            col = spec.column(rec.column)
            val = df.at[rec.index, rec.column]
            if isinstance(val, tuple):
                val = ";".join(val)
            elif isinstance(val, float) and val.is_integer():
                val = int(val)
            code, params = _describe_check(col, str(rec.check))
            report.problem(label, row_line(rec.index), rec.column, code, report.text(table, rec.index, rec.column, val), **params)


# --------------------------------------------------------------------------- parse


def _defaults(table: str, df: pd.DataFrame, present: set[str]) -> pd.DataFrame:
    """Apply the documented defaults and the typed dtypes to one table."""
    spec = schema.tables()[table]
    out = df.copy()
    for c in spec.columns:
        if c.name not in out:
            if c.type in ("list", "enum_list"):
                out[c.name] = [() for _ in range(len(out))]
            elif c.type in ("date", "datetime"):
                out[c.name] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
            elif c.type in ("int", "float"):
                out[c.name] = pd.Series(np.nan, index=out.index, dtype="float64")
            elif c.type == "bool":
                out[c.name] = pd.Series(pd.NA, index=out.index, dtype="object")
            else:
                out[c.name] = pd.Series("", index=out.index, dtype=str)
    raw_empty = {c.name: (df[c.name] == "") if c.name in present and df[c.name].dtype != bool else None
                 for c in spec.columns}
    for c in spec.columns:
        lit = c.literal_default
        if lit is None:
            continue
        s = out[c.name]
        if c.type in ("str", "enum", "id"):
            out[c.name] = s.where(s != "", lit)
        elif c.type in ("int", "float"):
            out[c.name] = s.fillna(float(lit) if c.type == "float" else int(lit))
        elif c.type == "bool":
            empty = raw_empty[c.name]
            val = lit in _TRUE
            if empty is None:
                out[c.name] = val
            else:
                out[c.name] = s.where(~empty, val)
    # computed defaults
    if table == "sites":
        kind_tier = out["kind"].map(schema.DEFAULT_TIER).fillna(4)
        out["tier"] = out["tier"].fillna(kind_tier)
        clin = out["kind"].isin(schema.CLINICAL_KINDS)
        empty = raw_empty["clinical"]
        out["clinical"] = clin if empty is None else out["clinical"].where(~empty, clin)
    if table == "stock":
        dflt = np.where(out["donation_id"] != "", "donation", "reserve")
        out["source"] = out["source"].where(out["source"] != "", pd.Series(dflt, index=out.index))
    # dtypes
    for c in spec.columns:
        s = out[c.name]
        if c.type == "int":
            if c.required or c.default:
                out[c.name] = s.fillna(0).astype("int64") if s.notna().all() else s.astype("Int64")
            else:
                out[c.name] = s.astype("Int64")
        elif c.type == "float":
            out[c.name] = s.astype("float64")
        elif c.type == "bool":
            out[c.name] = s.fillna(False).astype(bool)
        elif c.type in ("id", "str", "enum", "wkt"):
            out[c.name] = s.astype(str)
    return out


def parse(raw: RawScenario) -> tuple[Scenario, Report]:
    """Check a raw scenario and build the typed :class:`Scenario`.

    Returns the scenario (usable only when the report has no errors) and the
    report of every problem found.
    """
    report = Report()
    report.extend(raw.problems)
    report.unreadable = set(raw.unreadable)
    specs = schema.tables()
    typed: dict[str, pd.DataFrame] = {}

    for name, spec in specs.items():
        label = raw.labels.get(name, spec.filename)
        if name not in raw.tables:
            if spec.required and name not in raw.unreadable:
                report.problem(label, None, None, "file_missing")
            continue
        df = raw.tables[name]
        present = {c for c in df.columns if c in spec.column_names}
        for c in spec.columns:
            if c.required and c.name not in df.columns:
                report.problem(label, 1, c.name, "column_missing")
        dup_cols = [c for c in df.columns if list(df.columns).count(c) > 1]
        for dc in sorted(set(dup_cols)):
            report.problem(label, 1, dc, "column_duplicate")
        if dup_cols:
            df = df.loc[:, ~df.columns.duplicated()]
        report.texts[name] = df
        # drop fully empty rows (trailing lines of spreadsheets)
        keep = ~(df.astype(str).apply(lambda s: s.str.strip() == "").all(axis=1)) if len(df.columns) else []
        df = df[keep] if len(df.columns) else df
        conv = pd.DataFrame(index=df.index)
        for c in spec.columns:
            if c.name in df.columns:
                conv[c.name] = _convert(df[c.name], c, label, report)
        extra = [str(c) for c in df.columns if c not in spec.column_names]
        for e in extra:
            conv[e] = df[e].astype(str)
        pandera_checks(name, conv, label, report)
        for c in spec.columns:
            if c.type == "wkt" and c.name in conv:
                wkt_checks(conv, c.name, label, report)
        typed[name] = _defaults(name, conv, present)
        # keep the documented column order, then extras
        typed[name] = typed[name][[*spec.column_names, *extra]]

    meta = dict(raw.meta)
    if raw.meta_error:
        report.problem(raw.meta_label, raw.meta_line, None, "toml_unparsable", error=raw.meta_error)
    as_of = None
    if meta.get("as_of") not in (None, ""):
        text = str(meta["as_of"]).strip()
        as_of = _iso_timestamp(text) if re.fullmatch(_ISO_DATE, text) else None
        if as_of is None:
            report.problem(raw.meta_label, None, "as_of", "not_datetime", meta["as_of"])
    sc = Scenario(
        tables=typed,
        name=str(meta.pop("name", "scenario")),
        description=str(meta.pop("description", "")),
        as_of=as_of,
        meta={k: v for k, v in meta.items() if k != "as_of"},
    )
    for check in CHECKS:
        check(sc, raw.labels, report)
    sc.warnings = [str(p) for p in report.warnings]
    if not report.errors:
        remember_valid(sc)
    return sc, report


# --------------------------------------------------------------------------- checked contents


def content_key(sc: Scenario) -> str | None:
    """A digest of everything the checks read: each table's name, columns, dtypes, index and values, and ``as_of``.

    Two scenarios with the same key have equal tables (up to a collision of a
    160-bit hash), so they get the same errors. Computed from the contents, never
    from object identity: a table edited in place, or replaced, gives another key.
    Numeric and date columns are hashed as their bytes, text columns as codes and
    distinct values, object columns (lists of ids) through ``repr`` of every cell,
    so ``1``, ``1.0``, ``True`` and ``"1"`` differ. None when a table is not a
    DataFrame (such a scenario is always checked).

    Examples
    --------
    >>> from allocator import examples
    >>> sc = examples.two_hospitals()
    >>> content_key(sc) == content_key(examples.two_hospitals())
    True
    >>> sc.stock.loc[0, "quantity"] += 1
    >>> content_key(sc) == content_key(examples.two_hospitals())
    False
    """
    h = hashlib.blake2b(digest_size=20)
    h.update(repr(sc.as_of).encode())
    for name in sorted(sc.tables):
        df = sc.tables[name]
        if not isinstance(df, pd.DataFrame):
            return None
        head = repr((name, df.shape, type(df.index).__name__, df.index.dtype, list(df.columns), list(df.dtypes)))
        for part in (head.encode(), _column_bytes(df.index), *(_column_bytes(col) for _, col in df.items())):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
    return h.hexdigest()


def _column_bytes(values: pd.Series | pd.Index) -> bytes:
    """The exact contents of one column or index as bytes (its dtype is hashed with the table's header)."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        arr = np.asarray(values)
        # object (lists of ids): repr of every cell; other numpy dtypes: the bytes themselves
        return repr(arr.tolist()).encode() if dtype.kind == "O" else np.ascontiguousarray(arr).tobytes()
    codes, uniques = values.array.factorize()  # extension arrays (text, Int64): codes, -1 for missing
    return np.asarray(codes, dtype=np.int64).tobytes() + repr(list(uniques)).encode()


#: Content keys (:func:`content_key`) of scenarios checked without errors, most recent last.
_VALID: OrderedDict[str, None] = OrderedDict()
_VALID_LOCK = threading.Lock()
#: How many checked scenarios :data:`_VALID` remembers.
VALID_KEYS_KEPT = 64


def remember_valid(sc: Scenario, key: str | None = None) -> None:
    """Record that ``sc``'s contents were checked without errors (:func:`known_valid` then says so)."""
    key = content_key(sc) if key is None else key
    if key is None:
        return
    with _VALID_LOCK:
        _VALID[key] = None
        _VALID.move_to_end(key)
        while len(_VALID) > VALID_KEYS_KEPT:
            _VALID.popitem(last=False)


def known_valid(key: str | None) -> bool:
    """Whether a scenario with content key ``key`` was checked without errors (by :func:`parse` or a round)."""
    if key is None:
        return False
    with _VALID_LOCK:
        return key in _VALID


# --------------------------------------------------------------------------- cross-table checks

Check = Callable[[Scenario, dict[str, str], Report], None]


def _ids(sc: Scenario, table: str, col: str) -> set[str]:
    return set(sc.tables[table][col]) - {""} if sc.has(table) else set()


def check_unique_site_depot_ids(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """Site ids and depot ids are unique across both tables."""
    if not (sc.has("sites") and sc.has("depots")):
        return
    both = _ids(sc, "sites", "site_id") & _ids(sc, "depots", "depot_id")
    for i, d in sc.depots.depot_id.items():
        if d in both:
            report.problem(labels["depots"], row_line(i), "depot_id", "id_is_site", d)


def _ref(
    sc: Scenario,
    labels: dict[str, str],
    report: Report,
    table: str,
    col: str,
    target: str,
    target_col: str,
    *,
    optional: bool = False,
) -> None:
    if not sc.has(table) or col not in sc.tables[table]:
        return
    if target in report.unreadable:  # its file is reported as unreadable: nothing to compare with
        return
    known = _ids(sc, target, target_col)
    if not sc.has(target) and optional:
        for i, v in sc.tables[table][col].items():
            vals = v if isinstance(v, tuple) else (v,)
            if any(vals):
                report.problem(labels[table], row_line(i), col, "refers_absent", ";".join(vals), target=target)
                break
        return
    values = sc.tables[table][col]
    if len(values) and not isinstance(values.iloc[0], tuple):
        bad = ~values.isin(known) & (values != "")
        for i in values.index[bad]:
            report.problem(labels[table], row_line(i), col, "unknown_ref", values[i], column=target_col)
        return
    for i, v in values.items():
        for x in v:
            if x and x not in known:
                report.problem(labels[table], row_line(i), col, "unknown_ref", x, column=target_col)


def check_references(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """Every id that refers to another table exists there."""
    for c in (c for t in schema.tables().values() for c in t.columns if c.references):
        target, target_col = c.references.split(".")
        _ref(sc, labels, report, c.table, c.name, target, target_col,
             optional=not schema.tables()[target].required)


def check_needs(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """A (site, item) pair appears at most once; warn when needs.csv is absent."""
    if "needs" in report.unreadable:
        return
    if not sc.has("needs"):
        report.warning(labels["needs"], None, None, "needs_absent")
        return
    dup = sc.needs.duplicated(["site_id", "item_id"], keep="first")
    for i in sc.needs.index[dup]:
        report.problem(labels["needs"], row_line(i), "item_id", "duplicate_pair",
                       f"{str(sc.needs.at[i, 'site_id'])}, {str(sc.needs.at[i, 'item_id'])}", first="site_id", second="item_id")


def check_substitutes(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """No item substitutes itself; a pair appears once."""
    if not sc.has("substitutes"):
        return
    s = sc.substitutes
    for i in s.index[(s.item_id == s.substitute_id) & (s.item_id != "")]:
        report.problem(labels["substitutes"], row_line(i), "substitute_id", "self_substitute", s.at[i, "substitute_id"])
    for i in s.index[s.duplicated(["item_id", "substitute_id"])]:
        report.problem(labels["substitutes"], row_line(i), "substitute_id", "duplicate_pair", s.at[i, "substitute_id"],
                       first="item_id", second="substitute_id")


def check_locks(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """A (depot_id, site_id, item_id) triple appears at most once in locks.csv (two locks are an error, not a sum)."""
    if not sc.has("locks"):
        return
    lk = sc.locks
    for i in lk.index[lk.duplicated(["depot_id", "site_id", "item_id"], keep="first")]:
        report.add(labels["locks"], row_line(i), "item_id", "duplicate (depot_id, site_id, item_id) triple",
                   f"{str(lk.at[i, 'depot_id'])}, {str(lk.at[i, 'site_id'])}, {str(lk.at[i, 'item_id'])}")


def check_roads(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """Roads need nodes; no self-loops."""
    if sc.has("roads") and not sc.has("road_nodes") and "road_nodes" not in report.unreadable:
        report.problem(labels["road_nodes"], None, None, "requires_file", other="roads.csv")
    if sc.has("road_nodes") and not sc.has("roads") and "roads" not in report.unreadable:
        report.problem(labels["roads"], None, None, "requires_file", other="road_nodes.csv")
    if sc.has("roads"):
        r = sc.roads
        for i in r.index[(r.u == r.v) & (r.u != "")]:
            report.problem(labels["roads"], row_line(i), "v", "self_loop", r.at[i, "v"])


def check_traffic_control(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """Each rule says where it applies; windows are ordered; named roads exist."""
    if not sc.has("traffic_control"):
        return
    tc, lab = sc.traffic_control, labels["traffic_control"]
    for i, r in tc.iterrows():
        row = row_line(i)
        has_edge = bool(r.u) or bool(r.v)
        if has_edge and not (r.u and r.v):
            report.problem(lab, row, "v" if r.u else "u", "edge_pair", r.v or r.u)
        if r.kind == "restricted_zone":
            if not r.area_wkt:
                report.problem(lab, row, "area_wkt", "zone_needs_area", "")
            if not r.permits:
                report.warning(lab, row, "permits", "zone_no_permits")
        elif r.kind in ("closure", "checkpoint"):
            if not r.road and not has_edge:
                report.problem(lab, row, "road", "rule_needs_road", "", kind=r.kind)
            if r.area_wkt:
                report.warning(lab, row, "area_wkt", "area_ignored", r.area_wkt[:40], kind=r.kind)
        if pd.notna(r.start) and pd.notna(r.end) and r.end <= r.start:
            report.problem(lab, row, "end", "end_before_start", report.text("traffic_control", i, "end", r.end))


def check_traffic_control_targets(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """A closure or checkpoint must name a road that exists, or an edge that exists.

    A rule whose ``road`` matches no road's ``name`` or ``name_zh``, or whose
    ``u, v`` name no road between them (either direction), would silently change
    nothing: trucks would cross the bridge the officer meant to close. Each is
    an error naming the rule (file, row, column and the cell's text).
    """
    if not sc.has("traffic_control"):
        return
    tc, lab = sc.traffic_control, labels["traffic_control"]
    roads = sc.roads if sc.has("roads") else None
    names: set[str] = set()
    edges: set[frozenset] = set()
    if roads is not None:
        for col in ("name", "name_zh"):
            if col in roads:
                names |= {str(x) for x in roads[col].fillna("") if str(x)}
        edges = {frozenset((str(a), str(b))) for a, b in zip(roads.u, roads.v)}
    for n, (_, r) in enumerate(tc.reset_index(drop=True).iterrows()):
        if r.kind not in ("closure", "checkpoint"):
            continue
        row = n + 2
        road, u, v = (str(r.get(k, "") or "") for k in ("road", "u", "v"))
        if road and road not in names:
            report.problem(lab, row, "road", "rule_unknown_road", road, rule_id=r.rule_id, road=road)
        if u and v and frozenset((u, v)) not in edges:
            report.problem(lab, row, "u", "rule_unknown_edge", f"{u}, {v}", rule_id=r.rule_id, u=u, v=v)


def check_vehicles(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """Availability windows are ordered."""
    if not sc.has("vehicles"):
        return
    v = sc.vehicles
    bad = v.available_from.notna() & v.available_to.notna() & (v.available_to <= v.available_from)
    for i in v.index[bad]:
        report.problem(labels["vehicles"], row_line(i), "available_to", "available_to_order",
                       report.text("vehicles", i, "available_to", v.at[i, "available_to"]))


def check_lots(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """Warn about lots that will not be allocated (expired, quarantined, rejected)."""
    if not sc.has("stock"):
        return
    s, lab, at = sc.stock, labels["stock"], sc.at
    expired = pd.Series(rules.lot_expired(s.expires, at), index=s.index)
    held = ~expired & rules.lot_held(s.status)
    for i in s.index[expired | held]:
        lot, status = s.at[i, "lot_id"], s.at[i, "status"]
        if expired[i]:
            report.warning(lab, row_line(i), "expires", "lot_expired", report.text("stock", i, "expires", cast(pd.Timestamp, s.at[i, "expires"]).date()),
                           lot=lot, at=f"{at:%Y-%m-%d %H:%M}")
        else:
            report.warning(lab, row_line(i), "status", "lot_held", status, lot=lot, status=status)


def usable_lots(sc: Scenario) -> pd.DataFrame:
    """Lots that may be allocated at ``as_of`` (:func:`allocator.rules.lot_usable`: available, not expired, quantity > 0)."""
    s = sc.stock
    return s[rules.lot_usable(s.status, s.quantity, s.expires, sc.at)]


def check_unstocked_needs(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """Warn about needs for an item that no usable lot (nor a substitute) provides (once per item)."""
    if not (sc.has("needs") and sc.has("stock") and sc.has("items")):
        return
    stocked = set(usable_lots(sc).item_id)
    cov = rules.coverage(dict.fromkeys([*sc.items.item_id, *sorted(stocked)]), sc.substitutes)
    covered = set(cov.need_item_id[cov.item_id.isin(stocked)])
    n = sc.needs
    bad = (n.quantity > 0) & ~n.item_id.isin(covered)
    first = n[bad].drop_duplicates("item_id")
    for i, item in zip(first.index, first.item_id):
        report.warning(labels["needs"], row_line(i), "item_id", "need_unstocked", item)


def check_snapping(sc: Scenario, labels: dict[str, str], report: Report) -> None:
    """Warn about sites and depots more than 5 km from every road node."""
    if not sc.has("road_nodes") or sc.road_nodes.empty:
        return
    from scipy.spatial import cKDTree

    n = sc.road_nodes.dropna(subset=["lat", "lon"])
    tree = cKDTree(unit_vectors(n.lat.to_numpy(float), n.lon.to_numpy(float)))
    for table, key in (("sites", "site_id"), ("depots", "depot_id")):
        if not sc.has(table):
            continue
        t = sc.tables[table].dropna(subset=["lat", "lon"])
        if t.empty:
            continue
        chord, _ = tree.query(unit_vectors(t.lat.to_numpy(float), t.lon.to_numpy(float)))
        km = chord_to_km(chord)
        for (i, r), d in zip(t.iterrows(), km):
            if d > SNAP_WARN_KM and not r.node_id:
                report.warning(labels[table], row_line(i), "lat", "far_from_road", f"{r.lat}, {r.lon}", id=r[key], km=f"{d:.1f}")


CHECKS: list[Check] = [
    check_unique_site_depot_ids,
    check_references,
    check_needs,
    check_substitutes,
    check_locks,
    check_roads,
    check_traffic_control,
    check_traffic_control_targets,
    check_vehicles,
    check_lots,
    check_unstocked_needs,
    check_snapping,
]
