"""The scenario schema as data.

The tables of a scenario, their columns, types, defaults and bounds are listed in
``files.csv`` and ``columns.csv`` beside this module. Validation,
loading and the documentation (``docs/scenario-format.md``) all read them from
there, so they cannot drift apart.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from allocator.errors import InvalidArgumentError, UnknownKeyError

#: Column types understood by the loader.
TYPES = ("id", "str", "int", "float", "bool", "date", "datetime", "enum", "list", "enum_list", "wkt")


@dataclass(frozen=True)
class Bounds:
    """A numeric interval such as ``[0,)`` or ``(0,)`` or ``[-90,90]``."""

    low: float | None = None
    low_open: bool = False
    high: float | None = None

    @classmethod
    def parse(cls, text: str) -> Bounds | None:
        if not text:
            return None
        low_open = text[0] == "("
        low_s, high_s = text[1:-1].split(",")
        return cls(
            low=float(low_s) if low_s else None,
            low_open=low_open,
            high=float(high_s) if high_s else None,
        )

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"<= {self.high:g}")
        return " and ".join(parts)


@dataclass(frozen=True)
class ColumnSpec:
    """One column of one scenario table."""

    table: str
    name: str
    type: str
    required: bool
    default: str
    bounds: Bounds | None
    choices: tuple[str, ...]
    references: str
    description: str

    @property
    def literal_default(self) -> str | None:
        """The default as text, or None when it is computed (``(by kind)``) or absent."""
        if not self.default or self.default.startswith("("):
            return None
        return self.default


@dataclass(frozen=True)
class TableSpec:
    """One scenario table (one CSV file or one workbook sheet)."""

    name: str
    required: bool
    key: str
    description: str
    columns: tuple[ColumnSpec, ...]

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise UnknownKeyError(f"{self.name} has no column {name!r}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("allocator.schema").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def tables() -> dict[str, TableSpec]:
    """All table specifications, in the documented order.

    Examples
    --------
    >>> from allocator import schema
    >>> schema.tables()["stock"].column("quantity").type
    'int'
    """
    cols: dict[str, list[ColumnSpec]] = {}
    for r in _read("columns.csv"):
        if r["type"] not in TYPES:
            raise InvalidArgumentError(f"schema: unknown type {r['type']!r} for {r['table']}.{r['column']}")
        cols.setdefault(r["table"], []).append(
            ColumnSpec(
                table=r["table"],
                name=r["column"],
                type=r["type"],
                required=r["required"] == "true",
                default=r["default"],
                bounds=Bounds.parse(r["bounds"]),
                choices=tuple(x for x in r["choices"].split(";") if x),
                references=r["references"],
                description=r["description"],
            )
        )
    return {
        r["table"]: TableSpec(
            name=r["table"],
            required=r["required"] == "true",
            key=r["key"],
            description=r["description"],
            columns=tuple(cols[r["table"]]),
        )
        for r in _read("files.csv")
    }


SITE_KINDS: tuple[str, ...] = ()
ITEM_CATEGORIES: tuple[str, ...] = ()


def _init_constants() -> None:
    global SITE_KINDS, ITEM_CATEGORIES
    SITE_KINDS = tables()["sites"].column("kind").choices
    ITEM_CATEGORIES = tables()["items"].column("category").choices


_init_constants()

#: Default tier of each site kind (scenario-format.md).
DEFAULT_TIER: dict[str, int] = {
    "designated_hospital": 1,
    "backup_hospital": 2,
    "shelter_hospital": 2,
    "fever_clinic": 2,
    "quarantine_site": 3,
    "elderly_care": 3,
    "community": 4,
    "staff_support": 4,
    "other": 4,
}

#: Site kinds that are clinical by default.
CLINICAL_KINDS: frozenset[str] = frozenset(
    {"designated_hospital", "backup_hospital", "shelter_hospital", "fever_clinic"}
)


def markdown() -> str:
    """Render the schema as the Markdown tables of ``docs/scenario-format.md``."""
    out = []
    for t in tables().values():
        req = "required" if t.required else "optional"
        out.append(f"### {t.filename} ({req})\n\n{t.description}\n")
        out.append("| column | type | required | default | bounds / choices | references | meaning |")
        out.append("|---|---|---|---|---|---|---|")
        for c in t.columns:
            rng = c.bounds.describe() if c.bounds else ", ".join(c.choices)
            out.append(
                f"| {c.name} | {c.type} | {'yes' if c.required else ''} | {c.default} | "
                f"{rng} | {c.references} | {c.description} |"
            )
        out.append("")
    return "\n".join(out)


BEGIN, END = "<!-- schema:begin (generated from allocator/schema/*.csv) -->", "<!-- schema:end -->"


def render_docs(text: str) -> str:
    """Return ``text`` with the part between the schema markers replaced by :func:`markdown`."""
    head, sep, rest = text.partition(BEGIN)
    if not sep:
        raise InvalidArgumentError("the document has no schema:begin marker")
    _, sep2, tail = rest.partition(END)
    if not sep2:
        raise InvalidArgumentError("the document has no schema:end marker")
    return f"{head}{BEGIN}\n\n{markdown()}\n{END}{tail}"
