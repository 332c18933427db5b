"""The message catalogue: every key in both languages, with the same parameters."""

from __future__ import annotations

from allocator import i18n


def test_every_key_exists_in_every_language():
    assert i18n.missing_keys() == {}


def test_templates_use_the_same_parameters_in_every_language():
    zh, en = i18n.catalogue("zh"), i18n.catalogue("en")
    differ = {k: (i18n.fields(zh[k]), i18n.fields(en[k])) for k in en if k in zh and i18n.fields(zh[k]) != i18n.fields(en[k])}
    assert differ == {}


def test_render_with_parameters_and_unknown_key():
    assert i18n.t("lang.name", "zh") == "中文"
    assert i18n.t("no.such.key", "en") == "no.such.key"
