"""l3roam on a built testbed: the master on its router, an agent on every AP.

Writes each daemon's YAML into the testbed's run directory and starts it with
``Testbed.spawn`` (so ``down`` and ``clean`` kill it with the namespace).
Waits for each daemon's start line in its log before returning.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from pathlib import Path

from l3roam.errors import ExternalToolError
from l3roam.master.etcd_cluster import MAX_TXN_OPS
from l3roam.testbed.builder import Testbed
from l3roam.testbed.topology import CELL_BRIDGE

MASTER_PORT = 4500
ETCD_CLIENT_PORT, ETCD_PEER_PORT = 2379, 2380


class Deployment:
    def __init__(self, tb: Testbed, handoff: bool = True, lease_seconds: int = 600,
                 extra_node: str = "", log_level: str = "info", store: str = "sqlite",
                 masters: list[str] | None = None, etcd_on: list[str] | None = None):
        """``store="etcd"``: etcd members on the routers ``etcd_on`` (default the first
        three) and a master on each router of ``masters`` (default the topology's
        master), the first one active, the others standing by."""
        self.tb = tb
        self.topo = tb.topo
        self.store = store
        self.masters = masters or [tb.topo.master]
        self.etcd_on = etcd_on or [r.name for r in tb.topo.routers[:3]]
        self.cluster = None
        self.handoff = handoff
        self.lease_seconds = lease_seconds
        self.extra_node = extra_node
        self.log_level = log_level
        self.key = secrets.token_hex(24)  # the shared key: tools only (ctl, light clients)
        self.node_keys = {ap: secrets.token_hex(24) for ap in self.topo.aps}  # each AP its own
        self.procs: dict[str, object] = {}

    def dir(self, node: str) -> Path:
        d = self.tb.run_dir / node
        d.mkdir(parents=True, exist_ok=True)
        return d

    def log_path(self, node: str, name: str) -> Path:
        return self.dir(node) / f"{name}.kv.log"

    def log(self, node: str, name: str) -> str:
        p = self.log_path(node, name)
        return p.read_text() if p.exists() else ""

    @property
    def master_address(self) -> str:
        return self.address_of(self.masters[0])

    def address_of(self, router: str) -> str:
        return str(self.topo.router(router).loopback)

    def master_key(self, router: str) -> str:
        """``procs`` key of the master on ``router``."""
        return "master" if router == self.masters[0] else f"master@{router}"

    def store_config(self, router: str) -> str:
        if self.store == "etcd":
            eps = ", ".join(f"{self.address_of(r)}:{ETCD_CLIENT_PORT}" for r in self.etcd_on)
            return (f"store: {{backend: etcd, etcd: {{endpoints: [{eps}], name: {router}, "
                    f"max_txn_ops: {MAX_TXN_OPS}}}}}\n")
        return f"store: {{path: {self.dir(router) / 'master.db'}}}\n"

    def master_config(self, router: str | None = None) -> str:
        a = self.topo.spec.addressing
        router = router or self.masters[0]
        return (f"listen: {self.address_of(router)}:{MASTER_PORT}\nkey: '{self.key}'\n"
                f"metrics_listen: null\nlog_level: {self.log_level}\n"
                f"log_file: {self.log_path(router, 'master')}\n"
                + self.store_config(router) +
                f"lease: {{lease_seconds: {self.lease_seconds}}}\n"
                f"pools: [{{prefix: {a.client_prefix}, exclude: [{a.gateway}]}}]\n"
                "node_keys:\n" + "".join(f"  - {{id: {ap}-k1, node: {ap}, key: '{k}'}}\n"
                                         for ap, k in self.node_keys.items()))

    def node_config(self, ap: str) -> str:
        a = self.topo.spec.addressing
        r = self.topo.router(ap)
        mesh = [ifname for _, ifname in self.topo.neighbours(ap)]
        others = ", ".join(f"{self.address_of(r)}:{MASTER_PORT}" for r in self.masters[1:])
        return (f"node_id: {ap}\nmaster: {self.master_address}:{MASTER_PORT}\n"
                f"key: '{self.node_keys[ap]}'\nkey_id: {ap}-k1\n"
                f"other_masters: [{others}]\n"
                f"client_interface: {CELL_BRIDGE}\n"
                f"gateway: {a.gateway}/{a.client_prefix.prefixlen}\ngateway_mac: {a.gateway_mac}\n"
                f"mesh_interfaces: [{', '.join(mesh)}]\ncontrol_address: {r.loopback}\n"
                f"handoff: {{enabled: {str(self.handoff).lower()}, sid: '{r.sid}'}}\n"
                f"dhcp: {{lease_seconds: {self.lease_seconds}, domain: mesh}}\n"
                f"dns: {{enabled: true, port: 53, upstream: []}}\n"
                f"babel_socket: {self.tb.babeld_socket(ap)}\n"
                f"log_level: {self.log_level}\nlog_file: {self.log_path(ap, 'node')}\n"
                + self.extra_node)

    def start(self, timeout: float = 20.0) -> "Deployment":
        if self.store == "etcd":
            self.start_etcd(timeout)
        for i, m in enumerate(self.masters):
            self.start_master(m, timeout, "event=master_standby" if i else "event=master_started")
        for ap in self.topo.aps:
            (self.dir(ap) / "node.yaml").write_text(self.node_config(ap))
            self.procs[ap] = self.tb.spawn(ap, "node", [sys.executable, "-m", "l3roam", "node",
                                                        "--config", str(self.dir(ap) / "node.yaml")])
        for ap in self.topo.aps:
            self._wait(ap, "node", "event=node_started", timeout)
        return self

    def start_etcd(self, timeout: float) -> None:
        """Members on the routers' loopbacks (data under the run directory: ``clean`` removes it)."""
        from l3roam.master.etcd_cluster import LocalCluster

        self.cluster = LocalCluster(self.tb.run_dir / "etcd", len(self.etcd_on),
                                    hosts=[self.address_of(r) for r in self.etcd_on],
                                    wraps=[["ip", "netns", "exec", self.tb.ns(r)] for r in self.etcd_on],
                                    client_port=ETCD_CLIENT_PORT, peer_port=ETCD_PEER_PORT,
                                    probe_netns=self.tb.ns(self.etcd_on[0]))
        self.cluster.start(timeout)

    def start_master(self, router: str, timeout: float = 20.0,
                     line: str = "event=master_started") -> None:
        (self.dir(router) / "master.yaml").write_text(self.master_config(router))
        self.procs[self.master_key(router)] = self.tb.spawn(
            router, "master", [sys.executable, "-m", "l3roam", "master",
                               "--config", str(self.dir(router) / "master.yaml")])
        self._wait(router, "master", line, timeout)

    def kill_master(self, router: str) -> None:
        """SIGKILL the master on ``router``."""
        proc = self.procs.pop(self.master_key(router))
        os.killpg(proc.pid, signal.SIGKILL)  # type: ignore[attr-defined]
        proc.wait(10)  # type: ignore[attr-defined]

    def close_store(self) -> None:
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def _wait(self, node: str, name: str, line: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if line in self.log(node, name):
                return
            proc = self.procs.get(self.master_key(node) if name == "master" else node)
            if proc is not None and proc.poll() is not None:  # type: ignore[attr-defined]
                out = (self.tb.run_dir / node / f"{name}.log").read_text()[-2000:]
                raise ExternalToolError(f"{name} on {node} exited at start:\n{out}")
            time.sleep(0.05)
        raise ExternalToolError(f"{name} on {node} did not start within {timeout} s")
