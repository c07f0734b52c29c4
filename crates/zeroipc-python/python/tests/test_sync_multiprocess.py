"""Several Python processes on one segment: exact counts under real cross-process atomics.

Upstream's pure-Python locks do read-modify-write in Python and lose updates across
processes; these counters must come out exact. Processes start together through a Barrier
(a handshake), never through sleeps.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import zeroipc

PROCS = 4
ITERS = 2000

COUNTER_CHILD = """
import sys, zeroipc, numpy as np
seg = zeroipc.Segment.open(sys.argv[1])
m = zeroipc.Mutex(seg, "m", create_if_missing=False)
a = zeroipc.Array(seg, "counter", dtype=np.int64)
start = zeroipc.Barrier(seg, "start")
assert start.wait(timeout=30)
for _ in range(int(sys.argv[2])):
    with m:
        a[0] = a[0] + 1   # a read-modify-write: exact only under a working mutex
"""

SEMAPHORE_CHILD = """
import sys, zeroipc, numpy as np
seg = zeroipc.Segment.open(sys.argv[1])
s = zeroipc.Semaphore(seg, "slots")
guard = zeroipc.Mutex(seg, "guard")
a = zeroipc.Array(seg, "inside", dtype=np.int64)
start = zeroipc.Barrier(seg, "start")
assert start.wait(timeout=30)
for _ in range(int(sys.argv[2])):
    with s:
        with guard:
            a[0] += 1
            a[1] = max(a[1], a[0])   # the most holders ever inside at once
        with guard:
            a[0] -= 1
"""

FUTURE_CHILD = """
import sys, zeroipc
seg = zeroipc.Segment.open(sys.argv[1])
f = zeroipc.Future(seg, "answer", open_existing=True)
ch = zeroipc.Channel(seg, "results", open_existing=True)
ch.send(int(f.get()) + int(sys.argv[2]), timeout=30)
"""


def run_children(seg, code, args_list):
    procs = [
        subprocess.Popen([sys.executable, "-c", code, seg.name, *map(str, args)])
        for args in args_list
    ]
    try:
        for p in procs:
            assert p.wait(timeout=120) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def test_mutex_counter_is_exact_across_processes(seg):
    zeroipc.Mutex(seg, "m")
    a = zeroipc.Array(seg, "counter", 1, np.int64)
    zeroipc.Barrier(seg, "start", num_participants=PROCS)
    run_children(seg, COUNTER_CHILD, [(ITERS,)] * PROCS)
    assert a[0] == PROCS * ITERS


def test_semaphore_never_admits_more_than_its_permits(seg):
    zeroipc.Semaphore(seg, "slots", initial_count=2, max_count=2)
    zeroipc.Mutex(seg, "guard")
    a = zeroipc.Array(seg, "inside", 2, np.int64)
    zeroipc.Barrier(seg, "start", num_participants=PROCS)
    run_children(seg, SEMAPHORE_CHILD, [(500,)] * PROCS)
    assert a[0] == 0
    assert 1 <= a[1] <= 2


def test_future_and_channel_across_processes(seg):
    f = zeroipc.Future(seg, "answer", dtype=np.int64)
    ch = zeroipc.Channel(seg, "results", capacity=8, dtype=np.int64)
    procs = [
        subprocess.Popen([sys.executable, "-c", FUTURE_CHILD, seg.name, str(i)])
        for i in range(3)
    ]
    try:
        assert f.set_value(100)
        got = sorted(ch.receive(timeout=60) for _ in range(3))
        assert got == [100, 101, 102]
        for p in procs:
            assert p.wait(timeout=60) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


DEAD_HOLDER = """
import sys, time, zeroipc
m = zeroipc.Mutex(zeroipc.Segment.open(sys.argv[1]), "m")
m.lock()
print("locked", flush=True)
time.sleep(600)
"""


def test_a_dead_holder_is_taken_over_and_reported(seg):
    m = zeroipc.Mutex(seg, "m")
    for form in ("lock", "with"):
        child = subprocess.Popen(
            [sys.executable, "-c", DEAD_HOLDER, seg.name], stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout.readline().strip() == "locked"
            assert m.owner == child.pid
        finally:
            child.kill()
            child.wait()
        if form == "lock":
            with pytest.raises(zeroipc.OwnerDeadError, match=f"process {child.pid} died"):
                m.lock(timeout=10)
            assert m.is_locked and m.owner == os.getpid()  # we hold it now
            m.unlock()
        else:
            with pytest.raises(zeroipc.OwnerDeadError, match="released again"):
                with m:
                    raise AssertionError("the block must not run")
            assert not m.is_locked
