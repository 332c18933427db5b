"""A donor's flow on the static public site, in Chromium (Debian's), at desktop and phone widths.

Find a donation by its code, open its trail, download the snapshot; in Chinese and
English; screenshots go to ``docs/screenshots/``. Numbers on the page are compared
with the snapshot's view model.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from allocator.public import load_snapshot, view_model
from allocator.site import write_site
from tests.test_public import published_day

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
playwright = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("public")
    _, pub = published_day(root)
    snap = load_snapshot(pub)
    out = write_site(snap, root / "site", channels={"hotline": "027-0000-0000", "addresses": ["Expo Center"]})
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *a, **k: None
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield {"dir": out, "url": f"http://127.0.0.1:{httpd.server_address[1]}/", "model": view_model(snap), "pub": pub}
    httpd.shutdown()


def _numbers(page, selector: str) -> list[int]:
    return [int("".join(ch for ch in s if ch.isdigit()) or 0) for s in page.locator(selector).all_inner_texts()]


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_donor_finds_a_donation_and_its_trail(browser, site, lang: str, width: int, tmp_path: Path) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site["url"] + f"index.html?lang={lang}")
    page.wait_for_selector("#totals-table")
    model = site["model"]
    # the totals on the page are the snapshot's
    assert _numbers(page, "#totals-table td[data-col=received]") == [r["received"] for r in model["totals"]["item"]]
    assert page.locator("#verify-status").get_attribute("class") == "ok"
    title = page.locator("#title").inner_text()
    from allocator.i18n import t
    assert title == t("public.title", lang)
    # find by code, open the trail
    page.fill("#search-input", "DON_A")
    page.click("#search-button")
    page.click("button[data-donation=DON_A]")
    page.wait_for_selector("#trail-table")
    events = model["trails"]["DON_A"]["events"]
    assert page.locator("#trail-table tbody tr").count() == len(events)
    assert _numbers(page, "#trail-table td[data-col=quantity]") == [
        0 if e["event"] == "pledged" else e["quantity"] for e in events]
    page.screenshot(path=str(SHOTS / f"public-site-{lang}-{'phone' if width < 500 else 'desktop'}.png"), full_page=True)
    # the anonymous donor is shown as anonymous in the page's language
    page.fill("#search-input", "DON_B")
    page.click("#search-button")
    assert "Example Textiles" not in page.content()
    # download the snapshot
    with page.expect_download() as dl:
        page.click("a[data-file='ledger.jsonl']")
    saved = tmp_path / "ledger.jsonl"
    dl.value.save_as(saved)
    assert saved.read_bytes() == (site["pub"] / "ledger.jsonl").read_bytes()
    if width < 500:  # nothing wider than the phone's screen but the scrolling tables
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1
    assert errors == []
    ctx.close()


def test_the_site_works_from_disk(browser, site) -> None:
    page = browser.new_page()
    page.goto((site["dir"] / "index.html").as_uri() + "#d=DON_A")
    page.wait_for_selector("#trail-table")
    assert page.locator("#trail-table tbody tr").count() == len(site["model"]["trails"]["DON_A"]["events"])
    page.close()
