"""l3roam on a built testbed: the master on its router, an agent on every AP.

Writes each daemon's YAML into the testbed's run directory and starts it with
``Testbed.spawn`` (so ``down`` and ``clean`` kill it with the namespace).
Waits for each daemon's start line in its log before returning.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

from l3roam.errors import ExternalToolError
from l3roam.testbed.builder import Testbed
from l3roam.testbed.topology import CELL_BRIDGE

MASTER_PORT = 4500


class Deployment:
    def __init__(self, tb: Testbed, handoff: bool = True, lease_seconds: int = 600,
                 extra_node: str = "", log_level: str = "info"):
        self.tb = tb
        self.topo = tb.topo
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
        return str(self.topo.router(self.topo.master).loopback)

    def master_config(self) -> str:
        a = self.topo.spec.addressing
        return (f"listen: {self.master_address}:{MASTER_PORT}\nkey: '{self.key}'\n"
                f"metrics_listen: null\nlog_level: {self.log_level}\n"
                f"log_file: {self.log_path(self.topo.master, 'master')}\n"
                f"store: {{path: {self.dir(self.topo.master) / 'master.db'}}}\n"
                f"lease: {{lease_seconds: {self.lease_seconds}}}\n"
                f"pools: [{{prefix: {a.client_prefix}, exclude: [{a.gateway}]}}]\n"
                "node_keys:\n" + "".join(f"  - {{id: {ap}-k1, node: {ap}, key: '{k}'}}\n"
                                         for ap, k in self.node_keys.items()))

    def node_config(self, ap: str) -> str:
        a = self.topo.spec.addressing
        r = self.topo.router(ap)
        mesh = [ifname for _, ifname in self.topo.neighbours(ap)]
        return (f"node_id: {ap}\nmaster: {self.master_address}:{MASTER_PORT}\n"
                f"key: '{self.node_keys[ap]}'\nkey_id: {ap}-k1\n"
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
        m = self.topo.master
        (self.dir(m) / "master.yaml").write_text(self.master_config())
        self.procs["master"] = self.tb.spawn(m, "master", [sys.executable, "-m", "l3roam", "master",
                                                            "--config", str(self.dir(m) / "master.yaml")])
        self._wait(m, "master", "event=master_started", timeout)
        for ap in self.topo.aps:
            (self.dir(ap) / "node.yaml").write_text(self.node_config(ap))
            self.procs[ap] = self.tb.spawn(ap, "node", [sys.executable, "-m", "l3roam", "node",
                                                        "--config", str(self.dir(ap) / "node.yaml")])
        for ap in self.topo.aps:
            self._wait(ap, "node", "event=node_started", timeout)
        return self

    def _wait(self, node: str, name: str, line: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if line in self.log(node, name):
                return
            proc = self.procs.get(name if name == "master" else node)
            if proc is not None and proc.poll() is not None:  # type: ignore[attr-defined]
                out = (self.tb.run_dir / node / f"{name}.log").read_text()[-2000:]
                raise ExternalToolError(f"{name} on {node} exited at start:\n{out}")
            time.sleep(0.05)
        raise ExternalToolError(f"{name} on {node} did not start within {timeout} s")
