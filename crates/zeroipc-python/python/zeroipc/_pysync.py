"""Python-side pieces of the sync primitives and codata (the classes live in the extension).

- ``EventMode``, ``FutureState``, ``LazyState``: upstream's enums (same names and values).
- ``_drive``: runs a Rust future from asyncio (see ``src/aio.rs``): each poll that is not
  ready registers a waker that resolves an asyncio future through
  ``loop.call_soon_threadsafe``; no thread per awaiting task.
- upstream's helper functions (``lazy_constant``, ``lazy_function``, ``make_channel``, ...).
"""

import asyncio
from enum import IntEnum

from .errors import ClosedError

__all__ = [
    "EventMode",
    "FutureState",
    "LazyState",
    "ChannelClosed",
    "Promise",
    "lazy_constant",
    "lazy_function",
    "make_channel",
    "make_unbuffered_channel",
    "make_buffered_channel",
]


class EventMode(IntEnum):
    """Event synchronization mode (upstream's values)."""

    AUTO_RESET = 0
    MANUAL_RESET = 1


class FutureState(IntEnum):
    """States of a Future (the C++ and upstream values)."""

    PENDING = 0
    COMPUTING = 1
    READY = 2
    ERROR = 3


class LazyState(IntEnum):
    """States of a Lazy value (the C++ and upstream values)."""

    UNEVALUATED = 0
    EVALUATING = 1
    EVALUATED = 2
    ERROR = 3


#: upstream's name for "the channel is closed" (here the same class as ``ClosedError``).
ChannelClosed = ClosedError


def _wake(fut):
    """Resolves ``fut`` unless it is done (cancelled, or woken twice)."""
    if not fut.done():
        fut.set_result(None)


async def _drive(poller):
    """Polls ``poller`` (a Rust future, ``src/aio.rs``) on the running loop until ready.

    Each ``poll`` that returns not-done has handed the Rust future a waker that schedules
    ``_wake(fut)`` on this loop (``call_soon_threadsafe``); cancelling the task drops the
    Rust future, which the Rust crate guarantees loses no value.
    """
    loop = asyncio.get_running_loop()
    while True:
        fut = loop.create_future()
        done, value = poller.poll(loop, fut)
        if done:
            return value
        await fut


def _then_worker(future, callback):
    """The thread body of ``Future.then``: waits for the value, calls ``callback`` with it."""

    def run():
        try:
            callback(future.get())
        except Exception:  # noqa: BLE001 - ignored, as upstream
            pass

    return run


class Promise:
    """The producer side of a Future (upstream's ``zeroipc.Promise``).

    ``Promise(future)`` wraps an existing Future; ``Promise(memory, name, dtype)`` creates
    (or opens) the Future ``name``.
    """

    def __init__(self, memory_or_future, name=None, dtype=None):
        from ._zeroipc import Future

        if isinstance(memory_or_future, Future):
            self.future = memory_or_future
        else:
            if name is None or dtype is None:
                raise ValueError("name and dtype are required when creating new Promise")
            self.future = Future(memory_or_future, name, dtype=dtype)

    def get_future(self):
        """The Future this promise sets."""
        return self.future

    def set_value(self, value):
        """Sets the value: True, or False if the future was set already."""
        return self.future.set_value(value)

    def set_exception(self, error_code):
        """Sets an error ("Error code: N" for an int): True, or False."""
        return self.future.set_exception(error_code)

    def set_error(self, error_message):
        """Sets an error message: True, or False."""
        return self.future.set_error(error_message)

    def __repr__(self):
        return f"Promise({self.future!r})"

    __str__ = __repr__


def lazy_constant(memory, name, value, dtype=None):
    """A Lazy already evaluated with ``value`` (upstream's helper)."""
    import numpy as np

    from ._zeroipc import Lazy

    if dtype is None:
        if isinstance(value, (bool, np.bool_)):
            dtype = np.bool_
        elif isinstance(value, (int, np.integer)):
            dtype = np.int64
        elif isinstance(value, (float, np.floating)):
            dtype = np.float64
        else:
            dtype = type(value)
    return Lazy(memory, name, dtype=dtype, value=value)


def lazy_function(memory, name, computation, dtype):
    """A Lazy with a computation function (upstream's helper)."""
    from ._zeroipc import Lazy

    return Lazy(memory, name, dtype=dtype, computation=computation)


def make_channel(memory, name, capacity=0, dtype="int32"):
    """A new channel (upstream's helper; capacity 0 = unbuffered)."""
    from ._zeroipc import Channel

    return Channel(memory, name, capacity=capacity, dtype=dtype)


def make_unbuffered_channel(memory, name, dtype="int32"):
    """A new unbuffered (rendezvous) channel (upstream's helper)."""
    return make_channel(memory, name, 0, dtype)


def make_buffered_channel(memory, name, capacity, dtype="int32"):
    """A new buffered channel (upstream's helper)."""
    return make_channel(memory, name, capacity, dtype)


# Upstream's one-shot Stream operators: each works on the values buffered now
# (``Stream.map(f, output_stream)`` etc. call these; ``Stream.map(f, "name")`` is a Rust stage).


def _stream_map(stream, transform, output_stream):
    import numpy as np

    data = stream.read()
    if data is not None:
        output_stream.emit_batch(np.array([transform(x) for x in data], dtype=output_stream.dtype))
    return output_stream


def _stream_filter(stream, predicate, output_stream):
    data = stream.read()
    if data is not None:
        kept = [x for x in data if predicate(x)]
        if kept:
            output_stream.emit_batch(kept)
    return output_stream


def _stream_take(stream, count, output_stream):
    data = stream.read(count)
    if data is not None:
        output_stream.emit_batch(data[:count])
    return output_stream


def _stream_batch(stream, size, output_stream):
    data = stream.read()
    if data is not None:
        for i in range(0, len(data) - size + 1, size):
            output_stream.emit_batch(data[i : i + size])
    return output_stream


def _stream_window(stream, size):
    data = stream.read()
    if data is None or len(data) < size:
        return iter(())
    return (data[i : i + size] for i in range(len(data) - size + 1))


def _stream_reduce(stream, reducer, initial):
    acc = initial
    data = stream.read()
    if data is not None:
        for x in data:
            acc = reducer(acc, x)
    return acc


def _stream_scan(stream, scanner, initial, output_stream):
    import numpy as np

    acc = initial
    data = stream.read()
    if data is not None:
        out = []
        for x in data:
            acc = scanner(acc, x)
            out.append(acc)
        if out:
            output_stream.emit_batch(np.array(out, dtype=output_stream.dtype))
    return output_stream


def _stream_read_batches(stream, batch_size, timeout=None):
    """Yields arrays of up to ``batch_size`` values; stops after ``timeout`` seconds without
    a value, or once the stream is closed and drained."""
    import numpy as np

    while True:
        first = stream.next(timeout)
        if first is None:
            return
        rest = stream.read(batch_size - 1) if batch_size > 1 else None
        batch = [first] if rest is None else [first, *rest]
        yield np.array(batch, dtype=stream.dtype)
