"""The zeroipc exception hierarchy.

Every exception zeroipc raises is a :class:`Error` and carries the Rust error's text
(what was found, what was expected). Where a Python built-in exception means the same thing
the class derives from it too, so ``except TimeoutError`` and ``except FileNotFoundError``
(upstream's ``Memory`` raises it for a missing segment) keep working.
"""


class Error(Exception):
    """Base class of every error zeroipc raises."""


class NotFoundError(Error, FileNotFoundError):
    """No segment, or no entry, of that name."""


class ExistsError(Error, FileExistsError):
    """A segment or entry of that name exists already."""


class InvalidArgumentError(Error, ValueError):
    """An argument the segment cannot hold: a bad name, size, capacity or dtype."""


class CorruptionError(Error):
    """Bytes in the segment that no correct writer leaves (a corrupt or hostile segment)."""


class KindMismatchError(Error, TypeError):
    """The entry holds another kind of structure (the type catalog says so)."""


class TypeMismatchError(Error, TypeError):
    """The entry holds elements of another type or size."""


class TimeoutError(Error, TimeoutError):  # noqa: A001 - deliberately shadows the built-in
    """A blocking call's timeout passed first."""


class EmptyError(Error):
    """A non-blocking take found nothing."""


class FullError(Error):
    """A non-blocking put found no room, or a storage structure is full."""


class WouldBlockError(Error, BlockingIOError):
    """A non-blocking acquire would have had to wait."""


class StalledError(Error):
    """A peer stopped mid-operation (died or stuck) for longer than the stall bound."""


class OwnerDeadError(Error):
    """The process holding a lock died; the state it protected may be half-updated."""


class ClosedError(Error):
    """The channel or stream is closed (and drained)."""


class FailedError(Error, RuntimeError):
    """A future (or lazy value) was set to an error; the message is the setter's error text.

    Also a ``RuntimeError``: upstream's ``Future.get()`` and ``Lazy.force()`` raise that."""


__all__ = [
    "Error",
    "NotFoundError",
    "ExistsError",
    "InvalidArgumentError",
    "CorruptionError",
    "KindMismatchError",
    "TypeMismatchError",
    "TimeoutError",
    "EmptyError",
    "FullError",
    "WouldBlockError",
    "StalledError",
    "OwnerDeadError",
    "ClosedError",
    "FailedError",
]
