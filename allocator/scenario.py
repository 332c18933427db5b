"""Scenario: the tables of one allocation round, read from and written to files.

A scenario is a folder of CSV files or one ``.xlsx`` workbook (see
``docs/scenario-format.md``). :func:`load` reads one, checks every problem at
once and returns a :class:`Scenario` whose tables carry the documented dtypes
with defaults applied; :func:`save` writes it back losslessly.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from allocator import schema
from allocator.cells import escape_formula, unescape_formula
from allocator.errors import ArgumentTypeError, ScenarioError, ScenarioFormatError
from allocator.fsutil import atomic_folder
from allocator.parse import parse
from allocator.report import Problem, Report
from allocator.tables import RawScenario, Scenario

TOML_NAME = "scenario.toml"


# --------------------------------------------------------------------------- reading


def read_raw(path: str | Path) -> RawScenario:
    """Read a folder of CSV files or an ``.xlsx`` workbook without checking anything.

    Raises
    ------
    ScenarioFormatError
        When the path is neither a folder nor an ``.xlsx`` file.
    """
    if not isinstance(path, str | os.PathLike):
        raise ArgumentTypeError(f"a scenario path is a str or Path, not {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        return _read_folder(p)
    if p.suffix.lower() == ".xlsx" and p.is_file():
        return _read_workbook(p)
    if not p.exists():
        raise ScenarioFormatError(f"{p}: no such folder or file")
    raise ScenarioFormatError(f"{p}: a scenario is a folder of CSV files or one .xlsx workbook")


#: More problems than this in one file are summarised in one line.
MAX_READ_PROBLEMS = 50


def _problem(label: str, line: int | None, code: str, value: Any = None, /, severity: str = "error",
             **params: Any) -> Problem:
    r = Report()
    r.problem(label, line, None, code, value, severity=severity, **params)
    return r.problems[0]


def decode_text(data: bytes, label: str) -> tuple[str | None, Problem | None]:
    """Decode a text file's bytes as UTF-8 (with or without a BOM), or say precisely what it is.

    The product reads UTF-8 only, so that a file means the same on every
    machine; a file in another encoding is a problem naming what was found:
    UTF-16 (Excel's "Unicode Text", with a BOM or NUL bytes), GBK/GB18030
    (Excel's CSV under a Chinese locale: the bytes decode as GBK), or otherwise
    the first byte that is not UTF-8, with its line.

    Examples
    --------
    >>> decode_text("名称".encode("utf-8-sig"), "sites.csv")
    ('名称', None)
    >>> text, problem = decode_text("名称".encode("gbk"), "sites.csv")
    >>> print(problem)
    sites.csv:1: not UTF-8; it looks like GBK (Excel's CSV under a Chinese locale): save it as CSV UTF-8
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        len(data) >= 4 and data.count(b"\x00") * 3 >= len(data)
    ):
        return None, _problem(label, None, "utf16")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        try:
            data.decode("gb18030")  # GBK and its superset GB18030
            looks_gbk = True
        except UnicodeDecodeError:
            looks_gbk = False
        if looks_gbk:
            return None, _problem(label, line, "not_utf8_gbk")
        return None, _problem(label, line, "not_utf8", byte=f"{data[exc.start]:02X}")


def read_csv_text(text: str, label: str, *, fast: bool = True) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Parse CSV text into a frame of strings (index = line - 2), collecting every problem.

    Uses the :mod:`csv` module, so a repeated column name stays repeated (the
    validator reports it) instead of being renamed ``quantity.1``. A quoted
    field that is never closed, a record with more fields than the header and
    a header without names are problems with their line; records with fewer
    fields are padded with empty cells (spreadsheets drop trailing empty cells).
    Cells and column names are passed through :func:`allocator.cells.unescape_formula`.

    A file without any quote character is parsed by pandas' C parser (the same
    result, faster; ``fast=False`` forces the csv-module path, which the tests
    compare it with).
    """
    problems: list[Problem] = []
    if not text.strip():
        return None, [_problem(label, None, "file_empty")]
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return None, [_problem(label, line, "csv_error", error="the file contains a NUL byte (is it a CSV file?)")]
    plain = _read_plain_csv(text, label) if fast else None
    if plain is not None:
        return plain, []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    index: list[int] = []
    bad_lines = 0
    while True:
        start = reader.line_num + 1
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            bad_lines += 1
            if "unexpected end of data" in str(exc):
                problems.append(_problem(label, start, "unclosed_quote"))
                break
            if bad_lines <= MAX_READ_PROBLEMS:
                problems.append(_problem(label, start, "csv_error", error=str(exc)))
            continue
        if not rec or (len(rec) == 1 and not rec[0].strip() and header is not None):
            continue
        if header is None:
            header = [unescape_formula(c.strip()) for c in rec]
            continue
        width = len(header)
        if len(rec) > width:
            if any(x.strip() for x in rec[width:]):
                bad_lines += 1
                if bad_lines <= MAX_READ_PROBLEMS:
                    problems.append(_problem(label, start, "ragged_row", fields=len(rec), columns=width))
            rec = rec[:width]
        elif len(rec) < width:
            rec = rec + [""] * (width - len(rec))
        rows.append([unescape_formula(x) for x in rec])
        index.append(start - 2)
    if bad_lines > MAX_READ_PROBLEMS:
        problems.append(_problem(label, None, "csv_error",
                                 error=f"{bad_lines - MAX_READ_PROBLEMS} more lines cannot be read"))
    if header is None:
        return None, [*problems, _problem(label, None, "file_empty")]
    return _frame(header, rows, index, label, problems), problems


def _read_plain_csv(text: str, label: str) -> pd.DataFrame | None:
    """The fast path of :func:`read_csv_text` for the common file: no quotes at all, no ragged row.

    Without a quote character every record is one physical line, so pandas' C
    parser (``header=None``, so repeated names are not renamed; blank lines kept,
    so row numbers stay line numbers) gives exactly what the csv-module path
    gives, several times faster. Anything else (a quote, a ragged row, a blank
    first line) returns None and takes the careful path, which names each problem.
    """
    first = text.split("\n", 1)[0]
    if '"' in text or not first.strip():
        return None
    try:
        df = pd.read_csv(io.StringIO(text), header=None, dtype=str, keep_default_na=False, na_filter=False,
                         skip_blank_lines=False, quoting=csv.QUOTE_NONE, engine="c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    header = [unescape_formula(str(c).strip()) for c in df.iloc[0].fillna("")]
    body = df.iloc[1:].fillna("")
    body.index = pd.RangeIndex(0, len(body))  # line = index + 2
    for c in body.columns:
        col = body[c]
        if col.str.startswith("'").any():
            body[c] = col.map(unescape_formula)
    problems: list[Problem] = []
    out = _frame(header, [], [], label, problems, body=body)
    return out if not problems else None


def _frame(header: list[str], rows: list[list[str]], index: list[int], label: str,
           problems: list[Problem], body: pd.DataFrame | None = None) -> pd.DataFrame:
    """A frame of strings from a header and records; unnamed columns dropped (warned when not empty)."""
    if body is not None:
        df = body
        df.columns = pd.RangeIndex(len(header))
    elif rows:
        df = pd.DataFrame(rows, columns=range(len(header)), index=pd.Index(index, dtype="int64"), dtype=object)
    else:
        df = pd.DataFrame({i: pd.Series([], dtype=object) for i in range(len(header))})
    keep = []
    for pos, name in enumerate(header):
        if name:
            keep.append(pos)
        elif (df[pos].astype(str).str.strip() != "").any():
            problems.append(_problem(label, 1, "unnamed_column", severity="warning", position=pos + 1))
    df = df[keep]
    df.columns = [header[i] for i in keep]
    return df.astype(str) if len(df.columns) else df


def _read_csv(path: Path, label: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [_problem(label, None, "file_unreadable", error=exc.strerror or str(exc))]
    text, problem = decode_text(data, label)
    if problem is not None:
        return None, [problem]
    assert text is not None
    return read_csv_text(text, label)


_TOML_LINE = re.compile(r"at line (\d+)")


def read_toml(path: Path, label: str = TOML_NAME) -> tuple[dict[str, Any], str | None, int | None]:
    """``scenario.toml`` as a dict (a UTF-8 BOM allowed, like CSV files): (meta, error, line)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return {}, exc.strerror or str(exc), None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {}, "the file is not UTF-8: save it as UTF-8", data.count(b"\n", 0, exc.start) + 1
    try:
        return tomllib.loads(text), None, None
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_LINE.search(str(exc))
        return {}, str(exc), int(m.group(1)) if m else None


def _read_folder(p: Path) -> RawScenario:
    tables, labels = {}, {}
    problems: list[Problem] = []
    unreadable: set[str] = set()
    for name in schema.tables():
        f = p / f"{name}.csv"
        labels[name] = f.name
        if f.is_file():
            df, probs = _read_csv(f, f.name)
            problems.extend(probs)
            if df is None:
                unreadable.add(name)
            else:
                tables[name] = df
    meta: dict[str, Any] = {}
    err, line = None, None
    toml = p / TOML_NAME
    if toml.is_file():
        meta, err, line = read_toml(toml)
    return RawScenario(tables=tables, labels=labels, meta=meta, meta_error=err, source=str(p),
                       problems=problems, unreadable=unreadable, meta_line=line)


def _cell_text(v: Any) -> str:
    """The text of a workbook cell: numbers exactly as stored, dates in ISO 8601, text unescaped."""
    import datetime as dt

    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 2**63:
            return str(int(v))
        return repr(v)
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat()
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    return str(unescape_formula(str(v)))


def _read_sheet(ws: Any, label: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    problems: list[Problem] = []
    header: list[str] | None = None
    rows: list[list[str]] = []
    index: list[int] = []
    bad = 0
    for rownum, values in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = [_cell_text(v) for v in values]
        if header is None:
            while cells and not cells[-1].strip():
                cells.pop()
            if not cells:
                continue
            header = [c.strip() for c in cells]
            continue
        width = len(header)
        if len(cells) > width:
            if any(c.strip() for c in cells[width:]):
                bad += 1
                if bad <= MAX_READ_PROBLEMS:
                    n = max(i for i, c in enumerate(cells) if c.strip()) + 1
                    problems.append(_problem(label, rownum, "ragged_row", fields=n, columns=width))
            cells = cells[:width]
        elif len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        rows.append(cells)
        index.append(rownum - 2)
    if header is None:
        return None, [_problem(label, None, "file_empty")]
    return _frame(header, rows, index, label, problems), problems


def _read_workbook(p: Path) -> RawScenario:
    from allocator.workbook import strip_names

    labels = {name: f"{p.name}[{name}]" for name in schema.tables()}
    try:
        import openpyxl

        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # a corrupt workbook raises anything from zipfile, xml or openpyxl
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return RawScenario(tables={}, labels=labels, source=str(p), unreadable=set(schema.tables()),
                           problems=[_problem(p.name, None, "xlsx_unreadable", error=msg)],
                           meta_label=f"{p.name}[scenario]")
    tables: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    unreadable: set[str] = set()
    meta: dict[str, Any] = {}
    try:
        for name in schema.tables():
            if name not in wb.sheetnames:
                continue
            try:
                df, probs = _read_sheet(wb[name], labels[name])
            except Exception as exc:  # a damaged sheet part
                df, probs = None, [_problem(labels[name], None, "xlsx_unreadable",
                                            error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)]
            problems.extend(probs)
            if df is None:
                unreadable.add(name)
            else:
                tables[name] = strip_names(name, df)
        if "scenario" in wb.sheetnames:
            try:
                sh, _ = _read_sheet(wb["scenario"], f"{p.name}[scenario]")
            except Exception:
                sh = None
            if sh is not None and {"key", "value"} <= set(sh.columns):
                meta = {str(k): str(v) for k, v in zip(sh["key"], sh["value"]) if str(k)}
    finally:
        with contextlib.suppress(Exception):  # closing a damaged archive may fail again
            wb.close()
    return RawScenario(tables=tables, labels=labels, meta=meta, source=str(p), problems=problems,
                       unreadable=unreadable, meta_label=f"{p.name}[scenario]")


def load(path: str | Path, *, as_of: str | pd.Timestamp | None = None) -> Scenario:
    """Load and check a scenario.

    Parameters
    ----------
    path : str or Path
        A folder of CSV files or an ``.xlsx`` workbook.
    as_of : str or Timestamp, optional
        Overrides ``as_of`` of ``scenario.toml``.

    Returns
    -------
    Scenario
        With warnings in ``Scenario.warnings``.

    Raises
    ------
    ScenarioError
        When any error is found; its ``report`` lists every problem.
    ScenarioFormatError
        When the path cannot be read as a scenario at all.

    Examples
    --------
    >>> sc = load("data/scenarios/wuhan-2020-02-10")  # doctest: +SKIP
    """
    raw = read_raw(path)
    if as_of is not None:
        raw.meta = {**raw.meta, "as_of": str(as_of)}
    scenario, report = parse(raw)
    if report.errors:
        raise ScenarioError(report)
    return scenario


def from_tables(
    tables: Mapping[str, pd.DataFrame],
    *,
    name: str = "scenario",
    description: str = "",
    as_of: str | pd.Timestamp | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Scenario:
    """Build a checked scenario from DataFrames (any dtypes; missing optional columns allowed).

    Raises
    ------
    ScenarioError
        When the tables break the contract.
    """
    raw = to_raw(tables, name=name, description=description, as_of=as_of, meta=meta)
    scenario, report = parse(raw)
    if report.errors:
        raise ScenarioError(report)
    return scenario


# --------------------------------------------------------------------------- writing


def _fmt(value: Any, ctype: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list):
        return ";".join(str(v) for v in value)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if ctype in ("date", "datetime") or isinstance(value, pd.Timestamp):
        ts = pd.Timestamp(value)
        if ctype == "date" and ts == ts.normalize():
            return ts.strftime("%Y-%m-%d")
        return ts.isoformat()
    if isinstance(value, bool) or ctype == "bool":
        return "true" if bool(value) else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _fmt_column(s: pd.Series, ctype: str) -> list[str]:
    """Format a whole column as text; fast paths for the common typed columns."""
    if isinstance(s.dtype, pd.StringDtype) and s.notna().all():
        return s.astype(str).tolist()
    if pd.api.types.is_integer_dtype(s.dtype) and s.dtype != bool and s.notna().all():
        return s.astype("int64").astype(str).tolist()
    if pd.api.types.is_datetime64_any_dtype(s.dtype) and ctype in ("date", "datetime"):
        return [_fmt(v, ctype) for v in s.tolist()] if len(s) < 1000 else _fmt_dates(s, ctype)
    return [_fmt(v, ctype) for v in s.tolist()]


def _fmt_dates(s: pd.Series, ctype: str) -> list[str]:
    full = s.dt.strftime("%Y-%m-%dT%H:%M:%S")
    if ctype == "date":
        day = s.dt.strftime("%Y-%m-%d")
        full = full.where(s != s.dt.normalize(), day)
    micro = s.notna() & (s.dt.microsecond != 0)
    if micro.any():
        full = full.where(~micro, s.map(lambda t: _fmt(t, ctype)))
    return full.fillna("").tolist()


def to_raw(
    tables: Mapping[str, pd.DataFrame],
    *,
    name: str = "scenario",
    description: str = "",
    as_of: str | pd.Timestamp | None = None,
    meta: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
) -> RawScenario:
    """Format typed tables as text, exactly as :func:`save` writes them."""
    specs = schema.tables()
    out = {}
    for tname, df in tables.items():
        spec = specs[tname]
        cols = {}
        for col in df.columns:
            ctype = spec.column(col).type if col in spec.column_names else "str"
            cols[str(col)] = _fmt_column(df[col], ctype)
        out[tname] = pd.DataFrame(cols, dtype=object).astype(str) if cols else pd.DataFrame()
        if not cols:
            out[tname] = pd.DataFrame(index=range(len(df)))
    m: dict[str, Any] = dict(meta or {})
    m["name"] = name
    if description:
        m["description"] = description
    if as_of is not None:
        m["as_of"] = _fmt(pd.Timestamp(as_of), "datetime")
    lab = {t: f"{t}.csv" for t in specs}
    lab.update(labels or {})
    return RawScenario(tables=out, labels=lab, meta=m, source="<tables>")


def raw_of(scenario: Scenario) -> RawScenario:
    """A typed scenario formatted back as text (what :func:`save` writes and the validator re-parses)."""
    return to_raw(
        scenario.tables,
        name=scenario.name,
        description=scenario.description,
        as_of=scenario.as_of,
        meta=scenario.meta,
    )


#: Column types whose cells are text (and so escaped against formulas when written).
_TEXT_TYPES = ("id", "str", "enum", "wkt", "list", "enum_list")


def _escape_raw(raw: RawScenario) -> RawScenario:
    """The raw tables with every text cell escaped (:func:`allocator.cells.escape_formula`).

    Only text columns (and columns the schema does not know) are escaped, so a
    quantity of ``-5`` stays the number -5; the readers undo the escaping.
    """
    specs = schema.tables()
    tables = {}
    for tname, df in raw.tables.items():
        spec = specs[tname]
        out = df.copy()
        for col in out.columns:
            if col not in spec.column_names or spec.column(col).type in _TEXT_TYPES:
                out[col] = out[col].map(escape_formula)
        out.columns = [escape_formula(c) for c in out.columns]
        tables[tname] = out
    return replace(raw, tables=tables)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    s = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{s}"'


def _toml(meta: Mapping[str, Any]) -> str:
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in meta.items() if not isinstance(v, dict))


def save(scenario: Scenario, path: str | Path) -> Path:
    """Write a scenario as a folder of CSV files, or as a workbook when ``path`` ends in ``.xlsx``.

    The write is atomic: files are written beside the target and moved into
    place, so a failure leaves no half-written scenario. Text cells that a
    spreadsheet would run as a formula are escaped (:mod:`allocator.cells`) and
    :func:`load` reads them back unchanged.

    Examples
    --------
    >>> from allocator import examples
    >>> import tempfile, pathlib
    >>> out = save(examples.two_hospitals(), pathlib.Path(tempfile.mkdtemp()) / "s")
    >>> bool(load(out).needs.quantity.sum() == examples.two_hospitals().needs.quantity.sum())
    True
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() == ".xlsx":
        from allocator.workbook import write_scenario

        return write_scenario(scenario, p)
    raw = _escape_raw(raw_of(scenario))  # text cells never become live formulas
    with atomic_folder(p) as tmpdir:
        for tname, df in raw.tables.items():
            df.to_csv(tmpdir / f"{tname}.csv", index=False, encoding="utf-8", lineterminator="\n")
        (tmpdir / TOML_NAME).write_text(_toml(raw.meta), encoding="utf-8")
    return p
