"""supply-allocator: medical-supply allocation for epidemic command centres."""

__version__ = "0.1.0"

from allocator.allocate import Lock, RoundResult, allocate  # noqa: E402

__all__ = ["allocate", "Lock", "RoundResult", "__version__"]
