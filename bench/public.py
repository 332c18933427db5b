"""Benchmark of the static public site: page weight and time to a donation's trail at scale.

Run: ``python bench/public.py [--donations 10000]``. Builds a database with N
donations (one lot each, every lot allocated, dispatched and delivered to one of
50 sites), publishes it with :func:`allocator.ledger.publish`, writes the static
site with :func:`allocator.site.write_site`, serves it with a local HTTP server
on 127.0.0.1 and drives Debian's Chromium with Playwright. Prints:

- the seconds to publish and to write the site;
- bytes transferred for a first view (every response the page loads) against
  the whole snapshot's size (what a page without sharding would have to load);
- seconds to the first render of the totals, and from the click on a search
  result to the rendered trail (median of a few donations).

Figures, not assertions: these machines are shared, so compare the ratios.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from allocator import ledger  # noqa: E402
from allocator.scenario import from_tables  # noqa: E402
from allocator.site import write_site  # noqa: E402
from allocator.store import (  # noqa: E402
    add_user,
    approve_round,
    confirm_delivery,
    create_round,
    current_scenario,
    dispatch_round,
    import_scenario,
    open_db,
    transaction,
)

N_SITES, N_ITEMS = 50, 10


def scenario(n: int):
    """N donations of one lot each at one depot; 50 sites that need all of it."""
    items = pd.DataFrame({"item_id": [f"I{i:02d}" for i in range(N_ITEMS)],
                          "name": [f"Item {i}" for i in range(N_ITEMS)], "category": "mask", "grade": "medical"})
    sites = pd.DataFrame({"site_id": [f"S{i:03d}" for i in range(N_SITES)], "name": [f"Site {i}" for i in range(N_SITES)],
                          "kind": "designated_hospital", "lat": [30.5 + i * 0.004 for i in range(N_SITES)],
                          "lon": [114.2 + (i % 7) * 0.01 for i in range(N_SITES)]})
    depots = pd.DataFrame({"depot_id": ["D1"], "name": ["Depot"], "lat": [30.6], "lon": [114.3]})
    donations = pd.DataFrame({"donation_id": [f"DN{i:05d}" for i in range(n)],
                              "donor": [f"Donor {i % 997}" for i in range(n)], "received": "2020-02-01"})
    stock = pd.DataFrame({"lot_id": [f"L{i:05d}" for i in range(n)], "depot_id": "D1",
                          "item_id": [f"I{i % N_ITEMS:02d}" for i in range(n)], "quantity": 100,
                          "donation_id": donations.donation_id})
    needs = pd.DataFrame([{"site_id": s, "item_id": i, "quantity": 100 * n}
                          for s in sites.site_id for i in items.item_id])
    return from_tables({"items": items, "sites": sites, "depots": depots, "donations": donations,
                        "stock": stock, "needs": needs}, name="bench-public", as_of="2020-02-10T08:00:00")


def build(n: int, root: Path) -> tuple[Path, float]:
    eng = open_db(f"sqlite:///{root}/db.sqlite")
    sc = scenario(n)
    with transaction(eng) as s:
        import_scenario(s, sc)
        add_user(s, "o", "pw-officer", ["officer"])
        add_user(s, "a", "pw-approver", ["approver"])
    alloc = pd.DataFrame({"lot_id": sc.stock.lot_id, "depot_id": "D1",
                          "site_id": [f"S{i % N_SITES:03d}" for i in range(n)], "item_id": sc.stock.item_id,
                          "need_item_id": sc.stock.item_id, "quantity": 100, "travel_min": 20.0})
    with transaction(eng) as s:
        rid = create_round(s, current_scenario(s), alloc, None, {"status": "optimal"}, "o").id
    with transaction(eng) as s:
        approve_round(s, rid, "a")
        dispatch_round(s, rid, "o")
        confirm_delivery(s, rid, "o")
    t = time.perf_counter()
    with transaction(eng) as s:
        ledger.publish(s, root / "pub")
    return root / "pub", time.perf_counter() - t


class _Counting(http.server.SimpleHTTPRequestHandler):
    sent: dict[str, int] = {}

    def log_message(self, *a: object) -> None:  # quiet
        pass

    def copyfile(self, source, outputfile) -> None:  # noqa: ANN001
        data = source.read()
        _Counting.sent[self.path] = _Counting.sent.get(self.path, 0) + len(data)
        outputfile.write(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--donations", type=int, default=10_000)
    ap.add_argument("--trails", type=int, default=5, help="trails to open (median reported)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-public-"))
    t = time.perf_counter()
    pub, t_pub = build(args.donations, root)
    t_db = time.perf_counter() - t - t_pub
    t = time.perf_counter()
    site = write_site(pub, root / "site")
    t_site = time.perf_counter() - t
    snapshot_bytes = sum(f.stat().st_size for f in pub.iterdir() if f.is_file())
    site_bytes = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    entries = sum(1 for _ in open(pub / "ledger.jsonl", encoding="utf-8"))

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Counting, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = b.new_page(viewport={"width": 1280, "height": 900})
        _Counting.sent.clear()
        t = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("#totals-table")
        t_first = time.perf_counter() - t
        first_view = sum(_Counting.sent.values())
        times = []
        step = max(1, args.donations // (args.trails + 1))
        for k in range(1, args.trails + 1):
            did = f"DN{k * step:05d}"
            page.fill("#search-input", did)
            page.click("#search-button")
            t = time.perf_counter()
            page.click(f"button[data-donation={did}]")
            page.wait_for_selector(f"#trail-title:has-text('{did}')")
            times.append(time.perf_counter() - t)
        b.close()
    httpd.shutdown()
    print(f"donations: {args.donations:,}; ledger entries: {entries:,}; snapshot {snapshot_bytes / 1e6:.2f} MB; "
          f"site {site_bytes / 1e6:.2f} MB on disk")
    print(f"database set-up {t_db:.1f} s; publish {t_pub:.2f} s; write_site {t_site:.2f} s")
    print(f"first view: {first_view / 1e6:.2f} MB transferred ({first_view / snapshot_bytes:.2f}x the snapshot), "
          f"totals rendered in {t_first:.2f} s")
    print(f"trail of one donation: {statistics.median(times):.3f} s median over {len(times)} "
          f"(min {min(times):.3f}, max {max(times):.3f}), one shard of ~50 trails loaded each")


if __name__ == "__main__":
    main()
