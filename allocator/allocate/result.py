"""The result of a round and its files (the contract's round outputs)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.cells import escape_frame

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


def _umask() -> int:
    """The process's umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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

    def write(self, out_dir: str | Path) -> Path:
        """Write the round's files into ``out_dir`` atomically (all of them or none).

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
            from allocator.workbook import write_round

            return write_round(self, out)
        out.parent.mkdir(parents=True, exist_ok=True)
        from allocator.fsutil import umask

        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        os.chmod(tmp, 0o777 & ~umask())  # not 0700: readable by the user's group as umask allows
        try:
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700: readable by the user's group, as mkdir would
            for fname, attr in FILES.items():
                escape_frame(_csv_frame(getattr(self, attr))).to_csv(tmp / fname, index=False, lineterminator="\n")
            (tmp / "summary.json").write_text(
                json.dumps(_jsonable(self.summary), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            (tmp / "summary.txt").write_text(self.text + "\n", encoding="utf-8")
            if out.exists():
                if not out.is_dir():
                    raise NotADirectoryError(f"{out} exists and is not a folder")
                # keep files that are not ours; replace ours one by one
                for f in tmp.iterdir():
                    os.replace(f, out / f.name)
            else:
                os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out
