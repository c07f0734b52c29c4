"""The type stubs match the extension (mypy's stubtest), when mypy is installed (CI installs
it: .ci/run stage 7d)."""

import subprocess
import sys

import pytest


def test_stubs_match_the_extension(tmp_path):
    pytest.importorskip("mypy")
    run = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "zeroipc._zeroipc"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_type_checker_sees_the_classes(tmp_path):
    pytest.importorskip("mypy")
    script = tmp_path / "user.py"
    script.write_text(
        "import numpy as np\n"
        "from zeroipc import Memory, Array, Queue, Segment\n"
        "seg = Segment.create('/x', 1 << 20)\n"
        "q = Queue(seg, 'q', 4, np.uint64)\n"
        "ok: bool = q.push(1, timeout=0.5)\n"
        "v = Array(seg, 'a', 4, np.float32).numpy(writable=False)\n"
        "q.no_such_method()\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # Exactly one error: the misspelt method.
    assert "has no attribute \"no_such_method\"" in run.stdout, run.stdout
    assert "Found 1 error" in run.stdout, run.stdout
