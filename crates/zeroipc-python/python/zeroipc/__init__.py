"""ZeroIPC for Python, built on the Rust core (the `zeroipc` crate).

Processes share named, typed structures inside one POSIX shared-memory segment, byte for
byte compatible with the C++, C, Go and Rust implementations.
"""

from ._zeroipc import *  # noqa: F401,F403
from ._zeroipc import __version__
from . import _zeroipc as _ext
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _error_names
from ._pysync import *  # noqa: F401,F403
from ._pysync import __all__ as _pysync_names

# Every public class the extension defines (core structures, and the sync primitives and
# codata when present), so a new binding needs no edit here.
_classes = [n for n in dir(_ext) if not n.startswith("_")]

__all__ = ["__version__", *_classes, *_error_names, *_pysync_names]
