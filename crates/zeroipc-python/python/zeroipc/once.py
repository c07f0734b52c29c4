"""Upstream's module path `zeroipc.once` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md."""

from ._zeroipc import Once

__all__ = ["Once"]
