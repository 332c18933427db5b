"""Typed errors of the library.

Every failure the library can foresee raises a subclass of :class:`AllocatorError`,
so the command line, the app and notebooks can tell a bad scenario from an
impossible lock or a solver failure without parsing messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from allocator.validate import Report


class AllocatorError(Exception):
    """Base class of every error raised by the library."""


class ScenarioError(AllocatorError):
    """A scenario failed validation.

    Parameters
    ----------
    report : Report
        Every problem found, errors and warnings, in the contract's format.
    """

    def __init__(self, report: Report):
        self.report = report
        errors = report.errors
        head = f"the scenario is invalid: {len(errors)} error(s)"
        lines = [str(p) for p in errors[:20]]
        if len(errors) > 20:
            lines.append(f"... and {len(errors) - 20} more")
        super().__init__("\n".join([head, *lines]))


class ScenarioFormatError(AllocatorError):
    """A scenario path cannot be read at all (not a folder or an .xlsx workbook)."""


class InfeasibleError(AllocatorError):
    """A round cannot satisfy the hard rules (for example an impossible lock)."""


class SolverError(AllocatorError):
    """The solver failed or returned a status other than optimal."""


class NetworkError(AllocatorError):
    """A road network file or traffic-control rule cannot be used."""


class StoreError(AllocatorError):
    """A database operation failed or conflicted with another one."""


class LockError(AllocatorError):
    """An officer's lock is malformed: not four values, a quantity that is not a whole number >= 0,
    an empty id, or the same (depot, site, item) locked twice."""
