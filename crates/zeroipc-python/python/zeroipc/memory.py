"""Upstream's module path `zeroipc.memory` (scripts that import from it run unchanged)."""

from ._zeroipc import Memory

__all__ = ["Memory"]
