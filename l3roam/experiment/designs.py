"""The network designs an experiment compares, set up on a built testbed.

- ``l3roam``: the lease master and node agents (``l3roam.testbed.deploy``);
- ``l2``: one broadcast domain across the mesh, as batman-adv would give:
  per participating router (every AP and the gateway) a bridge with a VXLAN
  port (``nolearning``, head-end replication: an all-zero FDB entry for every
  peer's loopback, routed by babel), one gateway and DHCP server (dnsmasq) on
  the traffic server's router.  AP cell bridges forward like hubs (ageing 0)
  and, on each association, the new AP broadcasts the station's "Layer 2
  Update" frame as hostapd does (``l3roam.experiment.l2frame``).  VXLAN with
  learning stayed broken after a move here (docs/experiments.md), hence ``nolearning``;
- ``subnets``: no roaming: AP k serves its own ``10.98.k.0/24`` with a dnsmasq
  of its own; the /24 is installed as a route of protocol 45 and babeld is
  told to redistribute it (this design only: babeld's ``flush_xroute`` bug
  makes /32 withdrawals malformed once a node redistributes a shorter
  prefix, but no /32 is ever withdrawn here).  The client runs DHCP again
  after each move (as a phone does on joining a different network) and gets
  a new address, which breaks its TCP connections.

Side effects: ``ip``/``bridge`` commands and daemons in the testbed's namespaces.
"""

from __future__ import annotations

import dataclasses
import socket
import sys
import time

from l3roam.experiment.l2frame import l2_update_frame
from l3roam.kernel.nsthread import NamespaceThread
from l3roam.testbed.builder import Testbed, run_cmd
from l3roam.testbed.plan import StartBabeld, Step
from l3roam.testbed.topology import CELL_BRIDGE

VXLAN_ID = 42
VXLAN_PORT = 4789
L2_BRIDGE = "l2br"
SUBNET_PROTO = 45


def dnsmasq_argv(run_dir, interface: str, first: str, last: str, mask: str, router: str) -> list[str]:
    return ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            "--port=0", f"--interface={interface}", "--bind-interfaces", "--except-interface=lo",
            f"--dhcp-range={first},{last},{mask},10m", f"--dhcp-option=option:router,{router}",
            "--dhcp-authoritative", "--no-ping", "--user=root", f"--dhcp-leasefile={run_dir}/dnsmasq.leases",
            f"--pid-file={run_dir}/dnsmasq.pid", f"--log-facility={run_dir}/dnsmasq.log", "--log-dhcp"]


# ----------------------------------------------------------------------------- L2 baseline


class L2Domain:
    """A bridge per AP and at the gateway, joined by VXLAN over babel-routed loopbacks."""

    def __init__(self, tb: Testbed):
        self.tb = tb
        self.topo = tb.topo
        self.gateway_node = self.topo.server
        self.members = list(dict.fromkeys([*self.topo.aps, self.gateway_node]))
        self._sockets: dict[str, socket.socket] = {}
        self._threads: list[NamespaceThread] = []

    def bridge(self, node: str) -> str:
        return CELL_BRIDGE if node in self.topo.aps else L2_BRIDGE

    def setup(self) -> "L2Domain":
        a = self.topo.spec.addressing
        plen = a.client_prefix.prefixlen
        for k, node in enumerate(self.members, start=1):
            ns = self.tb.ns(node)
            br = self.bridge(node)
            lines = []
            if node in self.topo.aps:
                lines.append(f"link set {br} type bridge ageing_time 0")  # hub: never learn the wrong port
                if node != self.gateway_node:  # an AP is a plain bridge: no gateway address or MAC
                    lines += [f"addr flush dev {br}", f"link set {br} address 02:00:00:aa:00:{k:02x}"]
            else:
                lines += [f"link add {br} address {a.gateway_mac} type bridge",
                          f"addr add {a.gateway}/{plen} dev {br}", f"link set {br} up"]
            lo = self.topo.router(node).loopback
            lines += [f"link add vx0 type vxlan id {VXLAN_ID} local {lo} dstport {VXLAN_PORT} nolearning",
                      f"link set vx0 mtu 1500 master {br} up"]
            run_cmd(["ip", "-n", ns, "-batch", "-"], stdin="\n".join(lines) + "\n")
            fdb = [f"fdb append 00:00:00:00:00:00 dev vx0 dst {self.topo.router(p).loopback}"
                   for p in self.members if p != node]
            run_cmd(["bridge", "-n", ns, "-batch", "-"], stdin="\n".join(fdb) + "\n")
        gw = self.gateway_node
        net = a.client_prefix
        self.tb.spawn(gw, "dnsmasq", dnsmasq_argv(self.tb.run_dir / gw, self.bridge(gw), str(net.network_address + 10),
                                                 str(net.broadcast_address - 1), str(net.netmask), str(a.gateway)))
        for ap in self.topo.aps:  # a packet socket on each AP's cell bridge, opened inside its namespace
            t = NamespaceThread(self.tb.ns(ap), name=f"l2-{ap}")
            self._threads.append(t)
            self._sockets[ap] = t.run(self._open, CELL_BRIDGE)
        return self

    @staticmethod
    def _open(ifname: str) -> socket.socket:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((ifname, 0))
        return s

    def announce(self, ap: str, station_mac: str) -> None:
        """What hostapd does on association: the station's L2 Update frame, from the new AP."""
        self._sockets[ap].send(l2_update_frame(station_mac))

    def close(self) -> None:
        for s in self._sockets.values():
            s.close()
        for t in self._threads:
            t.stop()


# ----------------------------------------------------------------------------- per-AP subnets


def ap_subnet(k: int) -> tuple[str, str]:
    """(prefix, gateway) of the k-th AP (1-based)."""
    return f"10.98.{k}.0/24", f"10.98.{k}.1"


def patch_babeld_for_subnets(tb: Testbed) -> None:
    """Before ``up``: let each AP's babeld also redistribute its /24 (this design only)."""
    aps = list(tb.topo.aps)
    steps = []
    for step in tb.steps:
        acts = []
        for act in step.do:
            if isinstance(act, StartBabeld):
                node = act.directory.name
                if node in aps:
                    prefix, _ = ap_subnet(aps.index(node) + 1)
                    line = f"redistribute proto {SUBNET_PROTO} ip {prefix} eq 24 allow\n"
                    conf = act.config.replace("redistribute local deny\n", line + "redistribute local deny\n")
                    act = dataclasses.replace(act, config=conf)
            acts.append(act)
        steps.append(dataclasses.replace(step, do=tuple(acts)) if isinstance(step, Step) else step)
    tb.steps = steps


def setup_subnets(tb: Testbed) -> None:
    """After ``up``: each AP's cell bridge becomes the gateway of its own /24, with a dnsmasq."""
    for k, ap in enumerate(tb.topo.aps, start=1):
        prefix, gw = ap_subnet(k)
        ns = tb.ns(ap)
        run_cmd(["ip", "-n", ns, "-batch", "-"], stdin=(
            f"addr flush dev {CELL_BRIDGE}\n"
            f"link set {CELL_BRIDGE} address 02:00:00:bb:00:{k:02x}\n"
            f"addr add {gw}/24 dev {CELL_BRIDGE}\n"
            f"route replace {prefix} dev {CELL_BRIDGE} proto {SUBNET_PROTO} metric 10\n"))
        base = prefix.rsplit(".", 1)[0]
        tb.spawn(ap, "dnsmasq", dnsmasq_argv(tb.run_dir / ap, CELL_BRIDGE, f"{base}.10", f"{base}.250",
                                             "255.255.255.0", gw))


def wait_routes(tb: Testbed, node: str, prefixes: list[str], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        have = {r["dst"] for r in tb.routes(node) if r.get("type", "unicast") == "unicast"}
        if all(p in have for p in prefixes):
            return
        time.sleep(0.1)
    print(f"warning: {node} has no route to {prefixes} after {timeout} s", file=sys.stderr)


# ----------------------------------------------------------------------------- batman-adv


def batman_available() -> tuple[bool, str]:
    """Whether this kernel has batman-adv (loaded, or loadable), and how we know."""
    import os
    import subprocess

    if os.path.isdir("/sys/module/batman_adv"):
        return True, "/sys/module/batman_adv exists"
    out = subprocess.run(["modprobe", "-n", "batman-adv"], capture_output=True, text=True)
    if out.returncode == 0:
        return True, "modprobe -n batman-adv succeeded"
    return False, (out.stderr.strip() or f"modprobe -n batman-adv failed (exit {out.returncode})")


def seg6_available() -> tuple[bool, str]:
    """Whether this kernel has SRv6 lightweight tunnels (l3roam's hand-off), tried in a throwaway namespace."""
    import subprocess

    script = ("ip link set lo up && ip -6 route add fc00::d4/128 encap seg6local action End.DX4 nh4 0.0.0.0 dev lo")
    out = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True)
    if out.returncode == 0:
        return True, "a seg6local route was accepted"
    return False, out.stderr.strip() or f"exit {out.returncode}"
