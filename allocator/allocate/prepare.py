"""Validate and prepare the data of a round: needs, usable lot groups, travel, candidate shipments.

Everything the model needs is computed here as plain arrays, so that the model
builder (:mod:`allocator.allocate.model`) only turns them into PuLP objects.

A *group* is a set of interchangeable lots: same depot, item and earmark
(earmarked sites and kinds of the donation). The LP decides how much of a group
goes where; lots are assigned afterwards, earliest expiry first, donated before
reserve (:mod:`allocator.allocate.extract`). A *candidate* is a (group, site,
need item) triple that may carry a non-zero shipment: the site needs the need
item, the group's item is that item or a listed substitute, the depot reaches
the site, the grade and the earmark allow it, and neither end is excluded.

Every such test is a named function of :mod:`allocator.rules` (the rule -> function
table is its docstring); :func:`prepare` only applies them, in a few named steps:
:func:`excluded_ids`, :func:`travel_matrix`, :func:`need_rows`, :func:`usable_stock`,
:func:`lot_groups`, :func:`allocator.rules.coverage` and :func:`candidates`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from allocator import rules
from allocator.demand import needs_for_round
from allocator.errors import AllocatorError, LockError, ScenarioError
from allocator.parse import content_key, known_valid, remember_valid
from allocator.scenario import Scenario
from allocator.validate import usable_lots, validate

if TYPE_CHECKING:
    from allocator.network import Travel as NetworkTravel

FALLBACK_WARNING = (
    "no road network: travel times are the great-circle distance x 1.3 at 30 km/h "
    "(traffic control is not taken into account)"
)


@dataclass(frozen=True)
class Lock:
    """An officer's lock: exactly ``quantity`` units of ``item_id`` from ``depot_id`` to ``site_id``.

    ``item_id`` is the item shipped (a substitute may be locked to cover a need). The
    locked units count toward the site's own need for ``item_id`` first; only what
    exceeds that need covers a need ``item_id`` substitutes for (allocation-rules.md,
    Overrides). ``quantity`` is a whole number >= 0 (0 forbids the pair); a float with a
    whole value is accepted and stored as an int.

    Raises
    ------
    LockError
        An id is empty or not text, or the quantity is not a whole number >= 0.

    Examples
    --------
    >>> Lock("D1", "H1", "n95", 700)
    Lock(depot_id='D1', site_id='H1', item_id='n95', quantity=700)
    >>> Lock("D1", "H1", "n95", 2.5)
    Traceback (most recent call last):
    ...
    allocator.errors.LockError: lock[depot=D1,site=H1,item=n95,quantity=2.5]: the quantity must be a whole number >= 0 (got 2.5)
    """

    depot_id: str
    site_id: str
    item_id: str
    quantity: int

    def __post_init__(self) -> None:
        for name in ("depot_id", "site_id", "item_id"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v.strip():
                raise LockError(f"{self}: {name} must be a non-empty id (got {v!r})")
        q = self.quantity
        ok = isinstance(q, numbers.Integral | numbers.Real) and not isinstance(q, bool)
        qf = float(q) if ok else math.nan
        if not ok or not math.isfinite(qf) or not qf.is_integer() or qf < 0:
            raise LockError(f"{self}: the quantity must be a whole number >= 0 (got {q!r})")
        object.__setattr__(self, "quantity", int(qf))

    def __str__(self) -> str:
        return f"lock[depot={self.depot_id},site={self.site_id},item={self.item_id},quantity={self.quantity}]"

    @property
    def key(self) -> tuple[str, str, str]:
        """(depot_id, site_id, item_id): at most one lock per key."""
        return (self.depot_id, self.site_id, self.item_id)


@dataclass
class Travel:
    """Travel minutes used by a round and where they come from."""

    minutes: pd.DataFrame
    network: Any = None  # allocator.network Travel object, when used
    fallback: bool = False
    reason: str = ""


@dataclass
class RoundData:
    """Arrays describing one round, ready for the model builder."""

    scenario: Scenario
    needs: pd.DataFrame  # site_id, item_id, quantity, tier, clinical, kind (need > 0, sites kept)
    all_needs: pd.DataFrame  # every need row of kept sites, including zeros
    lots: pd.DataFrame  # usable lots of kept depots: group, em_sites, em_kinds, donated, exp_days
    groups: pd.DataFrame  # group_id, depot_id, item_id, quantity, earmark sites/kinds, weight, ...
    cand: pd.DataFrame  # group, need (row of needs), site_id, item_id, need_item_id, ratio, depot_id, travel_min, weight, cost, own
    travel: Travel
    capacity: dict[str, float]  # finite dispatch capacities by depot
    items: pd.DataFrame  # indexed by item_id
    sites: pd.DataFrame  # indexed by site_id (kept sites)
    depots: pd.DataFrame  # indexed by depot_id (kept depots)
    subs: dict[str, list[tuple[str, float]]]  # need item -> [(shipped item, ratio)] incl. itself (rules.substitutes_of)
    locks: list[Lock]
    excluded: set[str]
    warnings: list[str] = field(default_factory=list)
    #: need_item_id, item_id (shipped), ratio: :func:`allocator.rules.coverage` (``subs`` as a table)
    coverage: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["need_item_id", "item_id", "ratio"]))


def check_scenario(sc: Scenario) -> None:
    """Raise :class:`ScenarioError` listing every problem when ``sc`` is invalid.

    A scenario whose tables have exactly the contents of one already checked without
    errors (when it was loaded or in an earlier round: :func:`allocator.parse.content_key`,
    a digest of every table's values, so an edit in place is seen) is not checked again.

    Examples
    --------
    >>> from allocator import examples
    >>> sc = examples.two_hospitals()
    >>> check_scenario(sc)  # checked when it was built: not checked again
    >>> sc.stock.loc[0, "quantity"] = -1  # an edit in place is checked
    >>> try:
    ...     check_scenario(sc)
    ... except ScenarioError as exc:
    ...     print(str(exc).splitlines()[1])
    stock.csv:2: quantity: must be >= 0 (got -1)
    """
    key = content_key(sc)
    if known_valid(key):
        return
    report = validate(sc)
    if report.errors:
        raise ScenarioError(report)
    remember_valid(sc, key)


def round_needs(sc: Scenario) -> pd.DataFrame:
    """The needs of the round: ``needs.csv`` or, without it, the demand estimate."""
    if sc.has("needs"):
        return sc.needs[["site_id", "item_id", "quantity"]].copy()
    return needs_for_round(sc)[["site_id", "item_id", "quantity"]].copy()


def travel_for(sc: Scenario, travel: Any = None) -> Travel:
    """Travel minutes depot x site for a round.

    ``travel`` may be a depot x site DataFrame of minutes, an
    :class:`allocator.network.Travel` (its routes then give paths and checkpoints),
    or None: the road network's travel times under the traffic control in force,
    or the contract's great-circle fallback when the scenario has no roads.
    """
    from allocator.network import Travel as NetworkTravel
    from allocator.network import travel_times

    if isinstance(travel, NetworkTravel):
        net = travel
    elif travel is not None:
        m = travel.copy()
        m.index = m.index.astype(str)
        m.columns = m.columns.astype(str)
        return Travel(minutes=m.astype(float))
    else:
        net = travel_times(sc)
    if net.fallback:
        return Travel(minutes=net.minutes.astype(float), network=net, fallback=True, reason=FALLBACK_WARNING)
    return Travel(minutes=net.minutes.astype(float), network=net)


def allows(earmark_sites: tuple[str, ...], earmark_kinds: tuple[str, ...], site_id: str, kind: str) -> bool:
    """Whether an earmark (sites, kinds) lets a lot go to a site: :func:`allocator.rules.earmark_allows` for one pair.

    Examples
    --------
    >>> allows(("H1",), (), "H2", "designated_hospital")
    False
    """
    return bool(rules.earmark_allows([earmark_sites], [earmark_kinds], [site_id], [kind])[0])


def as_locks(locks: Iterable[Any], scenario: Scenario | None = None) -> list[Lock]:
    """The round's locks: the scenario's ``locks`` table, then ``locks`` (Lock or 4-tuples).

    Parameters
    ----------
    locks : iterable of Lock or (depot_id, site_id, item_id, quantity)
        Locks from the library, the command line or the app.
    scenario : Scenario, optional
        Its ``locks`` table (``locks.csv``), validated with the scenario, comes first.

    Raises
    ------
    LockError
        A lock is not four values or not a valid :class:`Lock`, or two locks (from any
        source) name the same (depot, site, item): an error, not a sum.

    Examples
    --------
    >>> as_locks([("D1", "H1", "n95", 700)])
    [Lock(depot_id='D1', site_id='H1', item_id='n95', quantity=700)]
    """
    out: list[Lock] = []
    if scenario is not None and scenario.has("locks"):
        t = scenario.locks
        for d, s, i, q in zip(t.depot_id.astype(str), t.site_id.astype(str), t.item_id.astype(str), t.quantity.tolist()):
            out.append(Lock(d, s, i, int(q)))
    if isinstance(locks, Lock | str):
        raise LockError(f"locks must be a list of locks, got {locks!r}")
    for lk in locks:
        if not isinstance(lk, Lock):
            if isinstance(lk, str) or not isinstance(lk, Iterable):
                raise LockError(f"a lock is a Lock or (depot_id, site_id, item_id, quantity), got {lk!r}")
            vals = tuple(lk)
            if len(vals) != 4:
                raise LockError(f"a lock is (depot_id, site_id, item_id, quantity): got {len(vals)} value(s) in {lk!r}")
            d, s, i, q = vals
            if isinstance(q, str):
                raise LockError(f"lock ({d}, {s}, {i}, {q!r}): the quantity must be a whole number >= 0, not text")
            lk = Lock(d, s, i, q)
        out.append(lk)
    seen: dict[tuple[str, str, str], Lock] = {}
    for lk in out:
        if lk.key in seen:
            raise LockError(f"{lk} and {seen[lk.key]} lock the same depot, site and item: "
                            "give one lock per (depot, site, item), not two")
        seen[lk.key] = lk
    return out


def excluded_ids(sc: Scenario, exclude: Iterable[str]) -> set[str]:
    """The ids an officer excluded from the round (Overrides); an unknown id is an error."""
    excluded = {str(x) for x in exclude}
    known = set(sc.sites.site_id) | set(sc.depots.depot_id)
    unknown = sorted(excluded - known)
    if unknown:
        raise AllocatorError(f"exclude: no site or depot with id {', '.join(unknown)}")
    return excluded


def need_rows(sc: Scenario, sites: pd.DataFrame) -> pd.DataFrame:
    """Every need of the round's sites (zeros included) with the site's ``tier``, ``clinical`` and ``kind``."""
    nd = round_needs(sc)
    nd = nd[nd.site_id.isin(sites.index)].reset_index(drop=True)
    nd["quantity"] = nd.quantity.astype("int64")
    pos = sites.index.get_indexer(pd.Index(nd.site_id))  # every site is there: filtered above
    nd["tier"] = sites.tier.to_numpy()[pos].astype(int)
    nd["clinical"] = sites.clinical.to_numpy()[pos].astype(bool)
    nd["kind"] = sites.kind.astype(str).array.take(pos)
    return nd


#: Lots with the same values of these columns are interchangeable: one group.
GROUP_KEY = ["depot_id", "item_id", "em_sites", "em_kinds"]


def usable_stock(sc: Scenario, depots: pd.DataFrame) -> pd.DataFrame:
    """The usable lots of the round's depots (hard rule 1) with their earmark, donor flag and days to expiry."""
    lots = usable_lots(sc)
    lots = lots[lots.depot_id.isin(depots.index)].copy()
    lots["em_sites"], lots["em_kinds"] = rules.lot_earmarks(lots.donation_id, sc.donations)
    lots["donated"] = rules.lot_donated(lots.source, lots.donation_id)
    lots["exp_days"] = rules.expiry_days(lots.expires, sc.at)
    return lots


def _group_ids(keys: list[pd.Series]) -> np.ndarray:
    """The group number of each row: rows with equal keys share one, numbered in the keys' sorted order.

    The numbers of ``groupby(keys, sort=True, dropna=False).ngroup()``, from each key's
    sorted codes (a missing key sorts last).

    Examples
    --------
    >>> _group_ids([pd.Series(["b", "a", "b"]), pd.Series([(), ("H1",), ()])]).tolist()
    [1, 0, 1]
    """
    combined = np.zeros(len(keys[0]), dtype=np.int64)
    for k in keys:
        codes, uniq = pd.factorize(k, sort=True, use_na_sentinel=False)
        # renumbered after each key, so the codes stay below the number of rows
        combined = np.unique(combined * len(uniq) + codes, return_inverse=True)[1].reshape(-1)
    return combined.astype(np.int64)


def lot_groups(lots: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Groups of interchangeable lots (:data:`GROUP_KEY`); sets ``lots["group"]``.

    Columns: the key, ``quantity`` (usable units), ``exp_days`` (earliest expiry),
    ``donated_share`` (share of donated units), ``group``, ``weight`` (kg a unit) and
    ``grade`` of the item.
    """
    if lots.empty:
        lots["group"] = pd.Series(dtype="int64")
        groups = pd.DataFrame(columns=[*GROUP_KEY, "quantity", "group"])
    else:
        group = _group_ids([lots[k] for k in GROUP_KEY])
        lots["group"] = group
        order = np.argsort(group, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
        first = order[starts]  # each group's first lot, in the lots' order
        groups = pd.DataFrame({k: lots[k].array.take(first) for k in GROUP_KEY}, copy=False)
        qty = np.add.reduceat(lots.quantity.to_numpy()[order], starts)
        groups["quantity"] = qty.astype("int64")
        groups["exp_days"] = np.fmin.reduceat(lots.exp_days.to_numpy()[order], starts)
        donated = np.add.reduceat((lots.quantity * lots.donated).to_numpy()[order], starts)
        groups["donated_share"] = donated.astype(float) / qty.astype(float)
        groups["group"] = np.arange(len(starts), dtype="int64")
    groups["weight"] = items.weight.reindex(groups.item_id).to_numpy() if len(groups) else []
    groups["grade"] = items.grade.reindex(groups.item_id).astype(str).to_numpy() if len(groups) else []
    return groups


def travel_matrix(tr: Travel, depots: pd.DataFrame, sites: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """Travel minutes of the round's depots x sites; a depot or site without times is unreachable (warned)."""
    m = tr.minutes
    missing = sorted(set(depots.index) - set(m.index)) + sorted(set(sites.index) - set(m.columns))
    if missing:
        warnings.append("travel times missing for " + ", ".join(missing) + ": treated as unreachable")
    return m.reindex(index=list(depots.index), columns=list(sites.index))


#: Columns of :attr:`RoundData.cand`, in order.
CAND_COLUMNS = ["group", "need", "depot_id", "site_id", "item_id", "need_item_id", "ratio", "tier", "weight",
                "travel_min", "cost", "own"]


def _take(s: pd.Series, idx: np.ndarray) -> Any:
    """The values of ``s`` at positions ``idx``, in ``s``'s own dtype (a string column stays a string column)."""
    return s.array.take(idx)


def _ranks(counts: np.ndarray) -> np.ndarray:
    """``0, 1, ..., counts[i] - 1`` for each ``i``, concatenated.

    Examples
    --------
    >>> _ranks(np.array([2, 0, 3])).tolist()
    [0, 1, 0, 1, 2]
    """
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def _cross(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(a[i], b[j])`` pair, row-major: ``a`` repeated, ``b`` tiled."""
    return np.repeat(a, len(b)), np.tile(b, len(a))


def _objects(values: Iterable[Any]) -> np.ndarray:
    """A 1-d object array of ``values`` (tuples stay elements, not rows)."""
    vals = list(values)
    out = np.empty(len(vals), dtype=object)
    for i, v in enumerate(vals):
        out[i] = v
    return out


def _by_codes(needs: pd.DataFrame, groups: pd.DataFrame, cov: pd.DataFrame) -> bool:
    """Whether :func:`candidates` may pair by integer codes: the tables :func:`prepare` gives.

    Empty tables, a need index other than ``0..n-1``, missing ids, key columns of
    different dtypes or repeated (need item, item) or group keys take the merge.
    """
    if not (len(needs) and len(groups) and len(cov)):
        return False
    if not (isinstance(needs.index, pd.RangeIndex) and needs.index.start == 0 and needs.index.step == 1):
        return False
    if needs.item_id.dtype != cov.need_item_id.dtype or cov.item_id.dtype != groups.item_id.dtype:
        return False
    ids = [needs.site_id, needs.item_id, needs.kind, groups.depot_id, groups.item_id, cov.need_item_id, cov.item_id]
    if any(s.isna().any() for s in ids):
        return False
    return bool(groups.group.is_unique) and not cov.duplicated(["need_item_id", "item_id"]).any()


def _candidates_by_merge(needs: pd.DataFrame, groups: pd.DataFrame, cov: pd.DataFrame,
                         minutes: pd.DataFrame) -> pd.DataFrame:
    """:func:`candidates` as two merges and a sort: for empty or unusual tables (see :func:`_by_codes`)."""
    need = needs.reset_index().rename(columns={"index": "need", "item_id": "need_item_id"})
    pairs = need[["need", "site_id", "need_item_id", "tier", "clinical", "kind"]].merge(cov, on="need_item_id")
    pairs = pairs.merge(groups[["group", "depot_id", "item_id", "em_sites", "em_kinds", "weight", "grade"]],
                        on="item_id")
    pairs["travel_min"] = rules.travel_lookup(minutes, pairs.depot_id, pairs.site_id)
    pairs = pairs[rules.grade_allows(pairs.grade, pairs.clinical) & rules.reachable(pairs.travel_min)]
    pairs = pairs[rules.earmark_allows(pairs.em_sites.tolist(), pairs.em_kinds.tolist(), pairs.site_id, pairs.kind)]
    c = pairs.sort_values(["need", "group"]).reset_index(drop=True)
    c["cost"] = rules.transport_cost(c.weight, c.travel_min)
    c["own"] = rules.own_item(c.item_id, c.need_item_id)
    return c[CAND_COLUMNS]


def _covered_pairs(needs: pd.DataFrame, groups: pd.DataFrame,
                   cov: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (need, group) pair whose group's item covers the need's item (hard rule 3), by position.

    Returns the need row, the group row and the coverage row of each pair, sorted by
    need, then group (the value of ``groups.group``).
    """
    n_code, n_uniq = pd.factorize(needs.item_id)
    cov_n = pd.Index(n_uniq).get_indexer(pd.Index(cov.need_item_id))
    items = pd.Index(pd.unique(groups.item_id))
    cov_i = items.get_indexer(pd.Index(cov.item_id))
    g_i = items.get_indexer(pd.Index(groups.item_id))
    # coverage row x group of its shipped item ("t"), sorted by need item, then group
    by_item = np.argsort(g_i, kind="stable")
    i_start = np.searchsorted(g_i[by_item], np.arange(len(items)))
    i_count = np.bincount(g_i, minlength=len(items))
    cov_rows = np.flatnonzero((cov_n >= 0) & (cov_i >= 0))
    reps = i_count[cov_i[cov_rows]]
    t_cov = np.repeat(cov_rows, reps)
    t_grp = by_item[np.repeat(i_start[cov_i[cov_rows]], reps) + _ranks(reps)]
    order = np.lexsort((groups.group.to_numpy()[t_grp], cov_n[t_cov]))
    t_cov, t_grp = t_cov[order], t_grp[order]
    t_item = cov_n[t_cov]
    # each need x the t rows of its item
    t_begin = np.searchsorted(t_item, np.arange(len(n_uniq)))
    reps = np.bincount(t_item, minlength=len(n_uniq))[n_code]
    p_need = np.repeat(np.arange(len(needs)), reps)
    p_t = np.repeat(t_begin[n_code], reps) + _ranks(reps)
    return p_need, t_grp[p_t], t_cov[p_t]


def candidates(needs: pd.DataFrame, groups: pd.DataFrame, cov: pd.DataFrame, minutes: pd.DataFrame) -> pd.DataFrame:
    """Candidate shipments: every (group, need) pair that the hard rules allow to carry units.

    The group's item covers the need's item (hard rule 3), its grade (rule 4) and its
    earmark (rule 5) allow the site, and its depot reaches the site (rule 6). Sorted by
    need, then group; ``cost`` is the transport cost of one unit (priority 3), ``own``
    whether the group's item is the need's own item (priority 1b).

    Pairs are formed by integer codes (:func:`_covered_pairs`), not by merging string
    columns, and each rule function is applied once per distinct value (travel per depot
    x site, grade per group and clinical flag, earmark per distinct earmark x (site,
    kind), own item per coverage row), then looked up per pair; the string columns are
    gathered once, for the pairs kept.
    """
    if not _by_codes(needs, groups, cov):
        return _candidates_by_merge(needs, groups, cov, minutes)
    p_need, p_grp, p_cov = _covered_pairs(needs, groups, cov)
    # hard rule 6: travel per depot x site
    s_code, s_uniq = pd.factorize(needs.site_id)
    d_code, d_uniq = pd.factorize(groups.depot_id)
    d_x, s_x = _cross(np.asarray(d_uniq, dtype=object), np.asarray(s_uniq, dtype=object))
    travel = rules.travel_lookup(minutes, d_x, s_x).reshape(len(d_uniq), len(s_uniq))
    p_travel = travel[d_code[p_grp], s_code[p_need]]
    ok = rules.reachable(p_travel)
    # hard rule 4: grade per group, for a non-clinical (row 0) and a clinical (row 1) site
    grade = groups.grade
    grade_ok = np.stack([rules.grade_allows(grade, np.zeros(len(grade), dtype=bool)),
                         rules.grade_allows(grade, np.ones(len(grade), dtype=bool))])
    ok &= grade_ok[needs.clinical.to_numpy(dtype=bool)[p_need].astype(np.intp), p_grp]
    # hard rule 5: earmark per distinct earmark x distinct (site, kind)
    e_code, e_uniq = pd.factorize(pd.Series(_objects(zip(groups.em_sites, groups.em_kinds)), dtype=object))
    k_code, k_uniq = pd.factorize(needs.kind)
    sk_uniq, sk_code = np.unique(s_code.astype(np.int64) * len(k_uniq) + k_code, return_inverse=True)
    e_x, sk_x = _cross(np.arange(len(e_uniq)), sk_uniq)
    earmarks = _objects(e_uniq)
    earmark = rules.earmark_allows(_objects(e[0] for e in earmarks)[e_x], _objects(e[1] for e in earmarks)[e_x],
                                   np.asarray(s_uniq, dtype=object)[sk_x // len(k_uniq)],
                                   np.asarray(k_uniq, dtype=object)[sk_x % len(k_uniq)])
    ok &= earmark.reshape(len(e_uniq), len(sk_uniq))[e_code[p_grp], sk_code[p_need]]
    keep = np.flatnonzero(ok)
    n_idx, g_idx, c_idx = p_need[keep], p_grp[keep], p_cov[keep]
    weight = _take(groups.weight, g_idx)
    travel_min = p_travel[keep]
    columns = {
        "group": _take(groups.group, g_idx),
        "need": n_idx,  # the need's row: needs has the index 0..n-1 (_by_codes)
        "depot_id": _take(groups.depot_id, g_idx),
        "site_id": _take(needs.site_id, n_idx),
        "item_id": _take(cov.item_id, c_idx),
        "need_item_id": _take(needs.item_id, n_idx),
        "ratio": _take(cov.ratio, c_idx),
        "tier": _take(needs.tier, n_idx),
        "weight": weight,
        "travel_min": travel_min,
        "cost": rules.transport_cost(weight, travel_min),
        "own": rules.own_item(cov.item_id, cov.need_item_id)[c_idx],
    }
    # copy=False: each column keeps its own block (no stacking of a million rows into 2-d blocks)
    return pd.DataFrame({k: columns[k] for k in CAND_COLUMNS}, copy=False)


def prepare(
    sc: Scenario,
    travel: pd.DataFrame | NetworkTravel | None = None,
    locks: Iterable[Any] = (),
    exclude: Iterable[str] = (),
) -> RoundData:
    """Check the scenario and compute the round's arrays (see the module docstring).

    The steps: the sites and depots taking part (:func:`excluded_ids`), travel
    (:func:`travel_for`, :func:`travel_matrix`), needs (:func:`need_rows`), usable lots
    and their groups (:func:`usable_stock`, :func:`lot_groups`), the substitution table
    (:func:`allocator.rules.coverage`) and the candidate shipments (:func:`candidates`).
    """
    check_scenario(sc)
    excluded = excluded_ids(sc, exclude)
    warnings: list[str] = list(sc.warnings)
    items = sc.items.set_index("item_id")
    items = items.assign(weight=rules.unit_weight(items))
    sites = sc.sites[rules.kept(sc.sites.site_id, excluded)].set_index("site_id")
    depots = sc.depots[rules.kept(sc.depots.depot_id, excluded)].set_index("depot_id")

    tr = travel_for(sc, travel)
    if tr.fallback:
        warnings.append(tr.reason or FALLBACK_WARNING)
    minutes = travel_matrix(tr, depots, sites, warnings)

    all_needs = need_rows(sc, sites)
    needs = all_needs[all_needs.quantity > 0].reset_index(drop=True)
    lots = usable_stock(sc, depots)
    groups = lot_groups(lots, items)
    cov = rules.coverage(items.index, sc.substitutes)
    return RoundData(
        scenario=sc, needs=needs, all_needs=all_needs.copy(), lots=lots, groups=groups,
        cand=candidates(needs, groups, cov, minutes), travel=tr,
        capacity=rules.dispatch_capacity(depots.index, depots.dispatch_capacity_kg),
        items=items, sites=sites, depots=depots, subs=rules.substitutes_of(cov),
        locks=as_locks(locks, sc), excluded=excluded, warnings=warnings, coverage=cov,
    )
