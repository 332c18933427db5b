"""A donor's flow on the app's public page in Chromium: no login, find a donation, its trail, a download.

The app runs under ``streamlit run`` (``tests/browser.py``) with a snapshot published
from its own database into ``ALLOCATOR_PUBLIC_DIR``; screenshots go to ``docs/screenshots/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from allocator import i18n
from allocator.public import load_snapshot, view_model
from tests.browser import (  # noqa: F401
    SCREENSHOTS,
    TIMEOUT_MS,
    browser,
    require_browser,
    set_language,
    start_app,
    wait_idle,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def public_app(tmp_path_factory):
    require_browser()
    root = tmp_path_factory.mktemp("public-app")
    public = root / "public"
    server = start_app(root, extra_env={"ALLOCATOR_PUBLIC_DIR": str(public)})
    try:
        from allocator.ledger import publish
        from allocator.store import open_db, transaction

        eng = open_db(server.db_url)
        with transaction(eng) as s:
            publish(s, public, by="test", key_path=root / "key.pem")
        eng.dispose()
        yield server, public
    finally:
        server.stop()


def _open(chromium, url: str, width: int):
    ctx = chromium.new_context(viewport={"width": width, "height": 1200}, accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.goto(f"{url}/public")
    wait_idle(pg)
    return ctx, pg


@pytest.mark.parametrize("lang,width", [("zh", 1400), ("en", 1400), ("zh", 390)],
                         ids=["zh-desktop", "en-desktop", "zh-phone"])
def test_a_donor_finds_a_donation_without_logging_in(browser, public_app, lang: str, width: int,  # noqa: F811
                                                     tmp_path: Path) -> None:
    server, public = public_app
    model = view_model(load_snapshot(public))
    ctx, pg = _open(browser, server.url, width)
    if lang != "zh":
        set_language(pg, lang)
    pg.get_by_role("heading", name=i18n.t("public.title", lang), level=1).first.wait_for()
    assert pg.get_by_text(i18n.t("public.verified", lang)).count() >= 1
    assert pg.get_by_text(model["snapshot"]["head_hash"]).count() >= 1
    # find a donation by its reference code and open its trail
    don = next(d for d in model["donations"] if d["code"] and d["received"] > 0)
    box = pg.get_by_label(i18n.t("public.search_hint", lang))
    box.fill(don["code"])
    box.press("Enter")
    wait_idle(pg)
    pg.get_by_text(i18n.t("public.trail", lang, donation_id=don["donation_id"])).first.wait_for()
    stock = model["trails"][don["donation_id"]]["stock"]
    assert pg.get_by_text(i18n.t("public.stock_note", lang, available=f"{stock['available']:,}",
                                 quarantined=f"{stock['quarantined']:,}",
                                 written_off=f"{stock['written_off']:,}")).count() == 1
    pg.screenshot(path=str(SCREENSHOTS / f"public-app-{lang}-{'phone' if width < 500 else 'desktop'}.png"),
                  full_page=True)
    # download the ledger and compare it with the published file
    with pg.expect_download() as dl:
        pg.get_by_role("button", name=i18n.t("public.download_ledger", lang)).click()
    saved = tmp_path / "ledger.jsonl"
    dl.value.save_as(saved)
    assert saved.read_bytes() == (public / "ledger.jsonl").read_bytes()
    # nothing of the officers' pages is reachable from here without a login
    assert pg.get_by_text(i18n.t("app.page.admin", lang)).count() == 0
    ctx.close()
