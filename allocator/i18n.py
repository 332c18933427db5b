"""The message catalogue: every string a person reads, in Chinese and English, as data.

The library never formats user-facing text in one language only: it reports
problems, shortage reasons and summaries as a *code* with *parameters*, and the
command line, the app and the public page render them with :func:`t` in the
reader's language.

The catalogue lives in ``allocator/locale/<lang>/*.toml``: one folder per
language, one file per domain (``problems.toml``, ``reasons.toml``,
``app.toml``, ...). Tables nest, and a key is the dotted path
(``[reason] supply = "..."`` is ``reason.supply``). Values are
:meth:`str.format` templates whose fields are the code's parameters. Every key
must exist in every language (``tests/test_i18n.py`` fails otherwise), and a
key defined twice in one language is an error.

Examples
--------
>>> t("lang.name", "zh")
'中文'
>>> t("lang.name", "en")
'English'
>>> sorted(LANGUAGES)
['en', 'zh']
"""

from __future__ import annotations

import functools
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LANGUAGES: tuple[str, ...] = ("zh", "en")
"""The languages of the product; Chinese first, as most officers read it."""

DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).with_name("locale")

__all__ = ["LANGUAGES", "DEFAULT_LANGUAGE", "catalogue", "t", "has", "missing_keys", "CatalogueError"]


class CatalogueError(Exception):
    """The catalogue files are inconsistent (a key defined twice, a bad file)."""


def _flatten(table: Mapping[str, Any], prefix: str, out: dict[str, str], source: Path) -> None:
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, f"{full}.", out, source)
        elif isinstance(value, str):
            if full in out:
                raise CatalogueError(f"{source.name}: key {full!r} is defined twice")
            out[full] = value
        else:
            raise CatalogueError(f"{source}: key {full!r} is not a string")


@functools.cache
def catalogue(lang: str) -> Mapping[str, str]:
    """Every message of one language, keyed by its dotted code.

    Parameters
    ----------
    lang : {"zh", "en"}

    Returns
    -------
    Mapping of str to str
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    out: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / lang).glob("*.toml")):
        with path.open("rb") as fh:
            try:
                _flatten(tomllib.load(fh), "", out, path)
            except tomllib.TOMLDecodeError as exc:
                raise CatalogueError(f"{path}: {exc}") from exc
    return out


def has(key: str, lang: str = DEFAULT_LANGUAGE) -> bool:
    """Whether ``key`` is in the catalogue of ``lang``."""
    return key in catalogue(lang)


def t(key: str, lang: str = DEFAULT_LANGUAGE, /, **params: Any) -> str:
    """Render message ``key`` in ``lang`` with its parameters.

    A missing key renders as the key itself (so a page never crashes on a new
    code), and the catalogue test makes sure none is missing.

    Parameters
    ----------
    key : str
        Dotted code, e.g. ``"reason.supply"``.
    lang : {"zh", "en"}
    **params
        The code's parameters, used as :meth:`str.format` fields.
    """
    template = catalogue(lang).get(key)
    if template is None:
        return key
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


def fields(template: str) -> set[str]:
    """The parameter names a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def missing_keys() -> dict[str, set[str]]:
    """Keys some language has and another lacks, per language that lacks them."""
    keys = {lang: set(catalogue(lang)) for lang in LANGUAGES}
    union = set().union(*keys.values())
    return {lang: union - have for lang, have in keys.items() if union - have}
