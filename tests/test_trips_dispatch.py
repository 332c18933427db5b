"""``rounds dispatch --trips-out``: the trip sheet carries the database's trip numbers (issue 10).

The sheet is written after the trips are stored; each stop's ``trip_id`` is the
stored trip of its depot and site, and ``rounds deliver --trip`` accepts it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from allocator import cli, examples
from allocator.scenario import save
from allocator.store import make_engine, transaction
from allocator.store import models as m


def test_dispatch_sheet_trip_ids_are_the_stored_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'd.db'}"
    monkeypatch.setenv("ALLOCATOR_DATABASE_URL", url)
    monkeypatch.setenv("PW", "pw")
    me = ("--user", "li", "--password-env", "PW")
    save(examples.ring_road(), tmp_path / "scenario")
    assert cli.main(["import", "scenario"]) == 0
    assert cli.main(["users", "add", "li", "--role", "officer", "--role", "approver", "--password-env", "PW"]) == 0
    assert cli.main(["rounds", "create", *me]) == 0
    assert cli.main(["rounds", "approve", "1", *me]) == 0
    capsys.readouterr()
    assert cli.main(["rounds", "dispatch", "1", "--trips-out", "sheet", *me]) == 0
    cap = capsys.readouterr()
    assert "trips: " in cap.err  # progress on standard error
    sheet = pd.read_csv(tmp_path / "sheet" / "trips.csv", dtype={"site_id": str, "depot_id": str})
    man = pd.read_csv(tmp_path / "sheet" / "trip_manifest.csv", dtype={"site_id": str, "lot_id": str})
    eng = make_engine(url)
    with transaction(eng) as s:
        stored = {(t.depot_id, t.site_id): t.id for t in s.scalars(select(m.Trip).where(m.Trip.round_id == 1))}
        lines = {(a.trip_id, a.lot_id, a.item_id): a.quantity
                 for a in s.scalars(select(m.Allocation).where(m.Allocation.round_id == 1))}
    eng.dispose()
    assert len(sheet) and set(sheet.trip_id) == set(stored.values())
    assert list(sheet.trip_id) == [stored[(d, s)] for d, s in zip(sheet.depot_id, sheet.site_id)]
    # the manifest lines of each stored trip add up to its allocation lines
    got = man.groupby(["trip_id", "lot_id", "item_id"]).quantity.sum().to_dict()
    assert got == lines
    # times to the second, manifests item=quantity
    assert sheet.arrival.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert sheet.manifest.str.fullmatch(r"[a-z0-9_]+=\d+(;[a-z0-9_]+=\d+)*").all()
    assert f"({len(stored)} trip(s) on " in cap.out
    # the number on the sheet is the one `rounds deliver --trip` takes
    first = int(sheet.trip_id.iloc[0])
    assert cli.main(["rounds", "deliver", "1", "--trip", str(first), *me]) == 0
