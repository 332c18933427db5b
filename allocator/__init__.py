"""supply-allocator: medical-supply allocation for epidemic command centres.

``allocate``, ``Lock`` and ``RoundResult`` are imported on first use, so that
``import allocator`` (and every command that does not allocate, such as
``allocator --help`` or ``allocator verify``) does not pay for pandas, PuLP,
HiGHS and OR-Tools.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["allocate", "Lock", "RoundResult", "__version__"]

#: Public names and the module that defines them (imported on first access).
_LAZY = {"allocate": "allocator.allocate", "Lock": "allocator.allocate", "RoundResult": "allocator.allocate"}

if TYPE_CHECKING:  # pragma: no cover
    from allocator.allocate import Lock, RoundResult, allocate


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'allocator' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """``allocator.allocate`` is the function, also after the subpackage of that name is imported.

    Importing ``allocator.allocate`` (or any module in it) makes Python set the
    package attribute ``allocate`` to the subpackage; the function is what
    ``from allocator import allocate`` has always given, so keep it.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "allocate" and isinstance(value, types.ModuleType) and hasattr(value, "allocate"):
            value = value.allocate
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
