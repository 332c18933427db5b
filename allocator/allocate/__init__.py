"""Allocation rounds: the linear program with treatment priority, fairness and every hard rule.

The fixed pipeline of :func:`allocate`:

1. **validate** the scenario and prepare the arrays (:mod:`.prepare`), check the locks (:mod:`.overrides`);
2. **solve** each independent part (:func:`.model.components`) stage by stage: tiers, own
   item before substitutes, fairness, transport, tie-breaks (:mod:`.stages`);
3. **extract** whole units, whole packs and lots, own items kept first (:mod:`.extract`);
4. **explain**: fill table with reasons, routes, donation usage, the summary as catalogue
   codes with parameters and its text (:mod:`.explain`).

:func:`allocator.testing.check_round` recomputes every rule from the input tables on its own;
:mod:`.diff` compares two rounds.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.allocate.explain import fill_table, reasons, render, summary_messages
from allocator.allocate.extract import assign_lots, to_integers
from allocator.allocate.model import components
from allocator.allocate.overrides import check_locks
from allocator.allocate.prepare import Lock, RoundData, prepare
from allocator.allocate.result import RoundResult
from allocator.allocate.solver import SOLVERS, make_driver
from allocator.allocate.stages import solve_component
from allocator.errors import ArgumentTypeError
from allocator.network import Travel
from allocator.scenario import Scenario

__all__ = ["allocate", "RoundResult", "Lock", "SOLVERS"]

Progress = Callable[[str, float], None]


def allocate(
    scenario: Scenario,
    travel: pd.DataFrame | Travel | None = None,
    locks: Iterable[Lock | tuple[str, str, str, int]] = (),
    exclude: Iterable[str] = (),
    solver: str = "highs",
    progress: Progress | None = None,
    column_generation: bool = True,
    lang: str = "en",
    write_lp: str | Path | None = None,
) -> RoundResult:
    """Run one allocation round.

    Parameters
    ----------
    scenario : Scenario
        The round's tables (``allocator.scenario.load`` or ``from_tables``).
    travel : DataFrame or allocator.network.Travel, optional
        Minutes depot (index) x site (columns), ``inf`` = unreachable, or the road
        network's :class:`~allocator.network.Travel` (for example after
        :func:`~allocator.network.replan.replan`), whose routes then give paths and
        checkpoints. Default: the road network's travel times under the traffic
        control in force when the scenario has roads, else the great-circle fallback.
    locks : iterable of Lock or (depot_id, site_id, item_id, quantity)
        Exact quantities an officer has fixed, in addition to the scenario's ``locks``
        table (``locks.csv``); each counts toward the site's own need for its item first.
    exclude : iterable of str
        Depot or site ids left out of the round.
    solver : {"highs", "cbc"}
        The LP solver.
    progress : callable(phase, fraction), optional
        Called as phases complete.
    column_generation : bool
        With HiGHS, start from the nearest candidates and generate the others as
        their reduced costs ask (exact; :mod:`allocator.allocate.colgen`). False
        builds every candidate up front (CBC always does).
    lang : {"en", "zh"}
        Language of :attr:`RoundResult.text` (the codes and parameters behind it are in
        ``summary["messages"]`` for other renderings).
    write_lp : path, optional
        Write each part's models as readable LP files: ``<stem>.classes.lp`` (the held
        class LP after fairness) and ``<stem>.need.lp`` (the need-level LP after the last
        stage), with ``_<k>`` added to the stem for part k > 0.

    Returns
    -------
    RoundResult

    Raises
    ------
    ScenarioError
        The scenario is invalid (every problem listed).
    LockError
        A lock is malformed (not four values, a quantity that is not a whole number >= 0,
        an unknown id) or two locks name the same (depot, site, item).
    InfeasibleError
        A lock cannot hold; the message names it and the rule it breaks.
    SolverError
        The solver failed.

    Examples
    --------
    >>> from allocator import allocate, examples
    >>> r = allocate(examples.three_tiers())
    >>> r.fill.set_index("site_id").filled.to_dict()
    {'DH': 800, 'BH': 200, 'CM': 0}
    """
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def phase(name: str, frac: float) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = seconds.get(name, 0.0) + now - clock
        clock = now
        if progress is not None:
            progress(name, frac)

    if not isinstance(scenario, Scenario):  # a path is the commonest slip: say how to load one
        raise ArgumentTypeError(f"allocate() takes a Scenario, not {type(scenario).__name__} {str(scenario)[:60]!r}: "
                                "read one with allocator.scenario.load(path) or build one with from_tables(...)")
    make_driver(solver)  # fail early on an unknown solver
    data = prepare(scenario, travel=travel, locks=locks, exclude=exclude)
    check_locks(data)
    phase("validate", 0.1)

    parts = components(data)
    x = np.zeros(len(data.cand))
    objectives: dict[str, float] = {}
    n_vars = n_rows = 0
    solve_s = build_s = 0.0
    columns: dict[str, float] = {"candidates": 0, "generated": 0, "removed": 0, "banned": 0, "classes": 0,
                                 "class_columns": 0}
    in_solver = 0.0
    stage_s: dict[str, float] = {}
    for j, rows in enumerate(parts):
        t1 = time.perf_counter()
        lp_path = None if write_lp is None else Path(write_lp).with_stem(Path(write_lp).stem + (f"_{j}" if j else ""))
        def part_progress(stage: str, frac: float, j: int = j) -> None:
            if progress is not None:
                progress(stage, 0.1 + 0.7 * (j + frac) / len(parts))

        comp = solve_component(data, rows, solver, objectives, column_generation=column_generation, write_lp=lp_path,
                               progress=part_progress)
        x[rows] = comp.x
        for k in columns:
            columns[k] += comp.columns.get(k, 0)
        in_solver += comp.in_solver
        for k, v in comp.stage_seconds.items():
            stage_s[k] = stage_s.get(k, 0.0) + v
        n_vars += comp.size[0]
        n_rows += comp.size[1]
        solve_s += time.perf_counter() - t1 - comp.build_seconds
        build_s += comp.build_seconds
        if progress is not None:
            progress("solve", 0.1 + 0.7 * (j + 1) / len(parts))
    seconds["build"] = build_s
    seconds["solve"] = solve_s
    clock = time.perf_counter()

    q = to_integers(data, x)
    alloc = assign_lots(data, q)
    phase("extract", 0.9)

    fill = fill_table(data, alloc)
    fill["reason"] = reasons(data, fill, alloc)
    routes = _routes(data, alloc)
    usage = _donation_usage(data, alloc)
    warnings = list(dict.fromkeys(data.warnings))
    messages = summary_messages(data, fill, alloc, warnings, routes)
    text = render(messages, lang)
    phase("explain", 1.0)

    summary: dict[str, Any] = {
        "status": "optimal",
        "scenario": scenario.name,
        "as_of": scenario.at.isoformat(),
        "solver": solver,
        "objectives": objectives,
        "warnings": warnings,
        "seconds": {**seconds, "in_solver": in_solver},
        "stage_seconds": stage_s,
        "counts": {
            "sites": int(len(scenario.sites)), "depots": int(len(scenario.depots)),
            "lots": int(len(scenario.stock)), "needs": int(len(data.all_needs)),
            "usable_lots": int(len(data.lots)), "allocations": int(len(alloc)),
        },
        "model": {"variables": n_vars, "constraints": n_rows, "components": len(parts),
                  "candidates": int(len(data.cand)),
                  "column_generation": {k: (int(v) if k != "class_seconds" else float(v)) for k, v in columns.items()}},
        "totals": {
            "need": float(fill.need.sum()), "filled": float(fill.filled.sum()),
            "shortage": float(fill.shortage.sum()),
            "transport_cost": float((alloc.quantity * data.items.weight.reindex(alloc.item_id).to_numpy()
                                     * alloc.travel_min).sum()) if len(alloc) else 0.0,
        },
        "locks": [dataclasses.asdict(lk) for lk in data.locks],
        "excluded": sorted(data.excluded),
        "lang": lang,
        "messages": messages,
    }
    return RoundResult(allocations=alloc, fill=fill, routes=routes, donation_usage=usage,
                       summary=summary, text=text, extra={"data": data, "lp": x, "units": q})


def _routes(data: RoundData, alloc: pd.DataFrame) -> pd.DataFrame:
    cols = ["depot_id", "site_id", "travel_min", "distance_km", "checkpoints", "path"]
    pairs = alloc[["depot_id", "site_id"]].drop_duplicates().sort_values(["depot_id", "site_id"])
    if pairs.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("travel_min", "distance_km") else "object")
                             for c in cols})

    def at_pairs(frame: pd.DataFrame) -> np.ndarray | None:
        """``float(frame.loc[depot, site])`` of every pair, looked up at once; None when a label is missing
        or repeated (the pair by pair lookup then says so)."""
        if not (frame.index.is_unique and frame.columns.is_unique):
            return None
        di = frame.index.get_indexer(pd.Index(pairs.depot_id.astype(str)))
        si = frame.columns.get_indexer(pd.Index(pairs.site_id.astype(str)))
        return None if (di < 0).any() or (si < 0).any() else frame.to_numpy(dtype=float)[di, si]

    net = data.travel.network
    if net is not None and hasattr(net, "routes"):
        km_fallback = getattr(net, "distance_km_fallback", None) if getattr(net, "fallback", False) is True else None
        tm = at_pairs(net.minutes) if isinstance(km_fallback, pd.DataFrame) else None
        km = at_pairs(km_fallback) if tm is not None and km_fallback is not None else None
        if tm is None or km is None:  # road routes (or a pair the network does not know): ask the network
            r = net.routes(list(zip(pairs.depot_id, pairs.site_id)))
            return r[cols].reset_index(drop=True)
        return pd.DataFrame({  # great-circle fallback: the network's table without a row-by-row lookup
            "depot_id": [str(d) for d in pairs.depot_id], "site_id": [str(x) for x in pairs.site_id],
            "travel_min": tm, "distance_km": km, "checkpoints": [()] * len(pairs), "path": [()] * len(pairs),
        })
    from allocator.geo import FALLBACK_DETOUR, haversine_km

    d = data.depots.reindex(pairs.depot_id)
    s = data.sites.reindex(pairs.site_id)
    km = haversine_km(d.lat.to_numpy(float), d.lon.to_numpy(float), s.lat.to_numpy(float), s.lon.to_numpy(float))
    m = data.travel.minutes
    looked_up = at_pairs(m)
    minutes = (looked_up.tolist() if looked_up is not None
               else [float(m.loc[a, b]) for a, b in zip(pairs.depot_id, pairs.site_id)])
    return pd.DataFrame({
        "depot_id": pairs.depot_id.to_numpy(), "site_id": pairs.site_id.to_numpy(), "travel_min": minutes,
        "distance_km": np.round(km * FALLBACK_DETOUR, 3), "checkpoints": [()] * len(pairs), "path": [()] * len(pairs),
    })


def _donation_usage(data: RoundData, alloc: pd.DataFrame) -> pd.DataFrame:
    cols = ["donation_id", "donor", "lot_id", "item_id", "site_id", "quantity"]
    lots = data.lots[["lot_id", "donation_id"]]
    a = alloc.merge(lots, on="lot_id")
    a = a[a.donation_id != ""]
    donors = data.scenario.donations.set_index("donation_id").donor
    a = a.assign(donor=donors.reindex(a.donation_id).fillna("").to_numpy())
    out = a.groupby(["donation_id", "donor", "lot_id", "item_id", "site_id"], as_index=False, sort=True).agg(
        quantity=("quantity", "sum"))
    return out[cols].reset_index(drop=True)
