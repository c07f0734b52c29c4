"""The sync primitives, one process: upstream's semantics on the Rust crate's atomics.

Threads synchronise by handshakes (an Event or a primitive's own counters), never by sleeps.
"""

import threading

import numpy as np
import pytest

import zeroipc
from zeroipc import (
    Barrier,
    Event,
    EventMode,
    Latch,
    Monitor,
    Mutex,
    Once,
    RWLock,
    Semaphore,
    Signal,
)


def until(pred, timeout=10.0):
    """Waits (sleeping 1 ms at a time) until pred() holds; fails after timeout."""
    import time

    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition never held"
        time.sleep(0.001)


def test_mutex_lock_unlock_try_lock_and_context(seg):
    m = Mutex(seg, "m")
    assert not m.is_locked
    assert m.lock() is True
    assert m.is_locked and m.owner is not None
    assert m.try_lock() is False
    assert m.lock(timeout=0.02) is False
    m.unlock()
    assert not m.is_locked
    with m:
        assert m.is_locked
    assert not m.is_locked
    assert "unlocked" in repr(m)


def test_mutex_opened_by_name_is_the_same_lock(seg):
    a = Mutex(seg, "m")
    b = Mutex(seg, "m", create_if_missing=False)
    with a:
        assert b.try_lock() is False
    assert b.try_lock() is True
    b.unlock()


def test_mutex_excludes_threads(seg):
    m = Mutex(seg, "m")
    counter = [0]

    def work():
        for _ in range(2000):
            with m:
                v = counter[0]
                counter[0] = v + 1

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert counter[0] == 8000


def test_mutex_unlock_without_lock_is_an_error(seg):
    m = Mutex(seg, "m")
    with pytest.raises(zeroipc.Error, match="not locked through this handle"):
        m.unlock()


def test_mutex_missing_without_create(seg):
    with pytest.raises(zeroipc.NotFoundError):
        Mutex(seg, "nope", create_if_missing=False)


def test_semaphore_counts_and_bounds(seg):
    s = Semaphore(seg, "s", initial_count=2, max_count=2)
    assert (s.count, s.max_count, s.waiting) == (2, 2, 0)
    assert s.acquire() and s.try_acquire()
    assert s.try_acquire() is False
    assert s.acquire(timeout=0.02) is False
    s.release()
    s.release()
    with pytest.raises(zeroipc.FullError, match="overflow"):
        s.release()
    with s:
        assert s.count == 1
    assert s.count == 2


def test_semaphore_open_needs_no_count_and_create_needs_one(seg):
    with pytest.raises(zeroipc.InvalidArgumentError, match="initial_count required"):
        Semaphore(seg, "s")
    with pytest.raises(zeroipc.InvalidArgumentError, match="negative"):
        Semaphore(seg, "s", initial_count=-1)
    with pytest.raises(zeroipc.InvalidArgumentError):
        Semaphore(seg, "s", initial_count=3, max_count=2)
    Semaphore(seg, "s", initial_count=1)
    assert Semaphore(seg, "s").count == 1


def test_semaphore_wakes_a_blocked_acquirer(seg):
    s = Semaphore(seg, "s", initial_count=0)
    got = []
    t = threading.Thread(target=lambda: got.append(s.acquire(timeout=10)))
    t.start()
    until(lambda: s.waiting == 1)
    s.release()
    t.join()
    assert got == [True] and s.count == 0


def test_rwlock_readers_share_writer_excludes(seg):
    rw = RWLock(seg, "rw")
    rw.reader_lock()
    rw.reader_lock()
    assert rw.readers == 2 and not rw.writer_active
    assert rw.writer_lock(timeout=0.02) is False
    rw.reader_unlock()
    rw.reader_unlock()
    assert rw.writer_lock(timeout=1) is True
    assert rw.writer_active
    assert rw.reader_lock(timeout=0.02) is False
    rw.writer_unlock()
    with rw.reader():
        assert rw.readers == 1
    with rw.writer():
        assert rw.writer_active
    assert rw.readers == 0 and not rw.writer_active
    with pytest.raises(zeroipc.Error):
        rw.reader_unlock()
    with pytest.raises(zeroipc.Error):
        rw.writer_unlock()


def test_barrier_releases_all_and_counts_generations(seg):
    b = Barrier(seg, "b", num_participants=3)
    assert b.num_participants == 3
    results = []
    ts = [threading.Thread(target=lambda: results.append(b.wait(timeout=10))) for _ in range(2)]
    for t in ts:
        t.start()
    until(lambda: b.arrived == 2)
    assert b.wait(timeout=10) is True
    for t in ts:
        t.join()
    assert results == [True, True]
    assert b.generation == 1 and b.arrived == 0


def test_barrier_timeout_withdraws_the_arrival(seg):
    b = Barrier(seg, "b", num_participants=2)
    assert b.wait(timeout=0.02) is False
    assert b.arrived == 0
    with pytest.raises(zeroipc.InvalidArgumentError):
        Barrier(seg, "zero", num_participants=0)
    with pytest.raises(zeroipc.NotFoundError):
        Barrier(seg, "missing")


def test_latch_counts_down_once(seg):
    latch = Latch(seg, "l", count=3)
    assert (latch.count, latch.initial_count) == (3, 3)
    assert latch.try_wait() is False
    assert latch.wait(timeout=0.02) is False
    done = []
    t = threading.Thread(target=lambda: done.append(latch.wait(timeout=10)))
    t.start()
    latch.count_down()
    latch.count_down(5)  # saturates at 0
    t.join()
    assert done == [True] and latch.count == 0 and latch.try_wait()
    with pytest.raises(zeroipc.InvalidArgumentError):
        latch.count_down(0)


def test_once_runs_exactly_once(seg):
    o = Once(seg, "o")
    calls = []
    assert not o.is_called
    o.call(lambda: calls.append(1))
    o.call(lambda: calls.append(2))
    assert calls == [1] and o.is_called and o.state == 2
    assert Once(seg, "o").is_called


def test_once_raising_func_completes_it_and_propagates(seg):
    o = Once(seg, "o")

    def boom():
        raise ValueError("init failed")

    with pytest.raises(ValueError, match="init failed"):
        o.call(boom)
    assert o.is_called


def test_event_manual_reset(seg):
    e = Event(seg, "e", EventMode.MANUAL_RESET)
    assert e.mode == EventMode.MANUAL_RESET
    assert e.wait(timeout=0.02) is False
    e.signal()
    assert e.is_signaled and e.wait(timeout=0) and e.wait(timeout=0)
    e.reset()
    assert not e.is_signaled and e.wait(timeout=0.02) is False


def test_event_auto_reset_lets_one_through(seg):
    e = Event(seg, "e")
    assert e.mode == EventMode.AUTO_RESET
    e.signal()
    assert e.wait(timeout=1) is True
    assert e.wait(timeout=0.02) is False
    got = []
    t = threading.Thread(target=lambda: got.append(e.wait(timeout=10)))
    t.start()
    e.signal()
    t.join()
    assert got == [True]
    opened = Event(seg, "e", create_if_missing=False)
    assert opened.mode == EventMode.AUTO_RESET


def test_event_pulse_wakes_manual_waiters_then_resets(seg):
    e = Event(seg, "e", EventMode.MANUAL_RESET)
    got = []
    t = threading.Thread(target=lambda: got.append(e.wait(timeout=10)))
    t.start()
    until(lambda: e.waiting == 1)
    e.pulse()
    t.join()
    assert got == [True] and not e.is_signaled


def test_monitor_wait_predicate_and_notify(seg):
    mon = Monitor(seg, "mon")
    box = Signal(seg, "box", dtype=np.int64, initial_value=0)
    got = []

    def consumer():
        with mon:
            got.append(mon.wait(lambda: box.get() > 0, timeout=10))
            got.append(box.get())

    t = threading.Thread(target=consumer)
    t.start()
    until(lambda: mon.waiting_count == 1)
    with mon:
        box.set(7)
        mon.notify_one()
    t.join()
    assert got == [True, 7]


def test_monitor_wait_timeout_keeps_the_lock(seg):
    mon = Monitor(seg, "mon")
    assert mon.lock()
    assert mon.wait(timeout=0.03) is False
    assert mon.try_lock() is False  # still held by us
    mon.unlock()
    assert mon.try_lock() is True
    mon.unlock()
    with pytest.raises(zeroipc.Error):
        mon.wait(timeout=0)  # not locked


def test_monitor_notify_all(seg):
    mon = Monitor(seg, "mon")
    woken = []

    def waiter():
        with mon:
            woken.append(mon.wait(timeout=10))

    ts = [threading.Thread(target=waiter) for _ in range(3)]
    for t in ts:
        t.start()
    until(lambda: mon.waiting_count == 3)
    with mon:
        mon.notify_all()
    for t in ts:
        t.join()
    assert woken == [True, True, True]


def test_signal_versions_and_update(seg):
    s = Signal(seg, "sig", dtype=np.float64, initial_value=1.5)
    v0 = s.version
    assert s.get() == 1.5 and not s.has_changed(v0)
    s.set(2.5)
    assert s.has_changed(v0) and s.version == v0 + 1
    s.update(lambda x: x * 2)
    assert s.get() == 5.0
    assert s.wait_for_change(s.version, timeout=0.02) is False
    seen = s.version
    t = threading.Timer(0.01, lambda: s.set(9.0))
    t.start()
    assert s.wait_for_change(seen, timeout=10) is True
    t.join()
    opened = Signal(seg, "sig")  # dtype from the type catalog
    assert opened.get() == 9.0 and opened.dtype == np.float64


def test_signal_update_that_raises_keeps_the_value(seg):
    s = Signal(seg, "sig", dtype=np.int32, initial_value=4)

    def bad(_):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError, match="no"):
        s.update(bad)
    assert s.get() == 4


def test_signal_needs_an_initial_value_to_create(seg):
    with pytest.raises(zeroipc.InvalidArgumentError, match="initial_value"):
        Signal(seg, "sig", dtype=np.int32)
    with pytest.raises(TypeError, match="dtype"):
        Signal(seg, "sig", initial_value=1)


def test_upstream_module_paths_import(seg):
    """Upstream scripts import from submodules (`from zeroipc.channel import Channel`)."""
    from zeroipc.barrier import Barrier as B
    from zeroipc.channel import Channel, ChannelClosed, Select, make_buffered_channel
    from zeroipc.event import Event as E, EventMode as EM
    from zeroipc.future import Future, FutureState, Promise
    from zeroipc.latch import Latch as L
    from zeroipc.lazy import Lazy, LazyState, lazy_constant, lazy_function
    from zeroipc.monitor import Monitor as Mo
    from zeroipc.mutex import Mutex as M
    from zeroipc.once import Once as O
    from zeroipc.rwlock import RWLock as R
    from zeroipc.semaphore import Semaphore as S
    from zeroipc.signal import Signal as Sg
    from zeroipc.stream import Stream, create_number_stream, create_random_stream

    assert (B, E, EM, L, Mo, M, O, R, S, Sg) == (
        Barrier, Event, EventMode, Latch, Monitor, Mutex, Once, RWLock, Semaphore, Signal
    )
    assert ChannelClosed is zeroipc.ClosedError
    assert make_buffered_channel(seg, "c", 4, np.int32).capacity == 4
    assert list(create_number_stream(seg, "n", 1.0, 2.0, 4).read()) == [1.0, 3.0, 5.0, 7.0]
    assert len(create_random_stream(seg, "r", size=3, capacity=8, seed=1)) == 3
    assert {Future, FutureState, Promise, Lazy, LazyState, lazy_constant, lazy_function, Select}
