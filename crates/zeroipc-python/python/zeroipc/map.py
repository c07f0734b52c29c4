"""Upstream's module path `zeroipc.map` (scripts that import from it run unchanged)."""

from ._zeroipc import Map

__all__ = ["Map"]
