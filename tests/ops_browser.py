"""The officer's whole flow in a real browser: shared by ``tests/test_browser_flow.py`` and ``bench/app_flow.py``.

:func:`serve` starts ``streamlit run app.py`` on a free 127.0.0.1 port over a
fresh SQLite database seeded with the demo scenario and the test users (the app
branch's ``tests/browser.py``);
:class:`Flow` drives Debian's Chromium through Playwright, finding every
element by the catalogue string of the session's language, so the same flow
runs in Chinese and in English. Nothing leaves the machine: the maps are
pydeck with no base map, and the server binds 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.browser import CHROMIUM, PASSWORDS  # the app branch's browser fixtures

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"

USERS = {"li": (PASSWORDS["li"], ["officer"]), "wang": (PASSWORDS["wang"], ["approver"])}


@contextlib.contextmanager
def serve(workdir: Path | None = None) -> Iterator[str]:
    """Start the app (``tests.browser.start_app``: a fresh seeded database); yield its URL; stop it."""
    from tests.browser import start_app

    server = start_app(Path(workdir or tempfile.mkdtemp(prefix="allocator-browser-")))
    try:
        yield server.url
    finally:
        server.stop()


@dataclass
class Flow:
    """One browser session on the app, in one language."""

    page: Any
    base: str
    lang: str = "zh"
    timeout_ms: int = 240_000
    marks: dict[str, float] = field(default_factory=dict)
    round_id: int = 0

    def t(self, key: str, **params: Any) -> str:
        from allocator.i18n import t

        return t(key, self.lang, **params)

    # -- basics
    def wait_idle(self) -> None:
        """Wait until Streamlit has finished the current run."""
        self.page.wait_for_timeout(300)
        self.page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=self.timeout_ms)

    def see(self, text: str, timeout_ms: int | None = None) -> None:
        self.page.get_by_text(text, exact=False).first.wait_for(state="visible",
                                                                 timeout=timeout_ms or self.timeout_ms)

    def button(self, key: str, **params: Any) -> None:
        self.page.get_by_role("button", name=self.t(key, **params), exact=True).first.click()

    def click_until(self, key: str, text: str, tries: int = 3, wait_ms: int = 60_000) -> None:
        """Click button ``key`` until ``text`` shows (a click during a rerun can be dropped by the page)."""
        for i in range(tries):
            self.button(key)
            try:
                self.see(text, timeout_ms=wait_ms)
                return
            except Exception:
                if i == tries - 1:
                    raise
                self.wait_idle()

    def start(self) -> None:
        self.page.goto(self.base)
        self.see(self.t("app.login.title") if self.lang == "zh" else "登录")
        if self.lang != "zh":  # the app starts in Chinese: switch with the sidebar selector
            from allocator.i18n import t

            self.page.get_by_label(t("app.lang.label", "zh")).first.click()
            self.page.get_by_role("option", name=t("lang.name", self.lang)).click()
            self.see(self.t("app.login.title"))

    def login(self, user: str) -> None:
        pw = USERS[user][0]
        self.page.get_by_role("textbox", name=self.t("app.login.user")).fill(user)
        self.page.get_by_role("textbox", name=self.t("app.login.password")).fill(pw)
        self.button("app.login.submit")
        self.see(self.t("app.auth.signed_in_as", user=user, roles=self.t(f"app.role.{USERS[user][1][0]}")))

    def logout(self) -> None:
        self.button("app.auth.logout")
        self.page.get_by_role("textbox", name=self.t("app.login.user")).wait_for(timeout=self.timeout_ms)

    def open(self, name: str) -> float:
        """Open a page from the sidebar; seconds until its title shows."""
        t0 = time.perf_counter()
        self.page.get_by_role("link", name=self.t(f"app.page.{name}")).first.click()
        self.page.get_by_role("heading", name=self.t(f"app.page.{name}")).first.wait_for(timeout=self.timeout_ms)
        took = time.perf_counter() - t0
        self.wait_idle()
        self.marks[f"page:{name}"] = took
        return took

    def shot(self, name: str, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        p = folder / f"{name}-{self.lang}.png"
        self.wait_idle()
        self.page.evaluate("() => document.querySelectorAll('section, [data-testid=stMain]')"
                           ".forEach(e => e.scrollTo(0, 0))")
        self.page.wait_for_timeout(1500)  # let the map draw
        self.page.screenshot(path=str(p), full_page=True)
        return p

    # -- the officer's flow
    def upload(self, workbook: Path) -> None:
        self.open("data")
        self.page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(workbook))
        self.page.get_by_role("button", name=self.t("app.data.store")).first.wait_for(timeout=self.timeout_ms)
        self.wait_idle()
        self.click_until("app.data.store", self.t("app.data.stored", detail=workbook.name))

    def run_round(self, round_id: int) -> float:
        """Click run; seconds until the results of the new draft ``round_id`` show."""
        t0 = time.perf_counter()
        self.button("app.round.run")
        self.see(self.t("app.round.stored", round_id=round_id))
        self.round_id = round_id
        took = time.perf_counter() - t0
        self.wait_idle()
        self.marks.setdefault("run", took)
        return took

    def lock(self, quantity: int) -> None:
        """Lock ``quantity`` of the default depot, site and item (the first of each)."""
        box = self.page.get_by_role("spinbutton", name=self.t("app.ops.col.quantity")).first
        box.fill(str(quantity))
        box.press("Enter")
        self.wait_idle()
        none = self.page.get_by_text(self.t("app.round.no_locks"))
        for i in range(3):
            self.button("app.round.lock_add")
            try:
                none.wait_for(state="hidden", timeout=30_000)
                break
            except Exception:
                if i == 2:
                    raise
        self.wait_idle()

    def approve(self) -> None:
        self.open("round")
        self.click_until("app.round.approve", self.t("app.round.approved", round_id=self.round_id))

    def dispatch(self) -> None:
        self.open("transport")
        self.button("app.transport.plan")
        self.page.get_by_role("button", name=self.t("app.transport.dispatch")).first.wait_for(
            timeout=self.timeout_ms)
        self.wait_idle()
        self.click_until("app.transport.dispatch", self.t("app.transport.dispatched", round_id=self.round_id, page=self.t("app.page.deliveries")))

    def confirm_with_shortfall(self, short_by: int = 5) -> None:
        self.open("deliveries")
        box = self.page.get_by_role("spinbutton", name=self.t("app.ops.col.received")).first
        box.wait_for(timeout=self.timeout_ms)
        value = int(box.input_value())
        box.fill(str(max(0, value - short_by)))
        box.press("Enter")
        self.wait_idle()
        self.click_until("app.deliveries.confirm_button",
                         self.t("app.deliveries.confirmed", trip_id="\x00", n=1).split("\x00")[1].strip())


def changed_workbook(folder: Path) -> tuple[Path, int]:
    """The demo scenario as one .xlsx with H01's surgical-mask need raised by 500; returns it and the new need."""
    from allocator.scenario import load, save

    sc = load(DEMO)
    needs = sc.needs.copy()
    i = needs.index[(needs.site_id == "H01") & (needs.item_id == "surgical_mask")][0]
    needs.loc[i, "quantity"] = int(needs.loc[i, "quantity"]) + 500
    out = folder / "wuhan-changed.xlsx"
    save(sc.replace(needs=needs), out)
    return out, int(needs.loc[i, "quantity"])


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()
