"""Upstream's module path `zeroipc.rwlock` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md."""

from ._zeroipc import RWLock

__all__ = ["RWLock"]
