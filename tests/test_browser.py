"""The officers' app in a real browser (Playwright driving Debian's Chromium), in Chinese and English.

Log in, Overview, a demo workbook with a changed need uploaded on the Data page and stored, History,
the Users page, the language switch, and the admin page unreachable by URL path; screenshots of
each page go to docs/screenshots/. Marked slow: ``make test-fast`` leaves them out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.browser import (  # noqa: F401  (fixtures)
    app_server,
    browser,
    dismiss_page_not_found,
    goto_page,
    login,
    page,
    screenshot,
    set_language,
    t,
    title,
    wait_idle,
)

pytestmark = pytest.mark.slow

LANGS = ["zh", "en"]


def _need(db_url: str, site: str, item: str) -> int:
    from allocator.store import make_engine, transaction
    from allocator.store import models as m

    eng = make_engine(db_url)
    with transaction(eng) as s:
        q = s.scalar(select(m.Need.quantity).where(m.Need.site_id == site, m.Need.item_id == item,
                                                   m.Need.retired.is_(False)))  # the request in force
    eng.dispose()
    return int(q)


def _workbook(folder: Path, quantity: int) -> tuple[Path, str, str]:
    from allocator.scenario import load, save
    from tests.browser import DEMO

    sc = load(DEMO)
    needs = sc.needs.copy()
    site, item = str(needs.site_id.iloc[0]), str(needs.item_id.iloc[0])
    needs.loc[0, "quantity"] = quantity
    return save(sc.replace(needs=needs), folder / "wuhan-2020-02-10.xlsx"), site, item


def test_the_login_page_and_admin_by_url_path(app_server, page) -> None:  # noqa: F811
    page.goto(app_server.url)
    title(page, t("app.login.title", "zh"))
    screenshot(page, "login-zh")
    # an anonymous visitor typing the admin page's URL gets the login page
    page.goto(f"{app_server.url}/admin")
    title(page, t("app.login.title", "zh"))
    assert dismiss_page_not_found(page)  # Streamlit: no such page here, running the main page
    assert page.get_by_role("heading", name=t("app.page.admin", "zh"), level=1).count() == 0
    # an officer who logs in there (a typed URL starts a new session) lands on the Overview
    login(page, app_server.url, "li", "zh", path="admin")
    wait_idle(page)
    title(page, t("app.page.overview", "zh"))
    assert page.get_by_role("heading", name=t("app.page.admin", "zh"), level=1).count() == 0
    nav = page.locator('[data-testid="stSidebarNav"]')
    assert nav.get_by_text(t("app.page.admin", "zh"), exact=True).count() == 0


@pytest.mark.parametrize("lang", LANGS)
def test_officer_logs_in_reads_the_overview_and_uploads_the_days_workbook(app_server, page, tmp_path, lang) -> None:  # noqa: F811
    quantity = 1234 if lang == "zh" else 4321
    book, site, item = _workbook(tmp_path, quantity)
    assert _need(app_server.db_url, site, item) != quantity
    login(page, app_server.url, "li", lang)
    title(page, t("app.page.overview", lang))
    page.get_by_text(t("app.overview.stock", lang), exact=True).wait_for()
    wait_idle(page)
    screenshot(page, f"overview-{lang}")

    goto_page(page, "data", lang)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(book))
    store = page.get_by_role("button", name=t("app.data.store", lang))
    store.wait_for()
    wait_idle(page)
    screenshot(page, f"data-{lang}")
    store.click()
    page.get_by_text(t("app.data.stored", lang, detail=book.name)).wait_for()
    assert _need(app_server.db_url, site, item) == quantity

    goto_page(page, "history", lang)
    page.get_by_text(t("app.history.actions", lang), exact=True).wait_for()
    screenshot(page, f"history-{lang}")


@pytest.mark.parametrize("lang", LANGS)
def test_admin_page_and_language_switch(app_server, page, lang) -> None:  # noqa: F811
    login(page, app_server.url, "admin", lang)
    goto_page(page, "admin", lang)
    page.get_by_text(t("app.admin.add", lang), exact=True).wait_for()
    screenshot(page, f"admin-{lang}")
    other = "en" if lang == "zh" else "zh"
    set_language(page, other)
    title(page, t("app.page.admin", other))
    # the navigation and the sidebar changed too, and the choice stays on another page
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name=t("app.auth.logout", other)).wait_for()
    goto_page(page, "history", other)
    title(page, t("app.page.history", other))
