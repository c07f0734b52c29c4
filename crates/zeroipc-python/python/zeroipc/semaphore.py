"""Upstream's module path `zeroipc.semaphore` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md."""

from ._zeroipc import Semaphore

__all__ = ["Semaphore"]
