"""Every rule of ``allocation-rules.md`` has one named home, and each rule function does what the rule says.

The first part parses ``../shared/spec/allocation-rules.md`` and lists its rules (hard rules,
priorities, shortage reasons, overrides, rounds in the system of record); each must have an
entry in :data:`allocator.rules.RULES` whose homes exist (a function of :mod:`allocator.rules`,
or the constraint family, stage or check named ``module.attribute``). A rule added to the
document without a home fails here. The second part tests each rule function against a plain
re-statement of the rule (loops over rows), and ``prepare()``'s candidates against the rules
applied one pair at a time.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator import examples, rules, schema
from allocator.allocate.prepare import prepare
from tests.conftest import ROOT

# --------------------------------------------------------------------------- the document


def rules_document() -> Path | None:
    """``spec/allocation-rules.md`` of ``../shared`` (beside the repository, or ``$ALLOCATOR_SHARED``)."""
    import os

    for cand in (os.environ.get("ALLOCATOR_SHARED"), ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        if cand and (Path(cand) / "spec" / "allocation-rules.md").is_file():
            return Path(cand) / "spec" / "allocation-rules.md"
    return None


#: Section heading (lower case, start) -> prefix of its rules' keys in ``RULES``.
SECTIONS = {"hard rules": "hard", "priorities": "priority", "shortage reasons": "reason",
            "overrides": "override", "rounds in the system of record": "record"}


def parse_rules(text: str) -> list[tuple[str, str, str]]:
    """``(key prefix, title, text)`` of every rule in the document, in order.

    Hard rules and priorities are numbered (``1.``, ``1b.``) with a bold title; shortage
    reasons are ``- `code`:`` bullets; in the other sections the opening paragraph (when
    it states a rule) and each bullet are rules, numbered in order.

    Examples
    --------
    >>> parse_rules("# T\\n## Hard rules\\n1. **Stock.** No lot...\\n## Shortage reasons\\n- `supply`: not enough.")
    [('hard.1', 'stock', '1. **Stock.** No lot...'), ('reason.supply', 'supply', '- `supply`: not enough.')]
    """
    out: list[tuple[str, str, str]] = []
    for sec in re.split(r"^## ", text, flags=re.M)[1:]:
        head, _, body = sec.partition("\n")
        prefix = next((p for h, p in SECTIONS.items() if head.strip().lower().startswith(h)), None)
        if prefix is None:
            raise AssertionError(f"allocation-rules.md has a section this test does not know: {head!r} "
                                 "(add it to SECTIONS and its rules to allocator.rules.RULES)")
        items = [m.group(0).strip() for m in re.finditer(r"^(?:\d+b?\.|-) .*(?:\n(?!\d+b?\. |- |\n).+)*", body, re.M)]
        if prefix in ("hard", "priority"):
            for it in items:
                m = re.match(r"(\d+b?)\. \*\*(.+?)\*\*", it)
                assert m, f"a {head} item without a number and a bold title: {it[:60]!r}"
                title = m.group(2).rstrip(".").lower()
                out.append((f"{prefix}.{m.group(1)}", title, it))
        elif prefix == "reason":
            for it in items:
                m = re.match(r"- `(\w+)`", it)
                assert m, f"a shortage reason without a `code`: {it[:60]!r}"
                out.append((f"reason.{m.group(1)}", m.group(1), it))
        else:
            intro = body.split("\n- ", 1)[0].strip()
            texts = ([intro] if intro and not intro.startswith("- ") else []) + [it for it in items if it.startswith("- ")]
            for n, it in enumerate(texts, 1):
                out.append((f"{prefix}.{n}", "", it))
    return out


DOC = rules_document()
DOC_RULES = parse_rules(DOC.read_text(encoding="utf-8")) if DOC is not None else []
needs_doc = pytest.mark.skipif(DOC is None, reason="../shared/spec/allocation-rules.md is absent "
                               "(it is only beside the repository in CI and development)")


def entry_for(prefix: str) -> list[str]:
    """The keys of ``RULES`` for the rule ``prefix`` (``hard.4`` -> ``hard.4.grade``)."""
    return [k for k in rules.RULES if k == prefix or k.startswith(prefix + ".")]


@needs_doc
def test_the_document_lists_the_rules_we_know() -> None:
    keys = [p for p, _, _ in DOC_RULES]
    assert [k for k in keys if k.startswith("hard.")] == [f"hard.{i}" for i in range(1, 9)]
    assert [k for k in keys if k.startswith("priority.")] == ["priority.1", "priority.1b", "priority.2",
                                                              "priority.3", "priority.4"]
    assert [k for k in keys if k.startswith("reason.")] == [f"reason.{r}" for r in rules.REASONS]
    assert sum(k.startswith("override.") for k in keys) >= 4
    assert sum(k.startswith("record.") for k in keys) >= 2


@needs_doc
@pytest.mark.parametrize("prefix,title,text", DOC_RULES, ids=[p for p, _, _ in DOC_RULES])
def test_every_rule_of_the_document_has_a_home(prefix: str, title: str, text: str) -> None:
    keys = entry_for(prefix)
    assert len(keys) == 1, f"rule {prefix} ({text[:80]!r}) needs exactly one entry in allocator.rules.RULES, got {keys}"
    if prefix.startswith("hard."):
        # the entry names the rule as the document does, so a renumbering is caught
        assert keys[0].split(".", 2)[2] == title.replace(" ", "_"), (keys[0], title)


@needs_doc
def test_every_entry_is_a_rule_of_the_document() -> None:
    prefixes = {p for p, _, _ in DOC_RULES}
    stale = [k for k in rules.RULES if not any(k == p or k.startswith(p + ".") for p in prefixes)]
    assert not stale, f"entries of allocator.rules.RULES for rules the document no longer has: {stale}"


def _resolve(home: str) -> object | None:
    if "." not in home:
        return getattr(rules, home, None)
    mod, _, attr = home.rpartition(".")
    return getattr(importlib.import_module(mod), attr, None)


@pytest.mark.parametrize("key", sorted(rules.RULES))
def test_every_home_exists(key: str) -> None:
    homes = rules.RULES[key]
    assert homes, f"{key} has no home"
    for home in homes:
        found = _resolve(home)
        assert callable(found), f"{key}: {home} does not exist"


def test_the_docstring_table_lists_every_entry() -> None:
    doc = rules.__doc__ or ""
    for key, homes in rules.RULES.items():
        section, number = key.split(".")[:2]
        label = "reason.*" if section == "reason" else f"{section}.{number}"
        assert re.search(rf"^{re.escape(label)}(?=\s)", doc, re.M), f"the module docstring's table has no row {label}"
        for home in homes:
            name = f":func:`{home}`" if "." not in home else ".".join(home.split(".")[-2:])
            assert name in doc, f"the module docstring's table does not name {name} for {key}"


def test_every_rule_function_is_in_the_table() -> None:
    public = {n for n, f in inspect.getmembers(rules, inspect.isfunction)
              if f.__module__ == "allocator.rules" and not n.startswith("_")}
    homes = {h for hs in rules.RULES.values() for h in hs}
    assert public - homes == set(), f"functions of allocator.rules that no rule names: {public - homes}"


# --------------------------------------------------------------------------- one home: nothing else re-derives a rule

#: Files that may restate a rule: the independent checker (on purpose, it must not trust this
#: module), the donation inspection (chooses a civil item to downgrade to: not the grade test),
#: and the synthetic generator (makes data that obeys the rules).
RESTATE_OK = {"allocator/rules.py", "allocator/allocate/check.py", "allocator/testing.py",
              "allocator/store/donations.py", "allocator/synth/tables.py"}
RESTATED = {
    "grade (civil goods vs clinical sites)": re.compile(r"""[!=]=\s*["']civil["']|["']civil["']\s*[!=]="""),
    "the 1 kg default weight": re.compile(r"unit_weight_kg[^\n]*fillna\("),
    "usable lots (status)": re.compile(r"""status\s*==\s*["']available["']"""),
    "usable lots (expiry)": re.compile(r"expires\s*<=?\s*"),
}


@pytest.mark.parametrize("rule", sorted(RESTATED))
def test_no_module_restates_a_rule(rule: str) -> None:
    pattern = RESTATED[rule]
    hits = []
    for p in sorted((ROOT / "allocator").rglob("*.py")):
        rel = p.relative_to(ROOT).as_posix()
        if rel in RESTATE_OK or "/migrations/" in rel:
            continue
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code) and not code.lstrip().startswith((">>>", '"""')):
                hits.append(f"{rel}:{n}: {line.strip()}")
    assert not hits, f"{rule} is written again outside allocator/rules.py:\n" + "\n".join(hits)


# --------------------------------------------------------------------------- the rule functions

AT = pd.Timestamp("2020-02-10 08:00")


def _random_lots(rng: np.random.Generator, n: int = 200) -> pd.DataFrame:
    days = rng.integers(-5, 6, n).astype(float)
    days[rng.random(n) < 0.3] = np.nan
    return pd.DataFrame({
        "status": rng.choice(["available", "quarantined", "rejected"], n, p=[0.7, 0.2, 0.1]),
        "quantity": rng.integers(0, 4, n),
        "expires": [pd.NaT if np.isnan(d) else AT + pd.Timedelta(hours=12 * d) for d in days],
    })


def test_usable_lots_match_hard_rule_1_row_by_row() -> None:
    lots = _random_lots(np.random.default_rng(1))
    expired = rules.lot_expired(lots.expires, AT)
    held = rules.lot_held(lots.status)
    usable = rules.lot_usable(lots.status, lots.quantity, lots.expires, AT)
    for i, r in enumerate(lots.itertuples()):
        exp = r.expires is not pd.NaT and r.expires <= AT
        assert expired[i] == exp
        assert held[i] == (r.status in ("quarantined", "rejected"))
        assert usable[i] == (r.status == "available" and r.quantity > 0 and not exp)
    assert usable.any() and (~usable).any() and expired.any() and held.any()


def test_a_lot_expiring_exactly_at_as_of_is_expired() -> None:
    assert rules.lot_expired([AT, AT + pd.Timedelta(seconds=1)], AT).tolist() == [True, False]
    assert rules.lot_usable(["available"], [1], [pd.NaT], AT).tolist() == [True]


def test_grade_never_sends_civil_goods_to_a_clinical_site() -> None:
    grade, clinical = zip(*itertools.product(["medical", "civil"], [True, False]))
    assert rules.grade_allows(list(grade), list(clinical)).tolist() == [True, True, False, True]
    assert rules.grade_allows(["civil", "medical"], True).tolist() == [False, True]  # a scalar broadcasts


def test_earmarks_match_the_rule_pair_by_pair() -> None:
    rng = np.random.default_rng(7)
    site_ids = ["H1", "H2", "H3", "Q1"]
    kinds = {"H1": "designated_hospital", "H2": "designated_hospital", "H3": "fever_clinic", "Q1": "quarantine_site"}
    marks_s = [(), ("H1",), ("H1", "H3"), ("Q1",)]
    marks_k = [(), ("designated_hospital",), ("fever_clinic", "quarantine_site")]
    n = 300
    es = [marks_s[i] for i in rng.integers(0, len(marks_s), n)]
    ek = [marks_k[i] for i in rng.integers(0, len(marks_k), n)]
    site = [site_ids[i] for i in rng.integers(0, len(site_ids), n)]
    got = rules.earmark_allows(es, ek, site, [kinds[s] for s in site])
    want = [(not a or s in a) and (not b or kinds[s] in b) for a, b, s in zip(es, ek, site)]
    assert got.tolist() == want
    assert got.any() and (~got).any()
    assert rules.earmark_allows([], [], [], []).tolist() == []


def test_lot_earmarks_come_from_the_donation() -> None:
    don = pd.DataFrame({"donation_id": ["G1", "G2"], "earmark_site_id": [["H2", "H1"], []],
                        "earmark_kind": [[], ["fever_clinic"]]})
    sites, kinds = rules.lot_earmarks(["G1", "G2", "", "G3"], don)
    assert sites == [("H1", "H2"), (), (), ()]
    assert kinds == [(), ("fever_clinic",), (), ()]


def test_coverage_is_one_way_with_the_item_itself_first() -> None:
    subs = pd.DataFrame({"item_id": ["mask", "mask", "mask", "suit"], "substitute_id": ["n95", "mask", "n95", "suit_c"],
                         "ratio": [2.0, 1.0, 5.0, 1.0]})
    cov = rules.coverage(["mask", "n95", "suit", "suit_c"], subs)
    pairs = {(n, i): r for n, i, r in cov.itertuples(index=False)}
    assert pairs[("mask", "n95")] == 2.0  # the first ratio of a pair listed twice
    assert ("n95", "mask") not in pairs  # one way
    assert all(pairs[(i, i)] == 1.0 for i in ["mask", "n95", "suit", "suit_c"])
    assert len(pairs) == len(cov) == 6
    assert rules.substitutes_of(cov)["mask"] == [("mask", 1.0), ("n95", 2.0)]
    assert rules.coverage(["a"], subs.iloc[:0]).values.tolist() == [["a", "a", 1.0]]


def test_need_units_and_room_are_inverse() -> None:
    ratio = np.array([1.0, 2.0, 0.5])
    room = rules.need_room([10, 10, 10], ratio)
    assert rules.need_units(room, ratio).tolist() == [10.0, 10.0, 10.0]
    assert room.tolist() == [10.0, 20.0, 5.0]


def test_reachability_is_a_finite_travel_time() -> None:
    m = pd.DataFrame([[5.0, np.inf], [np.nan, 7.0]], index=["D1", "D2"], columns=["H1", "H2"])
    t = rules.travel_lookup(m, ["D1", "D1", "D2", "D2", "D9", "D1"], ["H1", "H2", "H1", "H2", "H1", "H9"])
    assert t.tolist() == [5.0, np.inf, np.inf, 7.0, np.inf, np.inf]
    assert rules.reachable(t).tolist() == [True, False, False, True, False, False]


def test_unit_weight_default_is_the_schemas() -> None:
    default = float(schema.tables()["items"].column("unit_weight_kg").default)
    items = pd.DataFrame({"unit_weight_kg": [0.25, np.nan]}, index=["a", "b"])
    assert rules.unit_weight(items).tolist() == [0.25, default]
    assert rules.unit_weight(pd.DataFrame(index=["a"])).tolist() == [default]
    assert rules.unit_weight(items, of=["b", "zz", "a"]).tolist() == [default, default, 0.25]
    assert rules.shipment_kg([4], rules.unit_weight(items, of=["a"])).tolist() == [1.0]


def test_dispatch_capacity_keeps_only_finite_limits() -> None:
    assert rules.dispatch_capacity(["D1", "D2", "D3", "D4"], [0.0, np.nan, np.inf, 12.5]) == {"D1": 0.0, "D4": 12.5}


def test_tie_breaks() -> None:
    exp = pd.Series([AT + pd.Timedelta(days=2), pd.NaT, AT + pd.Timedelta(days=10_000), AT - pd.Timedelta(days=1)])
    assert rules.expiry_days(exp, AT).tolist() == [2.0, 3650.0, 3650.0, -1.0]
    assert rules.lot_donated(["donation", "reserve", "reserve"], ["", "G1", ""]).tolist() == [True, True, False]


def test_own_item_and_transport_quantities() -> None:
    assert rules.own_item(["a", "b"], ["a", "a"]).tolist() == [True, False]
    assert rules.transport_cost([2.0, 0.5], [3.0, np.inf]).tolist() == [6.0, np.inf]


def test_kept_drops_excluded_ids() -> None:
    assert rules.kept(["D1", "H1"], set()).tolist() == [True, True]
    assert rules.kept(["D1", "H1"], {"H1", "X"}).tolist() == [True, False]


def _reason_by_the_document(f: dict[str, bool]) -> str:
    """The first reason that applies, read from allocation-rules.md ("Shortage reasons")."""
    if not f["stocked"]:
        return "supply"  # nothing usable anywhere: plain lack of supply
    if not f["reach"]:
        return "unreachable"
    if not f["reach_earmark"] or (f["reach_kept"] and not f["reach_earmark_kept"]):
        return "earmarked"
    if not f["reach_earmark_grade"] or (f["reach_earmark_kept"] and not f["allowed_left"]):
        return "grade"
    if f["capacity_stopped"]:
        return "capacity"
    return "supply"


def test_shortage_reason_is_the_first_that_applies() -> None:
    combos = list(itertools.product([False, True], repeat=len(rules.REASON_FACTS)))
    facts = pd.DataFrame(combos, columns=list(rules.REASON_FACTS))
    got = rules.shortage_reason(facts)
    want = [_reason_by_the_document(dict(zip(rules.REASON_FACTS, c))) for c in combos]
    assert got.tolist() == want
    assert set(got) == set(rules.REASONS)


# --------------------------------------------------------------------------- prepare() applies them


def _naive_candidates(sc, data) -> set[tuple]:
    """(depot, site, shipped item, need item, earmark sites, earmark kinds) allowed, one pair at a time."""
    grade = dict(zip(sc.items.item_id, sc.items.grade))
    clinical = dict(zip(sc.sites.site_id, sc.sites.clinical))
    kind = dict(zip(sc.sites.site_id, sc.sites.kind))
    don = {str(r.donation_id): (tuple(sorted(r.earmark_site_id or ())), tuple(sorted(r.earmark_kind or ())))
           for r in sc.donations.itertuples()}
    subs = {(str(r.item_id), str(r.substitute_id)) for r in sc.substitutes.itertuples()}
    needs = sc.needs if sc.has("needs") else data.all_needs
    m = data.travel.minutes
    minutes = {(d, s): float(t) for d, row in zip(m.index, m.to_numpy(float)) for s, t in zip(m.columns, row)}
    need_rows = [(str(n.site_id), str(n.item_id)) for n in needs.itertuples()
                 if n.quantity > 0 and n.site_id not in data.excluded]
    out = set()
    for lot in sc.stock.itertuples():
        if lot.status != "available" or lot.quantity <= 0 or (lot.expires is not pd.NaT and lot.expires <= sc.at):
            continue
        if lot.depot_id in data.excluded:
            continue
        es, ek = don.get(str(lot.donation_id), ((), ())) if lot.donation_id else ((), ())
        for site_id, need_item in need_rows:
            if not (lot.item_id == need_item or (need_item, lot.item_id) in subs):
                continue
            if grade[lot.item_id] == "civil" and bool(clinical[site_id]):
                continue
            if (es and site_id not in es) or (ek and kind[site_id] not in ek):
                continue
            if not np.isfinite(minutes.get((lot.depot_id, site_id), np.inf)):
                continue
            out.add((lot.depot_id, site_id, lot.item_id, need_item, es, ek))
    return out


@pytest.mark.parametrize("make,exclude", [
    (examples.grades_and_earmarks, ()),
    (examples.donated_city, ()),
    (examples.earmark_vs_tier, ()),
    (examples.ring_road, ()),
    (examples.small_city, ()),
    (examples.grades_and_earmarks, ("H1",)),
], ids=["grades_and_earmarks", "donated_city", "earmark_vs_tier", "ring_road", "small_city", "excluded"])
def test_prepare_candidates_are_exactly_the_pairs_the_rules_allow(make, exclude) -> None:
    sc = make()
    data = prepare(sc, exclude=exclude)
    g = data.groups.set_index("group")
    c = data.cand
    got = set(zip(c.depot_id, c.site_id, c.item_id, c.need_item_id,
                  g.em_sites.reindex(c.group), g.em_kinds.reindex(c.group)))
    assert len(got) == len(c)
    assert got == _naive_candidates(sc, data)
    assert len(c) > 0
    # the candidate's quantities come from the same rules
    w = data.items.weight.reindex(c.item_id).to_numpy()
    assert np.allclose(c.cost.to_numpy(), w * c.travel_min.to_numpy())
    assert (c.own.to_numpy() == (c.item_id.to_numpy() == c.need_item_id.to_numpy())).all()


def test_the_synthetic_city_exercises_every_eligibility_rule() -> None:
    """On small_city some pairs fail each rule, so the comparison above tests each mask."""
    sc = examples.small_city()
    data = prepare(sc)
    lots = data.lots
    assert (~rules.lot_usable(sc.stock.status, sc.stock.quantity, sc.stock.expires, sc.at)).any()
    grades = data.items.grade.reindex(lots.item_id)
    assert (grades == "civil").any()
    assert (lots.em_sites.map(len) > 0).any() or (lots.em_kinds.map(len) > 0).any()
