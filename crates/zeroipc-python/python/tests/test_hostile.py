"""Hostile segment bytes raise exceptions; they never crash the interpreter."""

import mmap
import random
import shutil
import struct

import numpy as np
import pytest

import zeroipc

from conftest import REPO

OK = (zeroipc.Error, IndexError, ValueError, TypeError, OverflowError)


def patch(name, offset, data):
    with open("/dev/shm" + name, "r+b") as f:
        f.seek(offset)
        f.write(data)


def entry_offset(seg, entry):
    return next(off for n, off, _ in seg.entries() if n == entry)


def test_bad_magic(name):
    zeroipc.Segment.create(name, 1 << 16)
    patch(name, 0, b"XXXX")
    with pytest.raises(zeroipc.CorruptionError):
        zeroipc.Segment.open(name)


def test_entry_out_of_bounds(seg):
    zeroipc.Queue(seg, "q", 4, np.uint64)
    table = 32 + 48 * 1  # the catalog is entry 0; find the queue's entry
    names = [n for n, _, _ in seg.entries()]
    index = names.index("q")
    patch(seg.name, 32 + 48 * index + 32, struct.pack("<Q", 1 << 40))
    with pytest.raises(zeroipc.Error):
        zeroipc.Queue(zeroipc.Segment.open(seg.name), "q")
    del table


def test_queue_capacity_not_a_power_of_two(seg):
    zeroipc.Queue(seg, "q", 4, np.uint64)
    patch(seg.name, entry_offset(seg, "q") + 8, struct.pack("<I", 3))
    with pytest.raises(zeroipc.CorruptionError):
        zeroipc.Queue(zeroipc.Segment.open(seg.name), "q")


def test_ring_positions_out_of_range(seg):
    r = zeroipc.Ring(seg, "r", 4, np.uint32)
    patch(seg.name, entry_offset(seg, "r"), struct.pack("<QQ", 1000, 0))
    with pytest.raises(zeroipc.CorruptionError):
        r.pop()


def test_map_unknown_slot_state(seg):
    m = zeroipc.Map(seg, "m", 4, np.uint32, np.uint32)
    for slot in range(4):
        patch(seg.name, entry_offset(seg, "m") + 16 + 12 * slot, struct.pack("<I", 77))
    with pytest.raises(zeroipc.CorruptionError):
        m.get(1)


def test_array_capacity_lies(seg):
    zeroipc.Array(seg, "a", 4, np.uint64)
    patch(seg.name, entry_offset(seg, "a"), struct.pack("<Q", 1 << 60))
    with pytest.raises(zeroipc.CorruptionError):
        zeroipc.Array(zeroipc.Segment.open(seg.name), "a")


def exercise(seg_name):
    """Open and use every structure of cpp_all.bin that this package reads."""
    seg = zeroipc.Segment.open(seg_name)
    steps = [
        lambda: list(zeroipc.Array(seg, "arr_i32", dtype=np.int32)),
        lambda: zeroipc.Array(seg, "arr_f64", dtype=np.float64).numpy().sum(),
        lambda: [zeroipc.Queue(seg, "q_i32", dtype=np.int32).pop() for _ in range(10)],
        lambda: [zeroipc.Queue(seg, "q_u64_r5", dtype=np.uint64).pop() for _ in range(4)],
        lambda: zeroipc.Queue(seg, "q_i32", dtype=np.int32).push(1),
        lambda: [zeroipc.Stack(seg, "stk_u16", dtype=np.uint16).pop() for _ in range(4)],
        lambda: zeroipc.Map(seg, "map_u64_f64", key_dtype=np.uint64,
                            value_dtype=np.float64).items(),
        lambda: zeroipc.Set(seg, "set_i32", dtype=np.int32).members(),
        lambda: zeroipc.Pool(seg, "pool_f64", dtype=np.float64).allocate(),
        lambda: zeroipc.Ring(seg, "ring_i32", dtype=np.int32).read(),
    ]
    for step in steps:
        try:
            step()
        except OK:
            pass


@pytest.mark.parametrize("seed", range(24))
def test_random_corruption_never_crashes(names, seed):
    rng = random.Random(seed)
    name = names()
    shutil.copyfile(REPO / "golden" / "cpp_all.bin", "/dev/shm" + name)
    with open("/dev/shm" + name, "r+b") as f:
        mm = mmap.mmap(f.fileno(), 0)
        # Flip bytes in the table and the structures' headers (the first ~12.6 KB).
        for _ in range(rng.randint(1, 40)):
            at = rng.randrange(0, 12601)
            mm[at] = rng.randrange(256)
        mm.close()
    try:
        exercise(name)
    except OK:
        pass
