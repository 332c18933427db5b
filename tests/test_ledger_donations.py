"""Donation registration, inspection and receipts (SQLite, and PostgreSQL when configured)."""

# ruff: noqa: F811  (pytest fixtures imported from test_ledger_support)
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from test_ledger_support import day, publish, signing_key, with_civil_mask  # noqa: F401

from allocator import ledger
from allocator.errors import StoreError
from allocator.store import models as m
from allocator.store import transaction
from allocator.store.donations import (
    LotSpec,
    Receipt,
    check_inclusion_proof,
    check_receipt,
    inclusion_proof,
    inspect_lot,
    receipt,
    register_donation,
)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_register_inspect_publish_and_check_receipts(engine, tmp_path: Path) -> None:
    day(engine, with_civil_mask())
    with transaction(engine) as s:
        r = register_donation(s, donor="Zhang Wei", publish_name=False, user="wang", received="2020-02-09",
                              earmark_kind=["designated_hospital"],
                              lots=[LotSpec("mask", "EXPO", 400), LotSpec("suit", "AIRPORT", 50, lot_id="NEW-S")])
        named = register_donation(s, donor="Hubei Chamber of Commerce", user="wang",
                                  lots=[LotSpec("n95", "AIRPORT", 120)], earmark_site_id=["JYT"])
        lot_mask = r.lots[0]
        assert r.lots[1] == "NEW-S"
        # every lot waits for inspection; the ledger holds pledged + received for each
        assert {lot.status for lot in s.scalars(select(m.Lot).where(m.Lot.donation_id == r.donation_id))} == {
            "quarantined"}
        inspect_lot(s, lot_mask, "downgraded", user="wang", reason="ear loops fail the medical test")
        inspect_lot(s, "NEW-S", "rejected", user="wang", reason="no CE/GB certificate")
        inspect_lot(s, named.lots[0], "passed", user="wang")
        assert s.get(m.Lot, lot_mask).item_id == "cmask" and s.get(m.Lot, lot_mask).status == "available"
        assert check_receipt(r, s).ok and check_receipt(named, s).ok
        again = receipt(s, r.reference_code)
        assert (again.seq, again.entry_hash) == (r.seq, r.entry_hash)
    pub = publish(engine, tmp_path / "pub")
    assert ledger.verify(pub.out_dir).ok
    rows = {(x["donation_id"], x["item_id"]): x for x in _rows(pub.out_dir / "donations.csv")}
    # the anonymous donor keeps a reference code; the name is not published
    assert "Zhang Wei" not in (pub.out_dir / "ledger.jsonl").read_text(encoding="utf-8")
    mask, cmask, suit = rows[(r.donation_id, "mask")], rows[(r.donation_id, "cmask")], rows[(r.donation_id, "suit")]
    assert mask["provider_org"] == "anonymous" and mask["reference_code"] == r.reference_code
    assert (mask["received"], mask["adjusted"], mask["in_stock"]) == ("400", "-400", "0")
    assert (cmask["received"], cmask["adjusted"], cmask["available"], cmask["grade"]) == ("0", "400", "400", "civil")
    assert cmask["item_name"] == "Civil face mask" and "downgraded" in mask["inspection"]
    assert (suit["rejected"], suit["available"], suit["rejection_reasons"]) == ("50", "0", "no CE/GB certificate")
    assert rows[(named.donation_id, "n95")]["earmark_site_id"] == "JYT"
    assert rows[(named.donation_id, "n95")]["provider_org"] == "Hubei Chamber of Commerce"
    # the receipt checks against the signed publication (chain, hash, code, Merkle proof)
    res = check_receipt(Receipt.from_json(r.to_json()), pub.out_dir)
    assert res.ok, res.message
    forged = Receipt(**{**json.loads(r.to_json()), "entry_hash": "0" * 64, "lots": ()})
    assert not check_receipt(forged, pub.out_dir).ok
    assert check_receipt(forged, pub.out_dir).code == "ledger.receipt.changed"
    other = Receipt(**{**json.loads(named.to_json()), "seq": r.seq, "entry_hash": r.entry_hash, "lots": ()})
    assert check_receipt(other, pub.out_dir).code == "ledger.receipt.not_yours"
    # a compact proof: log2(n) hashes lead from the donor's entry to the signed root
    proof = inclusion_proof(r, pub.out_dir)
    root = json.loads((pub.out_dir / "manifest.json").read_text())["merkle_root"]
    assert len(proof["proof"]) <= proof["size"].bit_length() and check_inclusion_proof(proof, r, root)
    assert not check_inclusion_proof({**proof, "seq": proof["seq"] + 1}, r, root)
    assert not check_inclusion_proof(proof, r, "0" * 64)
    with pytest.raises(StoreError, match="not in this publication"):
        inclusion_proof(forged, pub.out_dir)


def test_imported_donations_get_reference_codes(engine, tmp_path: Path) -> None:
    day(engine)
    with transaction(engine) as s:
        codes = {d.donation_id: d.reference_code for d in s.scalars(select(m.Donation))}
        assert all(c and c.startswith("SA-") for c in codes.values()) and len(set(codes.values())) == len(codes)
        rc = receipt(s, "DON_B")
        assert rc.reference_code == codes["DON_B"] and check_receipt(rc, s).ok


def test_registration_reports_every_problem_at_once(engine) -> None:
    day(engine)
    with transaction(engine) as s:
        with pytest.raises(StoreError) as exc:
            register_donation(s, donor=" ", user="wang", earmark_site_id=["NOPE"], earmark_kind=["spa"],
                              lots=[LotSpec("caviar", "EXPO", 10), LotSpec("mask", "MOON", 2.5),  # type: ignore[arg-type]
                                    LotSpec("mask", "EXPO", 5, lot_id="LA1", expires="05/02/2020x")])
        msg = str(exc.value)
        for part in ("donor", "caviar", "MOON", "2.5", "LA1 already exists", "NOPE", "spa", "expires"):
            assert part in msg, part
        with pytest.raises(StoreError, match="officer"):
            register_donation(s, donor="x", user="li", lots=[LotSpec("mask", "EXPO", 1)])
    with transaction(engine) as s:
        with pytest.raises(StoreError, match="needs a reason"):
            inspect_lot(s, "LA1", "rejected", user="wang")
        with pytest.raises(StoreError, match="civil"):
            inspect_lot(s, "LA1", "downgraded", user="wang", reason="x")
        with pytest.raises(StoreError, match="not a donation"):
            inspect_lot(s, "LR1", "passed", user="wang")
        with pytest.raises(StoreError, match="must be one of"):
            inspect_lot(s, "LA1", "smelled ok", user="wang")
        n = ledger.head(s)[0]
    with transaction(engine) as s:
        assert ledger.head(s)[0] == n  # nothing appended by the failures


def test_receipt_round_trip_and_bad_receipts() -> None:
    r = Receipt("SA-AAAA-BBBB-CCCC", "D1", 3, "a" * 64, 5, "b" * 64, ("L1",))
    assert Receipt.from_json(r.to_json()) == r
    for bad in ("{}", "[]", "not json", json.dumps({"format": "supply-allocator/receipt/1"})):
        with pytest.raises(StoreError, match="not a donation receipt"):
            Receipt.from_json(bad)


def test_publish_refuses_when_the_stock_records_and_the_ledger_disagree(engine, tmp_path: Path) -> None:
    from sqlalchemy import text

    day(engine)
    with engine.begin() as c:  # units vanish from a donated lot without a ledger entry
        c.execute(text("UPDATE lots SET quantity = quantity - 7 WHERE lot_id = 'LA1'"))
    with transaction(engine) as s:
        with pytest.raises(ledger.LedgerError, match="lot LA1: the database holds 993"):
            ledger.publish(s, tmp_path / "pub")
    assert not (tmp_path / "pub").exists()
