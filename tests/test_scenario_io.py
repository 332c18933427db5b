"""Loading and saving scenarios: lossless round trips through CSV folders and workbooks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allocator import examples, schema
from allocator.scenario import Scenario, from_tables, load, save


def _assert_same(a, b) -> None:
    assert set(a.tables) == set(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(
            a.tables[name].reset_index(drop=True), b.tables[name].reset_index(drop=True), check_dtype=True,
            obj=name,
        )
    assert (a.name, a.description, a.as_of) == (b.name, b.description, b.as_of)


def tricky() -> Scenario:
    """Ids with leading zeros, Chinese text, empty optional cells, lists, dates and a WKT zone."""
    return from_tables(
        {
            "items": pd.DataFrame(
                {
                    "item_id": ["007", "0100"],
                    "name": ["Surgical mask", "N95, medical"],
                    "name_zh": ["医用外科口罩", ""],
                    "category": ["mask", "respirator"],
                    "unit_volume_l": [None, 0.25],
                    "pack_size": [50, None],
                }
            ),
            "sites": pd.DataFrame(
                {
                    "site_id": ["001", "002"],
                    "name": ["Jinyintan Hospital", 'Community "Baibuting"'],
                    "name_zh": ["金银潭医院", "百步亭社区"],
                    "kind": ["designated_hospital", "community"],
                    "lat": [30.6692, 30.64],
                    "lon": [114.2814, 114.30],
                    "beds": [800, None],
                    "staff": [None, 40],
                }
            ),
            "depots": pd.DataFrame({"depot_id": ["0009"], "name": ["Expo 仓库"], "lat": [30.55], "lon": [114.24]}),
            "donations": pd.DataFrame(
                {
                    "donation_id": ["D01", "D02"],
                    "donor": ["anonymous", "湖北商会"],
                    "received": ["2020-02-01", ""],
                    "earmark_site_id": ["001;002", ""],
                    "earmark_kind": ["", "community;elderly_care"],
                    "note": ["line one, with comma", ""],
                }
            ),
            "stock": pd.DataFrame(
                {
                    "lot_id": ["000123", "L2"],
                    "depot_id": ["0009", "0009"],
                    "item_id": ["007", "0100"],
                    "quantity": [5000, 0],
                    "expires": ["", "2021-06-30"],
                    "donation_id": ["D01", ""],
                }
            ),
            "needs": pd.DataFrame({"site_id": ["001"], "item_id": ["007"], "quantity": [1200]}),
            "substitutes": pd.DataFrame({"item_id": ["007"], "substitute_id": ["0100"]}),
            "road_nodes": pd.DataFrame({"node_id": ["01", "02"], "lat": [30.6692, 30.64], "lon": [114.2814, 114.30]}),
            "roads": pd.DataFrame({"u": ["01"], "v": ["02"], "length_m": [3500.5], "speed_kmh": [40], "name": ["二桥"]}),
            "traffic_control": pd.DataFrame(
                {
                    "rule_id": ["R1", "R2"],
                    "kind": ["checkpoint", "restricted_zone"],
                    "road": ["二桥", ""],
                    "area_wkt": ["", "POLYGON ((114.2 30.5, 114.4 30.5, 114.4 30.7, 114.2 30.7, 114.2 30.5))"],
                    "delay_min": [15, None],
                    "permits": ["", "supply;medical"],
                    "start": ["2020-01-25T00:00:00", "2020-01-26T00:00:00"],
                }
            ),
        },
        name="tricky 场景",
        description="ids, Chinese text, empty cells",
        as_of="2020-02-10T08:00:00",
    )


def test_defaults_are_applied():
    sc = tricky()
    items = sc.items.set_index("item_id")
    assert items.loc["0100", "pack_size"] == 1 and items.loc["007", "grade"] == "medical"
    assert items.loc["007", "unit"] == "piece" and items.loc["007", "unit_weight_kg"] == 1.0
    sites = sc.sites.set_index("site_id")
    assert sites.loc["001", "tier"] == 1 and bool(sites.loc["001", "clinical"])
    assert sites.loc["002", "tier"] == 4 and not bool(sites.loc["002", "clinical"])
    assert pd.isna(sites.loc["002", "beds"]) and sites.loc["001", "beds"] == 800
    stock = sc.stock.set_index("lot_id")
    assert stock.loc["000123", "source"] == "donation" and stock.loc["L2", "source"] == "reserve"
    assert stock.loc["000123", "status"] == "available" and pd.isna(stock.loc["000123", "expires"])
    assert sc.donations.earmark_site_id.iloc[0] == ("001", "002")
    assert sc.traffic_control.permits.iloc[1] == ("supply", "medical")
    assert sc.traffic_control.delay_min.iloc[1] == 0.0
    assert pd.isna(sc.depots.dispatch_capacity_kg.iloc[0])


@pytest.mark.parametrize("suffix", ["", ".xlsx"])
def test_round_trip_is_lossless(tmp_path: Path, suffix: str):
    sc = tricky()
    path = save(sc, tmp_path / f"scenario{suffix}")
    back = load(path)
    _assert_same(sc, back)
    # and a second trip changes nothing either
    again = load(save(back, tmp_path / f"again{suffix}"))
    _assert_same(back, again)


def test_csv_keeps_ids_text_and_empty_cells(tmp_path: Path):
    path = save(tricky(), tmp_path / "s")
    text = (path / "items.csv").read_text(encoding="utf-8")
    assert "007," in text and "0100," in text and "医用外科口罩" in text
    stock = (path / "stock.csv").read_text(encoding="utf-8").splitlines()
    assert stock[1].split(",")[4] == ""  # expires not given stays empty
    assert '"Community ""Baibuting"""' in (path / "sites.csv").read_text(encoding="utf-8")


def test_save_replaces_an_existing_folder_atomically(tmp_path: Path):
    target = tmp_path / "s"
    save(examples.three_tiers(), target)
    save(examples.two_hospitals(), target)
    assert sorted(load(target).sites.site_id) == ["H1", "H2"]
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_examples_are_valid_and_round_trip(tmp_path: Path):
    for name, make in examples.ALL.items():
        sc = make()
        _assert_same(sc, load(save(sc, tmp_path / name)))


def test_absent_optional_tables_are_empty_and_typed():
    sc = examples.two_hospitals()
    assert not sc.has("roads") and sc.roads.empty
    assert list(sc.roads.columns) == schema.tables()["roads"].column_names
    with pytest.raises(AttributeError):
        _ = sc.no_such_table


def test_extra_columns_are_kept(tmp_path: Path):
    path = save(examples.two_hospitals(), tmp_path / "s")
    df = pd.read_csv(path / "sites.csv", dtype=str, keep_default_na=False)
    df["contact"] = ["ward 3", "药房"]
    df.to_csv(path / "sites.csv", index=False)
    back = load(path)
    assert list(back.sites["contact"]) == ["ward 3", "药房"]
    assert list(load(save(back, tmp_path / "t")).sites["contact"]) == ["ward 3", "药房"]
