"""The service files in deploy/: systemd units verify, and they agree with
the daemons (config paths, the restart exit status, the capabilities; the
capabilities are also exercised for real in tests/netns/test_node_teardown.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from l3roam.node.main import RESTART_EXIT

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
INITS = sorted((ROOT / "deploy" / "openwrt").glob("*.init"))


def settings(unit: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.systemd
def test_systemd_analyze_verify_passes_on_every_unit():
    assert [u.name for u in UNITS] == ["l3roam-master.service", "l3roam-node.service"]
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, UNITS)],
                       capture_output=True, text=True, cwd=UNITS[0].parent)
    # a typo (unknown key, unknown syscall group) is only a warning with exit 0: no output allowed
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr


@pytest.mark.systemd
def test_verify_catches_a_broken_unit(tmp_path):
    broken = tmp_path / "l3roam-node.service"
    broken.write_text(UNITS[1].read_text().replace("Restart=on-failure", "Restartt=on-failure"))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(broken)], capture_output=True, text=True)
    assert "Restartt" in r.stderr


def test_units_match_the_daemons():
    master, node = (settings(u) for u in UNITS)
    assert master["CapabilityBoundingSet"] == [""]  # the master needs no privilege
    assert node["CapabilityBoundingSet"] == ["CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE"]
    assert "ProtectKernelTunables" not in node  # the agent writes /proc/sys/net
    assert "AF_NETLINK" in node["RestrictAddressFamilies"][0] and "AF_PACKET" in node["RestrictAddressFamilies"][0]
    assert node["RestartForceExitStatus"] == [str(RESTART_EXIT)] and node["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    for unit, kind in ((master, "master"), (node, "node")):
        assert unit["ExecStart"] == [f"/usr/bin/python3 -m l3roam {kind} --config /etc/l3roam/{kind}.yaml"]
        assert unit["Restart"] == ["on-failure"]
        assert "babeld.service" in unit["After"][0]
    assert "babeld.service" in node["Wants"][0]


def test_openwrt_init_scripts_are_valid_shell_and_match_the_daemons():
    assert [i.name for i in INITS] == ["babeld-l3roam.init", "l3roam-master.init", "l3roam-node.init"]
    sh = shutil.which("dash") or shutil.which("sh")
    for init in INITS:
        r = subprocess.run([sh, "-n", str(init)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        text = init.read_text()
        assert text.startswith("#!/bin/sh /etc/rc.common\n") and "USE_PROCD=1" in text
        assert "procd_set_param respawn" in text
        assert "--check-config" in text or "babeld -c /etc/babeld.conf" in text
    node = INITS[2].read_text()
    assert "procd_set_param reload_signal SIGHUP" in node and "TMPDIR=/var/run/l3roam" in node
