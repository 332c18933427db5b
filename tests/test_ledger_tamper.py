"""Tampering with a publication: every class of the audit (issue 13) is detected and named.

The forger here is strong: after each edit they recompute every digest of the
manifest and sign it again with the deployment's own key (an insider), so the
content checks are tested on their own; a forger without the key is caught by
``--key`` (last class). Consistent rewrites of history (every hash and file
recomputed) pass a lone ``verify`` by construction and are caught by
``verify --since`` an earlier publication and by ``publish`` itself.

``test_tamper_figure`` prints "N detected of M tried".
"""

from __future__ import annotations

import hashlib
import json
import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from test_ledger_support import alloc, day, run_round

from allocator import ledger
from allocator.ledger import keys
from allocator.ledger.files import DATA_FILES, build_files
from allocator.store import (
    approve_round,
    create_round,
    current_scenario,
    make_engine,
    transaction,
    upgrade,
)
from allocator.store.donations import LotSpec, inspect_lot, register_donation

SOC = "Société Générale Wuhan"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two successive honest publications of one database, and the signing key."""
    base = tmp_path_factory.mktemp("tamper")
    key = base / "keys" / "k.pem"
    eng = make_engine(f"sqlite:///{base / 'db.sqlite'}")
    upgrade(eng)
    mp = pytest.MonkeyPatch()
    mp.setenv("ALLOCATOR_LEDGER_KEY", str(key))
    try:
        day(eng)
        with transaction(eng) as s:
            soc = register_donation(s, donor=SOC, user="wang", lots=[LotSpec("mask", "EXPO", 2000)])
            register_donation(s, donor="=cmd|' /C calc'!A0", user="wang", lots=[LotSpec("suit", "EXPO", 10)])
        run_round(eng)
        with transaction(eng) as s:
            p1 = ledger.publish(s, base / "pub")
        v1 = shutil.copytree(p1.version_dir, base / "v1")
        with transaction(eng) as s:
            inspect_lot(s, soc.lots[0], "passed", user="wang")
            rid = create_round(s, current_scenario(s), alloc((soc.lots[0], "EXPO", "HOTEL7", "mask", 5)), None, {},
                               "wang").id
            approve_round(s, rid, "li")
        with transaction(eng) as s:
            p2 = ledger.publish(s, base / "pub")
        v2 = shutil.copytree(p2.version_dir, base / "v2")
    finally:
        mp.undo()
    yield {"base": base, "key": key, "v1": v1, "v2": v2, "engine": eng, "pub": base / "pub"}
    eng.dispose()


# --------------------------------------------------------------------------- the forger's tools


def _lines(d: Path) -> list[dict]:
    return [json.loads(x) for x in (d / "ledger.jsonl").read_bytes().split(b"\n") if x]


def _raw_hash(seq: int, prev: str, fields: dict) -> str:
    body = json.dumps({"seq": seq, "prev_hash": prev, **fields}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _rechain(lines: list[dict]) -> list[dict]:
    prev, out = "0" * 64, []
    for i, ln in enumerate(lines, start=1):
        f = {k: v for k, v in ln.items() if k not in ("seq", "prev_hash", "hash")}
        h = _raw_hash(i, prev, f)
        out.append({"seq": i, "prev_hash": prev, "hash": h, **f})
        prev = h
    return out


def _write_lines(d: Path, lines: list[dict]) -> None:
    (d / "ledger.jsonl").write_bytes(b"".join(
        json.dumps(ln, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
        for ln in lines))


def _resign(d: Path, key_file: Path, edit: Callable[[dict], None] | None = None, *, heads: bool = True) -> None:
    """Recompute the manifest's digests (and head, root) from the files, edit it, sign it with ``key_file``."""
    from allocator.ledger import merkle

    man = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    man["files"] = {n: hashlib.sha256((d / n).read_bytes()).hexdigest() for n in DATA_FILES}
    if heads:
        try:
            lines = _lines(d)
            man["head_seq"], man["head_hash"] = len(lines), lines[-1]["hash"]
            man["merkle_root"] = merkle.merkle_root([ln["hash"] for ln in lines])
            if 0 < man["previous"]["seq"] <= len(lines):  # the forger keeps the previous head consistent too
                man["previous"]["hash"] = lines[man["previous"]["seq"] - 1]["hash"]
        except (ValueError, KeyError, IndexError):
            pass
    if edit:
        edit(man)
    k = keys.load_or_create_key(key_file)
    man["public_key"] = keys.public_hex(k)
    raw = json.dumps(man, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
    (d / "manifest.json").write_bytes(raw)
    (d / "signature.json").write_bytes(json.dumps(
        {"algorithm": "Ed25519", "public_key": keys.public_hex(k), "signed_file": "manifest.json",
         "signature": keys.sign(k, raw)}, sort_keys=True, separators=(",", ":")).encode() + b"\n")


def _rebuild(d: Path, key_file: Path, lines: list[dict]) -> None:
    """A consistent rewrite: new chain, every file recomputed from it, manifest re-signed."""
    lines = _rechain(lines)
    man = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    files, counts, _st = build_files(lines, published_at=man["published_at"], org_ref=man["iati_org_ref"],
                                     org_name=man["iati_org_name"])
    for n, data in files.items():
        (d / n).write_bytes(data)

    def edit(m: dict) -> None:
        m["counts"] = counts
        if m["previous"]["seq"] > len(lines):
            m["previous"] = {"seq": 0, "hash": "0" * 64}
        elif m["previous"]["seq"]:
            m["previous"]["hash"] = lines[m["previous"]["seq"] - 1]["hash"]

    _resign(d, key_file, edit)


def _edit_csv(d: Path, name: str, old: str, new: str, count: int = 1) -> None:
    t = (d / name).read_text(encoding="utf-8")
    assert old in t, (name, old)
    (d / name).write_text(t.replace(old, new, count), encoding="utf-8", newline="")


def _edit_cell(d: Path, name: str, row_match: str, column: str, fn: Callable[[str], str]) -> None:
    import csv
    import io

    rows = list(csv.reader(io.StringIO((d / name).read_text(encoding="utf-8"), newline="")))
    j = rows[0].index(column)
    for r in rows[1:]:
        if row_match in r:
            r[j] = fn(r[j])
            break
    else:
        raise AssertionError(f"no row with {row_match}")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    (d / name).write_bytes(buf.getvalue().encode("utf-8"))


def _lines_edit(fn: Callable[[list[dict]], list[dict] | None], *, rechain: bool = True,
                raw: bool = False) -> Callable[[Path, Path], None]:
    def go(d: Path, key: Path) -> None:
        lines = _lines(d)
        out = fn(lines)
        lines = lines if out is None else out
        _write_lines(d, _rechain(lines) if rechain else lines)
        _resign(d, key)
    return go


def _first(lines: list[dict], **match) -> dict:
    return next(ln for ln in lines if all(ln.get(k) == v for k, v in match.items()))


# --------------------------------------------------------------------------- the cases


def _nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


CASES: dict[str, tuple[str, Callable[[Path, Path], None], str]] = {}


def case(name: str, klass: str, expect: str = ""):
    def deco(fn: Callable[[Path, Path], None]):
        CASES[name] = (klass, fn, expect)
        return fn
    return deco


# class: names and cells of the CSV files (recomputed from the ledger)
@case("donor renamed", "cells", "provider_org")
def _(d, k):
    _edit_csv(d, "donations.csv", "Wuhan Red Cross", "Wuhan Blue Cross")
    _resign(d, k)


@case("donor renamed by a trailing space", "cells", "provider_org")
def _(d, k):
    _edit_cell(d, "donations.csv", "Wuhan Red Cross", "provider_org", lambda v: v + " ")
    _resign(d, k)


@case("donor name re-normalised (NFD)", "cells", "provider_org")
def _(d, k):
    _edit_csv(d, "donations.csv", SOC, _nfd(SOC))
    _resign(d, k)


@case("item name changed", "cells", "item_name")
def _(d, k):
    _edit_cell(d, "donations.csv", "mask", "item_name", lambda v: "Cloth face covering")
    _resign(d, k)


@case("Chinese item name changed", "cells", "item_name_zh")
def _(d, k):
    _edit_cell(d, "donation_usage.csv", "mask", "item_name_zh", lambda v: "布口罩")
    _resign(d, k)


@case("unit changed", "cells", "unit")
def _(d, k):
    _edit_cell(d, "donations.csv", "mask", "unit", lambda v: "box")
    _resign(d, k)


@case("hospital renamed", "cells", "receiver_org")
def _(d, k):
    _edit_cell(d, "donation_usage.csv", "JYT", "receiver_org", lambda v: "Some other hospital")
    _resign(d, k)


@case("site kind changed", "cells", "receiver_kind")
def _(d, k):
    _edit_cell(d, "donation_usage.csv", "HOTEL7", "receiver_kind", lambda v: "designated_hospital")
    _resign(d, k)


@case("site district changed", "cells", "receiver_district")
def _(d, k):
    _edit_cell(d, "donation_usage.csv", "HOTEL7", "receiver_district", lambda v: "Hankou")
    _resign(d, k)


@case("delivery date moved a day", "cells", "last_delivered")
def _(d, k):
    def later(v: str) -> str:
        import datetime as dt
        return (dt.datetime.fromisoformat(v[:-1]) + dt.timedelta(days=1)).isoformat(timespec="microseconds") + "Z"
    _edit_cell(d, "donation_usage.csv", "JYT", "last_delivered", later)
    _resign(d, k)


@case("dispatch date moved", "cells", "first_dispatched")
def _(d, k):
    _edit_cell(d, "donation_usage.csv", "JYT", "first_dispatched", lambda v: "2020-02-01T00:00:00.000000Z")
    _resign(d, k)


@case("transaction date moved", "cells", "transaction_date")
def _(d, k):
    _edit_cell(d, "donations.csv", "Wuhan Red Cross", "transaction_date", lambda v: "2020-02-04")
    _resign(d, k)


@case("received raised", "cells", "received")
def _(d, k):
    _edit_cell(d, "donations.csv", "Wuhan Red Cross", "received", lambda v: str(int(v) + 1000))
    _resign(d, k)


@case("quarantined counted as available", "cells", "available")
def _(d, k):
    def swap(v: str) -> str:
        return v
    import csv
    import io
    rows = list(csv.reader(io.StringIO((d / "donations.csv").read_text(encoding="utf-8"), newline="")))
    h = rows[0]
    r = next(r for r in rows[1:] if int(r[h.index("quarantined")]) > 0)
    r[h.index("available")] = str(int(r[h.index("available")]) + int(r[h.index("quarantined")]))
    r[h.index("quarantined")] = "0"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    (d / "donations.csv").write_bytes(buf.getvalue().encode())
    _resign(d, k)


@case("write-off reason changed", "cells", "write_off_reasons")
def _(d, k):
    _edit_csv(d, "donations.csv", "crushed", "delivered in full")
    _resign(d, k)


@case("earmark removed", "cells", "earmark_kind")
def _(d, k):
    _edit_csv(d, "donations.csv", "designated_hospital;backup_hospital", "")
    _resign(d, k)


@case("reference code changed", "cells", "reference_code")
def _(d, k):
    _edit_cell(d, "donations.csv", SOC, "reference_code", lambda v: "SA-0000-0000-0000")
    _resign(d, k)


@case("dispatch confirmation claimed as the site's", "cells", "delivered_site_confirmed")
def _(d, k):
    import csv
    import io
    rows = list(csv.reader(io.StringIO((d / "donation_usage.csv").read_text(encoding="utf-8"), newline="")))
    h = rows[0]
    r = next(r for r in rows[1:] if int(r[h.index("delivered_dispatch_confirmed")]) > 0)
    r[h.index("delivered_site_confirmed")] = r[h.index("delivered")]
    r[h.index("delivered_dispatch_confirmed")] = "0"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    (d / "donation_usage.csv").write_bytes(buf.getvalue().encode())
    _resign(d, k)


@case("formula escape removed", "cells", "provider_org")
def _(d, k):
    _edit_csv(d, "donations.csv", "'=cmd", "=cmd")
    _resign(d, k)


@case("a row deleted", "cells", "donation_usage.csv")
def _(d, k):
    t = (d / "donation_usage.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "donation_usage.csv").write_text("".join(t[:2] + t[3:]), encoding="utf-8", newline="")
    _resign(d, k)


@case("an all-zero row added", "cells", "donation_usage.csv")
def _(d, k):
    t = (d / "donation_usage.csv").read_text(encoding="utf-8")
    (d / "donation_usage.csv").write_text(t + "DON_A,,Wuhan Red Cross,mask,,,,X99,,,,,0,0,0,0,0,0,0,0,0,0,0,,\n",
                                         encoding="utf-8", newline="")
    _resign(d, k)


@case("header renamed", "cells", "header")
def _(d, k):
    _edit_csv(d, "donations.csv", "in_stock", "stock")
    _resign(d, k)


# class: bytes (line endings, quoting, BOM)
@case("CSV line endings CRLF", "bytes", "donations.csv")
def _(d, k):
    (d / "donations.csv").write_bytes((d / "donations.csv").read_bytes().replace(b"\n", b"\r\n"))
    _resign(d, k)


@case("CSV cell quoted needlessly", "bytes", "donations.csv")
def _(d, k):
    _edit_csv(d, "donations.csv", ",Wuhan Red Cross,", ',"Wuhan Red Cross",')
    _resign(d, k)


@case("CSV with a BOM", "bytes", "donations.csv")
def _(d, k):
    (d / "donations.csv").write_bytes(b"\xef\xbb\xbf" + (d / "donations.csv").read_bytes())
    _resign(d, k)


@case("ledger line endings CRLF", "bytes", "carriage return")
def _(d, k):
    (d / "ledger.jsonl").write_bytes((d / "ledger.jsonl").read_bytes().replace(b"\n", b"\r\n"))
    _resign(d, k)


@case("ledger without final newline", "bytes", "final newline")
def _(d, k):
    (d / "ledger.jsonl").write_bytes((d / "ledger.jsonl").read_bytes().rstrip(b"\n"))
    _resign(d, k)


@case("IATI receiver renamed", "bytes", "iati-activities.xml")
def _(d, k):
    t = (d / "iati-activities.xml").read_text(encoding="utf-8")
    (d / "iati-activities.xml").write_text(t.replace("<narrative>JYT</narrative>", "<narrative>X</narrative>", 1),
                                           encoding="utf-8", newline="")
    _resign(d, k)


# class: the manifest
@case("counts.events_delivered raised", "manifest", "events_delivered")
def _(d, k):
    _resign(d, k, lambda m: m["counts"].update(events_delivered=m["counts"]["events_delivered"] + 1))


@case("manifest digests removed", "manifest", "files")
def _(d, k):
    _resign(d, k, lambda m: m.update(files={}))


@case("one digest removed", "manifest", "files.iati-activities.xml")
def _(d, k):
    _resign(d, k, lambda m: m["files"].pop("iati-activities.xml"))


@case("head_seq is a string", "manifest", "head_seq")
def _(d, k):
    _resign(d, k, lambda m: m.update(head_seq=str(m["head_seq"])))


@case("head_seq is a fraction", "manifest", "head_seq")
def _(d, k):
    man = json.loads((d / "manifest.json").read_text())
    _resign(d, k, lambda m: m.update(head_seq=man["head_seq"] + 0.5))


@case("merkle_root replaced", "manifest", "merkle_root")
def _(d, k):
    _resign(d, k, lambda m: m.update(merkle_root="ab" * 32))


@case("previous head replaced", "manifest", "previous")
def _(d, k):
    _resign(d, k, lambda m: m.update(previous={"seq": 3, "hash": "cd" * 32}))


@case("manifest pretty-printed", "manifest", "canonical")
def _(d, k):
    man = json.loads((d / "manifest.json").read_text())
    raw = json.dumps(man, indent=2, sort_keys=True).encode() + b"\n"
    (d / "manifest.json").write_bytes(raw)
    kk = keys.load_or_create_key(k)
    (d / "signature.json").write_text(json.dumps({"algorithm": "Ed25519", "public_key": keys.public_hex(kk),
                                                  "signed_file": "manifest.json", "signature": keys.sign(kk, raw)}))


@case("head truncated with the manifest", "manifest", "")
def _(d, k):
    lines = _lines(d)[:-3]
    _write_lines(d, lines)
    _resign(d, k)


# class: the schema of entries (hashes recomputed: a consistent chain)
@case("fractional quantity", "schema", "fraction")
def _(d, k):
    def f(lines):
        _first(lines, event="received")["quantity"] = 999.5
    _lines_edit(f)(d, k)


@case("unknown event appended", "schema", "teleported")
def _(d, k):
    def f(lines):
        lines.append({"event": "teleported", "at": lines[-1]["at"], "donation_id": "DON_A", "lot_id": "LA1",
                      "item_id": "mask", "depot_id": "EXPO", "site_id": "X99", "quantity": 5000})
    _lines_edit(f)(d, k)


@case("entry without donation_id", "schema", "donation_id")
def _(d, k):
    def f(lines):
        del _first(lines, event="dispatched")["donation_id"]
    _lines_edit(f)(d, k)


@case("quantity as text", "schema", "quantity")
def _(d, k):
    def f(lines):
        _first(lines, event="allocated")["quantity"] = "600"
    _lines_edit(f)(d, k)


@case("unknown field added", "schema", "unknown field")
def _(d, k):
    def f(lines):
        _first(lines, event="delivered")["note"] = "ok"
    _lines_edit(f)(d, k)


@case("bad timestamp", "schema", "at")
def _(d, k):
    def f(lines):
        _first(lines, event="delivered")["at"] = "yesterday"
    _lines_edit(f)(d, k)


@case("non-NFC text in the chain", "schema", "NFC")
def _(d, k):
    def f(lines):
        e = _first(lines, event="pledged", donor=SOC)
        e["donor"] = _nfd(SOC)
    _lines_edit(f)(d, k)


@case("bad confirmer", "schema", "confirmed_as")
def _(d, k):
    def f(lines):
        _first(lines, event="delivered")["confirmed_as"] = "hospital director"
    _lines_edit(f)(d, k)


@case("allocation beyond the lot", "schema", "holds")
def _(d, k):
    def f(lines):
        _first(lines, event="allocated")["quantity"] = 10 ** 9
    _lines_edit(f)(d, k)


@case("event for a donation never pledged", "schema", "never pledged")
def _(d, k):
    def f(lines):
        _first(lines, event="allocated")["donation_id"] = "DON_X"
    _lines_edit(f)(d, k)


# class: the chain (no hash recomputed)
@case("entry edited", "chain", "hash does not match")
def _(d, k):
    _lines_edit(lambda ls: _first(ls, event="received").update(quantity=1) and None, rechain=False)(d, k)


@case("entry deleted", "chain", "entry 5")
def _(d, k):
    _lines_edit(lambda ls: ls[:4] + ls[5:], rechain=False)(d, k)


@case("entries swapped", "chain", "entry 3")
def _(d, k):
    _lines_edit(lambda ls: ls[:2] + [ls[3], ls[2]] + ls[4:], rechain=False)(d, k)


@case("space added to an entry", "chain", "canonical")
def _(d, k):
    raw = (d / "ledger.jsonl").read_bytes().split(b"\n")
    raw[1] = raw[1].replace(b'":', b'": ', 1)
    (d / "ledger.jsonl").write_bytes(b"\n".join(raw))
    _resign(d, k)


@case("garbage line appended", "chain", "not valid JSON")
def _(d, k):
    (d / "ledger.jsonl").write_bytes((d / "ledger.jsonl").read_bytes() + b"{oops\n")
    _resign(d, k, heads=False)


# class: signatures
@case("signature.json deleted", "signature", "signature.json")
def _(d, k):
    (d / "signature.json").unlink()


@case("manifest edited without re-signing", "signature", "signature")
def _(d, k):
    man = json.loads((d / "manifest.json").read_text())
    man["counts"]["donations"] += 1
    (d / "manifest.json").write_bytes(json.dumps(man, sort_keys=True, separators=(",", ":"),
                                                 ensure_ascii=False).encode() + b"\n")


@case("signature of another manifest", "signature", "signature")
def _(d, k):
    sig = json.loads((d / "signature.json").read_text())
    sig["signature"] = keys.sign(keys.load_or_create_key(k), b"something else")
    (d / "signature.json").write_text(json.dumps(sig))


def _run_case(world: dict, tmp: Path, name: str) -> ledger.Verification:
    _klass, fn, _expect = CASES[name]
    d = shutil.copytree(world["v2"], tmp / "t")
    fn(d, world["key"])
    return ledger.verify(d)


@pytest.mark.parametrize("name", list(CASES))
def test_tampering_is_detected_and_named(world: dict, tmp_path: Path, name: str) -> None:
    _klass, _fn, expect = CASES[name]
    res = _run_case(world, tmp_path, name)
    assert not res.ok, f"{name}: {res.message}"
    assert res.seq is not None or res.file is not None, res
    assert expect in res.message, (name, res.message)
    assert res.code.startswith("ledger.verify.") and "Traceback" not in res.message
    zh = res.render("zh")
    assert zh != res.code and any("\u4e00" <= ch <= "\u9fff" for ch in zh), zh  # rendered in Chinese too


def test_honest_publications_pass(world: dict) -> None:
    for v in ("v1", "v2", "pub"):
        res = ledger.verify(world[v])
        assert res.ok, (v, res.message)
    pub = keys.read_public_key(str(world["v2"] / "signature.json"))
    assert ledger.verify(world["v2"], key=pub).ok
    assert ledger.verify(world["v2"], since=world["v1"], key=pub).ok
    m1 = json.loads((world["v1"] / "manifest.json").read_text())
    m2 = json.loads((world["v2"] / "manifest.json").read_text())
    assert m2["previous"] == {"seq": m1["head_seq"], "hash": m1["head_hash"]}
    assert ledger.verify(world["v2"], since=f"{m1['head_seq']}:{m1['head_hash']}").ok
    # the older does not extend the newer
    res = ledger.verify(world["v1"], since=world["v2"])
    assert not res.ok and res.code == "ledger.verify.since_shorter"


def _consistent_rewrites() -> dict[str, Callable[[list[dict]], None]]:
    def fewer_masks(lines):
        pledge = _first(lines, event="pledged", donor=SOC)
        _first(lines, event="received", donation_id=pledge["donation_id"])["quantity"] -= 1000

    def donor_renamed(lines):
        _first(lines, event="pledged", donation_id="DON_A")["donor"] = "Someone Else"

    def site_confirmed(lines):
        for e in lines:
            if e["event"] == "delivered":
                e["confirmed_as"] = "site"

    return {"1,000 masks removed": fewer_masks, "donor renamed everywhere": donor_renamed,
            "every delivery claimed as confirmed by the site": site_confirmed}


@pytest.mark.parametrize("name", list(_consistent_rewrites()))
def test_consistent_rewrite_fails_since(world: dict, tmp_path: Path, name: str) -> None:
    d = shutil.copytree(world["v2"], tmp_path / "rw")
    lines = _lines(d)
    _consistent_rewrites()[name](lines)
    _rebuild(d, world["key"], lines)
    assert ledger.verify(d).ok  # consistent by construction, signed with the real key
    res = ledger.verify(d, since=world["v1"])
    assert not res.ok and res.code == "ledger.verify.since_differs" and res.seq is not None, res
    old = _lines(world["v1"])
    first = next(i + 1 for i, (a, b) in enumerate(zip(old, _lines(d), strict=False)) if a["hash"] != b["hash"])
    assert res.seq == first and f"entry {first}" in res.message
    m1 = json.loads((world["v1"] / "manifest.json").read_text())
    res = ledger.verify(d, since=f"{m1['head_seq']}:{m1['head_hash']}")
    assert not res.ok and res.code == "ledger.verify.since_differs"


def test_another_key_fails_under_key(world: dict, tmp_path: Path) -> None:
    d = shutil.copytree(world["v2"], tmp_path / "forged")
    _edit_csv(d, "donations.csv", "Wuhan Red Cross", "Wuhan Blue Cross")
    lines = _lines(d)
    _first(lines, event="pledged", donation_id="DON_A")["donor"] = "Wuhan Blue Cross"
    _rebuild(d, tmp_path / "forger.pem", lines)
    assert ledger.verify(d).ok  # a self-consistent forgery under the forger's own key
    real = keys.read_public_key(str(world["v2"]))
    res = ledger.verify(d, key=real)
    assert not res.ok and res.code == "ledger.verify.key_mismatch" and res.file == "signature.json"


def test_publish_refuses_a_rewritten_chain(world: dict, tmp_path: Path) -> None:
    """Drop the triggers, rewrite the stored chain consistently: publish compares it with its last head."""
    src = world["base"] / "db.sqlite"
    dbf = tmp_path / "db.sqlite"
    world["engine"].dispose()
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            shutil.copy(f"{src}{suffix}", f"{dbf}{suffix}")
    eng = make_engine(f"sqlite:///{dbf}")
    try:
        with eng.begin() as c:
            c.execute(text("DROP TRIGGER ledger_no_update"))
            rows = c.execute(text("SELECT seq, body FROM ledger ORDER BY seq")).all()
            lines = [json.loads(b) for _s, b in rows]
            e = next(x for x in lines if x["event"] == "pledged" and x["donation_id"] == "DON_A")
            e["donor"] = "Someone Else"
            chained = _rechain(lines)
            for ln in chained:
                f = {k: v for k, v in ln.items() if k not in ("seq", "prev_hash", "hash")}
                c.execute(text("UPDATE ledger SET body=:b, prev_hash=:p, hash=:h WHERE seq=:s"),
                          {"b": json.dumps(f, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
                           "p": ln["prev_hash"], "h": "x" + ln["hash"][1:], "s": ln["seq"]})
            for ln in chained:  # two passes: hash is unique
                c.execute(text("UPDATE ledger SET hash=:h WHERE seq=:s"), {"h": ln["hash"], "s": ln["seq"]})
            c.execute(text("UPDATE ledger_head SET hash=:h"), {"h": chained[-1]["hash"]})
        with transaction(eng) as s:
            assert ledger.check_chain(ledger.entries(s)) is None  # the stored chain is consistent
            with pytest.raises(ledger.LedgerError, match="does not extend the head published"):
                ledger.publish(s, tmp_path / "pub", key_path=world["key"])
    finally:
        eng.dispose()


def test_tamper_figure(world: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Every case of every class, counted: the figure the issue's closing note gives."""
    detected, tried, by_class = 0, 0, {}
    for i, name in enumerate(CASES):
        res = _run_case(world, tmp_path / str(i), name) if (tmp_path / str(i)).mkdir() is None else None
        klass = CASES[name][0]
        ok = res is not None and not res.ok and (res.seq is not None or res.file is not None)
        by_class.setdefault(klass, [0, 0])
        by_class[klass][0] += ok
        by_class[klass][1] += 1
        detected += ok
        tried += 1
    rewrites = len(_consistent_rewrites()) + 2  # + another key under --key, + publish refusing a rewrite
    with capsys.disabled():
        print(f"\ntampering: {detected} detected of {tried} tried by verify alone; "
              f"+ {rewrites} consistent rewrites/forgeries caught by --since, --key and publish; "
              + ", ".join(f"{k} {a}/{b}" for k, (a, b) in by_class.items()))
    assert detected == tried
