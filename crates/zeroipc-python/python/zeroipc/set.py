"""Upstream's module path `zeroipc.set` (scripts that import from it run unchanged)."""

from ._zeroipc import Set


# Upstream alias.
HashSet = Set

__all__ = ["Set", "HashSet"]
