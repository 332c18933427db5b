"""supply-allocator: medical-supply allocation for epidemic command centres."""

__version__ = "0.1.0"
