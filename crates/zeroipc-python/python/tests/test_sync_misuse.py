"""Misuse and hostile bytes: errors with the Rust text, never a crash."""

import numpy as np
import pytest

import zeroipc
from zeroipc import Barrier, Channel, Future, Latch, Monitor, Mutex, Queue, RWLock, Semaphore, Signal


def test_a_queue_opened_as_a_mutex_is_a_kind_mismatch(seg):
    Queue(seg, "q", 4, np.uint64)
    with pytest.raises(zeroipc.KindMismatchError, match="is a queue .*not a mutex"):
        Mutex(seg, "q")


@pytest.mark.parametrize(
    "make, open_as",
    [
        (lambda s: Mutex(s, "x"), lambda s: Semaphore(s, "x")),
        (lambda s: Semaphore(s, "x", initial_count=1), lambda s: Mutex(s, "x")),
        (lambda s: Barrier(s, "x", num_participants=2), lambda s: Latch(s, "x")),
        (lambda s: RWLock(s, "x"), lambda s: Monitor(s, "x")),
        (lambda s: Future(s, "x", dtype=np.int32), lambda s: Channel(s, "x")),
        (lambda s: Signal(s, "x", dtype=np.int32, initial_value=0), lambda s: Future(s, "x")),
    ],
)
def test_opening_as_another_kind_is_refused(seg, make, open_as):
    make(seg)
    with pytest.raises(zeroipc.KindMismatchError):
        open_as(seg)


def test_a_signal_opened_with_another_dtype_is_a_type_mismatch(seg):
    Signal(seg, "s", dtype=np.int32, initial_value=1)
    with pytest.raises(zeroipc.TypeMismatchError):
        Signal(seg, "s", dtype=np.float64)


def test_corrupt_mutex_bytes_raise_corruption(seg):
    """A mutex whose count word holds 7 (neither locked nor unlocked), written into the
    segment file directly, as a hostile peer would."""
    import mmap
    import struct

    m = Mutex(seg, "m")
    unlocked = struct.pack("<iiii", 1, 0, 1, 0)  # count, waiting, max_count, owner
    with open(f"/dev/shm{seg.name}", "r+b") as f, mmap.mmap(f.fileno(), 0) as mm:
        at = mm.find(unlocked)
        assert at > 0 and mm.find(unlocked, at + 1) == -1
        mm[at : at + 4] = struct.pack("<i", 7)
    with pytest.raises(zeroipc.CorruptionError, match="count"):
        m.lock(timeout=1)
    with pytest.raises(zeroipc.CorruptionError):
        _ = m.is_locked


def test_upstream_python_layout_stream_and_channel_are_refused(names):
    """Upstream's Python Stream is a bare Ring under the name, its Channel a Queue plus a
    'name_sync' entry. In a segment without a type catalog (as upstream's Python writes),
    the Rust crate recognises those layouts and refuses them."""
    seg = zeroipc.Segment.create(names(), 1 << 16, catalog=False)
    zeroipc.Ring(seg, "st", 64, np.int32)
    with pytest.raises(zeroipc.KindMismatchError):
        zeroipc.Stream(seg, "st", dtype=np.int32)
    Queue(seg, "ch", 2, np.int32)
    Queue(seg, "ch_sync", 4, np.uint32)
    with pytest.raises(zeroipc.KindMismatchError):
        Channel(seg, "ch", dtype=np.int32)
