"""A testbed that fails cleans up and explains itself; the global kernel limits come back.

- ``testbed up`` (``up_and_wait``) on a mesh that cannot converge (one
  router without babeld) raises a short diagnosis and leaves no namespace,
  process or run directory;
- a mesh with a hub raises the machine-wide limits it needs
  (``net.core.rmem_default`` for babeld's socket on the hub, neighbour-table
  thresholds) while it is up, and ``down`` restores them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from l3roam.errors import ConvergenceError
from l3roam.kernel.sysctl import read_sysctl
from l3roam.testbed import hostlimits, topology
from l3roam.testbed.builder import Testbed
from l3roam.testbed.clean import clean, list_netns, pids_mentioning
from l3roam.testbed.command import up_and_wait

pytestmark = [pytest.mark.netns, pytest.mark.babeld]
REPO = Path(__file__).resolve().parents[2]


def test_convergence_failure_tears_down_and_prints_a_short_diagnosis():
    """Forced: router r4 of a line gets no babeld, so nobody can reach it and it reaches nobody."""
    prefix = f"l3rt-tb-f{os.getpid() % 10000:04d}-"
    topo = topology.loads("mesh: {shape: line, routers: 8}\naps: [r1, r8]\nconverge_timeout: 3\n", prefix=prefix)
    tb = Testbed(topo)
    tb.steps = [s for s in tb.steps if s.what != "babeld r4"]
    said = []
    try:
        with pytest.raises(ConvergenceError) as err:
            up_and_wait(tb, None, said.append)
        text = str(err.value)
        lines = text.splitlines()
        assert lines[0] == "babel did not converge in 3 s: 8 of 8 routers lack 38 routes to loopbacks", text  # the line is cut at r4
        assert lines[1].startswith("  worst: r4 lacks 7, ")
        assert "1 router(s) have no babel route at all: r4" in text
        assert len(lines) <= 8 and len(text) < 2000  # a summary, not every missing route
        assert said[-1] == f"testbed {prefix}: torn down again"
        assert list_netns(prefix) == []
        assert pids_mentioning(str(tb.run_dir) + "/") == []
        assert not tb.run_dir.exists()
        state = json.loads(hostlimits.STATE.read_text()) if hostlimits.STATE.exists() else {}
        assert prefix not in state.get("holders", {})
    finally:
        clean(prefix)


def test_hub_raises_machine_limits_while_up_and_restores_them(tmp_path):
    prefix = f"l3rt-tb-h{os.getpid() % 10000:04d}-"
    spokes = 40
    graph = {"nodes": [{"id": "hub"}] + [{"id": f"n{i}"} for i in range(spokes)],
             "links": [{"source": "hub", "target": f"n{i}", "type": "vpn"} for i in range(spokes)]}
    (tmp_path / "star.json").write_text(json.dumps(graph))
    topo = topology.loads(f"mesh: {{shape: graph, graph: star.json, max_routers: 100}}\nap_count: 2\n"
                          f"babel: {{hello_interval: 1}}\n", prefix=prefix, base_dir=tmp_path)
    assert topo.server == "r1" and topo.gateways == ("r1",)  # the hub
    before = int(read_sysctl("net.core.rmem_default"))
    tb = Testbed(topo)
    try:
        tb.up()
        state = json.loads(hostlimits.STATE.read_text())
        assert state["holders"][prefix]["net.core.rmem_default"] == spokes * 64 * 1024
        assert int(read_sysctl("net.core.rmem_default")) >= spokes * 64 * 1024
        assert int(read_sysctl("net.ipv6.neigh.default.gc_thresh3")) >= 1024
        tb.wait_converged()
        babeld_sock = subprocess.run(["ip", "netns", "exec", tb.ns("r1"), "ss", "-uamn", "sport", "= :6696"],
                                     capture_output=True, text=True).stdout
        assert f"rb{spokes * 64 * 1024}" in babeld_sock  # the hub's babeld got the larger buffer
    finally:
        tb.down()
    state = json.loads(hostlimits.STATE.read_text()) if hostlimits.STATE.exists() else {}
    assert prefix not in state.get("holders", {})
    if not state.get("holders"):  # nobody else (another test run) holds them: the originals are back
        assert int(read_sysctl("net.core.rmem_default")) == before


def test_measured_roam_on_a_bare_testbed_says_no_agent_runs(tmp_path):
    prefix = f"l3rt-tb-b{os.getpid() % 10000:04d}-"
    cfg = tmp_path / "bare.yaml"
    cfg.write_text("mesh: {shape: line, routers: 3}\naps: [r1, r3]\nroaming: {count: 1, interval: 1}\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "l3roam", "testbed"]
    try:
        up = subprocess.run(cmd + ["up", str(cfg), "--prefix", prefix], env=env, capture_output=True, text=True,
                            timeout=120)
        assert up.returncode == 0, up.stderr
        out = subprocess.run(cmd + ["roam", str(cfg), "--prefix", prefix, "--ip", "10.99.0.10"], env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2
        assert "client c1 has no IPv4 address and no node agent runs on its AP r1" in out.stderr, out.stderr
        assert "--by-hand" in out.stderr
    finally:
        clean(prefix)
