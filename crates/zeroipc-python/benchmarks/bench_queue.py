"""Benchmarks of the Python package (issue #16), with the Rust baseline in the same run.

    v/bin/python crates/zeroipc-python/benchmarks/bench_queue.py [--rounds 5] [--n 20000]

1. Queue<u64> round trip (ping -> echo -> pong, capacity 8), three pairs, interleaved
   round by round so machine noise hits all three alike, in two modes: "busy" (both sides
   poll with the non-blocking `pop()` / `try_pop`, as upstream's Python must: the round
   trip without kernel sleeps) and "blocking" (`get()` / `pop()`, which sleep on a futex):
   Rust<->Rust (examples/py_peer.rs pingpong + echo), Python<->Rust (this script against
   py_peer echo), Python<->Python (this script against a Python echo process).
   Reported: the median over rounds of the mean round trip, and the ratios to Rust<->Rust.
2. numpy reads of a 64 MiB shared Array<f64> (np.asarray view) vs the same reads of a
   plain numpy array: sum() and copy(), best of `rounds`, ratio plain/shared time. Two
   plain arrays: numpy's own allocation (which numpy madvises onto transparent huge pages
   where THP is in "madvise" mode) and a private anonymous mapping without that advice
   (4 KiB pages, as /dev/shm's tmpfs gives the shared array when shmem THP is off).

The Rust peer is $ZEROIPC_PY_PEER or built with cargo (release).
"""

import argparse
import mmap
import os
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

import zeroipc

REPO = pathlib.Path(__file__).resolve().parents[3]

ECHO = """
import sys, zeroipc
seg = zeroipc.Segment.open(sys.argv[1])
ping, pong = zeroipc.Queue(seg, "ping"), zeroipc.Queue(seg, "pong")
print("ready", flush=True)
if sys.argv[3] == "busy":
    pop, push = ping.pop, pong.push
    for _ in range(int(sys.argv[2])):
        v = pop()
        while v is None:
            v = pop()
        push(v + 1)
else:
    for _ in range(int(sys.argv[2])):
        pong.put(ping.get() + 1)
"""


def peer_path():
    path = os.environ.get("ZEROIPC_PY_PEER")
    if path:
        return path
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "zeroipc", "--example", "py_peer"],
        cwd=REPO, check=True,
    )
    return str(REPO / "target" / "release" / "examples" / "py_peer")


def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def fresh(name):
    try:
        zeroipc.Segment.unlink(name)
    except zeroipc.NotFoundError:
        pass
    seg = zeroipc.Segment.create(name, 1 << 20)
    ping = zeroipc.Queue(seg, "ping", 8, np.uint64)
    pong = zeroipc.Queue(seg, "pong", 8, np.uint64)
    return seg, ping, pong


def python_client(ping, pong, n, mode):
    warm = min(1000, n // 10)
    for i in range(warm):
        ping.put(i)
        pong.get()
    if mode == "busy":
        push, pop = ping.push, pong.pop
        start_t = time.perf_counter_ns()
        for i in range(n):
            push(i)
            v = pop()
            while v is None:
                v = pop()
            if v != i + 1:
                raise AssertionError("wrong echo")
    else:
        start_t = time.perf_counter_ns()
        for i in range(n):
            ping.put(i)
            if pong.get() != i + 1:
                raise AssertionError("wrong echo")
    return (time.perf_counter_ns() - start_t) / n


def rust_rust(name, peer, n, mode):
    seg, _, _ = fresh(name)
    suffix = "-spin" if mode == "busy" else ""
    echo = start([peer, "echo" + suffix, name, str(n)])
    client = start([peer, "pingpong" + suffix, name, str(n)])
    out, _ = client.communicate(timeout=600)
    echo.wait(timeout=60)
    return float(out.split()[0])


def python_rust(name, peer, n, mode):
    warm = min(1000, n // 10)
    seg, ping, pong = fresh(name)
    suffix = "-spin" if mode == "busy" else ""
    echo = start([peer, "echo" + suffix, name, str(n + warm)])
    ns = python_client(ping, pong, n, mode)
    echo.wait(timeout=60)
    return ns


def python_python(name, n, mode):
    warm = min(1000, n // 10)
    seg, ping, pong = fresh(name)
    echo = start([sys.executable, "-c", ECHO, name, str(n + warm), mode])
    ns = python_client(ping, pong, n, mode)
    echo.wait(timeout=60)
    return ns


def numpy_reads(name, rounds):
    n = (64 << 20) // 8
    try:
        zeroipc.Segment.unlink(name)
    except zeroipc.NotFoundError:
        pass
    seg = zeroipc.Segment.create(name, (64 << 20) + (1 << 20))
    try:
        return _numpy_reads(seg, n, rounds)
    finally:
        zeroipc.Segment.unlink(name)


def _numpy_reads(seg, n, rounds):
    a = zeroipc.Array(seg, "big", n, np.float64)
    shared = np.asarray(a)
    shared[:] = np.arange(n, dtype=np.float64)
    plain = np.arange(n, dtype=np.float64)


    anon = mmap.mmap(-1, n * 8)
    small_pages = np.frombuffer(anon, dtype=np.float64)
    small_pages[:] = plain
    arrays = (("shared", shared), ("plain", plain), ("plain-4k", small_pages))
    results = {}
    for op in ("sum", "copy"):
        best = {label: float("inf") for label, _ in arrays}
        for _ in range(rounds):
            for label, arr in arrays:
                t = time.perf_counter()
                getattr(arr, op)()
                best[label] = min(best[label], time.perf_counter() - t)
        results[op] = best
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    peer = peer_path()
    name = f"/zeroipc-bench-py-{os.getpid()}"
    modes = ("busy", "blocking")
    rows = {(m, p): [] for m in modes for p in ("Rust<->Rust", "Python<->Rust", "Python<->Python")}
    try:
        for _ in range(args.rounds):
            for m in modes:
                rows[(m, "Rust<->Rust")].append(rust_rust(name, peer, args.n, m))
                rows[(m, "Python<->Rust")].append(python_rust(name, peer, args.n, m))
                rows[(m, "Python<->Python")].append(python_python(name, args.n, m))
    finally:
        try:
            zeroipc.Segment.unlink(name)
        except zeroipc.NotFoundError:
            pass
    print(f"Queue<u64> round trip, {args.n} per round, {args.rounds} rounds (median of means)")
    for m in modes:
        base = statistics.median(rows[(m, "Rust<->Rust")])
        for (mode, label), values in rows.items():
            if mode != m:
                continue
            med = statistics.median(values)
            print(f"  {m:8} {label:16} {med / 1000:8.2f} us   {med / base:5.2f}x Rust<->Rust"
                  f"   (rounds: {', '.join(f'{v / 1000:.2f}' for v in values)})")
    res = numpy_reads(name + "-np", args.rounds)
    print("numpy reads of a 64 MiB Array<f64> (best of rounds)")
    for op, best in res.items():
        print(f"  {op:5} shared {best['shared'] * 1000:7.2f} ms   plain {best['plain'] * 1000:7.2f} ms"
              f"   plain-4k {best['plain-4k'] * 1000:7.2f} ms   speed shared/plain "
              f"{best['plain'] / best['shared']:.2f}x, shared/plain-4k "
              f"{best['plain-4k'] / best['shared']:.2f}x")


if __name__ == "__main__":
    main()
