"""Upstream's module path `zeroipc.array` (scripts that import from it run unchanged)."""

from ._zeroipc import Array

__all__ = ["Array"]
