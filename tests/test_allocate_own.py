"""Own item before substitutes (priority 1b) and locks that count toward their own item (Overrides).

Every round passes the independent checker (:func:`allocator.testing.check_round`), which
recomputes priority 1b from the output tables; one test shows the checker catches a round that
breaks it.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil

import pandas as pd
import pytest

from allocator import Lock, allocate, examples
from allocator.allocate.prepare import as_locks
from allocator.cli import main
from allocator.commands.round import parse_lock
from allocator.errors import LockError
from allocator.scenario import load, save
from allocator.testing import check_round


def run(sc, **kw):
    r = allocate(sc, **kw)
    problems = check_round(sc, r, kw.get("travel"))
    assert problems == [], problems
    return r


def fill(r) -> pd.Series:
    return r.fill.set_index(["site_id", "item_id"]).filled


def substitutes_at_short_own(r) -> list:
    """(site, item) where the site is short of an item that covers another of its needs."""
    a, f = r.allocations, r.fill.set_index(["site_id", "item_id"])
    sub = a[a.item_id != a.need_item_id].groupby(["site_id", "item_id"]).quantity.sum()
    return [(s, i) for (s, i), q in sub.items() if q > 0 and f.shortage.get((s, i), 0) > 0]


@pytest.mark.parametrize("n95", [600, 1200, 1999, 2500, 3000])
def test_own_item_before_substitutes(n95):
    r = run(examples.own_item_first(n95=n95))
    f = fill(r)
    own = min(n95, 2000)
    assert f[("H1", "n95")] + f[("H2", "n95")] == own  # every respirator goes to respirator needs first
    assert f[("H2", "mask")] == min(max(n95 - 2000, 0), 1000)
    assert substitutes_at_short_own(r) == []


def test_checker_catches_a_round_that_breaks_own_item_first():
    sc = examples.own_item_first(n95=1200)
    r = run(sc)
    # book 300 of H2's respirators against its masks: H2 is then short of respirators it receives
    a = r.allocations.copy()
    k = a.index[(a.site_id == "H2") & (a.need_item_id == "n95")][0]
    a.loc[k, "quantity"] -= 300
    moved = a.loc[[k]].assign(need_item_id="mask", quantity=300)
    a = pd.concat([a, moved], ignore_index=True)
    f = r.fill.copy().set_index(["site_id", "item_id"])
    f.loc[("H2", "n95"), ["filled", "shortage"]] = [300, 700]
    f.loc[("H2", "mask"), ["filled", "shortage"]] = [300, 700]
    bad = dataclasses.replace(r, allocations=a, fill=f.reset_index()[r.fill.columns])
    problems = check_round(sc, bad)
    assert any(p.startswith("own item: 300 n95 of lot L1 cover mask at H2") for p in problems), problems


@pytest.mark.slow
def test_demo_no_site_short_of_an_item_it_receives_for_another_need(demo_path):
    sc = load(demo_path)
    r = run(sc)
    assert substitutes_at_short_own(r) == []
    f = r.fill.set_index(["site_id", "item_id"])
    assert f.at[("H01", "n95"), "shortage"] == 0  # Jinyintan receives its earmarked N95
    a = r.allocations
    assert a[(a.site_id == "H01") & (a.item_id == "n95")].quantity.sum() >= 3000


@pytest.mark.slow
def test_demo_lock_never_lowers_the_locked_fill(demo_path):
    sc = load(demo_path)
    before = fill(run(sc))
    lk = Lock("D02", "H09", "n95", 2000)
    r = run(sc, locks=[lk])
    after = fill(r)
    need = int(r.fill.set_index(["site_id", "item_id"]).at[("H09", "n95"), "need"])
    assert after[("H09", "n95")] >= min(lk.quantity, need)
    assert after[("H09", "n95")] >= before[("H09", "n95")]


@pytest.mark.parametrize("locked", [300, 1000, 1500])
def test_lock_counts_toward_its_own_item_first(locked):
    # H2 needs 1,000 respirators and 1,000 masks; a lock of respirators covers its respirators first
    sc = examples.own_item_first(n95=3000)
    r = run(sc, locks=[("D1", "H2", "n95", locked)])
    a = r.allocations
    own = a[(a.site_id == "H2") & (a.item_id == "n95") & (a.need_item_id == "n95")].quantity.sum()
    assert own >= min(locked, 1000)
    assert fill(r)[("H2", "n95")] >= min(locked, 1000)


@pytest.mark.parametrize("bad, match", [
    (lambda: Lock("D1", "H1", "n95", 2.5), "whole number"),
    (lambda: Lock("D1", "H1", "n95", -3), "whole number"),
    (lambda: Lock("D1", "", "n95", 3), "non-empty id"),
    (lambda: as_locks([("D1", "H1", "n95", "5")]), "not text"),
    (lambda: as_locks([("D1", "H1", "n95")]), "got 3 value"),
    (lambda: as_locks([("D1", "H1", "n95", 5), Lock("D1", "H1", "n95", 5)]), "same depot, site and item"),
    (lambda: allocate(examples.two_hospitals(), locks=[("D1", "H1", "n95", 5), ("D1", "H1", "n95", 5)]),
     "same depot, site and item"),
    (lambda: allocate(examples.two_hospitals(), locks=[("D1", "H1", "n95", 2.5)]), "whole number"),
    (lambda: allocate(examples.two_hospitals(), locks=[("DX", "H1", "n95", 5)]), "no depot DX"),
])
def test_bad_locks_are_typed_errors(bad, match):
    with pytest.raises(LockError, match=match):
        bad()


def test_whole_float_lock_is_an_int():
    lk = Lock("D1", "H1", "n95", 700.0)
    assert lk.quantity == 700 and isinstance(lk.quantity, int)


def test_locks_csv_is_validated_like_any_table(tmp_path):
    p = save(examples.own_item_first(), tmp_path / "sc")
    (p / "locks.csv").write_text("depot_id,site_id,item_id,quantity\n"
                                 "D1,H1,n95,2.5\nD1,H2,n95,-1\nD1,H2,mask,lots\nDX,H9,zz,3\nD1,H1,n95,4\n")
    from allocator.validate import validate

    text = [str(x) for x in validate(p).errors]
    for want in ["locks.csv:2: quantity", "2.5", "locks.csv:3: quantity", "locks.csv:4: quantity",
                 "locks.csv:5: depot_id", "locks.csv:5: site_id", "locks.csv:5: item_id",
                 "locks.csv:6: item_id: duplicate (depot_id, site_id, item_id) triple"]:
        assert any(want in t for t in text), (want, text)
    out = tmp_path / "out"
    assert main(["round", str(p), "--out", str(out)]) == 2
    assert not out.exists()


@pytest.mark.slow
def test_the_four_lock_sources_mean_the_same(tmp_path):
    sc = examples.own_item_first(n95=3000)
    lk = ("D1", "H2", "n95", 1500)
    lib_tuple = allocate(sc, locks=[lk])
    lib_lock = allocate(sc, locks=[Lock(*lk)])
    p = save(sc, tmp_path / "sc")
    (p / "locks.csv").write_text("depot_id,site_id,item_id,quantity\nD1,H2,n95,1500\n")
    sc_csv = load(p)
    from_csv = run(sc_csv)
    assert main(["round", str(save(sc, tmp_path / "plain")), "--out", str(tmp_path / "o1"),
                 "--lock", "D1,H2,n95,1500"]) == 0
    assert main(["round", str(p), "--out", str(tmp_path / "o2")]) == 0
    cols = ["site_id", "item_id", "filled"]
    ref = lib_tuple.fill[cols].reset_index(drop=True)
    for other in (lib_lock.fill, from_csv.fill, pd.read_csv(tmp_path / "o1" / "fill.csv"),
                  pd.read_csv(tmp_path / "o2" / "fill.csv")):
        pd.testing.assert_frame_equal(other[cols].reset_index(drop=True).astype(ref.dtypes.to_dict()), ref)
    # a round from locks.csv ships each locked quantity (the checker reads the locks from the summary)
    a = from_csv.allocations
    assert a[(a.depot_id == "D1") & (a.site_id == "H2") & (a.item_id == "n95")].quantity.sum() == 1500
    assert from_csv.summary["locks"] == [dict(zip(["depot_id", "site_id", "item_id", "quantity"], lk))]


@pytest.mark.slow
def test_demo_round_from_locks_csv_ships_each_lock(demo_path, tmp_path):
    p = tmp_path / "demo"
    shutil.copytree(demo_path, p)
    (p / "locks.csv").write_text("depot_id,site_id,item_id,quantity\n"
                                 "D02,H09,n95,2000\nD01,H01,surgical_mask,5000\nD03,F01,pcr_test_kit,0\n")
    sc = load(p)
    r = run(sc)  # the checker verifies every lock ships exactly its quantity
    a = r.allocations
    for d, s, i, q in [("D02", "H09", "n95", 2000), ("D01", "H01", "surgical_mask", 5000), ("D03", "F01", "pcr_test_kit", 0)]:
        assert a[(a.depot_id == d) & (a.site_id == s) & (a.item_id == i)].quantity.sum() == q


@pytest.mark.parametrize("text", ["D1,H1,n95", "D1,H1,n95,2.5", "D1,H1,n95,-4", "D1,H1,n95,many", "D1,,n95,4"])
def test_cli_bad_lock_is_exit_2(text, tmp_path, capsys):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_lock(text)
    p = save(examples.own_item_first(), tmp_path / "sc")
    with pytest.raises(SystemExit) as e:
        main(["round", str(p), "--out", str(tmp_path / "o"), "--lock", text])
    assert e.value.code == 2
    assert "--lock" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_duplicate_lock_is_exit_2(tmp_path, capsys):
    p = save(examples.own_item_first(), tmp_path / "sc")
    (p / "locks.csv").write_text("depot_id,site_id,item_id,quantity\nD1,H2,n95,10\n")
    assert main(["round", str(p), "--out", str(tmp_path / "o"), "--lock", "D1,H2,n95,20"]) == 2
    assert "same depot, site and item" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_checker_catches_a_lock_booked_against_substitutes():
    sc = examples.own_item_first(n95=3000)
    r = run(sc, locks=[("D1", "H2", "n95", 800)])
    a = r.allocations.copy()
    k = a.index[(a.site_id == "H2") & (a.need_item_id == "n95") & (a.depot_id == "D1")][0]
    a.loc[k, "quantity"] -= 100
    a = pd.concat([a, a.loc[[k]].assign(need_item_id="mask", quantity=100)], ignore_index=True)
    bad = dataclasses.replace(r, allocations=a)
    assert any(p.startswith("lock: 800 locked n95 to H2 cover only") for p in check_round(sc, bad))


def test_cli_lock_with_an_unknown_depot_is_exit_2(tmp_path, capsys):
    p = save(examples.own_item_first(), tmp_path / "sc")
    assert main(["round", str(p), "--out", str(tmp_path / "o"), "--lock", "DX,H2,n95,20"]) == 2
    assert "there is no depot DX" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
