"""Readable round summaries: names beside ids, reasons in sentences, correct counts, traffic control,
codes with parameters rendered in English and Chinese."""

from __future__ import annotations

import json
import re

import pytest

from allocator import allocate, examples
from allocator.allocate.explain import SHORT_LISTED, render
from allocator.cli import main
from allocator.i18n import catalogue, t
from allocator.scenario import load, save
from tests.conftest import DEMO


@pytest.fixture(scope="module")
def demo_round():
    if not DEMO.is_dir():
        pytest.skip("demo scenario not present")
    return load(DEMO), allocate(load(DEMO))


def test_every_summary_code_is_in_the_catalogue(demo_round):
    _, r = demo_round
    for lang in ("en", "zh"):
        cat = catalogue(lang)
        for m in r.messages:
            assert m["code"] in cat, m["code"]
            if "reason" in m["params"]:
                assert f"reason.{m['params']['reason']}" in cat


def test_names_beside_ids_and_reasons_explained(demo_round):
    sc, r = demo_round
    text = r.text
    short = r.fill[r.fill.shortage > 0].sort_values(["tier", "shortage"], ascending=[True, False])
    first = short.iloc[0]
    site_name = sc.sites.set_index("site_id").at[first.site_id, "name"]
    item_name = sc.items.set_index("item_id").at[first.item_id, "name"]
    assert f"{site_name} ({first.site_id}, tier {first.tier})" in text
    assert f"{item_name} ({first.item_id})" in text
    for code in set(short.reason):  # each reason that occurs is explained in a sentence
        assert f"  - {code}: {t('reason.' + code, 'en')}." in text


def test_more_counts_only_the_needs_not_listed(demo_round):
    _, r = demo_round
    short = r.fill[r.fill.shortage > 0].sort_values(["tier", "shortage"], ascending=[True, False])
    assert len(short) > SHORT_LISTED
    m = re.search(r"\.\.\. and (\d+) more \((.*)\)\.", r.text)
    assert m, r.text
    more = int(m.group(1))
    counts = dict((k, int(v)) for k, v in (p.split(": ") for p in m.group(2).split(", ")))
    assert more == len(short) - SHORT_LISTED
    assert sum(counts.values()) == more
    assert counts == short.iloc[SHORT_LISTED:].reason.value_counts().to_dict()


def test_traffic_control_in_force_is_listed(demo_round):
    sc, r = demo_round
    tc = sc.traffic_control
    on = (tc.start.isna() | (tc.start <= sc.at)) & (tc.end.isna() | (sc.at < tc.end))
    assert 0 < on.sum() < len(tc)  # the demo has a rule that is not in force yet
    assert f"Traffic control in force: {int(on.sum())} rule(s)." in r.text
    for rid, live in zip(tc.rule_id, on):
        assert (f"  - {rid}: " in r.text) == bool(live)
    # a checkpoint line counts the round's routes that pass it
    routes = r.routes
    n = sum("TC08" in set(c) for c in routes.checkpoints)
    assert f"{n} of this round's routes pass it" in [ln for ln in r.text.splitlines() if "TC08" in ln][0]


def test_chinese_summary_uses_chinese_names(demo_round):
    sc, r = demo_round
    zh = r.render("zh")
    assert "缺口：" in zh and "现行交通管制" in zh
    assert sc.sites.set_index("site_id").at["H04", "name_zh"] in zh
    assert "Short:" not in zh
    assert r.render("en") == r.text


def test_render_of_json_messages_is_the_same(demo_round, tmp_path):
    _, r = demo_round
    out = r.write(tmp_path / "o")
    s = json.loads((out / "summary.json").read_text())
    assert render(s["messages"], "en") == (out / "summary.txt").read_text().rstrip("\n")


def test_round_lang_zh(tmp_path, capsys):
    src = save(examples.grades_and_earmarks(), tmp_path / "sc")
    assert main(["round", str(src), "--out", str(tmp_path / "o"), "--lang", "zh"]) == 0
    txt = (tmp_path / "o" / "summary.txt").read_text()
    assert txt.startswith("调配轮次") and "定向捐赠" in txt
    assert "调配轮次" in capsys.readouterr().out


def test_locks_and_exclusions_named():
    r = allocate(examples.grades_and_earmarks(), locks=[("D1", "H2", "n95", 10)], exclude=["Q1"])
    assert "Excluded from this round: Q1 (Q1)." in r.text
    assert "  - 10 N95 respirator (n95) from D1 (D1) to H2 (H2)." in r.text


def test_every_progress_phase_has_a_name_in_both_languages():
    """The app shows allocate()'s progress phases by catalogue key (app.round.phase.<phase>)."""
    from allocator import allocate, examples, i18n

    phases: list[str] = []
    allocate(examples.road_grid(), progress=lambda phase, frac: phases.append(phase))
    assert {"validate", "tiers", "fairness", "transport", "solve", "extract", "explain"} <= set(phases)
    for lang in i18n.LANGUAGES:
        for phase in set(phases):
            assert i18n.has(f"app.round.phase.{phase}", lang), (lang, phase)
