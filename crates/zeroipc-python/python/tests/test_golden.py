"""The golden images written by upstream C++, Python and C (golden/), read from Python with
the values golden/manifest.json gives."""

import json
import shutil

import numpy as np
import pytest

import zeroipc

from conftest import REPO

MANIFEST = json.loads((REPO / "golden" / "manifest.json").read_text())
POINT = np.dtype([("id", "<i4"), ("x", "<f4"), ("y", "<f8"), ("flag", "u1")], align=True)
NP = {"i8": np.int8, "u8": np.uint8, "i16": np.int16, "u16": np.uint16, "i32": np.int32,
      "u32": np.uint32, "i64": np.int64, "u64": np.uint64, "f32": np.float32,
      "f64": np.float64, "Point": POINT}
KINDS = ("array", "queue", "stack", "ring", "pool", "map", "set")


def cases():
    for image in MANIFEST["images"]:
        for s in image["structures"]:
            if s["kind"] in KINDS:
                yield pytest.param(image, s, id=f"{image['file']}:{s['name']}")


def same(value, expected, dtype):
    """A read value against a manifest value (f32 compared as f32, structs by field)."""
    if isinstance(expected, dict):
        return all(same(value[k], v, dtype.fields[k][0]) for k, v in expected.items())
    if np.dtype(dtype) == np.float32:
        return np.float32(value) == np.float32(expected)
    return value == expected


@pytest.fixture
def image_segment(names):
    def load(image):
        name = names()
        shutil.copyfile(REPO / "golden" / image["file"], "/dev/shm" + name)
        return zeroipc.Segment.open(name)

    return load


@pytest.mark.parametrize("image, s", list(cases()))
def test_golden_structure(image, s, image_segment):
    types = s["types"]
    if any(t not in NP for t in types.values()):
        pytest.skip(f"element type {types} is not a numpy dtype this package reads")
    seg = image_segment(image)
    exp = s["expected"]
    writer = image["file"].split("_")[0]
    kind = s["kind"]
    if kind in ("map", "set") and writer == "python":
        # Upstream Python's Map/Set layout differs from C++'s: refused, never misread.
        with pytest.raises(zeroipc.KindMismatchError, match="layout"):
            if kind == "map":
                zeroipc.Map(seg, s["name"], key_dtype=NP[types["key"]],
                            value_dtype=NP[types["value"]])
            else:
                zeroipc.Set(seg, s["name"], dtype=NP[types["elem"]])
        return
    if kind == "array":
        dt = NP[types["elem"]]
        a = zeroipc.Array(seg, s["name"], dtype=dt)
        assert len(a) == len(exp["values"])
        for i, v in enumerate(exp["values"]):
            assert same(a[i], v, dt), (i, a[i], v)
        assert same(a.numpy()[0], exp["values"][0], dt)
    elif kind in ("queue", "stack"):
        dt = NP[types["elem"]]
        cls = zeroipc.Queue if kind == "queue" else zeroipc.Stack
        q = cls(seg, s["name"], dtype=dt)
        assert q.size() == exp["size"]
        got = [q.pop() for _ in range(exp["size"])]
        assert all(same(g, e, dt) for g, e in zip(got, exp["pop_order"])), got
        assert q.pop() is None
    elif kind == "ring":
        dt = NP[types["elem"]]
        r = zeroipc.Ring(seg, s["name"], dtype=dt)
        assert r.available_read() == exp["write_pos"] - exp["read_pos"]
        got = list(r.read())
        assert all(same(g, e, dt) for g, e in zip(got, exp["read_order"]))
        assert len(got) == len(exp["read_order"])
    elif kind == "pool":
        dt = NP[types["elem"]]
        p = zeroipc.Pool(seg, s["name"], dtype=dt)
        assert p.capacity == exp["capacity"] and p.allocated_count() == exp["allocated"]
        for index, v in exp["allocated_values"].items():
            assert same(p.get(int(index)), v, dt)
    elif kind == "map":
        m = zeroipc.Map(seg, s["name"], key_dtype=NP[types["key"]],
                        value_dtype=NP[types["value"]])
        assert m.size() == exp["size"]
        vt = NP[types["value"]]
        for k, v in exp["items"]:
            assert same(m[k], v, vt)
        for k in exp["absent"]:
            assert m.get(k) is None
    elif kind == "set":
        st = zeroipc.Set(seg, s["name"], dtype=NP[types["elem"]])
        assert st.size() == exp["size"]
        assert all(x in st for x in exp["members"])
        assert not any(x in st for x in exp["absent"])
