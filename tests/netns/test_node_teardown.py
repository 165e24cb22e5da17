"""A stopped node agent leaves its namespace as it found it.

Real kernel, real master, a real udhcpc: the agent sets up the gateway (MAC,
address, proxy ARP sysctls), installs its SRv6 SID and a client /32, and is in
the middle of a hand-off (a move notice from the master: announced redirect,
then the unannounced copy) when SIGTERM arrives.  Afterwards links,
addresses, routes (all tables, IPv4 and IPv6), nftables rules, permanent and proxy neighbour
entries and every net.* sysctl equal a snapshot taken before the start.
SIGHUP instead leaves the data plane up (exit 75) for a restart.  Master and
agent run with only the capabilities their systemd units leave them
(deploy/systemd/*.service, applied with setpriv), so the tests also show the
units' CapabilityBoundingSet is enough.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_lab import master_yaml
from l3roam.testbed.dhcpclient import DhcpClient

pytestmark = [pytest.mark.netns, pytest.mark.dhcpclient]

KEY = "746561726d646f776e2d746573742d6b6579"
ROOT = Path(__file__).resolve().parents[2]
MAC = "02:c7:00:00:00:07"


def sh(*argv: str, check: bool = True) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {out.stderr.strip()}")
    return out.stdout


def wait_for(pred, timeout: float = 10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())


def snapshot(ns: str) -> dict[str, list[str]]:
    """What a node agent may change in a namespace, normalised for comparison."""
    def lines(*argv: str) -> list[str]:
        return sorted(line.strip() for line in sh("ip", "-n", ns, *argv).splitlines() if line.strip())

    # operational state follows carrier, and a link once up keeps the kernel's
    # default qdisc (noqueue) instead of noop when set down again: not ours to undo
    links = [re.sub(r"\b(state \w+|qlen \d+|qdisc \w+)", "", line) for line in lines("-o", "link")]
    addrs = [re.sub(r"valid_lft \S+ preferred_lft \S+", "", line) for line in lines("-o", "addr")]
    sysctls = sh("ip", "netns", "exec", ns, "sysctl", "-a", "-r", r"^net\.", check=False).splitlines()
    volatile = ("conntrack_count", "stable_secret", "nf_log", "base_reachable_time")
    return {
        "links": links,
        "addresses": addrs,
        "routes4": lines("-4", "route", "show", "table", "all"),
        "routes6": lines("-6", "route", "show", "table", "all"),
        "neigh_permanent": lines("neigh", "show", "nud", "permanent"),
        "neigh_proxy": lines("neigh", "show", "proxy") + lines("-6", "neigh", "show", "proxy"),
        "sysctls": sorted(s for s in sysctls if not any(v in s for v in volatile)),
        "nftables": sh("ip", "netns", "exec", ns, "nft", "list", "ruleset").splitlines(),
    }


def unit_caps(unit: str) -> str:
    """The unit's CapabilityBoundingSet as a setpriv --bounding-set argument."""
    text = (ROOT / "deploy" / "systemd" / unit).read_text()
    line = next(x for x in text.splitlines() if x.startswith("CapabilityBoundingSet="))
    caps = line.split("=", 1)[1].split()
    return ",".join(["-all"] + ["+" + c.lower().removeprefix("cap_") for c in caps])


class Lab:
    def __init__(self, tmp: Path):
        tag = f"l3rt-td{os.getpid() % 100000}"
        self.ap, self.cl = f"{tag}-ap", f"{tag}-c"
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.client: DhcpClient | None = None

    def up(self) -> None:
        for ns in (self.ap, self.cl):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        ap = self.ap
        sh("ip", "-n", ap, "link", "add", "cell0", "type", "bridge", "ageing_time", "0")
        # an address the gateway setup must take off (and the stop give back)
        sh("ip", "-n", ap, "addr", "add", "10.99.0.1/16", "dev", "cell0")
        sh("ip", "-n", ap, "link", "add", "mesh0", "type", "veth", "peer", "name", "mesh1", "netns", self.cl)
        sh("ip", "-n", self.cl, "link", "set", "mesh1", "up")
        sh("ip", "-n", ap, "addr", "add", "fc00:0:1::1/64", "dev", "mesh0", "nodad")
        sh("ip", "-n", ap, "link", "set", "mesh0", "up")
        sh("ip", "-n", self.cl, "link", "add", "wlan0", "address", MAC, "type", "veth",
           "peer", "name", "sta-c", "netns", ap)
        sh("ip", "-n", self.cl, "link", "set", "wlan0", "up")
        sh("ip", "-n", ap, "link", "set", "sta-c", "alias", MAC)
        # settled before any snapshot: IPv6 duplicate address detection done
        assert wait_for(lambda: "tentative" not in sh("ip", "-n", ap, "-6", "addr"), 10)
        for key, value in (("net.ipv4.ip_forward", 0), ("net.ipv6.conf.all.forwarding", 0),
                           ("net.ipv4.conf.cell0.proxy_arp", 0), ("net.ipv4.neigh.cell0.proxy_delay", 80)):
            sh("ip", "netns", "exec", ap, "sysctl", "-qw", f"{key}={value}")
        (self.tmp / "master.yaml").write_text(master_yaml(self.tmp, KEY))
        (self.tmp / "node.yaml").write_text(f"""
node_id: ap1
master: 127.0.0.1:4500
key: {KEY}
client_interface: cell0
gateway: 10.99.0.1/16
gateway_mac: 02:1e:00:00:00:01
mesh_interfaces: [mesh0]
handoff: {{sid: "fc00:0:1::d4", withdraw_delay_seconds: 0.5, window_seconds: 60}}
dns: {{enabled: false}}
presence: {{departure_timeout_seconds: 300}}
hello_seconds: 1
log_file: {self.tmp / 'node.log'}
log_level: debug
metrics_listen: 127.0.0.1:9469
""")

    def spawn(self, name: str, *argv: str, caps: str | None = None) -> subprocess.Popen:
        """``caps``: run with only these capabilities, as the systemd unit does."""
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        confine = [] if caps is None else ["setpriv", "--no-new-privs", "--bounding-set", caps]
        p = subprocess.Popen(["ip", "netns", "exec", self.ap, *confine, sys.executable, *argv],
                             stdout=subprocess.PIPE, stderr=open(self.tmp / f"{name}.err", "w"),
                             env=env, text=True)
        self.procs[name] = p
        return p

    def log(self, name: str) -> str:
        p = self.tmp / f"{name}.log"
        return p.read_text() if p.exists() else ""

    def start(self) -> None:
        self.spawn("master", "-m", "l3roam", "master", "--config", str(self.tmp / "master.yaml"),
                   caps=unit_caps("l3roam-master.service"))
        assert wait_for(lambda: "event=master_started" in self.log("master"), 30), \
            (self.tmp / "master.err").read_text()
        before = self.log("node").count("event=node_started")
        self.spawn("node", "-m", "l3roam", "node", "--config", str(self.tmp / "node.yaml"),
                   caps=unit_caps("l3roam-node.service"))
        assert wait_for(lambda: self.log("node").count("event=node_started") > before, 30), \
            (self.tmp / "node.err").read_text()

    def associate_and_lease(self) -> str:
        sh("ip", "-n", self.ap, "link", "set", "sta-c", "master", "cell0")
        sh("ip", "-n", self.ap, "link", "set", "sta-c", "up")
        self.client = DhcpClient("udhcpc", self.cl, "wlan0", self.tmp, "teardown").start()
        ip = self.client.wait_bound(20)
        assert wait_for(lambda: f"{ip} dev cell0" in sh("ip", "-n", self.ap, "-4", "route", "show", "proto", "44"))
        return ip

    def move_to_other_node(self) -> None:
        """Another node claims the client: the master sends ap1 a move notice."""
        script = f"""
from ipaddress import IPv6Address
from l3roam.master.client import MasterClient
from l3roam.proto.control import Field, MessageType
c = MasterClient("ap2", bytes.fromhex("{KEY}"), ("127.0.0.1", 4500))
assert c.call(MessageType.HELLO, {{Field.HANDOFF: IPv6Address("fc00:0:2::d4")}}).ok
seq = c.call(MessageType.QUERY, {{Field.MAC: "{MAC}"}}).seq
assert c.call(MessageType.CLAIM, {{Field.MAC: "{MAC}", Field.SEQ: seq + 1}}).ok
"""
        p = self.spawn("ap2", "-c", script)
        assert p.wait(20) == 0, (self.tmp / "ap2.err").read_text()

    def down(self) -> None:
        if self.client is not None:
            self.client.stop()
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(5)
        for ns in (self.ap, self.cl):
            for pid in sh("ip", "netns", "pids", ns, check=False).split():
                sh("kill", "-9", pid, check=False)
            sh("ip", "netns", "delete", ns, check=False)


@pytest.fixture
def lab(tmp_path):
    lab = Lab(tmp_path)
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


def seg6_routes(ns: str) -> str:
    return sh("ip", "-n", ns, "-4", "route", "show", "table", "all") + sh("ip", "-n", ns, "-6", "route")


def test_sigterm_undoes_every_kernel_change(lab):
    # the client's port joins the bridge only after the snapshot: that is the
    # testbed's air, not the agent's doing; it leaves again before the comparison
    before = snapshot(lab.ap)
    lab.start()
    ip = lab.associate_and_lease()
    during = snapshot(lab.ap)
    assert during != before
    assert "02:1e:00:00:00:01" in " ".join(during["links"])
    assert any("fc00:0:1::d4" in r and "seg6local" in r for r in during["routes6"])
    lab.move_to_other_node()
    # the announced redirect, then (after 0.5 s) the unannounced copy at metric 50
    assert wait_for(lambda: re.search(rf"{ip} .*encap seg6.*metric 50", seg6_routes(lab.ap)) is not None, 10), \
        seg6_routes(lab.ap)
    node = lab.procs.pop("node")
    node.send_signal(signal.SIGTERM)
    assert node.wait(15) == 0, (lab.tmp / "node.err").read_text()
    assert "event=kernel_restored redirects=1" in lab.log("node") and "failures=0" in lab.log("node")
    lab.client.stop()
    lab.client = None
    sh("ip", "-n", lab.ap, "link", "set", "sta-c", "nomaster")
    sh("ip", "-n", lab.ap, "link", "set", "sta-c", "down")
    after = snapshot(lab.ap)
    for key in before:
        assert after[key] == before[key], key


def test_sighup_keeps_the_data_plane_for_a_restart(lab):
    lab.start()
    ip = lab.associate_and_lease()
    node = lab.procs.pop("node")
    node.send_signal(signal.SIGHUP)
    assert node.wait(15) == 75
    routes = sh("ip", "-n", lab.ap, "-4", "route", "show", "proto", "44")
    assert f"{ip} dev cell0" in routes
    assert "10.99.0.1/32" in sh("ip", "-n", lab.ap, "-4", "addr", "show", "cell0")
    assert "event=kernel_restored" not in lab.log("node")
