"""Long work in a worker thread, with its progress read from a queue by whoever polls it.

A user interface must never block on a province round or a truck plan, and a
click elsewhere must not restart it. :class:`Job` runs one function in a daemon
thread; the function reports progress through a ``progress(phase, fraction)``
callback (the signature of :func:`allocator.allocate`'s ``progress``), which
only puts events on a queue. The thread touches nothing else: no UI calls, no
shared state but the queue and the final outcome. A poller (a Streamlit
fragment with ``run_every``, a notebook loop, a test) calls :meth:`Job.poll`,
which drains the queue and returns an immutable :class:`Snapshot`.

States: ``running`` -> ``done`` (with a result) or ``failed`` (with the
exception). A job cannot be started twice; run another :class:`Job`.

Examples
--------
>>> def work(progress, n):
...     for i in range(n):
...         progress("step", (i + 1) / n)
...     return n * 2
>>> job = Job.start(work, 3)
>>> job.wait(5).state, job.poll().result, job.poll().fraction
('done', 6, 1.0)
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from allocator.errors import AllocatorError

__all__ = ["Job", "Snapshot", "JobError", "STATES"]

STATES = ("running", "done", "failed")
"""The states of a job; ``done`` and ``failed`` are final."""


class JobError(AllocatorError):
    """A job was used the wrong way (for example its result read before it finished)."""


@dataclass(frozen=True)
class Snapshot:
    """What a poller sees of a job at one moment.

    Attributes
    ----------
    state : str
        ``running``, ``done`` or ``failed``.
    phase : str
        The last phase reported (``""`` before the first).
    fraction : float
        The last fraction reported, 0 to 1 (1.0 once done).
    events : tuple of (phase, fraction, seconds since start)
        Every progress event so far, in order.
    elapsed_s : float
        Seconds since the start (to the end once finished).
    result : Any
        The function's return value once ``done``.
    error : BaseException or None
        The exception once ``failed``.
    """

    state: str
    phase: str = ""
    fraction: float = 0.0
    events: tuple[tuple[str, float, float], ...] = ()
    elapsed_s: float = 0.0
    result: Any = None
    error: BaseException | None = None

    @property
    def finished(self) -> bool:
        """Whether the job is ``done`` or ``failed``."""
        return self.state != "running"


@dataclass(eq=False)
class Job:
    """One function run in a daemon thread; create it with :meth:`start`."""

    name: str = "job"
    _queue: queue.Queue = field(default_factory=queue.Queue, repr=False)
    _events: list[tuple[str, float, float]] = field(default_factory=list, repr=False)
    _started: float = field(default_factory=time.perf_counter, repr=False)
    _ended: float | None = field(default=None, repr=False)
    _state: str = field(default="running", repr=False)
    _result: Any = field(default=None, repr=False)
    _error: BaseException | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def start(cls, fn: Callable[..., Any], *args: Any, name: str = "job", **kwargs: Any) -> Job:
        """Run ``fn(progress, *args, **kwargs)`` in a new daemon thread and return its job at once.

        Parameters
        ----------
        fn : callable
            Its first parameter receives the ``progress(phase, fraction)`` callback.
        name : str
            The thread's name (shown in debuggers and logs).
        """
        job = cls(name=name)
        job._thread = threading.Thread(target=job._run, args=(fn, args, kwargs), name=f"allocator-{name}",
                                       daemon=True)
        job._thread.start()
        return job

    def _progress(self, phase: str, fraction: float) -> None:
        self._queue.put(("progress", str(phase), float(fraction), time.perf_counter() - self._started))

    def _run(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            out = fn(self._progress, *args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - the poller decides what to show
            self._queue.put(("failed", exc, None, time.perf_counter() - self._started))
        else:
            self._queue.put(("done", out, None, time.perf_counter() - self._started))

    def poll(self) -> Snapshot:
        """Drain the progress queue and return the job's state now (never blocks)."""
        with self._lock:
            while True:
                try:
                    kind, a, b, at = self._queue.get_nowait()
                except queue.Empty:
                    break
                if kind == "progress":
                    self._events.append((a, b, at))
                elif kind == "done":
                    self._state, self._result, self._ended = "done", a, at
                else:
                    self._state, self._error, self._ended = "failed", a, at
            phase, frac = (self._events[-1][:2] if self._events else ("", 0.0))
            if self._state == "done":
                frac = 1.0
            elapsed = self._ended if self._ended is not None else time.perf_counter() - self._started
            return Snapshot(state=self._state, phase=phase, fraction=frac, events=tuple(self._events),
                            elapsed_s=elapsed, result=self._result, error=self._error)

    def wait(self, timeout: float | None = None) -> Snapshot:
        """Block until the job finishes (or ``timeout`` seconds pass) and return a snapshot."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.poll()

    def result(self) -> Any:
        """The result of a ``done`` job; re-raises the error of a ``failed`` one."""
        snap = self.poll()
        if snap.state == "failed":
            assert snap.error is not None
            raise snap.error
        if snap.state != "done":
            raise JobError(f"job {self.name} is still running")
        return snap.result
