"""Benchmark of the officers' app in a real browser: seconds per page to first full render, on the demo data.

Starts ``streamlit run app.py`` on a free local port with a fresh seeded SQLite database (the
fixtures of ``tests/browser.py``), logs in with Chromium, opens every page of this shell twice
(cold: first render in the process, caches empty; warm: the same page again) and prints both
side by side. Figures, not assertions.

    PYTHONPATH=. python bench/app.py [--lang zh|en] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM, TIMEOUT_MS, login, start_app, t, title, wait_idle  # noqa: E402

PAGES = ("overview", "data", "history", "admin")


def _open(page, name: str, lang: str) -> float:
    t0 = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_text(t(f"app.page.{name}", lang), exact=True).click()
    title(page, t(f"app.page.{name}", lang))
    wait_idle(page)
    return time.perf_counter() - t0 - 0.3  # wait_idle's initial pause


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", default="zh", choices=["zh", "en"])
    ap.add_argument("--repeat", type=int, default=3, help="warm renders per page (median printed)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp:
        t0 = time.perf_counter()
        server = start_app(Path(tmp))
        start_s = time.perf_counter() - t0
        try:
            with sync_playwright() as pw:
                b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                       args=["--no-sandbox", "--disable-dev-shm-usage"])
                page = b.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(TIMEOUT_MS)
                t0 = time.perf_counter()
                login(page, server.url, "admin", args.lang)
                title(page, t("app.page.overview", args.lang))
                wait_idle(page)
                first_s = time.perf_counter() - t0
                cold = {"overview": first_s}
                for name in PAGES[1:]:
                    cold[name] = _open(page, name, args.lang)
                warm: dict[str, list[float]] = {n: [] for n in PAGES}
                for _ in range(args.repeat):
                    for name in PAGES:
                        warm[name].append(_open(page, name, args.lang))
                b.close()
        finally:
            server.stop()
    print(f"demo data (wuhan-2020-02-10), language {args.lang}; server start to healthy: {start_s:.1f} s")
    print("(overview cold = open the app, log in, first Overview render)")
    print(f"{'page':<10} {'cold s':>8} {'warm s (median)':>16} {'cold/warm':>10}")
    for name in PAGES:
        w = statistics.median(warm[name])
        print(f"{name:<10} {cold[name]:>8.2f} {w:>16.2f} {cold[name] / w if w > 0 else float('nan'):>10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
