"""ZeroIPC for Python, built on the Rust core (the `zeroipc` crate).

Processes share named, typed structures inside one POSIX shared-memory segment, byte for
byte compatible with the C++, C, Go and Rust implementations. See docs/PYTHON.md.
"""

from . import _zeroipc as _ext
from ._zeroipc import (
    Array,
    Map,
    Memory,
    Pool,
    Queue,
    Ring,
    Segment,
    Set,
    Stack,
    __version__,
)
from ._zeroipc import (  # the sync primitives and codata (pysync)
    Barrier,
    Channel,
    Event,
    Future,
    Latch,
    Lazy,
    Monitor,
    Mutex,
    Once,
    RWLock,
    Select,
    Semaphore,
    Signal,
    Stream,
    StreamStage,
)
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _error_names
from .set import HashSet
from ._pysync import (
    ChannelClosed,
    EventMode,
    FutureState,
    LazyState,
    Promise,
    lazy_constant,
    lazy_function,
    make_buffered_channel,
    make_channel,
    make_unbuffered_channel,
)

__all__ = [
    "__version__",
    "Memory",
    "Segment",
    "Array",
    "Queue",
    "Stack",
    "Ring",
    "Pool",
    "Map",
    "Set",
    "HashSet",
    "Semaphore",
    "Mutex",
    "RWLock",
    "Barrier",
    "Latch",
    "Once",
    "Event",
    "EventMode",
    "Monitor",
    "Signal",
    "Future",
    "FutureState",
    "Promise",
    "Lazy",
    "LazyState",
    "lazy_constant",
    "lazy_function",
    "Channel",
    "ChannelClosed",
    "Select",
    "make_channel",
    "make_buffered_channel",
    "make_unbuffered_channel",
    "Stream",
    "StreamStage",
    *_error_names,
]

# Classes the extension defines beyond the explicit imports above (a binding added later
# is importable before it is listed here; list it above too, for type checkers).
def _export_the_rest() -> None:
    for name in getattr(_ext, "__all__", dir(_ext)):
        if not name.startswith("_") and name not in globals():
            globals()[name] = getattr(_ext, name)
            __all__.append(name)


_export_the_rest()
