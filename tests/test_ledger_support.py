"""Shared helpers of the ledger tests (no tests here): a day of work, publication, the signing key.

The databases (``db_url``, ``engine``: SQLite, and PostgreSQL too when
``ALLOCATOR_TEST_POSTGRES_URL`` is set) are ``tests/conftest.py``'s.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allocator import examples, ledger
from allocator.scenario import Scenario
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
    transaction,
)

ROOT = Path(__file__).resolve().parents[1]

#: A round on donated_city: every donated lot and the reserve lot used.
ROUND1 = (
    ("LA1", "EXPO", "JYT", "mask", 600),
    ("LA1", "EXPO", "UNION", "mask", 300),
    ("LA1", "EXPO", "HOTEL7", "mask", 100),
    ("LB1", "EXPO", "JYT", "suit", 150),
    ("LB2", "AIRPORT", "UNION", "suit", 100),
    ("LR1", "AIRPORT", "JYT", "n95", 300),
)


@pytest.fixture(autouse=True)
def signing_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test signs with its own key, outside every published folder."""
    key = tmp_path / "keys" / "ledger.pem"
    monkeypatch.setenv("ALLOCATOR_LEDGER_KEY", str(key))
    return key


def with_civil_mask(sc: Scenario | None = None) -> Scenario:
    """donated_city plus a civil-grade mask (what a failed medical mask is downgraded to)."""
    from allocator.scenario import from_tables

    sc = sc or examples.donated_city()
    tables = {k: v.copy() for k, v in sc.tables.items()}
    items = tables["items"]
    row = items.iloc[[0]].copy()
    row["item_id"], row["name"], row["grade"], row["category"] = "cmask", "Civil face mask", "civil", "mask"
    if "name_zh" in row:
        row["name_zh"] = "民用口罩"
    tables["items"] = pd.concat([items, row], ignore_index=True)
    return from_tables(tables, name=sc.name, as_of=sc.as_of)


def alloc(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(
        [{"lot_id": lot, "depot_id": d, "site_id": site, "item_id": item, "need_item_id": item,
          "quantity": q, "travel_min": 20.0} for lot, d, site, item, q in rows])


def day(engine, scenario: Scenario | None = None) -> None:
    """Import donated_city, add an officer (wang), an approver (li) and a receiver of JYT (jyt)."""
    from allocator.store.receivers import link_receiver

    with transaction(engine) as s:
        import_scenario(s, scenario or examples.donated_city())
        add_user(s, "wang", "officer-pw", ["officer"])
        add_user(s, "li", "approver-pw", ["approver"])
        add_user(s, "jyt", "receiver-pw", ["receiver"])
        link_receiver(s, "jyt", "JYT")


def run_round(engine, rows=ROUND1, *, receiver_confirms: bool = True, lost: int = 10) -> int:
    """Create, approve, dispatch and deliver a round; JYT's trips confirmed by its receiver."""
    with transaction(engine) as s:
        rid = create_round(s, current_scenario(s), alloc(*rows), None, {"status": "optimal"}, "wang").id
    with transaction(engine) as s:
        approve_round(s, rid, "li")
        dispatch_round(s, rid, "wang")
    with transaction(engine) as s:
        lines = lines_frame(s, rid)
        if receiver_confirms:
            for tid in sorted(set(lines[lines.site_id == "JYT"].trip_id)):
                confirm_delivery(s, rid, "jyt", trip_id=int(tid))
        first = lines[lines.site_id != "JYT"].iloc[0]
        disc = {int(first.line_id): Discrepancy(int(first.quantity) - lost, "damaged", "written_off", "crushed")}
        confirm_delivery(s, rid, "wang", discrepancies=disc)
    return rid


def publish(engine, out: Path, **kw) -> ledger.Publication:
    with transaction(engine) as s:
        return ledger.publish(s, out, **kw)
