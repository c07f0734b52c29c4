"""Several Python processes on one segment at once."""

import multiprocessing as mp

import numpy as np

import zeroipc

from _workers import array_writer, consume, produce


def test_queue_mpmc_nothing_lost_or_duplicated(seg):
    ctx = mp.get_context("spawn")
    zeroipc.Queue(seg, "jobs", 64, np.uint64)
    producers, consumers, per = 3, 2, 3000
    total = producers * per
    assert total % consumers == 0
    barrier = ctx.Barrier(producers + consumers)
    out = ctx.Queue()
    procs = [ctx.Process(target=produce, args=(seg.name, "jobs", p * per, per, barrier))
             for p in range(producers)]
    procs += [ctx.Process(target=consume, args=(seg.name, "jobs", total // consumers, out, barrier))
              for _ in range(consumers)]
    for p in procs:
        p.start()
    lists = [out.get(timeout=120) for _ in range(consumers)]
    got = [v for lst in lists for v in lst]
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert sorted(got) == list(range(total))  # every value exactly once
    # FIFO per producer: each consumer sees each producer's values in increasing order.
    for lst in lists:
        for p in range(producers):
            mine = [v for v in lst if p * per <= v < (p + 1) * per]
            assert mine == sorted(mine)


def test_array_written_by_children(seg):
    ctx = mp.get_context("spawn")
    a = zeroipc.Array(seg, "shared", 4, np.int64)
    procs = [ctx.Process(target=array_writer, args=(seg.name, i, 10 * i + 1)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert list(a) == [1, 11, 21, 31]
