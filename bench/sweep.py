"""Benchmark of a what-if sweep: the same variants serially and on a local Dask cluster (not a test).

Run from the repository root::

    python bench/sweep.py                 # 200 variants of the Wuhan demo scenario
    python bench/sweep.py --variants 40   # a quicker look
    python bench/sweep.py --workers 4     # another cluster size (default: every core)

Prints both wall-clock times side by side, the speed-up, the speed-up per core
(speed-up / workers: 1.0 would be perfect scaling), the CPU time per variant in
each mode (equal CPU times with a poor speed-up mean the cores were busy with
other work) and whether the two tables are identical (they must be: only the
timing columns may differ).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # workers too

from allocator import sweep  # noqa: E402
from allocator.network import travel_times  # noqa: E402
from allocator.scenario import load  # noqa: E402

DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"


def axes() -> dict:
    """The what-ifs of notebooks/05-sweep-at-scale.ipynb."""
    return {
        "supply": [sweep.ScaleSupply(f) for f in (0.6, 0.8, 1.0, 1.2, 1.5)],
        "bridge": [None, sweep.CloseRoad("Wuhan Yangtze River Second Bridge"),
                   sweep.CloseRoad("Wuhan Yangtze River Bridge"), sweep.LiftRule("TC01")],
        "demand": [None, sweep.ScaleDemand(2.0, district="Wuchang"), sweep.ScaleDemand(1.5, kind="fever_clinic")],
        "donation": [None, sweep.DelayDonation("DN29", 3), sweep.CancelDonation("DN03")],
        "test_kits": [None, sweep.ExpireEarlier(7, item_id="pcr_test_kit"),
                      sweep.ExpireEarlier(180, item_id="pcr_test_kit")],
        "tiers": [None, sweep.SetTier(1, kind="backup_hospital")],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", type=int, default=200)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=2020)
    args = ap.parse_args()

    sc = load(DEMO)
    travel = travel_times(sc)
    variants = sweep.sample(axes(), args.variants, seed=args.seed)
    print(f"{args.variants} variants of {sc.name} (seed {args.seed}); {os.cpu_count()} cores on this machine; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")

    t0 = time.perf_counter()
    serial = sweep.run_sweep(sc, variants, client=None, travel=travel)
    t_serial = time.perf_counter() - t0

    t0 = time.perf_counter()
    with sweep.local_client(n_workers=args.workers, dashboard_address=None) as client:
        t_start = time.perf_counter() - t0
        t1 = time.perf_counter()
        spread = sweep.run_sweep(sc, variants, client=client, travel=travel)
        t_run = time.perf_counter() - t1
    t_cluster = time.perf_counter() - t0

    same = sweep.comparable(serial).equals(sweep.comparable(spread))
    speedup = t_serial / t_cluster
    print()
    print(f"{'':24}{'serial':>10}{'cluster':>10}")
    print(f"{'wall clock (s)':24}{t_serial:10.1f}{t_cluster:10.1f}   (cluster: {t_start:.1f} s start-up + {t_run:.1f} s sweep)")
    print(f"{'per variant (s)':24}{t_serial / len(variants):10.2f}{t_cluster / len(variants):10.2f}")
    print(f"{'CPU per variant (s)':24}{serial.cpu_seconds.mean():10.2f}{spread.cpu_seconds.mean():10.2f}"
          "   (the work itself, whatever else the machine runs)")
    print(f"{'failed variants':24}{(serial.error != '').sum():10d}{(spread.error != '').sum():10d}")
    print(f"speed-up {speedup:.2f}x on {args.workers} workers = {speedup / args.workers:.2f} per core "
          f"(without start-up: {t_serial / t_run:.2f}x, {t_serial / t_run / args.workers:.2f} per core)")
    print(f"tables identical (wall-clock columns excluded): {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
