"""Spreadsheets as officers use them: typed cells, names beside ids, formulas kept as text, lossless re-import."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from allocator import cli, examples
from allocator.scenario import load, save

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"


def _same(a, b) -> None:
    assert set(a.tables) == set(b.tables)
    for t in a.tables:
        pd.testing.assert_frame_equal(a.tables[t].reset_index(drop=True), b.tables[t].reset_index(drop=True),
                                      check_exact=True, obj=t)
    assert (a.name, a.description, a.as_of, a.meta) == (b.name, b.description, b.as_of, b.meta)


def _header(ws) -> list[str]:
    return [c.value for c in ws[1]]


def _column(ws, name: str) -> list:
    k = _header(ws).index(name)
    return [row[k].value for row in ws.iter_rows(min_row=2)]


@pytest.mark.slow
def test_every_example_round_trips_through_a_workbook(tmp_path: Path) -> None:
    for name, f in examples.ALL.items():
        sc = f()
        _same(load(save(sc, tmp_path / f"{name}.xlsx")), sc)


@pytest.mark.slow
def test_numbers_are_numbers_dates_are_dates_ids_stay_text_and_names_sit_beside_ids(tmp_path: Path) -> None:
    sc = examples.donated_city()
    stock = sc.stock.copy()
    stock["expires"] = pd.to_datetime(["2020-06-30", None, "2021-01-01", None])
    sc = sc.replace(stock=stock)
    old = str(sc.items.item_id.iloc[0])  # becomes an id that looks like a number
    sc = sc.replace(**{t: df.replace({c: {old: "007"} for c in ("item_id", "substitute_id") if c in df.columns})
                       for t, df in sc.tables.items()})
    wb = openpyxl.load_workbook(save(sc, tmp_path / "city.xlsx"))
    ws = wb["needs"]
    assert _header(ws) == ["site_id", "site_name", "item_id", "item_name", "quantity"]
    site_names = dict(zip(sc.sites.site_id, sc.sites.name))
    assert _column(ws, "site_name") == [site_names[s] for s in sc.needs.site_id]
    q = _column(ws, "quantity")
    assert all(type(v) is int for v in q) and sum(q) == int(sc.needs.quantity.sum())
    st = wb["stock"]
    assert all(type(v) is int for v in _column(st, "quantity"))
    assert [type(v) for v in _column(st, "expires")] == [datetime, type(None), datetime, type(None)]
    k = _header(st).index("expires")
    assert st.cell(row=2, column=k + 1).number_format == "yyyy-mm-dd"
    assert "depot_name" in _header(st) and "item_name" in _header(st)
    it = wb["items"]
    assert "item_name" not in _header(it)  # its own name is beside it already
    assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in _column(it, "unit_weight_kg"))
    ids = [c for c in next(it.iter_cols(min_row=2, max_col=1))]
    assert ids[0].value == "007" and ids[0].data_type == "s"
    # and it comes back exactly as the same scenario read from CSV files
    _same(load(tmp_path / "city.xlsx"), load(save(sc, tmp_path / "city")))


def test_a_formula_in_a_name_survives_as_text(tmp_path: Path) -> None:
    sc = examples.donated_city()
    evil = '=HYPERLINK("http://evil.example/x","click")'
    dons = sc.donations.copy()
    dons.loc[0, "donor"] = evil
    dons.loc[1, "note"] = "@SUM(A1:A9)"
    sites = sc.sites.copy()
    sites.loc[0, "name"] = "+cmd|' /C calc'!A0"
    sc = sc.replace(donations=dons, sites=sites)
    p = save(sc, tmp_path / "evil.xlsx")
    wb = openpyxl.load_workbook(p)
    donor = wb["donations"].cell(row=2, column=_header(wb["donations"]).index("donor") + 1)
    assert donor.data_type == "s" and donor.value == "'" + evil
    # no cell anywhere in the workbook is a formula
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            assert all(c.data_type != "f" for c in row), ws.title
    # the name written beside a site id is escaped too
    needs_names = _column(wb["needs"], "site_name")
    assert "'+cmd|' /C calc'!A0" in needs_names
    back = load(p)
    assert back.donations.donor.iloc[0] == evil and back.donations.note.iloc[1] == "@SUM(A1:A9)"
    _same(back, sc)


@pytest.mark.slow
@pytest.mark.skipif(not DEMO.is_dir(), reason="the demo scenario has not landed")
def test_export_edit_reimport_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALLOCATOR_DATABASE_URL", f"sqlite:///{tmp_path / 'day.db'}")
    demo = load(DEMO)
    # a folder to a workbook, without the database
    assert cli.main(["export", "--from", str(DEMO), "demo.xlsx"]) == 0
    assert not (tmp_path / "day.db").exists()
    _same(load(tmp_path / "demo.xlsx"), demo)
    assert cli.main(["import", "demo.xlsx"]) == 0
    assert "into an empty database" in capsys.readouterr().out
    # the database to a workbook; an officer edits one need and drops another, then re-imports
    assert cli.main(["export", "book.xlsx"]) == 0
    wb = openpyxl.load_workbook(tmp_path / "book.xlsx")
    ws = wb["needs"]
    h = _header(ws)
    first = [c.value for c in ws[2]]
    ws.cell(row=2, column=h.index("quantity") + 1, value=first[h.index("quantity")] + 100)
    ws.delete_rows(3)
    wb.save(tmp_path / "book.xlsx")
    capsys.readouterr()
    assert cli.main(["import", "book.xlsx"]) == 0
    out = capsys.readouterr().out
    assert "as a stock take" in out
    assert "  needs: 0 added, 1 removed, 1 changed," in out
    assert "stock:" not in out and "sites:" not in out  # nothing else changed
    assert "needs: 0 new request(s), 1 replaced" in out
    back = load(tmp_path / "book.xlsx")
    expect = demo.needs.drop(index=1).reset_index(drop=True)
    expect.loc[0, "quantity"] += 100
    pd.testing.assert_frame_equal(back.needs.reset_index(drop=True), expect)


@pytest.mark.slow
@pytest.mark.skipif(not DEMO.is_dir(), reason="the demo scenario has not landed")
def test_round_out_xlsx_writes_one_typed_workbook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.xlsx"
    assert cli.main(["round", str(DEMO), "--out", str(out)]) == 0
    assert out.is_file()
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["allocations", "fill", "routes", "donation_usage", "summary"]
    al = wb["allocations"]
    assert _header(al)[:4] == ["lot_id", "depot_id", "depot_name", "site_id"]
    assert "site_name" in _header(al) and "need_item_name" in _header(al)
    assert all(type(v) is int for v in _column(al, "quantity"))
    fill = wb["fill"]
    assert all(isinstance(v, int | float) for v in _column(fill, "need"))
    # the workbook holds what the folder output holds
    folder = tmp_path / "r"
    assert cli.main(["round", str(DEMO), "--out", str(folder)]) == 0
    csv = pd.read_csv(folder / "allocations.csv", dtype={"lot_id": str})
    assert sum(_column(al, "quantity")) == int(csv.quantity.sum())
    assert _column(wb["summary"], "summary")[0] == (folder / "summary.txt").read_text(encoding="utf-8").splitlines()[0]
