"""Start-up of each command, as a user waits for it: process wall time, median of a few (not a test).

Run from the repository root::

    python bench/startup.py                      # this checkout
    python bench/startup.py --compare ../main    # and another checkout, side by side in the same run
    python bench/startup.py --repeat 7

For each command it runs a fresh ``python -m allocator ...`` process ``--repeat``
times (alternating between the checkouts when comparing) and prints the median
wall time, the fastest, the target (1 s for ``--help``, ``validate``, ``verify``
and ``publish``) as a ratio, and how many modules the process imported
(``python -X importtime``). ``CMD --help`` is the pure start-up (parse the
command line, import what the command needs to start); the other rows are whole
small runs: ``validate`` of the demo scenario, ``publish`` of a database holding
the imported demo, ``verify`` of that snapshot. The machine is shared: read the
ratios, which are measured side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"
TARGET_S = 1.0


def commands(tmp: Path) -> list[tuple[str, list[str], float | None]]:
    db = f"sqlite:///{tmp / 'bench.db'}"
    return [
        ("--help", ["--help"], TARGET_S),
        ("validate --help", ["validate", "--help"], TARGET_S),
        ("verify --help", ["verify", "--help"], TARGET_S),
        ("publish --help", ["publish", "--help"], TARGET_S),
        ("round --help", ["round", "--help"], None),
        ("routes --help", ["routes", "--help"], None),
        ("rounds dispatch --help", ["rounds", "dispatch", "--help"], None),
        ("validate DEMO", ["validate", str(DEMO), "--quiet"], None),
        ("publish (demo db)", ["publish", "--db", db, "--out", str(tmp / "public")], None),
        ("verify (snapshot)", ["verify", str(tmp / "public")], None),
    ]


def run(checkout: Path, args: list[str]) -> tuple[float, int]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "allocator", *args], cwd=checkout, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    if r.returncode not in (0,):
        tail = [x for x in r.stderr.splitlines() if not x.startswith("import time:")][-1:]
        raise SystemExit(f"{checkout}: allocator {' '.join(args)} failed: {tail}")
    return dt, sum(1 for x in r.stderr.splitlines() if x.startswith("import time:")) - 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--compare", type=Path, default=None, help="another checkout to measure side by side")
    a = ap.parse_args()
    checkouts = [("this", ROOT)] + ([("compare", a.compare.resolve())] if a.compare else [])
    with tempfile.TemporaryDirectory(prefix="allocator-startup-") as d:
        tmp = Path(d)
        subprocess.run([sys.executable, "-m", "allocator", "import", str(DEMO), "--db", f"sqlite:///{tmp / 'bench.db'}"],
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True, stdout=subprocess.DEVNULL)
        rows = []
        for label, args, target in commands(tmp):
            times: dict[str, list[float]] = {k: [] for k, _ in checkouts}
            mods: dict[str, int] = {}
            for _ in range(a.repeat):
                for k, path in checkouts:  # alternate, so both see the same load
                    dt, n = run(path, args)
                    times[k].append(dt)
                    mods[k] = n
            rows.append((label, target, {k: (statistics.median(v), min(v)) for k, v in times.items()}, mods))
    print(f"start-up, process wall time, median of {a.repeat} (fastest); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    head = f"{'command':<24}" + "".join(f"{k + ' median':>16}{'fastest':>9}{'modules':>9}" for k, _ in checkouts)
    print(head + (f"{'this/compare':>14}" if a.compare else "") + f"{'target':>9}")
    for label, target, res, mods in rows:
        line = f"{label:<24}" + "".join(f"{res[k][0]:>15.2f}s{res[k][1]:>8.2f}s{mods[k]:>9d}" for k, _ in checkouts)
        if a.compare:
            line += f"{res['this'][0] / res['compare'][0]:>14.2f}"
        if target:
            line += f"{res['this'][0] / target:>8.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
