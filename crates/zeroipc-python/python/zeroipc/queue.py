"""Upstream's module path `zeroipc.queue` (scripts that import from it run unchanged)."""

from ._zeroipc import Queue

__all__ = ["Queue"]
