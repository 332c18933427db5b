"""Benchmark of the officers' app in a real browser on the demo data (figures, no assertions).

Drives the same flow as ``tests/test_browser_flow.py`` (log in, upload the demo
workbook with a changed need, run, lock, re-run, approve, plan and dispatch,
confirm a delivery with a shortfall) and prints:

- seconds from the click on "run" to the stored draft's results (first run and re-run);
- per page, seconds from the click in the sidebar to the page's title (time to first render)
  and to the end of the page's run (every element drawn);
- seconds from "plan the trucks" to the dispatch button.

Usage::

    PYTHONPATH=$PWD python bench/app_flow.py [--lang zh|en] [--repeat 1]

(``bench/app.py``, by the app branch, times the shell's pages cold and warm.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import ops_browser as ob  # noqa: E402

PAGES = ("overview", "data", "round", "transport", "deliveries", "donations", "history")


def one(lang: str) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="allocator-bench-app-"))
    book, _ = ob.changed_workbook(tmp)
    out: dict[str, float] = {}
    with ob.serve(tmp) as base, ob.browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        f = ob.Flow(page, base, lang)
        f.start()
        f.login("li")
        for name in PAGES:  # first render of each page before any round exists
            t0 = time.perf_counter()
            out[f"first render: {name}"] = f.open(name)
            out[f"whole run: {name}"] = time.perf_counter() - t0
        f.upload(book)
        f.open("round")
        out["run -> results (first run)"] = f.run_round(1)
        f.lock(100)
        out["run -> results (re-run with a lock)"] = f.run_round(2)
        f.logout()
        f.login("wang")
        f.approve()
        f.logout()
        f.login("li")
        t0 = time.perf_counter()
        f.dispatch()
        out["plan trucks -> dispatched"] = time.perf_counter() - t0
        f.confirm_with_shortfall(5)
        for name in ("round", "transport", "deliveries", "donations"):  # again, with a dispatched round
            t0 = time.perf_counter()
            out[f"first render after the flow: {name}"] = f.open(name)
            out[f"whole run after the flow: {name}"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", default="zh", choices=["zh", "en"])
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    runs = [one(args.lang) for _ in range(args.repeat)]
    print(f"officers' app on the demo data, language {args.lang}, {args.repeat} run(s); seconds (median)")
    width = max(len(k) for k in runs[0])
    for k in runs[0]:
        vals = [r[k] for r in runs]
        print(f"  {k:<{width}}  {statistics.median(vals):8.2f}" + (f"   (all: {', '.join(f'{v:.2f}' for v in vals)})"
                                                               if len(vals) > 1 else ""))
    first, rerun = runs[0]["run -> results (first run)"], runs[0]["run -> results (re-run with a lock)"]
    print(f"  ratio first run / re-run: {first / rerun:.1f}x")


if __name__ == "__main__":
    main()
