"""Problems found in a scenario, and the report that collects them.

A :class:`Problem` is one thing wrong with one cell, row, column or file. It
prints in the contract's format ``FILE:ROW: COLUMN: what is wrong (got VALUE)``
(ROW the 1-based line in the file, the header being line 1), and it carries a
stable :attr:`~Problem.code` with its :attr:`~Problem.params`, so the app can
render it in Chinese or English: the templates are the ``problem.<code>`` keys
of ``allocator/locale/<lang>/problems.toml``, and :data:`PROBLEM_CODES` lists
every code the readers and the validator can emit (a test checks that each has
a template in both languages with the same parameters).

This module depends on nothing but the catalogue, so the scenario readers, the
validator and the errors can all use it without an import circle.

Examples
--------
>>> r = Report()
>>> r.problem("stock.csv", 3, "quantity", "not_whole", "1.5")
>>> print(r)
stock.csv:3: quantity: not a whole number (got 1.5)
>>> p = r.problems[0]
>>> p.code, p.key
('not_whole', 'problem.not_whole')
>>> p.render("zh")
'stock.csv:3: quantity: 不是整数（含小数部分） (原值 1.5)'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from allocator import i18n

__all__ = ["Problem", "Report", "PROBLEM_CODES", "problem_message"]

#: Every code a reader or a check can give a problem (the catalogue has ``problem.<code>`` for each).
PROBLEM_CODES: frozenset[str] = frozenset({
    # reading files
    "file_missing", "file_empty", "file_unreadable", "not_utf8", "not_utf8_gbk", "utf16",
    "unclosed_quote", "csv_error", "ragged_row", "unnamed_column", "xlsx_unreadable",
    "toml_unparsable", "requires_file",
    # columns and cells
    "column_missing", "column_duplicate", "value_required", "not_bool", "not_integer",
    "not_whole", "int_range", "not_number", "not_finite", "not_date", "not_datetime",
    "wkt_invalid", "wkt_not_polygon", "polygon_invalid", "polygon_degrees",
    "duplicate_key", "out_of_bounds", "not_in_choices", "check_failed",
    # between tables
    "id_is_site", "refers_absent", "unknown_ref", "needs_absent", "duplicate_pair",
    "self_substitute", "self_loop", "edge_pair", "zone_needs_area", "zone_no_permits",
    "rule_needs_road", "rule_unknown_road", "rule_unknown_edge", "unknown_road_name", "area_ignored", "end_before_start",
    "available_to_order", "lot_expired", "lot_held", "need_unstocked", "far_from_road",
    # free text from callers that do not give a code (rendered as is)
    "text",
})


def problem_message(code: str, lang: str = i18n.DEFAULT_LANGUAGE, **params: Any) -> str:
    """The text of problem ``code`` in ``lang`` (without file, row, column and value)."""
    return i18n.t(f"problem.{code}", lang, **params)


@functools.cache
def _code_of_text() -> dict[str, str]:
    """English texts of the parameterless codes, so free-text callers still get a code."""
    cat = i18n.catalogue("en")
    out = {}
    for code in PROBLEM_CODES:
        tmpl = cat.get(f"problem.{code}")
        if tmpl is not None and not i18n.fields(tmpl):
            out[tmpl] = code
    return out


@dataclass(frozen=True)
class Problem:
    """One problem found in a scenario.

    Attributes
    ----------
    file : str
        How the file is named (``stock.csv``, ``book.xlsx[stock]``).
    row : int or None
        The 1-based line (the header is line 1); None for a whole file.
    column : str or None
    message : str
        The English text (``problem_message(code, "en", **params)``).
    value : str or None
        The cell's original text, quoted as ``(got VALUE)``.
    severity : {"error", "warning"}
    code : str
        Stable code; the catalogue key is ``problem.<code>`` (:attr:`key`).
    params : dict
        The code's parameters.
    """

    file: str
    row: int | None
    column: str | None
    message: str
    value: str | None = None
    severity: str = "error"
    code: str = "text"
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """The catalogue key of the problem's text."""
        return f"problem.{self.code}"

    def _where(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        col = f" {self.column}:" if self.column else ""
        return f"{where}:{col}"

    def __str__(self) -> str:
        sev = " warning:" if self.severity == "warning" else ""
        got = ""
        if self.value is not None:
            got = f" (got {self.value if self.value != '' else 'empty'})"
        return f"{self._where()}{sev} {self.message}{got}"

    def render(self, lang: str = i18n.DEFAULT_LANGUAGE) -> str:
        """The problem in ``lang``, in the contract's layout."""
        if lang == "en":
            return str(self)
        sev = f" {i18n.t('problem._warning', lang)}" if self.severity == "warning" else ""
        msg = self.message if self.code == "text" else problem_message(self.code, lang, **self.params)
        got = ""
        if self.value is not None:
            shown = self.value if self.value != "" else i18n.t("problem._empty", lang)
            got = " " + i18n.t("problem._got", lang, value=shown)
        return f"{self._where()}{sev} {msg}{got}"


@dataclass
class Report:
    """Every problem found in a scenario, errors and warnings."""

    problems: list[Problem] = field(default_factory=list)
    #: The text tables the problems were found in (table name to frame), so checks on
    #: typed values can quote the cell's original text (see :meth:`text`).
    texts: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    #: Tables whose file exists but could not be read (already reported: checks say nothing more).
    unreadable: set[str] = field(default_factory=set, repr=False, compare=False)

    def text(self, table: str, index: Any, column: str, fallback: Any) -> Any:
        """The original text of a cell when it is known, else ``fallback``."""
        df = self.texts.get(table)
        if df is not None and column in df.columns and index in df.index:
            return df.at[index, column]
        return fallback

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def problem(
        self,
        file: str,
        row: int | None,
        column: str | None,
        code: str,
        value: Any = None,
        /,
        *,
        severity: str = "error",
        **params: Any,
    ) -> None:
        """Add the problem ``code`` (one of :data:`PROBLEM_CODES`) with its parameters."""
        if code not in PROBLEM_CODES:  # a programming error, caught by the tests
            raise AssertionError(f"unknown problem code {code!r}")
        v = None if value is None else str(value)
        msg = problem_message(code, "en", **params)
        self.problems.append(Problem(file, row, column, msg, v, severity, code, dict(params)))

    def warning(self, file: str, row: int | None, column: str | None, code: str, value: Any = None, /,
                **params: Any) -> None:
        """Add a warning with code ``code``."""
        self.problem(file, row, column, code, value, severity="warning", **params)

    def add(
        self,
        file: str,
        row: int | None,
        column: str | None,
        message: str,
        value: Any = None,
        severity: str = "error",
    ) -> None:
        """Add a problem given as English text (callers without a code; prefer :meth:`problem`).

        A text that is the template of a parameterless code gets that code;
        any other text gets the code ``text``.
        """
        v = None if value is None else str(value)
        code = _code_of_text().get(message, "text")
        params = {} if code != "text" else {"text": message}
        self.problems.append(Problem(file, row, column, message, v, severity, code, params))

    def warn(self, file: str, row: int | None, column: str | None, message: str, value: Any = None) -> None:
        """Add a warning given as English text (see :meth:`add`)."""
        self.add(file, row, column, message, value, severity="warning")

    def extend(self, problems: list[Problem]) -> None:
        """Add problems found elsewhere (for example by a reader)."""
        self.problems.extend(problems)

    def to_frame(self) -> pd.DataFrame:
        """The problems as a DataFrame (severity, file, row, column, message, value, code)."""
        cols = ["severity", "file", "row", "column", "message", "value", "code"]
        return pd.DataFrame(
            [{c: getattr(p, c) for c in cols} for p in self.problems],
            columns=cols,
        )

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)
