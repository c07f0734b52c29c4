"""Upstream's module path `zeroipc.ring` (scripts that import from it run unchanged)."""

from ._zeroipc import Ring

__all__ = ["Ring"]
