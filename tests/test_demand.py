"""Demand estimation: norms, estimates, review flags, burn rates, the needs command."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator import demand, examples, schema
from allocator.cli import main
from allocator.errors import ScenarioError
from allocator.scenario import load, save

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def norms() -> demand.Norms:
    return demand.load_norms()


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    df = pd.read_csv(demand.default_norms_path(), dtype=str, keep_default_na=False)
    return df.assign(value=df.value.astype(float))


def _norm(rows: pd.DataFrame, table: str, who: str, what: str) -> float:
    """One number of the norms file, read straight from its rows (0 when absent)."""
    hit = rows[(rows.table == table) & (rows.who == who) & (rows.what == what)]
    assert len(hit) <= 1
    return float(hit.value.iloc[0]) if len(hit) else 0.0


# --------------------------------------------------------------------------- the norms table


def test_norms_table_is_one_file_with_a_source_for_every_number(rows):
    top = ROOT / "data" / "norms.csv"
    assert top.read_bytes() == demand.default_norms_path().read_bytes()
    assert (rows.source.str.strip() != "").all()
    # every number is either cited or marked as an assumption
    cited = rows.source.str.contains("WHO ESFT 2022.1") | rows.source.str.startswith(("assumption", "definition"))
    assert cited.all(), rows[~cited]


def test_norms_carry_the_esft_figures_of_domain_md(rows):
    # the ESFT table of domain.md, written out by hand
    esft = {
        ("inpatient_health_worker", "gown"): 1, ("inpatient_health_worker", "gloves"): 24,
        ("inpatient_health_worker", "mask"): 4, ("inpatient_health_worker", "respirator"): 1,
        ("inpatient_health_worker", "eye_protection"): 1 + 0.1,
        ("inpatient_cleaner", "gown"): 1, ("inpatient_cleaner", "mask"): 4,
        ("inpatient_cleaner", "eye_protection"): 1 + 0.1, ("inpatient_cleaner", "gloves"): 0,
        ("ambulance_crew", "gown"): 1, ("ambulance_crew", "gloves"): 4, ("ambulance_crew", "mask"): 4,
        ("ambulance_crew", "eye_protection"): 0.1,
        ("screening_health_worker", "gown"): 2, ("screening_health_worker", "gloves"): 8,
        ("screening_health_worker", "mask"): 4, ("screening_health_worker", "eye_protection"): 0.1,
        ("lab_technician", "gown"): 2, ("lab_technician", "gloves"): 8, ("lab_technician", "mask"): 4,
        ("lab_technician", "eye_protection"): 2 + 0.067,
        ("severe", "mask"): 2, ("critical", "mask"): 2, ("mild", "mask"): 1, ("moderate", "mask"): 1,
    }
    for (who, cat), v in esft.items():
        assert _norm(rows, "use", who, cat) == pytest.approx(v), (who, cat)
    assert _norm(rows, "staffing", "critical", "inpatient_health_worker") == 4
    assert _norm(rows, "staffing", "severe", "inpatient_health_worker") == 2.3
    split = [_norm(rows, "severity_mix", "backup_hospital", g) for g in ("mild", "moderate", "severe", "critical")]
    assert split == [0.4, 0.4, 0.15, 0.05]


def test_every_site_kind_has_mixes_summing_to_one(norms):
    for kind in schema.SITE_KINDS:
        assert norms.severity_mix.loc[kind].sum() == pytest.approx(1)
        assert norms.role_mix.loc[kind].sum() == pytest.approx(1)


# --------------------------------------------------------------------------- the 100-bed hospital


def test_hundred_bed_hospital_daily_use_matches_hand_calculation(rows):
    sc = examples.demand_hospital()
    site = sc.sites.iloc[0]
    assert (site.kind, site.beds, site.patients, site.staff) == ("designated_hospital", 100, 80, 150)
    est = demand.estimate(sc, days_of_cover=3).set_index("item_id")

    # fully hand-written: 120 health workers, 15 cleaners, 7.5 lab, 7.5 ambulance, 80 patients
    assert est.at["mask", "daily_use"] == 120 * 4 + 15 * 4 + 7.5 * 4 + 7.5 * 4 + 80 * 2 == 760
    assert est.at["gloves", "daily_use"] == 120 * 24 + 7.5 * 8 + 7.5 * 4 == 2970

    # every category, recomputed from the norms rows
    staff, patients = 150, 80
    people = {r: staff * _norm(rows, "role_mix", "designated_hospital", r) for r in demand.ROLES}
    people |= {g: patients * _norm(rows, "severity_mix", "designated_hospital", g) for g in demand.GROUPS}
    primary = demand.primary_items(sc)
    for cat, item in primary.items():
        expected = sum(n * _norm(rows, "use", who, cat) for who, n in people.items())
        assert est.at[item, "daily_use"] == pytest.approx(expected, rel=1e-12), cat
        on_hand = est.at[item, "on_hand"]
        assert est.at[item, "estimate"] == max(0, math.ceil(round(3 * expected - on_hand, 6)))
    assert (est.origin == "estimated").all()
    assert (est.need == est.estimate).all()
    # on hand is the latest count (1,520 on 10 Feb): 3 x 760 - 1,520
    assert est.at["mask", "on_hand"] == 1520
    assert est.at["mask", "estimate"] == 760


def test_staff_from_staffing_ratios_when_not_given(rows):
    sc = examples.demand_hospital()
    sites = sc.sites.assign(staff=pd.array([pd.NA], dtype="Int64"))
    p = demand.site_people(sc.replace(sites=sites)).iloc[0]
    severe, critical = 60, 20
    for role in demand.ROLES:
        expected = severe * _norm(rows, "staffing", "severe", role) + critical * _norm(rows, "staffing", "critical", role)
        assert p[role] == pytest.approx(expected), role
    assert p.inpatient_health_worker == pytest.approx(60 * 2.3 + 20 * 4)  # 218 ESFT shifts
    assert p.staff_basis == "staffing ratios"


def test_beds_stand_in_for_missing_patients():
    sc = examples.demand_hospital()
    sites = sc.sites.assign(patients=pd.array([pd.NA], dtype="Int64"))
    p = demand.site_people(sc.replace(sites=sites)).iloc[0]
    assert p.persons == 100 and p.severe == 75 and p.critical == 25


def test_days_of_cover_scale_the_estimate():
    sc = examples.demand_hospital()
    for days in (0, 1, 2, 3, 7.5):
        e = demand.estimate(sc, days_of_cover=days).set_index("item_id")
        for item, r in e.iterrows():
            want = max(0, math.ceil(round(days * r.daily_use - r.on_hand, 6)))
            assert r.estimate == want, (days, item)
    assert demand.estimate(sc, days_of_cover=2).set_index("item_id").at["mask", "estimate"] == 0


def test_days_of_supply_and_burn_rate_match_hand_calculation():
    sc = examples.demand_hospital()
    d = demand.days_of_supply(sc).set_index("item_id")
    assert d.at["mask", "days_of_supply"] == 1520 / 760 == 2.0
    # counts 2,000 / 3,000 (restocked) / 2,240 / 1,520: the restock interval is left out
    assert d.at["mask", "burn_rate"] == ((3000 - 2240) + (2240 - 1520)) / 2 == 740
    assert d.at["mask", "days_of_supply_burn"] == pytest.approx(1520 / 740)
    assert d.at["n95", "days_of_supply"] == 0  # nothing on hand
    assert np.isnan(d.at["n95", "burn_rate"])


def test_burn_rate_with_received_column_and_same_day_counts():
    ss = pd.DataFrame({
        "site_id": ["H"] * 5, "item_id": ["g"] * 5,
        "date": pd.to_datetime(["2020-02-01", "2020-02-02", "2020-02-02", "2020-02-05", "2020-02-06"]),
        "on_hand": [100, 999, 80, 500, 430],
        "received": ["", "", "", "500", ""],
    })
    b = demand.burn_rate(ss).iloc[0]
    # same-day counts: the later row (80) wins; 100->80 over 1 day, 80->500 with 500 received over 3,
    # 500->430 over 1: (20 + 80 + 70) / 5 days
    assert b.counts == 4 and b.days == 5 and b.consumed == 170 and b.burn_rate == 34 and b.skipped == 0
    without = demand.burn_rate(ss.drop(columns="received")).iloc[0]
    assert without.skipped == 1 and without.days == 2 and without.burn_rate == (20 + 70) / 2
    single = demand.burn_rate(ss.iloc[:1]).iloc[0]
    assert np.isnan(single.burn_rate) and single.counts == 1


def test_counts_after_as_of_are_ignored():
    sc = examples.demand_hospital()
    later = pd.DataFrame([{"site_id": "DH100", "item_id": "mask", "date": pd.Timestamp("2020-02-11"), "on_hand": 9999}])
    ss = pd.concat([sc.site_stock, later], ignore_index=True)
    e = demand.estimate(sc.replace(site_stock=ss)).set_index("item_id")
    assert e.at["mask", "on_hand"] == 1520


# --------------------------------------------------------------------------- requests and review


def test_requests_kept_and_far_requests_flagged():
    sc = examples.demand_mixed()
    e = demand.estimate(sc, days_of_cover=3)
    h1 = e[e.site_id == "H1"].set_index("item_id")
    assert h1.at["mask", "origin"] == "requested" and h1.at["mask", "need"] == 5000
    # recompute every flag from the table: per item, request vs estimate, at least a day of use apart
    # (one site per kind here, so no group flags)
    for r in e.itertuples():
        est = None if pd.isna(r.estimate) else float(r.estimate)
        off = (r.origin == "requested" and est is not None and est > 0
               and (r.requested > 2 * est or r.requested < 0.5 * est) and abs(r.requested - est) >= r.daily_use)
        assert r.review == off, r
    assert h1.at["mask", "review"]  # 5,000 > 2 x 2,280
    assert not h1.at["n95", "review"]  # 500 within [180, 720]
    assert h1.at["gown", "origin"] == "not_requested" and not h1.at["gown", "review"]  # the site's choice
    assert pd.isna(h1.at["abx", "estimate"]) and not h1.at["abx", "review"]
    assert not e[e.origin == "estimated"].review.any()


def test_review_bounds_are_exclusive():
    sc = examples.demand_mixed()
    needs = sc.needs.copy()
    for q, flagged in ((720, False), (721, True), (180, False), (179, True)):
        needs.loc[needs.item_id == "n95", "quantity"] = q
        e = demand.estimate(sc.replace(needs=needs)).set_index(["site_id", "item_id"])
        assert e.at[("H1", "n95"), "review"] == flagged, q


def test_needs_for_round_keeps_explicit_needs_and_estimates_the_rest():
    sc = examples.demand_mixed()
    nd = demand.needs_for_round(sc, days_of_cover=3)
    assert list(nd.columns) == ["site_id", "item_id", "quantity", "origin"]
    assert nd.quantity.dtype == "int64"
    req = nd[nd.origin == "requested"]
    def key(df):
        return sorted(df[["site_id", "item_id", "quantity"]].itertuples(index=False, name=None))

    assert key(req) == key(sc.needs)
    est = nd[nd.origin == "estimated"]
    assert set(est.site_id) == {"S1", "Q1", "C1"}
    assert not set(est.site_id) & set(sc.needs.site_id)
    assert (est.quantity > 0).all()
    assert not nd.duplicated(["site_id", "item_id"]).any()
    full = demand.estimate(sc).set_index(["site_id", "item_id"])
    for r in est.itertuples():
        assert full.at[(r.site_id, r.item_id), "estimate"] == r.quantity
    # quarantine site: 14 screening workers x 4 + 6 cleaners x 4 + 150 people x 1 masks
    assert full.at[("Q1", "mask"), "daily_use"] == 14 * 4 + 6 * 4 + 150 == 230


def test_needs_for_round_without_needs_file_estimates_every_site():
    sc = examples.demand_mixed().replace(needs=None)
    nd = demand.needs_for_round(sc)
    assert (nd.origin == "estimated").all()
    assert set(nd.site_id) == set(sc.sites.site_id)


def test_category_goes_to_the_medical_primary_item_and_never_crosses():
    sc = examples.demand_mixed()
    assert demand.primary_items(sc)["mask"] == "mask"  # not mask_civil
    e = demand.estimate(sc)
    assert "mask_civil" not in set(e.item_id)
    # respirator need stays on the respirator item
    cats = dict(zip(sc.items.item_id, sc.items.category))
    assert (e.item_id.map(cats) == e.category).all()
    # with only a civil mask item, it becomes the primary
    items = sc.items[sc.items.item_id != "mask"]
    stock = sc.stock[sc.stock.item_id != "mask"]
    needs = sc.needs[sc.needs.item_id != "mask"]
    assert demand.primary_items(sc.replace(items=items, stock=stock, needs=needs))["mask"] == "mask_civil"


def test_category_on_hand_counts_other_items_of_the_category_except_civil_at_clinics():
    sc = examples.demand_mixed()
    ss = pd.DataFrame([
        {"site_id": "Q1", "item_id": "mask_civil", "date": pd.Timestamp("2020-02-09"), "on_hand": 300},
        {"site_id": "S1", "item_id": "mask_civil", "date": pd.Timestamp("2020-02-09"), "on_hand": 300},
    ])
    e = demand.estimate(sc.replace(site_stock=ss)).set_index(["site_id", "item_id"])
    assert e.at[("Q1", "mask"), "estimate"] == 3 * 230 - 300  # non-clinical: civil stock counts
    assert e.at[("S1", "mask"), "estimate"] == 3 * 1920  # clinical: civil stock does not
    assert e.at[("Q1", "mask_civil"), "estimate"] == 0 and e.at[("Q1", "mask_civil"), "on_hand"] == 300


def test_item_units_are_converted_from_the_norm_units(rows):
    sc = examples.demand_hospital()
    base = demand.estimate(sc).set_index("item_id")
    items = sc.items.copy()
    items.loc[items.item_id == "kit", "unit"] = "kit"
    items.loc[items.item_id == "disinf", "unit"] = "bottle"
    items.loc[items.item_id == "gloves", "unit"] = "piece"
    ss = pd.concat([sc.site_stock, pd.DataFrame([
        {"site_id": "DH100", "item_id": "disinf", "date": pd.Timestamp("2020-02-10"), "on_hand": 30}])],
        ignore_index=True)
    e = demand.estimate(sc.replace(items=items, site_stock=ss)).set_index("item_id")
    per_kit = _norm(rows, "convert", "kit", "test_kit")
    per_bottle = _norm(rows, "convert", "bottle", "disinfectant")
    assert (per_kit, per_bottle) == (48, 0.5)
    assert e.at["kit", "daily_use"] == pytest.approx(base.at["kit", "daily_use"] / 48)
    assert e.at["kit", "estimate"] == math.ceil(3 * 16 / 48) == 1
    # 46.5 L a day; 30 bottles on hand = 15 L: (3 x 46.5 - 15) / 0.5 = 249 bottles
    assert e.at["disinf", "estimate"] == math.ceil((3 * 46.5 - 30 * 0.5) / 0.5) == 249
    assert e.at["gloves", "daily_use"] == 2 * 2970
    assert e.attrs["warnings"] == []
    items.loc[items.item_id == "kit", "unit"] = "crate"
    e = demand.estimate(sc.replace(items=items)).set_index("item_id")
    assert e.at["kit", "daily_use"] == base.at["kit", "daily_use"]
    assert any("kit: no conversion from crate" in w for w in e.attrs["warnings"])


# --------------------------------------------------------------------------- bad norms files


def _bad(tmp_path: Path, edit) -> ScenarioError:
    df = pd.read_csv(demand.default_norms_path(), dtype=str, keep_default_na=False)
    df = edit(df)
    p = tmp_path / "my-norms.csv"
    df.to_csv(p, index=False)
    with pytest.raises(ScenarioError) as ei:
        demand.load_norms(p)
    return ei.value


def _line(df: pd.DataFrame, who: str, what: str, table: str = "use") -> int:
    i = df.index[(df.table == table) & (df.who == who) & (df.what == what)][0]
    return int(i) + 2


def test_unknown_category_negative_rate_and_bad_value_are_reported_together(tmp_path):
    df0 = pd.read_csv(demand.default_norms_path(), dtype=str, keep_default_na=False)
    r_cat = _line(df0, "inpatient_health_worker", "gown")
    r_neg = _line(df0, "lab_technician", "mask")
    r_txt = _line(df0, "ambulance_crew", "gloves")

    def edit(df):
        df.loc[r_cat - 2, "what"] = "gowns"
        df.loc[r_neg - 2, "value"] = "-4"
        df.loc[r_txt - 2, "value"] = "four"
        return df

    err = _bad(tmp_path, edit)
    lines = {str(p) for p in err.report.errors}
    path = str(tmp_path / "my-norms.csv")
    assert any(s.startswith(f"{path}:{r_cat}: what: unknown item category") and s.endswith("(got gowns)") for s in lines), lines
    assert any(s.startswith(f"{path}:{r_neg}: value: must be >= 0") and s.endswith("(got -4)") for s in lines), lines
    assert f"{path}:{r_txt}: value: not a number (got four)" in lines
    assert len(err.report.errors) == 3


def test_missing_role_is_reported(tmp_path):
    err = _bad(tmp_path, lambda df: df[~((df.table == "use") & (df.who == "ambulance_crew"))].reset_index(drop=True))
    msgs = [p for p in err.report.errors if p.column == "what" and p.value == "ambulance_crew"]
    assert msgs and all("role has no use rows" in p.message for p in msgs)
    assert {p.row for p in msgs} == {int(i) + 2 for i in _rows_of(tmp_path, "ambulance_crew")}


def _rows_of(tmp_path: Path, role: str) -> list[int]:
    df = pd.read_csv(tmp_path / "my-norms.csv", dtype=str, keep_default_na=False)
    return list(df.index[(df.table != "use") & (df.what == role)])


def test_missing_columns_and_kinds_and_bad_sums(tmp_path):
    err = _bad(tmp_path, lambda df: df.drop(columns=["source"]))
    assert [str(p) for p in err.report.errors] == [f"{tmp_path / 'my-norms.csv'}:1: source: required column is missing"]

    err = _bad(tmp_path, lambda df: df[~((df.table == "role_mix") & (df.who == "community"))].reset_index(drop=True))
    assert any("no role_mix rows for site kind community" in str(p) for p in err.report.errors)

    def unbalance(df):
        df.loc[(df.table == "severity_mix") & (df.who == "backup_hospital") & (df.what == "mild"), "value"] = "0.5"
        df.loc[(df.table == "staffing") & (df.who == "severe") & (df.what == "lab_technician"), "who"] = "moribund"
        df.loc[0, "table"] = "usage"
        df.loc[(df.table == "use") & (df.who == "lab_technician") & (df.what == "gloves"), "unit"] = "piece"
        df.loc[(df.table == "convert") & (df.who == "kit"), "value"] = "0"
        return df

    err = _bad(tmp_path, unbalance)
    text = str(err.report)
    assert "severity_mix fractions of backup_hospital must sum to 1 (got 1.1)" in text
    assert "who: unknown patient group" in text and "(got moribund)" in text
    assert "unit: use norms of gloves must share one unit" in text and "(got piece)" in text
    assert "value: a unit conversion must be > 0 (got 0)" in text
    assert ":2: table: must be one of use, staffing, severity_mix, role_mix, convert (got usage)" in text


def test_own_norms_file_changes_the_estimate(tmp_path):
    df = pd.read_csv(demand.default_norms_path(), dtype=str, keep_default_na=False)
    df.loc[(df.table == "use") & (df.who == "inpatient_health_worker") & (df.what == "mask"), "value"] = "6"
    p = tmp_path / "n.csv"
    df.to_csv(p, index=False)
    e = demand.estimate(examples.demand_hospital(), norms=p).set_index("item_id")
    assert e.at["mask", "daily_use"] == 760 + 120 * 2


# --------------------------------------------------------------------------- the command


def test_needs_command_writes_a_needs_file_that_loads_back(tmp_path, capsys):
    sc = examples.demand_mixed()
    folder = save(sc, tmp_path / "mixed")
    out = tmp_path / "out" / "needs.csv"
    assert main(["needs", str(folder), "--days", "3", "--out", str(out), "--detail", str(tmp_path / "d.csv")]) == 0
    printed = capsys.readouterr().out
    assert "review 1: H1 asks 5,000 mask, 2.2x the 2,280 estimated from its beds, patients and staff" in printed
    assert "1 review flag(s) on 1 request(s)" in printed and "gown" not in printed  # not asked: its choice
    written = pd.read_csv(out, dtype={"site_id": str, "item_id": str})
    expected = demand.needs_for_round(sc, days_of_cover=3)
    assert list(written[["site_id", "item_id", "quantity", "origin"]].itertuples(index=False)) == \
        list(expected.itertuples(index=False))
    # it is a valid needs table for the scenario
    (folder / "needs.csv").write_bytes(out.read_bytes())
    back = load(folder)
    assert back.needs.quantity.dtype == "int64"
    assert back.needs.quantity.sum() == expected.quantity.sum()
    assert len(pd.read_csv(tmp_path / "d.csv")) == len(demand.estimate(sc))


def test_needs_command_bad_norms_exit_2(tmp_path, capsys):
    folder = save(examples.demand_hospital(), tmp_path / "h")
    bad = tmp_path / "bad.csv"
    bad.write_text("table,who,what,value,unit,source\nuse,inpatient_health_worker,gowns,-1,piece,x\n")
    rc = main(["needs", str(folder), "--out", str(tmp_path / "n.csv"), "--norms", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{bad}:2: what: unknown item category" in err
    assert f"{bad}:2: value: must be >= 0" in err
    assert not (tmp_path / "n.csv").exists()


# --------------------------------------------------------------------------- the demo scenario


def test_demo_needs_are_requested_and_its_readme_matches_the_estimate():
    folder = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"
    if not (folder / "needs.csv").is_file():
        pytest.skip("the demo scenario is not in this checkout")
    sc = load(folder)
    nd = demand.needs_for_round(sc)
    assert (nd.origin == "requested").all() and len(nd) == len(sc.needs)
    assert set(nd.site_id) == set(sc.sites.site_id)  # no site left without needs
    e = demand.estimate(sc)
    totals = e.groupby("category").agg(req=("requested", "sum"), est=("estimate", "sum"))
    readme = (folder / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Requested or estimated")[1].split("\n## ")[0]
    seen = 0
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].split(" ")[0] in totals.index and cells[2] != "no norm":
            cat = cells[0].split(" ")[0]
            assert int(cells[1].replace(",", "")) == totals.at[cat, "req"], cat
            assert int(cells[2].replace(",", "")) == totals.at[cat, "est"], cat
            seen += 1
    assert seen == 9
    flags = demand.review_flags(sc)
    requests = int((e.origin == "requested").sum())
    assert f"{len(flags)} review flags cover {int(e.review.sum())} of the {requests} requests" in \
        " ".join(section.split())
