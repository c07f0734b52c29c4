"""Every structure from Python: upstream's names and semantics, dtypes, errors."""

import math

import numpy as np
import pytest

import zeroipc

POINT = np.dtype([("id", "<i4"), ("x", "<f4"), ("y", "<f8"), ("flag", "u1")], align=True)


def test_memory_creates_replaces_and_opens(name):
    mem = zeroipc.Memory(name, 1 << 16)
    zeroipc.Array(mem, "a", 4, np.int32)[1] = 7
    # Upstream's semantics: a second create replaces the segment.
    mem2 = zeroipc.Memory(name, 1 << 16)
    assert [e[0] for e in mem2.entries()] == ["__zeroipc_catalog"]
    with zeroipc.Memory(name) as opened:
        assert opened.size == 1 << 16
    mem2.unlink()
    with pytest.raises(FileNotFoundError):
        zeroipc.Memory(name)


def test_segment_create_is_exclusive(name):
    zeroipc.Segment.create(name, 1 << 16)
    with pytest.raises(zeroipc.ExistsError):
        zeroipc.Segment.create(name, 1 << 16)
    assert zeroipc.Segment.open(name).size == 1 << 16
    zeroipc.Segment.unlink(name)
    with pytest.raises(zeroipc.NotFoundError):
        zeroipc.Segment.open(name)


def test_segment_mode_defaults_to_0600(name):
    import os
    import stat

    zeroipc.Segment.create(name, 1 << 16)
    assert stat.S_IMODE(os.stat("/dev/shm" + name).st_mode) == 0o600


def test_array_upstream_semantics(seg):
    a = zeroipc.Array(seg, "temperature", 10, dtype=np.float32)
    a[0] = 23.5
    a[-1] = 0.1
    assert a[0] == 23.5 and str(a[0]) == "23.5"
    assert str(a[9]) == "0.1"
    assert len(a) == 10 and a.capacity == 10
    a.fill(2)
    assert list(a) == [2.0] * 10
    a[2:4] = [5, 6]
    assert a[2] == 5 and a[3] == 6
    with pytest.raises(IndexError):
        a[10]
    with pytest.raises(ValueError):
        zeroipc.Array(seg, "temperature", 11, dtype=np.float32)  # capacity mismatch


def test_array_dtype_from_the_catalog(seg):
    zeroipc.Array(seg, "t", 3, np.float32)[1] = 1.5
    opened = zeroipc.Array(seg, "t")
    assert opened.dtype == np.float32 and opened[1] == 1.5
    with pytest.raises(zeroipc.TypeMismatchError):
        zeroipc.Array(seg, "t", dtype=np.int32)


def test_dtype_required_without_a_catalog(name):
    seg = zeroipc.Segment.create(name, 1 << 16, catalog=False)
    zeroipc.Queue(seg, "q", 4, np.uint64)
    with pytest.raises(TypeError):
        zeroipc.Queue(seg, "q")
    with pytest.raises(TypeError):
        zeroipc.Queue(seg, "new", 4)


def test_struct_dtype_array_and_queue(seg):
    a = zeroipc.Array(seg, "pts", 2, POINT)
    a[0] = (1, 1.5, -2.25, 1)
    assert a[0]["y"] == -2.25 and a.numpy()["id"][0] == 1
    again = zeroipc.Array(seg, "pts")  # the layout was recorded with Segment.describe
    # The catalog records field types, not names: fields are f0, f1, ...
    assert again.dtype.itemsize == 24 and again[0]["f1"] == 1.5
    q = zeroipc.Queue(seg, "qp", 4, POINT)
    assert q.push((7, 0.5, 5.5, 2))
    got = q.pop()
    assert (got["id"], got["x"], got["y"], got["flag"]) == (7, 0.5, 5.5, 2)


def test_packed_struct_dtype_is_refused(seg):
    packed = np.dtype([("a", "<i4"), ("b", "<f8")])
    with pytest.raises(zeroipc.InvalidArgumentError, match="align=True"):
        zeroipc.Array(seg, "bad", 2, packed)


@pytest.mark.parametrize(
    "dtype, value",
    [(np.int8, -5), (np.uint8, 250), (np.int16, -300), (np.uint16, 65535), (np.int32, -7),
     (np.uint32, 2**32 - 1), (np.int64, -2**63), (np.uint64, 2**64 - 1), (np.float32, 0.5),
     (np.float64, math.pi), (bool, True), (int, 42), (float, 2.5)],
)
def test_queue_element_types(seg, dtype, value):
    q = zeroipc.Queue(seg, "q", 4, dtype)
    assert q.push(value)
    assert q.pop() == value


def test_queue_upstream_semantics(seg):
    q = zeroipc.Queue(seg, "q", 3, np.uint64)
    assert q.capacity == 4  # rounded up to a power of two, as upstream
    assert q.empty() and not q and len(q) == 0
    for v in range(4):
        assert q.push(v)
    assert q.full() and not q.push(99)
    assert q.size() == 4
    assert [q.pop() for _ in range(4)] == [0, 1, 2, 3]
    assert q.pop() is None
    assert q.pop(timeout=0.01) is None
    assert q.push(5, timeout=0.01)
    assert q.get(timeout=1) == 5
    with pytest.raises(zeroipc.TimeoutError):
        q.get(timeout=0.01)
    with pytest.raises(TimeoutError):  # also the built-in
        q.get(timeout=0.01)
    for v in range(4):
        q.put(v)
    with pytest.raises(zeroipc.TimeoutError):
        q.put(9, timeout=0.01)
    with pytest.raises(OverflowError):
        q.push(-1)


def test_stack(seg):
    s = zeroipc.Stack(seg, "s", 3, np.int32)
    assert s.top() is None and s.pop() is None and s.empty()
    assert s.push(1) and s.push(2) and s.push(3)
    assert s.full() and not s.push(4) and s.size() == 3 and len(s) == 3
    assert s.top() == 3
    assert [s.pop(), s.pop(), s.pop()] == [3, 2, 1]
    assert s.pop(timeout=0.01) is None
    with pytest.raises(zeroipc.TimeoutError):
        s.get(timeout=0.01)
    s.put(8)
    assert zeroipc.Stack(seg, "s").get() == 8


def test_ring(seg):
    r = zeroipc.Ring(seg, "r", 8, np.uint16)
    assert r.pop() is None and r.read() is None and r.empty()
    assert r.write([1, 2, 3]) == 6  # bytes, as upstream
    assert r.push(4)
    assert r.size() == 4 and len(r) == 8 and r.available_read() == 8
    assert r.available_write() == 8
    assert r.front() == 1
    assert r.pop() == 1
    assert list(r.read(max_bytes=4)) == [2, 3]
    assert r.write(np.arange(10)) == 0  # all or nothing
    assert r.write(np.arange(7)) == 14
    assert r.full() and not r.push(1)
    r.clear()
    assert r.empty()
    assert r.pop(timeout=0.01) is None


def test_pool(seg):
    p = zeroipc.Pool(seg, "p", 3, np.float64)
    got = [p.allocate() for _ in range(3)]
    assert sorted(got) == [0, 1, 2] and p.allocate() is None and p.full()
    assert p.set(got[0], 1.5) and p.get(got[0]) == 1.5
    assert p.get(3) is None and not p.set(3, 1.0)
    assert p.deallocate(got[0]) and not p.free(got[0])  # a double free is refused
    assert p.allocated_count() == 2 and p.available() == 1 and len(p) == 2
    assert p.get_stats() == {"total_blocks": 3, "available_blocks": 1, "allocated_blocks": 2,
                             "block_size": 8}
    assert zeroipc.Pool(seg, "p").capacity == 3


def test_map(seg):
    m = zeroipc.Map(seg, "m", 8, np.int32, np.float64)
    assert m.insert(1, 0.5) and m.put(2, 1.5)
    m[3] = 2.5
    assert m.find(1) == 0.5 and m.get(9) is None and m[3] == 2.5
    assert 2 in m and m.contains(2) and 9 not in m
    assert m.erase(2) and not m.remove(2)
    del m[3]
    with pytest.raises(KeyError):
        m[3]
    with pytest.raises(KeyError):
        del m[3]
    assert m.size() == 1 and len(m) == 1 and not m.empty()
    assert m.items() == [(1, 0.5)] and m.keys() == [1] and m.values() == [0.5]
    for k in range(10, 17):
        assert m.insert(k, 0.0)
    assert not m.insert(99, 1.0)  # full
    with pytest.raises(zeroipc.FullError):
        m[99] = 1.0
    m.clear()
    assert m.empty()
    opened = zeroipc.Map(seg, "m")
    assert opened.key_dtype == np.int32 and opened.value_dtype == np.float64


def test_set(seg):
    s = zeroipc.Set(seg, "s", 4, np.uint64)
    assert s.insert(5) and s.add(5) and s.add(6)
    assert 5 in s and s.contains(6) and 7 not in s
    assert sorted(s.members()) == [5, 6] and sorted(s) == [5, 6] and len(s) == 2
    assert s.erase(5) and not s.remove(5)
    s.discard(5)
    s.clear()
    assert s.empty() and not s
    assert zeroipc.Set(seg, "s").dtype == np.uint64


def test_kind_mismatch_is_refused(seg):
    zeroipc.Map(seg, "m", 8, np.uint64, np.uint64)
    with pytest.raises(zeroipc.KindMismatchError):
        zeroipc.Queue(seg, "m")
    with pytest.raises(zeroipc.Error):
        zeroipc.Queue(seg, "m", dtype=np.uint64)


def test_wrong_memory_argument():
    with pytest.raises(TypeError):
        zeroipc.Queue("not a segment", "q", 4, np.uint64)


def test_invalid_timeout(seg):
    q = zeroipc.Queue(seg, "q", 4, np.uint64)
    with pytest.raises(zeroipc.InvalidArgumentError):
        q.get(timeout=-1)
    assert q.push(1, timeout=math.inf)


def test_upstream_module_paths_and_generics(seg):
    from zeroipc.array import Array
    from zeroipc.map import Map
    from zeroipc.memory import Memory
    from zeroipc.pool import Pool
    from zeroipc.queue import Queue
    from zeroipc.ring import Ring
    from zeroipc.set import HashSet, Set
    from zeroipc.stack import Stack

    assert (Array, Map, Memory, Pool, Queue, Ring, Set, Stack) == (
        zeroipc.Array, zeroipc.Map, zeroipc.Memory, zeroipc.Pool, zeroipc.Queue,
        zeroipc.Ring, zeroipc.Set, zeroipc.Stack)
    assert HashSet is Set is zeroipc.HashSet
    # Upstream's classes are typing.Generic: Map[K, V](...) as upstream's Set does.
    m = Map[int, int](seg, "m", 4, np.int64, np.uint8)
    assert m.insert(1, 1) and Queue[int](seg, "q", 2, np.int64).push(3)
