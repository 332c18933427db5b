"""The public donation page's data: what a snapshot shows, and nothing it must not.

Every figure is recomputed here from the published files (``ledger.jsonl``,
``donations.csv``, ``donation_usage.csv``) with plain code, not with the
functions under test.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from allocator import examples, ledger
from allocator.public import (
    SnapshotError,
    donation_index,
    find_entry,
    latest_snapshot,
    load_channels,
    load_snapshot,
    search,
    stock_split,
    totals_by,
    trail,
    view_model,
)
from allocator.site import write_site
from allocator.store import (
    Discrepancy,
    add_user,
    approve_round,
    confirm_delivery,
    create_round,
    current_scenario,
    dispatch_round,
    import_scenario,
    lines_frame,
    memory_store,
    transaction,
)

HIDDEN_DONOR = "Example Textiles Co."  # DON_B chose publish_name = false


def _alloc(*rows):
    import pandas as pd

    return pd.DataFrame([{"lot_id": lot, "depot_id": d, "site_id": site, "item_id": item, "need_item_id": item,
                          "quantity": q, "travel_min": 20.0} for lot, d, site, item, q in rows])


ROUND1 = (("LA1", "EXPO", "JYT", "mask", 600), ("LA1", "EXPO", "UNION", "mask", 300),
          ("LB1", "EXPO", "JYT", "suit", 150), ("LB2", "AIRPORT", "UNION", "suit", 100))


def published_day(root: Path):
    """donated_city, one round approved, dispatched and delivered with a shortfall, published."""
    eng = memory_store()
    with transaction(eng) as s:
        import_scenario(s, examples.donated_city())
        add_user(s, "wang", "officer-pw", ["officer"])
        add_user(s, "li", "approver-pw", ["approver"])
    with transaction(eng) as s:
        rid = create_round(s, current_scenario(s), _alloc(*ROUND1), None, {"status": "optimal"}, "wang").id
    with transaction(eng) as s:
        approve_round(s, rid, "li")
        dispatch_round(s, rid, "wang")
        line = int(lines_frame(s, rid).line_id.iloc[0])
        confirm_delivery(s, rid, "wang", discrepancies={line: Discrepancy(590, "short", "written_off", "lost")})
        ledger.publish(s, root / "pub")
    return eng, root / "pub"


@pytest.fixture
def day(tmp_path: Path):
    return published_day(tmp_path)


def _ledger(pub: Path) -> list[dict]:
    return [json.loads(x) for x in (pub / "ledger.jsonl").read_text(encoding="utf-8").splitlines()]


def _csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_totals_by_item_and_site_equal_the_published_tables(day) -> None:
    _, pub = day
    snap = load_snapshot(pub)
    assert snap.verification.ok, snap.verification
    received = defaultdict(int)
    for row in _csv(pub / "donations.csv"):
        received[row["item_id"]] += int(row["received"])
    got = totals_by(snap, "item").set_index("item_id")["received"].to_dict()
    assert got == dict(received)
    delivered = defaultdict(int)
    for row in _csv(pub / "donation_usage.csv"):
        if row["receiver_org_ref"]:
            delivered[row["receiver_org_ref"]] += int(row["delivered"])
    by_site = totals_by(snap, "site").set_index("site_id")["delivered"].to_dict()
    assert by_site == {k: v for k, v in delivered.items() if v or k in by_site}
    # the shortfall of 10 masks at JYT is visible: delivered < allocated there
    jyt = totals_by(snap, "site").set_index("site_id").loc["JYT"]
    assert jyt.delivered < jyt.dispatched


def test_a_trail_is_every_ledger_entry_of_the_donation_in_order(day) -> None:
    _, pub = day
    snap = load_snapshot(pub)
    lines = [e for e in _ledger(pub) if e.get("donation_id") == "DON_A"]
    tr = trail(snap, "DON_A")
    assert tr.seq.tolist() == [e["seq"] for e in lines]
    assert tr.hash.tolist() == [e["hash"] for e in lines]
    assert tr.event.tolist() == [e["event"] for e in lines]
    shipped = {e["site_id"] for e in lines if e["event"] == "delivered"}
    assert set(tr[tr.event == "delivered"].site_id) == shipped == {"JYT", "UNION"}
    split = stock_split(snap, "DON_A")
    assert split["available"] + split["quarantined"] == 1000 - 900  # LA1: 1,000 received, 900 allocated
    assert find_entry(snap, "DON_A")["event"] == "pledged"


def test_an_anonymous_donor_appears_nowhere(day, tmp_path: Path) -> None:
    _, pub = day
    snap = load_snapshot(pub)
    idx = donation_index(snap).set_index("donation_id")
    assert idx.loc["DON_B", "donor"] == ledger.ANONYMOUS
    assert search(snap, "Example Textiles").empty
    assert search(snap, "textiles").empty
    assert search(snap, "don_b").donation_id.tolist() == ["DON_B"]
    assert HIDDEN_DONOR not in json.dumps(view_model(snap), ensure_ascii=False)
    site = write_site(snap, tmp_path / "site")
    for f in site.rglob("*"):
        if f.is_file():
            assert HIDDEN_DONOR.encode() not in f.read_bytes(), f


def test_search_matches_names_ignoring_case_and_width(day) -> None:
    _, pub = day
    snap = load_snapshot(pub)
    assert search(snap, "wuhan red").donation_id.tolist() == ["DON_A"]
    assert search(snap, "ＷＵＨＡＮ").donation_id.tolist() == ["DON_A"]  # full-width letters
    assert search(snap, "").empty and search(snap, "nobody").empty


def test_unpublished_events_never_reach_the_page(day) -> None:
    eng, pub = day
    before = view_model(load_snapshot(pub))
    with transaction(eng) as s:  # a new draft and approved round after publication
        rid = create_round(s, current_scenario(s), _alloc(("LA1", "EXPO", "HOTEL7", "mask", 100)), None,
                           {"status": "optimal"}, "wang").id
        approve_round(s, rid, "li")
        n_db = len(ledger.entries(s))
    after = view_model(load_snapshot(pub))
    assert after == before
    assert n_db > before["snapshot"]["head_seq"]
    assert "HOTEL7" not in {r["site_id"] for r in after["totals"]["site"]}


def test_a_tampered_snapshot_is_shown_as_not_verified(day, tmp_path: Path) -> None:
    _, pub = day
    bad = shutil.copytree(pub, tmp_path / "bad")
    text = (bad / "donations.csv").read_text(encoding="utf-8")
    (bad / "donations.csv").write_text(re.sub(r",1000,", ",100000,", text, count=1), encoding="utf-8")
    model = view_model(load_snapshot(bad))
    assert model["snapshot"]["verified"] is False and model["snapshot"]["message"]


def test_static_site_data_is_the_view_model(day, tmp_path: Path) -> None:
    _, pub = day
    snap = load_snapshot(pub)
    site = write_site(snap, tmp_path / "site", channels={"hotline": "027-1"})
    text = (site / "data" / "summary.js").read_text(encoding="utf-8")
    m = re.fullmatch(r"SA\.load\((.*)\);\n", text, flags=re.S)
    assert m, text[:80]
    data = json.loads(m.group(1))
    model = view_model(snap, channels={"hotline": "027-1"})
    assert data["totals"] == model["totals"]
    assert data["snapshot"] == model["snapshot"]
    assert [{k: v for k, v in d.items() if k != "shard"} for d in data["donations"]] == model["donations"]
    trails = {}
    for f in sorted((site / "data" / "trails").glob("*.js")):
        m = re.fullmatch(r"SA\.trails\((\d+),(.*)\);\n", f.read_text(encoding="utf-8"), flags=re.S)
        trails.update(json.loads(m.group(2)))
    assert trails == model["trails"]
    assert (site / "downloads" / "ledger.jsonl").read_bytes() == (pub / "ledger.jsonl").read_bytes()
    assert ledger.verify(site / "downloads").ok  # the downloads re-verify on their own


def test_script_breaking_text_stays_data(tmp_path: Path) -> None:
    sc = examples.donated_city()
    d = sc.donations.copy()
    d.loc[d.donation_id == "DON_A", "donor"] = "</script><script>alert(1)</script>"
    eng = memory_store()
    with transaction(eng) as s:
        import_scenario(s, sc.replace(donations=d))
        ledger.publish(s, tmp_path / "pub")
    site = write_site(tmp_path / "pub", tmp_path / "site")
    js = (site / "data" / "summary.js").read_text(encoding="utf-8")
    assert "</script>" not in js and "<\\/script>" in js
    assert "innerHTML" not in (site / "app.js").read_text(encoding="utf-8")


def test_latest_snapshot_and_bad_folders(day, tmp_path: Path) -> None:
    _, pub = day
    assert latest_snapshot(pub.parent) == pub
    assert latest_snapshot(tmp_path / "nothing") is None
    with pytest.raises(SnapshotError):
        load_snapshot(tmp_path)


def test_channels_from_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[1]
    ch = load_channels(root / "data" / "channels.toml")
    assert ch["hotline"] and ch["addresses"] and ch["zh"]["hotline"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALLOCATOR_CHANNELS", raising=False)
    assert load_channels() == {}
    with pytest.raises(SnapshotError):
        load_channels(tmp_path / "missing.toml")
