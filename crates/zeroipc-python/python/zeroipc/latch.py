"""Upstream's module path `zeroipc.latch` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md."""

from ._zeroipc import Latch

__all__ = ["Latch"]
