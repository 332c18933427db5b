"""``allocator diff``: per site and item what changed between two rounds, and why."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from allocator import allocate, examples
from allocator.allocate.diff import WHY, compare
from allocator.cli import main
from allocator.scenario import load, save


@pytest.mark.slow
def test_raising_one_clinic_request_shows_the_other_sites_cuts(demo_path, tmp_path, capsys):
    b = tmp_path / "b"
    shutil.copytree(demo_path, b)
    needs = pd.read_csv(b / "needs.csv", dtype=str, keep_default_na=False)
    sites = load(demo_path).sites.set_index("site_id")
    row = (needs.site_id == "C01") & (needs.item_id == "pcr_test_kit")
    assert sites.at["C01", "kind"] == "fever_clinic" and needs.loc[row, "quantity"].tolist() == ["10"]
    needs.loc[row, "quantity"] = "400"
    needs.to_csv(b / "needs.csv", index=False)
    assert main(["round", str(demo_path), "--out", str(tmp_path / "ra")]) == 0
    assert main(["round", str(b), "--out", str(tmp_path / "rb")]) == 0
    capsys.readouterr()
    assert main(["diff", str(tmp_path / "ra"), str(tmp_path / "rb"), "--csv", str(tmp_path / "d.csv")]) == 0
    out = capsys.readouterr().out
    d = compare(tmp_path / "ra", tmp_path / "rb")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "d.csv", keep_default_na=False), d,
                                  check_dtype=False)
    # recomputed from the two fill tables: every kit need of tier 2 other than C01 that got fewer kits
    fa = pd.read_csv(tmp_path / "ra" / "fill.csv").set_index(["site_id", "item_id"])
    fb = pd.read_csv(tmp_path / "rb" / "fill.csv").set_index(["site_id", "item_id"])
    cut = [s for (s, i) in fa.index if i == "pcr_test_kit" and fa.at[(s, i), "tier"] == 2 and s != "C01"
           and fb.at[(s, i), "filled"] < fa.at[(s, i), "filled"]]
    assert len(cut) >= 10  # the kits of many tier-2 sites are cut
    got = d[(d.item_id == "pcr_test_kit") & (d.change < 0)]
    assert sorted(got.site_id) == sorted(cut)
    assert set(got.why) == {"competition"} and got.detail.str.contains("C01").all()
    me = d[(d.site_id == "C01") & (d.item_id == "pcr_test_kit")].iloc[0]
    assert (me.need_before, me.need_after, me.why) == (10, 400, "need") and me.change > 0
    for s in cut:
        assert f"  - {s} pcr_test_kit (tier 2): " in out
    assert (d.why != "").all() and set(d.why) <= set(WHY)


def test_lock_and_exclusion_explained():
    sc = examples.two_hospitals()
    a = allocate(sc)
    d = compare(a, allocate(sc, locks=[("D1", "H1", "n95", 700)])).set_index("site_id")
    assert d.loc["H1", ["before", "after", "why"]].tolist() == [500, 700, "lock"]
    assert d.loc["H2", ["before", "after", "why"]].tolist() == [500, 300, "lock"]
    d = compare(a, allocate(sc, exclude=["H2"])).set_index("site_id")
    assert d.loc["H2", "why"] == "excluded" and d.loc["H2", "after"] == 0
    assert d.loc["H1", "why"] == "competition" and d.loc["H1", "after"] == 800
    d = compare(a, allocate(sc, exclude=["D1"])).set_index("site_id")
    assert set(d.why) == {"excluded"}


def test_identical_rounds_have_no_changes(tmp_path):
    sc = examples.grades_and_earmarks()
    allocate(sc).write(tmp_path / "a")
    allocate(sc).write(tmp_path / "b")
    assert compare(tmp_path / "a", tmp_path / "b").empty
    full = compare(tmp_path / "a", tmp_path / "b", changed_only=False)
    assert len(full) == len(sc.needs) and (full.why == "").all() and (full.change == 0).all()


def test_not_a_round_folder(tmp_path, capsys):
    src = save(examples.two_hospitals(), tmp_path / "sc")
    assert main(["diff", str(src), str(src)]) == 1
    assert "not a round folder" in capsys.readouterr().err


def test_rounds_in_the_database_are_compared_by_id(tmp_path, monkeypatch, capsys):
    from allocator import cli
    from allocator.store import (
        add_user,
        create_round,
        current_scenario,
        import_scenario,
        open_db,
        transaction,
    )

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    sc = examples.two_hospitals()
    eng = open_db(url)
    with transaction(eng) as s:
        import_scenario(s, sc)
        add_user(s, "li", "pw", ["officer"])
    for locks in ((), [("D1", "H1", "n95", 700)]):
        r = allocate(sc, locks=locks)
        with transaction(eng) as s:
            create_round(s, current_scenario(s), r.allocations, r.fill, r.summary, "li")
    eng.dispose()
    out = tmp_path / "d.csv"
    assert cli.main(["diff", "1", "2", "--db", url, "--csv", str(out)]) == 0
    got = pd.read_csv(out).set_index("site_id")
    want = compare(allocate(sc), allocate(sc, locks=[("D1", "H1", "n95", 700)])).set_index("site_id")
    assert got.loc["H1", ["before", "after", "why"]].tolist() == want.loc["H1", ["before", "after", "why"]].tolist()
    assert got.loc["H2", "why"] == "lock"
