"""The officers' app with Streamlit's AppTest: login and throttling, roles on every route, both languages,
the Data page's upload and edits, the Users page, History and Overview.

One SQLite database per module, seeded with the demo scenario by the app itself on its first run.
AppTest cannot edit ``st.data_editor`` cells: the Data page keeps the editor's changes in
``st.session_state["pending_edits"]`` (the editor's own delta format), which these tests write.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from allocator import i18n
from allocator.store import add_user, auth, make_engine, transaction, users
from allocator.store import models as m

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"
PASSWORDS = {"admin": "admin-pw", "li": "officer-pw", "wang": "approver-pw", "zhao": "receiver-pw"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not DEMO.is_dir():
        pytest.skip("demo scenario not present")
    url = f"sqlite:///{tmp_path_factory.mktemp('app') / 'app.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("ALLOCATOR_DATABASE_URL", url)
    mp.setenv("ALLOCATOR_ADMIN_PASSWORD", PASSWORDS["admin"])
    mp.setenv("ALLOCATOR_DEMO", str(DEMO))
    mp.delenv("ALLOCATOR_SESSION_MINUTES", raising=False)
    at = AppTest.from_file(APP, default_timeout=180).run()  # first run: migrate, seed, create admin
    assert not at.exception
    eng = make_engine(url)
    with transaction(eng) as s:
        add_user(s, "li", PASSWORDS["li"], ["officer"])
        add_user(s, "wang", PASSWORDS["wang"], ["approver"])
        add_user(s, "zhao", PASSWORDS["zhao"], ["receiver"], site_id="H01")
    eng.dispose()
    yield url
    mp.undo()


def engine(url: str):
    return make_engine(url)


def signed(name: str, *, idle_s: float = 0.0) -> dict:
    """A session as the login page leaves it (signed with the app's secret)."""
    from ui import common

    since = time.time() - idle_s
    return {"user": name, "since": since, "last_seen": since, "sig": common._signature(name, since)}


def app(user: str | None = None, *, lang: str = "zh", page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    if user is not None:
        at.session_state["_auth"] = signed(user)
    at.session_state["lang"] = lang
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    if page is not None:
        at.switch_page(f"ui/pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def t(key: str, lang: str = "zh", **kw) -> str:
    return i18n.t(key, lang, **kw)


def texts(at: AppTest) -> list[str]:
    """Every string the page shows that comes from the app (not the data): headings, messages, labels."""
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [str(e.label) for e in at.metric]
    for kind in ("button", "text_input", "selectbox", "multiselect", "number_input", "checkbox", "toggle"):
        out += [str(w.label) for w in getattr(at, kind)]
    out += [str(tb.label) for tb in at.tabs]
    # table headers, except the contract's own column names (the Data page shows and edits the
    # files as they are written: their headers are identifiers of the format, like file names)
    from allocator import schema

    contract = {c for spec in schema.tables().values() for c in spec.column_names} | {"row"}
    for df in at.dataframe:
        out += [str(c) for c in df.value.columns if str(c) not in contract]
    return [x for x in out if x.strip()]


def frame(at: AppTest, *columns: str):
    """The first table shown whose headers include ``columns``."""
    for df in at.dataframe:
        if set(columns) <= {str(c) for c in df.value.columns}:
            return df.value
    raise AssertionError(f"no table with columns {columns}")


def problem_table(at: AppTest, lang: str = "en"):
    return frame(at, t("app.problem.severity", lang), t("app.problem.file", lang))


# --------------------------------------------------------------------------- login


def _login(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="login_user").input(name)
    at.text_input(key="login_password").input(password)
    [submit] = [b for b in at.button if b.key and b.key.startswith("FormSubmitter:login_form")]
    return submit.click().run()


def test_an_anonymous_visitor_sees_only_the_login_page(db) -> None:
    at = app()
    assert titles(at) == [t("app.login.title")]
    assert not [b for b in at.button if b.key == "logout"]


def test_login_opens_the_officer_pages_and_logout_ends_the_session(db) -> None:
    at = _login(app(), "li", PASSWORDS["li"])
    assert titles(at) == [t("app.page.overview")]
    assert at.button(key="logout")
    at.button(key="logout").click().run()
    assert titles(at) == [t("app.login.title")]
    with transaction(engine(db)) as s:
        outcomes = [e.outcome for e in s.scalars(select(m.LoginEvent).where(m.LoginEvent.user_name == "li"))]
    assert outcomes[-2:] == ["ok", "logout"]


def test_failed_logins_are_refused_then_throttled(db) -> None:
    with transaction(engine(db)) as s:
        add_user(s, "guessed", "the-real-pw", ["officer"])
    at = app()
    for _ in range(auth.USER_FREE_FAILURES):
        at = _login(at, "guessed", "wrong")
        assert [e.value for e in at.error] == [t("app.login.bad_credentials")]
    at = _login(at, "guessed", "wrong")  # this failure locks the name
    at = _login(at, "guessed", "the-real-pw")  # so even the right password is refused now
    [err] = [e.value for e in at.error]
    assert re.fullmatch(t("app.login.throttled", seconds=r"\d+"), err), err
    assert titles(at) == [t("app.login.title")]


def test_an_idle_session_expires(db) -> None:
    from ui.common import DEFAULT_SESSION_MINUTES

    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["_auth"] = signed("li", idle_s=DEFAULT_SESSION_MINUTES * 60 + 5)
    at.run()
    assert titles(at) == [t("app.login.title")]
    assert [e.value for e in at.info] == [t("app.login.expired")]
    with transaction(engine(db)) as s:
        last = s.scalars(select(m.LoginEvent).where(m.LoginEvent.user_name == "li").order_by(m.LoginEvent.id.desc())).first()
    assert last.outcome == "expired"


# --------------------------------------------------------------------------- roles on every route


def test_navigation_shows_only_the_pages_of_the_users_roles(db) -> None:
    from ui.common import PAGE_ROLES, allowed_pages

    at = app("li")
    assert titles(at) == [t("app.page.overview")]
    for name, want in (("li", "officer"), ("wang", "approver"), ("zhao", "receiver"), ("admin", "admin")):
        from ui.common import AppUser

        pages = allowed_pages(AppUser(name, (want,)))
        assert pages == [p for p, roles in PAGE_ROLES.items() if want in roles]
    assert "admin" not in allowed_pages(AppUser("li", ("officer",)))
    assert allowed_pages(None) == ["login"]


@pytest.mark.parametrize("who", [None, "li", "zhao"])
def test_admin_page_is_unreachable_without_the_admin_role(db, who) -> None:
    # the navigation does not register the page, so st.switch_page, a page link or the URL path
    # (the browser test tries /admin) cannot select it
    at = app(who)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("ui/pages/admin.py")
    assert t("app.page.admin") not in titles(at)
    # query parameters select nothing
    at = AppTest.from_file(APP, default_timeout=180)
    if who:
        at.session_state["_auth"] = signed(who)
    at.query_params["page"] = "admin"
    at.run()
    assert t("app.page.admin") not in titles(at)
    # the page's own script, run directly, stops before showing anything
    direct = AppTest.from_file(str(ROOT / "ui" / "pages" / "admin.py"), default_timeout=180)
    if who:
        direct.session_state["_auth"] = signed(who)
    direct.run()
    assert not direct.exception
    assert titles(direct) == []
    shown = [e.value for e in (direct.error if who else direct.warning)]
    assert shown == [t("app.auth.forbidden", roles=t("app.role.admin")) if who else t("app.auth.login_required")]


def test_session_state_tampering_gives_no_access(db) -> None:
    forged = signed("admin")
    forged["sig"] = "0" * 64  # written by hand: not signed with the app's secret
    for state in ({"_auth": forged},
                  {"_auth": {**signed("li"), "user": "admin"}},  # a valid session's name changed
                  {"_auth": signed("li"), "roles": ["admin"], "user": "admin"}):  # stray keys mean nothing
        at = AppTest.from_file(str(ROOT / "ui" / "pages" / "admin.py"), default_timeout=180)
        for k, v in state.items():
            at.session_state[k] = v
        at.run()
        assert titles(at) == [], state


def test_roles_are_read_from_the_database_on_every_run(db) -> None:
    with transaction(engine(db)) as s:
        add_user(s, "demoted", "pw-demoted", ["admin"])
    direct = AppTest.from_file(str(ROOT / "ui" / "pages" / "admin.py"), default_timeout=180)
    direct.session_state["_auth"] = signed("demoted")
    direct.run()
    assert titles(direct) == [t("app.page.admin")]
    with transaction(engine(db)) as s:
        users.set_roles(s, "demoted", ["officer"])
    direct.run()  # same session, next run
    assert titles(direct) == []
    assert [e.value for e in direct.error] == [t("app.auth.forbidden", roles=t("app.role.admin"))]
    with transaction(engine(db)) as s:
        users.set_active(s, "demoted", False)
    at = app("demoted")
    assert titles(at) == [t("app.login.title")]


# --------------------------------------------------------------------------- languages


def _english_values() -> list[str]:
    en, zh = i18n.catalogue("en"), i18n.catalogue("zh")
    out = []
    for k, v in en.items():
        if not k.startswith("app.") or v == zh.get(k):
            continue
        literal = v.split("{")[0].strip()
        if len(literal) >= 4 and re.search("[A-Za-z]{3}", literal):
            out.append(literal)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("user,page", [(None, None), ("admin", "overview"), ("admin", "data"),
                                       ("admin", "history"), ("admin", "admin"), ("li", "round")])
def test_the_language_switch_changes_every_visible_string(db, user, page) -> None:
    zh = texts(app(user, lang="zh", page=page))
    en = texts(app(user, lang="en", page=page))
    english = _english_values()
    leftover = [s for s in zh if any(s.startswith(e) for e in english)]
    assert not leftover, leftover
    cjk = re.compile(r"[\u4e00-\u9fff]")
    assert [s for s in en if cjk.search(s) and s != "中文"] == []
    same = set(zh) & set(en) - {"中文", "English"}
    assert not [s for s in same if re.search("[A-Za-z]{3}|[\u4e00-\u9fff]", s)], same


def test_the_switch_in_the_sidebar_changes_the_language_and_keeps_it(db) -> None:
    at = app("li", lang="zh")
    assert titles(at) == [t("app.page.overview", "zh")]
    at.selectbox(key="lang_select").set_value("en").run()
    assert titles(at) == [t("app.page.overview", "en")]
    at.run()  # stays for the session
    assert titles(at) == [t("app.page.overview", "en")]
    assert at.session_state["lang"] == "en"


# --------------------------------------------------------------------------- data page


def _demo_files() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in DEMO.iterdir() if p.suffix in (".csv", ".toml")}


def _edit(files: dict[str, str], name: str, row: int, col: str, value: str) -> None:
    rows = list(csv.reader(io.StringIO(files[name])))
    rows[row - 1][rows[0].index(col)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    files[name] = out.getvalue()


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, text in files.items():
            z.writestr(f"day/{n}", text)
    return buf.getvalue()


def _fingerprint(url: str) -> str:
    from allocator.overview import data_fingerprint

    with transaction(engine(url)) as s:
        return data_fingerprint(s)


def _needs(url: str) -> dict[tuple[str, str], int]:
    with transaction(engine(url)) as s:
        return {(n.site_id, n.item_id): n.quantity for n in s.scalars(select(m.Need))}


PLANTED = [("needs.csv", 2, "quantity", "-5"), ("needs.csv", 4, "site_id", "NOPE"),
           ("sites.csv", 3, "lat", "abc"), ("stock.csv", 2, "status", "lost")]


@pytest.mark.slow
def test_an_upload_with_planted_errors_shows_every_one_and_stores_nothing(db) -> None:
    files = _demo_files()
    for name, row, col, value in PLANTED:
        _edit(files, name, row, col, value)
    before, needs_before = _fingerprint(db), _needs(db)
    at = app("li", lang="en", page="data")
    at.file_uploader(key="upload").set_value(("day.zip", _zip(files), "application/zip")).run()
    assert not at.exception
    problems = problem_table(at)
    n_warn = int((problems[t("app.problem.severity", "en")] == t("app.problem.warning", "en")).sum())
    assert at.error[0].value == t("app.problem.summary_errors", "en", errors=len(PLANTED), warnings=n_warn)
    got = {(f, int(r), c, v) for f, r, c, v in zip(problems[t("app.problem.file", "en")],
                                                   problems[t("app.problem.row", "en")],
                                                   problems[t("app.problem.column", "en")],
                                                   problems[t("app.problem.value", "en")])
           if str(r)}
    for name, row, col, value in PLANTED:
        assert (f"day.zip:{name}", row, col, value) in got
    # each problem also beside its row, in its table
    needs_rows = frame(at, t("app.problem.row", "en"), "quantity", "site_id")
    assert needs_rows[t("app.problem.row", "en")].tolist() == [2, 4]
    assert needs_rows.quantity.tolist()[0] == "-5" and needs_rows.site_id.tolist()[1] == "NOPE"
    assert not [b for b in at.button if b.key == "store_upload"]
    assert _fingerprint(db) == before and _needs(db) == needs_before


@pytest.mark.slow
def test_a_valid_upload_is_stored_on_request(db) -> None:
    files = _demo_files()
    rows = list(csv.reader(io.StringIO(files["needs.csv"])))
    site, item = rows[1][0], rows[1][1]
    _edit(files, "needs.csv", 2, "quantity", "4321")
    at = app("li", lang="zh", page="data")
    at.file_uploader(key="upload").set_value(("day.zip", _zip(files), "application/zip")).run()
    assert not at.error
    assert _needs(db)[(site, item)] != 4321  # nothing stored before the click
    at.button(key="store_upload").click().run()
    assert not at.exception
    assert _needs(db)[(site, item)] == 4321
    assert [e.value for e in at.success][0] == t("app.data.stored", detail="day.zip")
    with transaction(engine(db)) as s:
        ev = s.scalars(select(m.LoginEvent).where(m.LoginEvent.outcome == "data_imported")).all()
    assert [(e.user_name, e.detail) for e in ev][-1] == ("li", "day.zip")


def test_an_upload_that_is_not_a_scenario_is_one_clear_problem(db) -> None:
    before = _fingerprint(db)
    at = app("li", lang="en", page="data")
    at.file_uploader(key="upload").set_value(("day.xlsx", b"not a workbook", "application/octet-stream")).run()
    problems = problem_table(at)
    assert len(problems) == 1 and problems[t("app.problem.file", "en")].iloc[0] == "day.xlsx"
    assert _fingerprint(db) == before


@pytest.mark.slow
def test_edits_in_place_are_checked_and_stored_only_when_valid(db) -> None:
    before = _fingerprint(db)
    first = next(iter(_needs_in_order(db)))
    bad = {"needs": {"edited_rows": {0: {"quantity": "-1"}}, "added_rows": [], "deleted_rows": []}}
    at = app("li", lang="en", page="data", pending_edits=bad)
    problems = problem_table(at)
    assert (problems[t("app.problem.row", "en")] == "2").any()
    assert not [b for b in at.button if b.key == "save_edits"]
    assert _fingerprint(db) == before
    good = {"needs": {"edited_rows": {0: {"quantity": "777"}}, "added_rows": [], "deleted_rows": []}}
    at = app("li", lang="en", page="data", pending_edits=good)
    at.button(key="save_edits").click().run()
    assert not at.exception
    assert _needs(db)[first] == 777
    assert _fingerprint(db) != before


def _needs_in_order(url: str) -> list[tuple[str, str]]:
    with transaction(engine(url)) as s:
        return [(n.site_id, n.item_id) for n in s.scalars(select(m.Need).order_by(m.Need.position, m.Need.id))]


# --------------------------------------------------------------------------- users, history, overview


def test_the_admin_adds_a_user_resets_a_password_and_sets_roles(db) -> None:
    at = app("admin", lang="en", page="admin")
    at.text_input(key="add_name").input("chen")
    at.text_input(key="add_password").input("chen-pw")
    at.multiselect(key="add_roles").set_value(["approver"])
    [add] = [b for b in at.button if b.key and b.key.startswith("FormSubmitter:add_user")]
    add.click().run()
    assert not at.exception
    assert [e.value for e in at.success] == [t("app.admin.done_user_added", "en", user="chen")]
    with transaction(engine(db)) as s:
        assert users.user_roles(s, "chen") == ["approver"]
        assert auth.login(s, "chen", "chen-pw", client="t").ok
    at.selectbox(key="edit_user").set_value("chen").run()
    at.multiselect(key="edit_roles").set_value(["approver", "officer"])
    [save] = [b for b in at.button if b.key and b.key.startswith("FormSubmitter:set_roles")]
    save.click().run()
    at.text_input(key="reset_password_value").input("chen-new")
    [reset] = [b for b in at.button if b.key and b.key.startswith("FormSubmitter:reset_password")]
    reset.click().run()
    with transaction(engine(db)) as s:
        assert users.user_roles(s, "chen") == ["approver", "officer"]
        assert auth.login(s, "chen", "chen-new", client="t2").ok
        actions = [(e.user_name, e.outcome) for e in s.scalars(select(m.LoginEvent)) if e.detail.startswith("chen")]
    assert actions == [("admin", "user_added"), ("admin", "roles_set"), ("admin", "password_reset")]


def test_history_lists_rounds_and_every_action(db) -> None:
    at = app("admin", lang="en", page="history")
    assert titles(at) == [t("app.page.history", "en")]
    actions = frame(at, t("app.col.action", "en"))
    assert t("app.action.ok", "en") in set(actions[t("app.col.action", "en")])
    at.selectbox(key="history_source").set_value("ledger").run()
    shown = frame(at, t("app.col.action", "en"))
    assert len(shown) and set(shown[t("app.col.source", "en")]) == {t("app.source.ledger", "en")}


def test_overview_shows_the_libraries_figures(db) -> None:
    from allocator.overview import overview
    from allocator.store import current_scenario

    at = app("li", lang="en", page="overview")
    with transaction(engine(db)) as s:
        ov = overview(current_scenario(s))
    metrics = {e.label: e.value for e in at.metric}
    assert metrics[t("app.overview.available_units", "en")] == f"{int(ov.stock.available.sum()):,}"
    assert metrics[t("app.overview.alerts", "en")] == str(len(ov.alerts))
    assert len(frame(at, t("app.col.alert", "en"))) == len(ov.alerts)
    assert len(frame(at, t("app.col.projected_shortage", "en"))) == len(ov.tiers)


def test_placeholder_pages_check_roles_too(db) -> None:
    at = app("zhao", lang="en")  # a receiver: only Deliveries
    assert titles(at) == [t("app.page.deliveries", "en")]
    direct = AppTest.from_file(str(ROOT / "ui" / "pages" / "round.py"), default_timeout=180)
    direct.session_state["_auth"] = signed("zhao")
    direct.run()
    assert titles(direct) == []


def test_the_library_never_imports_streamlit() -> None:
    import subprocess
    import sys

    code = ("import sys, allocator, allocator.overview, allocator.history, allocator.upload, "
            "allocator.store.auth, allocator.store.bootstrap, allocator.store.users; "
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
