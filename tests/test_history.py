"""The History page's timeline (allocator.history): every recorded action, who and when."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from allocator import examples
from allocator.history import COLUMNS, SOURCES, timeline
from allocator.store import (
    add_user,
    approve_round,
    create_round,
    import_scenario,
    memory_store,
    transaction,
)
from allocator.store import models as m
from allocator.store.auth import login, record_event
from allocator.store.rounds import write_off_stock


def test_the_timeline_has_rounds_write_offs_ledger_and_events_newest_first() -> None:
    eng = memory_store()
    with transaction(eng) as s:
        import_scenario(s, examples.donated_city())
        add_user(s, "wang", "pw", ["officer"])
        add_user(s, "li", "pw", ["approver"])
        login(s, "wang", "pw", client="10.1.1.1")
        record_event(s, "wang", "data_imported", detail="day.zip")
    from allocator.store import current_scenario

    with transaction(eng) as s:
        sc = current_scenario(s)
        alloc = pd.DataFrame([{"lot_id": "LA1", "depot_id": "EXPO", "site_id": "JYT", "item_id": "mask",
                               "need_item_id": "mask", "quantity": 10, "travel_min": 20.0}])
        r = create_round(s, sc, alloc, None, {}, "wang")
        rid = r.id
    with transaction(eng) as s:
        approve_round(s, rid, "li")
        write_off_stock(s, "LA1", 5, "damaged in the depot", "wang")
    with transaction(eng) as s:
        tl = timeline(s, limit=None)
        n_ledger = len(s.scalars(select(m.LedgerEntry)).all())
        assert len(timeline(s, limit=3)) == 3
        assert list(tl.columns) == COLUMNS and set(tl.source) <= set(SOURCES)
    assert tl["at"].is_monotonic_decreasing
    rounds = tl[tl.source == "round"]
    assert set(zip(rounds.action, rounds.who)) == {("round_created", "wang"), ("round_approved", "li")}
    assert (rounds.subject == f"#{rid}").all()
    wo = tl[tl.source == "write_off"]
    assert wo[["who", "subject"]].values.tolist() == [["wang", "LA1"]] and "damaged" in wo.detail.iloc[0]
    assert (tl.source == "ledger").sum() == n_ledger and n_ledger > 0
    ev = tl[tl.source == "event"]
    assert set(ev.action) == {"ok", "data_imported"}
    assert ev[ev.action == "data_imported"].detail.tolist() == ["day.zip"]
