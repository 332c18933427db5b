"""An officer's working state for one allocation round: locks, exclusions, runs and drafts.

The app's Round page keeps one :class:`RoundWork` per session. It holds the
officer's overrides (locks and exclusions), the last two results (to show what
a re-run changed) and the running :class:`~allocator.jobs.Job`, and moves
through a small state machine::

    idle --start()--> running --poll()--> done | failed
      ^                                      |
      +-------------- start() ---------------+

:func:`run_round` is the work the job does in its thread: travel times, the
round (:func:`allocator.allocate` with its ``progress``), and, when a database
is given, the draft stored with :func:`allocator.store.create_round` (the
draft it supersedes is cancelled in the same transaction). It makes no UI
calls, so a click elsewhere in the app never restarts or blocks it.

:func:`store_error_code` turns the store's approval errors (stale draft,
concurrent approval, missing role) into message codes the app translates.

Examples
--------
>>> from allocator import examples
>>> w = RoundWork()
>>> w.lock("EXPO", "CM", "n95", 50)
>>> job = w.start(examples.three_tiers())
>>> _ = job.wait(60); w.poll().state
'done'
>>> int(w.current.allocations.query("site_id == 'CM'").quantity.sum())
50
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from allocator.allocate import Lock, RoundResult, allocate
from allocator.compare import Changes, changes
from allocator.errors import (
    AllocatorError,
    ConflictError,
    InfeasibleError,
    PermissionDeniedError,
    ScenarioError,
    StaleDraftError,
    StoreError,
)
from allocator.jobs import Job, JobError, Snapshot
from allocator.scenario import Scenario

__all__ = ["RoundWork", "RunOutcome", "run_round", "plan_trips_job", "store_error_code", "PHASES"]

#: The phases a run reports, in order (``travel`` is this module's; the rest are allocate()'s).
PHASES = ("travel", "validate", "solve", "extract", "explain", "store")

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class RunOutcome:
    """What one run produced.

    Attributes
    ----------
    result : RoundResult
    locks : tuple of Lock
        The locks it kept.
    excluded : tuple of str
        The depots and sites it left out.
    round_id : int or None
        The stored draft, when a database was given.
    version : int or None
        The draft's version (passed to approval as ``expected_version``).
    superseded : int or None
        The earlier draft cancelled by this one.
    """

    result: RoundResult
    locks: tuple[Lock, ...] = ()
    excluded: tuple[str, ...] = ()
    round_id: int | None = None
    version: int | None = None
    superseded: int | None = None


def run_round(
    progress: Progress,
    scenario: Scenario,
    *,
    locks: Iterable[Lock] = (),
    exclude: Iterable[str] = (),
    travel: Any = None,
    engine: Any = None,
    user: str = "",
    supersedes: int | None = None,
    note: str = "",
) -> RunOutcome:
    """Compute a round and (with ``engine``) store it as a draft; the body of the worker thread.

    Parameters
    ----------
    progress : callable(phase, fraction)
        Receives the phases of :data:`PHASES`.
    scenario : Scenario
        The scenario to allocate (the database's current scenario when storing).
    locks, exclude
        The officer's overrides (see :func:`allocator.allocate`).
    travel : allocator.network.Travel, optional
        Travel times; computed here (phase ``travel``) when not given.
    engine : sqlalchemy.Engine, optional
        Store the result as a draft round there, as ``user``.
    supersedes : int, optional
        A draft of this session's earlier run, cancelled when the new one is stored
        (left alone if it is no longer a draft).

    Raises
    ------
    ScenarioError, InfeasibleError, SolverError, StoreError
        As :func:`allocator.allocate` and :func:`allocator.store.create_round`.
    """
    locks = tuple(locks)
    excluded = tuple(sorted(set(map(str, exclude))))
    if travel is None:
        progress("travel", 0.0)
        if scenario.has("roads") and len(scenario.roads):
            from allocator.network import travel_times

            travel = travel_times(scenario)

    def inner(phase: str, frac: float) -> None:
        progress(phase, 0.05 + 0.85 * frac)

    result = allocate(scenario, travel=travel, locks=locks, exclude=excluded, progress=inner)
    if engine is None:
        return RunOutcome(result, locks, excluded)
    from allocator.store import cancel_round, create_round, get_round, transaction

    progress("store", 0.95)
    with transaction(engine) as s:
        old = None
        if supersedes is not None:
            try:
                prev = get_round(s, supersedes)
            except StoreError:
                prev = None
            if prev is not None and prev.state == "draft":
                cancel_round(s, prev.id, user, reason="superseded by a re-run")
                old = prev.id
        r = create_round(s, scenario, result.allocations, result.fill, result.summary, user, note=note)
        rid, version = int(r.id), int(r.version)
    progress("store", 1.0)
    return RunOutcome(result, locks, excluded, rid, version, old)


@dataclass(eq=False)
class RoundWork:
    """The officer's overrides, runs and their results (one per app session).

    Attributes
    ----------
    locks : dict of (depot_id, site_id, item_id) to int
        Exact quantities to keep; 0 forbids the pair.
    excluded : set of str
        Depot and site ids left out of the next run.
    current, previous : RunOutcome or None
        The last successful run and the one before it.
    job : Job or None
        The run in progress or the last one.
    """

    locks: dict[tuple[str, str, str], int] = field(default_factory=dict)
    excluded: set[str] = field(default_factory=set)
    current_run: RunOutcome | None = None
    previous_run: RunOutcome | None = None
    job: Job | None = None
    _seen: Job | None = field(default=None, repr=False)

    # -- overrides
    def lock(self, depot_id: str, site_id: str, item_id: str, quantity: int) -> None:
        """Lock ``quantity`` units of ``item_id`` from a depot to a site (replacing an earlier lock on it)."""
        q = int(quantity)
        if q != quantity or q < 0:
            raise InfeasibleError(f"a lock's quantity must be a whole number >= 0 (got {quantity})")
        self.locks[(str(depot_id), str(site_id), str(item_id))] = q

    def unlock(self, depot_id: str, site_id: str, item_id: str) -> None:
        """Drop the lock on (depot, site, item), if any."""
        self.locks.pop((str(depot_id), str(site_id), str(item_id)), None)

    def exclude(self, *ids: str) -> None:
        """Leave depots or sites out of the next run."""
        self.excluded.update(map(str, ids))

    def include(self, *ids: str) -> None:
        """Take depots or sites back into the next run."""
        self.excluded.difference_update(map(str, ids))

    def lock_list(self) -> list[Lock]:
        """The locks as :class:`~allocator.allocate.Lock` objects, sorted."""
        return [Lock(d, s, i, q) for (d, s, i), q in sorted(self.locks.items())]

    def locks_frame(self) -> pd.DataFrame:
        """The locks as a ``locks.csv`` table: ``depot_id, site_id, item_id, quantity``."""
        return pd.DataFrame([dataclasses.asdict(lk) for lk in self.lock_list()],
                            columns=["depot_id", "site_id", "item_id", "quantity"])

    # -- runs
    @property
    def state(self) -> str:
        """``idle`` (never run), ``running``, ``done`` or ``failed`` (the last run)."""
        if self.job is None:
            return "idle"
        return self.poll().state

    def start(self, scenario: Scenario, *, travel: Any = None, engine: Any = None, user: str = "",
              note: str = "") -> Job:
        """Start a run of the current overrides in a worker thread; refused while one is running."""
        if self.job is not None and not self.job.poll().finished:
            raise JobError("a round is already running in this session; wait for it to finish")
        supersedes = self.current_run.round_id if self.current_run is not None else None
        self.job = Job.start(run_round, scenario, locks=self.lock_list(), exclude=sorted(self.excluded),
                             travel=travel, engine=engine, user=user, supersedes=supersedes, note=note,
                             name="round")
        return self.job

    def poll(self) -> Snapshot:
        """The job's snapshot; a newly finished successful run becomes :attr:`current_run`."""
        if self.job is None:
            return Snapshot(state="idle")
        snap = self.job.poll()
        if snap.state == "done" and self._seen is not self.job:
            self._seen = self.job
            self.previous_run, self.current_run = self.current_run, snap.result
        return snap

    @property
    def current(self) -> RoundResult | None:
        """The result of the last successful run."""
        self.poll()
        return None if self.current_run is None else self.current_run.result

    @property
    def previous(self) -> RoundResult | None:
        """The result of the run before it."""
        self.poll()
        return None if self.previous_run is None else self.previous_run.result

    def changes(self) -> Changes | None:
        """What the last run changed against the one before (None before the second run)."""
        cur, prev = self.current, self.previous
        if cur is None or prev is None:
            return None
        return changes(prev.allocations, prev.fill, cur.allocations, cur.fill)

    def approved(self) -> None:
        """Forget the stored draft once it is approved (the next run starts a new draft)."""
        if self.current_run is not None:
            self.current_run = dataclasses.replace(self.current_run, round_id=None, version=None)


def store_error_code(exc: BaseException) -> tuple[str, dict[str, Any]]:
    """The message code and parameters of an error a round action raised, for the app's catalogue.

    Codes (under ``app.round.error.``): ``stale`` (the stock changed since the
    draft was computed), ``conflict`` (someone else approved or changed it
    first), ``role`` (the user lacks the role), ``infeasible`` (a lock cannot
    hold), ``scenario`` (the scenario is invalid), ``busy`` (a run is still going), ``store`` and ``other``.
    The original message is passed as ``detail``.

    Only the error's type decides the code (the typed :class:`~allocator.errors.StoreError`
    subclasses), never its message text.

    Examples
    --------
    >>> from allocator.errors import ConflictError, StaleDraftError
    >>> store_error_code(StaleDraftError("round 3 is stale: the available stock changed"))[0]
    'app.round.error.stale'
    >>> store_error_code(ConflictError("conflict: round 3 is already approved by wang"))[0]
    'app.round.error.conflict'
    >>> store_error_code(StoreError("round 3 is stale"))[0]  # an untyped store error is not guessed at
    'app.round.error.store'
    """
    detail = str(exc)
    if isinstance(exc, StaleDraftError):
        code = "stale"
    elif isinstance(exc, ConflictError):
        code = "conflict"
    elif isinstance(exc, PermissionDeniedError):
        code = "role"
    elif isinstance(exc, InfeasibleError):
        code = "infeasible"
    elif isinstance(exc, ScenarioError):
        code = "scenario"
    elif isinstance(exc, JobError):
        code = "busy"
    elif isinstance(exc, AllocatorError):
        code = "store"
    else:
        code = "other"
    return f"app.round.error.{code}", {"detail": detail}


def plan_trips_job(progress: Progress, engine: Any, round_id: int, *, method: str = "ortools",
                   time_limit_s: float = 1.0) -> Any:
    """Plan a stored round's truck trips (:func:`allocator.store.plan_round_trips`): a worker thread's body.

    Read-only: the plan is kept by the caller and passed to dispatch.
    """
    from allocator.store import plan_round_trips, transaction

    progress("plan", 0.0)
    with transaction(engine) as s:
        plan = plan_round_trips(s, int(round_id), method=method, time_limit_s=time_limit_s)
    progress("plan", 1.0)
    return plan
