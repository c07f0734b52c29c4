"""Zero-copy numpy views of shared Arrays."""

import gc

import numpy as np

import zeroipc


def test_view_is_shared_memory(seg):
    a = zeroipc.Array(seg, "a", 1000, np.float64)
    v = np.asarray(a)
    assert v.shape == (1000,) and v.dtype == np.float64 and v.flags.writeable
    v[10] = 4.5
    assert a[10] == 4.5
    a[11] = -1.0
    assert v[11] == -1.0
    # A second handle, opened separately, sees the same bytes.
    other = zeroipc.Array(zeroipc.Segment.open(seg.name), "a")
    assert other.numpy()[10] == 4.5


def test_read_only_view(seg):
    a = zeroipc.Array(seg, "a", 4, np.int32)
    ro = a.numpy(writable=False)
    assert not ro.flags.writeable
    try:
        ro[0] = 1
    except ValueError:
        pass
    else:
        raise AssertionError("a read-only view accepted a write")
    assert a.data.flags.writeable


def test_view_keeps_the_mapping_alive(name):
    mem = zeroipc.Memory(name, 1 << 16)
    a = zeroipc.Array(mem, "a", 8, np.uint32)
    a.fill(7)
    v = a.numpy()
    del a, mem
    gc.collect()
    zeroipc.Segment.unlink(name)  # even the name is gone
    assert v.sum() == 56
    v[0] = 1
    assert v[0] == 1


def test_struct_view(seg):
    dt = np.dtype([("id", "<i4"), ("x", "<f4"), ("y", "<f8")], align=True)
    a = zeroipc.Array(seg, "pts", 3, dt)
    v = a.numpy()
    v["id"] = [1, 2, 3]
    v["y"][2] = 9.5
    assert a[2]["y"] == 9.5 and a[1]["id"] == 2


def test_asarray_with_dtype_copies(seg):
    a = zeroipc.Array(seg, "a", 4, np.int16)
    a.fill(3)
    c = np.asarray(a, dtype=np.float64)
    c[0] = 100
    assert a[0] == 3
