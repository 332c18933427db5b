"""The public page in the app (AppTest): no login, only published snapshots, anonymity kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from allocator import i18n, ledger
from allocator.store import approve_round, create_round, current_scenario, transaction
from tests.test_public import HIDDEN_DONOR, _alloc, published_day

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "ui" / "pages" / "public.py")


@pytest.fixture
def snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    eng, pub = published_day(tmp_path)
    monkeypatch.setenv("ALLOCATOR_PUBLIC_DIR", str(tmp_path))
    monkeypatch.setenv("ALLOCATOR_CHANNELS", str(ROOT / "data" / "channels.toml"))
    return eng, pub


def _page(lang: str = "en", **state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["lang"] = lang
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def _text(at: AppTest) -> str:
    parts = []
    for kind in ("title", "subheader", "caption", "text", "markdown", "success", "error", "info", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    return "\n".join(parts)


def _frame_with(at: AppTest, column: str):
    """The first table on the page that has ``column`` (AppTest keeps no key on dataframes)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_the_router_shows_the_public_page_without_login(snapshot) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["lang"] = "en"
    at.run()
    at.switch_page("ui/pages/public.py").run()
    assert not at.exception
    assert at.title[0].value == i18n.t("public.title", "en")
    assert at.success[0].value == i18n.t("public.verified", "en")


def test_a_donations_trail_matches_the_ledger(snapshot) -> None:
    _, pub = snapshot
    at = _page("en")
    at.text_input(key="public_query").input("DON_A").run()
    assert at.radio(key="public_pick").value == "DON_A"
    table = _frame_with(at, i18n.t("public.col.hash", "en"))
    lines = [json.loads(x) for x in (pub / "ledger.jsonl").read_text(encoding="utf-8").splitlines()]
    mine = [e for e in lines if e.get("donation_id") == "DON_A"]
    assert len(table) == len(mine)
    assert table[i18n.t("public.col.hash", "en")].tolist() == [e["hash"][:16] for e in mine]
    qty = table[i18n.t("public.col.quantity", "en")].tolist()
    assert [int(str(q).replace(",", "")) for q, e in zip(qty, mine) if e["event"] in ("allocated", "delivered")] == [
        e["quantity"] for e in mine if e["event"] in ("allocated", "delivered")]


def test_an_anonymous_donor_is_anonymous_everywhere(snapshot) -> None:
    at = _page("en")
    at.text_input(key="public_query").input("Example Textiles").run()
    assert at.info[0].value == i18n.t("public.no_match", "en", query="Example Textiles")
    at.text_input(key="public_query").input("DON_B").run()
    page = _text(at)
    assert HIDDEN_DONOR not in page and i18n.t("public.anonymous", "en") in page


def test_events_after_the_snapshot_are_not_shown(snapshot) -> None:
    eng, pub = snapshot
    head = json.loads((pub / "manifest.json").read_text())["head_seq"]
    with transaction(eng) as s:
        rid = create_round(s, current_scenario(s), _alloc(("LA1", "EXPO", "HOTEL7", "mask", 100)), None,
                           {"status": "optimal"}, "wang").id
        approve_round(s, rid, "li")
        assert len(ledger.entries(s)) > head
    at = _page("en")
    assert at.metric[0].value == f"{head:,}"
    assert "HOTEL7" not in _text(at)


def test_the_language_switch_changes_the_page(snapshot) -> None:
    zh, en = _page("zh"), _page("en")
    assert zh.title[0].value == i18n.t("public.title", "zh") != en.title[0].value
    en_words = {i18n.t(k, "en") for k in ("public.search", "public.totals", "public.give", "public.downloads")}
    assert not en_words & {e.value for e in zh.subheader}


def test_no_snapshot_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOCATOR_PUBLIC_DIR", str(tmp_path / "none"))
    at = _page("zh")
    assert at.info[0].value == i18n.t("public.no_snapshot", "zh")
