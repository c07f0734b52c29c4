"""Upstream's module path `zeroipc.stack` (scripts that import from it run unchanged)."""

from ._zeroipc import Stack

__all__ = ["Stack"]
