"""The two forms of a scenario's tables: as read (every cell text) and as checked (typed).

:class:`RawScenario` is what the readers of :mod:`allocator.scenario` give;
:func:`allocator.parse.parse` turns it into a :class:`Scenario`. Both live here,
below the reader, the parser and the validator, so that none of them imports
another to name them. Import them from :mod:`allocator.scenario` as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from allocator import schema
from allocator.errors import UnknownKeyError
from allocator.report import Problem


@dataclass
class RawScenario:
    """A scenario as read from disk: every cell is text, nothing is checked yet.

    Attributes
    ----------
    tables : dict of str to DataFrame
        One frame per table found, every cell a string ("" when empty).
    labels : dict of str to str
        How problems name each table's file (``stock.csv`` or ``book.xlsx[stock]``).
    meta : dict
        The contents of ``scenario.toml`` (or the workbook's ``scenario`` sheet).
    meta_error : str or None
        Why ``scenario.toml`` could not be parsed, if it could not.
    source : str
        The path it was read from.
    problems : list of Problem
        What the readers could not read (an encoding, a quote, a ragged row, a
        corrupt workbook), each with its file and line; :func:`allocator.parse.parse`
        puts them first in its report.
    unreadable : set of str
        Tables whose file exists but could not be read at all (not reported again as missing).
    meta_label : str
        How problems name the metadata (``scenario.toml`` or ``book.xlsx[scenario]``).
    meta_line : int or None
        The line of ``scenario.toml`` that ``meta_error`` is about, when known.

    Row numbers: each table's index is the 1-based line (or sheet row) of its
    record minus 2, so ``index + 2`` is the line a problem names even when a
    quoted field spans lines or blank lines are skipped.
    """

    tables: dict[str, pd.DataFrame]
    labels: dict[str, str]
    meta: dict[str, Any] = field(default_factory=dict)
    meta_error: str | None = None
    source: str = ""
    problems: list[Problem] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    meta_label: str = "scenario.toml"
    meta_line: int | None = None


@dataclass
class Scenario:
    """The tables of one round, typed and with defaults applied.

    Build one with :func:`allocator.scenario.load` (from files),
    :func:`allocator.scenario.from_tables` (from DataFrames, as notebooks and examples do) or :func:`allocator.synth.generate`.

    Attributes
    ----------
    tables : dict of str to DataFrame
        The tables that were given, by name (``items``, ``sites``, ...).
    name, description : str
        From ``scenario.toml``.
    as_of : Timestamp or None
        When the round happens; ``None`` means now.
    meta : dict
        Any other key of ``scenario.toml``, kept for the round trip.
    warnings : list of str
        Warnings found when the scenario was checked.

    Examples
    --------
    >>> from allocator import examples
    >>> sc = examples.two_hospitals()
    >>> sorted(sc.sites.site_id)
    ['H1', 'H2']
    """

    tables: dict[str, pd.DataFrame]
    name: str = "scenario"
    description: str = ""
    as_of: pd.Timestamp | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def has(self, table: str) -> bool:
        """Whether the scenario gives ``table`` (an absent optional file is not given)."""
        return table in self.tables

    def table(self, name: str) -> pd.DataFrame:
        """The table ``name``, or an empty frame with its typed columns when absent."""
        if name in self.tables:
            return self.tables[name]
        if name not in schema.tables():
            raise UnknownKeyError(f"unknown table {name!r}; the tables are {', '.join(schema.tables())}")
        spec = schema.tables()[name]
        return pd.DataFrame(
            {c.name: pd.Series([], dtype=_dtype(c)) for c in spec.columns}
        )

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name in schema.tables():
            return self.table(name)
        raise AttributeError(name)

    @property
    def at(self) -> pd.Timestamp:
        """``as_of``, or now (to the second) when not given."""
        return self.as_of if self.as_of is not None else pd.Timestamp.now().floor("s")

    def replace(self, **tables: pd.DataFrame | None) -> Scenario:
        """A copy with some tables replaced (``None`` removes one); other fields kept.

        The new tables are not checked: pass the result through
        :func:`allocator.validate.validate` or :func:`allocator.scenario.from_tables` when they come
        from outside.
        """
        new = dict(self.tables)
        for k, v in tables.items():
            if k not in schema.tables():
                raise UnknownKeyError(f"unknown table {k!r}")
            if v is None:
                new.pop(k, None)
            else:
                new[k] = v
        return replace(self, tables=new, warnings=list(self.warnings))

    def summary(self) -> dict[str, int]:
        """Row counts of the given tables."""
        return {k: len(v) for k, v in self.tables.items()}


def _dtype(c: schema.ColumnSpec) -> Any:
    if c.type in ("int",):
        return "int64" if (c.required or c.literal_default is not None or c.default) else "Int64"
    if c.type == "float":
        return "float64"
    if c.type == "bool":
        return "bool"
    if c.type in ("date", "datetime"):
        return "datetime64[ns]"
    if c.type in ("list", "enum_list"):
        return "object"
    return str
