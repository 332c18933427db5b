"""What-if sweeps: changes to a scenario as data, many rounds, one tidy table, on Dask or in-process.

An analyst describes what might change as small frozen dataclasses (a road
closes, demand doubles in a district, a donation arrives three days late, test
kits expire a week early...), combines them into variants with :func:`grid` or
:func:`sample`, and runs a round for every variant with :func:`run_sweep`:

- in this process (``client=None``),
- on a local Dask cluster started for the sweep (``client="local"``, the
  default: every core, nothing to set up),
- or on an existing ``dask.distributed`` cluster (``client="tcp://host:8786"``
  or a :class:`distributed.Client`), so a province-wide sweep runs on many
  machines without code changes.

The base scenario and its travel times (with the road graph inside) are
scattered to the workers once; a variant that changes the roads re-plans from
them with :func:`allocator.network.replan.replan` instead of rebuilding the
graph. A variant that fails becomes a row whose ``error`` says why. The table is
the same whichever way the sweep runs (rows sorted by ``variant_id``; only the
timing columns in :data:`WALL_CLOCK` differ).

Examples
--------
>>> from allocator import examples
>>> from allocator.sweep import ScaleSupply, grid, run_sweep
>>> variants = grid({"supply": [ScaleSupply(0.5), ScaleSupply(1.0)]})
>>> table = run_sweep(examples.three_tiers(), variants, client=None, progress=False)
>>> table[["variant_id", "supply", "fill_tier_1", "error"]].to_dict("records")
[{'variant_id': 0, 'supply': 'supply x0.5', 'fill_tier_1': 0.625, 'error': ''}, {'variant_id': 1, 'supply': 'supply x1', 'fill_tier_1': 1.0, 'error': ''}]
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from allocator.errors import AllocatorError
from allocator.scenario import Scenario

__all__ = [
    "Change", "CloseRoad", "LiftRule", "ScaleDemand", "ScaleSupply", "DelayDonation", "CancelDonation",
    "ExpireEarlier", "SetTier", "Variant", "SweepError", "grid", "sample", "apply", "run_variant",
    "run_sweep", "round_metrics", "local_client", "comparable", "REASONS", "WALL_CLOCK",
]

#: Shortage reasons, in the order of the allocation rules (one ``shortage_<reason>`` column each).
REASONS = ("unreachable", "earmarked", "grade", "capacity", "supply")

#: Columns that measure time: they differ from run to run, everything else must not.
#: ``seconds`` is the variant's wall clock, ``cpu_seconds`` the CPU time of the thread that ran it
#: (what the variant cost, whatever else the machine was doing), ``solve_seconds`` the LP's build and solve.
WALL_CLOCK = ("seconds", "cpu_seconds", "solve_seconds")


class SweepError(AllocatorError):
    """A change cannot be applied to the scenario (for example it selects nothing), or a sweep is ill-formed.

    Attributes
    ----------
    code : str
        The message's key in the catalogue, ``sweep.error.<code>`` (``allocator/locale/*/sweep.toml``).
    params : dict
        Its parameters; :meth:`render` gives the message in another language.
    """

    def __init__(self, code: str, **params: Any):
        self.code, self.params = code, dict(params)
        super().__init__(self.render("en"), **params)
        self.code, self.params = code, dict(params)  # the base class keeps its own; ours are sweep.error.<code>

    def render(self, lang: str = "en") -> str:
        """The message in ``lang`` (``"zh"`` or ``"en"``)."""
        from allocator.i18n import t

        return t(f"sweep.error.{self.code}", lang, **self.params)


# --------------------------------------------------------------------------- changes


def _fmt(x: float) -> str:
    return f"{x:g}"


def _selector(**kw: str | None) -> str:
    parts = [f"{k}={v}" for k, v in kw.items() if v is not None]
    return f" [{', '.join(parts)}]" if parts else ""


def _pick(df: pd.DataFrame, what: str, **kw: str | None) -> np.ndarray:
    """Boolean mask of the rows matching every given selector; a selector matching nothing is an error."""
    mask = np.ones(len(df), bool)
    for col, want in kw.items():
        if want is None:
            continue
        hit = (df[col].astype(str) == str(want)).to_numpy()
        if not hit.any():
            known = sorted(set(df[col].astype(str)) - {""})
            raise SweepError("no_match", change=what, column=col, value=str(want), known=", ".join(known[:30]))
        mask &= hit
    return mask


def _round(q: pd.Series, factor: float) -> pd.Series:
    return pd.Series(np.floor(q.to_numpy(float) * factor + 0.5).astype("int64"), index=q.index)


class Change:
    """One change to a scenario. Subclasses are frozen dataclasses: changes are data.

    ``apply`` returns a changed copy (the given scenario is never modified),
    ``label`` names the change in a sweep's table and ``value`` is its number
    (factor, days, tier), or None.
    """

    def apply(self, scenario: Scenario) -> Scenario:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def label(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def value(self) -> float | None:
        return None

    def traffic(self) -> tuple[list[Any], list[str]]:
        """Rules this change adds and rule ids it lifts (both empty unless it touches the roads)."""
        return [], []


def _with_traffic(scenario: Scenario, add: Sequence[Any] = (), lift: Sequence[str] = ()) -> Scenario:
    from allocator.network.paths import control_of

    control = control_of(scenario).with_rules(add=add, lift=lift)
    return scenario.replace(traffic_control=control.to_frame())


@dataclass(frozen=True)
class CloseRoad(Change):
    """Close a road (a bridge, a tunnel) to every vehicle, or to all but the holders of ``permits``.

    ``road`` matches a road's ``name`` or ``name_zh``; ``u`` and ``v`` name one edge instead.

    Examples
    --------
    >>> from allocator import examples
    >>> sc = CloseRoad(u="N1", v="N3").apply(examples.ring_road())
    >>> sc.traffic_control.rule_id.tolist()[-1]
    'sweep-close-N1-N3'
    """

    road: str = ""
    u: str = ""
    v: str = ""
    permits: tuple[str, ...] = ()

    @property
    def rule_id(self) -> str:
        return "sweep-close-" + (self.road or f"{self.u}-{self.v}")

    @property
    def label(self) -> str:
        return "close " + (self.road or f"{self.u}-{self.v}")

    def _rule(self, scenario: Scenario | None = None) -> Any:
        from allocator.network import Rule

        road = self.road
        if scenario is not None:
            if not (scenario.has("roads") and scenario.has("road_nodes")):
                raise SweepError("no_roads", change=self.label)
            roads = scenario.roads
            if road:
                names = roads["name"].astype(str)
                zh = roads["name_zh"].astype(str) if "name_zh" in roads else pd.Series("", index=roads.index)
                if (names == road).any():
                    pass
                elif (zh == road).any():
                    road = str(names[zh == road].iloc[0])
                else:
                    crossings = sorted(set(names[roads.kind.isin(["bridge", "tunnel"])]) - {""})
                    raise SweepError("no_road", change=self.label, road=road, known=", ".join(crossings))
            elif not (self.u and self.v):
                raise SweepError("closure_target")
            else:
                ends = set(roads.u.astype(str)) | set(roads.v.astype(str))
                for n in (self.u, self.v):
                    if n not in ends:
                        raise SweepError("no_node", change=self.label, node=n)
        return Rule(self.rule_id, "closure", road=road, u=self.u, v=self.v, permits=frozenset(self.permits))

    def traffic(self) -> tuple[list[Any], list[str]]:
        return [self._rule()], []

    def apply(self, scenario: Scenario) -> Scenario:
        return _with_traffic(scenario, add=[self._rule(scenario)])


@dataclass(frozen=True)
class LiftRule(Change):
    """Lift a traffic-control rule of the scenario (reopen a tunnel, remove a checkpoint or a zone)."""

    rule_id: str

    @property
    def label(self) -> str:
        return f"lift {self.rule_id}"

    def traffic(self) -> tuple[list[Any], list[str]]:
        return [], [self.rule_id]

    def apply(self, scenario: Scenario) -> Scenario:
        known = [str(x) for x in scenario.traffic_control.rule_id]
        if self.rule_id not in known:
            raise SweepError("no_rule", change=self.label, rule_id=self.rule_id, known=", ".join(known))
        return _with_traffic(scenario, lift=[self.rule_id])


@dataclass(frozen=True)
class ScaleDemand(Change):
    """Multiply needs by ``factor``, for every site or those of one district, kind or site (and item).

    Quantities are rounded to whole units. The scenario must give ``needs``.

    Examples
    --------
    >>> from allocator import examples
    >>> ScaleDemand(2.0, site_id="H1").apply(examples.two_hospitals()).needs.quantity.tolist()
    [1600, 800]
    """

    factor: float
    district: str | None = None
    kind: str | None = None
    site_id: str | None = None
    item_id: str | None = None

    @property
    def label(self) -> str:
        return f"demand x{_fmt(self.factor)}" + _selector(district=self.district, kind=self.kind,
                                                          site=self.site_id, item=self.item_id)

    @property
    def value(self) -> float:
        return float(self.factor)

    def apply(self, scenario: Scenario) -> Scenario:
        if self.factor < 0:
            raise SweepError("negative_factor", change=self.label)
        if not scenario.has("needs"):
            raise SweepError("no_needs", change=self.label)
        sites = scenario.sites
        chosen = set(sites.site_id[_pick(sites, self.label, district=self.district, kind=self.kind,
                                         site_id=self.site_id)].astype(str))
        needs = scenario.needs.copy()
        mask = needs.site_id.astype(str).isin(chosen).to_numpy()
        if self.item_id is not None:
            mask = mask & _pick(needs, self.label, item_id=self.item_id)
        needs.loc[mask, "quantity"] = _round(needs.quantity[mask], self.factor)
        return scenario.replace(needs=needs)


@dataclass(frozen=True)
class ScaleSupply(Change):
    """Multiply the quantity of every lot (or those of one item and/or depot) by ``factor``."""

    factor: float
    item_id: str | None = None
    depot_id: str | None = None

    @property
    def label(self) -> str:
        return f"supply x{_fmt(self.factor)}" + _selector(item=self.item_id, depot=self.depot_id)

    @property
    def value(self) -> float:
        return float(self.factor)

    def apply(self, scenario: Scenario) -> Scenario:
        if self.factor < 0:
            raise SweepError("negative_factor", change=self.label)
        stock = scenario.stock.copy()
        mask = _pick(stock, self.label, item_id=self.item_id, depot_id=self.depot_id)
        stock.loc[mask, "quantity"] = _round(stock.quantity[mask], self.factor)
        return scenario.replace(stock=stock)


def _donation(scenario: Scenario, donation_id: str, label: str) -> None:
    known = [str(x) for x in scenario.donations.donation_id]
    if donation_id not in known:
        raise SweepError("no_donation", change=label, donation_id=donation_id)


@dataclass(frozen=True)
class DelayDonation(Change):
    """A donation is received ``days`` later; if that is after the round's ``as_of``, its lots are not in stock yet."""

    donation_id: str
    days: float

    @property
    def label(self) -> str:
        return f"delay {self.donation_id} {_fmt(self.days)}d"

    @property
    def value(self) -> float:
        return float(self.days)

    def apply(self, scenario: Scenario) -> Scenario:
        _donation(scenario, self.donation_id, self.label)
        don = scenario.donations.copy()
        mine = (don.donation_id.astype(str) == self.donation_id).to_numpy()
        received = pd.to_datetime(don.loc[mine, "received"]) + pd.Timedelta(days=self.days)
        don.loc[mine, "received"] = received
        stock = scenario.stock
        if received.notna().all() and (received > scenario.at).all():
            stock = stock[stock.donation_id.astype(str) != self.donation_id].reset_index(drop=True)
        return scenario.replace(donations=don, stock=stock)


@dataclass(frozen=True)
class CancelDonation(Change):
    """A pledged donation never arrives: its lots leave the stock (the pledge stays in ``donations``)."""

    donation_id: str

    @property
    def label(self) -> str:
        return f"cancel {self.donation_id}"

    def apply(self, scenario: Scenario) -> Scenario:
        _donation(scenario, self.donation_id, self.label)
        stock = scenario.stock
        return scenario.replace(stock=stock[stock.donation_id.astype(str) != self.donation_id].reset_index(drop=True))


@dataclass(frozen=True)
class ExpireEarlier(Change):
    """Lots with an expiry date (of one item and/or depot) expire ``days`` earlier; a lot expired at ``as_of`` ships nothing."""

    days: float
    item_id: str | None = None
    depot_id: str | None = None

    @property
    def label(self) -> str:
        return f"expire {_fmt(self.days)}d earlier" + _selector(item=self.item_id, depot=self.depot_id)

    @property
    def value(self) -> float:
        return float(self.days)

    def apply(self, scenario: Scenario) -> Scenario:
        stock = scenario.stock.copy()
        mask = _pick(stock, self.label, item_id=self.item_id, depot_id=self.depot_id)
        exp = pd.to_datetime(stock["expires"])
        stock["expires"] = exp.where(~mask, exp - pd.Timedelta(days=self.days))
        return scenario.replace(stock=stock)


@dataclass(frozen=True)
class SetTier(Change):
    """Move the sites of one kind, district or id to another tier (1 is served first)."""

    tier: int
    site_id: str | None = None
    kind: str | None = None
    district: str | None = None

    @property
    def label(self) -> str:
        return f"tier {self.tier}" + _selector(site=self.site_id, kind=self.kind, district=self.district)

    @property
    def value(self) -> float:
        return float(self.tier)

    def apply(self, scenario: Scenario) -> Scenario:
        if int(self.tier) != self.tier or self.tier < 1:
            raise SweepError("bad_tier", change=self.label)
        sites = scenario.sites.copy()
        mask = _pick(sites, self.label, site_id=self.site_id, kind=self.kind, district=self.district)
        sites.loc[mask, "tier"] = int(self.tier)
        return scenario.replace(sites=sites)


def apply(scenario: Scenario, changes: Iterable[Change]) -> Scenario:
    """The scenario with ``changes`` applied in order (a new object; ``scenario`` is not modified).

    Raises
    ------
    SweepError
        When a change selects nothing or names something the scenario does not have.
    """
    for ch in changes:
        scenario = ch.apply(scenario)
    return scenario


# --------------------------------------------------------------------------- variants


Option = Change | Sequence[Change] | None


@dataclass(frozen=True)
class Variant:
    """One what-if: an id, the changes to make, and the option chosen on each axis (for the table).

    Attributes
    ----------
    variant_id : int
    changes : tuple of Change
    params : tuple of (axis, label, value)
    """

    variant_id: int
    changes: tuple[Change, ...] = ()
    params: tuple[tuple[str, str, float | None], ...] = ()

    def columns(self) -> dict[str, Any]:
        """The variant's parameter columns: ``<axis>`` (label) and ``<axis>_value`` (number or NaN)."""
        out: dict[str, Any] = {}
        for axis, label, value in self.params:
            out[axis] = label
            out[f"{axis}_value"] = np.nan if value is None else float(value)
        return out


def _option(opt: Option) -> tuple[tuple[Change, ...], str, float | None]:
    if opt is None:
        return (), "baseline", None
    if isinstance(opt, Change):
        return (opt,), opt.label, opt.value
    chs = tuple(opt)
    if not all(isinstance(c, Change) for c in chs):
        raise SweepError("bad_option")
    vals = [c.value for c in chs if c.value is not None]
    return chs, " + ".join(c.label for c in chs) or "baseline", (vals[0] if len(vals) == 1 else None)


def _axes(axes: Mapping[str, Sequence[Option]]) -> list[tuple[str, list[tuple[tuple[Change, ...], str, float | None]]]]:
    out = []
    for name, options in axes.items():
        opts = [_option(o) for o in options]
        if not opts:
            raise SweepError("empty_axis", axis=str(name))
        out.append((str(name), opts))
    return out


def _variant(vid: int, axes: list, picks: Sequence[int]) -> Variant:
    changes: list[Change] = []
    params = []
    for (name, opts), k in zip(axes, picks):
        chs, label, value = opts[k]
        changes.extend(chs)
        params.append((name, label, value))
    return Variant(vid, tuple(changes), tuple(params))


def grid(axes: Mapping[str, Sequence[Option]], start: int = 0) -> list[Variant]:
    """Every combination of one option per axis (the first axis varies slowest).

    Parameters
    ----------
    axes : mapping of str to sequence
        Axis name -> options; an option is a :class:`Change`, a sequence of
        changes made together, or ``None`` (no change, labelled ``baseline``).
    start : int
        The first variant id.

    Examples
    --------
    >>> vs = grid({"demand": [None, ScaleDemand(2)], "supply": [ScaleSupply(0.5), ScaleSupply(1)]})
    >>> [v.columns()["demand"] + " / " + v.columns()["supply"] for v in vs]
    ['baseline / supply x0.5', 'baseline / supply x1', 'demand x2 / supply x0.5', 'demand x2 / supply x1']
    """
    ax = _axes(axes)
    ranges = [range(len(opts)) for _, opts in ax]
    return [_variant(start + i, ax, picks) for i, picks in enumerate(itertools.product(*ranges))]


def sample(axes: Mapping[str, Sequence[Option]], n: int, seed: int = 0, start: int = 0) -> list[Variant]:
    """``n`` variants, each with one option per axis drawn uniformly at random; the same seed gives the same variants.

    Examples
    --------
    >>> axes = {"supply": [ScaleSupply(f) for f in (0.5, 1, 1.5)], "tunnel": [None, LiftRule("TC01")]}
    >>> [v.params for v in sample(axes, 2, seed=1)] == [v.params for v in sample(axes, 2, seed=1)]
    True
    """
    if n < 0:
        raise SweepError("negative_count")
    ax = _axes(axes)
    rng = np.random.default_rng(seed)
    picks = np.column_stack([rng.integers(0, len(opts), size=n) for _, opts in ax]) if ax else np.zeros((n, 0), int)
    return [_variant(start + i, ax, [int(k) for k in picks[i]]) for i in range(n)]


# --------------------------------------------------------------------------- one round


def round_metrics(result: Any, travel: Any) -> dict[str, Any]:
    """The sweep table's numbers for one round.

    Returns
    -------
    dict
        ``need, filled, fill`` (filled / need), ``fill_tier_<t>`` and
        ``fill_item_<item>`` (fill ratios), ``shortage_<reason>`` (units short for
        each reason in :data:`REASONS`), ``transport_cost`` (kg x minutes),
        ``unreachable_sites`` (how many sites no depot can reach) and
        ``unreachable`` (their ids, ``;``-separated).
    """
    fill = result.fill
    need, filled = float(fill.need.sum()), float(fill.filled.sum())
    out: dict[str, Any] = {"need": need, "filled": filled, "fill": filled / need if need else np.nan}
    for key, col in (("tier", "tier"), ("item", "item_id")):
        g = fill.groupby(col, sort=True)[["need", "filled"]].sum()
        for k, r in g.iterrows():
            out[f"fill_{key}_{k}"] = float(r.filled / r.need) if r.need else np.nan
    short = fill[fill.shortage > 0].groupby("reason").shortage.sum()
    for reason in REASONS:
        out[f"shortage_{reason}"] = float(short.get(reason, 0.0))
    out["transport_cost"] = float(result.summary["totals"]["transport_cost"])
    minutes = travel.minutes if hasattr(travel, "minutes") else travel
    cut = [str(s) for s in minutes.columns[~np.isfinite(minutes.to_numpy(float)).any(axis=0)]]
    out["unreachable_sites"] = len(cut)
    out["unreachable"] = ";".join(sorted(cut))
    secs = result.summary.get("seconds", {})
    out["solve_seconds"] = float(secs.get("build", 0.0) + secs.get("solve", 0.0))
    return out


@dataclass
class Base:
    """What every variant starts from: the scenario and its travel times (road graph inside).

    Scattered once to every worker by :func:`run_sweep`.
    """

    scenario: Scenario
    travel: Any
    solver: str = "highs"

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # A network arriving in another process gets a new identity there: the network caches
        # are keyed by it, and the number it had in the sender's process may be taken here.
        net = getattr(self.travel, "network", None)
        if net is not None and hasattr(net, "uid"):
            from allocator.network import model

            net.uid = model.new_uid()


def run_variant(base: Base, variant: Variant) -> dict[str, Any]:
    """Run the round of one variant and return its row; any failure is caught into ``error``."""
    from allocator import allocate
    from allocator.network.replan import replan

    t0, c0 = time.perf_counter(), time.thread_time()
    row: dict[str, Any] = {"variant_id": int(variant.variant_id), **variant.columns()}
    try:
        sc = apply(base.scenario, variant.changes)
        add: list[Any] = []
        lift: list[str] = []
        for ch in variant.changes:
            a, li = ch.traffic()
            add += a
            lift += li
        travel = base.travel
        if add or lift:
            if getattr(travel, "fallback", True):
                raise SweepError("fallback")
            travel = replan(travel, add=add, lift=lift).travel
        result = allocate(sc, travel=travel, solver=base.solver)
        row.update(round_metrics(result, travel))
        row["error"] = ""
    except Exception as exc:  # noqa: BLE001 - a failed variant is a row, not the end of the sweep
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["seconds"] = time.perf_counter() - t0
    row["cpu_seconds"] = time.thread_time() - c0
    return row


# --------------------------------------------------------------------------- progress


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class _Bar:
    """A progress bar: an HTML ``<progress>`` in a notebook, a ``\\r`` line on the console, or a callback."""

    def __init__(self, total: int, progress: bool | Callable[[int, int], None], where: str, lang: str = "en"):
        self.total, self.done, self.t0, self.where, self.lang = total, 0, time.perf_counter(), where, lang
        self.callback = progress if callable(progress) else None
        self.mode = "" if not progress or self.callback else ("notebook" if _in_notebook() else "console")
        self.handle: Any = None
        self.last = 0.0
        self._show(force=True)

    def _text(self, bar: bool) -> str:
        from allocator.i18n import t

        width = 30
        k = int(width * self.done / self.total) if self.total else width
        text = t("sweep.progress.bar", self.lang, where=self.where, done=self.done, total=self.total,
                 seconds=f"{time.perf_counter() - self.t0:.0f}")
        return f"[{'#' * k}{'.' * (width - k)}] {text}" if bar else text

    def _show(self, force: bool = False) -> None:
        if self.callback is not None:
            self.callback(self.done, self.total)
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.2 and self.done < self.total:
            return
        self.last = now
        if self.mode == "notebook":
            from html import escape

            from IPython.display import HTML, display

            html = HTML(f"<progress value='{self.done}' max='{max(self.total, 1)}' style='width:30em'></progress> "
                        + escape(self._text(bar=False)))
            if self.handle is None:
                self.handle = display(html, display_id=True)
            else:
                self.handle.update(html)
        elif self.mode == "console":
            sys.stderr.write("\r" + self._text(bar=True))
            sys.stderr.flush()

    def update(self, n: int = 1) -> None:
        self.done += n
        self._show()

    def close(self) -> None:
        self._show(force=True)
        if self.mode == "console":
            sys.stderr.write("\n")
            sys.stderr.flush()


# --------------------------------------------------------------------------- Dask


def local_client(n_workers: int | None = None, processes: bool = True,
                 dashboard_address: str | None = "127.0.0.1:8787") -> Any:
    """A :class:`distributed.Client` on a new :class:`distributed.LocalCluster` of this machine.

    One single-threaded worker per core (rounds are CPU-bound), bound to
    127.0.0.1; ``client.dashboard_link`` is the live dashboard (another free port
    is taken when 8787 is busy; ``dashboard_address=None``: no dashboard).
    ``client.close()`` (or the end of a ``with`` block) stops the cluster too.
    """
    from dask.distributed import Client

    # a Client given cluster arguments starts the LocalCluster itself and closes it with itself
    # in-process workers talk inproc:// (no port); separate processes listen on 127.0.0.1 only
    net = {"host": "127.0.0.1"} if processes else {}
    return Client(n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1, processes=processes,
                  dashboard_address=dashboard_address, **net)


@contextlib.contextmanager
def _connect(client: Any) -> Iterator[Any]:
    if not isinstance(client, str):
        yield client  # the caller's client: theirs to close
        return
    from dask.distributed import Client

    c = local_client() if client == "local" else Client(client)
    try:
        yield c
    finally:
        c.close()


def run_sweep(
    scenario: Scenario,
    variants: Iterable[Variant],
    client: Any = "local",
    progress: bool | Callable[[int, int], None] = True,
    travel: Any = None,
    solver: str = "highs",
    lang: str = "en",
) -> pd.DataFrame:
    """Run one allocation round per variant and collect one row per variant.

    Parameters
    ----------
    scenario : Scenario
        The base scenario every variant changes.
    variants : iterable of Variant
        From :func:`grid`, :func:`sample`, or built by hand.
    client : {"local"}, str, distributed.Client or None
        ``"local"`` (default): start a :func:`local_client` for this sweep (all
        cores) and close it after. A scheduler address (``"tcp://10.0.0.5:8786"``):
        connect to that cluster. A ``distributed.Client``: use it (it stays open).
        None: run serially in this process, without Dask.
    progress : bool or callable(done, total)
        Show a progress bar (in a notebook or on the console), or call this as variants finish.
    travel : allocator.network.Travel, optional
        The base scenario's travel times (computed when not given).
    solver : str
        The LP solver of every round.
    lang : {"en", "zh"}
        The language of the progress bar.

    Returns
    -------
    DataFrame
        Sorted by ``variant_id``: the variant's parameter columns
        (:meth:`Variant.columns`), the numbers of :func:`round_metrics`,
        ``error`` (empty when the round ran) and the wall-clock columns
        :data:`WALL_CLOCK` (``seconds`` per variant, ``cpu_seconds`` of CPU, ``solve_seconds`` in the LP).
    """
    from allocator.i18n import t
    from allocator.network import travel_times

    variants = list(variants)
    ids = [v.variant_id for v in variants]
    if len(set(ids)) != len(ids):
        raise SweepError("duplicate_ids")
    base = Base(scenario, travel if travel is not None else travel_times(scenario), solver)
    rows: list[dict[str, Any]] = []
    if client is None:
        bar = _Bar(len(variants), progress, t("sweep.progress.serial", lang), lang)
        for v in variants:
            rows.append(run_variant(base, v))
            bar.update()
        bar.close()
    else:
        from dask.distributed import as_completed

        with _connect(client) as c:
            where = t("sweep.progress.dask", lang, workers=len(c.scheduler_info().get("workers", {})))
            bar = _Bar(len(variants), progress, where, lang)
            shared = c.scatter(base, broadcast=True, hash=False)
            tag = uuid.uuid4().hex[:8]
            futures = {c.submit(run_variant, shared, v, key=f"variant-{v.variant_id}-{tag}", pure=False): v
                       for v in variants}
            for fut in as_completed(futures):
                v = futures[fut]
                try:
                    rows.append(fut.result())
                except Exception as exc:  # noqa: BLE001 - a lost worker fails one variant, not the sweep
                    rows.append({"variant_id": int(v.variant_id), **v.columns(),
                                 "error": f"{type(exc).__name__}: {exc}", "seconds": np.nan, "cpu_seconds": np.nan})
                bar.update()
            bar.close()
            del shared
    return _table(rows, [k for v in variants for k in v.columns()])


def _table(rows: list[dict[str, Any]], params: list[str]) -> pd.DataFrame:
    rows = sorted(rows, key=lambda r: r["variant_id"])
    # deterministic column order whatever the completion order: id, parameters, metrics, error, clocks
    first = ["variant_id", *dict.fromkeys(params)]
    metric_keys = {k for r in rows for k in r} - set(first) - {"error", *WALL_CLOCK}
    head = ["need", "filled", "fill"]

    def order(k: str) -> tuple:
        if k in head:
            return (0, head.index(k), 0, "")
        fam = next((i for i, p in enumerate(("fill_tier_", "fill_item_", "shortage_")) if k.startswith(p)), None)
        if fam is not None:
            rest = k.split("_", 2)[-1] if fam < 2 else k[len("shortage_"):]
            num = int(rest) if fam == 0 and rest.isdigit() else 0
            return (1 + fam, num, REASONS.index(rest) if fam == 2 and rest in REASONS else 0, rest)
        return (4, 0, 0, k)

    metrics = sorted(metric_keys, key=order)
    df = pd.DataFrame.from_records(rows, columns=[*first, *metrics, "error", *WALL_CLOCK])
    df["error"] = df["error"].fillna("").astype(str)
    df["variant_id"] = df["variant_id"].astype("int64")
    return df[[*first, *metrics, "error", *WALL_CLOCK]].reset_index(drop=True)


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """The table without its timing columns (:data:`WALL_CLOCK`): what must be identical however a sweep ran."""
    return table.drop(columns=[c for c in WALL_CLOCK if c in table.columns])

