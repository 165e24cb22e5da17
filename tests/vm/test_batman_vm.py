"""batman-adv for real: the smallest batman-adv experiment end to end, in a user-mode
Linux VM where the host kernel lacks batman-adv (on a kernel that has it, on the host).

Real batman-adv (the guest's module), batctl, namespaces, udhcpc, dnsmasq and the
probes; two roams.  Everything asserted comes from the run's own records.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.vm, pytest.mark.root, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_batman_experiment_loads_batman_adv_and_carries_the_traffic(tmp_path):
    from l3roam.experiment.designs import batman_available

    out = tmp_path / "out"
    prefix = f"l3rt-bv{os.getpid() % 1000:03d}-"
    proc = subprocess.run([sys.executable, "-m", "l3roam", "experiment",
                           str(ROOT / "configs" / "experiments" / "batman-tiny.yaml"), "--out", str(out),
                           "--prefix", prefix], capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    meta = json.loads((out / "meta.json").read_text())
    if not batman_available()[0]:  # the host cannot: it must have gone to the VM, and said so
        assert "[vm] user-mode Linux" in proc.stdout
        assert meta["vm"] and "user-mode Linux" in meta["vm"]
        assert meta["host_kernel"] == os.uname().release
    assert meta["batman_adv"] is True and meta["batman_adv_version"], meta

    (run,) = json.loads((out / "runs.json").read_text())
    assert "error" not in run, run.get("error")
    assert run["kind"] == "batman" and len(run["roams"]) == 2
    bat = run["batman"]
    assert bat["module_version"] == meta["batman_adv_version"]  # the module was loaded during the run
    assert bat["gateway_settings"]["orig_interval"] == "1000"
    assert bat["gateway_settings"]["gw_mode"].startswith("server")
    # every router saw every other one as an originator, and the client ended local at its last AP
    # (a router also lists its neighbours' secondary interfaces, sent one hop: hence >=)
    assert all(t["originators"] >= 4 for t in bat["tables"].values()), bat["tables"]
    last_ap = run["roams"][-1]["dst"]
    assert bat["client_at_end"].get(last_ap) == "local", bat["client_at_end"]
    # batman-adv carried the traffic: the gateway sent the downstream probes into bat0, and
    # batman frames on the mesh links far exceed its own control traffic; babel never ran
    assert bat["gateway_bat0_statistics"]["tx"] >= run["received_down"] > 0.5 * run["sent_down"]
    ctl = run["control"]
    assert ctl["batman_bytes_per_s_per_link"] > 5 * ctl["batman_ctl_bytes_per_s_per_link"] > 0
    assert ctl["babel_bytes_per_s_per_link"] == 0
    assert all(r["down_gap_ms"] is not None and r["down_gap_ms"] < 3000 for r in run["roams"]), run["roams"]
    assert run["tcp"]["alive"]
