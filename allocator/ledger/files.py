"""Publication files: what a signed public snapshot holds, computed from the chain alone, and the link swap.

:func:`build_files` computes every data file from the chain's lines (what
:func:`allocator.ledger.verify` recomputes); :func:`point` swaps the public
link in one rename. Writing a publication from the database and recording it
(:func:`allocator.store.ledger.publish`, also importable as
``allocator.ledger.publish``) follows this order, which makes every kill safe:

Layout: ``allocator publish --out public`` writes ``public.versions/<seq>-<time>/``
and makes ``public`` a symbolic link to it.

1. the versioned folder is written completely (files fsynced, one rename);
2. the ``publications`` row is added and the transaction commits;
3. only then the link is replaced (:func:`allocator.fsutil.atomic_link`: one rename).

A kill before 2 leaves a folder no row names: the next publication removes it.
A kill between 2 and 3 leaves the row and the folder: the next publication (or
:func:`allocator.store.ledger.repair`) points the link at it first. A reader of
``public`` always sees one complete publication.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from allocator.fsutil import atomic_link
from allocator.ledger import tables
from allocator.ledger.chain import canonical
from allocator.ledger.iati import activities_xml

FORMAT = "supply-allocator/ledger/2"
HASH_RULE = "sha256(canonical_json({seq, prev_hash, **fields})); canonical JSON as in docs/ledger.md"
#: Files every publication holds (besides manifest.json and signature.json), each with a digest in the manifest.
DATA_FILES = ("ledger.jsonl", "donations.csv", "donation_usage.csv", "iati-activities.xml")
ORG_REF_ENV, ORG_NAME_ENV = "ALLOCATOR_IATI_ORG_REF", "ALLOCATOR_IATI_ORG_NAME"
DEFAULT_ORG_REF, DEFAULT_ORG_NAME = "XX-SUPPLY-ALLOCATOR", "Epidemic supply command centre"


@dataclass(frozen=True)
class Publication:
    """What :func:`publish` wrote: the link, the versioned folder it points to, the head and the manifest."""

    out_dir: Path
    version_dir: Path
    head_seq: int
    head_hash: str
    manifest: dict[str, Any]


def build_files(lines: Sequence[Mapping[str, Any]], *, published_at: str, org_ref: str,
                org_name: str) -> tuple[dict[str, bytes], dict[str, int], tables.State]:
    """Every data file of a publication, computed from the chain alone (what verify recomputes)."""
    st = tables.replay(lines)
    drows, urows = tables.donation_rows(st), tables.usage_rows(st)
    files = {
        "ledger.jsonl": b"".join(canonical(dict(ln)) + b"\n" for ln in lines),
        "donations.csv": tables.render_csv(tables.DONATION_COLUMNS, drows),
        "donation_usage.csv": tables.render_csv(tables.USAGE_COLUMNS, urows),
        "iati-activities.xml": activities_xml(drows, urows, generated=published_at, org_ref=org_ref,
                                              org_name=org_name),
    }
    return files, tables.counts(st, lines, drows, urows), st


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` in hex (the manifest's file digests)."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


def absolute_path(out: str | Path) -> Path:
    """The absolute path of ``out`` without following its last component (it is a link)."""
    return Path(os.path.abspath(out))


def versions_dir(out: Path) -> Path:
    """The folder holding every version of publication ``out``."""
    return out.parent / f"{out.name}.versions"


def point(out: Path, target: Path) -> None:
    """Make ``out`` a symbolic link to ``target`` in one rename (a reader sees the old or the new)."""
    out = absolute_path(out)
    if out.exists() and not out.is_symlink():
        # a folder written by an older version: kept as a version, then replaced by the link
        legacy = versions_dir(out) / f"legacy-{datetime.now():%Y%m%dT%H%M%S%f}"
        legacy.parent.mkdir(parents=True, exist_ok=True)
        os.replace(out, legacy)
    atomic_link(out, target)


def link_target(out: Path) -> str | None:
    """The version folder the publication link ``out`` points at (its name), or None when it is no link."""
    if not out.is_symlink():
        return None
    return Path(os.readlink(out)).name
