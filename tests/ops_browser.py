"""The officer's whole flow in a real browser: shared by ``tests/test_browser_flow.py`` and ``bench/app.py``.

:func:`serve` starts ``streamlit run app.py`` on a free 127.0.0.1 port over a
fresh SQLite database seeded with the demo scenario and the flow's users;
:class:`Flow` drives Debian's Chromium through Playwright, finding every
element by the catalogue string of the session's language, so the same flow
runs in Chinese and in English. Nothing leaves the machine: the maps are
pydeck with no base map, and the server binds 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"
CHROMIUM = os.environ.get("ALLOCATOR_CHROMIUM", "/usr/bin/chromium")
USERS = {"li": ("li-pw", ["officer"]), "wang": ("wang-pw", ["approver"])}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(workdir: Path | None = None, timeout_s: float = 90.0) -> Iterator[str]:
    """Start the app on a fresh database; yield its base URL; stop it (and only it) afterwards."""
    from allocator.store import add_user, open_db, transaction
    from allocator.store.bootstrap import bootstrap

    tmp = Path(workdir or tempfile.mkdtemp(prefix="allocator-browser-"))
    url = f"sqlite:///{tmp / 'app.db'}"
    eng = open_db(url)
    bootstrap(eng, DEMO, admin_password="admin-pw")
    with transaction(eng) as s:
        for name, (pw, roles) in USERS.items():
            add_user(s, name, pw, roles)
    eng.dispose()
    port = free_port()
    env = {**os.environ, "ALLOCATOR_DATABASE_URL": url, "ALLOCATOR_DEMO": str(DEMO),
           "ALLOCATOR_ADMIN_PASSWORD": "admin-pw", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    log = open(tmp / "streamlit.log", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the app did not start: see {tmp / 'streamlit.log'}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


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
        self.page.locator("input[type=file]").first.set_input_files(str(workbook))
        self.page.get_by_role("button", name=self.t("app.data.store")).first.click(timeout=self.timeout_ms)
        self.see(self.t("app.data.stored", detail="").split(":")[0].split("：")[0])

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
