"""Validation reports every problem at once, in the contract's format."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allocator import examples, schema
from allocator.cli import main
from allocator.errors import ScenarioError
from allocator.scenario import load, save
from allocator.validate import pandera_schema, validate


def _edit(path: Path, table: str, fn) -> None:
    f = path / f"{table}.csv"
    df = pd.read_csv(f, dtype=str, keep_default_na=False)
    df = fn(df)
    df.to_csv(f, index=False)


@pytest.fixture
def scenario_dir(tmp_path: Path) -> Path:
    return save(examples.grades_and_earmarks(), tmp_path / "sc")


def _problems(path: Path) -> set[tuple]:
    return {(p.file, p.row, p.column, p.message, p.value) for p in validate(path).errors}


def test_clean_scenario_has_no_errors(scenario_dir: Path):
    r = validate(scenario_dir)
    assert r.ok, str(r)
    # the expired lot and the unfillable need are warnings, not errors
    msgs = [str(w) for w in r.warnings]
    assert any("L_EXP has expired" in m for m in msgs)
    assert any("no usable stock" in m and "(got kit)" in m for m in msgs)


def test_every_problem_is_reported_at_once(scenario_dir: Path):
    def stock(df):
        df.loc[1, "quantity"] = "1.5"     # fractional, line 3
        df.loc[2, "quantity"] = "-5"      # negative, line 4
        df.loc[3, "depot_id"] = "NOPE"    # unknown depot, line 5
        df.loc[0, "expires"] = "2020-13-45"  # unparsable date, line 2
        df.loc[4, "status"] = "lost"      # bad enum, line 6
        df.loc[2, "donation_id"] = "DON9"  # unknown donation
        df.loc[3, "lot_id"] = "L_MASK"     # duplicate id
        return df

    def sites(df):
        df.loc[0, "kind"] = "hospital"
        df.loc[1, "lat"] = "north"
        df.loc[2, "tier"] = "0"
        return df

    def donations(df):
        df.loc[0, "earmark_site_id"] = "H2;H7"
        df.loc[1, "earmark_kind"] = "community;school"
        return df

    _edit(scenario_dir, "stock", stock)
    _edit(scenario_dir, "sites", sites)
    _edit(scenario_dir, "donations", donations)
    _edit(scenario_dir, "items", lambda df: df.drop(columns=["category"]))
    _edit(scenario_dir, "needs", lambda df: pd.concat([df, df.iloc[[0]]], ignore_index=True))
    (scenario_dir / "depots.csv").unlink()
    got = _problems(scenario_dir)
    expected = {
        ("stock.csv", 3, "quantity", "not a whole number", "1.5"),
        ("stock.csv", 4, "quantity", "must be >= 0", "-5"),
        ("stock.csv", 2, "expires", "not an ISO 8601 date", "2020-13-45"),
        ("stock.csv", 6, "status", "must be one of available, quarantined, rejected", "lost"),
        ("stock.csv", 4, "donation_id", "unknown donation_id", "DON9"),
        ("stock.csv", 5, "lot_id", "duplicate lot_id", "L_MASK"),
        ("stock.csv", 2, "lot_id", "duplicate lot_id", "L_MASK"),
        ("sites.csv", 2, "kind", "must be one of " + ", ".join(schema.SITE_KINDS), "hospital"),
        ("sites.csv", 3, "lat", "not a number", "north"),
        ("sites.csv", 4, "tier", "must be >= 1", "0"),
        ("donations.csv", 2, "earmark_site_id", "unknown site_id", "H7"),
        ("donations.csv", 3, "earmark_kind", "must be one of " + ", ".join(schema.SITE_KINDS), "community;school"),
        ("items.csv", 1, "category", "required column is missing", None),
        ("needs.csv", 7, "item_id", "duplicate (site_id, item_id) pair", "H1, mask"),
        ("depots.csv", None, None, "required file is missing", None),
    }
    assert expected <= got, sorted(expected - got)
    # the stock row naming depot NOPE is reported once depots.csv is known: here it is absent
    with pytest.raises(ScenarioError) as exc:
        load(scenario_dir)
    assert len(exc.value.report.errors) == len(got)


def test_unknown_references(scenario_dir: Path):
    _edit(scenario_dir, "stock", lambda df: df.assign(depot_id=["D1", "D1", "NOPE", "D1", "D1"]))
    _edit(scenario_dir, "needs", lambda df: df.assign(site_id=["H1", "H2", "H1", "ZZ", "H1"]))
    _edit(scenario_dir, "substitutes", lambda df: df.assign(substitute_id=["n95", "mask"]))
    got = _problems(scenario_dir)
    assert ("stock.csv", 4, "depot_id", "unknown depot_id", "NOPE") in got
    assert ("needs.csv", 5, "site_id", "unknown site_id", "ZZ") in got
    # no (need item, substitute) problem: both exist
    assert not any(p[0] == "substitutes.csv" for p in got)


def test_messages_follow_the_contract_format(scenario_dir: Path):
    _edit(scenario_dir, "stock", lambda df: df.assign(quantity=["1.5", "1", "2", "3", "4"]))
    (line,) = [str(p) for p in validate(scenario_dir).errors]
    assert line == "stock.csv:2: quantity: not a whole number (got 1.5)"


def test_ids_unique_across_sites_and_depots(scenario_dir: Path):
    _edit(scenario_dir, "depots", lambda df: df.assign(depot_id=["H1"]))
    _edit(scenario_dir, "stock", lambda df: df.assign(depot_id="H1"))
    got = _problems(scenario_dir)
    assert ("depots.csv", 2, "depot_id", "id is also a site_id", "H1") in got


def test_roads_and_traffic_control_checks(tmp_path: Path):
    sc = examples.two_hospitals()
    nodes = pd.DataFrame({"node_id": ["a", "b", "c"], "lat": [30.60, 30.60, 30.55], "lon": [114.27, 114.29, 114.23]})
    roads = pd.DataFrame(
        {"u": ["a", "b", "c", "a"], "v": ["b", "b", "x", "c"], "length_m": ["2000", "10", "5", "0"],
         "speed_kmh": ["40", "40", "40", "40"], "name": ["", "", "", "Han bridge"]}
    )
    tc = pd.DataFrame(
        {"rule_id": ["R1", "R2", "R3", "R4"], "kind": ["closure", "restricted_zone", "checkpoint", "closure"],
         "road": ["", "", "No Such Rd", "Han bridge"], "u": ["a", "", "", ""], "v": ["", "", "", ""],
         "area_wkt": ["", "POLYGON ((114 30, 114.5 30", "", ""], "delay_min": ["", "", "-3", ""],
         "start": ["2020-01-26", "", "", "2020-02-01"], "end": ["", "", "", "2020-01-01"]}
    )
    path = save(sc.replace(road_nodes=nodes, roads=roads, traffic_control=tc), tmp_path / "s")
    got = _problems(path)
    assert ("roads.csv", 3, "v", "self-loop: u and v are the same node", "b") in got
    assert ("roads.csv", 4, "v", "unknown node_id", "x") in got
    assert ("roads.csv", 5, "length_m", "must be > 0", "0") in got
    assert ("traffic_control.csv", 2, "v", "u and v must be given together", "a") in got
    assert ("traffic_control.csv", 3, "area_wkt", "not valid WKT", "POLYGON ((114 30, 114.5 30") in got
    assert ("traffic_control.csv", 4, "delay_min", "must be >= 0", "-3") in got
    assert ("traffic_control.csv", 5, "end", "end must be after start", "2020-01-01") in got  # the cell's text, not the parsed value
    errors = {str(e) for e in validate(path).errors}  # a rule naming no road is an error (issue 10)
    assert any(e.startswith("traffic_control.csv:4: road: rule R3: no road is named 'No Such Rd'") for e in errors)


def test_far_from_roads_is_a_warning(tmp_path: Path):
    sc = examples.two_hospitals()
    nodes = pd.DataFrame({"node_id": ["a", "b"], "lat": [30.60, 30.55], "lon": [114.27, 114.23]})
    roads = pd.DataFrame({"u": ["a"], "v": ["b"], "length_m": [6000], "speed_kmh": [40]})
    far = sc.sites.copy()
    far.loc[1, "lat"] = 30.75  # ~17 km north of node a
    r = validate(sc.replace(road_nodes=nodes, roads=roads, sites=far))
    assert r.ok
    (w,) = [w for w in r.warnings if "from the nearest road node" in w.message]
    assert (w.file, w.row) == ("sites.csv", 3) and w.message.startswith("H2 is 1")


def test_pandera_schema_matches_the_schema_table():
    for name, spec in schema.tables().items():
        s = pandera_schema(name)
        assert set(s.columns) == set(spec.column_names)
        key_cols = [c for c, col in s.columns.items() if col.unique]
        assert key_cols == ([spec.key] if spec.key else [])


def test_validate_command_exit_codes(scenario_dir: Path, capsys):
    assert main(["validate", str(scenario_dir)]) == 0
    assert "ok:" in capsys.readouterr().out
    _edit(scenario_dir, "stock", lambda df: df.assign(quantity=["1.5", "1", "2", "3", "-4"]))
    assert main(["validate", str(scenario_dir)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "stock.csv:2: quantity: not a whole number (got 1.5)" in err
    assert "stock.csv:6: quantity: must be >= 0 (got -4)" in err


def test_validate_accepts_a_scenario_object():
    sc = examples.two_hospitals()
    bad = sc.replace(needs=sc.needs.assign(quantity=[800, -1]))
    r = validate(bad)
    assert [(p.file, p.row, p.column) for p in r.errors] == [("needs.csv", 3, "quantity")]


def test_missing_path_is_a_clear_error(tmp_path: Path, capsys):
    assert main(["validate", str(tmp_path / "nowhere")]) == 1
    assert "no such folder or file" in capsys.readouterr().err


def test_documentation_shows_the_schema_tables():
    doc = Path(__file__).resolve().parents[1] / "docs" / "scenario-format.md"
    text = doc.read_text(encoding="utf-8")
    assert schema.render_docs(text) == text, "run: allocator schema --docs docs/scenario-format.md"


def test_typed_scenarios_are_checked_without_a_text_round_trip():
    """The fast path for typed scenarios gives the same report as re-parsing their text."""
    from allocator.scenario import to_raw
    from allocator.validate import _check_typed, _is_typed, parse

    sc = examples.grades_and_earmarks()
    assert _is_typed(sc)
    bad_needs = sc.needs.assign(quantity=[400, -3, 100, 100, 50], site_id=["H1", "H2", "H1", "ZZ", "H1"])
    bad_sites = sc.sites.assign(kind=["designated_hospital", "castle", "quarantine_site"])
    bad_stock = sc.stock.assign(lot_id=["L_MASK", "L_MASK", "L_SUIT", "L_CIVIL", "L_EXP"])
    bad = sc.replace(needs=bad_needs, sites=bad_sites, stock=bad_stock)
    assert _is_typed(bad)

    def key(r):
        return sorted(str(p) for p in r.problems)

    slow = parse(to_raw(bad.tables, name=bad.name, as_of=bad.as_of))[1]
    assert key(_check_typed(bad)) == key(slow) and len(slow.errors) >= 4
    assert key(validate(bad)) == key(slow)
    # a column edited into another dtype takes the text path, which reports it
    floats = sc.replace(needs=sc.needs.assign(quantity=[400.5, 3, 100, 100, 50]))
    assert not _is_typed(floats)
    assert [(p.file, p.row, p.column, p.message) for p in validate(floats).errors] == [
        ("needs.csv", 2, "quantity", "not a whole number")]
