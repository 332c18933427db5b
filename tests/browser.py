"""Browser-test infrastructure: the real app under ``streamlit run`` and Debian's Chromium via Playwright.

Use the fixtures from a test module::

    from tests.browser import app_server, browser, page, login, goto_page  # noqa: F401

- ``app_server`` (module scope): a fresh SQLite database in a temp folder, migrated and seeded with
  the demo scenario, users ``admin`` / ``li`` (officer) / ``wang`` (approver) / ``zhao`` (receiver
  of H01) with the passwords in :data:`PASSWORDS`, and ``streamlit run app.py`` on a free port
  bound to 127.0.0.1; waits for ``/_stcore/health``; stopped (the whole process group) at the end.
- ``browser`` (module scope): headless Chromium at ``/usr/bin/chromium`` (skips with a clear
  message when it or Playwright is missing).
- ``page``: a new browser context and page per test (so sessions do not leak between tests).

Helpers drive the app by its catalogue strings, so the same test runs in Chinese and English.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from allocator import i18n

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"
CHROMIUM = os.environ.get("ALLOCATOR_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORDS = {"admin": "admin-pw", "li": "officer-pw", "wang": "approver-pw", "zhao": "receiver-pw"}
#: Milliseconds Playwright waits for the app (a loaded 2-core machine renders the first page slowly).
TIMEOUT_MS = 120_000


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AppServer:
    """A running ``streamlit run app.py``."""

    url: str
    db_url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)


def seed(db_url: str) -> None:
    """Migrate, import the demo scenario and create the test users (as a first start would)."""
    from allocator.store import add_user, open_db, transaction
    from allocator.store.bootstrap import bootstrap

    eng = open_db(db_url)
    bootstrap(eng, DEMO, admin_password=PASSWORDS["admin"])
    with transaction(eng) as s:
        add_user(s, "li", PASSWORDS["li"], ["officer"])
        add_user(s, "wang", PASSWORDS["wang"], ["approver"])
        add_user(s, "zhao", PASSWORDS["zhao"], ["receiver"], site_id="H01")
    eng.dispose()


def start_app(folder: Path, *, extra_env: dict[str, str] | None = None, timeout_s: float = 120) -> AppServer:
    """Start the app on a free port with a database in ``folder``; wait until it is healthy."""
    db_url = f"sqlite:///{folder / 'app.db'}"
    seed(db_url)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ALLOCATOR_DATABASE_URL": db_url,
           "ALLOCATOR_ADMIN_PASSWORD": PASSWORDS["admin"], "ALLOCATOR_DEMO": str(DEMO),
           **(extra_env or {})}
    log = folder / "streamlit.log"
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    server = AppServer(url=f"http://127.0.0.1:{port}", db_url=db_url, process=proc, log=log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"streamlit did not become healthy in {timeout_s} s:\n{log.read_text(errors='replace')[-3000:]}")


def require_browser() -> None:
    """Skip the calling test unless Playwright and Chromium are installed."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright (python) is not installed: pip install playwright")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium is missing at {CHROMIUM}: apt-get install chromium fonts-noto-cjk")


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    require_browser()
    if not DEMO.is_dir():
        pytest.skip("demo scenario not present")
    server = start_app(tmp_path_factory.mktemp("browser"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1400}, locale="zh-CN")
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    try:
        yield pg
    finally:
        ctx.close()


# --------------------------------------------------------------------------- helpers


def t(key: str, lang: str, **kw: object) -> str:
    return i18n.t(key, lang, **kw)


def wait_idle(page) -> None:
    """Wait until Streamlit has finished the current run and every element has rendered (no skeleton)."""
    page.wait_for_timeout(300)  # let a run that a click starts begin
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.getAttribute('data-test-script-state') !== 'running'
                && document.querySelectorAll('[data-testid="stSkeleton"]').length === 0;
        }""", timeout=TIMEOUT_MS)


def title(page, text: str) -> None:
    """Wait for the page title (``st.title``) ``text``."""
    page.get_by_role("heading", name=text, level=1).first.wait_for(timeout=TIMEOUT_MS)


def set_language(page, lang: str) -> None:
    """Pick ``lang`` in the sidebar's language switch (it is shown in the current language)."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
    box.click()
    page.get_by_role("option", name=i18n.t("lang.name", lang)).click()
    wait_idle(page)


def dismiss_page_not_found(page) -> bool:
    """Close Streamlit's "Page not found" dialog (shown for a URL path the navigation does not have)."""
    dialog = page.get_by_role("dialog")
    try:
        dialog.wait_for(timeout=10_000)
    except Exception:
        return False
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    return True


def login(page, base: str, user: str, lang: str = "zh", path: str = "") -> None:
    """Open the app (at URL ``path``), switch to ``lang``, log in as ``user`` and wait for the sidebar.

    A Streamlit session lives as long as the browser tab's connection: reloading or typing a URL
    starts a new session, which must log in again.
    """
    page.goto(f"{base}/{path}" if path else base)
    title(page, t("app.login.title", "zh"))
    if path:
        dismiss_page_not_found(page)
    if lang != "zh":
        set_language(page, lang)
        title(page, t("app.login.title", lang))
    page.get_by_label(t("app.login.user", lang)).fill(user)
    page.get_by_label(t("app.login.password", lang), exact=True).fill(PASSWORDS[user])
    page.get_by_role("button", name=t("app.login.submit", lang)).click()
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name=t("app.auth.logout", lang)).wait_for()


def goto_page(page, name: str, lang: str) -> None:
    """Open page ``name`` from the sidebar navigation and wait for its title."""
    page.locator('[data-testid="stSidebarNav"]').get_by_text(t(f"app.page.{name}", lang), exact=True).click()
    title(page, t(f"app.page.{name}", lang))
    wait_idle(page)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as ``docs/screenshots/<name>.png``."""
    wait_idle(page)
    page.wait_for_timeout(500)  # the data grids paint their canvas after the run
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
