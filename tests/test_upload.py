"""Uploaded scenarios (zip of CSV files, xlsx workbooks) and edited tables, checked before storing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from allocator import examples
from allocator.scenario import load, save
from allocator.upload import (
    ROW_COLUMN,
    apply_delta,
    check_edits,
    check_upload,
    problem_rows,
    text_tables,
    xlsx_bytes,
)


def _zip(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _folder_files(path: Path, prefix: str = "") -> dict[str, bytes]:
    return {f"{prefix}{p.name}": p.read_bytes() for p in path.iterdir() if p.is_file()}


@pytest.fixture
def two(tmp_path: Path) -> Path:
    return save(examples.two_hospitals(), tmp_path / "two")


def test_a_zip_flat_or_one_folder_deep_reads_like_the_folder(two: Path) -> None:
    want = load(two)
    for prefix in ("", "day/"):
        c = check_upload("day.zip", _zip(_folder_files(two, prefix)))
        assert c.ok, c.report
        assert c.scenario.needs.quantity.tolist() == want.needs.quantity.tolist()
        assert c.scenario.name == want.name


def test_a_workbook_with_a_changed_need_reads_back(tmp_path: Path) -> None:
    sc = examples.two_hospitals()
    needs = sc.needs.copy()
    needs.loc[0, "quantity"] = 123
    data = xlsx_bytes(sc.replace(needs=needs))
    c = check_upload("day.xlsx", data)
    assert c.ok, c.report
    assert c.scenario.needs.quantity.tolist() == [123, 800]


def test_unsafe_or_broken_zips_are_problems_not_files(two: Path, tmp_path: Path) -> None:
    files = _folder_files(two)
    # a path that climbs out, or is too deep, is never written anywhere
    evil = _zip({**files, "../../etc/needs.csv": "x", "a/b/c/sites.csv": "y"})
    c = check_upload("evil.zip", evil)
    assert not c.ok
    msgs = [p.message for p in c.report.errors]
    assert any("one folder" in m for m in msgs)
    assert not (tmp_path.parent.parent / "etc" / "needs.csv").exists()
    twice = _zip({**files, "copy/needs.csv": files["needs.csv"]})
    assert any("appears twice" in p.message for p in check_upload("twice.zip", twice).report.errors)
    assert [p.file for p in check_upload("bad.zip", b"PK\x03\x04 nope").report.errors] == ["bad.zip"]
    assert any("no scenario file" in p.message for p in check_upload("e.zip", _zip({"README": "hi"})).report.errors)
    assert any(".zip of CSV" in p.message for p in check_upload("day.csv", b"a,b").report.errors)
    assert any(".xlsx" in p.message for p in check_upload("day.xlsx", b"not a workbook").report.errors)


def test_every_planted_problem_is_reported_with_file_row_column_and_cell(two: Path) -> None:
    files = _folder_files(two)
    needs = files["needs.csv"].decode().splitlines()
    needs[1] = needs[1].rsplit(",", 1)[0] + ",-3"      # row 2: negative quantity
    needs[2] = "NOPE," + needs[2].split(",", 1)[1]     # row 3: unknown site
    files["needs.csv"] = ("\n".join(needs) + "\n").encode()
    c = check_upload("day.zip", _zip(files))
    got = {(p.file, p.row, p.column, p.value) for p in c.report.errors}
    assert ("day.zip:needs.csv", 2, "quantity", "-3") in got
    assert ("day.zip:needs.csv", 3, "site_id", "NOPE") in got
    assert c.scenario is None and not c.ok
    rows, by_row = problem_rows(c, "needs")
    assert rows[ROW_COLUMN].tolist() == [2, 3] and set(by_row) == {2, 3}
    assert rows.site_id.tolist()[1] == "NOPE"


def test_apply_delta_edits_adds_and_deletes_as_text() -> None:
    f = pd.DataFrame({"a": ["1", "2", "3"], "b": ["x", "y", "z"]})
    out = apply_delta(f, {"edited_rows": {0: {"a": 10}, "2": {"b": None}}, "added_rows": [{"a": 4, "b": "w"}],
                          "deleted_rows": [1]})
    assert out.values.tolist() == [["10", "x"], ["3", ""], ["4", "w"]]
    assert apply_delta(f, {}).equals(f)


def test_edits_are_checked_like_a_file() -> None:
    sc = examples.two_hospitals()
    text = text_tables(sc)
    needs = text.tables["needs"]
    bad = apply_delta(needs, {"added_rows": [{"site_id": "H9", "item_id": "n95", "quantity": "5"}]})
    c = check_edits(sc, needs=bad)
    assert [(p.file, p.row, p.column) for p in c.report.errors] == [("needs.csv", 4, "site_id")]
    good = apply_delta(needs, {"edited_rows": {1: {"quantity": "50"}}})
    ok = check_edits(sc, needs=good)
    assert ok.ok and ok.scenario.needs.quantity.tolist() == [800, 50]
    # nothing else changed
    assert ok.scenario.stock.equals(sc.stock)
