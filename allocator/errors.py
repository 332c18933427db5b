"""Typed errors of the library.

Every failure the library can foresee raises a subclass of :class:`AllocatorError`,
so the command line, the app and notebooks can tell a bad scenario from an
impossible lock or a solver failure without parsing messages.

Each error carries a stable :attr:`~AllocatorError.code` (a key of the message
catalogue, ``allocator/locale/<lang>/errors.toml``) and its
:attr:`~AllocatorError.params`, so an interface renders it in the reader's
language with ``allocator.i18n.t(exc.code, lang, **exc.params)``; ``str(exc)``
stays the English one-line message. A raise site may give a more precise code
than its class's (``NotFoundError(..., code="error.store.no_round", round=7)``);
every code used anywhere is listed in :data:`ERROR_CODES` and has a catalogue
entry in both languages (``tests/test_validate_codes.py``).

Errors for misuse of an argument also derive from the matching built-in
(:class:`ArgumentTypeError` is a :class:`TypeError`, :class:`InvalidArgumentError`
a :class:`ValueError`), so callers that caught the built-in keep working.

Examples
--------
>>> try:
...     raise NotFoundError("no round 7", code="error.store.no_round", round=7)
... except StoreError as exc:
...     exc.code, exc.params, str(exc)
('error.store.no_round', {'round': 7, 'message': 'no round 7'}, 'no round 7')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from allocator.report import Report


class AllocatorError(Exception):
    """Base class of every error raised by the library.

    Parameters
    ----------
    message : str
        The English one-line message (``str(exc)``).
    code : str, optional
        A catalogue key more precise than the class's :attr:`code`.
    **params
        The code's parameters; ``message`` is always among them, so a template
        may quote the English detail.
    """

    #: The catalogue key of this class of error.
    code: str = "error.allocator"
    #: Whether the error means the input the user gave is invalid (a scenario, an argument, a
    #: request; the command line exits 2, as argparse does for a bad option) rather than a
    #: failure (exit 1: a path that cannot be read, an infeasible round, a solver or database failure).
    invalid_input: bool = False

    def __init__(self, message: str = "", *, code: str | None = None, **params: Any):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.params: dict[str, Any] = {**params, "message": message}


class ScenarioError(AllocatorError):
    """A scenario failed validation.

    Parameters
    ----------
    report : Report
        Every problem found, errors and warnings, in the contract's format.
    """

    code = "error.scenario"
    invalid_input = True

    def __init__(self, report: Report):
        self.report = report
        errors = report.errors
        head = f"the scenario is invalid: {len(errors)} error(s)"
        lines = [str(p) for p in errors[:20]]
        if len(errors) > 20:
            lines.append(f"... and {len(errors) - 20} more")
        super().__init__("\n".join([head, *lines]), count=len(errors))


class ScenarioFormatError(AllocatorError):
    """A scenario path cannot be read at all (not a folder or an .xlsx workbook)."""

    code = "error.scenario_format"


class InfeasibleError(AllocatorError):
    """A round cannot satisfy the hard rules (for example an impossible lock)."""

    code = "error.infeasible"


class SolverError(AllocatorError):
    """The solver failed or returned a status other than optimal."""

    code = "error.solver"


class NetworkError(AllocatorError):
    """A road network file or traffic-control rule cannot be used."""

    code = "error.network"


class ArgumentTypeError(AllocatorError, TypeError):
    """A library function was given an argument of the wrong type (a path where a Scenario is expected)."""

    code = "error.argument_type"
    invalid_input = True


class InvalidArgumentError(AllocatorError, ValueError):
    """A library function was given an argument of the right type but a value it cannot use."""

    code = "error.invalid_argument"
    invalid_input = True


class UnknownKeyError(InvalidArgumentError, KeyError):
    """A name that is not known (a table, a rule, a depot/site pair) was asked for."""

    code = "error.unknown_key"

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class StoreError(AllocatorError):
    """A database operation failed or conflicted with another one."""

    code = "error.store.failed"


class ConflictError(StoreError):
    """Someone else changed the record first (a concurrent approval, a state that moved on)."""

    code = "error.store.conflict"


class StaleDraftError(StoreError):
    """A draft was computed on stock that has changed since; recompute it."""

    code = "error.store.stale"


class PermissionDeniedError(StoreError):
    """Wrong user name or password, or a user without the role an action needs."""

    code = "error.store.permission"


class NotFoundError(StoreError):
    """No such round, lot, trip, user or stored scenario."""

    code = "error.store.not_found"


class InvalidRequestError(StoreError):
    """The request itself is invalid (a bad quantity, a missing reason, a bad database URL)."""

    code = "error.store.invalid"
    invalid_input = True


class LockError(AllocatorError):
    """An officer's lock is malformed: not four values, a quantity that is not a whole number >= 0,
    an empty id, or the same (depot, site, item) locked twice."""

    code = "error.lock.invalid"
    invalid_input = True


#: Every error class of the library (the catalogue test checks each class's code).
ERROR_CLASSES: tuple[type[AllocatorError], ...] = (
    AllocatorError, ScenarioError, ScenarioFormatError, InfeasibleError, SolverError,
    NetworkError, ArgumentTypeError, InvalidArgumentError, UnknownKeyError, StoreError,
    ConflictError, StaleDraftError, PermissionDeniedError, NotFoundError, InvalidRequestError,
    LockError,
)

#: Codes raise sites use beyond the class codes (each needs a catalogue entry in both languages).
EXTRA_CODES: frozenset[str] = frozenset({
    "error.store.database_url",
    "error.store.cannot_open",
    "error.store.no_round",
    "error.store.no_lot",
    "error.store.no_user",
    "error.store.no_scenario",
    "error.store.login",
    "error.store.role",
    "error.internal",
})

#: Every code an error of the library can carry.
ERROR_CODES: frozenset[str] = frozenset({c.code for c in ERROR_CLASSES}) | EXTRA_CODES
