"""Process entry points for the multi-process tests (importable by 'spawn' children)."""

import numpy as np

import zeroipc


def produce(seg_name, queue, start, count, barrier):
    q = zeroipc.Queue(zeroipc.Segment.open(seg_name), queue)
    barrier.wait()
    for v in range(start, start + count):
        q.put(v, timeout=30)


def consume(seg_name, queue, count, out, barrier):
    q = zeroipc.Queue(zeroipc.Segment.open(seg_name), queue)
    barrier.wait()
    got = [q.get(timeout=30) for _ in range(count)]
    out.put(got)


def array_writer(seg_name, index, value):
    a = zeroipc.Array(zeroipc.Memory(seg_name), "shared", dtype=np.int64)
    a[index] = value
