"""Python and Rust processes on one segment (the Rust side: examples/py_peer.rs)."""

import subprocess

import numpy as np

import zeroipc

from conftest import start_peer


def test_seed_snippet_against_a_rust_created_segment(name, py_peer):
    peer = start_peer(py_peer, "temperature", name, stdin=subprocess.PIPE)
    try:
        # The README's snippet, verbatim but for the name.
        from zeroipc import Memory, Array

        mem = Memory(name)
        temps = Array(mem, "temperature", dtype=np.float32)
        assert str(temps[0]) == "23.5"
        assert zeroipc.Array(mem, "temperature")[0] == 23.5  # dtype from the catalog
    finally:
        peer.stdin.write("done\n")
        peer.stdin.flush()
        assert peer.wait(timeout=30) == 0


def test_python_produces_rust_consumes(seg, py_peer):
    q = zeroipc.Queue(seg, "q", 16, np.uint64)
    n = 5000
    peer = start_peer(py_peer, "consume", seg.name, "q", n)
    for v in range(n):
        q.put(v, timeout=30)
    out, _ = peer.communicate(timeout=60)
    assert peer.returncode == 0
    assert out.split() == [str(n * (n - 1) // 2), str(n)]


def test_rust_produces_python_consumes(seg, py_peer):
    q = zeroipc.Queue(seg, "q", 16, np.uint64)
    n = 5000
    peer = start_peer(py_peer, "produce", seg.name, "q", 1000, n)
    got = [q.get(timeout=30) for _ in range(n)]
    assert peer.wait(timeout=60) == 0
    assert got == list(range(1000, 1000 + n))


def test_round_trip_with_a_rust_echo(seg, py_peer):
    ping = zeroipc.Queue(seg, "ping", 8, np.uint64)
    pong = zeroipc.Queue(seg, "pong", 8, np.uint64)
    n = 2000
    peer = start_peer(py_peer, "echo", seg.name, n)
    for i in range(n):
        ping.put(i)
        assert pong.get(timeout=30) == i + 1
    assert peer.wait(timeout=60) == 0


def test_rust_reads_a_python_created_queue_with_mixed_producers(seg, py_peer):
    q = zeroipc.Queue(seg, "q", 8, np.uint64)
    n = 3000
    consumer = start_peer(py_peer, "consume", seg.name, "q", 2 * n)
    producer = start_peer(py_peer, "produce", seg.name, "q", n, n)
    for v in range(n):
        q.put(v, timeout=30)
    assert producer.wait(timeout=60) == 0
    out, _ = consumer.communicate(timeout=60)
    m = 2 * n
    assert out.split() == [str(m * (m - 1) // 2), str(m)]
