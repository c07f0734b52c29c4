"""Future / Promise and Lazy: upstream's API on the C++ bytes (the Rust crate's)."""

import threading

import numpy as np
import pytest

import zeroipc
from zeroipc import FailedError, Future, FutureState, Lazy, LazyState, Promise


def test_future_set_once_and_get(seg):
    f = Future(seg, "f", dtype=np.float64)
    assert f.get_state() == FutureState.PENDING and f.is_pending() and not f
    assert f.try_get() is None
    assert f.get_timeout(0.02) is None and f.wait(0.01) is None
    t = threading.Timer(0.01, lambda: f.set_value(2.5))
    t.start()
    assert f.get() == 2.5
    t.join()
    assert f.is_ready() and f and f.get_status() == FutureState.READY
    assert f.set_value(1.0) is False and f.set_error("late") is False
    assert Future(seg, "f", open_existing=True).get() == 2.5  # dtype from the catalog


def test_future_error_raises_failed_with_the_message(seg):
    f = Future(seg, "f", dtype=np.int32)
    assert f.set_error("boom: negative input")
    assert f.is_error() and f.get_state() == FutureState.ERROR
    with pytest.raises(FailedError, match="boom: negative input"):
        f.get()
    with pytest.raises(FailedError):
        f.try_get()
    g = Future(seg, "g", dtype=np.int32)
    assert g.set_exception(42)
    with pytest.raises(FailedError, match="Error code: 42"):
        g.get_timeout(1)


def test_future_open_existing_missing(seg):
    with pytest.raises(zeroipc.NotFoundError):
        Future(seg, "nope", dtype=np.int32, open_existing=True)
    with pytest.raises(TypeError, match="dtype"):
        Future(seg, "nope")


def test_promise_sets_its_future(seg):
    p = Promise(seg, "p", dtype=np.int64)
    assert p.get_future().is_pending()
    assert p.set_value(7) and not p.set_value(8)
    assert p.get_future().get() == 7
    q = Promise(Future(seg, "q", dtype=np.int64))
    assert q.set_error("nope")
    with pytest.raises(ValueError):
        Promise(seg, "r")


def test_future_then_calls_back(seg):
    f = Future(seg, "f", dtype=np.int32)
    got = []
    done = threading.Event()
    f.then(lambda v: (got.append(v), done.set()))
    f.set_value(11)
    assert done.wait(10) and got == [11]


def test_future_struct_dtype(seg):
    dt = np.dtype([("x", "<i4"), ("y", "<f4"), ("z", "<f8")], align=True)
    f = Future(seg, "pt", dtype=dt)
    assert f.set_value((1, 2.5, 3.25))
    assert Future(seg, "pt", dtype=dt).get()["y"] == 2.5
    v = Future(seg, "pt").get()  # dtype from the catalog: fields f0, f1, f2
    assert (int(v[0]), float(v[1]), float(v[2])) == (1, 2.5, 3.25)


def test_lazy_computes_once(seg):
    calls = []

    def compute():
        calls.append(1)
        return 3.5

    a = Lazy(seg, "pi", dtype=np.float64)
    assert a.get_state() == LazyState.UNEVALUATED and a.try_get() is None and not a
    with pytest.raises(zeroipc.InvalidArgumentError, match="no computation"):
        a.force()  # nothing written: the Lazy stays unevaluated
    assert a.get_state() == LazyState.UNEVALUATED
    a.set_computation(compute)
    assert a.force() == 3.5 and a() == 3.5
    b = Lazy(seg, "pi", computation=compute)  # opened: dtype from the catalog
    assert b.force() == 3.5 and calls == [1]
    assert a.is_evaluated() and a.compute_count == 1


def test_lazy_constant_reset_and_value(seg):
    c = zeroipc.lazy_constant(seg, "answer", 42)
    assert c.is_evaluated() and c.force() == 42 and c.dtype == np.int64
    c.reset()
    assert c.get_state() == LazyState.UNEVALUATED
    c.reset(7)
    assert c.try_get() == 7
    f = zeroipc.lazy_function(seg, "f", lambda: 9, np.int32)
    assert f.force() == 9


def test_lazy_failure_is_stored_for_everyone(seg):
    a = Lazy(seg, "bad", dtype=np.int32, computation=lambda: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        a.force()
    assert a.is_error() and a.get_state() == LazyState.ERROR
    with pytest.raises(FailedError, match="ZeroDivisionError"):
        Lazy(seg, "bad", computation=lambda: 5).force()
    with pytest.raises(FailedError):
        a.try_get()


def test_lazy_many_threads_one_computation(seg):
    calls = []
    gate = threading.Barrier(4)

    def compute():
        calls.append(1)
        return 99

    results = []

    def worker():
        lz = Lazy(seg, "shared", dtype=np.int64, computation=compute)
        gate.wait()
        results.append(lz.force())

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results == [99] * 4 and calls == [1]


def test_failed_is_a_runtime_error_as_upstream(seg):
    f = Future(seg, "f", dtype=np.int32)
    f.set_exception(404)
    with pytest.raises(RuntimeError):
        f.get()
