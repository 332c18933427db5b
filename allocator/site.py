"""The public donation page as a static website, for internet scale.

:func:`write_site` turns a published snapshot into a folder of HTML, CSS,
JavaScript and data that any static host or CDN can serve, and that also works
opened from disk (``file://``): a donation appeal that sends a million people
to the page never reaches the command centre's server.

Layout of the folder::

    index.html, style.css, app.js      the page (no server code, no outside requests)
    data/summary.js                    totals, donation index, names, catalogue (zh, en)
    data/trails/NNN.js                 trails of ~50 donations each, loaded on demand
    downloads/                         the snapshot's files, snapshot.json, snapshot-csv.zip

Data files are JavaScript that call a global function rather than JSON, because
browsers refuse ``fetch`` from ``file://``; a ``<script>`` tag works everywhere.
All numbers come from :func:`allocator.public.view_model`, the same function the
app's public page renders, so both show the same totals and trails.
User-supplied text is only ever set with ``textContent`` by ``app.js``.

Examples
--------
>>> import tempfile, pathlib
>>> from allocator import examples
>>> from allocator.ledger import publish
>>> from allocator.store import import_scenario, memory_store, transaction
>>> eng = memory_store()
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with transaction(eng) as s:
...     _ = import_scenario(s, examples.grades_and_earmarks())
...     _ = publish(s, root / "pub")
>>> out = write_site(root / "pub", root / "site")
>>> sorted(p.name for p in out.iterdir())
['app.js', 'data', 'downloads', 'index.html', 'style.css']
"""

from __future__ import annotations

import io
import json
import math
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from allocator import i18n
from allocator.fsutil import atomic_folder
from allocator.public import Snapshot, load_snapshot, view_model

__all__ = ["write_site", "TRAILS_PER_SHARD", "catalogue_for_site"]

ASSETS = Path(__file__).with_name("site_assets")
TRAILS_PER_SHARD = 50


def catalogue_for_site() -> dict[str, dict[str, str]]:
    """The ``public.*`` and ``lang.*`` messages of every language, for the page's script."""
    return {lang: {k: v for k, v in i18n.catalogue(lang).items() if k.startswith(("public.", "lang."))}
            for lang in i18n.LANGUAGES}


def _js(callback: str, *args: Any) -> bytes:
    body = ",".join(json.dumps(a, ensure_ascii=False, separators=(",", ":")) for a in args)
    # "</" never appears inside a script's data, whatever a donor's name holds
    return f"{callback}({body});\n".replace("</", "<\\/").encode("utf-8")


def _csv_zip(snap: Snapshot) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for f in sorted(snap.path.glob("*.csv")):
            z.writestr(f.name, f.read_bytes())
        z.writestr("manifest.json", (snap.path / "manifest.json").read_bytes())
    return buf.getvalue()


def write_site(snapshot: str | Path | Snapshot, out_dir: str | Path, *,
               channels: Mapping[str, Any] | None = None) -> Path:
    """Write the static public site of one snapshot into ``out_dir`` (atomically).

    Parameters
    ----------
    snapshot : path or Snapshot
        A folder written by ``allocator publish`` (it is read and verified).
    out_dir : path
        The site folder; replaced as a whole, so a reader never sees half a site.
    channels : mapping, optional
        Donation channels to show (``hotline``, ``addresses``, ``account``, ``note``).

    Returns
    -------
    Path
        ``out_dir``.
    """
    snap = snapshot if isinstance(snapshot, Snapshot) else load_snapshot(snapshot)
    model = view_model(snap, channels=channels)
    trails = model.pop("trails")
    ids = [d["donation_id"] for d in model["donations"]]
    n_shards = max(1, math.ceil(len(ids) / TRAILS_PER_SHARD))
    shard_of = {did: i // TRAILS_PER_SHARD for i, did in enumerate(ids)}
    for d in model["donations"]:
        d["shard"] = shard_of[d["donation_id"]]
    model["catalogue"] = catalogue_for_site()
    model["languages"] = list(i18n.LANGUAGES)
    model["shards"] = n_shards
    model["has_iati"] = (snap.path / "iati-activities.xml").is_file()
    with atomic_folder(out_dir) as tmp:
        for name in ("index.html", "style.css", "app.js"):
            shutil.copyfile(ASSETS / name, tmp / name)
        (tmp / "data" / "trails").mkdir(parents=True)
        (tmp / "data" / "summary.js").write_bytes(_js("SA.load", model))
        shards: list[dict[str, Any]] = [{} for _ in range(n_shards)]
        for did, t in trails.items():
            shards[shard_of[did]][did] = t
        for i, part in enumerate(shards):
            (tmp / "data" / "trails" / f"{i:03d}.js").write_bytes(_js("SA.trails", i, part))
        dl = tmp / "downloads"
        dl.mkdir()
        for f in sorted(snap.path.iterdir()):  # every published file, so the downloads re-verify on their own
            if f.is_file() and not f.name.startswith("."):
                shutil.copyfile(f, dl / f.name)
        full = {**model, "trails": trails}
        full.pop("catalogue")
        (dl / "snapshot.json").write_text(json.dumps(full, ensure_ascii=False, indent=1), encoding="utf-8")
        (dl / "snapshot-csv.zip").write_bytes(_csv_zip(snap))
        for p in tmp.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        tmp.chmod(0o755)
    return Path(out_dir)
