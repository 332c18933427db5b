"""Re-planning when a traffic-control rule is added or lifted: the full plan under the new rules plus a diff.

:func:`replan` plans every depot again under the new rules
(:func:`allocator.network.paths.plan`, one bulk Dijkstra per vehicle-class
effect) and lists the routes whose time or path changed. An incremental
version that recomputed only the depots whose shortest-path trees could change
was measured against this (``bench/replan.py``) and was slower on most changes
(its bookkeeping cost more than the Dijkstra calls it saved), so it was
removed. Results the network has already solved under the same rules (lifting
a rule that was just added) come from the network's cache and are not recomputed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from allocator.errors import InvalidArgumentError
from allocator.network.control import Effect, Rule
from allocator.network.paths import Travel, _lru, expanded, node_distances, path_states, plan


@dataclass(frozen=True)
class Replan:
    """The outcome of a re-plan.

    Attributes
    ----------
    travel : Travel
        Travel times under the new rules.
    changes : DataFrame
        One row per route whose time or path changed: ``depot_id, site_id,
        before_min, after_min, change_min, path_changed``.
    recomputed : dict
        Per vehicle-class effect (as text): ``(depots recomputed, depots in the class)``;
        none are recomputed when the network had solved that effect already.
    """

    travel: Travel
    changes: pd.DataFrame
    recomputed: dict


def replan(
    travel: Travel,
    add: Iterable[Rule] = (),
    lift: Iterable[str] = (),
    pairs: Iterable[tuple[str, str]] | None = None,
    with_paths: bool = False,
) -> Replan:
    """Travel times after adding and/or lifting rules, and the routes that changed.

    Parameters
    ----------
    travel : Travel
        The current plan (from :func:`~allocator.network.travel_times`).
    add : iterable of Rule
        Rules to add (in force by their own windows at ``travel.at``).
    lift : iterable of str
        Rule ids to lift.
    pairs : iterable of (depot_id, site_id), optional
        The planned routes to report on (default: every pair).
    with_paths : bool
        Also say whether each changed route's path changed (walks the paths: slower).

    Returns
    -------
    Replan

    Raises
    ------
    InvalidArgumentError
        When the travel times are the great-circle fallback (no roads to re-plan on).

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.network import travel_times, Rule
    >>> tr = travel_times(examples.ring_road())
    >>> out = replan(tr, add=[Rule("X", "closure", u="N1", v="N3")])
    >>> out.changes[["site_id", "before_min", "after_min"]].to_dict("records")[0]
    {'site_id': 'H1', 'before_min': 4.0, 'after_min': inf}
    """
    if travel.fallback or travel.network is None or travel.control is None:
        raise InvalidArgumentError("re-planning needs a road network (the travel times are the great-circle fallback)")
    net = travel.network
    new_c = travel.control.with_rules(add=list(add), lift=list(lift))
    cached = list(_lru(net, "solved").values())
    dids, sids = list(travel.minutes.index), list(travel.minutes.columns)
    new = plan(net, new_c, dids, np.array([travel.depot_nodes[d] for d in dids], np.int64), travel.depot_classes,
               sids, np.array([travel.site_nodes[s] for s in sids], np.int64), travel.at)
    recomputed = {}
    for e, sol in new.solved.items():
        n = len(sol.sources)
        recomputed[_label(e)] = (0 if any(sol is c for c in cached) else n, n)
    return Replan(new, _changes(travel, new, pairs, with_paths), recomputed)


def _label(e: Effect) -> str:
    return f"blocked={sorted(e.blocked)} delays={sorted(e.delays)}"


def _path(travel: Travel, d: str, s: str) -> tuple[int, ...]:
    if not np.isfinite(cast(float, travel.minutes.at[d, s])):
        return ()
    assert travel.network is not None and travel.control is not None and travel.best_effect is not None
    sol = travel.solved[cast(Effect, travel.best_effect.at[d, s])]
    r = sol.row[travel.depot_nodes[d]]
    ex = expanded(travel.network, travel.control)
    _, best = node_distances(ex, sol.dist[r:r + 1], np.array([travel.site_nodes[s]]))
    return tuple(int(x) for x in ex.node[path_states(sol.pred[r], int(best[0, 0]))])


def _changes(old: Travel, new: Travel, pairs: Iterable[tuple[str, str]] | None, with_paths: bool) -> pd.DataFrame:
    a, b = old.minutes, new.minutes
    if pairs is None:
        x, y = a.to_numpy(), b.to_numpy()
        changed = ~((x == y) | (np.isinf(x) & np.isinf(y)))
        di, si = np.nonzero(changed)
        out = pd.DataFrame({"depot_id": a.index[di].astype(str), "site_id": a.columns[si].astype(str),
                            "before_min": x[di, si], "after_min": y[di, si]})
    else:
        rows = [(d, s, float(cast(float, a.at[d, s])), float(cast(float, b.at[d, s]))) for d, s in pairs]
        out = pd.DataFrame(rows, columns=["depot_id", "site_id", "before_min", "after_min"])
        keep = ~((out.before_min == out.after_min) | (np.isinf(out.before_min) & np.isinf(out.after_min)))
        out = out[keep].reset_index(drop=True)
    # inf - inf does not happen here; finite -> inf is +inf, inf -> finite is -inf
    with np.errstate(invalid="ignore"):
        out["change_min"] = out.after_min - out.before_min
    if with_paths:
        out["path_changed"] = [_path(old, d, s) != _path(new, d, s) for d, s in zip(out.depot_id, out.site_id)]
    return out
