"""Spreadsheet-safe text cells: what the product writes never runs as a formula.

A text cell that a spreadsheet would read as a formula starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return (OWASP's CSV-injection list). Every CSV
and XLSX writer of the product passes text through :func:`escape_formula`, which
puts one apostrophe in front of such a cell, and every reader of the product
passes text through :func:`unescape_formula`, which takes it away again, so an
export and its re-import are lossless (``scenario-format.md``, Round outputs).

A cell that already starts with apostrophes before a formula character gets one
more, so text that really begins ``'=`` survives the round trip too.

Only text is escaped: numbers, dates and booleans are written as themselves, so
``-5`` in a quantity column stays the number -5.

Examples
--------
>>> escape_formula("=HYPERLINK(\\"http://x\\")")
'\\'=HYPERLINK("http://x")'
>>> unescape_formula(escape_formula("@SUM(A1)"))
'@SUM(A1)'
>>> escape_formula("Wuhan Red Cross")
'Wuhan Red Cross'
>>> unescape_formula(escape_formula("'=already quoted"))
"'=already quoted"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas only for the frame helpers: the CLI imports this module at start-up
    import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a text cell as a formula."""

__all__ = ["FORMULA_START", "escape_formula", "unescape_formula", "escape_frame", "unescape_frame"]


def _needs_quote(text: str) -> bool:
    return text.lstrip("'").startswith(FORMULA_START)


def escape_formula(value: Any) -> Any:
    """Make a text cell stay text in a spreadsheet; anything else is returned as is."""
    if isinstance(value, str) and _needs_quote(value):
        return "'" + value
    return value


def unescape_formula(value: Any) -> Any:
    """Undo :func:`escape_formula` on a cell read back by the product."""
    if isinstance(value, str) and value.startswith("'") and _needs_quote(value[1:]):
        return value[1:]
    return value


def _text_columns(df: pd.DataFrame) -> list[Any]:
    import pandas as pd

    return [c for c in df.columns if df[c].dtype == object or isinstance(df[c].dtype, pd.StringDtype)]


def escape_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every text cell escaped (column names too)."""
    out = df.copy()
    for c in _text_columns(out):
        out[c] = out[c].map(escape_formula)
    out.columns = [escape_formula(c) for c in out.columns]
    return out


def unescape_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every text cell unescaped (column names too)."""
    out = df.copy()
    for c in _text_columns(out):
        out[c] = out[c].map(unescape_formula)
    out.columns = [unescape_formula(c) for c in out.columns]
    return out
