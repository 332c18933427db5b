"""The synthetic city's tables: sites, items, substitutes, needs, lots, donations, depots and vehicles.

Part of :mod:`allocator.synth` (which re-exports every public name); the road
grid and its traffic control are built in :mod:`allocator.synth.roads`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator import schema
from allocator.geo import haversine_km
from allocator.synth.roads import _Grid, _ids

#: Share of sites by kind (the Wuhan mix: few designated hospitals, many communities).
KIND_SHARE: dict[str, float] = {
    "designated_hospital": 0.03,
    "backup_hospital": 0.04,
    "shelter_hospital": 0.02,
    "fever_clinic": 0.08,
    "quarantine_site": 0.15,
    "elderly_care": 0.10,
    "community": 0.54,
    "staff_support": 0.04,
}

_KIND_LABEL = {
    "designated_hospital": ("Designated Hospital", "定点医院"),
    "backup_hospital": ("Backup Hospital", "后备医院"),
    "shelter_hospital": ("Shelter Hospital", "方舱医院"),
    "fever_clinic": ("Fever Clinic", "发热门诊"),
    "quarantine_site": ("Quarantine Hotel", "隔离点"),
    "elderly_care": ("Elderly Care Home", "养老院"),
    "community": ("Community", "社区"),
    "staff_support": ("Medical Staff Residence", "医护人员驻地"),
}

# beds: lognormal median and sigma (None: no beds); patients and staff as a
# share of beds (uniform range) or, without beds, lognormal median and sigma.
_KIND_SIZE: dict[str, dict[str, tuple[float, float] | None]] = {
    "designated_hospital": {"beds": (600, 0.5), "patients": (0.85, 1.05), "staff": (1.2, 1.8)},
    "backup_hospital": {"beds": (300, 0.5), "patients": (0.6, 0.9), "staff": (0.8, 1.2)},
    "shelter_hospital": {"beds": (1000, 0.4), "patients": (0.6, 0.95), "staff": (0.25, 0.4)},
    "fever_clinic": {"beds": (20, 0.5), "patients_n": (80, 0.6), "staff_n": (30, 0.4)},
    "quarantine_site": {"beds": (150, 0.5), "patients": (0.5, 0.9), "staff_n": (15, 0.4)},
    "elderly_care": {"beds": (200, 0.5), "patients": (0.8, 0.95), "staff": (0.25, 0.35)},
    "community": {"beds": None, "patients_n": (10, 0.8), "staff_n": (30, 0.5)},
    "staff_support": {"beds": (300, 0.5), "patients_n": (0, 0), "staff": (0.8, 1.0)},
}

# Approximate centres of Wuhan's districts (lat, lon), for the district column.
_DISTRICTS = (
    ("Jiang'an", 30.600, 114.300), ("Jianghan", 30.600, 114.270), ("Qiaokou", 30.580, 114.210),
    ("Hanyang", 30.550, 114.220), ("Wuchang", 30.550, 114.310), ("Qingshan", 30.640, 114.390),
    ("Hongshan", 30.500, 114.340), ("Dongxihu", 30.620, 114.140), ("Hannan", 30.310, 114.080),
    ("Caidian", 30.580, 114.030), ("Jiangxia", 30.380, 114.320), ("Huangpi", 30.880, 114.380),
    ("Xinzhou", 30.840, 114.800),
)


@dataclass(frozen=True)
class ItemSpec:
    """One item of the synthetic catalogue with its daily use per person.

    ``per_staff`` and ``per_patient`` apply at clinical sites, ``per_person`` at
    other sites (to staff + patients); ``shelf_days`` is the shelf life of a new
    lot (``None``: never expires).
    """

    item_id: str
    name: str
    name_zh: str
    category: str
    grade: str
    unit: str
    unit_weight_kg: float
    unit_volume_l: float
    pack_size: int
    per_staff: float
    per_patient: float
    per_person: float
    shelf_days: int | None


#: The item catalogue, most important first (``generate(items=k)`` takes the first k).
CATALOGUE: tuple[ItemSpec, ...] = (
    ItemSpec("mask_med", "Medical surgical mask", "医用外科口罩", "mask", "medical", "piece", 0.004, 0.02, 50, 4, 1.5, 1.0, 1095),
    ItemSpec("n95_med", "N95 medical respirator", "医用N95口罩", "respirator", "medical", "piece", 0.012, 0.1, 20, 1, 0, 0.05, 1095),
    ItemSpec("suit_med", "Medical protective suit", "医用防护服", "suit", "medical", "piece", 0.45, 2.0, 10, 0.6, 0, 0.03, 1095),
    ItemSpec("gown", "Isolation gown", "隔离衣", "gown", "medical", "piece", 0.15, 1.0, 20, 1, 0, 0, 1095),
    ItemSpec("gloves", "Examination gloves", "检查手套", "gloves", "medical", "pair", 0.01, 0.03, 100, 12, 0, 0.5, 1095),
    ItemSpec("goggles", "Protective goggles", "护目镜", "eye_protection", "medical", "piece", 0.08, 0.3, 20, 0.1, 0, 0.01, None),
    ItemSpec("mask_civil", "Civil face mask", "民用口罩", "mask", "civil", "piece", 0.003, 0.02, 50, 0, 0, 1.5, 730),
    ItemSpec("kn95_civil", "KN95 respirator (civil)", "民用KN95口罩", "respirator", "civil", "piece", 0.01, 0.08, 20, 0, 0, 0.2, 730),
    ItemSpec("test_kit", "Nucleic acid test kit (48 tests)", "核酸检测试剂盒", "test_kit", "medical", "kit", 0.25, 0.6, 10, 0, 0.03, 0.005, 180),
    ItemSpec("disinfectant", "84 disinfectant, 5 L", "84消毒液", "disinfectant", "medical", "bottle", 5.5, 5.0, 4, 0.02, 0.01, 0.02, 365),
    ItemSpec("suit_civil", "Protective coverall (civil)", "民用防护服", "suit", "civil", "piece", 0.35, 1.8, 10, 0, 0, 0.05, 1095),
    ItemSpec("face_shield", "Face shield", "防护面屏", "eye_protection", "medical", "piece", 0.1, 0.8, 20, 1, 0, 0, None),
    ItemSpec("daily_goods", "Household daily-goods pack", "生活物资包", "daily_goods", "civil", "pack", 10.0, 15.0, 1, 0, 0, 0.05, 60),
    ItemSpec("alcohol", "75% alcohol, 500 ml", "75%酒精", "disinfectant", "medical", "bottle", 0.45, 0.55, 24, 0.2, 0, 0.05, 730),
    ItemSpec("thermometer", "Infrared thermometer", "红外体温计", "device", "medical", "piece", 0.2, 0.5, 10, 0.01, 0, 0.01, None),
    ItemSpec("surgical_gloves", "Sterile surgical gloves", "外科手套", "gloves", "medical", "pair", 0.015, 0.03, 50, 4, 0, 0, 1095),
    ItemSpec("shoe_covers", "Shoe covers", "鞋套", "other", "medical", "pair", 0.01, 0.05, 100, 2, 0, 0.2, None),
    ItemSpec("antiviral", "Antiviral medicine, box", "抗病毒药物", "medicine", "medical", "box", 0.05, 0.1, 50, 0, 0.3, 0, 540),
    ItemSpec("oxygen_conc", "Oxygen concentrator", "制氧机", "device", "medical", "piece", 20.0, 60.0, 1, 0, 0.005, 0, None),
    ItemSpec("hand_sanitizer", "Hand sanitizer, 500 ml", "免洗洗手液", "disinfectant", "civil", "bottle", 0.5, 0.55, 24, 0, 0, 0.05, 730),
)

#: One-way substitutes (need, substitute, ratio): the substitute may be shipped for the need.
SUBSTITUTES: tuple[tuple[str, str, float], ...] = (
    ("mask_med", "n95_med", 1.0),
    ("mask_civil", "mask_med", 1.0),
    ("mask_civil", "kn95_civil", 1.0),
    ("kn95_civil", "n95_med", 1.0),
    ("gown", "suit_med", 1.0),
    ("suit_civil", "suit_med", 1.0),
    ("goggles", "face_shield", 1.0),
    ("gloves", "surgical_gloves", 1.0),
    ("hand_sanitizer", "alcohol", 1.0),
)

_DEPOT_KINDS = ("donation_warehouse", "municipal_reserve", "transfer_hub", "distributor")
_DEPOT_LABEL = {
    "donation_warehouse": "Donation warehouse",
    "municipal_reserve": "Municipal reserve",
    "transfer_hub": "Transfer hub",
    "distributor": "Distributor warehouse",
}

_DONOR_KINDS = (
    "Alumni Association", "Chamber of Commerce", "Charity Foundation", "Trading Co.",
    "Manufacturing Co.", "Overseas Chinese Association", "Volunteer Group", "Hospital Group",
)
_DONOR_PLACES = (
    "Shenzhen", "Hangzhou", "Shanghai", "Guangzhou", "Chengdu", "Milan", "Tokyo", "Singapore",
    "Vancouver", "Frankfurt", "Hong Kong", "Xiamen",
)


def _kind_counts(sites: int) -> dict[str, int]:
    kinds = list(KIND_SHARE)
    if sites < len(kinds):
        order = ["designated_hospital", "fever_clinic", "quarantine_site", "community",
                 "backup_hospital", "elderly_care", "shelter_hospital", "staff_support"]
        return {k: int(k in order[:sites]) for k in kinds}
    share = np.array([KIND_SHARE[k] for k in kinds])
    raw = share / share.sum() * sites
    counts = np.floor(raw).astype(int)
    counts[np.argsort(-(raw - counts), kind="stable")[: sites - counts.sum()]] += 1
    short = counts == 0
    counts[short] = 1
    ci = kinds.index("community")
    counts[ci] -= int(short.sum())
    while counts[ci] < 1:  # pragma: no cover - only for tiny counts
        j = int(np.argmax(counts))
        counts[j] -= 1
        counts[ci] += 1
    return dict(zip(kinds, counts.tolist()))


def _sites(
    n: int, nodes_xy: np.ndarray, grid: _Grid, rng: np.random.Generator
) -> pd.DataFrame:
    counts = _kind_counts(n)
    kind = np.concatenate([np.full(c, k, dtype=object) for k, c in counts.items()])
    kind = kind[rng.permutation(n)]
    # hospitals and most sites lean to the centre, like a city's density
    centre = nodes_xy.mean(axis=0)
    d = np.hypot(*(nodes_xy - centre).T)
    w = 0.4 / len(d) + 0.6 * np.exp(-d / max(d.max() / 3, 1e-9)) / np.exp(-d / max(d.max() / 3, 1e-9)).sum()
    at = rng.choice(len(nodes_xy), size=n, p=w / w.sum())
    ang = rng.uniform(0, 2 * np.pi, n)
    rad = rng.uniform(0, 0.3, n) * grid.spacing
    xy = nodes_xy[at] + np.column_stack([np.cos(ang), np.sin(ang)]) * rad[:, None]
    lon, lat = grid.proj.lonlat(xy)

    beds = np.full(n, np.nan)
    patients = np.zeros(n)
    staff = np.zeros(n)
    for k, size in _KIND_SIZE.items():
        m = kind == k
        c = int(m.sum())
        if not c:
            continue
        bed_size = size.get("beds")
        if bed_size:
            med, sig = bed_size
            beds[m] = np.maximum(5, np.round(rng.lognormal(math.log(med), sig, c)))
        for col, arr in (("patients", patients), ("staff", staff)):
            share, absolute = size.get(col), size.get(f"{col}_n")
            if share is not None:
                lo, hi = share
                arr[m] = np.round(beds[m] * rng.uniform(lo, hi, c))
            else:
                assert absolute is not None  # every kind gives a share of beds or a number
                med, sig = absolute
                arr[m] = np.round(rng.lognormal(math.log(med), sig, c)) if med > 0 else 0
    seq = pd.Series(kind).groupby(kind).cumcount().to_numpy() + 1
    name = [f"{_KIND_LABEL[k][0]} {s:03d}" for k, s in zip(kind, seq)]
    name_zh = [f"{_KIND_LABEL[k][1]}{s}号" for k, s in zip(kind, seq)]
    dlat = np.array([x[1] for x in _DISTRICTS])
    dlon = np.array([x[2] for x in _DISTRICTS])
    di = np.argmin(haversine_km(lat[:, None], lon[:, None], dlat[None, :], dlon[None, :]), axis=1)
    return pd.DataFrame(
        {
            "site_id": _ids("S", n, max(4, len(str(n)))),
            "name": name,
            "name_zh": name_zh,
            "kind": kind,
            "district": np.array([x[0] for x in _DISTRICTS], dtype=object)[di],
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "beds": pd.Series(beds).astype("Int64"),
            "patients": pd.Series(patients).astype("Int64"),
            "staff": pd.Series(staff).astype("Int64"),
        }
    )


def _catalogue(n: int) -> list[ItemSpec]:
    out = list(CATALOGUE[:n])
    k = 2
    while len(out) < n:
        for spec in CATALOGUE:
            if len(out) == n:
                break
            out.append(ItemSpec(
                f"{spec.item_id}_{k}", f"{spec.name} (type {k})", f"{spec.name_zh}（{k}型）",
                spec.category, spec.grade, spec.unit, spec.unit_weight_kg, spec.unit_volume_l,
                spec.pack_size, spec.per_staff, spec.per_patient, spec.per_person, spec.shelf_days,
            ))
        k += 1
    return out


def _needs(
    sites: pd.DataFrame, cat: list[ItemSpec], days: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    clinical = sites.kind.isin(schema.CLINICAL_KINDS).to_numpy()
    staff = sites.staff.to_numpy(float, na_value=0.0)
    patients = sites.patients.to_numpy(float, na_value=0.0)
    civil = np.array([c.grade == "civil" for c in cat])
    per_staff = np.array([c.per_staff for c in cat])
    per_patient = np.array([c.per_patient for c in cat])
    per_person = np.array([c.per_person for c in cat])
    base = np.where(
        clinical[:, None],
        np.where(civil[None, :], 0.0, staff[:, None] * per_staff + patients[:, None] * per_patient),
        (staff + patients)[:, None] * per_person,
    )
    q = np.ceil(base * days * rng.lognormal(0.0, 0.35, base.shape))
    keep = (rng.random(base.shape) < 0.85) & (q > 0)
    si, ii = np.nonzero(keep)
    needs = pd.DataFrame(
        {
            "site_id": sites.site_id.to_numpy(object)[si],
            "item_id": np.array([c.item_id for c in cat], dtype=object)[ii],
            "quantity": q[si, ii].astype(np.int64),
        }
    )
    total = np.bincount(ii, weights=q[si, ii], minlength=len(cat))
    return needs, total


def _lots(
    n: int,
    depots: pd.DataFrame,
    cat: list[ItemSpec],
    need_total: np.ndarray,
    supply_ratio: float,
    civil_share: float,
    as_of: pd.Timestamp,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Lots with sources, depots, items, expiry, status and quantities.

    Returns the stock table, the donation lots' row indices and the per-item supply target.
    """
    n_items = len(cat)
    source = rng.choice(np.array(["reserve", "purchase", "donation"], dtype=object), size=n,
                        p=[0.25, 0.2, 0.55])
    if n and not (source == "donation").any():
        source[0] = "donation"
    civil = np.array([c.grade == "civil" for c in cat])
    demand_w = np.sqrt(np.maximum(need_total, 1.0))
    item = rng.choice(n_items, size=n, p=demand_w / demand_w.sum())
    don = np.flatnonzero(source == "donation")
    if civil.any() and (~civil).any():
        want_civil = rng.random(len(don)) < civil_share
        pc = np.where(civil, demand_w, 0.0)
        pm = np.where(~civil, demand_w, 0.0)
        item[don[want_civil]] = rng.choice(n_items, size=int(want_civil.sum()), p=pc / pc.sum())
        item[don[~want_civil]] = rng.choice(n_items, size=int((~want_civil).sum()), p=pm / pm.sum())
    first = rng.permutation(n)[: min(n, n_items)]
    item[first] = np.arange(len(first))  # every item is stocked somewhere

    # depot by source: donations to warehouses and hubs, reserve to the reserve, purchases to distributors
    dkind = depots["_kind"].to_numpy(object)
    size = depots["_size"].to_numpy(float)
    depot = np.empty(n, dtype=int)
    prefs = {
        "donation": {"donation_warehouse": 3.0, "transfer_hub": 2.0},
        "reserve": {"municipal_reserve": 3.0},
        "purchase": {"distributor": 3.0},
    }
    for src, pref in prefs.items():
        m = source == src
        w = size * np.array([pref.get(k, 0.3) for k in dkind])
        depot[m] = rng.choice(len(dkind), size=int(m.sum()), p=w / w.sum())

    # expiry and status
    shelf = np.array([c.shelf_days or 0 for c in cat])
    day = as_of.normalize()
    r = rng.random(n)
    expired = (r < 0.04) & (shelf[item] > 0)
    status = np.where((r >= 0.04) & (r < 0.07), "quarantined",
                      np.where((r >= 0.07) & (r < 0.085), "rejected", "available")).astype(object)
    if n >= 10:
        has_shelf = np.flatnonzero(shelf[item] > 0)
        if not expired.any() and len(has_shelf):
            expired[has_shelf[0]] = True
            status[has_shelf[0]] = "available"
        if not (status == "quarantined").any():
            j = np.flatnonzero(~expired)[0]
            status[j] = "quarantined"
    ahead = np.floor(rng.uniform(0.05, 1.0, n) * np.maximum(shelf[item], 10)).astype(int) + 1
    offset = np.where(expired, -rng.integers(1, 60, n), ahead)
    expires = pd.Series(day + pd.to_timedelta(offset, unit="D"))
    expires = expires.mask((shelf[item] == 0) & ~expired)

    # quantities: usable lots of an item share its supply target
    short = np.zeros(n_items, dtype=bool)
    needed = np.flatnonzero(need_total > 0)
    if len(needed):
        pick = rng.permutation(needed)
        n_short = max(1, len(needed) // 2)
        if len(needed) == 1:
            n_short = 1
        short[pick[:n_short]] = True
    target = np.where(
        short, need_total * supply_ratio, need_total * rng.uniform(1.2, 1.8, n_items)
    )
    pack = np.array([c.pack_size for c in cat])
    usable = (status == "available") & ~expired
    lots_per_item = np.maximum(np.bincount(item[usable], minlength=n_items), 1)
    target = np.where(need_total > 0, target, 200.0 * pack * lots_per_item)
    w = rng.lognormal(0.0, 0.8, n)
    wsum = np.bincount(item[usable], weights=w[usable], minlength=n_items)
    q = np.where(usable, target[item] * w / np.maximum(wsum[item], 1e-12),
                 target[item] / lots_per_item[item] * w)
    units = np.round(q)
    p = pack[item]
    units = np.where(units >= p, np.round(units / p) * p, np.maximum(units, 1))

    stock = pd.DataFrame(
        {
            "lot_id": _ids("L", n, max(5, len(str(n)))),
            "depot_id": depots.depot_id.to_numpy(object)[depot],
            "item_id": np.array([c.item_id for c in cat], dtype=object)[item],
            "quantity": units.astype(np.int64),
            "expires": expires.to_numpy(),
            "status": status,
            "donation_id": np.full(n, "", dtype=object),
            "source": source,
        }
    )
    return stock, don, target


def _donations(
    stock: pd.DataFrame,
    don: np.ndarray,
    sites: pd.DataFrame,
    earmark_share: float,
    as_of: pd.Timestamp,
    rng: np.random.Generator,
) -> pd.DataFrame:
    n_don = max(1, math.ceil(len(don) / 6))
    of_lot = np.concatenate([np.arange(n_don), rng.integers(0, n_don, max(len(don) - n_don, 0))])
    of_lot = of_lot[rng.permutation(len(of_lot))][: len(don)]
    ids = _ids("G", n_don, max(4, len(str(n_don))))
    stock.loc[don, "donation_id"] = ids[of_lot]

    anonymous = rng.random(n_don) < 0.1
    donor = [
        "anonymous" if anon else f"{_DONOR_PLACES[p]} {_DONOR_KINDS[k]}"
        for anon, p, k in zip(anonymous, rng.integers(0, len(_DONOR_PLACES), n_don),
                              rng.integers(0, len(_DONOR_KINDS), n_don))
    ]
    received = as_of.normalize() - pd.to_timedelta(rng.integers(0, 21, n_don), unit="D")

    ear_site: list[tuple[str, ...]] = [()] * n_don
    ear_kind: list[tuple[str, ...]] = [()] * n_don
    notes = np.full(n_don, "", dtype=object)
    n_ear = round(earmark_share * n_don)
    if earmark_share > 0 and n_don >= 2:
        n_ear = max(n_ear, 1)
    hospitals = sites[sites.kind.isin(["designated_hospital", "backup_hospital", "shelter_hospital"])]
    designated = sites[sites.kind == "designated_hospital"]
    hosp_ids = (hospitals if len(hospitals) else sites).site_id.to_numpy(object)
    kind_options = (
        ("designated_hospital",), ("designated_hospital", "backup_hospital"),
        ("elderly_care",), ("community",), ("fever_clinic", "shelter_hospital"),
    )
    chosen = rng.choice(n_don, size=min(n_ear, n_don), replace=False)
    how = rng.random(len(chosen))
    for j, (d, h) in enumerate(zip(chosen, how)):
        if h < 0.5 or (j == 0 and len(chosen) > 1):
            k = int(rng.integers(1, 4))
            ear_site[d] = tuple(sorted(rng.choice(hosp_ids, size=min(k, len(hosp_ids)), replace=False)))
            notes[d] = "earmarked for named hospitals"
        elif h < 0.9 or (j == 1) or not len(designated):
            ear_kind[d] = kind_options[int(rng.integers(0, len(kind_options)))]
            notes[d] = "earmarked for a kind of site"
        else:
            ear_kind[d] = ("designated_hospital",)
            ear_site[d] = tuple(sorted(rng.choice(designated.site_id.to_numpy(object),
                                                  size=min(2, len(designated)), replace=False)))
            notes[d] = "earmarked for named designated hospitals"
    return pd.DataFrame(
        {
            "donation_id": ids,
            "donor": donor,
            "received": received,
            "earmark_site_id": ear_site,
            "earmark_kind": ear_kind,
            "note": notes,
        }
    )


def _depots(n: int, nodes_xy: np.ndarray, grid: _Grid, rng: np.random.Generator) -> pd.DataFrame:
    kinds = np.array(
        list(_DEPOT_KINDS[: min(n, 3)])
        + list(rng.choice(np.array(_DEPOT_KINDS, dtype=object), size=max(n - 3, 0), p=[0.2, 0.15, 0.15, 0.5])),
        dtype=object,
    )
    at = rng.choice(len(nodes_xy), size=n, replace=n > len(nodes_xy))
    lon, lat = grid.proj.lonlat(nodes_xy[at])
    seq = pd.Series(kinds).groupby(kinds).cumcount().to_numpy() + 1
    return pd.DataFrame(
        {
            "depot_id": _ids("D", n),
            "name": [f"{_DEPOT_LABEL[k]} {s}" for k, s in zip(kinds, seq)],
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "_kind": kinds,
            "_size": rng.lognormal(0.0, 0.6, n),
        }
    )


def _capacities(depots: pd.DataFrame, stock: pd.DataFrame, cat: list[ItemSpec],
                rng: np.random.Generator) -> np.ndarray:
    weight = pd.Series({c.item_id: c.unit_weight_kg for c in cat})
    kg = (stock.quantity * stock.item_id.map(weight)).groupby(stock.depot_id).sum()
    held = depots.depot_id.map(kg).fillna(0.0).to_numpy(float)
    n = len(depots)
    cap = np.maximum(500.0, np.round(held * rng.uniform(0.3, 0.9, n) / 100.0) * 100.0)
    unlimited = rng.random(n) < 0.4
    if n >= 1:
        unlimited[0] = True
    if n >= 2 and unlimited.all():
        unlimited[1] = False
    return np.where(unlimited, np.nan, cap)


def _vehicles(depots: pd.DataFrame, as_of: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    per = rng.integers(2, 7, len(depots))
    n = int(per.sum())
    depot = np.repeat(depots.depot_id.to_numpy(object), per)
    cls = rng.choice(4, size=n, p=[0.3, 0.35, 0.25, 0.1])
    kg = np.array([1500.0, 3000.0, 5000.0, 10000.0])[cls]
    m3 = np.array([8.0, 16.0, 30.0, 45.0])[cls]
    r = rng.random(n)
    permits = [("medical", "supply") if x < 0.7 else ("supply",) if x < 0.85 else () for x in r]
    late = rng.random(n) < 0.1
    start = [as_of + pd.Timedelta(hours=4) if x else as_of for x in late.tolist()]
    return pd.DataFrame(
        {
            "vehicle_id": _ids("V", n, max(3, len(str(n)))),
            "depot_id": depot,
            "capacity_kg": kg,
            "capacity_m3": m3,
            "permits": permits,
            "available_from": pd.to_datetime(start),
            "available_to": pd.Series(as_of + pd.Timedelta(hours=12), index=range(n)),
        }
    )
