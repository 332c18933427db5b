"""One test per root cause of issue 11: every bad input gets a clear error and loses nothing.

Each test plants one kind of fault in a valid scenario and checks the exact
problem line (file, line, column, the cell's own text), that every other
problem is still reported, and that the command line exits 2 without a
traceback and writes nothing.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator import allocate, examples
from allocator.cells import FORMULA_START
from allocator.cli import main
from allocator.errors import ArgumentTypeError, InvalidRequestError, ScenarioError
from allocator.scenario import load, read_csv_text, save
from allocator.validate import validate


@pytest.fixture
def sc_dir(tmp_path: Path) -> Path:
    return save(examples.grades_and_earmarks(), tmp_path / "sc")


def _lines(path: Path | str) -> list[str]:
    return [str(p) for p in validate(path).problems]


def _set_cell(path: Path, table: str, row: int, col: str, text: str) -> None:
    """Set one cell of ``table``.csv (row 0 is file line 2) keeping every other byte as written."""
    f = path / f"{table}.csv"
    rows = list(csv.reader(io.StringIO(f.read_text(encoding="utf-8"), newline="")))
    rows[row + 1][rows[0].index(col)] = text
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    f.write_text(buf.getvalue(), encoding="utf-8")


def _cli(args: list[str], capsys) -> tuple[int, str, str]:
    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text, text


# --------------------------------------------------------------------------- files the reader cannot parse


def test_gbk_file_is_named_and_the_other_files_are_still_checked(sc_dir: Path, capsys):
    sites = (sc_dir / "sites.csv").read_text(encoding="utf-8").replace("Q1,Q1,", "Q1,武汉隔离点,")
    assert "武汉隔离点" in sites
    (sc_dir / "sites.csv").write_bytes(sites.encode("gbk"))
    _set_cell(sc_dir, "stock", 1, "quantity", "1.5")  # a second, unrelated problem
    line = next(i for i, t in enumerate(sites.splitlines(), 1) if "武汉" in t)
    got = _lines(sc_dir)
    assert (f"sites.csv:{line}: not UTF-8; it looks like GBK (Excel's CSV under a Chinese locale): "
            "save it as CSV UTF-8") in got
    assert "stock.csv:3: quantity: not a whole number (got 1.5)" in got
    # sites.csv is not reported again as missing, nor every site_id as unknown
    assert not any("required file is missing" in g or "unknown site_id" in g for g in got), got
    rc, out, err = _cli(["validate", str(sc_dir)], capsys)
    assert rc == 2 and "sites.csv:" in err
    _no_traceback(out + err)


def test_utf16_file(sc_dir: Path):
    text = (sc_dir / "items.csv").read_text(encoding="utf-8")
    (sc_dir / "items.csv").write_bytes(text.encode("utf-16"))
    assert "items.csv: UTF-16 (Excel's Unicode Text), not UTF-8: save it as CSV UTF-8" in _lines(sc_dir)
    (sc_dir / "items.csv").write_bytes(text.encode("utf-16-le"))  # no BOM: found by its NUL bytes
    assert "items.csv: UTF-16 (Excel's Unicode Text), not UTF-8: save it as CSV UTF-8" in _lines(sc_dir)


def test_other_bytes_name_the_byte_and_line(sc_dir: Path):
    data = (sc_dir / "depots.csv").read_bytes()
    (sc_dir / "depots.csv").write_bytes(data.replace(b"D1,", b"D\xff\xfe1,", 1))
    got = _lines(sc_dir)
    assert "depots.csv:2: not UTF-8 (byte 0xFF cannot be decoded): save it as CSV UTF-8" in got, got


def test_utf8_with_bom_is_read(sc_dir: Path):
    data = (sc_dir / "sites.csv").read_bytes()
    (sc_dir / "sites.csv").write_bytes(b"\xef\xbb\xbf" + data)
    assert validate(sc_dir).ok


@pytest.mark.parametrize("content", [b"", b"\n\n", b"   \r\n"])
def test_empty_file(sc_dir: Path, content: bytes):
    (sc_dir / "depots.csv").write_bytes(content)
    got = _lines(sc_dir)
    assert "depots.csv: the file is empty: it needs at least the header line" in got
    assert not any(g.startswith("depots.csv: required file is missing") for g in got)


def test_unclosed_quote_names_the_line_it_opens_on(sc_dir: Path):
    text = (sc_dir / "stock.csv").read_text(encoding="utf-8").splitlines()
    text[3] = text[3].replace(",available,", ',"available,', 1)
    (sc_dir / "stock.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    assert "stock.csv:4: a quoted field opened on this line is never closed" in _lines(sc_dir)


def test_ragged_row_is_a_problem_with_its_line_not_a_traceback(sc_dir: Path, capsys):
    text = (sc_dir / "items.csv").read_text(encoding="utf-8").splitlines()
    width = len(text[0].split(","))
    text[2] += ",surplus"
    (sc_dir / "items.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    assert f"items.csv:3: this row has {width + 1} fields but the header has {width}" in _lines(sc_dir)
    rc, out, err = _cli(["round", str(sc_dir), "--out", str(sc_dir.parent / "out")], capsys)
    assert rc == 2 and not (sc_dir.parent / "out").exists()
    _no_traceback(out + err)


def test_trailing_empty_fields_are_not_ragged(sc_dir: Path):
    text = (sc_dir / "items.csv").read_text(encoding="utf-8").splitlines()
    (sc_dir / "items.csv").write_text("\n".join([text[0], *(t + ",," for t in text[1:])]) + "\n", encoding="utf-8")
    assert validate(sc_dir).ok


def _record(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()


def test_line_numbers_count_quoted_line_breaks_and_blank_lines(sc_dir: Path):
    rows = list(csv.reader(io.StringIO((sc_dir / "sites.csv").read_text(encoding="utf-8"), newline="")))
    name, tier = rows[0].index("name"), rows[0].index("tier")
    rows[1][name] = "Xiehe\nUnion Hospital"  # record 1 spans lines 2 and 3
    rows[2][tier] = "x"  # record 2 is on line 5, after a blank line 4
    text = _record(rows[0]) + _record(rows[1]) + "\n" + "".join(_record(r) for r in rows[2:])
    (sc_dir / "sites.csv").write_text(text, encoding="utf-8")
    assert "sites.csv:5: tier: not an integer (got x)" in _lines(sc_dir)
    rows[2][tier] = "1"
    (sc_dir / "sites.csv").write_text(_record(rows[0]) + _record(rows[1]) + "\n"
                                      + "".join(_record(r) for r in rows[2:]), encoding="utf-8")
    assert load(sc_dir).sites.name[0] == "Xiehe\nUnion Hospital"


def test_bom_in_scenario_toml_is_accepted(sc_dir: Path):
    toml = sc_dir / "scenario.toml"
    toml.write_bytes(b"\xef\xbb\xbf" + toml.read_bytes())
    assert validate(sc_dir).ok
    assert load(sc_dir).name == "grades-and-earmarks"


def test_unparsable_scenario_toml_names_its_line(sc_dir: Path):
    toml = sc_dir / "scenario.toml"
    toml.write_text('name = "x"\nas_of = 2020-02-10T08:00:00\nbroken = \n', encoding="utf-8")
    got = _lines(sc_dir)
    assert any(g.startswith("scenario.toml:3: cannot be parsed:") for g in got), got


def test_corrupt_workbook_names_the_file(tmp_path: Path, capsys):
    good = save(examples.grades_and_earmarks(), tmp_path / "good.xlsx")
    for name, data in [("garbage.xlsx", b"PK\x03\x04 not really a zip"),
                       ("cut.xlsx", good.read_bytes()[: len(good.read_bytes()) // 2]),
                       ("text.xlsx", b"site_id,name\nH1,x\n")]:
        bad = tmp_path / name
        bad.write_bytes(data)
        (line,) = _lines(bad)
        assert line.startswith(f"{name}: cannot be read as an .xlsx workbook: "), line
        rc, out, err = _cli(["validate", str(bad)], capsys)
        assert rc == 2 and name in err
        _no_traceback(out + err)


# --------------------------------------------------------------------------- numbers through floats


@pytest.mark.parametrize("text, message", [
    ("1e400", "integer out of range"),
    ("99999999999999999999999", "integer out of range"),
    ("9223372036854775808", "integer out of range"),
    ("inf", "not an integer"),
    ("-inf", "not an integer"),
    ("nan", "not an integer"),
    ("12abc", "not an integer"),
    ("0x10", "not an integer"),
    ("2.5", "not a whole number"),
])
def test_integer_column_never_goes_through_floats(sc_dir: Path, text: str, message: str, capsys):
    _set_cell(sc_dir, "stock", 0, "quantity", text)
    got = [g for g in _lines(sc_dir) if g.startswith("stock.csv:2: quantity:")]
    assert got and got[0].startswith(f"stock.csv:2: quantity: {message}") and got[0].endswith(f"(got {text})")
    rc, out, err = _cli(["round", str(sc_dir), "--out", str(sc_dir.parent / "o")], capsys)
    assert rc == 2 and not (sc_dir.parent / "o").exists()
    _no_traceback(out + err)


def test_big_integers_that_fit_int64_are_exact(sc_dir: Path):
    _set_cell(sc_dir, "stock", 0, "quantity", "9223372036854775807")
    _set_cell(sc_dir, "stock", 1, "quantity", "3.0")  # what some spreadsheets write
    _set_cell(sc_dir, "stock", 2, "quantity", "1e3")  # exact in decimal
    s = load(sc_dir).stock
    assert s.quantity.tolist()[:3] == [9223372036854775807, 3, 1000]


@pytest.mark.parametrize("text, message", [("1e400", "not a finite number"), ("inf", "not a finite number"),
                                           ("nan", "not a number"), ("north", "not a number")])
def test_float_column_must_be_finite(sc_dir: Path, text: str, message: str):
    _set_cell(sc_dir, "sites", 0, "lat", text)
    assert f"sites.csv:2: lat: {message} (got {text})" in _lines(sc_dir)


def test_workbook_cell_holding_1e300(tmp_path: Path, capsys):
    book = save(examples.grades_and_earmarks(), tmp_path / "b.xlsx")
    wb = openpyxl.load_workbook(book)
    header = [c.value for c in wb["stock"][1]]
    wb["stock"].cell(row=2, column=header.index("quantity") + 1, value=1e300)
    wb["sites"].cell(row=3, column=[c.value for c in wb["sites"][1]].index("lat") + 1, value=float("inf"))
    wb.save(book)
    got = _lines(book)
    assert any(g.startswith("b.xlsx[stock]:2: quantity: integer out of range") and g.endswith("(got 1e+300)")
               for g in got), got
    rc, out, err = _cli(["round", str(book), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and not (tmp_path / "o").exists()
    _no_traceback(out + err)


# --------------------------------------------------------------------------- lenient dates


@pytest.mark.parametrize("text", ["05/02/2020", "2020/02/05", "Feb 5 2020", "5 February 2020", "20200205",
                                  "2020-2-5", "2020-02-30", "2020-02-05T25:00"])
def test_dates_are_strictly_iso_8601_and_quote_the_cell(sc_dir: Path, text: str):
    _set_cell(sc_dir, "stock", 0, "expires", text)
    assert f"stock.csv:2: expires: not an ISO 8601 date (got {text})" in _lines(sc_dir)


@pytest.mark.parametrize("text, day", [("2020-05-02", "2020-05-02"), ("2020-05-02T08:30", "2020-05-02 08:30"),
                                       ("2020-05-02 08:30:15", "2020-05-02 08:30:15"),
                                       ("2020-05-02T08:30:00+08:00", "2020-05-02 08:30")])
def test_iso_dates_with_or_without_a_time_are_read(sc_dir: Path, text: str, day: str):
    _set_cell(sc_dir, "stock", 0, "expires", text)
    assert load(sc_dir).stock.expires[0] == pd.Timestamp(day)


def test_expired_lot_warning_quotes_the_cell_text(sc_dir: Path):
    warn = [w for w in _lines(sc_dir) if "L_EXP has expired" in w]
    assert warn and warn[0].endswith("(got 2020-02-01)")
    _set_cell(sc_dir, "stock", 4, "expires", "2020-02-01T00:00:00")
    warn = [w for w in _lines(sc_dir) if "L_EXP has expired" in w]
    assert warn[0].endswith("(got 2020-02-01T00:00:00)")


# --------------------------------------------------------------------------- duplicate headers


def test_duplicate_header_is_reported_not_renamed(sc_dir: Path, tmp_path: Path):
    text = (sc_dir / "stock.csv").read_text(encoding="utf-8").splitlines()
    text = [text[0] + ",quantity", *(t + ",7" for t in text[1:])]
    (sc_dir / "stock.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    got = _lines(sc_dir)
    assert "stock.csv:1: quantity: column appears more than once" in got
    assert not any("quantity.1" in g for g in got)
    book = save(examples.grades_and_earmarks(), tmp_path / "b.xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb["needs"]
    ws.cell(row=1, column=ws.max_column + 1, value="quantity")
    wb.save(book)
    assert "b.xlsx[needs]:1: quantity: column appears more than once" in _lines(book)


# --------------------------------------------------------------------------- formula injection

EVIL_DONOR = "=cmd|' /C calc'!A0"
EVIL_NAME = '=HYPERLINK("http://evil.example","click")'


def _evil() -> object:
    sc = examples.grades_and_earmarks()
    donations = sc.donations.copy()
    donations.loc[0, "donor"] = EVIL_DONOR
    sites = sc.sites.copy()
    sites.loc[0, "name"] = EVIL_NAME
    sites.loc[1, "district"] = "-1+1"
    return sc.replace(donations=donations, sites=sites)


def _cells(path: Path) -> list[str]:
    return [c for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")) for c in row]


def test_round_outputs_keep_formulas_as_text(tmp_path: Path):
    sc = _evil()
    out = allocate(sc).write(tmp_path / "round")
    usage = _cells(out / "donation_usage.csv")
    assert "'" + EVIL_DONOR in usage
    for f in out.glob("*.csv"):
        live = [c for c in _cells(f) if c.startswith(FORMULA_START) and not _is_number(c)]
        assert live == [], (f.name, live)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_saved_scenarios_keep_formulas_as_text_and_load_back_unchanged(tmp_path: Path):
    sc = _evil()
    folder = save(sc, tmp_path / "s")
    assert "'" + EVIL_DONOR in _cells(folder / "donations.csv")
    assert "'" + EVIL_NAME in _cells(folder / "sites.csv")
    # numbers are numbers: a negative quantity is not escaped
    back = load(folder)
    assert back.donations.donor[0] == EVIL_DONOR and back.sites.name[0] == EVIL_NAME
    assert back.sites.district[1] == "-1+1"
    book = save(sc, tmp_path / "s.xlsx")
    wb = openpyxl.load_workbook(book)
    texts = [c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith("=")]
    assert load(book).donations.donor[0] == EVIL_DONOR


# --------------------------------------------------------------------------- database URLs and library misuse


@pytest.mark.parametrize("url, reason", [("not a url", "it is not a URL"),
                                         ("nosuchdb://u@h/x", "unknown database kind 'nosuchdb'"),
                                         ("postgresql+nosuchdriver://u:secret@h/x", "unknown database kind")])
def test_bad_database_url_is_one_clear_line(tmp_path: Path, url: str, reason: str, capsys, monkeypatch):
    from allocator.store import make_engine

    with pytest.raises(InvalidRequestError, match=reason) as exc:
        make_engine(url)
    assert exc.value.code == "error.store.database_url"
    monkeypatch.setenv("ALLOCATOR_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    rc, out, err = _cli(["db", "init"], capsys)
    assert rc == 2 and err.count("\n") == 1 and reason in err, err
    assert "secret" not in err
    _no_traceback(out + err)


def test_allocate_given_a_path_says_how_to_load_one():
    with pytest.raises(ArgumentTypeError, match=r"takes a Scenario.*allocator\.scenario\.load") as exc:
        allocate("path/to/scenario")  # type: ignore[arg-type]
    assert isinstance(exc.value, TypeError)


def test_scenario_error_lists_every_problem(sc_dir: Path):
    _set_cell(sc_dir, "stock", 0, "quantity", "1e400")
    _set_cell(sc_dir, "stock", 1, "expires", "05/02/2020")
    with pytest.raises(ScenarioError) as exc:
        load(sc_dir)
    codes = {p.code for p in exc.value.report.errors}
    assert {"int_range", "not_date"} <= codes


def test_round_outputs_read_back_by_the_product_are_unescaped(tmp_path: Path):
    from allocator.commands.store import _read_round_dir

    sc = examples.grades_and_earmarks()
    stock = sc.stock.copy()
    stock.loc[0, "lot_id"] = "=L_MASK"
    out = allocate(sc.replace(stock=stock)).write(tmp_path / "round")
    assert "'=L_MASK" in _cells(out / "allocations.csv")
    alloc, _, _ = _read_round_dir(out)
    assert "=L_MASK" in set(alloc.lot_id)


_cell_text = st.text(alphabet=st.characters(blacklist_characters='"\r\n,\x00', blacklist_categories=("Cs",)),
                     max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_cell_text, min_size=1, max_size=5), min_size=1, max_size=8), st.booleans())
def test_fast_and_careful_csv_paths_agree(records, blank_line):
    header = [f"c{i}" for i in range(max(len(r) for r in records))]
    lines = [",".join(header)] + [",".join(r) for r in records]
    if blank_line:
        lines.insert(2, "")
    text = "\n".join(lines) + "\n"
    from allocator.scenario import _read_plain_csv

    assert _read_plain_csv(text, "t.csv") is not None  # the fast path is taken
    fast, p1 = read_csv_text(text, "t.csv")
    careful, p2 = read_csv_text(text, "t.csv", fast=False)
    assert [str(p) for p in p1] == [str(p) for p in p2]
    assert (fast is None) == (careful is None)
    if fast is not None:
        keep = lambda df: df[~(df.apply(lambda s: s.str.strip() == "").all(axis=1))]  # noqa: E731
        pd.testing.assert_frame_equal(keep(fast), keep(careful), check_index_type=False)


def test_library_misuse_gets_typed_errors():
    from allocator.errors import UnknownKeyError

    with pytest.raises(ArgumentTypeError, match="a scenario path is a str or Path, not int"):
        validate(123)  # type: ignore[arg-type]
    with pytest.raises(UnknownKeyError, match="unknown table 'nope'"):
        examples.two_hospitals().table("nope")
    with pytest.raises(UnknownKeyError, match="unknown table 'nope'"):
        examples.two_hospitals().replace(nope=pd.DataFrame())
