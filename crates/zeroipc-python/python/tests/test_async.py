"""asyncio: ``await future``, ``await channel.recv_async()``, ``async for`` on channels and
streams, on the Rust crate's async forms (no thread per awaiting task)."""

import asyncio
import threading

import numpy as np
import pytest

import zeroipc
from zeroipc import Channel, Future, Stream


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_await_future_set_later_on_the_loop(seg):
    f = Future(seg, "f", dtype=np.int64)

    async def main():
        asyncio.get_running_loop().call_later(0.01, f.set_value, 41)
        return await f

    assert run(main()) == 41


def test_await_future_set_by_another_thread(seg):
    f = Future(seg, "f", dtype=np.float64)
    t = threading.Timer(0.02, lambda: f.set_value(1.5))

    async def main():
        t.start()
        return await f.get_async()

    assert run(main()) == 1.5
    t.join()


def test_await_future_error_and_timeout(seg):
    f = Future(seg, "f", dtype=np.int32)
    g = Future(seg, "g", dtype=np.int32)
    f.set_error("nope")

    async def main():
        with pytest.raises(zeroipc.FailedError, match="nope"):
            await f
        with pytest.raises(zeroipc.TimeoutError):
            await g.get_async(timeout=0.02)

    run(main())


def test_many_awaiting_tasks_on_one_loop(seg):
    futures = [Future(seg, f"f{i}", dtype=np.int32) for i in range(20)]

    async def main():
        tasks = [asyncio.ensure_future(f.get_async()) for f in futures]
        await asyncio.sleep(0)
        for i, f in enumerate(futures):
            f.set_value(i)
        return await asyncio.gather(*tasks)

    assert run(main()) == list(range(20))


def test_channel_recv_async_send_async_and_async_for(seg):
    ch = Channel(seg, "c", capacity=4, dtype=np.uint64)

    async def main():
        asyncio.get_running_loop().call_later(0.01, ch.send, 9)
        first = await ch.recv_async()
        await ch.send_async(10)
        await ch.send_async(11)
        ch.close()
        rest = [v async for v in ch]
        with pytest.raises(zeroipc.ClosedError):
            await ch.recv_async()
        with pytest.raises(zeroipc.ClosedError):
            await ch.send_async(1)
        return first, rest

    assert run(main()) == (9, [10, 11])


def test_unbuffered_channel_between_two_tasks(seg):
    ch = Channel(seg, "u", dtype=np.int32)

    async def main():
        async def producer():
            for v in range(5):
                await ch.send_async(v)
            ch.close()

        p = asyncio.ensure_future(producer())
        got = [v async for v in ch]
        await p
        return got

    assert run(main()) == [0, 1, 2, 3, 4]


def test_cancelled_recv_async_loses_nothing(seg):
    ch = Channel(seg, "c", capacity=2, dtype=np.int32)

    async def main():
        task = asyncio.ensure_future(ch.recv_async())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        ch.send(5)
        return await ch.recv_async()

    assert run(main()) == 5


def test_async_for_over_a_stream(seg):
    s = Stream(seg, "s", capacity=4, dtype=np.float32)

    async def main():
        async def producer():
            for v in range(6):
                while not s.emit(v):
                    await asyncio.sleep(0.001)
                await asyncio.sleep(0)
            s.close()

        p = asyncio.ensure_future(producer())
        got = [float(v) async for v in s]
        await p
        return got

    assert run(main()) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_an_awaitable_is_awaited_once(seg):
    f = Future(seg, "f", dtype=np.int32)
    f.set_value(3)

    async def main():
        aw = f.get_async()
        assert await aw == 3
        with pytest.raises(RuntimeError, match="awaited already"):
            await aw

    run(main())


def test_awaiting_channels_costs_no_thread_per_task(name):
    """50 tasks awaiting 50 channels: the process gains at most the crate's one reactor
    thread, not a thread per task."""
    import os

    seg = zeroipc.Segment.create(name, 1 << 20, max_entries=256)
    channels = [Channel(seg, f"c{i}", capacity=2, dtype=np.int32) for i in range(50)]

    def threads():
        return len(os.listdir("/proc/self/task"))

    async def main():
        before = threads()
        tasks = [asyncio.ensure_future(c.recv_async()) for c in channels]
        for _ in range(5):
            await asyncio.sleep(0.01)  # every task polled and parked
        during = threads()
        for i, c in enumerate(channels):
            c.send(i)
        got = await asyncio.gather(*tasks)
        return before, during, got

    before, during, got = run(main())
    assert got == list(range(50))
    assert during - before <= 1, (before, during)
