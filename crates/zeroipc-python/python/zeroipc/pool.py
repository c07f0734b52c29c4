"""Upstream's module path `zeroipc.pool` (scripts that import from it run unchanged)."""

from ._zeroipc import Pool

__all__ = ["Pool"]
