"""A one-AP lab for the node agent on the real kernel (shared by several test modules).

One access point namespace runs the master and ``l3roam node``; client
namespaces hang off its ``cell0`` bridge as isolated station ports (as the
testbed's air does); a host namespace sits behind the AP on ``mesh0``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from l3roam.bench.dhcp import wait_for  # noqa: F401 (the tests take it from here)
from l3roam.testbed.dhcpclient import DhcpClient

KEY = "6e6f64652d6167656e742d746573742d6b6579"
ROOT = Path(__file__).resolve().parents[2]
GW_MAC = "02:1e:00:00:00:01"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {out.stderr.strip()}")
    return out


def master_yaml(tmp: Path, key: str, pool: str = "10.99.0.0/16") -> str:
    """A master on 127.0.0.1:4500 with its log and SQLite store in ``tmp``."""
    return f"""
listen: 127.0.0.1:4500
key: {key}
metrics_listen: null
log_file: {tmp / 'master.log'}
pools: [{{prefix: {pool}, exclude: [10.99.0.1]}}]
store: {{path: {tmp / 'master.db'}}}
"""


class Lab:
    def __init__(self, tmp: Path, tag: str = "na", clients: int = 3, node_extra: str = "",
                 master_extra: str = "", pool: str = "10.99.0.0/16"):
        tag = f"l3rt-{tag}{os.getpid() % 100000}"
        self.ap, self.host = f"{tag}-ap", f"{tag}-h"
        names = [f"c{i}" for i in range(1, clients + 1)]
        self.clients = {n: f"{tag}-{n}" for n in names}
        self.macs = {n: f"02:{n}:00:00:00:0{n[1:]}" for n in names}
        self.node_extra = node_extra
        self.master_extra = master_extra
        self.pool = pool
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.dhcp: list[DhcpClient] = []

    def ns_names(self):
        return [self.ap, self.host, *self.clients.values()]

    def up(self) -> None:
        for ns in self.ns_names():
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        ap = self.ap
        sh("ip", "-n", ap, "link", "add", "cell0", "type", "bridge", "ageing_time", "0")
        sh("ip", "-n", ap, "link", "set", "cell0", "up")
        sh("ip", "-n", ap, "link", "add", "mesh0", "type", "veth", "peer", "name", "eth0",
           "netns", self.host)
        sh("ip", "-n", ap, "addr", "add", "10.200.0.1/30", "dev", "mesh0")
        sh("ip", "-n", ap, "link", "set", "mesh0", "up")
        sh("ip", "-n", self.host, "addr", "add", "10.200.0.2/30", "dev", "eth0")
        sh("ip", "-n", self.host, "link", "set", "eth0", "up")
        sh("ip", "-n", self.host, "route", "add", "10.99.0.0/16", "via", "10.200.0.1")
        sh("ip", "netns", "exec", ap, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for name, ns in self.clients.items():
            port = f"sta-{name}"
            sh("ip", "-n", ns, "link", "add", "wlan0", "address", self.macs[name], "type", "veth",
               "peer", "name", port, "netns", ap)
            sh("ip", "-n", ns, "link", "set", "wlan0", "up")
            sh("ip", "-n", ap, "link", "set", port, "alias", self.macs[name])
        self.write_configs()
        import socket as _socket
        self.hostapd = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)  # a scripted hostapd
        self.hostapd.bind(str(self.tmp / "hostapd-wlan0"))
        self.hostapd.settimeout(5)
        self.start_master()
        self.start_node()
        for name in self.clients:
            self.associate(name)

    def associate(self, name: str) -> None:
        port = f"sta-{name}"
        sh("ip", "-n", self.ap, "link", "set", port, "master", "cell0")
        sh("ip", "-n", self.ap, "link", "set", port, "type", "bridge_slave", "isolated", "on")
        sh("ip", "-n", self.ap, "link", "set", port, "up")

    def write_configs(self) -> None:
        (self.tmp / "master.yaml").write_text(master_yaml(self.tmp, KEY, self.pool) + self.master_extra)
        (self.tmp / "node.yaml").write_text(f"""
node_id: ap1
master: 127.0.0.1:4500
key: {KEY}
client_interface: cell0
gateway: 10.99.0.1/16
gateway_mac: {GW_MAC}
mesh_interfaces: [mesh0]
handoff: {{enabled: false}}
dns: {{enabled: true, port: 53, upstream: []}}
dhcp: {{lease_seconds: 600, domain: mesh}}
log_file: {self.tmp / 'node.log'}
log_level: debug
metrics_listen: 127.0.0.1:9469
presence: {{hostapd: [{self.tmp / 'hostapd-wlan0'}]}}
""" + self.node_extra)

    def spawn(self, name: str, *argv: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.procs[name] = subprocess.Popen(
            ["ip", "netns", "exec", self.ap, sys.executable, "-m", "l3roam", *argv],
            stdout=subprocess.DEVNULL, stderr=open(self.tmp / f"{name}.err", "w"), env=env)

    def start_master(self) -> None:
        self.spawn("master", "master", "--config", str(self.tmp / "master.yaml"))
        assert wait_for(lambda: "event=master_started" in self.log("master"), 10), self.log("master")

    def start_node(self) -> None:
        before = self.log("node").count("event=node_started")
        self.spawn("node", "node", "--config", str(self.tmp / "node.yaml"))
        ok = wait_for(lambda: self.log("node").count("event=node_started") > before, 15)
        assert ok, (self.tmp / "node.err").read_text() + self.log("node")
        time.sleep(0.3)  # the DHCP socket binds right after the start line

    def restart_stop_node(self) -> None:
        """SIGHUP: stop for a restart, the data plane stays (exit 75)."""
        p = self.procs.pop("node")
        p.send_signal(signal.SIGHUP)
        assert p.wait(10) == 75

    def log(self, name: str) -> str:
        p = self.tmp / f"{name}.log"
        return p.read_text() if p.exists() else ""

    def routes(self, proto: str = "44") -> dict[str, str]:
        out = sh("ip", "-n", self.ap, "-4", "route", "show", "proto", proto).stdout
        return {line.split()[0]: line for line in out.splitlines() if line.strip()}

    def client(self, kind: str, name: str, hostname: str) -> DhcpClient:
        c = DhcpClient(kind, self.clients[name], "wlan0", self.tmp, hostname).start()
        self.dhcp.append(c)
        return c

    def down(self) -> None:
        self.hostapd.close() if hasattr(self, "hostapd") else None
        for c in self.dhcp:
            c.stop()
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(5)
        for ns in self.ns_names():
            pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                sh("kill", "-9", pid, check=False)
            sh("ip", "netns", "delete", ns, check=False)


