"""ZeroIPC for Python, built on the Rust core (the `zeroipc` crate).

Processes share named, typed structures inside one POSIX shared-memory segment, byte for
byte compatible with the C++, C, Go and Rust implementations.
"""

from ._zeroipc import Memory, __version__
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _error_names

__all__ = ["Memory", "__version__", *_error_names]
