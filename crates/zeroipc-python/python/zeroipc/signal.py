"""Upstream's module path `zeroipc.signal` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md."""

from ._zeroipc import Signal

__all__ = ["Signal"]
