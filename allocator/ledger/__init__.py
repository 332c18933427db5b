"""The public donation ledger: a hash chain of every event in each donation's life, published signed.

Every event (``pledged``, ``received``, ``inspected``, ``allocated``,
``released``, ``dispatched``, ``delivered``, ``returned``, ``written_off``, and
the reference events ``item_described`` / ``site_described`` that carry the
names a publication shows) is appended to the ``ledger`` table in the same
transaction as the change it records, after a schema check
(:mod:`allocator.ledger.schema`). Entry ``seq`` carries ``prev_hash`` (the
hash of entry ``seq - 1``; 64 zeros for the first) and::

    hash = SHA-256(canonical JSON of {"seq": seq, "prev_hash": prev_hash, **fields})

:func:`publish` writes the public snapshot (``ledger.jsonl``, ``donations.csv``,
``donation_usage.csv``, ``iati-activities.xml``, ``manifest.json``,
``signature.json``): every published cell is computed from the chain; the
manifest names the previous publication's head and the Merkle root of the
entries and is signed with the deployment's Ed25519 key; publication refuses a
chain that does not extend its own last published head. :func:`verify`
recomputes every byte from the chain alone; ``verify(new, since=old)`` checks
that a later publication extends an earlier one unchanged, so the holder of an
old head (or of a donor's receipt, :mod:`allocator.store.donations`) detects a
rewritten history even when every hash was recomputed; ``key=`` pins the
signing key. ``docs/ledger.md`` is the specification.

The modules of this package are pure (no database): canonical form, hashing,
the chain check, replaying the chain into tables, totals and verification.
Appending to the database's chain and publishing from it are
:mod:`allocator.store.ledger`'s; :func:`append`, :func:`head`,
:func:`entries`, :func:`publish`, :func:`repair` and :func:`usage_tables` are
importable from here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from allocator.ledger.chain import (
    ANONYMOUS,
    GENESIS,
    INSPECTION,
    LedgerError,
    canonical,
    check_chain,
    entry_hash,
    inspection,
    lot_fields,
    pledge_fields,
    published_donor,
    random_reference_code,
)
from allocator.ledger.files import DATA_FILES, FORMAT, Publication
from allocator.ledger.schema import EVENT_FIELDS, EVENTS
from allocator.ledger.tables import DONATION_COLUMNS, USAGE_COLUMNS, replay
from allocator.ledger.totals import Totals, totals_from_ledger
from allocator.ledger.verify import Verification, read_entries, read_manifest, verify

__all__ = [
    "ANONYMOUS", "DATA_FILES", "DONATION_COLUMNS", "EVENTS", "EVENT_FIELDS", "FORMAT", "GENESIS", "INSPECTION",
    "LedgerError", "Publication", "Totals", "USAGE_COLUMNS", "Verification", "append", "canonical", "check_chain",
    "describe_references", "entries", "entry_hash", "head", "inspection", "lot_fields", "pledge_fields", "publish",
    "published_donor", "random_reference_code", "read_entries", "read_manifest", "repair", "replay",
    "totals_from_ledger", "usage_tables", "verify",
]

if TYPE_CHECKING:  # what __getattr__ gives, for type checkers
    from allocator.store.ledger import (
        append,
        describe_references,
        entries,
        head,
        publish,
        repair,
        usage_tables,
    )

#: The database half (:mod:`allocator.store.ledger`), importable from here as before.
_DATABASE_NAMES = frozenset({"append", "describe_references", "entries", "head", "publish", "repair", "usage_tables"})


def __getattr__(name: str) -> Any:
    # Imported on first use, not with this package: a verifier of a published folder needs no
    # database (and importing allocator.store would bring in the whole store and the scenario checks).
    if name in _DATABASE_NAMES:
        from allocator.store import ledger as database_half

        value = getattr(database_half, name)
        globals()[name] = value  # later look-ups find it without calling this again
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
