"""Traffic control: closures, checkpoints and restricted zones, with permits and time windows.

The rules follow the contract's ``traffic_control.csv``:

- a **closure** shuts every arc of a named road (``road``) or the arcs between
  ``u`` and ``v`` (both directions), except for vehicles holding one of its
  permits; a closure without permits shuts the road to everyone;
- a **checkpoint** on a road or edge adds ``delay_min`` once per *pass*. A pass is
  entering a run of consecutive arcs of that checkpoint: driving along a
  checkpointed road for several segments costs the delay once; leaving it and
  coming back costs it again. A checkpoint with permits lets only vehicles
  holding one of them through (the others cannot use the road); a checkpoint
  without permits lets any vehicle through;
- a **restricted zone** (a WKT polygon in lon lat) may be entered only by
  vehicles holding one of its permits: for every other vehicle the arcs whose
  head lies inside the polygon do not exist, so a site inside is unreachable
  (a vehicle that starts inside may still drive out);
- a rule is **in force** at ``at`` when ``start <= at < end`` (an empty bound is open).

A *vehicle class* is the frozenset of permits a vehicle holds; the effect of the
rules on a class is an :class:`Effect` (the arcs blocked and the checkpoint rules
whose delay applies), which is what the travel-time cache is keyed by.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allocator.errors import NetworkError, UnknownKeyError
from allocator.network.model import RoadNetwork
from allocator.network.tables import parse_tables, raise_errors

KINDS = ("closure", "checkpoint", "restricted_zone")


@dataclass(frozen=True)
class Rule:
    """One traffic-control rule (a row of ``traffic_control.csv``).

    Examples
    --------
    >>> r = Rule("C1", "closure", road="Yangtze River Tunnel")
    >>> r.in_force(pd.Timestamp("2020-02-10")), r.lets(frozenset({"supply"}))
    (True, False)
    """

    rule_id: str
    kind: str
    road: str = ""
    u: str = ""
    v: str = ""
    area_wkt: str = ""
    delay_min: float = 0.0
    permits: frozenset = frozenset()
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise NetworkError(f"rule {self.rule_id}: unknown kind {self.kind!r} (use {', '.join(KINDS)})")
        object.__setattr__(self, "permits", frozenset(self.permits))
        for k in ("start", "end"):
            val = getattr(self, k)
            object.__setattr__(self, k, None if val is None or pd.isna(val) else pd.Timestamp(val))

    def in_force(self, at: pd.Timestamp | None) -> bool:
        """Whether the rule applies at ``at`` (``start <= at < end``; None = always)."""
        if at is None:
            return True
        at = pd.Timestamp(at)
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)

    def lets(self, vehicle: frozenset) -> bool:
        """Whether a vehicle with these permits may pass (checkpoints without permits let anyone)."""
        if self.kind == "checkpoint" and not self.permits:
            return True
        return bool(self.permits & vehicle)

    @property
    def geometry(self) -> Any:
        """The shapely polygon of a restricted zone."""
        from shapely import wkt

        return wkt.loads(self.area_wkt)


@dataclass(frozen=True)
class Effect:
    """What the rules in force do to one vehicle class: the cache key of travel times.

    Attributes
    ----------
    blocked : frozenset of str
        Rules whose arcs the class may not use.
    delays : frozenset of str
        Checkpoint rules whose delay the class pays.
    """

    blocked: frozenset = frozenset()
    delays: frozenset = frozenset()


@dataclass
class TrafficControl:
    """A set of traffic-control rules.

    Build it from the scenario's table with :meth:`from_frame`; rules resolve to
    arcs of a network with :meth:`arcs` (cached per network).

    Examples
    --------
    >>> tc = TrafficControl([Rule("Z", "restricted_zone",
    ...     area_wkt="POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))", permits=frozenset({"medical"}))])
    >>> tc.effect(frozenset(), None).blocked, tc.effect(frozenset({"medical"}), None).blocked
    (frozenset({'Z'}), frozenset())
    """

    rules: list[Rule] = field(default_factory=list)
    _arc_cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.rules = list(self.rules)
        seen: set[str] = set()
        for r in self.rules:
            if r.rule_id in seen:
                raise NetworkError(f"traffic control: duplicate rule_id {r.rule_id!r}")
            seen.add(r.rule_id)

    @classmethod
    def from_frame(
        cls, df: pd.DataFrame, label: str = "traffic_control.csv", *, checked: bool = False
    ) -> TrafficControl:
        """Rules from a ``traffic_control`` table, checked and typed through the scenario schema.

        Parameters
        ----------
        df : DataFrame
            The table, typed (as a scenario holds it) or as text.
        label : str
            How problems name the file.
        checked : bool
            The table is a typed table the validator has already checked (a
            scenario's): it is used as it is.

        Raises
        ------
        RoadFileError
            With the validator's problems (unknown kind, invalid WKT, a rule without
            a road or edge, a negative delay, an end before the start, ...). Whether a
            named road exists is checked with the roads (the scenario's validation).
        """
        if checked:
            typed = df
        else:
            tables, report = parse_tables({"traffic_control": df}, {"traffic_control": label})
            raise_errors(report)
            typed = tables["traffic_control"]
        return cls([_rule({str(k): v for k, v in r.items()}) for r in typed.to_dict("records")])

    def to_frame(self) -> pd.DataFrame:
        """The rules as a ``traffic_control`` table."""
        return pd.DataFrame(
            [
                {"rule_id": r.rule_id, "kind": r.kind, "road": r.road, "u": r.u, "v": r.v,
                 "area_wkt": r.area_wkt, "delay_min": r.delay_min, "permits": tuple(sorted(r.permits)),
                 "start": r.start, "end": r.end}
                for r in self.rules
            ],
            columns=["rule_id", "kind", "road", "u", "v", "area_wkt", "delay_min", "permits", "start", "end"],
        )

    def with_rules(self, add: Iterable[Rule] = (), lift: Iterable[str] = ()) -> TrafficControl:
        """A copy with rules added and rules (by id) lifted; resolved arcs are shared."""
        lifted = set(lift)
        rules = [r for r in self.rules if r.rule_id not in lifted] + list(add)
        out = TrafficControl(rules)
        out._arc_cache = self._arc_cache
        return out

    def __getitem__(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.rule_id == rule_id:
                return r
        raise UnknownKeyError(f"no traffic-control rule {rule_id!r}")

    def permits(self, kinds: Iterable[str] = ("checkpoint", "restricted_zone")) -> frozenset:
        """Every permit named by rules of these kinds (the default vehicle's permits)."""
        ks = set(kinds)
        return frozenset(p for r in self.rules if r.kind in ks for p in r.permits)

    def in_force(self, at: pd.Timestamp | None) -> list[Rule]:
        """The rules in force at ``at``."""
        return [r for r in self.rules if r.in_force(at)]

    def effect(self, vehicle: frozenset, at: pd.Timestamp | None) -> Effect:
        """What the rules in force at ``at`` do to a vehicle holding ``vehicle`` permits."""
        blocked, delays = set(), set()
        for r in self.in_force(at):
            if r.kind == "checkpoint":
                if r.lets(vehicle):
                    if r.delay_min > 0:
                        delays.add(r.rule_id)
                else:
                    blocked.add(r.rule_id)
            elif not r.lets(vehicle):
                blocked.add(r.rule_id)
        return Effect(frozenset(blocked), frozenset(delays))

    def arcs(self, net: RoadNetwork, rule: Rule) -> np.ndarray:
        """Indices (into ``net.arrays``) of the arcs a rule applies to.

        Closures and checkpoints: arcs named ``road``, or the arcs between ``u`` and
        ``v`` in both directions. Restricted zones: arcs whose head node lies in the
        polygon (found in bulk with :func:`shapely.contains_xy`).
        """
        key = (net.uid, rule.rule_id, rule.kind, rule.road, rule.u, rule.v, rule.area_wkt)
        hit = self._arc_cache.get(key)
        if hit is not None:
            return hit
        a = net.arrays
        if rule.kind == "restricted_zone":
            inside = zone_nodes(net, rule)
            out = np.nonzero(inside[a.v])[0]
        else:
            mask = np.zeros(a.n_arcs, bool)
            if rule.road:
                mask |= a.name == rule.road
                if a.name_zh is not None:
                    mask |= a.name_zh == rule.road
            if rule.u and rule.v:
                iu, iv = a.index.get(rule.u), a.index.get(rule.v)
                if iu is None or iv is None:
                    raise NetworkError(
                        f"rule {rule.rule_id}: unknown road node {rule.u if iu is None else rule.v!r}")
                mask |= ((a.u == iu) & (a.v == iv)) | ((a.u == iv) & (a.v == iu))
            out = np.nonzero(mask)[0]
        out = out.astype(np.int64)
        self._arc_cache[key] = out
        return out

    def groups(self, net: RoadNetwork) -> np.ndarray:
        """For every arc, the frozenset of checkpoint rule ids on it (empty for most arcs).

        Uses every checkpoint rule regardless of time window, so that the expanded
        graph's shape does not change when a checkpoint comes into or out of force.
        """
        key = (net.uid, "groups", tuple((r.rule_id, r.road, r.u, r.v) for r in self.rules if r.kind == "checkpoint"))
        hit = self._arc_cache.get(key)
        if hit is not None:
            return hit
        out = np.full(net.arrays.n_arcs, None, dtype=object)
        for r in self.rules:
            if r.kind != "checkpoint":
                continue
            for i in self.arcs(net, r):
                out[i] = frozenset({r.rule_id}) if out[i] is None else out[i] | {r.rule_id}
        self._arc_cache[key] = out
        return out


def _rule(row: dict[str, Any]) -> Rule:
    """A :class:`Rule` from a typed row of ``traffic_control``."""
    delay = row.get("delay_min")
    text = {k: str(row.get(k) or "") for k in ("road", "u", "v", "area_wkt")}
    return Rule(str(row["rule_id"]), str(row["kind"]), text["road"], text["u"], text["v"], text["area_wkt"],
                0.0 if delay is None or pd.isna(delay) else float(delay), frozenset(row.get("permits") or ()),
                row.get("start"), row.get("end"))


def zone_nodes(net: RoadNetwork, rule: Rule) -> np.ndarray:
    """Boolean mask of the network's nodes inside a restricted zone (vectorised)."""
    import shapely

    a = net.arrays
    poly = rule.geometry
    shapely.prepare(poly)
    return np.asarray(shapely.contains_xy(poly, a.lon, a.lat), bool)


def vehicle_classes(scenario: Any, control: TrafficControl) -> dict[str, list[frozenset]]:
    """Vehicle classes per depot: the distinct permit sets of its vehicles.

    A depot without vehicles routes as one vehicle holding every permit named by
    a checkpoint or restricted zone and no closure permit (the contract's default).
    """
    default = control.permits()
    veh = scenario.vehicles if scenario.has("vehicles") else None
    out: dict[str, list[frozenset]] = {}
    for d in scenario.depots.depot_id:
        classes = []
        if veh is not None:
            for p in veh.loc[veh.depot_id == d, "permits"]:
                c = frozenset(p)
                if c not in classes:
                    classes.append(c)
        out[str(d)] = classes or [default]
    return out
