"""Fuzz the readers and the validator: malformed CSV and XLSX files never end in a traceback.

Hypothesis plants up to three faults, each in a different table of a valid
scenario (``examples.grades_and_earmarks``), and runs ``allocator validate``
and ``allocator round`` on it, in process through :func:`allocator.cli.main`
(fast) and, in the slow test, as real processes. Every run must exit 0 (no
fault) or 2 (some fault), print a problem line naming each planted fault
(file, line, column and the cell's text where there is one), print no
traceback and no "internal error", and write nothing to ``--out`` on failure.

What is generated:

- bytes and encodings: a file re-encoded as GBK (with Chinese text), UTF-16
  (LE/BE, with or without a BOM) or Latin-1, a file replaced by random bytes,
  an empty or blank file;
- structure: a quote that is never closed, a row with more fields than the
  header, a repeated column name;
- numbers: integers beyond int64, exponents (``1e400``), ``inf``/``nan``,
  fractions, text and in-range negatives in integer columns; non-finite and
  textual values in float columns;
- dates: real dates written day-first, month-first, with slashes, dots, month
  names or without separators, and ISO-looking dates that do not exist;
- workbooks: cells holding 1e300, 2**70, 2.5 or a non-ISO date text, a
  repeated header, a cell beyond the header, and truncated or bit-flipped files.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator import examples
from allocator.cli import main
from allocator.scenario import save

ROOT = Path(__file__).resolve().parents[1]

INT_COLUMNS = [("stock", "quantity"), ("needs", "quantity"), ("sites", "tier"), ("sites", "beds"),
               ("items", "pack_size")]
NONNEGATIVE = {("stock", "quantity"), ("needs", "quantity"), ("sites", "beds")}
FLOAT_COLUMNS = [("sites", "lat"), ("sites", "lon"), ("depots", "lat"), ("depots", "dispatch_capacity_kg"),
                 ("items", "unit_weight_kg")]
DATE_COLUMNS = [("stock", "expires"), ("donations", "received")]
NAME_COLUMNS = {"sites": "name", "items": "name", "depots": "name", "donations": "donor"}
TABLES = ["items", "sites", "depots", "stock", "needs", "substitutes", "donations"]
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@functools.cache
def _template() -> Path:
    root = Path(tempfile.mkdtemp(prefix="fuzz-template-"))
    save(examples.grades_and_earmarks(), root / "sc")
    save(examples.grades_and_earmarks(), root / "book.xlsx")
    return root


@functools.cache
def _rows(table: str) -> int:
    with open(_template() / "sc" / f"{table}.csv", encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


# --------------------------------------------------------------------------- faults


@dataclass
class Fault:
    """One planted fault: what it does to a table's records or bytes, and the problem it must give."""

    table: str
    kind: str
    edit_rows: Callable[[list[list[str]]], None] | None = None
    edit_bytes: Callable[[bytes], bytes] | None = None
    expect: list[tuple[str, str]] = field(default_factory=list)  # (line prefix, line suffix)

    def __repr__(self) -> str:
        return f"Fault({self.table}, {self.kind}, expect={self.expect})"


def _col(rows: list[list[str]], name: str) -> int:
    return rows[0].index(name)


def _cell_fault(table: str, col: str, row: int, text: str, message: str, kind: str) -> Fault:
    def edit(rows: list[list[str]]) -> None:
        rows[row + 1][_col(rows, col)] = text

    return Fault(table, kind, edit_rows=edit,
                 expect=[(f"{table}.csv:{row + 2}: {col}: {message}", f"(got {text})")])


# Texts never start or end with spaces (the cell is quoted as written) nor with an apostrophe.
_huge_int = st.one_of(st.integers(min_value=2**63, max_value=10**40), st.integers(min_value=-(10**40),
                                                                                   max_value=-(2**63) - 1))
_exponent = st.builds(lambda m, e: f"{m}e{e}", st.integers(1, 9), st.integers(19, 99999))
_fraction = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).filter(lambda x: not x.is_integer())
_letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
_special = st.sampled_from(["inf", "-inf", "nan", "NaN", "Infinity", "1,5", "0x1F", "1 000", "--3", "3-"])


@st.composite
def int_faults(draw) -> Fault:
    table, col = draw(st.sampled_from(INT_COLUMNS))
    row = draw(st.integers(0, _rows(table) - 1))
    choice = draw(st.sampled_from(["huge", "exponent", "fraction", "letters", "special", "negative"]))
    if choice == "negative" and (table, col) in NONNEGATIVE:
        text = str(draw(st.integers(-(2**63), -1)))
        return _cell_fault(table, col, row, text, "must be >= 0", "int-negative")
    text = {
        "huge": lambda: str(draw(_huge_int)),
        "exponent": lambda: draw(_exponent),
        "fraction": lambda: repr(draw(_fraction)),
        "letters": lambda: draw(_letters),
        "special": lambda: draw(_special),
        "negative": lambda: draw(_letters),
    }[choice]()
    return _cell_fault(table, col, row, text, "", f"int-{choice}")


@st.composite
def float_faults(draw) -> Fault:
    table, col = draw(st.sampled_from(FLOAT_COLUMNS))
    row = draw(st.integers(0, _rows(table) - 1))
    text = draw(st.one_of(st.sampled_from(["inf", "-inf", "1e400", "-1e999", "nan"]), _letters,
                          st.just("1,5")))
    return _cell_fault(table, col, row, text, "", "float")


_DAY_FIRST = ["%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y", "%b %d %Y", "%d %B %Y", "%Y%m%d", "%d-%m-%Y",
              "%Y-%m-%dT%H", "%y-%m-%d"]


@st.composite
def date_faults(draw) -> Fault:
    import datetime as dt

    table, col = draw(st.sampled_from(DATE_COLUMNS))
    row = draw(st.integers(0, _rows(table) - 1))
    if draw(st.booleans()):
        day = draw(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2099, 12, 31)))
        text = day.strftime(draw(st.sampled_from(_DAY_FIRST)))
    else:  # looks like ISO 8601 but is no date
        y = draw(st.integers(1950, 2099))
        m, d = draw(st.one_of(st.tuples(st.integers(13, 99), st.integers(1, 28)),
                              st.tuples(st.integers(1, 12), st.integers(32, 99)),
                              st.tuples(st.just(2), st.integers(30, 31))))
        text = f"{y:04d}-{m:02d}-{d:02d}"
    return _cell_fault(table, col, row, text, "not an ISO 8601 date", "date")


@st.composite
def structure_faults(draw) -> Fault:
    table = draw(st.sampled_from(TABLES))
    n = _rows(table)
    kind = draw(st.sampled_from(["duplicate-header", "ragged", "unclosed-quote", "empty"]))
    if kind == "duplicate-header":
        def dup(rows: list[list[str]], col: int = draw(st.integers(0, 100))) -> None:
            c = col % len(rows[0])
            for r in rows:
                r.append(r[c])
        # the column name is only known once the header is read: checked by prefix
        return Fault(table, kind, edit_rows=dup, expect=[(f"{table}.csv:1: ", "column appears more than once")])
    if kind == "ragged":
        row = draw(st.integers(0, n - 1))
        extra = draw(_letters)

        def ragged(rows: list[list[str]]) -> None:
            rows[row + 1].append(extra)
        return Fault(table, kind, edit_rows=ragged, expect=[(f"{table}.csv:{row + 2}: this row has ", "")])
    if kind == "unclosed-quote":
        row = draw(st.integers(0, n - 1))

        def quote(data: bytes) -> bytes:
            lines = data.split(b"\n")
            lines[row + 1] = b'"' + lines[row + 1]
            return b"\n".join(lines)
        return Fault(table, kind, edit_bytes=quote,
                     expect=[(f"{table}.csv:{row + 2}: a quoted field opened on this line is never closed", "")])
    blank = draw(st.sampled_from([b"", b"\n", b"\r\n\r\n", b"   "]))
    return Fault(table, kind, edit_bytes=lambda _: blank,
                 expect=[(f"{table}.csv: the file is empty", "")])


@st.composite
def encoding_faults(draw) -> Fault:
    table = draw(st.sampled_from(sorted(NAME_COLUMNS)))
    kind = draw(st.sampled_from(["gbk", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "random"]))
    row = draw(st.integers(0, _rows(table) - 1))
    label = f"{table}.csv"
    if kind == "random":
        data = draw(st.binary(max_size=300))
        return Fault(table, kind, edit_bytes=lambda _: data, expect=[(f"{label}", "")])
    text = {"gbk": "武汉协和医院", "latin-1": "Hôpital Zoé"}.get(kind, "武汉 Hôpital")

    def edit(rows: list[list[str]]) -> None:
        rows[row + 1][_col(rows, NAME_COLUMNS[table])] = text

    def encode(data: bytes) -> bytes:
        return data.decode("utf-8").encode(kind)

    if kind in ("gbk", "latin-1"):
        want = (f"{label}:{row + 2}: not UTF-8", "save it as CSV UTF-8")
    else:
        want = (f"{label}: UTF-16 (Excel's Unicode Text), not UTF-8", "")
    return Fault(table, kind, edit_rows=edit, edit_bytes=encode, expect=[want])


faults = st.lists(st.one_of(int_faults(), float_faults(), date_faults(), structure_faults(), encoding_faults()),
                  max_size=3, unique_by=lambda f: f.table)


def _plant(folder: Path, planted: list[Fault]) -> None:
    for f in planted:
        path = folder / f"{f.table}.csv"
        if f.edit_rows is not None:
            with open(path, encoding="utf-8", newline="") as fh:
                rows = list(csv.reader(fh))
            f.edit_rows(rows)
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            path.write_text(buf.getvalue(), encoding="utf-8")
        if f.edit_bytes is not None:
            path.write_bytes(f.edit_bytes(path.read_bytes()))


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue() + err.getvalue()


def _check(planted: list[Fault], rc: int, text: str) -> None:
    assert "Traceback" not in text and "internal error" not in text, text
    assert rc == (2 if planted else 0), (planted, text)
    lines = text.splitlines()
    for f in planted:
        for prefix, suffix in f.expect:
            assert any(line.startswith(prefix) and line.endswith(suffix) for line in lines), (f, text)


def _fuzz_csv(planted: list[Fault], with_round: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sc"
        shutil.copytree(_template() / "sc", folder)
        _plant(folder, planted)
        _check(planted, *_run(["validate", str(folder)]))
        if with_round:
            out = Path(tmp) / "out"
            rc, text = _run(["round", str(folder), "--out", str(out)])
            _check(planted, rc, text)
            assert out.exists() == (rc == 0)


@settings(max_examples=6, **SETTINGS)
@given(faults)
def test_malformed_csv_scenarios_give_problems_not_tracebacks(planted):
    """A quick run in the fast loop; the long run below is the real fuzz."""
    _fuzz_csv(planted, with_round=len(planted) % 2 == 1)


@pytest.mark.slow
@settings(max_examples=200, **SETTINGS)
@given(faults)
def test_malformed_csv_scenarios_long_run(planted):
    _fuzz_csv(planted, with_round=True)


# --------------------------------------------------------------------------- workbooks

# (cell value, how the problem ends, message); an .xlsx number is a double, so 2**70 is read as one
_XLSX_VALUES = [(1e300, "(got 1e+300)", "integer out of range"), (-1e300, "(got -1e+300)", "integer out of range"),
                (2**70, "e+21)", "integer out of range"), (2.5, "(got 2.5)", "not a whole number"),
                ("12abc", "(got 12abc)", "not an integer")]


@st.composite
def xlsx_faults(draw) -> tuple[str, Callable[[openpyxl.Workbook], None], list[tuple[str, str]]]:
    kind = draw(st.sampled_from(["int", "date", "duplicate-header", "beyond-header"]))
    if kind == "int":
        table, col = draw(st.sampled_from(INT_COLUMNS))
        row = draw(st.integers(0, _rows(table) - 1))
        value, text, message = draw(st.sampled_from(_XLSX_VALUES))
    elif kind == "date":
        table, col = draw(st.sampled_from(DATE_COLUMNS))
        row = draw(st.integers(0, _rows(table) - 1))
        value = draw(st.sampled_from(["05/02/2020", "2020/02/05", "Feb 5 2020", "2020-02-30"]))
        text, message = f"(got {value})", "not an ISO 8601 date"
    else:
        table = draw(st.sampled_from(TABLES))
        row = draw(st.integers(0, _rows(table) - 1))

        def edit(wb: openpyxl.Workbook) -> None:
            ws = wb[table]
            width = len([c for c in ws[1] if c.value is not None])
            if kind == "duplicate-header":
                ws.cell(row=1, column=width + 1, value=ws.cell(row=1, column=1).value)
            else:
                ws.cell(row=row + 2, column=width + 2, value="stray")
        want = ((f"book.xlsx[{table}]:1: ", "column appears more than once") if kind == "duplicate-header"
                else (f"book.xlsx[{table}]:{row + 2}: this row has ", ""))
        return table, edit, [want]

    def set_cell(wb: openpyxl.Workbook) -> None:
        ws = wb[table]
        header = [c.value for c in ws[1]]
        ws.cell(row=row + 2, column=header.index(col) + 1, value=value)

    return table, set_cell, [(f"book.xlsx[{table}]:{row + 2}: {col}: {message}", text)]


@pytest.mark.slow
@settings(max_examples=30, **SETTINGS)
@given(st.lists(xlsx_faults(), max_size=3, unique_by=lambda f: f[0]))
def test_malformed_workbooks_give_problems_not_tracebacks(planted):
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "book.xlsx"
        wb = openpyxl.load_workbook(_template() / "book.xlsx")
        for _, edit, _ in planted:
            edit(wb)
        wb.save(book)
        rc, text = _run(["validate", str(book)])
        assert "Traceback" not in text and "internal error" not in text, text
        assert rc == (2 if planted else 0), text
        for _, _, expect in planted:
            for prefix, suffix in expect:
                assert any(x.startswith(prefix) and x.endswith(suffix) for x in text.splitlines()), (expect, text)


@pytest.mark.slow
@settings(max_examples=40, **SETTINGS)
@given(st.data())
def test_damaged_workbook_bytes_never_give_a_traceback(data):
    raw = (_template() / "book.xlsx").read_bytes()
    how = data.draw(st.sampled_from(["truncate", "flip", "zero-run"]))
    buf = bytearray(raw)
    if how == "truncate":
        buf = buf[: data.draw(st.integers(0, len(raw) - 1))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(raw) - 1))
            buf[i] ^= data.draw(st.integers(1, 255))
    else:
        i = data.draw(st.integers(0, len(raw) - 64))
        buf[i:i + 64] = bytes(64)
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "book.xlsx"
        book.write_bytes(bytes(buf))
        out = Path(tmp) / "out"
        for argv in (["validate", str(book)], ["round", str(book), "--out", str(out)]):
            rc, text = _run(argv)
            assert "Traceback" not in text and "internal error" not in text, text
            assert rc in (0, 2), text
            if rc == 2:
                assert "book.xlsx" in text
        assert out.exists() == (rc == 0)


# --------------------------------------------------------------------------- real processes


@pytest.mark.slow
@settings(max_examples=4, **SETTINGS)
@given(st.lists(st.one_of(int_faults(), date_faults(), structure_faults(), encoding_faults()),
                min_size=1, max_size=3, unique_by=lambda f: f.table))
def test_malformed_scenarios_in_real_processes(planted):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sc"
        shutil.copytree(_template() / "sc", folder)
        _plant(folder, planted)
        out = Path(tmp) / "out"
        for argv in (["validate", str(folder)], ["round", str(folder), "--out", str(out)]):
            p = subprocess.run([sys.executable, "-m", "allocator", *argv], capture_output=True, text=True,
                               env=env, timeout=300)
            _check(planted, p.returncode, p.stdout + p.stderr)
        assert not out.exists()
