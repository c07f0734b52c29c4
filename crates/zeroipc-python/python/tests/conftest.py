"""Shared fixtures: unique segment names (unlinked even when a test fails), a segment,
and the Rust peer binary (`crates/zeroipc/examples/py_peer.rs`)."""

import itertools
import os
import pathlib
import subprocess

import pytest

import zeroipc

_counter = itertools.count()
REPO = pathlib.Path(__file__).resolve().parents[4]


def unique_name() -> str:
    return f"/zeroipc-test-py-{os.getpid()}-{next(_counter)}"


@pytest.fixture
def names():
    """A factory of unique segment names; every name it gave is unlinked afterwards."""
    given = []

    def make() -> str:
        name = unique_name()
        given.append(name)
        return name

    yield make
    for name in given:
        try:
            zeroipc.Segment.unlink(name)
        except zeroipc.NotFoundError:
            pass


@pytest.fixture
def name(names):
    return names()


@pytest.fixture
def seg(name):
    """A fresh 1 MiB segment (exclusive create, with the type catalog)."""
    return zeroipc.Segment.create(name, 1 << 20)


@pytest.fixture(scope="session")
def py_peer():
    """Path of the Rust peer binary: $ZEROIPC_PY_PEER, or built with cargo (release)."""
    path = os.environ.get("ZEROIPC_PY_PEER")
    if path:
        return path
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "zeroipc", "--example", "py_peer"],
        cwd=REPO,
        check=True,
    )
    return str(REPO / "target" / "release" / "examples" / "py_peer")


def start_peer(py_peer, *args, stdin=None):
    """Starts the Rust peer and waits for its "ready" line (the handshake)."""
    proc = subprocess.Popen(
        [py_peer, *map(str, args)],
        stdin=stdin,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert line.strip() == "ready", f"peer said {line!r}"
    return proc
