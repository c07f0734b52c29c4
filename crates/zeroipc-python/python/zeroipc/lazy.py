"""Upstream's module path `zeroipc.lazy` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md."""

from ._pysync import LazyState, lazy_constant, lazy_function
from ._zeroipc import Lazy

__all__ = ["Lazy", "LazyState", "lazy_constant", "lazy_function"]
