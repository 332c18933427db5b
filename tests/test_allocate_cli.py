"""``allocator round``: the contract's files, --json, and exit 2 with nothing written on an invalid scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from allocator import examples
from allocator.cli import main
from allocator.scenario import save

FILES = {"allocations.csv", "fill.csv", "routes.csv", "donation_usage.csv", "summary.json"}


def test_round_writes_the_contract(tmp_path, capsys):
    src = save(examples.grades_and_earmarks(), tmp_path / "sc")
    out = tmp_path / "out"
    assert main(["round", str(src), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert FILES <= {p.name for p in out.iterdir()}
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["status"] == "optimal" and summary["counts"]["needs"] == 5
    fill = pd.read_csv(out / "fill.csv", keep_default_na=False)
    assert fill.set_index(["site_id", "item_id"]).loc[("H1", "mask"), "reason"] == "earmarked"
    usage = pd.read_csv(out / "donation_usage.csv")
    alloc = pd.read_csv(out / "allocations.csv")
    assert usage.quantity.sum() == alloc[alloc.lot_id.isin(["L_MASK", "L_CIVIL"])].quantity.sum()


def test_round_at_and_solver(tmp_path, capsys):
    src = save(examples.grades_and_earmarks(), tmp_path / "sc")
    # on 2020-01-15 the test kits have not expired yet
    assert main(["round", str(src), "--out", str(tmp_path / "o"), "--at", "2020-01-15T08:00", "--solver", "cbc"]) == 0
    assert "written to" in capsys.readouterr().out
    fill = pd.read_csv(tmp_path / "o" / "fill.csv", keep_default_na=False).set_index(["site_id", "item_id"])
    assert fill.loc[("H1", "kit"), "filled"] == 50


def test_invalid_scenario_exit_2_nothing_written(tmp_path, capsys):
    src = save(examples.two_hospitals(), tmp_path / "sc")
    needs = pd.read_csv(src / "needs.csv", dtype=str)
    needs.loc[0, "quantity"] = "-5"
    needs.loc[1, "site_id"] = "NOWHERE"
    needs.to_csv(src / "needs.csv", index=False)
    out = tmp_path / "out"
    assert main(["round", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "needs.csv:2: quantity" in err and "needs.csv:3: site_id" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["sc"]


def test_impossible_exclusion_exit_1(tmp_path, capsys):
    src = save(examples.two_hospitals(), tmp_path / "sc")
    assert main(["round", str(src), "--out", str(tmp_path / "o"), "--exclude", "NOPE"]) == 1
    assert "no site or depot" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


DEMO = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "wuhan-2020-02-10"


@pytest.mark.skipif(not DEMO.is_dir(), reason="the demo scenario is not in this checkout")
def test_demo_scenario_end_to_end(tmp_path, capsys):
    from allocator.allocate.result import FILES as OUT_FILES
    from allocator.scenario import load
    from allocator.testing import check_round

    out = tmp_path / "wuhan"
    assert main(["round", str(DEMO), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert FILES <= {p.name for p in out.iterdir()}
    sc = load(DEMO)
    fill = pd.read_csv(out / "fill.csv", keep_default_na=False)
    assert len(fill) == len(sc.needs) == summary["counts"]["needs"]
    assert ((fill.shortage > 0) == (fill.reason != "")).all()
    assert fill.filled.sum() > 0
    # the written tables are the library's tables, and they pass every rule
    from allocator import allocate

    r = allocate(sc)
    assert check_round(sc, r) == []
    for name, attr in OUT_FILES.items():
        assert len(pd.read_csv(out / name)) == len(getattr(r, attr)), name
    assert summary["totals"]["filled"] == pytest.approx(r.summary["totals"]["filled"])


def test_round_folder_has_the_usual_permissions(tmp_path):
    import os
    import stat

    from allocator import allocate

    mask = os.umask(0o027)
    try:
        out = allocate(examples.two_hospitals()).write(tmp_path / "out")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o750  # group may read, as with mkdir under umask 027
    assert stat.S_IMODE((out / "fill.csv").stat().st_mode) == 0o640
