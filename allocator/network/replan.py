"""Re-planning when a traffic-control rule is added or lifted.

Only the depots whose shortest paths can change are recomputed. For each
vehicle class whose rules' effect changes, with ``d`` the old distances on the
checkpoint-expanded graph (whose shape does not change when closures, zones or
known checkpoints come and go):

- an arc that gets *worse* (now blocked, or now charging a delay) can change a
  depot's distances only if the depot's shortest-path tree uses it, that is
  ``pred[depot, head] == tail``;
- an arc that gets *better* (unblocked, or no longer charging a delay) can change
  them only if it relaxes the old distances: ``d[depot, tail] + w_new < d[depot, head]``.

If neither holds for any changed arc, the old distances still satisfy every
Bellman inequality of the new graph and the old tree is still a valid path tree
in it, so they are the new shortest distances: the depot is not recomputed.
Adding a checkpoint rule on roads that had none changes the expanded graph's
shape; then every depot of the affected classes is recomputed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from allocator.errors import InvalidArgumentError
from allocator.network.control import Effect, Rule
from allocator.network.paths import (
    Solved,
    Travel,
    blocked_arcs,
    csr,
    expanded,
    node_distances,
    path_states,
    weights,
)


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
        Per vehicle-class effect (as text): ``(depots recomputed, depots in the class)``.
    """

    travel: Travel
    changes: pd.DataFrame
    recomputed: dict


def _changed_arcs(net, control_old, control_new, e_old: Effect, e_new: Effect) -> tuple[np.ndarray, np.ndarray]:
    """Original arcs that got worse and better from one effect to the other."""
    b_old = blocked_arcs(net, control_old, e_old)
    b_new = blocked_arcs(net, control_new, e_new)
    worse = b_new & ~b_old
    better = b_old & ~b_new
    for rid in e_new.delays - e_old.delays:
        worse[control_new.arcs(net, control_new[rid])] = True
    for rid in e_old.delays - e_new.delays:
        better[control_old.arcs(net, control_old[rid])] = True
    for rid in e_old.delays & e_new.delays:
        if control_old[rid].delay_min != control_new[rid].delay_min:
            idx = control_new.arcs(net, control_new[rid])
            (worse if control_new[rid].delay_min > control_old[rid].delay_min else better)[idx] = True
    return worse, better


def replan(
    travel: Travel,
    add: Iterable[Rule] = (),
    lift: Iterable[str] = (),
    pairs: Iterable[tuple[str, str]] | None = None,
    with_paths: bool = False,
) -> Replan:
    """Travel times after adding and/or lifting rules, recomputing only what can change.

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
    add = list(add)
    net, old_c, at = travel.network, travel.control, travel.at
    new_c = old_c.with_rules(add=add, lift=lift)
    ex_old = expanded(net, old_c)
    ex_new = expanded(net, new_c)
    same_shape = ex_new is ex_old or (
        ex_new.n_states == ex_old.n_states and np.array_equal(ex_new.tail, ex_old.tail)
        and np.array_equal(ex_new.head, ex_old.head) and np.array_equal(ex_new.arc, ex_old.arc)
    )
    depot_ids = list(travel.minutes.index)
    # which effect each depot class had / has
    new_effects: dict[Effect, set[int]] = {}
    dep_new: dict[str, set[Effect]] = {d: set() for d in depot_ids}
    old_of: dict[Effect, list[Effect]] = {}
    for d in depot_ids:
        for c in travel.depot_classes[d]:
            eo, en = old_c.effect(c, at), new_c.effect(c, at)
            dep_new[d].add(en)
            old_of.setdefault(en, []).append(eo)
            new_effects.setdefault(en, set()).add(travel.depot_nodes[d])
    site_nodes = np.array([travel.site_nodes[s] for s in travel.minutes.columns], np.int64)
    solved: dict[Effect, Solved] = {}
    recomputed: dict[str, tuple[int, int]] = {}
    for en, srcs in new_effects.items():
        src = np.array(sorted(srcs), np.int64)
        w, usable = weights(net, new_c, ex_new, en)
        g = csr(ex_new, w, usable)
        # the old solution this class came from (same sources), if reusable
        olds = [travel.solved[eo] for eo in old_of[en] if eo in travel.solved]
        olds = [o for o in olds if set(o.sources.tolist()) >= set(src.tolist())]
        old = olds[0] if olds else None
        if old is not None and same_shape and set(old.sources.tolist()) >= set(src.tolist()):
            rows = np.array([old.row[int(s)] for s in src])
            dist, pred = old.dist[rows].copy(), old.pred[rows].copy()
            if old.effect == en and old_c.rules == new_c.rules:
                todo = np.zeros(len(src), bool)
            else:
                worse, better = _changed_arcs(net, old_c, new_c, old.effect, en)
                todo = np.zeros(len(src), bool)
                ew = np.nonzero(worse[ex_new.arc])[0]
                eb = np.nonzero(better[ex_new.arc] & usable)[0]
                todo = ~old.exact[rows]
                exact = old.exact[rows].copy()
                if len(eb):
                    todo |= (dist[:, ex_new.tail[eb]] + w[eb][None, :] < dist[:, ex_new.head[eb]]).any(axis=1)
                if len(ew):
                    uses = (pred[:, ex_new.head[ew]] == ex_new.tail[ew][None, :]).any(axis=1)
                    if len(eb) == 0 and uses.any():
                        # only worsening: recompute a depot only if a site's path uses a worse arc;
                        # the others keep exact site paths but stale distances elsewhere
                        sel = np.nonzero(uses)[0]
                        hit = _tainted(pred[sel], ex_new.tail[ew], ex_new.head[ew], target_states(ex_new, site_nodes))
                        exact[sel] = False
                        uses[sel[~hit]] = False
                    todo |= uses
            if old.effect == en and old_c.rules == new_c.rules:
                exact = old.exact[rows].copy()
            if todo.any():
                d2, p2 = dijkstra(g, directed=True, indices=src[todo], return_predecessors=True)
                dist[todo] = np.atleast_2d(d2)
                pred[todo] = np.atleast_2d(p2)
                exact[todo] = True
            recomputed[_label(en)] = (int(todo.sum()), len(src))
        else:
            dist, pred = dijkstra(g, directed=True, indices=src, return_predecessors=True)
            dist, pred = np.atleast_2d(dist), np.atleast_2d(pred)
            exact = np.ones(len(src), bool)
            recomputed[_label(en)] = (len(src), len(src))
        sol = Solved(en, src, dist, pred, g, w, usable)
        sol.exact = exact
        solved[en] = sol
    # minutes: min over each depot's classes
    M = np.full(travel.minutes.shape, np.inf)
    best = np.empty(travel.minutes.shape, dtype=object)
    for en, sol in solved.items():
        dd, _ = node_distances(ex_new, sol.dist, site_nodes)
        for i, d in enumerate(depot_ids):
            if en not in dep_new[d]:
                continue
            row = dd[sol.row[travel.depot_nodes[d]]]
            better = (row < M[i]) | np.array([b is None for b in best[i]])
            M[i, better] = row[better]
            best[i, better] = en
    minutes = pd.DataFrame(M, index=travel.minutes.index, columns=travel.minutes.columns)
    new_travel = replace(
        travel, minutes=minutes, control=new_c, solved=solved,
        best_effect=pd.DataFrame(best, index=minutes.index, columns=minutes.columns),
    )
    changes = _changes(travel, new_travel, pairs, with_paths)
    return Replan(new_travel, changes, recomputed)


def target_states(ex, nodes: np.ndarray) -> np.ndarray:
    """Every expanded state of the given nodes."""
    want = np.zeros(ex.n, bool)
    want[nodes] = True
    return np.nonzero(want[ex.node])[0]


def _tainted(pred: np.ndarray, tails: np.ndarray, heads: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per source row: does the tree path to any target use one of the arcs (tails -> heads)?

    Pointer doubling over the predecessor trees (flattened): ``flag[x]`` starts as
    "the arc into x is bad" and absorbs the flags of ever farther ancestors.
    """
    k, n = pred.shape
    off = (np.arange(k, dtype=np.int64) * n)[:, None]
    flag = np.zeros((k, n), bool)
    r, c = np.nonzero(pred[:, heads] == tails[None, :])
    flag[r, heads[c]] = True  # heads repeat (two closed arcs into one node): set, never overwrite
    flag = flag.ravel()
    anc = (np.where(pred < 0, np.arange(n)[None, :], pred) + off).ravel()
    for _ in range(64):
        flag |= flag.take(anc)
        nxt = anc.take(anc)
        if np.array_equal(nxt, anc):
            break
        anc = nxt
    return flag.reshape(k, n)[:, targets].any(axis=1)


def _label(e: Effect) -> str:
    return f"blocked={sorted(e.blocked)} delays={sorted(e.delays)}"


def _path(travel: Travel, d: str, s: str) -> tuple[int, ...]:
    if not np.isfinite(travel.minutes.at[d, s]):
        return ()
    sol = travel.solved[travel.best_effect.at[d, s]]
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
        rows = [(d, s, float(a.at[d, s]), float(b.at[d, s])) for d, s in pairs]
        out = pd.DataFrame(rows, columns=["depot_id", "site_id", "before_min", "after_min"])
        keep = ~((out.before_min == out.after_min) | (np.isinf(out.before_min) & np.isinf(out.after_min)))
        out = out[keep].reset_index(drop=True)
    # inf - inf does not happen here; finite -> inf is +inf, inf -> finite is -inf
    with np.errstate(invalid="ignore"):
        out["change_min"] = out.after_min - out.before_min
    if with_paths:
        out["path_changed"] = [_path(old, d, s) != _path(new, d, s) for d, s in zip(out.depot_id, out.site_id)]
    return out
