"""Needs from beds, patients, staff and consumption norms; days of supply; burn rates.

The method (``docs/demand.md`` explains it with the provenance of every number):

1. **People per site and day.** ``persons`` is the site's ``patients``, else its
   ``beds`` (full occupancy), else 0. For non-clinical kinds (quarantine sites,
   communities, ...) ``patients`` counts the people isolated or served there.
   Persons are split into groups (``mild``, ``moderate``, ``severe``,
   ``critical``, ``isolated``) by the site kind's ``severity_mix``. Staff on duty
   per day (``staff``) are split into roles by the kind's ``role_mix``; when
   ``staff`` is not given, role shifts come from the ``staffing`` ratios (WHO
   ESFT: 4 health-worker shifts per critical patient-day, 2.3 per severe).
2. **Daily use per category** = sum over roles and groups of people x the
   ``use`` norm (units per person per day).
3. **Category to item.** A category's whole daily use goes to its *primary
   item*: the first medical-grade item of that category in ``items.csv`` order,
   else the first item of the category. Categories never cross (a respirator
   need is a respirator need; ``substitutes.csv`` says what may be shipped
   instead). Categories without a norm (medicine, device, other) are never
   estimated, only requested.
4. **Need.** ``estimate = max(0, ceil(days_of_cover x daily_use - on_hand))``,
   in the norm's unit (``convert`` rows turn kits, bottles, boxes into tests,
   litres, pairs) and then in the primary item's unit,
   where ``on_hand`` is the latest ``site_stock`` count at or before ``as_of``
   of every item of the category the site may use (civil-grade stock does not
   count at clinical sites).
5. **Requested or estimated.** A site that sent any row in ``needs.csv`` keeps
   its requests; other sites get the estimate.
6. **Review flags** (:func:`review_flags`), per item, ranked, each with why.
   A request of an item with an estimate is *off* when it is more than 2x or
   less than 0.5x the estimate and the gap is at least one day of the site's
   use (an item a site did not ask for is its choice, not flagged). When most sites of a kind are off the same
   way for an item (at least 3 sites; the median ratio is off), that is one
   *group* flag: the norm, the unit or the way sites ask differs, and an
   officer acts once for the group. A site off from its own estimate where
   its kind is not, or 2x away from what its peers ask, is a *request* flag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from allocator import rules, schema
from allocator.errors import ScenarioError, ScenarioFormatError
from allocator.scenario import Scenario
from allocator.validate import Report

if TYPE_CHECKING:
    from pandas.api.typing import NAType

#: Staff roles of the norms table (ESFT roles plus ``community_worker``).
ROLES: tuple[str, ...] = (
    "inpatient_health_worker",
    "inpatient_cleaner",
    "screening_health_worker",
    "lab_technician",
    "ambulance_crew",
    "community_worker",
)
#: Groups of people cared for or isolated at a site.
GROUPS: tuple[str, ...] = ("mild", "moderate", "severe", "critical", "isolated")
#: The sections of a norms file, in the ``table`` column.
SECTIONS: tuple[str, ...] = ("use", "staffing", "severity_mix", "role_mix", "convert")
#: Required columns of a norms file (``unit`` is optional documentation).
NORMS_COLUMNS: tuple[str, ...] = ("table", "who", "what", "value", "source")
#: A request outside [estimate x REVIEW_LOW, estimate x REVIEW_HIGH] is off.
REVIEW_HIGH, REVIEW_LOW = 2.0, 0.5
#: Sites of one kind needed to call a pattern a group flag.
REVIEW_PEERS = 3
#: A request is off only when it is at least this many days of use away from its estimate.
REVIEW_MIN_DAYS = 1.0
FLAG_COLUMNS = ["flag", "scope", "code", "item_id", "kind", "site_ids", "n_sites", "requested", "estimate",
                "ratio", "peer_ratio"]

ORIGIN_REQUESTED, ORIGIN_ESTIMATED, ORIGIN_NOT_REQUESTED = "requested", "estimated", "not_requested"

_MIX_TOL = 1e-6


# --------------------------------------------------------------------------- norms


@dataclass(frozen=True)
class Norms:
    """A checked norms table, split by section.

    Attributes
    ----------
    use : DataFrame
        ``who`` (role or group) x item ``category``: units per person per day.
    staffing : DataFrame
        group x role: shifts per person-day, used when a site gives no ``staff``.
    severity_mix : DataFrame
        site kind x group: fraction of the site's persons.
    role_mix : DataFrame
        site kind x role: fraction of the site's staff.
    units : dict of str to str
        The unit each category's ``use`` norms are counted in (``pair`` for gloves).
    convert : dict of (str, str) to float
        (item unit, category) -> norm units in one item unit (a ``kit`` of
        ``test_kit`` holds 48 tests).
    rows : DataFrame
        The file as read (``table, who, what, value, unit, source``).
    path : str
        Where the norms came from.
    """

    use: pd.DataFrame
    staffing: pd.DataFrame
    severity_mix: pd.DataFrame
    role_mix: pd.DataFrame
    units: dict[str, str]
    convert: dict[tuple[str, str], float]
    rows: pd.DataFrame
    path: str

    @property
    def categories(self) -> list[str]:
        """Item categories that have at least one non-zero norm."""
        return [c for c in self.use.columns if (self.use[c] > 0).any()]

    def factor(self, unit: str, category: str) -> float | None:
        """Norm units in one item unit of ``category``; None when they cannot be converted.

        The factor is 1 when the item is counted in the norm's own unit (or
        either unit is not given), else the ``convert`` row for (unit, category).
        """
        norm_unit = self.units.get(category, "")
        if not unit or not norm_unit or unit == norm_unit:
            return 1.0
        return self.convert.get((unit, category))


def default_norms_path() -> Path:
    """The norms table shipped with the package (``allocator/data/norms.csv``)."""
    return Path(str(resources.files("allocator").joinpath("data", "norms.csv")))


def _vocab(section: str) -> tuple[tuple[str, ...], tuple[str, ...], str, str]:
    """(allowed who, allowed what, who noun, what noun) of one section."""
    return {
        "use": (ROLES + GROUPS, schema.ITEM_CATEGORIES, "role or patient group", "item category"),
        "staffing": (GROUPS, ROLES, "patient group", "role"),
        "severity_mix": (schema.SITE_KINDS, GROUPS, "site kind", "patient group"),
        "role_mix": (schema.SITE_KINDS, ROLES, "site kind", "role"),
        "convert": ((), schema.ITEM_CATEGORIES, "item unit", "item category"),
    }[section]


def load_norms(path: str | Path | None = None) -> Norms:
    """Read and check a norms file (the shipped one when ``path`` is None).

    Every problem is reported at once in the contract's format
    ``FILE:ROW: COLUMN: what (got VALUE)``.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with columns ``table, who, what, value, source`` (and optionally
        ``unit``); see ``docs/demand.md``.

    Returns
    -------
    Norms

    Raises
    ------
    ScenarioError
        When the file has errors (unknown category, role or kind, a negative or
        non-numeric rate, missing columns, a role without use norms, mixes that do
        not sum to 1, a site kind without a mix); ``.report`` lists them all.
    ScenarioFormatError
        When the file cannot be read.

    Examples
    --------
    >>> n = load_norms()
    >>> float(n.use.loc["inpatient_health_worker", "gloves"])
    24.0
    """
    p = default_norms_path() if path is None else Path(path)
    label = p.name if path is None else str(path)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ScenarioFormatError(f"{p}: cannot read the norms file: {exc}") from exc
    df = df.rename(columns=lambda c: str(c).strip())
    report = Report()
    missing = [c for c in NORMS_COLUMNS if c not in df.columns]
    for c in missing:
        report.add(label, 1, c, "required column is missing")
    if missing:
        raise ScenarioError(report)
    if "unit" not in df.columns:
        df["unit"] = ""
    df = df.map(lambda s: str(s).strip())
    df = df[~(df[list(NORMS_COLUMNS)] == "").all(axis=1)]

    good = []
    values = {}
    for i, r in df.iterrows():
        row = int(cast(int, i)) + 2  # iterrows types the label as Hashable; read_csv gives integer labels
        ok = True
        if r.table not in SECTIONS:
            report.add(label, row, "table", f"must be one of {', '.join(SECTIONS)}", r.table)
            continue
        whos, whats, who_noun, what_noun = _vocab(r.table)
        if r.table == "convert" and not r.who:
            report.add(label, row, "who", "the item unit is empty", "")
            ok = False
        elif r.table != "convert" and r.who not in whos:
            report.add(label, row, "who", f"unknown {who_noun} (one of {', '.join(whos)})", r.who)
            ok = False
        if r.what not in whats:
            report.add(label, row, "what", f"unknown {what_noun} (one of {', '.join(whats)})", r.what)
            ok = False
        try:
            v = float(r.value)
        except ValueError:
            report.add(label, row, "value", "not a number", r.value)
            continue
        if not math.isfinite(v):
            report.add(label, row, "value", "not a finite number", r.value)
            ok = False
        elif v < 0:
            report.add(label, row, "value", "must be >= 0 (a rate cannot be negative)", r.value)
            ok = False
        elif r.table == "convert" and v == 0:
            report.add(label, row, "value", "a unit conversion must be > 0", r.value)
            ok = False
        elif r.table.endswith("_mix") and v > 1:
            report.add(label, row, "value", "a fraction must be <= 1", r.value)
            ok = False
        if not r.source:
            report.warn(label, row, "source", "no source: name the reference or write 'assumption'", "")
        if ok:
            good.append(i)
            values[i] = v
    df_ok = df.loc[good].assign(value=pd.Series(values, dtype="float64"))
    dup = df_ok.duplicated(["table", "who", "what"], keep="first")
    for i in df_ok.index[dup]:
        report.add(label, int(i) + 2, "what", f"duplicate ({str(df_ok.at[i, 'table'])}, who, what) row",
                   f"{str(df_ok.at[i, 'who'])}, {str(df_ok.at[i, 'what'])}")
    df_ok = df_ok[~dup]
    _check_coherence(df, df_ok, label, report)
    if report.errors:
        raise ScenarioError(report)

    def pivot(section: str, index: tuple[str, ...], columns: tuple[str, ...]) -> pd.DataFrame:
        part = df_ok[df_ok.table == section]
        m = part.pivot(index="who", columns="what", values="value") if len(part) else pd.DataFrame()
        return m.reindex(index=list(index), columns=list(columns)).fillna(0.0).astype("float64")

    use_rows = df_ok[(df_ok.table == "use") & (df_ok.unit != "")]
    conv = df_ok[df_ok.table == "convert"]
    return Norms(
        use=pivot("use", ROLES + GROUPS, schema.ITEM_CATEGORIES),
        staffing=pivot("staffing", GROUPS, ROLES),
        severity_mix=pivot("severity_mix", schema.SITE_KINDS, GROUPS),
        role_mix=pivot("role_mix", schema.SITE_KINDS, ROLES),
        units=dict(zip(use_rows.what, use_rows.unit)),
        convert={(w, c): float(v) for w, c, v in zip(conv.who, conv.what, conv.value)},
        rows=df.reset_index(drop=True),
        path=str(p),
    )


def _check_coherence(df: pd.DataFrame, ok: pd.DataFrame, label: str, report: Report) -> None:
    """Roles and groups that are used have use norms; every kind has mixes summing to 1."""
    has_use = set(ok.loc[ok.table == "use", "who"])
    use = ok[(ok.table == "use") & (ok.unit != "")]
    for cat, part in use.groupby("what"):
        if part.unit.nunique() > 1:
            first = part.unit.iloc[0]
            for i in part.index[part.unit != first]:
                report.add(label, int(i) + 2, "unit",
                           f"use norms of {cat} must share one unit (row {int(part.index[0]) + 2} says {first})",
                           part.at[i, "unit"])
    for i, table, what in zip(df.index.tolist(), df["table"].tolist(), df["what"].tolist()):
        if table in ("staffing", "role_mix") and what in ROLES and what not in has_use:
            report.add(label, int(i) + 2, "what", "role has no use rows (missing role in the use table)", what)
        if table == "severity_mix" and what in GROUPS and what not in has_use:
            report.add(label, int(i) + 2, "what", "patient group has no use rows", what)
    for section, noun in (("severity_mix", "severity_mix"), ("role_mix", "role_mix")):
        part = ok[ok.table == section]
        all_rows = df[df.table == section]
        for kind in schema.SITE_KINDS:
            rows = part[part.who == kind]
            if not len(rows):
                if not (all_rows.who == kind).any():
                    report.add(label, None, "who", f"no {noun} rows for site kind {kind}", kind)
                continue
            total = float(rows.value.sum())
            if abs(total - 1.0) > _MIX_TOL:
                report.add(label, int(rows.index[0]) + 2, "value",
                           f"{noun} fractions of {kind} must sum to 1", f"{total:g}")


# --------------------------------------------------------------------------- people


def site_people(scenario: Scenario, norms: Norms | None = None) -> pd.DataFrame:
    """People per site and day by role and patient group.

    Parameters
    ----------
    scenario : Scenario
    norms : Norms, optional
        Default: the shipped norms.

    Returns
    -------
    DataFrame
        Indexed by ``site_id``; one column per role and group (person-days per
        day, may be fractional), plus ``persons`` and ``staff_basis``
        (``given`` or ``staffing ratios``).

    Examples
    --------
    >>> from allocator import examples
    >>> p = site_people(examples.demand_hospital())
    >>> float(p.loc["DH100", "inpatient_health_worker"])
    120.0
    """
    n = norms or load_norms()
    s = scenario.sites.set_index("site_id")
    persons = s.patients.astype("Float64").fillna(s.beds.astype("Float64")).fillna(0).astype(float)
    by_group = n.severity_mix.reindex(s.kind).to_numpy() * persons.to_numpy()[:, None]
    groups = pd.DataFrame(by_group, index=s.index, columns=list(GROUPS))
    from_ratios = groups @ n.staffing
    staff = s.staff.astype("Float64")
    by_mix = pd.DataFrame(
        n.role_mix.reindex(s.kind).to_numpy() * staff.fillna(0).astype(float).to_numpy()[:, None],
        index=s.index, columns=list(ROLES),
    )
    given = staff.notna().to_numpy()
    roles = pd.DataFrame(
        np.where(given[:, None], by_mix.to_numpy(), from_ratios.to_numpy()),
        index=s.index, columns=list(ROLES),
    )
    out = pd.concat([roles, groups], axis=1)
    out["persons"] = persons
    out["staff_basis"] = np.where(given, "given", "staffing ratios")
    return out


# --------------------------------------------------------------------------- items


def primary_items(scenario: Scenario) -> dict[str, str]:
    """The item that receives each category's estimate.

    The first medical-grade item of the category in ``items.csv`` order, else
    the first item of the category.

    Examples
    --------
    >>> from allocator import examples
    >>> primary_items(examples.grades_and_earmarks())["suit"]
    'suit'
    """
    out: dict[str, str] = {}
    items = scenario.items
    for cat, part in items.groupby("category", sort=False):
        med = part[part.grade == "medical"]
        out[str(cat)] = str((med if len(med) else part).item_id.iloc[0])
    return out


def latest_counts(scenario: Scenario) -> pd.DataFrame:
    """The latest ``site_stock`` count per (site, item) dated at or before ``as_of``.

    Returns
    -------
    DataFrame
        ``site_id, item_id, date, on_hand`` (empty when no counts are given).
    """
    ss = scenario.site_stock
    ss = ss[ss.date.notna() & (ss.date <= scenario.at)]
    if ss.empty:
        return pd.DataFrame({"site_id": pd.Series([], dtype=str), "item_id": pd.Series([], dtype=str),
                             "date": pd.Series([], dtype="datetime64[ns]"),
                             "on_hand": pd.Series([], dtype="int64")})
    ss = ss.sort_values("date", kind="stable")
    last = ss.groupby(["site_id", "item_id"], sort=False).tail(1)
    return last[["site_id", "item_id", "date", "on_hand"]].reset_index(drop=True)


def _ceil(x: float) -> int:
    # round first so that 3 x 0.1 = 0.30000000000000004 does not become 1 unit too many
    return int(math.ceil(round(x, 6)))


def _daily_use(scenario: Scenario, norms: Norms) -> pd.DataFrame:
    """Daily use per (site, category) as a site x category frame."""
    people = site_people(scenario, norms)
    who = list(ROLES + GROUPS)
    return people[who] @ norms.use.loc[who]


# --------------------------------------------------------------------------- estimate


def estimate(scenario: Scenario, days_of_cover: float = 3, norms: Norms | str | Path | None = None) -> pd.DataFrame:
    """Estimated and requested needs per site and item.

    Parameters
    ----------
    scenario : Scenario
    days_of_cover : float, default 3
        Days of use the round should cover.
    norms : Norms or path, optional
        The consumption norms; default the shipped ``allocator/data/norms.csv``.

    Returns
    -------
    DataFrame
        One row per (site, item) that has a daily use, a count on hand or a
        request, in site and item order, with columns

        - ``site_id, item_id, category``;
        - ``daily_use``: item units per day from the norms (the category's use,
          converted to the primary item's unit; 0 on other items);
        - ``on_hand``: this item's latest site count (0 when none);
        - ``estimate``: ``max(0, ceil(days_of_cover x daily_use - category on hand))``
          on the primary item, 0 on others, NA for categories without a norm;
        - ``requested``: the quantity in ``needs.csv`` (NA when not requested);
        - ``need``: what the round uses: ``requested`` for a site that sent
          needs, else ``estimate`` (0 for ``not_requested`` rows);
        - ``origin``: ``requested``; ``estimated`` (site sent no needs); or
          ``not_requested`` (the site sent needs, but not for this item);
        - ``review``: a review flag covers the row (:func:`review_flags`);
        - ``flag``: the number of that flag (0 when none).

        ``attrs["warnings"]`` lists items whose unit could not be converted
        to their category's norm unit (they are counted 1 : 1);
        ``attrs["review_flags"]`` holds the ranked flags (records of
        :func:`review_flags`).

    Raises
    ------
    ScenarioError
        When a given norms file is invalid.

    Examples
    --------
    >>> from allocator import examples
    >>> e = estimate(examples.demand_hospital(), days_of_cover=3)
    >>> int(e.set_index("item_id").loc["mask", "daily_use"])
    760
    """
    n = norms if isinstance(norms, Norms) else load_norms(norms)
    items = scenario.items.set_index("item_id")
    sites = scenario.sites.set_index("site_id")
    use = _daily_use(scenario, n)
    primary = primary_items(scenario)
    normed = set(n.categories)

    counts = latest_counts(scenario)
    on_hand: dict[tuple[str, str], int] = {
        (s_id, it): int(q)
        for s_id, it, q in zip(counts["site_id"].tolist(), counts["item_id"].tolist(), counts["on_hand"].tolist())
    }
    req = scenario.needs if scenario.has("needs") else scenario.table("needs")
    requested: dict[tuple[str, str], int] = {
        (s_id, it): int(q)
        for s_id, it, q in zip(req["site_id"].tolist(), req["item_id"].tolist(), req["quantity"].tolist())
    }
    requesting = set(req.site_id)

    warnings: list[str] = []

    def factor(item_id: str) -> float:
        unit, cat = str(items.at[item_id, "unit"]), str(items.at[item_id, "category"])
        f = n.factor(unit, cat)
        if f is None:
            msg = (f"item {item_id}: no conversion from {unit} to the {cat} norm's unit "
                   f"({n.units.get(cat)}); counted as 1 {n.units.get(cat)} per {unit}")
            if msg not in warnings:
                warnings.append(msg)
            return 1.0
        return f

    item_rows = list(zip(items.index, items.category))
    use_at = use.to_dict(orient="index")
    held_by_site: dict[str, list[tuple[str, int]]] = {}
    for (s_id, it), q in on_hand.items():
        held_by_site.setdefault(s_id, []).append((it, q))
    rows = []
    # civil-grade stock held at a clinical site does not count (hard rule 4: it may not be used there)
    usable_at_clinical = dict(zip(items.index, rules.grade_allows(items.grade, True)))
    for site_id, clinical in zip(sites.index, sites.clinical):
        # what the site holds of each category, in the norm's unit
        cat_on_hand: dict[str, float] = {}
        for it, q in held_by_site.get(site_id, []):
            if it not in items.index:
                continue
            if clinical and not usable_at_clinical[it]:
                continue
            cat = str(items.at[it, "category"])
            if cat in normed:
                cat_on_hand[cat] = cat_on_hand.get(cat, 0.0) + q * factor(it)
        for item_id, cat in item_rows:
            is_primary = primary.get(cat) == item_id and cat in normed
            f = factor(item_id) if is_primary else 1.0
            use_norm = float(use_at[site_id][cat]) if is_primary else 0.0
            du = use_norm / f
            oh = on_hand.get((site_id, item_id), 0)
            key = (site_id, item_id)
            if not (du > 0 or oh > 0 or key in requested):
                continue
            est: int | NAType
            if cat not in normed:
                est = pd.NA
            elif is_primary:
                est = max(0, _ceil((days_of_cover * use_norm - cat_on_hand.get(cat, 0.0)) / f))
            else:
                est = 0
            if key in requested:
                origin, need = ORIGIN_REQUESTED, requested[key]
            elif site_id in requesting:
                origin, need = ORIGIN_NOT_REQUESTED, 0
            else:
                origin, need = ORIGIN_ESTIMATED, est if isinstance(est, int) else 0
            rows.append({
                "site_id": site_id, "item_id": item_id, "category": cat,
                "daily_use": du, "on_hand": oh, "estimate": est,
                "requested": requested.get(key, pd.NA), "need": need, "origin": origin,
            })
    out = pd.DataFrame(rows, columns=["site_id", "item_id", "category", "daily_use", "on_hand",
                                      "estimate", "requested", "need", "origin"])
    out = out.astype({"site_id": str, "item_id": str, "category": str, "daily_use": "float64",
                      "on_hand": "int64", "estimate": "Int64", "requested": "Int64",
                      "need": "int64", "origin": str})
    kinds = dict(zip(sites.index.tolist(), sites["kind"].astype(str).tolist())) if "kind" in sites else {}
    flags, covered = _review(out, kinds)
    out["review"] = covered > 0
    out["flag"] = covered.astype("int64")
    out.attrs["warnings"] = warnings
    out.attrs["review_flags"] = flags.to_dict("records")  # plain records: pandas compares attrs
    return out


def _off(ratio: float) -> bool:
    return ratio > REVIEW_HIGH or ratio < REVIEW_LOW


def _review(out: pd.DataFrame, kinds: dict[str, str]) -> tuple[pd.DataFrame, pd.Series]:
    """The ranked review flags and, per row of ``out``, the flag that covers it (0 for none)."""
    covered = pd.Series(0, index=out.index, dtype="int64")
    asked = out[(out.origin == ORIGIN_REQUESTED) & out.estimate.notna()]
    asked = asked[asked.estimate.astype("float64") > 0]
    if asked.empty:
        return pd.DataFrame(columns=FLAG_COLUMNS), covered
    req = asked.requested.fillna(0).astype("float64")
    est = asked.estimate.astype("float64")
    ratio = req / est
    gap_days = (req - est).abs() / asked.daily_use.where(asked.daily_use > 0)
    material = gap_days.fillna(np.inf) >= REVIEW_MIN_DAYS
    kind = asked.site_id.map(lambda s: kinds.get(s, ""))
    found: list[tuple[dict, list]] = []
    for key, idx in asked.groupby([asked.item_id, kind], sort=False).groups.items():
        item_id, k = cast(tuple[str, str], key)  # groups types its keys as Hashable; two keys make a tuple
        r = ratio[idx]
        med = float(r.median())
        group = len(idx) >= REVIEW_PEERS and _off(med)
        if group:
            same_side = [i for i in idx if _off(ratio[i]) and (ratio[i] > 1) == (med > 1)]
            rows = [i for i in same_side if material[i]]
            if rows:
                ex = max(rows, key=lambda i: abs(np.log(max(ratio[i], 1e-9))))
                found.append(({"scope": "group", "code": "group_above" if med > 1 else "group_below",
                               "item_id": item_id, "kind": k, "ratio": med, "peer_ratio": med,
                               "example": f"{str(asked.at[ex, 'site_id'])} {int(req[ex])} / {int(est[ex])}"}, rows))
            rest = [i for i in idx if i not in set(rows) and material[i] and not (REVIEW_LOW <= ratio[i] / med
                                                                                    <= REVIEW_HIGH)]
            for i in rest:
                found.append(({"scope": "request", "code": "unlike_peers", "item_id": item_id, "kind": k,
                               "ratio": float(ratio[i]), "peer_ratio": med}, [i]))
            continue
        for i in idx:
            if _off(float(ratio[i])) and material[i]:
                found.append(({"scope": "request", "code": "request_above" if ratio[i] > 1 else "request_below",
                               "item_id": item_id, "kind": k, "ratio": float(ratio[i]),
                               "peer_ratio": med if len(idx) >= REVIEW_PEERS else np.nan}, [i]))
    found.sort(key=lambda f: (-abs(np.log(max(f[0]["ratio"], 1e-9))), -len(f[1]), f[0]["item_id"], f[0]["kind"]))
    rows_out = []
    for n, (f, rows) in enumerate(found, start=1):
        covered[rows] = n
        rows_out.append({
            "flag": n, "scope": f["scope"], "code": f["code"], "item_id": f["item_id"], "kind": f["kind"],
            "site_ids": tuple(str(asked.at[i, "site_id"]) for i in rows), "n_sites": len(rows),
            "requested": int(req[rows].sum()), "estimate": int(est[rows].sum()), "ratio": float(f["ratio"]),
            "peer_ratio": float(f["peer_ratio"]), "example": f.get("example", ""),
        })
    flags = pd.DataFrame(rows_out, columns=[*FLAG_COLUMNS, "example"])
    return flags, covered


def review_flags(scenario: Scenario, days_of_cover: float = 3,
                 norms: Norms | str | Path | None = None) -> pd.DataFrame:
    """The requests an officer should review, per item, ranked (farthest from the estimate first).

    Returns
    -------
    DataFrame
        One row per flag: ``flag`` (its rank), ``scope`` (``group``: the sites
        of one kind ask the same way far from the estimate; ``request``: one
        site), ``code`` (``group_below``, ``group_above``, ``request_below``,
        ``request_above``, ``unlike_peers``: the catalogue's
        ``records.flag.<code>`` says why, see :func:`flag_message`),
        ``item_id, kind, site_ids, n_sites, requested, estimate`` (summed over
        the sites), ``ratio`` (requested / estimate; the median for a group),
        ``peer_ratio`` (the median of the item's sites of that kind).

    Examples
    --------
    >>> from allocator import examples
    >>> f = review_flags(examples.demand_mixed())
    >>> f[["scope", "code", "item_id", "site_ids"]].iloc[0].tolist()
    ['request', 'request_above', 'mask', ('H1',)]
    >>> flag_message(f.iloc[0])
    'H1 asks 5,000 mask, 2.2x the 2,280 estimated from its beds, patients and staff'
    """
    est = estimate(scenario, days_of_cover=days_of_cover, norms=norms)
    return pd.DataFrame(est.attrs["review_flags"], columns=[*FLAG_COLUMNS, "example"])


def flag_message(flag: Any, lang: str = "en") -> str:
    """Why a review flag was raised, in ``lang`` (a row of :func:`review_flags`)."""
    from allocator.i18n import t

    def pct(x: float) -> str:
        return f"{x:.0%}" if x >= 0.01 else f"{x:.1%}"

    ratio = float(flag["ratio"])
    sites = tuple(flag["site_ids"])
    return t(f"records.flag.{flag['code']}", lang, n=int(flag["n_sites"]), kind=str(flag["kind"]).replace("_", " "),
             item_id=flag["item_id"], site_id=sites[0] if sites else "", requested=f"{int(flag['requested']):,}",
             estimate=f"{int(flag['estimate']):,}", pct=pct(ratio), times=f"{ratio:.1f}",
             peer_pct=pct(float(flag["peer_ratio"])) if pd.notna(flag["peer_ratio"]) else "",
             example=flag.get("example", "") if hasattr(flag, "get") else "")


def needs_for_round(scenario: Scenario, days_of_cover: float = 3,
                    norms: Norms | str | Path | None = None) -> pd.DataFrame:
    """The needs an allocation round uses: explicit needs kept, estimates for the other sites.

    Parameters
    ----------
    scenario : Scenario
    days_of_cover : float, default 3
    norms : Norms or path, optional

    Returns
    -------
    DataFrame
        ``site_id, item_id, quantity (int64), origin`` (``requested`` or
        ``estimated``): every row of ``needs.csv`` as given, plus the positive
        estimates of sites that have no row in ``needs.csv``.

    Examples
    --------
    >>> from allocator import examples
    >>> nd = needs_for_round(examples.demand_mixed())
    >>> sorted(set(nd.origin))
    ['estimated', 'requested']
    """
    e = estimate(scenario, days_of_cover=days_of_cover, norms=norms)
    keep = (e.origin == ORIGIN_REQUESTED) | ((e.origin == ORIGIN_ESTIMATED) & (e.need > 0))
    out = e.loc[keep, ["site_id", "item_id", "need", "origin"]].rename(columns={"need": "quantity"})
    return out.astype({"quantity": "int64"}).reset_index(drop=True)


# --------------------------------------------------------------------------- supply


def burn_rate(site_stock: pd.DataFrame) -> pd.DataFrame:
    """Average daily consumption between consecutive stock counts (CDC burn rate).

    Following the CDC PPE Burn Rate Calculator, the burn rate is the units
    consumed between the first and the last count divided by the days between
    them (at least two counts are needed). Consumption between two counts is
    ``previous - current + received``. ``received`` comes from an optional
    ``received`` column of ``site_stock`` (units delivered after the previous
    count, recorded on the later count; an extra column the contract keeps);
    without it, an interval in which the count went up was restocked and its
    consumption is unknown, so it is left out of both the units and the days.
    Intervals whose computed consumption is negative (a count or delivery
    error) are left out too, and counted in ``skipped``.

    Parameters
    ----------
    site_stock : DataFrame
        ``site_id, item_id, date, on_hand`` and optionally ``received``. Two
        counts of the same item on the same date: the later row wins.

    Returns
    -------
    DataFrame
        ``site_id, item_id, first_date, last_date, counts, days, consumed,
        burn_rate, skipped``; ``burn_rate`` is NaN when no interval is usable.

    Examples
    --------
    >>> import pandas as pd
    >>> ss = pd.DataFrame({"site_id": ["H"] * 3, "item_id": ["n95"] * 3,
    ...                    "date": pd.to_datetime(["2020-02-01", "2020-02-03", "2020-02-04"]),
    ...                    "on_hand": [1000, 600, 450]})
    >>> float(burn_rate(ss).burn_rate.iloc[0])  # (1000 - 450) / 3 days
    183.33333333333334
    """
    cols = ["site_id", "item_id", "first_date", "last_date", "counts", "days", "consumed",
            "burn_rate", "skipped"]
    ss = site_stock.copy()
    ss["date"] = pd.to_datetime(ss["date"]).dt.normalize()
    ss = ss[ss.date.notna()]
    if "received" in ss.columns:
        rec = pd.to_numeric(ss["received"].astype(str).str.strip().replace("", "0"), errors="coerce")
        ss["received"] = rec.fillna(0).astype(float)
        has_received = True
    else:
        has_received = False
    rows = []
    for (site_id, item_id), part in ss.groupby(["site_id", "item_id"], sort=False):
        part = part.sort_values("date", kind="stable").drop_duplicates("date", keep="last")
        days = consumed = 0.0
        skipped = 0
        recs = part.to_dict("records")
        for prev, cur in zip(recs, recs[1:]):
            d = (cur["date"] - prev["date"]).days
            got = cur["received"] if has_received else 0.0
            used = float(prev["on_hand"]) - float(cur["on_hand"]) + got
            if used < 0:
                skipped += 1
                continue
            days += d
            consumed += used
        rows.append({
            "site_id": site_id, "item_id": item_id,
            "first_date": part.date.iloc[0], "last_date": part.date.iloc[-1],
            "counts": len(part), "days": days, "consumed": consumed,
            "burn_rate": consumed / days if days > 0 else np.nan, "skipped": skipped,
        })
    return pd.DataFrame(rows, columns=cols)


def days_of_supply(scenario: Scenario, norms: Norms | str | Path | None = None) -> pd.DataFrame:
    """How many days each site's stock lasts, from the norms and from reported counts.

    Parameters
    ----------
    scenario : Scenario
    norms : Norms or path, optional

    Returns
    -------
    DataFrame
        ``site_id, item_id, category, on_hand, daily_use, days_of_supply,
        burn_rate, days_of_supply_burn``: ``days_of_supply = on_hand /
        daily_use`` (``inf`` when nothing is used, NaN when nothing is used or
        held) and ``days_of_supply_burn = on_hand / burn_rate`` from the site's
        consecutive counts (NaN without two usable counts).

    Examples
    --------
    >>> from allocator import examples
    >>> d = days_of_supply(examples.demand_hospital()).set_index("item_id")
    >>> float(d.loc["mask", "days_of_supply"])  # 1,520 masks / 760 a day
    2.0
    """
    e = estimate(scenario, days_of_cover=0, norms=norms)
    e = e[(e.daily_use > 0) | (e.on_hand > 0)]
    out = e[["site_id", "item_id", "category", "on_hand", "daily_use"]].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["days_of_supply"] = out.on_hand.to_numpy(float) / out.daily_use.to_numpy(float)
    ss = scenario.site_stock
    ss = ss[ss.date.notna() & (ss.date <= scenario.at)]
    br = burn_rate(ss)[["site_id", "item_id", "burn_rate"]]
    out = out.merge(br, on=["site_id", "item_id"], how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["days_of_supply_burn"] = out.on_hand.to_numpy(float) / out.burn_rate.to_numpy(float)
    return out.reset_index(drop=True)
