"""Publication: the signed public snapshot, written into a versioned folder and swapped in atomically.

Layout: ``allocator publish --out public`` writes ``public.versions/<seq>-<time>/``
and makes ``public`` a symbolic link to it. The order makes every kill safe:

1. the versioned folder is written completely (files fsynced, one rename);
2. the ``publications`` row is added and the transaction commits;
3. only then the link is replaced (``os.replace`` of a new symlink: one rename).

A kill before 2 leaves a folder no row names: the next publication removes it.
A kill between 2 and 3 leaves the row and the folder: the next publication (or
:func:`repair`) points the link at it first. A reader of ``public`` always sees
one complete publication.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from allocator.fsutil import atomic_folder
from allocator.ledger import keys, merkle, tables
from allocator.ledger.chain import (
    GENESIS,
    LedgerError,
    canonical,
    check_chain,
    describe_references,
    entries,
    head,
)
from allocator.ledger.iati import activities_xml
from allocator.ledger.schema import check_fields

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


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _abs(out: str | Path) -> Path:
    """The absolute path of ``out`` without following its last component (it is a link)."""
    return Path(os.path.abspath(out))


def versions_dir(out: Path) -> Path:
    """The folder holding every version of publication ``out``."""
    return out.parent / f"{out.name}.versions"


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def point(out: Path, target: Path) -> None:
    """Make ``out`` a symbolic link to ``target`` in one rename (a reader sees the old or the new)."""
    out = _abs(out)
    rel = os.path.relpath(target, out.parent)
    tmp = out.parent / f".{out.name}.link-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(rel, tmp)
    if out.exists() and not out.is_symlink():
        # a folder written by an older version: kept as a version, then replaced by the link
        legacy = versions_dir(out) / f"legacy-{datetime.now():%Y%m%dT%H%M%S%f}"
        legacy.parent.mkdir(parents=True, exist_ok=True)
        os.replace(out, legacy)
    os.replace(tmp, out)
    _fsync_dir(out.parent)


def _current_target(out: Path) -> str | None:
    if not out.is_symlink():
        return None
    return Path(os.readlink(out)).name


def repair(session: Session, out_dir: str | Path) -> list[str]:
    """Bring ``out_dir`` in line with the ``publications`` table after a kill.

    Removes versioned folders no publication row names (written before a kill
    that rolled their row back) and points the link at the newest recorded
    version when a kill came between the commit and the swap. Returns what it did.
    """
    from allocator.store import models as m

    out = _abs(out_dir)
    vdir = versions_dir(out)
    rows = list(session.scalars(select(m.Publication).where(m.Publication.out_dir == str(out))
                                .order_by(m.Publication.id)))
    known = {r.version for r in rows if r.version}
    done = []
    current = _current_target(out)
    if vdir.is_dir():
        for child in sorted(vdir.iterdir()):
            if child.name in known or child.name == current or child.name.startswith("legacy-"):
                continue
            shutil.rmtree(child, ignore_errors=True)
            done.append(f"removed {child.name} (no publication recorded)")
    if rows and rows[-1].version and (vdir / rows[-1].version).is_dir() and current != rows[-1].version:
        point(out, vdir / rows[-1].version)
        done.append(f"pointed {out.name} at {rows[-1].version}")
    return done


def last_publication(session: Session) -> Any:
    """The newest row of the ``publications`` table, or None."""
    from allocator.store import models as m

    return session.scalars(select(m.Publication).order_by(m.Publication.id.desc()).limit(1)).first()


def _check_extends(lines: Sequence[Mapping[str, Any]], last: Any) -> None:
    if last is None or not last.head_seq:
        return
    n = int(last.head_seq)
    if len(lines) < n:
        where = f"the chain ends at entry {len(lines)}"
    elif lines[n - 1]["hash"] != last.head_hash:
        where = f"entry {n} (or an earlier one) differs"
    else:
        return
    raise LedgerError(
        f"refusing to publish: the chain does not extend the head published at {last.at:%Y-%m-%d %H:%M:%S} "
        f"(entry {n}, hash {last.head_hash[:16]}...): {where}; the ledger was rewritten")


def _cross_check(session: Session, st: tables.State) -> list[str]:
    """Where the database's stock records and the chain disagree (lot by lot)."""
    from allocator.store import models as m
    from allocator.store.scenario_io import reserved_by_lot

    reserved = reserved_by_lot(session)
    out = []
    for lot in session.scalars(select(m.Lot).where(m.Lot.donation_id.is_not(None), m.Lot.retired.is_(False))):
        ls = st.lots.get(lot.lot_id)
        if ls is None:
            out.append(f"lot {lot.lot_id} of donation {lot.donation_id} has no ledger entries")
            continue
        free = lot.quantity - reserved.get(lot.lot_id, 0)
        if (ls.stock, ls.item_id, ls.status) != (free, lot.item_id, lot.status):
            out.append(f"lot {lot.lot_id}: the database holds {free} {lot.item_id} ({lot.status}) in stock, "
                       f"the ledger {ls.stock} {ls.item_id} ({ls.status})")
    return out


def publish(session: Session, out_dir: str | Path, *, by: str = "", key_path: str | Path | None = None) -> Publication:
    """Write the signed public snapshot and record it (caller commits; the link flips after the commit).

    Files: ``ledger.jsonl`` (the chain), ``donations.csv``, ``donation_usage.csv``,
    ``iati-activities.xml`` (all computed from the chain), ``manifest.json``
    (head, previous publication's head, Merkle root, counts, SHA-256 of every
    file) and ``signature.json`` (Ed25519 signature of manifest.json and the
    public key). See ``docs/ledger.md``.

    Raises
    ------
    LedgerError
        The stored chain is broken, does not extend the last published head,
        holds an entry the schema refuses, or disagrees with the stock records.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.store import memory_store, transaction, import_scenario
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with transaction(memory_store()) as s:
    ...     _ = import_scenario(s, examples.grades_and_earmarks())
    ...     pub = publish(s, d + "/pub", key_path=d + "/key.pem")
    >>> from allocator.ledger import verify
    >>> verify(pub.out_dir).ok
    True
    """
    from allocator.store import models as m
    from allocator.store.db import checkpoint
    from allocator.store.time import iso, utcnow

    out = _abs(out_dir)
    key = keys.load_or_create_key(Path(key_path) if key_path else None)
    kp = (Path(key_path) if key_path else keys.key_path()).resolve()
    if kp.is_relative_to(versions_dir(out).resolve()) or (out.exists() and kp.is_relative_to(out.resolve())):
        raise LedgerError(f"the signing key {kp} must not be inside the published folder")
    session.execute(select(m.LedgerHead).where(m.LedgerHead.id == 1).with_for_update()).scalar_one()
    repair(session, out)
    lines = entries(session)
    seq, digest = head(session)
    if lines and (lines[-1]["seq"], lines[-1]["hash"]) != (seq, digest):
        raise LedgerError("the ledger head does not match its last entry: the database was altered")
    bad = check_chain(lines)
    if bad is not None:
        raise LedgerError(f"the stored ledger is broken at entry {bad}: refusing to publish")
    last = last_publication(session)
    _check_extends(lines, last)
    if describe_references(session, lines):
        lines = entries(session)
        seq, digest = head(session)
    for ln in lines:
        problem = check_fields({k: v for k, v in ln.items() if k not in ("seq", "prev_hash", "hash")})
        if problem:
            raise LedgerError(f"entry {ln['seq']}: {problem}: refusing to publish")
    now = utcnow()
    published_at = iso(now)
    org_ref = os.environ.get(ORG_REF_ENV, "").strip() or DEFAULT_ORG_REF
    org_name = os.environ.get(ORG_NAME_ENV, "").strip() or DEFAULT_ORG_NAME
    files, counts, st = build_files(lines, published_at=published_at, org_ref=org_ref, org_name=org_name)
    problems = _cross_check(session, st)
    if problems:
        raise LedgerError(f"the ledger and the stock records disagree ({len(problems)}): " + "; ".join(problems[:5]))
    prev = {"seq": 0, "hash": GENESIS} if last is None else {"seq": int(last.head_seq), "hash": last.head_hash}
    pub_key = keys.public_hex(key)
    manifest = {
        "format": FORMAT,
        "published_at": published_at,
        "head_seq": seq,
        "head_hash": digest,
        "merkle_root": merkle.merkle_root([ln["hash"] for ln in lines]),
        "previous": prev,
        "counts": counts,
        "files": {name: _sha(files[name]) for name in DATA_FILES},
        "iati_org_ref": org_ref,
        "iati_org_name": org_name,
        "public_key": pub_key,
        "hash_rule": HASH_RULE,
    }
    mbytes = canonical(manifest) + b"\n"
    files["manifest.json"] = mbytes
    files["signature.json"] = canonical({"algorithm": keys.ALGORITHM, "public_key": pub_key,
                                         "signed_file": "manifest.json",
                                         "signature": keys.sign(key, mbytes)}) + b"\n"
    version = f"{seq:08d}-{now:%Y%m%dT%H%M%S%f}"
    vdir = versions_dir(out) / version
    with atomic_folder(vdir) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        os.chmod(tmp, 0o755)  # readable by the web server that serves it
    session.add(m.Publication(at=now, out_dir=str(out), head_seq=seq, head_hash=digest, by=by, version=version,
                              prev_seq=prev["seq"], prev_hash=prev["hash"], manifest_sha256=_sha(mbytes),
                              public_key=pub_key))
    session.flush()
    _swap_after_commit(session, out, vdir)
    checkpoint("publish")
    return Publication(out_dir=out, version_dir=vdir, head_seq=seq, head_hash=digest, manifest=manifest)


def _swap_after_commit(session: Session, out: Path, vdir: Path) -> None:
    from allocator.store.db import checkpoint

    state = {"done": False}

    def on_commit(_s: Session) -> None:
        if not state["done"]:
            state["done"] = True
            checkpoint("publish:committed")
            point(out, vdir)

    def on_rollback(_s: Session) -> None:
        if not state["done"]:
            state["done"] = True
            shutil.rmtree(vdir, ignore_errors=True)

    event.listen(session, "after_commit", on_commit)
    event.listen(session, "after_rollback", on_rollback)
