"""Scenario: the tables of one allocation round, read from and written to files.

A scenario is a folder of CSV files or one ``.xlsx`` workbook (see
``docs/scenario-format.md``). :func:`load` reads one, checks every problem at
once and returns a :class:`Scenario` whose tables carry the documented dtypes
with defaults applied; :func:`save` writes it back losslessly.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from allocator import schema
from allocator.errors import ScenarioError, ScenarioFormatError
from allocator.fsutil import atomic_folder

TOML_NAME = "scenario.toml"


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
    """

    tables: dict[str, pd.DataFrame]
    labels: dict[str, str]
    meta: dict[str, Any] = field(default_factory=dict)
    meta_error: str | None = None
    source: str = ""


@dataclass
class Scenario:
    """The tables of one round, typed and with defaults applied.

    Build one with :func:`load` (from files), :func:`from_tables` (from
    DataFrames, as notebooks and examples do) or :func:`allocator.synth.generate`.

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
        :func:`allocator.validate.validate` or :func:`from_tables` when they come
        from outside.
        """
        new = dict(self.tables)
        for k, v in tables.items():
            if k not in schema.tables():
                raise KeyError(f"unknown table {k!r}")
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


# --------------------------------------------------------------------------- reading


def read_raw(path: str | Path) -> RawScenario:
    """Read a folder of CSV files or an ``.xlsx`` workbook without checking anything.

    Raises
    ------
    ScenarioFormatError
        When the path is neither a folder nor an ``.xlsx`` file.
    """
    p = Path(path)
    if p.is_dir():
        return _read_folder(p)
    if p.suffix.lower() == ".xlsx" and p.is_file():
        return _read_workbook(p)
    if not p.exists():
        raise ScenarioFormatError(f"{p}: no such folder or file")
    raise ScenarioFormatError(f"{p}: a scenario is a folder of CSV files or one .xlsx workbook")


def _read_csv(path: Path) -> pd.DataFrame:
    df = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        encoding="utf-8-sig",
        skipinitialspace=False,
    )
    return df.rename(columns=lambda c: str(c).strip())


def _read_folder(p: Path) -> RawScenario:
    tables, labels = {}, {}
    for name in schema.tables():
        f = p / f"{name}.csv"
        if f.is_file():
            tables[name] = _read_csv(f)
            labels[name] = f.name
    meta, err = {}, None
    toml = p / TOML_NAME
    if toml.is_file():
        try:
            meta = tomllib.loads(toml.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            err = str(exc)
    for name in schema.tables():
        labels.setdefault(name, f"{name}.csv")
    return RawScenario(tables=tables, labels=labels, meta=meta, meta_error=err, source=str(p))


def _read_workbook(p: Path) -> RawScenario:
    from allocator.workbook import strip_names

    sheets = pd.read_excel(p, sheet_name=None, dtype=str, keep_default_na=False, na_filter=False)
    tables, labels = {}, {}
    for name in schema.tables():
        labels[name] = f"{p.name}[{name}]"
        if name in sheets:
            df = sheets[name].rename(columns=lambda c: str(c).strip())
            tables[name] = strip_names(name, df.map(lambda x: "" if x is None else str(x)))
    meta: dict[str, Any] = {}
    if "scenario" in sheets:
        sh = sheets["scenario"]
        if {"key", "value"} <= set(sh.columns):
            meta = {str(k): str(v) for k, v in zip(sh["key"], sh["value"]) if str(k)}
    return RawScenario(tables=tables, labels=labels, meta=meta, source=str(p))


def load(path: str | Path, *, as_of: str | pd.Timestamp | None = None) -> Scenario:
    """Load and check a scenario.

    Parameters
    ----------
    path : str or Path
        A folder of CSV files or an ``.xlsx`` workbook.
    as_of : str or Timestamp, optional
        Overrides ``as_of`` of ``scenario.toml``.

    Returns
    -------
    Scenario
        With warnings in ``Scenario.warnings``.

    Raises
    ------
    ScenarioError
        When any error is found; its ``report`` lists every problem.
    ScenarioFormatError
        When the path cannot be read as a scenario at all.

    Examples
    --------
    >>> sc = load("data/scenarios/wuhan-2020-02-10")  # doctest: +SKIP
    """
    from allocator.validate import parse

    raw = read_raw(path)
    if as_of is not None:
        raw.meta = {**raw.meta, "as_of": str(as_of)}
    scenario, report = parse(raw)
    if report.errors:
        raise ScenarioError(report)
    return scenario


def from_tables(
    tables: Mapping[str, pd.DataFrame],
    *,
    name: str = "scenario",
    description: str = "",
    as_of: str | pd.Timestamp | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Scenario:
    """Build a checked scenario from DataFrames (any dtypes; missing optional columns allowed).

    Raises
    ------
    ScenarioError
        When the tables break the contract.
    """
    from allocator.validate import parse

    raw = to_raw(tables, name=name, description=description, as_of=as_of, meta=meta)
    scenario, report = parse(raw)
    if report.errors:
        raise ScenarioError(report)
    return scenario


# --------------------------------------------------------------------------- writing


def _fmt(value: Any, ctype: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list):
        return ";".join(str(v) for v in value)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if ctype in ("date", "datetime") or isinstance(value, pd.Timestamp):
        ts = pd.Timestamp(value)
        if ctype == "date" and ts == ts.normalize():
            return ts.strftime("%Y-%m-%d")
        return ts.isoformat()
    if isinstance(value, bool) or ctype == "bool":
        return "true" if bool(value) else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _fmt_column(s: pd.Series, ctype: str) -> list[str]:
    """Format a whole column as text; fast paths for the common typed columns."""
    if isinstance(s.dtype, pd.StringDtype) and s.notna().all():
        return s.astype(str).tolist()
    if pd.api.types.is_integer_dtype(s.dtype) and s.dtype != bool and s.notna().all():
        return s.astype("int64").astype(str).tolist()
    if pd.api.types.is_datetime64_any_dtype(s.dtype) and ctype in ("date", "datetime"):
        return [_fmt(v, ctype) for v in s.tolist()] if len(s) < 1000 else _fmt_dates(s, ctype)
    return [_fmt(v, ctype) for v in s.tolist()]


def _fmt_dates(s: pd.Series, ctype: str) -> list[str]:
    full = s.dt.strftime("%Y-%m-%dT%H:%M:%S")
    if ctype == "date":
        day = s.dt.strftime("%Y-%m-%d")
        full = full.where(s != s.dt.normalize(), day)
    micro = s.notna() & (s.dt.microsecond != 0)
    if micro.any():
        full = full.where(~micro, s.map(lambda t: _fmt(t, ctype)))
    return full.fillna("").tolist()


def to_raw(
    tables: Mapping[str, pd.DataFrame],
    *,
    name: str = "scenario",
    description: str = "",
    as_of: str | pd.Timestamp | None = None,
    meta: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
) -> RawScenario:
    """Format typed tables as text, exactly as :func:`save` writes them."""
    specs = schema.tables()
    out = {}
    for tname, df in tables.items():
        spec = specs[tname]
        cols = {}
        for col in df.columns:
            ctype = spec.column(col).type if col in spec.column_names else "str"
            cols[str(col)] = _fmt_column(df[col], ctype)
        out[tname] = pd.DataFrame(cols, dtype=object).astype(str) if cols else pd.DataFrame()
        if not cols:
            out[tname] = pd.DataFrame(index=range(len(df)))
    m: dict[str, Any] = dict(meta or {})
    m["name"] = name
    if description:
        m["description"] = description
    if as_of is not None:
        m["as_of"] = _fmt(pd.Timestamp(as_of), "datetime")
    lab = {t: f"{t}.csv" for t in specs}
    lab.update(labels or {})
    return RawScenario(tables=out, labels=lab, meta=m, source="<tables>")


def _raw_of(scenario: Scenario) -> RawScenario:
    return to_raw(
        scenario.tables,
        name=scenario.name,
        description=scenario.description,
        as_of=scenario.as_of,
        meta=scenario.meta,
    )


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    s = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{s}"'


def _toml(meta: Mapping[str, Any]) -> str:
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in meta.items() if not isinstance(v, dict))


def save(scenario: Scenario, path: str | Path) -> Path:
    """Write a scenario as a folder of CSV files, or as a workbook when ``path`` ends in ``.xlsx``.

    The write is atomic: files are written beside the target and moved into
    place, so a failure leaves no half-written scenario.

    Examples
    --------
    >>> from allocator import examples
    >>> import tempfile, pathlib
    >>> out = save(examples.two_hospitals(), pathlib.Path(tempfile.mkdtemp()) / "s")
    >>> bool(load(out).needs.quantity.sum() == examples.two_hospitals().needs.quantity.sum())
    True
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() == ".xlsx":
        from allocator.workbook import write_scenario

        return write_scenario(scenario, p)
    raw = _raw_of(scenario)
    with atomic_folder(p) as tmpdir:
        for tname, df in raw.tables.items():
            df.to_csv(tmpdir / f"{tname}.csv", index=False, encoding="utf-8", lineterminator="\n")
        (tmpdir / TOML_NAME).write_text(_toml(raw.meta), encoding="utf-8")
    return p
