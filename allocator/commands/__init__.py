"""One module per command group of the ``allocator`` command; each has ``register(subparsers)``."""
