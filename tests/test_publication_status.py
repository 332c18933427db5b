"""Publication in the workflow: the last snapshot's age, and donations in no snapshot yet."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from allocator import examples
from allocator.public import latest_snapshot, load_snapshot
from allocator.store import add_user, import_scenario, memory_store, transaction
from allocator.store.donations import LotSpec, register_donation
from allocator.store.publication import STALE_AFTER, publication_status, publish_now
from allocator.store.time import utcnow


def test_status_follows_publications_and_new_donations(tmp_path: Path) -> None:
    eng = memory_store()
    with transaction(eng) as s:
        import_scenario(s, examples.donated_city())
        add_user(s, "wang", "officer-pw", ["officer"])
    with transaction(eng) as s:
        before = publication_status(s)
    assert before.last_at is None and set(before.unpublished_donations) == {"DON_A", "DON_B"}
    assert before.overdue_donations == []  # recorded just now
    with transaction(eng) as s:
        pub = publish_now(s, by="wang", out_dir=tmp_path / "public")
    with transaction(eng) as s:
        after = publication_status(s)
    assert after.last_seq == pub.head_seq == after.head_seq and after.unpublished_entries == 0
    assert after.unpublished_donations == [] and after.age() < timedelta(minutes=5)
    # the public page finds it
    snap = load_snapshot(latest_snapshot(tmp_path / "public"))
    assert snap.verification.ok and snap.head_seq == pub.head_seq
    with transaction(eng) as s:
        rc = register_donation(s, donor="Hubei Alumni", lots=[LotSpec("mask", "EXPO", 500)], user="wang")
    with transaction(eng) as s:
        now = publication_status(s)
        later = publication_status(s, now=utcnow() + STALE_AFTER + timedelta(hours=1))
    assert now.unpublished_donations == [rc.donation_id] and now.overdue_donations == []
    assert later.overdue_donations == [rc.donation_id]


def test_the_page_checks_that_a_snapshot_extends_the_previous_one(tmp_path: Path) -> None:
    from allocator.public import previous_snapshot, view_model

    eng = memory_store()
    with transaction(eng) as s:
        import_scenario(s, examples.donated_city())
        add_user(s, "wang", "officer-pw", ["officer"])
    with transaction(eng) as s:
        first = publish_now(s, by="wang", out_dir=tmp_path / "public")
    with transaction(eng) as s:
        register_donation(s, donor="Hubei Alumni", lots=[LotSpec("mask", "EXPO", 500)], user="wang")
    with transaction(eng) as s:
        second = publish_now(s, by="wang", out_dir=tmp_path / "public")
    snap = load_snapshot(latest_snapshot(tmp_path / "public"))
    assert snap.head_seq == second.head_seq > first.head_seq
    assert snap.since == first.version_dir.resolve() == previous_snapshot(snap.path)
    assert snap.verification.ok and view_model(snap)["snapshot"]["extends_checked"] is True
    assert previous_snapshot(first.version_dir) is None
