"""The result of a round and its files (the contract's round outputs)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.cells import escape_frame
from allocator.fsutil import atomic_folder

#: File name -> RoundResult attribute, in the order they are written.
FILES = {
    "allocations.csv": "allocations",
    "fill.csv": "fill",
    "routes.csv": "routes",
    "donation_usage.csv": "donation_usage",
}


def _csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and len(out) and isinstance(out[c].iloc[0], tuple | list):
            out[c] = [";".join(map(str, v)) for v in out[c]]
    return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | float):
        return float(x) if np.isfinite(x) else None
    return x


@dataclass(frozen=True)
class RoundResult:
    """What one allocation round decided, as the contract's tables.

    Attributes
    ----------
    allocations : DataFrame
        ``lot_id, depot_id, site_id, item_id, need_item_id, quantity, travel_min``.
    fill : DataFrame
        ``site_id, tier, item_id, need, filled, shortage, fill_ratio, reason``.
    routes : DataFrame
        ``depot_id, site_id, travel_min, distance_km, checkpoints, path`` (lists as tuples).
    donation_usage : DataFrame
        ``donation_id, donor, lot_id, item_id, site_id, quantity``.
    summary : dict
        ``summary.json``: status, objective of each stage, warnings, seconds per phase, counts,
        and ``messages``: the summary as catalogue codes with parameters (see :meth:`render`).
    text : str
        A plain-language account of the round (``summary.txt``) in the language it was run with.
    """

    allocations: pd.DataFrame
    fill: pd.DataFrame
    routes: pd.DataFrame
    donation_usage: pd.DataFrame
    summary: dict[str, Any]
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def status(self) -> str:
        return str(self.summary.get("status", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The summary as ``{"code", "params"}`` messages (``summary.*`` keys of the catalogue)."""
        return list(self.summary.get("messages", []))

    def render(self, lang: str = "en") -> str:
        """The summary in ``lang`` ("en" or "zh"), from :attr:`messages`.

        Examples
        --------
        >>> from allocator import allocate, examples
        >>> allocate(examples.two_hospitals(supply=2000)).render("zh").splitlines()[2]
        '所有需求均已满足。'
        """
        from allocator.allocate.explain import render

        return render(self.messages, lang)

    def _write_workbook(self, path: Path) -> Path:
        """The round's outputs as one workbook: a sheet per output table, names beside ids, the summary text."""
        from allocator.workbook import names_of, with_names, write_workbook

        scenario = getattr(self.extra.get("data"), "scenario", None)
        names = names_of(scenario)
        sheets = {fname.removesuffix(".csv"): with_names("", getattr(self, attr), names)
                  for fname, attr in FILES.items()}
        sheets["summary"] = pd.DataFrame({"summary": (self.text or "").splitlines()})
        return write_workbook(path, sheets, tables={k: None for k in sheets})

    def write(self, out_dir: str | Path) -> Path:
        """Write the round's files into ``out_dir`` atomically (all of them or none).

        The new folder replaces ``out_dir`` as a whole (:func:`allocator.fsutil.atomic_folder`),
        also when it exists: a failure or a kill in the middle leaves the old files as they were.
        Files of an existing ``out_dir`` that are not the round's are kept. A path ending in
        ``.xlsx`` is written as one typed workbook instead.

        Examples
        --------
        >>> import tempfile
        >>> from allocator import allocate, examples
        >>> p = allocate(examples.three_tiers()).write(tempfile.mkdtemp() + "/out")
        >>> sorted(f.name for f in p.iterdir())[:2]
        ['allocations.csv', 'donation_usage.csv']
        """
        out = Path(out_dir)
        if out.suffix.lower() == ".xlsx":  # one typed workbook (allocator.workbook)
            return self._write_workbook(out)
        with atomic_folder(out, keep_others=True) as tmp:
            for fname, attr in FILES.items():
                escape_frame(_csv_frame(getattr(self, attr))).to_csv(tmp / fname, index=False, lineterminator="\n")
            (tmp / "summary.json").write_text(
                json.dumps(_jsonable(self.summary), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            (tmp / "summary.txt").write_text(self.text + "\n", encoding="utf-8")
        return out
