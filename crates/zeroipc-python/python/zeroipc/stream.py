"""Upstream's module path `zeroipc.stream` (for scripts that import from it): the class
lives in the extension; see docs/PYTHON.md. Capacities are in elements (C++'s meaning)."""

import numpy as np

from ._zeroipc import Stream

__all__ = ["Stream", "create_number_stream", "create_random_stream"]


def create_number_stream(memory, name, start=0.0, step=1.0, capacity=1024):
    """A float64 stream holding ``capacity`` numbers from ``start`` by ``step`` (upstream)."""
    stream = Stream(memory, name, capacity=capacity, dtype=np.float64)
    stream.emit_batch(np.arange(start, start + capacity * step, step, dtype=np.float64)[:capacity])
    return stream


def create_random_stream(memory, name, size=1000, capacity=1024, seed=None):
    """A float64 stream holding ``min(size, capacity)`` random numbers (upstream)."""
    rng = np.random.default_rng(seed)
    stream = Stream(memory, name, capacity=capacity, dtype=np.float64)
    stream.emit_batch(rng.random(size))
    return stream
