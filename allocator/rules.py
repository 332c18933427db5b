"""The allocation rules, one named function each (``allocation-rules.md``, numbered as there).

Every rule of ``allocation-rules.md`` that decides *whether* a unit may go somewhere
or *how much* something counts lives here, once, as a vectorised function over plain
arrays and DataFrames; the round (:mod:`allocator.allocate.prepare`, ``overrides``,
``explain``), the loader's warnings (:mod:`allocator.validate`) and the demand
estimate (:mod:`allocator.demand`) call these functions instead of writing the test
again. What is an optimisation rather than a test (the tier, own-item and fairness
stages, the whole-unit rounding) lives in the constraint family or stage named in
:data:`RULES`. This module imports nothing from the rest of the library but the
schema, so any layer may use it. The independent round checker
(``allocator/testing.py``) does *not* use it, on purpose.

Rule -> function (:data:`RULES` holds the same table; ``tests/test_rules.py`` checks
that every rule of the document has an entry and every entry exists):

=========================  ==============================================================
rule                       function(s)
=========================  ==============================================================
hard.1 stock               :func:`lot_expired`, :func:`lot_held`, :func:`lot_usable`;
                           ``model.define_stock_limits``
hard.2 need                :func:`need_units`, :func:`need_room`;
                           ``model.define_need_limits``; ``extract.to_integers`` (packs)
hard.3 substitution        :func:`coverage`, :func:`substitutes_of`
hard.4 grade               :func:`grade_allows`
hard.5 earmarks            :func:`lot_earmarks`, :func:`earmark_allows`
hard.6 reachability        :func:`travel_lookup`, :func:`reachable`
                           (travel itself: :func:`allocator.network.travel_times`)
hard.7 capacity            :func:`unit_weight`, :func:`shipment_kg`,
                           :func:`dispatch_capacity`; ``model.define_capacity_limits``
hard.8 integers            ``extract.to_integers``
priority.1 tiers           ``classes.solve_tiers`` (``tier[t]``: :func:`need_units` of the tier);
                           ``extract.to_integers`` (rounding keeps the tier order)
priority.1b own item       :func:`own_item`; ``classes.stage_objectives`` (``own``);
                           ``extract.own_item_first``
priority.2 fairness        ``stages.leximin``, ``model.define_fairness``
priority.3 transport       :func:`transport_cost`
priority.4 tie-breaks      :func:`expiry_days`, :func:`lot_donated`; ``extract.assign_lots``
reason.*                   :func:`shortage_reason` (one function, the first that applies)
override.1 exclude         :func:`kept`; ``overrides.check_locks``
override.2 lock            ``model.define_locks``, ``model.define_lock_own_first``,
                           ``overrides.check_locks``
override.3 lock sources    ``prepare.as_locks``
override.4 lock quantity   ``prepare.Lock``, ``prepare.as_locks``
record.1 outstanding       ``store.needs.outstanding``
record.2 stock take        ``store.scenario_io.stock_count``
=========================  ==============================================================

Functions take arrays (or anything :func:`numpy.asarray` accepts, scalars included)
and return boolean masks or float arrays of the same length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from allocator import schema

#: The grade that never goes to a clinical site (hard rule 4).
CIVIL = "civil"
#: The only lot status that may ship (hard rule 1).
AVAILABLE = "available"
#: Lot statuses held back from every round (hard rule 1).
HELD = ("quarantined", "rejected")
#: Shortage reasons in the order they are tried (the first that applies).
REASONS = ("unreachable", "earmarked", "grade", "capacity", "supply")
#: Lots that never expire count as expiring this many days after ``as_of`` (tie-break 4).
NEVER_EXPIRES_DAYS = 3650

#: Rule of ``allocation-rules.md`` -> where it is decided: functions of this module, or
#: ``"module.attribute"`` names of the constraint family, stage or check that enforces it.
#: Keys are ``<section>.<number or code>.<name>``; ``tests/test_rules.py`` parses the
#: document and finds an entry for each of its rules.
RULES: dict[str, tuple[str, ...]] = {}  # filled at the end of the module


# --------------------------------------------------------------------------- helpers

def _series(x: Any) -> pd.Series:
    """``x`` as a Series with a fresh index (a Series is not copied to Python objects: that is slow
    for pandas' string dtype)."""
    if isinstance(x, pd.Series):
        return x.reset_index(drop=True)
    if isinstance(x, pd.Index):
        return pd.Series(x)
    return pd.Series(np.asarray(x, dtype=object).reshape(-1))


def _factorize(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """(code of each value, the distinct values) of ``x``."""
    codes, uniq = pd.factorize(_series(x))
    return np.asarray(codes), np.asarray(uniq, dtype=object)


# --------------------------------------------------------------------------- hard rule 1: stock

def _dates(x: Any) -> pd.Series:
    """Dates as a datetime Series with a fresh index (a missing date is NaT)."""
    if isinstance(x, pd.Series):
        return pd.to_datetime(x.reset_index(drop=True))
    return pd.to_datetime(pd.Series(np.asarray(x, dtype=object).reshape(-1)))


def lot_expired(expires: Any, at: pd.Timestamp) -> np.ndarray:
    """Hard rule 1: the lot has expired at ``as_of`` (a missing date never expires).

    Examples
    --------
    >>> at = pd.Timestamp("2020-02-10")
    >>> lot_expired(pd.to_datetime(pd.Series(["2020-02-09", "2020-02-10", "2020-03-01", None])), at).tolist()
    [True, True, False, False]
    """
    e = _dates(expires)
    return (e.notna() & (e <= at)).to_numpy(dtype=bool)


def lot_held(status: Any) -> np.ndarray:
    """Hard rule 1: the lot is quarantined or rejected.

    Examples
    --------
    >>> lot_held(["available", "quarantined", "rejected"]).tolist()
    [False, True, True]
    """
    return _series(status).isin(HELD).to_numpy(dtype=bool)


def lot_usable(status: Any, quantity: Any, expires: Any, at: pd.Timestamp) -> np.ndarray:
    """Hard rule 1: the lot may ship at ``as_of``: available, quantity > 0, not expired.

    Examples
    --------
    >>> at = pd.Timestamp("2020-02-10")
    >>> lot_usable(["available", "available", "quarantined", "available"], [5, 0, 5, 5],
    ...            pd.to_datetime(pd.Series([None, None, None, "2020-01-01"])), at).tolist()
    [True, False, False, False]
    """
    q = np.asarray(quantity, dtype=float).reshape(-1)
    return (_series(status) == AVAILABLE).to_numpy(dtype=bool) & (q > 0) & ~lot_expired(expires, at)


# --------------------------------------------------------------------------- hard rule 2: need

def need_units(shipped: Any, ratio: Any) -> np.ndarray:
    """Hard rule 2: units of need that ``shipped`` units cover (substitutes by their ratio).

    ``ratio`` is the units of the shipped item that cover one unit of need (1 for the
    item itself).

    Examples
    --------
    >>> need_units([10, 10], [1.0, 2.0]).tolist()
    [10.0, 5.0]
    """
    return np.asarray(shipped, dtype=float) / np.asarray(ratio, dtype=float)


def need_room(need: Any, ratio: Any) -> np.ndarray:
    """Hard rule 2: the most units of a shipped item that a need can take (need x ratio).

    Examples
    --------
    >>> need_room([10, 10], [1.0, 2.0]).tolist()
    [10.0, 20.0]
    """
    return np.asarray(need, dtype=float) * np.asarray(ratio, dtype=float)


# --------------------------------------------------------------------------- hard rule 3: substitution

def coverage(item_ids: Iterable[Any], substitutes: pd.DataFrame) -> pd.DataFrame:
    """Hard rule 3: which shipped item covers which need item, with its ratio.

    Every item covers itself (ratio 1); a row of ``substitutes`` (``item_id``,
    ``substitute_id``, ``ratio``) lets ``substitute_id`` cover ``item_id``, one way.
    An item listed as its own substitute adds nothing; a pair listed twice keeps the
    first ratio.

    Returns
    -------
    DataFrame
        ``need_item_id``, ``item_id`` (the shipped item), ``ratio``: the item itself
        first, then its substitutes in the order given.

    Examples
    --------
    >>> subs = pd.DataFrame({"item_id": ["mask"], "substitute_id": ["n95"], "ratio": [1.0]})
    >>> coverage(["mask", "n95"], subs).values.tolist()
    [['mask', 'mask', 1.0], ['n95', 'n95', 1.0], ['mask', 'n95', 1.0]]
    """
    ids = [str(i) for i in item_ids]
    own = pd.DataFrame({"need_item_id": ids, "item_id": ids, "ratio": np.ones(len(ids))})
    s = substitutes
    if len(s):
        other = pd.DataFrame({"need_item_id": s.item_id.astype(str).to_numpy(),
                              "item_id": s.substitute_id.astype(str).to_numpy(),
                              "ratio": s.ratio.to_numpy(dtype=float)})
        other = other[other.need_item_id != other.item_id]
        own = pd.concat([own, other], ignore_index=True)
    return own.drop_duplicates(["need_item_id", "item_id"]).reset_index(drop=True)


def substitutes_of(cov: pd.DataFrame) -> dict[str, list[tuple[str, float]]]:
    """Hard rule 3: need item -> ``[(shipped item, ratio)]`` from :func:`coverage`, itself first.

    Examples
    --------
    >>> subs = pd.DataFrame({"item_id": ["mask"], "substitute_id": ["n95"], "ratio": [2.0]})
    >>> substitutes_of(coverage(["mask", "n95"], subs))
    {'mask': [('mask', 1.0), ('n95', 2.0)], 'n95': [('n95', 1.0)]}
    """
    out: dict[str, list[tuple[str, float]]] = {}
    for n, i, r in zip(cov.need_item_id.tolist(), cov.item_id.tolist(), cov.ratio.tolist()):
        out.setdefault(str(n), []).append((str(i), float(r)))
    return out


# --------------------------------------------------------------------------- hard rule 4: grade

def grade_allows(grade: Any, clinical: Any) -> np.ndarray:
    """Hard rule 4: goods of ``grade`` may go to a site (civil-grade goods never to a clinical site).

    Examples
    --------
    >>> grade_allows(["medical", "civil", "civil"], [True, True, False]).tolist()
    [True, False, True]
    >>> bool(grade_allows("civil", True)[0])
    False
    """
    civil = (_series(grade) == CIVIL).to_numpy(dtype=bool)
    return ~(civil & np.asarray(clinical, dtype=bool).reshape(-1))


# --------------------------------------------------------------------------- hard rule 5: earmarks

def _ids(value: Any) -> tuple[str, ...]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(sorted(str(v) for v in value))


def lot_earmarks(donation_id: Any, donations: pd.DataFrame) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Hard rule 5: each lot's earmark, (sites, kinds) as sorted tuples (empty: no earmark).

    A lot carries the earmark of the donation it came from (``donations`` has
    ``donation_id``, ``earmark_site_id``, ``earmark_kind``); a lot without a donation,
    or of a donation without an earmark, carries none.

    Examples
    --------
    >>> don = pd.DataFrame({"donation_id": ["G1"], "earmark_site_id": [("H2", "H1")], "earmark_kind": [()]})
    >>> lot_earmarks(["G1", "", "G9"], don)
    ([('H1', 'H2'), (), ()], [(), (), ()])
    """
    by_id = {str(d): (_ids(s), _ids(k)) for d, s, k in zip(
        donations.donation_id, donations.earmark_site_id, donations.earmark_kind)}
    none: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    sig = [by_id.get(str(x), none) if x else none for x in np.asarray(donation_id, dtype=object).reshape(-1)]
    return [s for s, _ in sig], [k for _, k in sig]


def earmark_allows(earmark_sites: Sequence[tuple[str, ...]], earmark_kinds: Sequence[tuple[str, ...]],
                   site_id: Any, kind: Any) -> np.ndarray:
    """Hard rule 5: an earmark (sites, kinds) lets a lot go to a site: both must hold when both are given.

    Vectorised over the distinct earmarks and the distinct sites: one small table lookup
    per earmark.

    Examples
    --------
    >>> earmark_allows([(), ("H1",), ("H1",), (), ("H1",)], [(), (), (), ("fever_clinic",), ("fever_clinic",)],
    ...                ["H2", "H1", "H2", "H2", "H1"],
    ...                ["designated_hospital", "designated_hospital", "fever_clinic", "fever_clinic",
    ...                 "designated_hospital"]).tolist()
    [True, True, False, True, False]
    """
    s_code, s_uniq = _factorize(site_id)
    k_code, k_uniq = _factorize(kind)
    ok = np.ones(len(s_code), dtype=bool)
    if not len(ok):
        return ok
    es_code, es_uniq = _factorize(pd.Series(list(earmark_sites), dtype=object))
    ek_code, ek_uniq = _factorize(pd.Series(list(earmark_kinds), dtype=object))
    sig = es_code * len(ek_uniq) + ek_code
    order = np.argsort(sig, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(sig[order]) != 0])
    for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(order)]):
        rows = order[a:b]
        es, ek = es_uniq[es_code[rows[0]]], ek_uniq[ek_code[rows[0]]]
        if not es and not ek:
            continue
        m = np.ones(len(rows), dtype=bool)
        if es:
            m &= np.isin(s_uniq, list(es))[s_code[rows]]
        if ek:
            m &= np.isin(k_uniq, list(ek))[k_code[rows]]
        ok[rows] = m
    return ok


# --------------------------------------------------------------------------- hard rule 6: reachability

def travel_lookup(minutes: pd.DataFrame, depot_id: Any, site_id: Any) -> np.ndarray:
    """Hard rule 6: travel minutes of each (depot, site) pair; ``inf`` where the matrix has no entry.

    ``minutes`` is a depot x site matrix of travel times under the traffic control in
    force (:func:`allocator.network.travel_times`); unreachable pairs are ``inf``.

    Examples
    --------
    >>> m = pd.DataFrame([[10.0, np.inf]], index=["D1"], columns=["H1", "H2"])
    >>> travel_lookup(m, ["D1", "D1", "D2"], ["H1", "H2", "H1"]).tolist()
    [10.0, inf, inf]
    """
    d_code, d_uniq = _factorize(depot_id)
    s_code, s_uniq = _factorize(site_id)
    if not len(d_code):
        return np.zeros(0)
    di = pd.Index(minutes.index).get_indexer(pd.Index(d_uniq))[d_code]
    si = pd.Index(minutes.columns).get_indexer(pd.Index(s_uniq))[s_code]
    mat = minutes.to_numpy(dtype=float)
    out = np.full(len(d_code), np.inf)
    ok = (di >= 0) & (si >= 0)
    out[ok] = mat[di[ok], si[ok]]
    return np.where(np.isnan(out), np.inf, out)


def reachable(travel_min: Any) -> np.ndarray:
    """Hard rule 6: a depot ships to a site only when a vehicle reaches it (finite travel time).

    Examples
    --------
    >>> reachable([12.5, np.inf, np.nan]).tolist()
    [True, False, False]
    """
    return np.isfinite(np.asarray(travel_min, dtype=float))


# --------------------------------------------------------------------------- hard rule 7: capacity

def unit_weight(items: pd.DataFrame, of: Any = None) -> pd.Series:
    """Hard rule 7: kg of one unit of each item (the schema's default where not given).

    The default (1 kg a unit) is the schema's (``allocator/schema/columns.csv``); a
    checked scenario has it already, this applies it to tables that were not checked.

    Parameters
    ----------
    items : DataFrame
        With ``unit_weight_kg`` (the column may be absent: every unit weighs the default).
    of : array-like of item ids, optional
        Return the weight of these items instead (``items`` indexed by ``item_id``), the
        default for an id that ``items`` does not list.

    Returns
    -------
    Series of float
        Indexed like ``items``, or by ``of``.

    Examples
    --------
    >>> items = pd.DataFrame({"unit_weight_kg": [0.5, None]}, index=["n95", "kit"])
    >>> unit_weight(items).to_dict()
    {'n95': 0.5, 'kit': 1.0}
    >>> unit_weight(items, of=["kit", "n95", "other"]).tolist()
    [1.0, 0.5, 1.0]
    """
    default = float(schema.tables()["items"].column("unit_weight_kg").literal_default or 1)
    if "unit_weight_kg" in items:
        w = items.unit_weight_kg.astype(float).fillna(default)
    else:
        w = pd.Series(default, index=items.index, dtype=float, name="unit_weight_kg")
    if of is None:
        return w
    ids = pd.Index(np.asarray(of, dtype=object).reshape(-1))
    return w.reindex(ids).fillna(default)


def shipment_kg(quantity: Any, weight: Any) -> np.ndarray:
    """Hard rule 7: the weight of shipments (units x kg a unit) counted against dispatch capacity.

    Examples
    --------
    >>> shipment_kg([10, 4], [0.5, 1.0]).tolist()
    [5.0, 4.0]
    """
    return np.asarray(quantity, dtype=float) * np.asarray(weight, dtype=float)


def dispatch_capacity(depot_id: Any, capacity_kg: Any) -> dict[str, float]:
    """Hard rule 7: the depots whose dispatch is limited, with their limit in kg (others: unlimited).

    Examples
    --------
    >>> dispatch_capacity(["D1", "D2", "D3"], [500.0, None, np.inf])
    {'D1': 500.0}
    """
    d = np.asarray(depot_id, dtype=object).reshape(-1)
    c = pd.to_numeric(pd.Series(np.asarray(capacity_kg, dtype=object).reshape(-1)), errors="coerce").to_numpy(float)
    return {str(k): float(v) for k, v in zip(d, c) if np.isfinite(v)}


# --------------------------------------------------------------------------- priorities

def own_item(item_id: Any, need_item_id: Any) -> np.ndarray:
    """Priority 1b: the shipment covers a need of its own item (not as a substitute).

    Examples
    --------
    >>> own_item(["n95", "n95"], ["n95", "mask"]).tolist()
    [True, False]
    """
    return (_series(item_id) == _series(need_item_id)).to_numpy(dtype=bool)


def transport_cost(weight: Any, travel_min: Any) -> np.ndarray:
    """Priority 3: the cost of one unit shipped, w_i x t_ds (kg a unit x travel minutes).

    Examples
    --------
    >>> transport_cost([0.5, 2.0], [10.0, 3.0]).tolist()
    [5.0, 6.0]
    """
    return np.asarray(weight, dtype=float) * np.asarray(travel_min, dtype=float)


def expiry_days(expires: Any, at: pd.Timestamp) -> np.ndarray:
    """Priority 4 (first-expiry-first-out): days from ``as_of`` to a lot's expiry; sooner ships first.

    A lot that never expires counts as :data:`NEVER_EXPIRES_DAYS` days away, as does
    any later date.

    Examples
    --------
    >>> at = pd.Timestamp("2020-02-10")
    >>> expiry_days(pd.to_datetime(pd.Series(["2020-02-12", None])), at).tolist()
    [2.0, 3650.0]
    """
    e = _dates(expires)
    days = ((e - at).dt.total_seconds() / 86400.0).to_numpy(float)
    return np.where(np.isnan(days), float(NEVER_EXPIRES_DAYS), np.minimum(days, float(NEVER_EXPIRES_DAYS)))


def lot_donated(source: Any, donation_id: Any) -> np.ndarray:
    """Priority 4: the lot is donated stock (ships before reserve stock).

    Examples
    --------
    >>> lot_donated(["donation", "reserve", "purchase"], ["", "G1", ""]).tolist()
    [True, True, False]
    """
    return ((_series(source) == "donation") | (_series(donation_id) != "")).to_numpy(dtype=bool)


# --------------------------------------------------------------------------- shortage reasons

#: The facts :func:`shortage_reason` reads, one boolean column each, per short need.
REASON_FACTS = (
    "stocked",         # some depot holds usable stock of the item or a substitute
    "reach",           # ... and one of them reaches the site
    "reach_earmark",   # ... reachable stock whose earmark allows the site
    "reach_earmark_grade",  # ... and whose grade allows the site
    "reach_kept",      # reachable stock left over or sent to a lower tier
    "reach_earmark_kept",   # the same, earmark allowing the site
    "allowed_left",    # reachable, earmark and grade allowing, units left over
    "capacity_stopped",  # ... at a depot whose dispatch capacity is used up
)


def shortage_reason(facts: pd.DataFrame) -> np.ndarray:
    """Shortage reasons: the first of :data:`REASONS` that applies to each short need.

    ``facts`` has one boolean column per name in :data:`REASON_FACTS`.

    - ``unreachable``: no depot holding usable stock of the item or a substitute reaches the site;
    - ``earmarked``: reachable stock exists but earmarks exclude the site (all of it,
      or all that is left or went to a lower tier);
    - ``grade``: what is reachable and allowed by earmark (or left of it) is civil-grade
      and the site is clinical;
    - ``capacity``: a depot with allowed stock left was stopped by its dispatch capacity;
    - ``supply``: otherwise, and whenever no usable stock exists at all.

    Examples
    --------
    >>> f = pd.DataFrame([[True, False, False, False, False, False, False, False],
    ...                   [True, True, False, False, False, False, False, False],
    ...                   [True, True, True, False, False, False, False, False],
    ...                   [True, True, True, True, True, True, True, True],
    ...                   [True, True, True, True, False, False, False, False],
    ...                   [False, False, False, False, False, False, False, False]], columns=REASON_FACTS)
    >>> shortage_reason(f).tolist()
    ['unreachable', 'earmarked', 'grade', 'capacity', 'supply', 'supply']
    """
    f = {k: facts[k].to_numpy(dtype=bool) for k in REASON_FACTS}
    why = np.select(
        [~f["reach"],
         ~f["reach_earmark"] | (~f["reach_earmark_kept"] & f["reach_kept"]),
         ~f["reach_earmark_grade"] | (~f["allowed_left"] & f["reach_earmark_kept"]),
         f["capacity_stopped"]],
        list(REASONS[:4]), default="supply")
    return np.where(f["stocked"], why, "supply").astype(object)


# --------------------------------------------------------------------------- overrides

def kept(ids: Any, excluded: Iterable[str]) -> np.ndarray:
    """Overrides: the depots or sites that take part in the round (not excluded by an officer).

    Examples
    --------
    >>> kept(["D1", "H1", "H2"], {"H2"}).tolist()
    [True, True, False]
    """
    return ~_series(ids).astype(str).isin(sorted(str(x) for x in excluded)).to_numpy(dtype=bool)


# --------------------------------------------------------------------------- the table

RULES.update({
    "hard.1.stock": ("lot_expired", "lot_held", "lot_usable", "allocator.allocate.model.define_stock_limits"),
    "hard.2.need": ("need_units", "need_room", "allocator.allocate.model.define_need_limits",
                    "allocator.allocate.extract.to_integers"),
    "hard.3.substitution": ("coverage", "substitutes_of"),
    "hard.4.grade": ("grade_allows",),
    "hard.5.earmarks": ("lot_earmarks", "earmark_allows"),
    "hard.6.reachability": ("travel_lookup", "reachable", "allocator.network.travel_times"),
    "hard.7.capacity": ("unit_weight", "shipment_kg", "dispatch_capacity",
                        "allocator.allocate.model.define_capacity_limits"),
    "hard.8.integers": ("allocator.allocate.extract.to_integers",),
    "priority.1.tiers": ("allocator.allocate.classes.solve_tiers", "allocator.allocate.extract.to_integers"),
    "priority.1b.own_item": ("own_item", "allocator.allocate.classes.stage_objectives",
                             "allocator.allocate.extract.own_item_first"),
    "priority.2.fairness": ("allocator.allocate.stages.leximin", "allocator.allocate.model.define_fairness"),
    "priority.3.transport": ("transport_cost",),
    "priority.4.tie_breaks": ("expiry_days", "lot_donated", "allocator.allocate.extract.assign_lots"),
    "reason.unreachable": ("shortage_reason",),
    "reason.earmarked": ("shortage_reason",),
    "reason.grade": ("shortage_reason",),
    "reason.capacity": ("shortage_reason",),
    "reason.supply": ("shortage_reason",),
    "override.1.exclude": ("kept", "allocator.allocate.overrides.check_locks"),
    "override.2.lock": ("allocator.allocate.model.define_locks", "allocator.allocate.model.define_lock_own_first",
                        "allocator.allocate.overrides.check_locks"),
    "override.3.lock_sources": ("allocator.allocate.prepare.as_locks",),
    "override.4.lock_quantity": ("allocator.allocate.prepare.Lock", "allocator.allocate.prepare.as_locks"),
    "record.1.outstanding": ("allocator.store.needs.outstanding",),
    "record.2.stock_take": ("allocator.store.scenario_io.stock_count",),
})
