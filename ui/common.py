"""What every page of the officers' app shares: language, login session, roles, database, scenario.

The contract other pages code against:

- :func:`lang`, :func:`tr` -- the session's language and catalogue strings;
- :func:`current_user`, :func:`require_role` -- the logged-in user, read from
  the database on every run; every officer page starts with
  ``user = require_role(*PAGE_ROLES["<page>"])``;
- :func:`database`, :func:`current_scenario` -- the cached engine and the
  stored scenario, cached by a fingerprint of the data;
- :func:`render_problems`, :func:`render_reason` -- validation problems and
  shortage reasons in the session's language.

No allocation, validation or database logic lives here: it calls the library.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from allocator import i18n
from allocator.store import auth, transaction
from allocator.store import models as m

ROOT = Path(__file__).resolve().parents[1]
#: The demo scenario seeded on first start (``$ALLOCATOR_DEMO`` overrides; empty seeds nothing).
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"
#: Minutes of inactivity after which a session ends (``$ALLOCATOR_SESSION_MINUTES``).
SESSION_MINUTES_ENV = "ALLOCATOR_SESSION_MINUTES"
DEFAULT_SESSION_MINUTES = 30.0
DEFAULT_LANG = "zh"

#: Roles that may open each page (the navigation shows a page only to these roles,
#: and the page itself checks them again on every run).
PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "overview": ("officer", "approver", "admin"),
    "data": ("officer", "admin"),
    "round": ("officer", "approver"),
    "transport": ("officer", "approver"),
    "deliveries": ("officer", "receiver"),
    "donations": ("officer",),
    "history": ("officer", "approver", "admin"),
    "admin": ("admin",),
}
#: Pages in navigation order.
PAGE_ORDER = ("overview", "data", "round", "transport", "deliveries", "donations", "history", "admin")
PAGE_ICONS = {
    "login": ":material/login:", "overview": ":material/dashboard:", "data": ":material/table:",
    "round": ":material/calculate:", "transport": ":material/local_shipping:",
    "deliveries": ":material/inventory:", "donations": ":material/volunteer_activism:",
    "history": ":material/history:", "admin": ":material/admin_panel_settings:",
}

#: Signs the session's login so that writing ``st.session_state`` by hand logs nobody in.
_SECRET = (os.environ.get("ALLOCATOR_SESSION_SECRET") or secrets.token_hex(32)).encode()
_AUTH = "_auth"


# --------------------------------------------------------------------------- language


def lang() -> str:
    """The session's language: ``"zh"`` (default) or ``"en"``."""
    value = st.session_state.get("lang", DEFAULT_LANG)
    return value if value in i18n.LANGUAGES else DEFAULT_LANG


def tr(key: str, **params: Any) -> str:
    """Catalogue string ``key`` in the session's language (``allocator.i18n.t``)."""
    return i18n.t(key, lang(), **params)


def _set_lang() -> None:
    st.session_state["lang"] = st.session_state["lang_select"]


def language_switch() -> None:
    """The language selector in the sidebar; the choice stays for the session."""
    langs = list(i18n.LANGUAGES)
    st.sidebar.selectbox(
        tr("app.lang.label"), langs, index=langs.index(lang()), key="lang_select",
        format_func=lambda code: i18n.t("lang.name", code), on_change=_set_lang,
    )


def name_of(row: Mapping[str, Any], id_col: str) -> str:
    """A facility's or item's display name: ``name_zh`` in Chinese when the scenario has it."""
    zh = str(row.get("name_zh") or "").strip()
    if lang() == "zh" and zh and zh.lower() != "nan":
        return zh
    name = str(row.get("name") or "").strip()
    return name if name and name.lower() != "nan" else str(row.get(id_col, ""))


# --------------------------------------------------------------------------- database


def database_url() -> str:
    from allocator.store import database_url as url

    return url()


@st.cache_resource(show_spinner=False)
def _engine(url: str, demo: str) -> Engine:
    from allocator.store import open_db
    from allocator.store.bootstrap import ADMIN_NAME, bootstrap

    engine = open_db(url)
    done = bootstrap(engine, demo or None)
    if done.generated_password:
        # printed once, on the console of the process that created the database
        print(f"supply-allocator: created user {ADMIN_NAME!r} with password {done.generated_password}",
              file=sys.stderr, flush=True)
    return engine


def database() -> Engine:
    """The app's engine (migrated and seeded on first use; one per process)."""
    demo = os.environ.get("ALLOCATOR_DEMO", str(DEMO))
    return _engine(database_url(), demo)


@contextmanager
def session() -> Iterator[Session]:
    """One transaction on the app's database (commits at the end, rolls back on error)."""
    with transaction(database()) as s:
        yield s


@st.cache_resource(show_spinner=False, max_entries=4)
def _scenario(url: str, fingerprint: str) -> Any:
    from allocator.store import current_scenario as stored

    with session() as s:
        return stored(s)


@st.cache_resource(show_spinner=False, max_entries=2)
def _stored(url: str, fingerprint: str) -> Any:
    from allocator.store import export_scenario

    with session() as s:
        return export_scenario(s)


def stored_scenario() -> Any:
    """The stored scenario with every lot's count on hand (what the Data page edits and downloads); read-only."""
    return _stored(database_url(), data_fingerprint())


def data_fingerprint() -> str:
    """A fingerprint of the stored data: changes whenever an import, round or delivery changes it."""
    from allocator.overview import data_fingerprint as fp

    with session() as s:
        return fp(s)


def current_scenario() -> Any:
    """The stored scenario (stock still available), cached until the data changes. Treat it as read-only."""
    return _scenario(database_url(), data_fingerprint())


@st.cache_resource(show_spinner=False, max_entries=2)
def _overview(url: str, fingerprint: str) -> Any:
    from allocator.overview import overview

    return overview(_scenario(url, fingerprint))


def current_overview() -> Any:
    """:func:`allocator.overview.overview` of the current scenario, cached until the data changes."""
    return _overview(database_url(), data_fingerprint())


def display_names(table: str) -> dict[str, str]:
    """``id -> display name`` of the current scenario's ``items``, ``sites`` or ``depots`` (Chinese when given)."""
    sc = current_scenario()
    id_col = {"items": "item_id", "sites": "site_id", "depots": "depot_id"}[table]
    df = sc.table(table)
    return {str(r[id_col]): name_of(r, id_col) for r in df.to_dict("records")}


# --------------------------------------------------------------------------- users and sessions


@dataclass(frozen=True)
class AppUser:
    """The logged-in user as the database has them now."""

    name: str
    roles: tuple[str, ...]
    site_id: str | None = None

    def has(self, *roles: str) -> bool:
        return bool(set(self.roles) & set(roles))


def session_minutes() -> float:
    """Minutes of inactivity after which a session ends."""
    try:
        return float(os.environ.get(SESSION_MINUTES_ENV, DEFAULT_SESSION_MINUTES))
    except ValueError:
        return DEFAULT_SESSION_MINUTES


def _signature(name: str, since: float) -> str:
    return hmac.new(_SECRET, f"{name}\0{since!r}".encode(), hashlib.sha256).hexdigest()


def sign_in(name: str, *, now: float | None = None) -> None:
    """Start the session of user ``name`` (after :func:`allocator.store.auth.login` said ok)."""
    now = time.time() if now is None else now
    st.session_state[_AUTH] = {"user": name, "since": now, "last_seen": now, "sig": _signature(name, now)}


def client_id() -> str:
    """The client's address as Streamlit sees it (failed logins are counted per client).

    Streamlit gives no address for a browser on the same machine (``localhost``) and none
    without a browser session (``unknown``, as in AppTest).
    """
    from streamlit import runtime

    try:
        ip = st.context.ip_address
    except Exception:  # no browser session (tests, bare mode)
        return "unknown"
    if isinstance(ip, str) and ip:
        return ip
    return "localhost" if runtime.exists() else "unknown"


def sign_out(outcome: str = "logout") -> None:
    """End the session and log why (``logout`` or ``expired``)."""
    data = st.session_state.pop(_AUTH, None)
    if isinstance(data, dict) and data.get("user"):
        with session() as s:
            auth.record_event(s, str(data["user"]), outcome, client=client_id())


def current_user() -> AppUser | None:
    """The logged-in user, re-read from the database (roles, active flag) on every call; None when nobody is.

    A session signed with another secret (written by hand), idle longer than
    :func:`session_minutes`, or whose user is gone or disabled, is ended.
    """
    data = st.session_state.get(_AUTH)
    if not isinstance(data, dict):
        return None
    name, since = data.get("user"), data.get("since")
    sig = data.get("sig")
    if not isinstance(name, str) or not isinstance(since, float) or not isinstance(sig, str) \
            or not hmac.compare_digest(sig, _signature(name, since)):
        st.session_state.pop(_AUTH, None)
        return None
    now = time.time()
    last = data.get("last_seen", since)
    if not isinstance(last, float) or now - last > session_minutes() * 60:
        sign_out("expired")
        st.session_state["_expired"] = True
        return None
    with session() as s:
        user = s.scalar(select(m.User).where(m.User.name == name))
        if user is None or not user.active:
            roles: tuple[str, ...] = ()
        else:
            roles = tuple(sorted(s.scalars(select(m.UserRole.role).where(m.UserRole.user_id == user.id))))
        site = None if user is None else user.site_id
    if user is None or not user.active:
        st.session_state.pop(_AUTH, None)
        return None
    data["last_seen"] = now
    return AppUser(name=name, roles=roles, site_id=site)


def require_role(*roles: str) -> AppUser:
    """Stop the page unless the logged-in user holds one of ``roles``; the user otherwise.

    Call it first on every officer page, e.g. ``user = require_role(*PAGE_ROLES["admin"])``.
    """
    user = current_user()
    if user is None:
        st.warning(tr("app.auth.login_required"))
        st.stop()
    assert user is not None
    if roles and not user.has(*roles):
        st.error(tr("app.auth.forbidden", roles=" / ".join(tr(f"app.role.{r}") for r in roles)))
        st.stop()
    return user


# --------------------------------------------------------------------------- navigation


def _page(name: str, default: bool = False) -> Any:
    return st.Page(f"ui/pages/{name}.py", title=tr(f"app.page.{name}"), icon=PAGE_ICONS.get(name),
                   url_path=name, default=default)


def allowed_pages(user: AppUser | None) -> list[str]:
    """Names of the pages ``user`` may open, in navigation order (only ``login`` for nobody)."""
    if user is None:
        return ["login"]
    return [p for p in PAGE_ORDER if user.has(*PAGE_ROLES[p])]


def pages() -> list[Any]:
    """The ``st.Page`` list of the navigation: only pages the user's roles allow."""
    database()  # the first run of the process migrates, seeds and prints the admin's password
    names = allowed_pages(current_user())
    if not names:  # a user with no role at all
        names = ["login"]
    return [_page(n, default=(i == 0)) for i, n in enumerate(names)]


def sidebar() -> None:
    """The language switch, the user's name and roles, and the logout button."""
    language_switch()
    user = current_user()
    if user is not None:
        st.sidebar.caption(tr("app.auth.signed_in_as", user=user.name,
                              roles=", ".join(tr(f"app.role.{r}") for r in user.roles) or "-"))
        if st.sidebar.button(tr("app.auth.logout"), key="logout"):
            sign_out("logout")
            st.rerun()


# --------------------------------------------------------------------------- problems and reasons


def _problem_key(code: str) -> str | None:
    for key in (code, f"problem.{code}", f"problems.{code}"):
        if i18n.has(key, lang()):
            return key
    return None


def problem_message(problem: Any) -> str:
    """One validation problem's message in the session's language (by code when it has one)."""
    code = getattr(problem, "code", None)
    if code:
        key = _problem_key(str(code))
        if key is not None:
            params = dict(getattr(problem, "params", None) or {})
            params.setdefault("file", problem.file)
            params.setdefault("row", problem.row)
            params.setdefault("column", problem.column)
            params.setdefault("value", problem.value)
            return i18n.t(key, lang(), **params)
    return str(problem.message)


def problems_frame(report: Any) -> pd.DataFrame:
    """The report's problems as a table with headers and messages in the session's language."""
    rows = []
    for p in report.problems:
        rows.append({
            tr("app.problem.severity"): tr(f"app.problem.{p.severity}"),
            tr("app.problem.file"): p.file,
            tr("app.problem.row"): "" if p.row is None else str(p.row),
            tr("app.problem.column"): p.column or "",
            tr("app.problem.message"): problem_message(p),
            tr("app.problem.value"): "" if p.value is None else str(p.value),
        })
    cols = [tr(f"app.problem.{c}") for c in ("severity", "file", "row", "column", "message", "value")]
    return pd.DataFrame(rows, columns=cols)


def render_problem_rows(checked: Any, *, key: str = "rows") -> None:
    """Beside the problem list: each table's rows that have problems, with their problems next to them."""
    from allocator.upload import problem_rows

    if checked.raw is None:
        return
    for table in checked.raw.tables:
        rows, by_row = problem_rows(checked, table)
        if not len(rows):
            continue
        msgs = [" · ".join(problem_message(checked.report.problems[i]) for i in by_row[int(r)])
                for r in rows["row"]]
        shown = rows.copy()
        shown.insert(1, tr("app.problem.message"), msgs)
        shown = shown.rename(columns={"row": tr("app.problem.row")})
        st.markdown(f"**{checked.raw.labels.get(table, table)}**")
        st.dataframe(shown, hide_index=True, width="stretch", key=f"{key}_{table}")


def render_problems(report: Any, *, key: str = "problems") -> pd.DataFrame:
    """Show every problem of a validation report at once (errors first); returns the table shown."""
    errors, warnings = len(report.errors), len(report.warnings)
    if errors:
        st.error(tr("app.problem.summary_errors", errors=errors, warnings=warnings))
    elif warnings:
        st.warning(tr("app.problem.summary_warnings", warnings=warnings))
    else:
        st.success(tr("app.problem.none"))
    frame = problems_frame(report)
    if len(frame):
        st.dataframe(frame, hide_index=True, width="stretch", key=key)
    return frame


def reason_text(code: str, **params: Any) -> str:
    """A shortage reason in plain words (``reason.<code>`` or ``reasons.<code>`` in the catalogue)."""
    for key in (code, f"reason.{code}", f"reasons.{code}"):
        if i18n.has(key, lang()):
            return i18n.t(key, lang(), **params)
    return tr("app.reason.unknown", code=code)


def render_reason(code: str, **params: Any) -> None:
    """Write one shortage reason in the session's language."""
    st.markdown(reason_text(code, **params))


def frame_labels(df: pd.DataFrame, prefix: str = "app.col") -> pd.DataFrame:
    """``df`` with its column names translated (``app.col.<name>``; unknown names kept)."""
    return df.rename(columns={c: tr(f"{prefix}.{c}") if i18n.has(f"{prefix}.{c}", lang()) else c
                              for c in df.columns})
