"""Spreadsheets as officers use them: one typed ``.xlsx`` writer for every workbook of the product.

- numbers are numbers (Excel's SUM adds them up), dates are dates, booleans
  are ``true``/``false`` text as in the CSV files, lists are ``a;b`` text;
- ids and every other text cell stay text (``007`` survives), and text a
  spreadsheet would read as a formula goes through
  :func:`allocator.cells.escape_formula`, so ``=HYPERLINK(...)`` in a donor's
  name is shown, never run;
- names beside ids: after a ``site_id``, ``item_id``, ``depot_id``,
  ``need_item_id`` or ``substitute_id`` column comes its name
  (``site_name``, ``item_name``, ...), so an officer can read the needs sheet;
  the product's workbook reader drops those columns again (:func:`strip_names`)
  and undoes the escaping, so export, edit and re-import are lossless.

Used by :func:`allocator.scenario.save` for ``.xlsx`` targets (and so by
``allocator export``) and by ``allocator round ... --out r.xlsx``
(:meth:`allocator.allocate.result.RoundResult.write`).

Examples
--------
>>> import tempfile, pathlib
>>> from allocator import examples
>>> from allocator.scenario import load, save
>>> sc = examples.two_hospitals()
>>> p = save(sc, pathlib.Path(tempfile.mkdtemp()) / "two.xlsx")
>>> import openpyxl
>>> ws = openpyxl.load_workbook(p)["needs"]
>>> [c.value for c in ws[1]], type(ws["E2"].value).__name__
(['site_id', 'site_name', 'item_id', 'item_name', 'quantity'], 'int')
>>> bool(load(p).needs.equals(sc.needs))
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator import schema
from allocator.cells import escape_formula, unescape_formula
from allocator.fsutil import atomic_file

#: id column -> (name column written after it, the lookup it takes names from)
NAME_COLUMNS = {
    "site_id": ("site_name", "sites"),
    "depot_id": ("depot_name", "depots"),
    "item_id": ("item_name", "items"),
    "need_item_id": ("need_item_name", "items"),
    "substitute_id": ("substitute_name", "items"),
}
#: Tables whose own key column gets no name column (their ``name`` is beside it already).
_OWN_KEY = {"sites": "site_id", "depots": "depot_id", "items": "item_id"}
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

__all__ = ["NAME_COLUMNS", "names_of", "with_names", "strip_names", "write_workbook", "write_scenario"]


def names_of(scenario: Any) -> dict[str, dict[str, str]]:
    """``{"sites": {id: name}, "depots": ..., "items": ...}`` from a scenario (empty when absent)."""
    out: dict[str, dict[str, str]] = {}
    if scenario is None:
        return out
    for table, key in _OWN_KEY.items():
        if scenario.has(table) and "name" in scenario.tables[table].columns:
            df = scenario.tables[table]
            out[table] = {str(k): str(v) for k, v in zip(df[key], df["name"])}
    return out


def with_names(table: str, df: pd.DataFrame, names: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """``df`` with a name column after each id column it has a lookup for (see :data:`NAME_COLUMNS`)."""
    cols = list(df.columns)
    out = df.copy()
    pos = 0
    for c in cols:
        pos = list(out.columns).index(c) + 1
        spec = NAME_COLUMNS.get(str(c))
        if spec is None or _OWN_KEY.get(table) == c:
            continue
        name_col, lookup = spec
        if name_col in out.columns or lookup not in names:
            continue
        out.insert(pos, name_col, [names[lookup].get(str(v), "") for v in out[c]])
    return out


def strip_names(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`with_names` and the formula escaping on a sheet read back as text.

    A name column is dropped only when it directly follows its id column and
    is not a column of the table's contract.
    """
    known = set(schema.tables()[table].column_names) if table in schema.tables() else set()
    cols = [str(c) for c in df.columns]
    drop = []
    for i, c in enumerate(cols[1:], start=1):
        for idc, (name_col, _lookup) in NAME_COLUMNS.items():
            if c == name_col and cols[i - 1] == idc and c not in known:
                drop.append(c)
    out = df.drop(columns=drop) if drop else df
    return out.map(unescape_formula).rename(columns=unescape_formula)


# --------------------------------------------------------------------------- cells


def _kinds(table: str | None, df: pd.DataFrame) -> dict[str, str]:
    """Per column: number, date, datetime, bool, list or text (the schema's type when known)."""
    spec = schema.tables().get(table) if table else None
    out = {}
    for c in df.columns:
        ctype = spec.column(c).type if spec is not None and c in spec.column_names else None
        s = df[c]
        if ctype in ("int", "float"):
            out[c] = "number"
        elif ctype in ("date", "datetime"):
            out[c] = ctype
        elif ctype == "bool":
            out[c] = "bool"
        elif ctype in ("list", "enum_list"):
            out[c] = "list"
        elif ctype is not None:
            out[c] = "text"
        elif pd.api.types.is_bool_dtype(s.dtype):
            out[c] = "bool"
        elif pd.api.types.is_numeric_dtype(s.dtype):
            out[c] = "number"
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[c] = "datetime"
        else:
            out[c] = "text"
    return out


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(isinstance(v, float | np.floating) and math.isnan(v))
    except TypeError:
        return False


def _cell(v: Any, kind: str) -> Any:
    """One value as what the workbook stores (None for an empty cell)."""
    if isinstance(v, tuple | list):
        return escape_formula(";".join(str(x) for x in v))
    if _missing(v):
        return None
    if kind == "number":
        if isinstance(v, bool | np.bool_):
            return int(v)
        if isinstance(v, int | np.integer):
            return int(v)
        if isinstance(v, float | np.floating):
            f = float(v)
            if not math.isfinite(f):
                return None
            return int(f) if f.is_integer() and abs(f) < 2**53 else f
        try:
            f = float(str(v))
        except ValueError:
            return escape_formula(str(v))
        return int(f) if f.is_integer() and abs(f) < 2**53 else f
    if kind in ("date", "datetime"):
        try:
            ts = pd.Timestamp(v)
        except (TypeError, ValueError):
            return escape_formula(str(v))
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        return ts.to_pydatetime()
    if kind == "bool":
        if isinstance(v, bool | np.bool_):
            return "true" if v else "false"
        return escape_formula(str(v))
    if isinstance(v, datetime | date | pd.Timestamp):
        return pd.Timestamp(v).isoformat()
    if isinstance(v, np.generic):
        v = v.item()
    return escape_formula(v if isinstance(v, str) else str(v))


def _write_sheet(wb: Any, title: str, df: pd.DataFrame, kinds: Mapping[str, str]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    ws = wb.create_sheet(title=title[:31])
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for c in df.columns:
        cell = WriteOnlyCell(ws, value=escape_formula(str(c)))
        cell.font = bold
        header.append(cell)
    widths = [max(8, min(40, len(str(c)) + 2)) for c in df.columns]
    for i, w in enumerate(widths):
        from openpyxl.utils import get_column_letter

        ws.column_dimensions[get_column_letter(i + 1)].width = w
    ws.append(header)
    cols = list(df.columns)
    ks = [kinds.get(c, "text") for c in cols]
    fmts = {k: (DATE_FORMAT if k == "date" else DATETIME_FORMAT) for k in ("date", "datetime")}
    for rec in df.itertuples(index=False, name=None):
        row = []
        for v, k in zip(rec, ks):
            val = _cell(v, k)
            if k in fmts and isinstance(val, datetime):
                cell = WriteOnlyCell(ws, value=val)
                cell.number_format = fmts[k]
                row.append(cell)
            elif isinstance(val, str):
                cell = WriteOnlyCell(ws, value=val)
                cell.data_type = "s"  # text, never a formula
                row.append(cell)
            else:
                row.append(val)
        ws.append(row)


def write_workbook(path: str | Path, sheets: Mapping[str, pd.DataFrame], *,
                   tables: Mapping[str, str | None] | None = None) -> Path:
    """Write ``sheets`` (title -> frame) as one typed workbook, atomically.

    Parameters
    ----------
    tables : mapping of sheet title to contract table name, optional
        Sheets named here get their cell types from the schema; the others
        from their dtypes.
    """
    from openpyxl import Workbook

    p = Path(path)
    wb = Workbook(write_only=True)
    for title, df in sheets.items():
        table = (tables or {}).get(title, title if title in schema.tables() else None)
        _write_sheet(wb, title, df, _kinds(table, df))
    with atomic_file(p) as tmp:
        wb.save(tmp)
    return p


def write_scenario(scenario: Any, path: str | Path) -> Path:
    """A scenario as a workbook: a typed sheet per table, names beside ids, and a ``scenario`` sheet."""
    names = names_of(scenario)
    sheets = {t: with_names(t, df, names) for t, df in scenario.tables.items()}
    meta: dict[str, Any] = dict(scenario.meta or {})
    meta["name"] = scenario.name
    if scenario.description:
        meta["description"] = scenario.description
    if scenario.as_of is not None:
        meta["as_of"] = pd.Timestamp(scenario.as_of).isoformat()
    meta = {k: v for k, v in meta.items() if not isinstance(v, dict)}
    sheets["scenario"] = pd.DataFrame({"key": list(meta), "value": [_meta_text(v) for v in meta.values()]})
    return write_workbook(path, sheets, tables={"scenario": None})


def _meta_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
