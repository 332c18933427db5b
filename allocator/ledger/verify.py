"""Verification of a publication: every byte of every published file, from the chain alone.

:func:`verify` never raises on a malformed publication: every failure is a
:class:`Verification` with a message code (``ledger.verify.*`` in
``allocator/locale/<lang>/ledger.toml``), its parameters, the English text, and
the entry (``seq``) or file it names.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allocator.ledger import keys, merkle, tables
from allocator.ledger.chain import GENESIS, LedgerError, canonical, entry_hash, fields_of
from allocator.ledger.files import DATA_FILES, FORMAT, build_files
from allocator.ledger.schema import HEX64, field_problem

SINCE = re.compile(r"^(\d+):([0-9a-f]{64})$")


@dataclass(frozen=True)
class Verification:
    """Result of :func:`verify`: ``ok``, and when not, the first failing entry or file and why.

    Attributes
    ----------
    ok : bool
    message : str
        English text (``str(v)``); render ``code`` with ``params`` for other languages.
    seq : int, optional
        The ledger entry named (a deleted entry is named by its missing seq).
    entries : int
        Entries read before the failure (all of them when ok).
    code : str
        Catalogue key, e.g. ``ledger.verify.entry_hash``.
    params : dict
    file : str, optional
        The published file named.
    """

    ok: bool
    message: str
    seq: int | None = None
    entries: int = 0
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    file: str | None = None

    def __str__(self) -> str:
        return self.message

    def render(self, lang: str) -> str:
        """The message in ``lang`` (``zh`` or ``en``)."""
        return render(self.code, lang, self.params)


def render(key: str, lang: str, params: Mapping[str, Any]) -> str:
    """Render a message code; a nested ``problem_key`` parameter is rendered first, in the same language."""
    from allocator.i18n import t

    p = dict(params)
    if "problem_key" in p:
        p["problem"] = t(p["problem_key"], lang, **p)
    return t(key, lang, **p)


class _Fail(Exception):
    def __init__(self, code: str, seq: int | None = None, file: str | None = None, **params: Any):
        self.code, self.seq, self.file, self.params = code, seq, file, params
        super().__init__(code)


def _result(fail: _Fail, n: int) -> Verification:
    key = f"ledger.verify.{fail.code}"
    params = {k: v for k, v in fail.params.items()}
    if fail.seq is not None:
        params.setdefault("seq", fail.seq)
    if fail.file is not None:
        params.setdefault("file", fail.file)
    return Verification(False, render(key, "en", params), fail.seq, n, key, params, fail.file)


def read_manifest(d: Path) -> dict[str, Any]:
    """The manifest of publication ``d`` (checked for shape, not signature); LedgerError when unreadable."""
    try:
        m = json.loads((Path(d) / "manifest.json").read_bytes().decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise LedgerError(f"{d}/manifest.json: cannot be read ({exc})") from exc
    if not isinstance(m, dict):
        raise LedgerError(f"{d}/manifest.json: not a JSON object")
    return m


def read_entries(d: Path) -> list[dict[str, Any]]:
    """The entries of ``d/ledger.jsonl`` (parsed; verify them with :func:`verify`)."""
    out = []
    for raw in (Path(d) / "ledger.jsonl").read_bytes().split(b"\n"):
        if raw:
            out.append(json.loads(raw.decode("utf-8")))
    return out


# --------------------------------------------------------------------------- pieces


def _check_manifest(d: Path) -> tuple[dict[str, Any], bytes]:
    raw = (d / "manifest.json").read_bytes()
    try:
        man = json.loads(raw.decode("utf-8"), parse_float=lambda s: float(s))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _Fail("manifest_json", file="manifest.json", error=str(exc)[:200]) from None
    if not isinstance(man, dict):
        raise _Fail("manifest_field", file="manifest.json", field="(top)", problem_key="ledger.manifest.wrong",
                    want="a JSON object", got=type(man).__name__)

    def need(name: str, ok: bool, want: str, got: Any = None) -> None:
        if not ok:
            raise _Fail("manifest_field", file="manifest.json", field=name, problem_key="ledger.manifest.wrong",
                        want=want, got=repr(got)[:80])

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    need("format", man.get("format") == FORMAT, repr(FORMAT), man.get("format"))
    need("published_at", isinstance(man.get("published_at"), str), "text", man.get("published_at"))
    need("head_seq", is_int(man.get("head_seq")), "a whole number >= 0", man.get("head_seq"))
    for k in ("head_hash", "merkle_root", "public_key"):
        need(k, isinstance(man.get(k), str) and bool(HEX64.match(man[k])), "64 lowercase hex digits", man.get(k))
    prev = man.get("previous")
    need("previous", isinstance(prev, dict) and set(prev) == {"seq", "hash"} and is_int(prev.get("seq"))
         and isinstance(prev.get("hash"), str) and bool(HEX64.match(prev["hash"])),
         '{"seq": whole number, "hash": 64 hex digits}', prev)
    counts = man.get("counts")
    need("counts", isinstance(counts, dict) and all(is_int(v) for v in counts.values()),
         "an object of whole numbers", counts)
    files: Any = man.get("files")
    need("files", isinstance(files, dict), "an object naming the SHA-256 of every published file", files)
    for name in DATA_FILES:
        if not (isinstance(files.get(name), str) and HEX64.match(files[name])):
            raise _Fail("manifest_field", file="manifest.json", field=f"files.{name}",
                        problem_key="ledger.manifest.required_digest")
    for k in ("iati_org_ref", "iati_org_name", "hash_rule"):
        need(k, isinstance(man.get(k), str), "text", man.get(k))
    try:
        canon = canonical(man) + b"\n"
    except LedgerError:
        raise _Fail("manifest_field", file="manifest.json", field="(value)", problem_key="ledger.schema.fraction",
                    got="") from None
    if raw != canon:
        raise _Fail("manifest_canonical", file="manifest.json")
    return man, raw


def _check_signature(d: Path, man: Mapping[str, Any], raw: bytes, pinned: str | None) -> str:
    try:
        sig = json.loads((d / "signature.json").read_bytes().decode("utf-8"))
        if not isinstance(sig, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Fail("signature_json", file="signature.json", error=str(exc)[:200]) from None
    pub, s = sig.get("public_key"), sig.get("signature")
    if sig.get("algorithm") != keys.ALGORITHM or sig.get("signed_file") != "manifest.json" or not (
            isinstance(pub, str) and HEX64.match(pub) and isinstance(s, str) and re.fullmatch(r"[0-9a-f]{128}", s)):
        raise _Fail("signature_json", file="signature.json", error="needs algorithm Ed25519, signed_file "
                    "manifest.json, public_key (64 hex) and signature (128 hex)")
    if pub != man.get("public_key"):
        raise _Fail("signature_key_differs", file="signature.json", key=pub[:16])
    if pinned is not None and pub != pinned.lower():
        raise _Fail("key_mismatch", file="signature.json", got=pub[:16], want=pinned[:16])
    if not keys.check_signature(pub, s, raw):
        raise _Fail("signature_invalid", file="signature.json", key=pub[:16])
    return pub


def _check_ledger(d: Path) -> list[dict[str, Any]]:
    raw = (d / "ledger.jsonl").read_bytes()
    if b"\r" in raw:
        line = raw[: raw.index(b"\r")].count(b"\n") + 1
        raise _Fail("ledger_crlf", seq=line, file="ledger.jsonl", line=line)
    if raw and not raw.endswith(b"\n"):
        raise _Fail("ledger_final_newline", file="ledger.jsonl", seq=raw.count(b"\n") + 1)
    lines: list[dict[str, Any]] = []
    prev, expect = GENESIS, 1
    for lineno, rawline in enumerate(raw.split(b"\n")[:-1] if raw else [], start=1):
        try:
            line = json.loads(rawline.decode("utf-8"))
            if not isinstance(line, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _Fail("entry_json", seq=expect, file="ledger.jsonl", line=lineno) from None
        if line.get("seq") != expect or isinstance(line.get("seq"), bool):
            raise _Fail("entry_order", seq=expect, file="ledger.jsonl", line=lineno, got=repr(line.get("seq")))
        if line.get("prev_hash") != prev:
            raise _Fail("entry_prev", seq=expect, file="ledger.jsonl", prev=expect - 1)
        if not isinstance(line.get("hash"), str) or not HEX64.match(line["hash"]):
            raise _Fail("entry_schema", seq=expect, file="ledger.jsonl", problem_key="ledger.manifest.wrong",
                        want="64 lowercase hex digits", got=repr(line.get("hash"))[:80], field="hash")
        fields = fields_of(line)
        problem = field_problem(fields)
        if problem:
            raise _Fail("entry_schema", seq=expect, file="ledger.jsonl", problem_key=problem[0], **problem[1])
        if rawline != canonical(line):
            raise _Fail("entry_canonical", seq=expect, file="ledger.jsonl", line=lineno)
        if entry_hash(expect, prev, fields) != line["hash"]:
            raise _Fail("entry_hash", seq=expect, file="ledger.jsonl")
        lines.append(line)
        prev, expect = line["hash"], expect + 1
    return lines


def _read_rows(data: bytes, name: str) -> list[list[str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Fail("file_encoding", file=name, error=str(exc)[:120]) from None
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise _Fail("file_bytes", file=name, error=str(exc)[:120]) from None


def _compare_csv(d: Path, name: str, columns: Sequence[str], expected: bytes, st: tables.State) -> None:
    got = _read_rows((d / name).read_bytes(), name)
    want = _read_rows(expected, name)
    if not got or got[0] != list(columns):
        raise _Fail("csv_header", file=name, got=",".join(got[0]) if got else "(empty)", want=",".join(columns))
    for i in range(1, max(len(got), len(want))):
        if i >= len(want):
            raise _Fail("csv_extra_row", file=name, row=i + 1, key=",".join(got[i][:4]))
        w = want[i]
        key2: tuple[str, ...] = (w[0], w[3])
        key3: tuple[str, ...] = (w[0], w[3], w[7]) if name == "donation_usage.csv" else key2
        seq = st.first_seq.get(key3) or st.first_seq.get(key2)
        key = key3
        if i >= len(got):
            raise _Fail("csv_missing_row", seq=seq, file=name, key=" ".join(k for k in key if k))
        g = got[i]
        for j, col in enumerate(columns):
            gv = g[j] if j < len(g) else "(missing)"
            if gv != w[j]:
                raise _Fail("csv_cell", seq=seq, file=name, row=i + 1, column=col, donation=w[0], item=w[3],
                            got=repr(gv), want=repr(w[j]))
        if len(g) > len(columns):
            raise _Fail("csv_cell", seq=seq, file=name, row=i + 1, column="(extra)", donation=w[0], item=w[3],
                        got=repr(g[len(columns):]), want="''")


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- verify


def verify(out_dir: str | Path, *, key: str | None = None, since: str | Path | None = None) -> Verification:
    """Verify a publication from its files alone.

    Checks, in order: every file is present; ``manifest.json`` has every key
    with its type and is canonical; ``signature.json`` is a valid Ed25519
    signature of ``manifest.json`` (by ``key`` when given: the pinned public
    key, 64 hex digits); ``ledger.jsonl`` is LF-terminated canonical JSON, one
    entry a line, each entry fits its event's schema, seq runs 1, 2, ..., each
    ``prev_hash`` links and each hash recomputes; the manifest's head, Merkle
    root and previous head match the chain; every row and cell of
    ``donations.csv`` and ``donation_usage.csv`` and every byte of them and of
    ``iati-activities.xml`` equal what the chain gives; the counts and every
    file's SHA-256 match the manifest. With ``since`` (an earlier publication's
    folder, or ``SEQ:HASH``), the chain must extend that head unchanged.

    Returns
    -------
    Verification
        ``seq`` names the first entry that does not match, ``file`` the file.

    Examples
    --------
    >>> verify("does-not-exist").ok
    False
    """
    d = Path(out_dir)
    n = 0
    try:
        if not d.is_dir():
            raise _Fail("not_a_folder", dir=str(d))
        need = ["manifest.json", "signature.json", *DATA_FILES]
        missing = [x for x in need if not (d / x).is_file()]
        if missing:
            raise _Fail("missing_files", file=missing[0], dir=str(d), files=", ".join(missing))
        man, raw = _check_manifest(d)
        pub = _check_signature(d, man, raw, key)
        lines = _check_ledger(d)
        n = len(lines)
        last = lines[-1]["hash"] if lines else GENESIS
        if man["head_seq"] != n:
            seq = n + 1 if man["head_seq"] > n else n
            raise _Fail("head_seq", seq=seq, file="ledger.jsonl", head=man["head_seq"], n=n)
        if man["head_hash"] != last:
            raise _Fail("head_hash", seq=n, file="ledger.jsonl")
        if man["merkle_root"] != merkle.merkle_root([ln["hash"] for ln in lines]):
            raise _Fail("merkle_root", file="manifest.json")
        prev = man["previous"]
        if prev["seq"] > n or (prev["seq"] and lines[prev["seq"] - 1]["hash"] != prev["hash"]) or (
                prev["seq"] == 0 and prev["hash"] != GENESIS):
            raise _Fail("previous_head", seq=min(prev["seq"], n + 1) or None, file="ledger.jsonl",
                        prev=prev["seq"])
        try:
            files, counts, st = build_files(lines, published_at=man["published_at"], org_ref=man["iati_org_ref"],
                                            org_name=man["iati_org_name"])
        except tables.ReplayError as exc:
            raise _Fail("entry_replay", seq=exc.seq, file="ledger.jsonl", problem_key=exc.key,
                        **{k: v for k, v in exc.params.items() if k != "seq"}) from None
        _compare_csv(d, "donations.csv", tables.DONATION_COLUMNS, files["donations.csv"], st)
        _compare_csv(d, "donation_usage.csv", tables.USAGE_COLUMNS, files["donation_usage.csv"], st)
        for name in DATA_FILES:
            if (d / name).read_bytes() != files[name]:
                raise _Fail("file_bytes", file=name, error="")
        for k in sorted(set(counts) | set(man["counts"])):
            if man["counts"].get(k) != counts.get(k):
                raise _Fail("counts", file="manifest.json", name=k, got=repr(man["counts"].get(k)),
                            want=repr(counts.get(k)))
        for name in DATA_FILES:
            if _sha((d / name).read_bytes()) != man["files"][name]:
                raise _Fail("digest", file=name)
        extra = sorted(set(man["files"]) - set(DATA_FILES))
        if extra:
            raise _Fail("manifest_field", file="manifest.json", field="files", problem_key="ledger.manifest.unknown_files",
                        got=", ".join(extra))
        if since is not None:
            _check_since(lines, since)
    except _Fail as fail:
        return _result(fail, n)
    except (OSError, RecursionError, MemoryError, LedgerError) as exc:  # unreadable files and the like
        return _result(_Fail("unreadable", error=f"{type(exc).__name__}: {exc}"[:300]), n)
    params = {"entries": n, "head": last[:16], "key": pub[:16]}
    if since is not None:
        params["since"] = str(since)[:80]
        return Verification(True, render("ledger.verify.ok_since", "en", params), None, n, "ledger.verify.ok_since",
                            params)
    return Verification(True, render("ledger.verify.ok", "en", params), None, n, "ledger.verify.ok", params)


def _check_since(lines: Sequence[Mapping[str, Any]], since: str | Path) -> None:
    text = str(since).strip()
    m = SINCE.match(text)
    old_lines: list[dict[str, Any]] | None = None
    if m:
        seq, h = int(m.group(1)), m.group(2)
    else:
        p = Path(text)
        if not (p / "manifest.json").is_file():
            raise _Fail("since_bad", since=text[:80])
        try:
            om = read_manifest(p)
            oseq, ohash = om.get("head_seq"), om.get("head_hash")
            if not isinstance(oseq, int) or isinstance(oseq, bool) or not isinstance(ohash, str):
                raise LedgerError("head_seq / head_hash missing")
            seq, h = oseq, ohash
            old_lines = read_entries(p) if (p / "ledger.jsonl").is_file() else None
        except (LedgerError, ValueError, UnicodeDecodeError, OSError) as exc:
            raise _Fail("since_bad", since=f"{text[:60]} ({exc})"[:120]) from None
    if old_lines is not None:
        for i, (a, b) in enumerate(zip(old_lines[:seq], lines, strict=False)):
            if not isinstance(a, dict) or a.get("hash") != b.get("hash"):
                raise _Fail("since_differs", seq=i + 1, file="ledger.jsonl", old=seq)
    if seq > len(lines):
        raise _Fail("since_shorter", seq=len(lines) + 1, file="ledger.jsonl", n=len(lines), old=seq)
    if seq and lines[seq - 1]["hash"] != h:
        raise _Fail("since_differs", seq=seq, file="ledger.jsonl", old=seq)
