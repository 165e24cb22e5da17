"""``testbed clean`` after the building process was SIGKILLed half-way.

The builder runs as its own process (``python3 -m l3roam.testbed up``); it is
killed as soon as the first babeld is up, before it waited for convergence.  Afterwards nothing with the prefix may remain: no namespace, no link
in the root namespace, no process, no run directory.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from l3roam.testbed.clean import list_netns, pids_mentioning, root_links

pytestmark = [pytest.mark.netns, pytest.mark.babeld]

YAML = """
mesh: {shape: line, routers: 4}
aps: [r1, r4]
clients: [{name: c1}, {name: c2, ap: r4}]
"""


def test_clean_removes_everything_a_killed_build_left(tmp_path):
    prefix = f"l3rt-tb-k{os.getpid() % 10000:04d}-"
    run_dir = Path("/run/l3roam") / prefix.rstrip("-")
    cfg = tmp_path / "tb.yaml"
    cfg.write_text(YAML)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    cmd = [sys.executable, "-m", "l3roam.testbed"]
    builder = subprocess.Popen(cmd + ["up", str(cfg), "--prefix", prefix], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (run_dir / "r1" / "babeld.pid").exists():
            assert builder.poll() is None, "the builder ended before it could be killed"
            assert time.monotonic() < deadline, "no babeld came up"
            time.sleep(0.005)
        os.kill(builder.pid, signal.SIGKILL)
        builder.wait(timeout=5)
        # a half-built testbed is left: namespaces and at least one babeld
        assert len(list_netns(prefix)) >= 5
        assert pids_mentioning(str(run_dir) + "/")
        # (the babelds start in parallel, so how many of the others are up by now varies)

        out = subprocess.run(cmd + ["clean", "--prefix", prefix], env=env, capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, out.stderr
        assert "deleted" in out.stdout
        assert list_netns(prefix) == []
        assert root_links(prefix) == []
        assert pids_mentioning(str(run_dir) + "/") == []
        assert not run_dir.exists()
    finally:  # only matters when an assertion above failed
        if builder.poll() is None:
            builder.kill()
        subprocess.run(cmd + ["clean", "--prefix", prefix], env=env, capture_output=True, timeout=30)
