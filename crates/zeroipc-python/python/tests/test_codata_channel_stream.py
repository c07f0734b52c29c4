"""Channel / Select and Stream: upstream's API on the C++ bytes (the Rust crate's)."""

import threading

import numpy as np
import pytest

import zeroipc
from zeroipc import Channel, Select, Stream


def test_buffered_channel(seg):
    ch = Channel(seg, "ch", capacity=2, dtype=np.int32)
    assert ch.capacity == 2 and ch.buffer_size == 2 and not ch.unbuffered
    assert ch.send(1) and ch.try_send(2) and not ch.try_send(3)
    assert ch.full() and len(ch) == 2 and ch.size() == 2 and ch
    assert ch.send(3, timeout=0.02) is False
    assert [ch.receive(), ch.try_receive()] == [1, 2]
    assert ch.try_receive() is None and ch.receive(timeout=0.02) is None and ch.empty()
    ch.send(4)
    ch.close()
    assert ch.is_closed() and not ch.is_open()
    assert ch.send(5) is False and ch.try_send(5) is False
    assert ch.receive() == 4 and ch.receive() is None  # drained, then None


def test_unbuffered_channel_is_a_rendezvous(seg):
    ch = Channel(seg, "u", dtype=np.int64)
    assert ch.unbuffered and ch.capacity == 0 and not ch.full()
    assert ch.try_send(1) is False  # nobody receiving
    sent = []
    t = threading.Thread(target=lambda: sent.append(ch.send(5, timeout=10)))
    t.start()
    assert ch.receive(timeout=10) == 5
    t.join()
    assert sent == [True]


def test_channel_iteration_and_context_manager(seg):
    with Channel(seg, "it", capacity=8, dtype=np.int32) as ch:
        for v in range(5):
            ch.send(v)
    assert ch.is_closed()
    assert list(ch) == [0, 1, 2, 3, 4]


def test_channel_opened_by_name_and_errors(seg):
    Channel(seg, "c", capacity=4, dtype=np.uint16)
    c = Channel(seg, "c", open_existing=True)
    assert c.dtype == np.uint16 and c.capacity == 4
    with pytest.raises(zeroipc.NotFoundError):
        Channel(seg, "none", dtype=np.int32, open_existing=True)
    with pytest.raises(zeroipc.InvalidArgumentError):
        Channel(seg, "x", capacity=1, buffer_size=1, dtype=np.int32)


def test_select_receive_and_send(seg):
    a = Channel(seg, "a", capacity=2, dtype=np.int32)
    b = Channel(seg, "b", capacity=2, dtype=np.int32)
    assert Select([a, b], timeout=0.02).select_receive() is None
    b.send(4)
    assert Channel.select([a, b], timeout=1) is b
    assert Select([a, b], timeout=1).select_receive() == (1, 4)
    b.send(1)
    b.send(2)
    assert Select([b, a], timeout=1).select_send([8, 7]) == 1
    assert Select([b], timeout=0.02).select_send([9]) is None
    with pytest.raises(zeroipc.InvalidArgumentError):
        Select([a, b]).select_send([1])
    assert a.receive(timeout=1) == 7


def test_select_waits_for_a_sender(seg):
    a = Channel(seg, "a", capacity=2, dtype=np.int32)
    b = Channel(seg, "b", capacity=2, dtype=np.int32)
    t = threading.Timer(0.02, lambda: a.send(3))
    t.start()
    assert Select([a, b], timeout=10).select_receive() == (0, 3)
    t.join()


def test_stream_emit_read_next(seg):
    s = Stream(seg, "s", capacity=8, dtype=np.int32)
    assert s.capacity_elements() == 8 and s.capacity_bytes() == 32
    assert s.emit(1) and s.emit_batch(range(2, 20)) == 7
    assert s.emit(99) is False  # full
    assert s.available() == 8 and len(s) == 8 and s
    assert list(s.read(3)) == [1, 2, 3]
    assert s.next(timeout=1) == 4
    assert list(s.read()) == [5, 6, 7, 8]
    assert s.read() is None and s.empty() and s.next(timeout=0.02) is None
    assert s.sequence == 8
    s.emit(5)
    s.close()
    assert s.is_closed()
    with pytest.raises(zeroipc.ClosedError):
        s.emit(6)
    assert list(s) == [5]  # iteration drains, then ends


def test_stream_upstream_one_shot_operators(seg):
    s = Stream(seg, "s", capacity=16, dtype=np.int32)
    out = Stream(seg, "out", capacity=16, dtype=np.int32)
    s.emit_batch([1, 2, 3, 4])
    s.map(lambda x: x * 10, out)
    assert list(out.read()) == [10, 20, 30, 40]
    s.emit_batch([1, 2, 3, 4])
    s.filter(lambda x: x % 2 == 0, out)
    assert list(out.read()) == [2, 4]
    s.emit_batch([1, 2, 3, 4])
    assert s.reduce(lambda acc, x: acc + x, 0) == 10
    s.emit_batch([1, 2, 3])
    s.scan(lambda acc, x: acc + x, 0, out)
    assert list(out.read()) == [1, 3, 6]
    s.emit_batch([1, 2, 3, 4])
    assert [list(w) for w in s.window(3)] == [[1, 2, 3], [2, 3, 4]]
    s.emit_batch([1, 2, 3, 4, 5])
    s.batch(2, out)
    assert list(out.read()) == [1, 2, 3, 4]
    s.emit_batch([1, 2, 3])
    assert s.skip(2) is s and list(s.read()) == [3]


def test_stream_rust_stages(seg):
    s = Stream(seg, "src", capacity=8, dtype=np.float64)
    hot = s.filter(lambda t: t > 30.0, "hot")
    scaled = hot.output.map(lambda t: t * 2, "scaled")
    for t in [20.0, 35.5, 31.0, 12.0]:
        assert s.emit(t, timeout=10)
    s.close()
    assert list(scaled.output) == [71.0, 62.0]
    hot.join()
    scaled.join()
    assert hot.output.is_closed()


def test_stream_take_stage_and_read_batches(seg):
    s = Stream(seg, "src", capacity=8, dtype=np.int32)
    first = s.take(2, "first")
    for v in [1, 2, 3]:
        s.emit(v, timeout=10)
    assert list(first.output) == [1, 2]
    first.join()
    s.close()
    batches = [list(b) for b in s.read_batches(2, timeout=1)]
    assert batches in ([[3]], [])  # the stage may or may not have consumed 3 before stopping


def test_stream_stage_function_error_surfaces_at_join(seg):
    s = Stream(seg, "src", capacity=4, dtype=np.int32)
    st = s.map(lambda v: 1 // 0, "out")
    s.emit(1, timeout=10)
    s.close()
    list(st.output)
    with pytest.raises(zeroipc.Error, match="ZeroDivisionError"):
        st.join()


def test_stream_opened_by_name(seg):
    Stream(seg, "s", capacity=4, dtype=np.float32)
    s = Stream(seg, "s", open_existing=True)
    assert s.dtype == np.float32 and s.capacity_elements() == 4
    with pytest.raises(zeroipc.NotFoundError):
        Stream(seg, "none", open_existing=True, dtype=np.int32)
    with pytest.raises(zeroipc.InvalidArgumentError, match="capacity"):
        Stream(seg, "new", dtype=np.int32)
