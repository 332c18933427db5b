"""What the public sees: a published snapshot turned into totals, a search and trails.

The public page (in the app and as a static site) reads only a folder that
:func:`allocator.ledger.publish` wrote, never the live database, so nothing
unpublished can leak through it. Every number it shows is computed here from
the snapshot's ``ledger.jsonl`` (the hash chain that :func:`allocator.ledger.verify`
checks), and names come from the snapshot's published tables. The app's page
and the static site (:mod:`allocator.site`) both render :func:`view_model`, so
they show the same numbers by construction, and a test checks the rendered pages.

Donors who asked to stay anonymous are anonymous in the ledger itself (it only
holds the published form), so no function here can reveal them.

Examples
--------
>>> import tempfile
>>> from allocator import examples
>>> from allocator.ledger import publish
>>> from allocator.store import import_scenario, memory_store, transaction
>>> eng = memory_store()
>>> out = tempfile.mkdtemp() + "/pub"
>>> with transaction(eng) as s:
...     _ = import_scenario(s, examples.grades_and_earmarks())
...     _ = publish(s, out)
>>> snap = load_snapshot(out)
>>> snap.verification.ok
True
>>> int(totals_by(snap, "item")["received"].sum()) > 0
True
"""

from __future__ import annotations

import csv
import functools
import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.cells import unescape_formula
from allocator.errors import AllocatorError

__all__ = [
    "Snapshot", "SnapshotError", "load_snapshot", "latest_snapshot", "donation_index", "totals_by",
    "search", "trail", "trail_records", "trail_sites", "stock_split", "find_entry", "view_model", "RECHECK_COMMAND",
    "load_channels", "DEFAULT_CHANNELS", "public_root", "previous_snapshot",
]


def public_root() -> Path:
    """The folder of published snapshots the public page reads (where the app publishes them).

    :func:`allocator.store.publication.public_root`: ``$ALLOCATOR_PUBLIC_DIR`` or ``var/public``.
    """
    from allocator.store.publication import public_root as root

    return root()


#: The deployment's donation channels, unless ``ALLOCATOR_CHANNELS`` names another file.
DEFAULT_CHANNELS = Path("var") / "channels.toml"

#: The one command that lets anyone re-check a snapshot (shown on the page).
RECHECK_COMMAND = "pip install supply-allocator && allocator verify {path}"

_DIMENSIONS = {"item": "item_id", "donor": "donor", "site": "site_id"}
_COUNTED = ("received", "inspected", "passed", "allocated", "dispatched", "delivered", "in_stock", "written_off")


class SnapshotError(AllocatorError):
    """A folder is not a readable published snapshot."""


@dataclass(frozen=True)
class Snapshot:
    """One published snapshot, read and verified.

    Attributes
    ----------
    path : Path
    manifest : dict
        ``manifest.json`` as published.
    entries : list of dict
        The ledger, one dict per entry, in order.
    verification : allocator.ledger.Verification
        Whether the snapshot checks out, and if not the first failure.
    items, sites : DataFrame
        Published names (and, where the snapshot has them, Chinese names,
        units, kinds, districts, coordinates), indexed by id.
    """

    path: Path
    manifest: dict[str, Any]
    entries: list[dict[str, Any]]
    verification: Any
    items: pd.DataFrame
    sites: pd.DataFrame
    files: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: the earlier publication this one was verified to extend unchanged (None: not checked / the first)
    since: Path | None = None

    @functools.cached_property
    def by_donation(self) -> dict[str, list[dict[str, Any]]]:
        """The ledger's entries grouped by donation, in order (computed once)."""
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in self.entries:
            if "donation_id" in e:
                out[str(e["donation_id"])].append(e)
        return dict(out)

    @functools.cached_property
    def counted(self) -> pd.DataFrame:
        """Counted quantities per (donation, item, site) from the ledger (computed once)."""
        return _rows(self)

    @functools.cached_property
    def item_names(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.items["name"].items()}

    @functools.cached_property
    def site_names(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.sites["name"].items()}

    @functools.cached_property
    def depot_totals(self) -> dict[str, tuple[int, int]]:
        """Per donation: units still in a depot and units written off (computed once)."""
        part = self.counted[self.counted.site_id == ""]
        g = part.groupby("donation_id")[["in_stock", "written_off"]].sum()
        return {str(k): (int(a), int(b)) for k, a, b in zip(g.index, g.in_stock, g.written_off)}

    @property
    def head_seq(self) -> int:
        return int(self.manifest.get("head_seq") or 0)

    @property
    def head_hash(self) -> str:
        return str(self.manifest.get("head_hash") or "")

    @property
    def published_at(self) -> str:
        return str(self.manifest.get("published_at") or "")


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    with open(path, encoding="utf-8", newline="") as f:
        rows = [{k: unescape_formula(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return pd.DataFrame(rows)


def _reference(files: Mapping[str, pd.DataFrame], key: str, sources: Iterable[tuple[str, str, str]]) -> pd.DataFrame:
    """Names by id from every published table that carries them (first non-empty wins)."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for fname, id_col, prefix in sources:
        df = files.get(fname)
        if df is None or df.empty or id_col not in df:
            continue
        cols = [c for c in df.columns if c != id_col]
        for rec in df.to_dict("records"):
            ident = str(rec.get(id_col) or "")
            if not ident:
                continue
            row = out[ident]
            for c in cols:
                name = c[len(prefix):] if prefix and c.startswith(prefix) else (c if not prefix else None)
                if name is None:
                    continue
                v = rec.get(c)
                if v not in (None, "") and not row.get(name):
                    row[name] = str(v)
    frame = pd.DataFrame.from_dict(out, orient="index")
    frame.index.name = key
    if "name" not in frame:
        frame["name"] = ""
    return frame.fillna("")


def load_snapshot(path: str | Path, *, since: str | Path | None | bool = True, key: str | None = None) -> Snapshot:
    """Read and verify a snapshot folder written by ``allocator publish``.

    Parameters
    ----------
    path : str or Path
        The snapshot folder (or a publication root whose ``current`` points at one).
    since : path, False or True
        The earlier publication this one must extend unchanged (passed to
        :func:`allocator.ledger.verify`); True (default) takes the previous version
        beside it (:func:`previous_snapshot`), False checks none.
    key : str, optional
        The public key the snapshot must be signed with.

    Raises
    ------
    SnapshotError
        The folder has no manifest or ledger, or they cannot be read.
    """
    from allocator import ledger

    p = Path(path)
    if (p / "current").exists() and not (p / "manifest.json").is_file():
        p = (p / "current").resolve()
    if not (p / "manifest.json").is_file() or not (p / "ledger.jsonl").is_file():
        raise SnapshotError(f"{p}: not a published snapshot (no manifest.json and ledger.jsonl)")
    try:
        manifest = json.loads((p / "manifest.json").read_text(encoding="utf-8"))
        entries = [json.loads(line) for line in (p / "ledger.jsonl").read_text(encoding="utf-8").splitlines() if line]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{p}: cannot read the snapshot ({exc})") from exc
    if not isinstance(manifest, dict) or not all(isinstance(e, dict) for e in entries):
        raise SnapshotError(f"{p}: manifest or ledger entries are not JSON objects")
    prev = previous_snapshot(p) if since is True else (Path(since) if since else None)
    verification = ledger.verify(p, key=key, since=prev)
    files = {f.stem: _read_table(f) for f in sorted(p.glob("*.csv"))}
    items = _reference(files, "item_id", [("items", "item_id", ""), ("donations", "item_id", "item_")])
    sites = _reference(files, "site_id", [("sites", "site_id", ""), ("donation_usage", "receiver_org_ref", "receiver_org_")])
    if "receiver_org" in files.get("donation_usage", pd.DataFrame()):
        u = files["donation_usage"]
        for ref, name in zip(u["receiver_org_ref"], u["receiver_org"]):
            if ref and ref in sites.index and not sites.at[ref, "name"]:
                sites.at[ref, "name"] = name
            elif ref and ref not in sites.index:
                sites.loc[ref, "name"] = name
        sites = sites.fillna("")
    return Snapshot(path=p, manifest=manifest, entries=entries, verification=verification,
                    items=items, sites=sites, files=files, since=prev)


def previous_snapshot(path: str | Path) -> Path | None:
    """The publication before ``path`` among its sibling versions (``<out>.versions/``), or None.

    The public page verifies that the snapshot it shows extends this one unchanged
    (:func:`allocator.ledger.verify` with ``since``).
    """
    p = Path(path).resolve()
    try:
        here = int(json.loads((p / "manifest.json").read_text(encoding="utf-8")).get("head_seq") or 0)
    except (OSError, ValueError, TypeError):
        return None
    best: tuple[int, str, Path] | None = None
    for m in p.parent.glob("*/manifest.json"):
        if m.parent == p:
            continue
        try:
            seq = int(json.loads(m.read_text(encoding="utf-8")).get("head_seq") or 0)
        except (OSError, ValueError, TypeError):
            continue
        if seq < here and (best is None or (seq, m.parent.name) > best[:2]):
            best = (seq, m.parent.name, m.parent)
    return None if best is None else best[2]


def latest_snapshot(root: str | Path) -> Path | None:
    """The newest snapshot folder under ``root`` (by the manifest's head), or None."""
    r = Path(root)
    if not r.is_dir():
        return None
    if (r / "manifest.json").is_file():
        return r
    if (r / "current" / "manifest.json").is_file():
        return (r / "current").resolve()
    best: tuple[int, str, Path] | None = None
    for m in r.glob("*/manifest.json"):
        try:
            data = json.loads(m.read_text(encoding="utf-8"))
            k = (int(data.get("head_seq") or 0), str(data.get("published_at") or ""), m.parent)
        except (OSError, ValueError, TypeError):
            continue
        if best is None or k[:2] > best[:2]:
            best = k
    return None if best is None else best[2]


def load_channels(path: str | Path | None = None) -> dict[str, Any]:
    """The donation channels to publish (hotline, addresses, note) from a TOML file.

    ``path`` defaults to ``$ALLOCATOR_CHANNELS`` or ``var/channels.toml``; a missing
    default file gives no channels (the page then says they are not configured).
    The file has top-level keys ``hotline`` (str), ``addresses`` (list of str) and
    ``note`` (str), optionally per language in ``[zh]``/``[en]`` tables.

    Raises
    ------
    SnapshotError
        A file that was named explicitly is missing or is not valid TOML.
    """
    import os
    import tomllib

    explicit = path is not None or bool(os.environ.get("ALLOCATOR_CHANNELS"))
    p = Path(path or os.environ.get("ALLOCATOR_CHANNELS") or DEFAULT_CHANNELS)
    if not p.is_file():
        if explicit:
            raise SnapshotError(f"{p}: the donation channels file does not exist")
        return {}
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SnapshotError(f"{p}: cannot read the donation channels ({exc})") from exc
    out: dict[str, Any] = {}
    if isinstance(data.get("hotline"), str | int):
        out["hotline"] = str(data["hotline"])
    if isinstance(data.get("addresses"), list):
        out["addresses"] = [str(a) for a in data["addresses"]]
    if isinstance(data.get("note"), str):
        out["note"] = data["note"]
    for lang in ("zh", "en"):
        if isinstance(data.get(lang), dict):
            out[lang] = {k: v for k, v in data[lang].items() if isinstance(v, str | list)}
    return out


# --------------------------------------------------------------------------- the view


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def _pledges(snap: Snapshot) -> dict[str, dict[str, Any]]:
    """Each donation's pledge, with the donor as last published (``donor_changed`` entries applied)."""
    out: dict[str, dict[str, Any]] = {}
    for e in snap.entries:
        did = str(e.get("donation_id", ""))
        if e.get("event") == "pledged" and did:
            out[did] = e
        elif e.get("event") == "donor_changed" and did in out:
            out[did] = {**out[did], "donor": e.get("donor", out[did].get("donor", ""))}
    return out


def _code_of(pledge: Mapping[str, Any]) -> str:
    for k in ("reference", "reference_code", "code"):
        if pledge.get(k):
            return str(pledge[k])
    return ""


def _per_key(snap: Snapshot) -> dict[tuple[str, str, str], dict[str, int]]:
    """Counted quantities per (donation, item, site); site "" for what stays in a depot."""
    from allocator.ledger import totals_from_ledger

    out: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(_COUNTED, 0))
    usable = [e for e in snap.entries if "donation_id" in e and "event" in e]
    tot = totals_from_ledger(usable)
    for (did, item), t in tot.donations.items():
        row = out[(did, item, "")]
        for k in ("received", "allocated", "in_stock", "written_off"):
            row[k] = int(t[k])
    lot_qty: dict[str, int] = defaultdict(int)
    for e in usable:
        if e["event"] == "received":
            lot_qty[str(e.get("lot_id", ""))] += int(e.get("quantity", 0) or 0)
    for e in usable:
        if e["event"] == "inspected":
            q = lot_qty.get(str(e.get("lot_id", "")), 0)
            row = out[(str(e["donation_id"]), str(e.get("item_id", "")), "")]
            row["inspected"] += q
            if e.get("result") == "passed":
                row["passed"] += q
    for (did, item, site), t in tot.usage.items():
        if site:
            row = out[(did, item, site)]
            for k in ("allocated", "dispatched", "delivered", "written_off"):
                row[k] = int(t[k])
    return out


def _rows(snap: Snapshot) -> pd.DataFrame:
    pledges = _pledges(snap)
    recs = []
    for (did, item, site), t in _per_key(snap).items():
        donor = str(pledges.get(did, {}).get("donor", ""))
        recs.append({"donation_id": did, "item_id": item, "site_id": site, "donor": donor, **t})
    cols = ["donation_id", "item_id", "site_id", "donor", *_COUNTED]
    return pd.DataFrame(recs, columns=cols)


def donation_index(snap: Snapshot) -> pd.DataFrame:
    """One row per donation: code, donor, date, items and headline quantities."""
    pledges = _pledges(snap)
    rows = snap.counted
    dep = rows[rows.site_id == ""]
    d = dep.groupby("donation_id")[["received", "allocated", "in_stock"]].sum()
    items = dep[dep.received > 0].groupby("donation_id").item_id.agg(lambda x: ";".join(sorted(set(x))))
    sent = rows[rows.site_id != ""]
    s = sent.groupby("donation_id").agg(delivered=("delivered", "sum"), sites=("site_id", "nunique"))
    dd, it, ss = d.to_dict("index"), items.to_dict(), s.to_dict("index")
    zero = {"received": 0, "allocated": 0, "in_stock": 0}
    recs = []
    for did, p in pledges.items():
        a, b = dd.get(did, zero), ss.get(did, {"delivered": 0, "sites": 0})
        recs.append({
            "donation_id": did, "code": _code_of(p), "donor": str(p.get("donor", "")),
            "date": str(p.get("date", ""))[:10], "items": it.get(did, ""),
            "received": int(a["received"]), "allocated": int(a["allocated"]),
            "delivered": int(b["delivered"]), "in_stock": int(a["in_stock"]), "sites": int(b["sites"]),
        })
    cols = ["donation_id", "code", "donor", "date", "items", "received", "allocated", "delivered", "in_stock", "sites"]
    return pd.DataFrame(recs, columns=cols).sort_values("donation_id", kind="stable").reset_index(drop=True)


def totals_by(snap: Snapshot, by: str) -> pd.DataFrame:
    """Totals by ``"item"``, ``"donor"`` or receiving ``"site"``.

    By item and by donor: received, inspected, passed, allocated, delivered, in
    stock and written off, plus the number of donations. By site: allocated,
    dispatched and delivered to it.
    """
    if by not in _DIMENSIONS:
        raise SnapshotError(f"totals by {by!r}: choose one of {', '.join(_DIMENSIONS)}")
    rows = snap.counted
    col = _DIMENSIONS[by]
    if by == "site":
        part = rows[rows.site_id != ""]
        out = part.groupby("site_id")[["allocated", "dispatched", "delivered", "written_off"]].sum()
        out["donations"] = part.groupby("site_id").donation_id.nunique()
        names: pd.DataFrame | None = snap.sites.reindex(out.index)
    else:
        depot = rows[rows.site_id == ""]
        sent = rows[rows.site_id != ""].groupby(col)[["dispatched", "delivered"]].sum()
        out = depot.groupby(col)[["received", "inspected", "passed", "allocated", "in_stock", "written_off"]].sum()
        out = out.join(sent, how="left").fillna(0)
        out["donations"] = depot.groupby(col).donation_id.nunique()
        names = snap.items.reindex(out.index) if by == "item" else None
    out = out.astype("int64").reset_index()
    if names is not None:
        for c in ("name", "name_zh", "unit"):
            if c in names:
                out.insert(1 if c == "name" else len(out.columns), c, names[c].fillna("").to_numpy())
    return out.sort_values(out.columns[0], kind="stable").reset_index(drop=True)


def search(snap: Snapshot, query: str, *, limit: int = 50) -> pd.DataFrame:
    """Donations whose id, reference code or published donor name contains ``query``.

    Matching ignores case, width and Unicode normal form. An anonymous donor is
    found only by the donation's id or code, never by a name.
    """
    idx = donation_index(snap)
    q = _fold(query or "")
    if not q:
        return idx.iloc[0:0]
    hit = idx.apply(lambda r: q in _fold(r.donation_id) or (bool(r.code) and q in _fold(r.code))
                    or q in _fold(r.donor), axis=1)
    exact = idx.apply(lambda r: _fold(r.donation_id) == q or _fold(r.code) == q, axis=1)
    out = idx[hit].assign(_exact=exact[hit]).sort_values(["_exact", "donation_id"], ascending=[False, True])
    return out.drop(columns="_exact").head(limit).reset_index(drop=True)


def _detail(e: Mapping[str, Any]) -> str:
    ev = e.get("event")
    if ev == "inspected":
        return str(e.get("result", ""))
    if ev == "written_off":
        return str(e.get("reason") or e.get("origin") or "")
    if ev == "delivered":
        by = e.get("confirmed_by_site") or e.get("attested_by") or e.get("confirmed_by")
        role = e.get("confirmer_role") or e.get("attestation")
        if by or role:
            return f"{role or ''} {by or ''}".strip()
    if ev == "pledged":
        marks = [*e.get("earmark_site_id", []), *e.get("earmark_kind", [])]
        return ";".join(str(m) for m in marks)
    return ""


_TRAIL_COLUMNS = ["seq", "at", "event", "item_id", "item_name", "quantity", "site_id", "site_name", "depot_id",
                  "round_id", "trip_id", "detail", "hash"]


def trail_records(snap: Snapshot, donation_id: str) -> list[dict[str, Any]]:
    """:func:`trail` as plain records (what the static site stores)."""
    recs = []
    lot_qty: dict[str, int] = defaultdict(int)
    item_names, site_names = snap.item_names, snap.site_names
    for e in snap.by_donation.get(donation_id, []):
        ev = str(e.get("event", ""))
        if ev == "received":
            lot_qty[str(e.get("lot_id", ""))] += int(e.get("quantity", 0) or 0)
        site = str(e.get("site_id", "") or "")
        item = str(e.get("item_id", "") or "")
        recs.append({
            "seq": int(e.get("seq", 0) or 0), "at": str(e.get("at", "")), "event": ev,
            "item_id": item, "item_name": item_names.get(item, ""),
            "quantity": int(e.get("quantity", 0) or 0) if ev != "inspected"
            else lot_qty.get(str(e.get("lot_id", "")), 0), "site_id": site,
            "site_name": site_names.get(site, ""),
            "depot_id": str(e.get("depot_id", "") or ""), "round_id": str(e.get("round_id", "") or ""),
            "trip_id": str(e.get("trip_id", "") or ""), "detail": _detail(e), "hash": str(e.get("hash", "")),
        })
    return recs


def trail(snap: Snapshot, donation_id: str) -> pd.DataFrame:
    """Every ledger entry of one donation in order: when, what, how much, where, and its hash."""
    return pd.DataFrame(trail_records(snap, donation_id), columns=_TRAIL_COLUMNS)


def trail_sites(snap: Snapshot, donation_id: str) -> pd.DataFrame:
    """The sites a donation reached, with delivered quantities and coordinates where published."""
    rows = snap.counted
    part = rows[(rows.donation_id == donation_id) & (rows.site_id != "")]
    out = part.groupby("site_id")[["allocated", "delivered"]].sum().reset_index()
    ref = snap.sites.reindex(out.site_id)
    out["name"] = ref["name"].fillna("").to_numpy()
    for c in ("lat", "lon"):
        out[c] = pd.to_numeric(ref[c], errors="coerce").to_numpy() if c in ref else float("nan")
    return out


def stock_split(snap: Snapshot, donation_id: str) -> dict[str, int]:
    """What of a donation is still in a depot: available, quarantined, and written off."""
    status: dict[str, str] = {}
    qty: dict[str, int] = defaultdict(int)
    for e in snap.by_donation.get(donation_id, []):
        lot = str(e.get("lot_id", ""))
        if e.get("event") == "inspected":
            status[lot] = str(e.get("result", ""))
        elif e.get("event") == "received":
            qty[lot] += int(e.get("quantity", 0) or 0)
    in_stock, written_off = snap.depot_totals.get(donation_id, (0, 0))
    quarantined = sum(q for lot, q in qty.items() if status.get(lot) in ("quarantined", None, ""))
    quarantined = min(quarantined, in_stock)
    return {"available": in_stock - quarantined, "quarantined": quarantined, "written_off": written_off}


def find_entry(snap: Snapshot, code: str) -> dict[str, Any] | None:
    """The pledge entry with this reference code (or donation id), for a donor's receipt check."""
    q = _fold(code or "")
    if not q:
        return None
    for e in snap.entries:
        if e.get("event") == "pledged" and (_fold(_code_of(e)) == q or _fold(str(e.get("donation_id", ""))) == q):
            return e
    return None


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records", force_ascii=False))


def view_model(snap: Snapshot, *, channels: Mapping[str, Any] | None = None, trails: bool = True) -> dict[str, Any]:
    """Everything the public page shows, as JSON-able data (the static site's data file).

    Parameters
    ----------
    snap : Snapshot
    channels : mapping, optional
        The donation channels (hotline, addresses) from the deployment's configuration.
    trails : bool
        Include every donation's trail (the static site shards them by donation).
    """
    v = snap.verification
    model: dict[str, Any] = {
        "snapshot": {
            "published_at": snap.published_at, "head_seq": snap.head_seq, "head_hash": snap.head_hash,
            "verified": bool(getattr(v, "ok", False)), "message": str(v),
            "previous": snap.manifest.get("previous") or snap.manifest.get("previous_head"),
            "extends_checked": snap.since is not None,
            "public_key": snap.manifest.get("public_key") or snap.manifest.get("signing_key"),
            "name": snap.manifest.get("name") or snap.manifest.get("deployment") or "",
        },
        "totals": {by: _records(totals_by(snap, by)) for by in _DIMENSIONS},
        "donations": _records(donation_index(snap)),
        "sites": _records(snap.sites.reset_index()),
        "items": _records(snap.items.reset_index()),
        "channels": dict(channels or {}),
    }
    if trails:
        model["trails"] = {did: {"events": trail_records(snap, did), "stock": stock_split(snap, did)}
                           for did in _pledges(snap)}
    return model
