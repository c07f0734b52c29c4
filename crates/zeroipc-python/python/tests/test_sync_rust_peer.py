"""Python and Rust processes on one segment: sync primitives and codata across languages.

The Rust side is `crates/zeroipc/examples/py_sync_peer.rs` (built with cargo unless
$ZEROIPC_PY_SYNC_PEER names it); it prints "ready" once its handles are open.
"""

import asyncio
import os
import subprocess
import sys

import numpy as np
import pytest

import zeroipc
from conftest import REPO, start_peer

ITERS = 2000

PY_COUNTER = """
import sys, zeroipc, numpy as np
seg = zeroipc.Segment.open(sys.argv[1])
m = zeroipc.Mutex(seg, "m", create_if_missing=False)
a = zeroipc.Array(seg, "counter", dtype=np.int64)
assert zeroipc.Barrier(seg, "start").wait(timeout=60)
for _ in range(int(sys.argv[2])):
    with m:
        a[0] = a[0] + 1
"""


@pytest.fixture(scope="session")
def py_sync_peer():
    path = os.environ.get("ZEROIPC_PY_SYNC_PEER")
    if path:
        return path
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "zeroipc", "--example", "py_sync_peer"],
        cwd=REPO,
        check=True,
    )
    return str(REPO / "target" / "release" / "examples" / "py_sync_peer")


def test_mutex_counter_exact_with_python_and_rust_processes(seg, py_sync_peer):
    zeroipc.Mutex(seg, "m")
    a = zeroipc.Array(seg, "counter", 1, np.int64)
    zeroipc.Barrier(seg, "start", num_participants=4)
    rust = [start_peer(py_sync_peer, "mutex", seg.name, ITERS) for _ in range(2)]
    py = [
        subprocess.Popen([sys.executable, "-c", PY_COUNTER, seg.name, str(ITERS)])
        for _ in range(2)
    ]
    try:
        for p in rust + py:
            assert p.wait(timeout=120) == 0
    finally:
        for p in rust + py:
            if p.poll() is None:
                p.kill()
    assert a[0] == 4 * ITERS


def test_python_future_rust_reader_channel_back_to_asyncio(seg, py_sync_peer):
    f = zeroipc.Future(seg, "f", dtype=np.int64)
    c = zeroipc.Channel(seg, "c", capacity=2, dtype=np.int64)
    peer = start_peer(py_sync_peer, "future", seg.name)
    try:

        async def main():
            asyncio.get_running_loop().call_later(0.01, f.set_value, 41)
            return await asyncio.wait_for(c.recv_async(), 30)

        assert asyncio.run(main()) == 42
        assert peer.wait(timeout=30) == 0
    finally:
        if peer.poll() is None:
            peer.kill()
