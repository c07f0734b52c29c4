"""Upstream's module path `zeroipc.future` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md."""

from ._pysync import FutureState, Promise
from ._zeroipc import Future

__all__ = ["Future", "FutureState", "Promise"]
