"""Upstream's module path `zeroipc.event` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md."""

from ._pysync import EventMode
from ._zeroipc import Event

__all__ = ["Event", "EventMode"]
