"""Upstream's module path `zeroipc.mutex` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md."""

from ._zeroipc import Mutex

__all__ = ["Mutex"]
