"""Benchmark of the scenario readers: the strict reader against the former pandas reader.

Run: ``python bench/read.py`` (``--quick`` for a smaller scenario). Generates a
synthetic scenario, writes it as CSV files, and prints side by side, best of
three: the time to read every file with :func:`allocator.scenario.read_raw`
(UTF-8 checked, line numbers kept, formulas unescaped: pandas' C parser for
files without quotes, else the csv module), with
the former ``pandas.read_csv(dtype=str)`` reader, their ratio, and the time of
a whole :func:`allocator.validate.validate`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from allocator import schema, synth
from allocator.scenario import read_raw, save
from allocator.validate import validate

SIZES = {
    "quick": dict(sites=300, depots=10, items=15, lots=1500, road_nodes=2000),
    "brief": dict(sites=2000, depots=40, items=20, lots=10000, road_nodes=30000),
}


def _pandas_reader(folder: Path) -> dict[str, pd.DataFrame]:
    """The reader the product used before (pandas renamed repeated columns and raised on bad files)."""
    out = {}
    for name in schema.tables():
        f = folder / f"{name}.csv"
        if f.is_file():
            out[name] = pd.read_csv(f, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    return out


def _best(f, n: int = 3) -> float:  # noqa: ANN001
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    size = SIZES["quick" if args.quick else "brief"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-read-"))
    try:
        folder = save(synth.generate(**size, seed=1), tmp / "sc")
        rows = sum(len(df) for df in read_raw(folder).tables.values())
        mb = sum(f.stat().st_size for f in folder.glob("*.csv")) / 1e6
        t_new = _best(lambda: read_raw(folder))
        t_old = _best(lambda: _pandas_reader(folder))
        t_val = _best(lambda: validate(folder), n=1)
        print(f"scenario: {size} -> {rows} rows, {mb:.1f} MB of CSV")
        print(f"{'read_raw':<28}{'pandas.read_csv':>18}{'ratio':>8}{'validate (all)':>18}")
        print(f"{t_new:<28.3f}{t_old:>18.3f}{t_new / t_old:>8.2f}{t_val:>18.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
