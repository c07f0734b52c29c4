"""ZeroIPC for Python, built on the Rust core (the `zeroipc` crate).

Processes share named, typed structures inside one POSIX shared-memory segment, byte for
byte compatible with the C++, C, Go and Rust implementations.
"""

from ._zeroipc import Error, Memory, __version__

__all__ = ["Error", "Memory", "__version__"]
