"""Upstream's module path `zeroipc.monitor` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md."""

from ._zeroipc import Monitor

__all__ = ["Monitor"]
