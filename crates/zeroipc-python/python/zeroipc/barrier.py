"""Upstream's module path `zeroipc.barrier` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md."""

from ._zeroipc import Barrier

__all__ = ["Barrier"]
