"""An independent verifier, written only from docs/ledger.md ("Specification of a publication").

It uses the Python standard library only (its own canonical JSON writer, CSV
writer, replay, Merkle tree), except Ed25519, for which the standard library has
nothing: there it uses ``cryptography``, as the document says. It imports
nothing from ``allocator``. The tests check that it agrees with ``allocator
verify`` on honest publications and on every tampering case, so the document
cannot drift from the code.
"""

# ruff: noqa: F811  (pytest fixtures imported from test_ledger_support)
from __future__ import annotations

import hashlib
import json
import re
import shutil
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_ledger_tamper import CASES, world  # noqa: F401

# =========================================================================== the verifier (from the document)

ZERO = "0" * 64
HEX64 = re.compile(r"^[0-9a-f]{64}$")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
FILES = ["ledger.jsonl", "donations.csv", "donation_usage.csv", "iati-activities.xml"]
SA = "{https://github.com/supply-allocator/ns/ledger/1}"


class Bad(Exception):
    pass


def cj(v) -> str:
    """Canonical JSON, per the document (returns text; encode as UTF-8)."""
    if isinstance(v, bool) or v is None:
        raise Bad("true/false/null do not occur")
    if isinstance(v, int):
        if not -(2 ** 63) <= v < 2 ** 63:
            raise Bad("integer out of range")
        return str(v)
    if isinstance(v, float):
        raise Bad("fraction")
    if isinstance(v, str):
        out = ['"']
        for ch in v:
            o = ord(ch)
            if ch == '"':
                out.append('\\"')
            elif ch == "\\":
                out.append("\\\\")
            elif o < 0x20:
                out.append({8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t"}.get(o, f"\\u{o:04x}"))
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    if isinstance(v, list):
        return "[" + ",".join(cj(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(cj(k) + ":" + cj(v[k]) for k in sorted(v)) + "}"
    raise Bad(f"unknown value {v!r}")


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def no_dupes(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise Bad("duplicate key")
        d[k] = v
    return d


def parse(b: bytes):
    return json.loads(b.decode("utf-8"), object_pairs_hook=no_dupes)


SHIP = {"donation_id": "id", "lot_id": "id", "item_id": "id", "depot_id": "id", "site_id": "id",
        "quantity": "qty", "round_id": "int"}
LOT = {"donation_id": "id", "lot_id": "id", "item_id": "id", "depot_id": "id"}
SCHEMA = {
    "item_described": ({"item_id": "id", "name": "text", "name_zh": "text", "unit": "text", "grade": "text",
                        "category": "text"}, {}),
    "site_described": ({"site_id": "id", "name": "text", "name_zh": "text", "kind": "text", "district": "text"}, {}),
    "pledged": ({"donation_id": "id", "donor": "text", "date": "text", "earmark_site_id": "list",
                 "earmark_kind": "list"}, {"reference_code": "id"}),
    "donor_changed": ({"donation_id": "id", "donor": "text", "amended": "list", "reason": "text"}, {}),
    "received": ({**LOT, "quantity": "qty"}, {}),
    "inspected": ({**LOT, "result": ("passed", "quarantined", "rejected", "downgraded")},
                  {"reason": "text", "to_item_id": "id", "quantity": "qty"}),
    "allocated": (SHIP, {}),
    "released": (SHIP, {"reason": "text"}),
    "dispatched": ({**SHIP, "trip_id": "int"}, {}),
    "delivered": ({**SHIP, "quantity": "count", "trip_id": "int"},
                  {"discrepancy": "text", "confirmed_by": "text", "confirmed_as": ("site", "dispatch"),
                   "corrects": "int", "reason": "text"}),
    "returned": (SHIP, {"reason": "text", "corrects": "int", "trip_id": "int"}),
    "written_off": ({**LOT, "quantity": "qty", "origin": ("stock", "delivery"), "reason": "text"},
                    {"site_id": "id", "round_id": "int", "corrects": "int", "trip_id": "int"}),
}


def fits(kind, v) -> bool:
    if kind in ("qty", "count", "int"):
        if type(v) is not int:
            return False
        return v > 0 if kind == "qty" else (v >= 0 if kind == "count" else True)
    if kind == "list":
        return isinstance(v, list) and all(isinstance(x, str) and x and unicodedata.is_normalized("NFC", x)
                                           for x in v)
    if not isinstance(v, str) or not unicodedata.is_normalized("NFC", v):
        return False
    if kind == "id":
        return v != ""
    if kind == "ts":
        return bool(TS.match(v))
    if isinstance(kind, tuple):
        return v in kind
    return True


def check_schema(f: dict) -> None:
    ev = f.get("event")
    if ev not in SCHEMA:
        raise Bad(f"unknown event {ev!r}")
    req, opt = SCHEMA[ev]
    spec = {"event": "text", "at": "ts", **req}
    if "corrects" in f and "quantity" in spec:  # a corrected delivery carries the change, either sign
        spec["quantity"] = "int"
    for k, kind in spec.items():
        if k not in f or not fits(kind, f[k]):
            raise Bad(f"field {k}")
    for k, v in f.items():
        if k not in spec and (k not in opt or not fits(opt[k], v)):
            raise Bad(f"field {k}")
    if ev == "inspected" and f["result"] == "downgraded" and not ("to_item_id" in f and "quantity" in f):
        raise Bad("downgrade")


def replay(entries):
    items, sites, pledges, lots, rows, uses = {}, {}, {}, {}, {}, {}

    def row(k):
        return rows.setdefault(k, {"received": 0, "adjusted": 0, "allocated": 0, "written_off": 0,
                                   "insp": set(), "rej": set(), "wo": set()})

    def use(k):
        return uses.setdefault(k, {"allocated": 0, "dispatched": 0, "delivered": 0, "delivered_site_confirmed": 0,
                                   "delivered_dispatch_confirmed": 0, "returned": 0, "written_off": 0,
                                   "first_dispatched": "", "last_delivered": ""})

    for e in entries:
        ev = e["event"]
        if ev == "item_described":
            items[e["item_id"]] = e
            continue
        if ev == "site_described":
            sites[e["site_id"]] = e
            continue
        d = e["donation_id"]
        if ev == "pledged":
            if d in pledges:
                raise Bad("pledged twice")
            pledges[d] = e
            continue
        if d not in pledges:
            raise Bad("not pledged")
        if ev == "donor_changed":
            pledges[d] = {**pledges[d], "donor": e["donor"]}
            continue
        lot = lots.get(e["lot_id"])
        first = False
        if ev == "received" and lot is None:
            lot = lots[e["lot_id"]] = {"d": d, "i": e["item_id"], "status": "quarantined", "stock": 0}
            first = True
        if lot is None or (lot["d"], lot["i"]) != (d, e["item_id"]):
            raise Bad("lot")
        r, q, site = row((d, e["item_id"])), e.get("quantity", 0), e.get("site_id", "")
        if ev == "received":
            lot["stock"] += q
            r["received" if first else "adjusted"] += q
        elif ev == "inspected":
            r["insp"].add(e["result"])
            lot["status"] = {"passed": "available", "downgraded": "available"}.get(e["result"], e["result"])
            if e["result"] == "rejected":
                r["rej"].add(e.get("reason") or "rejected")
            if e["result"] == "downgraded":
                if q != lot["stock"]:
                    raise Bad("downgrade quantity")
                r["adjusted"] -= q
                row((d, e["to_item_id"]))["adjusted"] += q
                lot["i"] = e["to_item_id"]
        elif ev == "allocated":
            if q > lot["stock"]:
                raise Bad("beyond stock")
            lot["stock"] -= q
            r["allocated"] += q
            use((d, e["item_id"], site))["allocated"] += q
        elif ev in ("released", "returned"):
            lot["stock"] += q
            r["allocated"] -= q
            u = use((d, e["item_id"], site))
            u["allocated"] -= q
            if ev == "returned":
                u["returned"] += q
        elif ev == "dispatched":
            u = use((d, e["item_id"], site))
            u["dispatched"] += q
            u["first_dispatched"] = min(x for x in (u["first_dispatched"], e["at"]) if x)
        elif ev == "delivered":
            u = use((d, e["item_id"], site))
            u["delivered"] += q
            u["delivered_site_confirmed" if e.get("confirmed_as") == "site" else "delivered_dispatch_confirmed"] += q
            u["last_delivered"] = max(u["last_delivered"], e["at"])
        elif ev == "written_off":
            r["written_off"] += q
            r["wo"].add(e["reason"])
            if e["origin"] == "delivery":
                r["allocated"] -= q
                u = use((d, e["item_id"], site))
                u["allocated"] -= q
                u["written_off"] += q
            else:
                if q > lot["stock"]:
                    raise Bad("beyond stock")
                lot["stock"] -= q
    stock = {}
    for lot in lots.values():
        s = stock.setdefault((lot["d"], lot["i"]), {"in_stock": 0, "available": 0, "quarantined": 0, "rejected": 0})
        s["in_stock"] += lot["stock"]
        s[lot["status"]] += lot["stock"]
    return items, sites, pledges, rows, uses, stock


INTS = {"received", "adjusted", "allocated", "in_stock", "available", "quarantined", "rejected", "written_off",
        "dispatched", "delivered", "delivered_site_confirmed", "delivered_dispatch_confirmed", "returned"}


def guard(t: str) -> str:
    return "'" + t if t.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r") and t.lstrip("'") else t


def csv_field(col, v) -> str:
    t = str(v) if col in INTS else guard(v)
    if any(c in t for c in ',"\n'):
        t = '"' + t.replace('"', '""') + '"'
    return t


def csv_bytes(cols, rows) -> bytes:
    lines = [",".join(cols)]
    for r in rows:
        if any(r[c] for c in cols if c in INTS):
            lines.append(",".join(csv_field(c, r[c]) for c in cols))
    return ("\n".join(lines) + "\n").encode("utf-8")


DCOLS = ("donation_id,reference_code,provider_org,item_id,item_name,item_name_zh,unit,grade,transaction_date,"
         "inspection,received,adjusted,allocated,in_stock,available,quarantined,rejected,rejection_reasons,"
         "written_off,write_off_reasons,earmark_site_id,earmark_kind").split(",")
UCOLS = ("donation_id,reference_code,provider_org,item_id,item_name,item_name_zh,unit,receiver_org_ref,"
         "receiver_org,receiver_org_zh,receiver_kind,receiver_district,allocated,dispatched,delivered,"
         "delivered_site_confirmed,delivered_dispatch_confirmed,returned,written_off,in_stock,available,"
         "quarantined,rejected,first_dispatched,last_delivered").split(",")


def tables(entries):
    items, sites, pledges, rows, uses, stock = replay(entries)
    zero = {"in_stock": 0, "available": 0, "quarantined": 0, "rejected": 0}
    drows, urows = [], []
    for (d, i) in sorted(rows):
        p, it, r, s = pledges[d], items.get(i, {}), rows[(d, i)], stock.get((d, i), zero)
        drows.append({
            "donation_id": d, "reference_code": p.get("reference_code", ""), "provider_org": p["donor"],
            "item_id": i, "item_name": it.get("name", ""), "item_name_zh": it.get("name_zh", ""),
            "unit": it.get("unit", ""), "grade": it.get("grade", ""),
            "transaction_date": (p["date"] or p["at"])[:10], "inspection": ";".join(sorted(r["insp"])),
            "received": r["received"], "adjusted": r["adjusted"], "allocated": r["allocated"], **s,
            "rejection_reasons": ";".join(sorted(r["rej"])) if s["rejected"] else "",
            "written_off": r["written_off"], "write_off_reasons": ";".join(sorted(r["wo"])),
            "earmark_site_id": ";".join(p["earmark_site_id"]), "earmark_kind": ";".join(p["earmark_kind"])})
    keys = set(uses) | {(d, i, "") for (d, i) in rows}
    for (d, i, site) in sorted(keys):
        p, it = pledges[d], items.get(i, {})
        u = uses.get((d, i, site)) or {c: 0 for c in ("allocated", "dispatched", "delivered",
                                                       "delivered_site_confirmed", "delivered_dispatch_confirmed",
                                                       "returned", "written_off")} | {
            "first_dispatched": "", "last_delivered": ""}
        sd = sites.get(site, {}) if site else {}
        row = {"donation_id": d, "reference_code": p.get("reference_code", ""), "provider_org": p["donor"],
               "item_id": i, "item_name": it.get("name", ""), "item_name_zh": it.get("name_zh", ""),
               "unit": it.get("unit", ""), "receiver_org_ref": site, "receiver_org": sd.get("name", ""),
               "receiver_org_zh": sd.get("name_zh", ""), "receiver_kind": sd.get("kind", ""),
               "receiver_district": sd.get("district", ""), **u, **zero}
        if not site:
            row.update(stock.get((d, i), zero))
            row["written_off"] = rows[(d, i)]["written_off"] - sum(
                v["written_off"] for k, v in uses.items() if k[:2] == (d, i) and k[2])
        urows.append(row)
    return drows, urows, pledges


def merkle(hashes):
    def root(leaves):
        if len(leaves) == 1:
            return leaves[0]
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        return hashlib.sha256(b"\x01" + root(leaves[:k]) + root(leaves[k:])).digest()
    if not hashes:
        return sha(b"")
    return root([hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in hashes]).hex()


def check_iati(d: Path, drows, urows, man) -> None:
    root = ET.parse(d / "iati-activities.xml").getroot()
    if root.tag != "iati-activities" or root.get("version") != "2.03":
        raise Bad("iati root")
    got = []
    for a in root.findall("iati-activity"):
        for tr in a.findall("transaction"):
            rec = tr.find("receiver-org")
            got.append((a.findtext("iati-identifier"), tr.find("transaction-type").get("code"),
                        tr.find("transaction-date").get("iso-date"), rec.get("ref"), rec.findtext("narrative"),
                        tr.find("provider-org").findtext("narrative"), int(tr.find(SA + "quantity").text)))
    want = []
    ref, name = man["iati_org_ref"], man["iati_org_name"]
    for r in drows:
        if r["received"] and any(r[c] for c in INTS if c in r):
            want.append((f"{ref}-{r['donation_id']}", "1", r["transaction_date"], ref, name, r["provider_org"],
                         r["received"]))
    donations = [r["donation_id"] for r in drows if any(r[c] for c in INTS if c in r)]
    for did in dict.fromkeys(donations):
        for u in urows:
            if u["donation_id"] != did or not u["receiver_org_ref"]:
                continue
            day = (u["first_dispatched"] or man["published_at"])[:10]
            for code, col in (("2", "allocated"), ("3", "dispatched")):
                if u[col]:
                    want.append((f"{ref}-{did}", code, day, u["receiver_org_ref"], u["receiver_org"] or
                                 u["receiver_org_ref"], u["provider_org"], u[col]))
    if sorted(got) != sorted(want):
        raise Bad("iati transactions")


def independent_verify(d: Path, since: str | None = None, key: str | None = None) -> tuple[bool, str]:
    """True when the publication in ``d`` holds, per docs/ledger.md; else False and why."""
    try:
        for f in ["manifest.json", "signature.json", *FILES]:
            if not (d / f).is_file():
                raise Bad(f"missing {f}")
        mraw = (d / "manifest.json").read_bytes()
        man = parse(mraw)
        if not isinstance(man, dict) or mraw != (cj(man) + "\n").encode("utf-8"):
            raise Bad("manifest not canonical")
        if man.get("format") != "supply-allocator/ledger/2" or type(man.get("head_seq")) is not int:
            raise Bad("manifest format/head_seq")
        for k in ("head_hash", "merkle_root", "public_key"):
            if not HEX64.match(str(man.get(k))):
                raise Bad(f"manifest {k}")
        if set(man.get("files", {})) != set(FILES) or not all(HEX64.match(str(v)) for v in man["files"].values()):
            raise Bad("manifest files")
        sraw = (d / "signature.json").read_bytes()
        sig = parse(sraw)
        if sig.get("algorithm") != "Ed25519" or sig.get("signed_file") != "manifest.json":
            raise Bad("signature.json")
        if sig["public_key"] != man["public_key"] or (key and sig["public_key"] != key):
            raise Bad("key")
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (
            Ed25519PublicKey,  # no Ed25519 in stdlib
        )

        Ed25519PublicKey.from_public_bytes(bytes.fromhex(sig["public_key"])).verify(bytes.fromhex(sig["signature"]),
                                                                                   mraw)
        raw = (d / "ledger.jsonl").read_bytes()
        if b"\r" in raw or (raw and not raw.endswith(b"\n")):
            raise Bad("line ends")
        entries, prev = [], ZERO
        for n, line in enumerate(raw.split(b"\n")[:-1] if raw else [], start=1):
            e = parse(line)
            if e.get("seq") != n or type(e.get("seq")) is not int or e.get("prev_hash") != prev:
                raise Bad(f"entry {n}: link")
            f = {k: v for k, v in e.items() if k not in ("seq", "prev_hash", "hash")}
            check_schema(f)
            if line != cj(e).encode("utf-8"):
                raise Bad(f"entry {n}: not canonical")
            if sha(cj({"seq": n, "prev_hash": prev, **f}).encode("utf-8")) != e.get("hash"):
                raise Bad(f"entry {n}: hash")
            entries.append(e)
            prev = e["hash"]
        if man["head_seq"] != len(entries) or man["head_hash"] != prev:
            raise Bad("head")
        if man["merkle_root"] != merkle([e["hash"] for e in entries]):
            raise Bad("merkle")
        p = man["previous"]
        if p["seq"] > len(entries) or (p["seq"] and entries[p["seq"] - 1]["hash"] != p["hash"]) or (
                not p["seq"] and p["hash"] != ZERO):
            raise Bad("previous")
        drows, urows, pledges = tables(entries)
        dbytes, ubytes = csv_bytes(DCOLS, drows), csv_bytes(UCOLS, urows)
        if (d / "donations.csv").read_bytes() != dbytes or (d / "donation_usage.csv").read_bytes() != ubytes:
            raise Bad("csv")
        check_iati(d, drows, urows, man)
        nonzero = lambda rs: [r for r in rs if any(r[c] for c in INTS if c in r)]  # noqa: E731
        counts = {"ledger_entries": len(entries), "donations": len(pledges), "donation_rows": len(nonzero(drows)),
                  "usage_rows": len(nonzero(urows)),
                  **{f"events_{ev}": sum(1 for e in entries if e["event"] == ev) for ev in SCHEMA}}
        if man["counts"] != counts:
            raise Bad("counts")
        for f in FILES:
            if sha((d / f).read_bytes()) != man["files"][f]:
                raise Bad(f"digest {f}")
        if since:
            m = re.fullmatch(r"(\d+):([0-9a-f]{64})", since)
            seq, h = (int(m.group(1)), m.group(2)) if m else (None, None)
            if m is None:
                om = parse((Path(since) / "manifest.json").read_bytes())
                seq, h = om["head_seq"], om["head_hash"]
            if seq > len(entries) or (seq and entries[seq - 1]["hash"] != h):
                raise Bad("since")
        return True, "ok"
    except Exception as exc:  # the independent verifier's verdict, whatever went wrong
        return False, f"{type(exc).__name__}: {exc}"


# =========================================================================== agreement with allocator verify


def test_independent_verifier_accepts_honest_publications(world: dict) -> None:  # noqa: F811
    from allocator import ledger

    for v in ("v1", "v2", "pub"):
        ok, why = independent_verify(world[v])
        assert ok, (v, why)
        assert ledger.verify(world[v]).ok
    m1 = json.loads((world["v1"] / "manifest.json").read_text())
    assert independent_verify(world["v2"], since=str(world["v1"]))[0]
    assert independent_verify(world["v2"], since=f"{m1['head_seq']}:{m1['head_hash']}")[0]
    assert not independent_verify(world["v1"], since=str(world["v2"]))[0]
    assert not independent_verify(world["v2"], key="ab" * 32)[0]


@pytest.mark.parametrize("name", list(CASES))
def test_independent_verifier_agrees_on_tampering(world: dict, tmp_path: Path, name: str) -> None:  # noqa: F811
    from allocator import ledger

    d = shutil.copytree(world["v2"], tmp_path / "t")
    CASES[name][1](d, world["key"])
    ok, _why = independent_verify(d)
    assert ok == ledger.verify(d).ok == False  # noqa: E712
