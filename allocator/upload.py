"""Scenarios that arrive as bytes (an upload in the app) or as edited tables, checked before storing.

:func:`check_upload` takes a ``.zip`` of CSV files (flat, or one folder deep)
or one ``.xlsx`` workbook, and :func:`check_edits` takes a stored scenario
with some tables replaced (the app's ``st.data_editor``). Both return a
:class:`Checked`: every problem of the contract's validation at once, the text
tables as read (so a UI can show each problem beside its row), and the typed
scenario only when there is no error. Nothing is stored here: the caller
imports ``checked.scenario`` through :func:`allocator.store.import_scenario`
when ``checked.ok``.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from allocator import schema
from allocator.errors import ScenarioFormatError
from allocator.scenario import TOML_NAME, RawScenario, Scenario, read_raw, to_raw
from allocator.validate import Report, parse

__all__ = ["Checked", "check_upload", "check_edits", "text_tables", "apply_delta", "xlsx_bytes", "problem_rows", "MAX_UPLOAD_BYTES", "ROW_COLUMN"]

#: Largest upload accepted, compressed or not (bytes).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Name of the column :func:`problem_rows` adds: the row number problems use (header = row 1).
ROW_COLUMN = "row"


@dataclass
class Checked:
    """A checked scenario.

    Attributes
    ----------
    report : Report
        Every problem, errors and warnings.
    raw : RawScenario or None
        The tables as text, as read (None when the upload could not be read at all).
    scenario : Scenario or None
        The typed scenario, only when the report has no error.
    """

    report: Report
    raw: RawScenario | None = None
    scenario: Scenario | None = None

    @property
    def ok(self) -> bool:
        return self.scenario is not None and self.report.ok


def _fail(label: str, message: str, value: str | None = None) -> Checked:
    r = Report()
    r.add(label, None, None, message, value)
    return Checked(report=r)


def _parsed(raw: RawScenario) -> Checked:
    sc, report = parse(raw)
    return Checked(report=report, raw=raw, scenario=sc if report.ok else None)


def _extract_zip(name: str, data: bytes, into: Path) -> Report:
    """Write the zip's scenario files into ``into`` (flat); problems for anything unsafe or doubled."""
    report = Report()
    wanted = {f"{t}.csv" for t in schema.tables()} | {TOML_NAME}
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        report.add(name, None, None, f"not a readable zip file: {exc}")
        return report
    with zf:
        total = 0
        seen: dict[str, str] = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            path = PurePosixPath(info.filename.replace("\\", "/"))
            if path.name.startswith(".") or "__MACOSX" in path.parts:
                continue
            base = path.name
            if base not in wanted:
                continue  # other files (README, images) are ignored like in a folder
            if len(path.parts) > 2:
                report.add(name, None, None, "scenario files must be at the top of the zip or in one folder",
                           info.filename)
                continue
            if base in seen:
                report.add(name, None, None, f"{base} appears twice in the zip", f"{seen[base]}, {info.filename}")
                continue
            total += info.file_size
            if total > MAX_UPLOAD_BYTES:
                report.add(name, None, None, f"the files in the zip are larger than {MAX_UPLOAD_BYTES // 2**20} MiB")
                return report
            seen[base] = info.filename
            try:
                (into / base).write_bytes(zf.read(info))
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                report.add(name, None, None, f"cannot read {info.filename} from the zip: {exc}")
        if not seen and report.ok:
            report.add(name, None, None, "the zip holds no scenario file (items.csv, sites.csv, ...)")
    return report


def check_upload(filename: str, data: bytes) -> Checked:
    """Read and check an uploaded scenario: a ``.zip`` of CSV files or one ``.xlsx`` workbook.

    Parameters
    ----------
    filename : str
        The uploaded file's name (its suffix decides how it is read; problems name it).
    data : bytes
        Its contents.

    Returns
    -------
    Checked

    Examples
    --------
    >>> import io, zipfile
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("items.csv", "item_id,name\\nn95,N95\\n")
    >>> c = check_upload("day.zip", buf.getvalue())
    >>> c.ok, any("required file is missing" in p.message for p in c.report.errors)
    (False, True)
    """
    label = Path(filename).name or "upload"
    if len(data) > MAX_UPLOAD_BYTES:
        return _fail(label, f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MiB")
    suffix = Path(label).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="allocator-upload-") as tmp:
        d = Path(tmp)
        if suffix == ".xlsx":
            path = d / label
            path.write_bytes(data)
            try:
                raw = read_raw(path)
            except (ScenarioFormatError, ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
                return _fail(label, f"not a readable .xlsx workbook: {exc}")
            return _parsed(raw)
        if suffix == ".zip":
            folder = d / "scenario"
            folder.mkdir()
            report = _extract_zip(label, data, folder)
            if not report.ok:
                return Checked(report=report)
            try:
                raw = read_raw(folder)
            except (ScenarioFormatError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
                return _fail(label, f"a CSV file in the zip cannot be read: {exc}")
            raw.labels = {t: f"{label}:{lab}" if not lab.startswith(label) else lab for t, lab in raw.labels.items()}
            return _parsed(raw)
    return _fail(label, "upload a .zip of CSV files or one .xlsx workbook", suffix or label)


def text_tables(scenario: Scenario) -> RawScenario:
    """The scenario's tables as the contract's text (what a file would hold): what an editor shows."""
    return to_raw(scenario.tables, name=scenario.name, description=scenario.description, as_of=scenario.as_of,
                  meta=scenario.meta)


def apply_delta(frame: pd.DataFrame, delta: Mapping[str, Any]) -> pd.DataFrame:
    """Apply an edit in the form of Streamlit's data editor state to a text table.

    ``delta`` has ``edited_rows`` (``{position: {column: value}}``),
    ``added_rows`` (``[{column: value}, ...]``) and ``deleted_rows``
    (``[position, ...]``); positions refer to ``frame`` before the edit. Every
    value becomes text (None is empty), so the result is checked like a file.

    Examples
    --------
    >>> f = pd.DataFrame({"site_id": ["H1", "H2"], "quantity": ["5", "6"]})
    >>> apply_delta(f, {"edited_rows": {"1": {"quantity": 60}}, "added_rows": [{"site_id": "H3"}],
    ...                 "deleted_rows": [0]}).values.tolist()
    [['H2', '60'], ['H3', '']]
    """
    out = frame.copy().astype(str).reset_index(drop=True)

    def text(v: Any) -> str:
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return ""
        return str(v)

    for pos, cells in (delta.get("edited_rows") or {}).items():
        i = int(pos)
        if not 0 <= i < len(out):
            continue
        for col, value in (cells or {}).items():
            if col not in out.columns:
                out[col] = ""
            out.at[i, col] = text(value)
    deleted = {int(i) for i in (delta.get("deleted_rows") or [])}
    out = out.drop(index=[i for i in deleted if 0 <= i < len(out)])
    added = [{c: text(r.get(c)) for c in out.columns} for r in (delta.get("added_rows") or [])]
    if added:
        out = pd.concat([out, pd.DataFrame(added, columns=out.columns)], ignore_index=True)
    return out.reset_index(drop=True)


def check_edits(base: Scenario, **tables: pd.DataFrame) -> Checked:
    """``base`` with some tables replaced by edited **text** tables, checked by the contract's validation.

    The edited frames hold the contract's text (:func:`text_tables`, edited
    with :func:`apply_delta`); they are parsed like uploaded files, so an
    edit gets exactly the checks a file gets, with the same row numbers
    (row 2 = the first data row).

    Examples
    --------
    >>> from allocator import examples
    >>> sc = examples.two_hospitals()
    >>> needs = text_tables(sc).tables["needs"]
    >>> bad = apply_delta(needs, {"edited_rows": {0: {"quantity": "-5"}}})
    >>> c = check_edits(sc, needs=bad)
    >>> c.ok, [(p.file, p.row, p.column) for p in c.report.errors][:1]
    (False, [('needs.csv', 2, 'quantity')])
    >>> check_edits(sc, needs=apply_delta(needs, {"edited_rows": {0: {"quantity": "5"}}})).ok
    True
    """
    raw = text_tables(base)
    for name, df in tables.items():
        raw.tables[name] = df.reset_index(drop=True).astype(str)
    return _parsed(raw)


def problem_rows(checked: Checked, table: str) -> tuple[pd.DataFrame, dict[int, list[int]]]:
    """The text rows of ``table`` that have problems, and which problems (indices into ``report.problems``).

    Returns
    -------
    (DataFrame, dict)
        The rows as read with a first column :data:`ROW_COLUMN` (the row number
        problems use), only rows with a problem; and ``{row: [problem index, ...]}``.
    """
    if checked.raw is None or table not in checked.raw.tables:
        return pd.DataFrame(), {}
    label = checked.raw.labels.get(table, f"{table}.csv")
    by_row: dict[int, list[int]] = {}
    for i, p in enumerate(checked.report.problems):
        if p.file == label and p.row is not None and p.row >= 2:
            by_row.setdefault(int(p.row), []).append(i)
    df = checked.raw.tables[table].reset_index(drop=True)
    df.insert(0, ROW_COLUMN, range(2, len(df) + 2))
    return df[df[ROW_COLUMN].isin(by_row)].reset_index(drop=True), by_row


def xlsx_bytes(scenario: Scenario) -> bytes:
    """The scenario as one ``.xlsx`` workbook (written by :func:`allocator.scenario.save`), as bytes."""
    from allocator.scenario import save

    with tempfile.TemporaryDirectory(prefix="allocator-download-") as tmp:
        path = save(scenario, Path(tmp) / f"{scenario.name or 'scenario'}.xlsx")
        return path.read_bytes()
