"""batman-adv as community meshes deploy it, set up on a built testbed (kind ``batman``).

What runs (see docs/experiments.md for why each setting):

- no babeld: batman-adv is the mesh's only routing protocol.  Every router
  has ``bat0`` (B.A.T.M.A.N. IV, the algorithm Gluon and LibreMesh select)
  with all its mesh links as hard interfaces;
- every AP bridges ``bat0`` with its client cell (``cell0``, a plain
  learning bridge with no address), as Gluon's client bridge does;
- the gateway (the traffic server's router) bridges ``bat0`` into a bridge
  holding the client subnet's gateway address and MAC, runs the one DHCP
  server (dnsmasq) and announces itself with ``gw_mode server``; the APs run
  ``gw_mode client`` (Gluon's split), so batman-adv steers DHCP to it;
- distributed ARP table and multicast optimisations on (their defaults, as in
  Gluon); ``hop_penalty`` 15 (Gluon's); ``orig_interval`` per scenario
  (batman-adv's default 1000 ms, Gluon's 5000 ms, or tuned lower);
- on association the new AP emits the station's "Layer 2 Update" frame as
  the Linux AP stack does: it *enters the AP's bridge on the station's port*
  (mac80211 injects it as if received from the station), so the bridge learns
  the station there and floods the frame into ``bat0``, which adds the MAC to
  its local translation table and tells the mesh.  Sent from the bridge
  device instead, the frame would leave a stale forwarding entry for the
  station pointing at ``bat0`` in place, and the bridge would drop the
  station's downstream frames that arrive from ``bat0``.  The testbed's
  station port is a veth, so the frame is written to its far end (the
  client's ``wlan0``) with a packet socket: the client's IP stack never sees
  or sends anything.

Side effects: ``ip``/``batctl`` commands and dnsmasq in the testbed's namespaces.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import subprocess
import time

from l3roam.errors import ExternalToolError
from l3roam.experiment.designs import L2_BRIDGE, dnsmasq_argv
from l3roam.experiment.l2frame import l2_update_frame
from l3roam.kernel.nsthread import NamespaceThread
from l3roam.testbed.builder import Testbed, run_cmd
from l3roam.testbed.plan import StartBabeld, StopBabeld, Step
from l3roam.testbed.topology import CELL_BRIDGE, CLIENT_IFNAME

MESH_IF = "bat0"
ALGORITHM = "BATMAN_IV"
HOP_PENALTY = 15  # Gluon's default (the kernel's is 30)
DEFAULT_ORIG_INTERVAL_MS = 1000  # batman-adv's own default


@dataclasses.dataclass(frozen=True)
class BatmanSettings:
    orig_interval_ms: int = DEFAULT_ORIG_INTERVAL_MS
    hop_penalty: int = HOP_PENALTY
    distributed_arp_table: bool = True
    multicast: bool = True
    bridge_loop_avoidance: bool = True


def drop_babeld(tb: Testbed) -> None:
    """Before ``up``: no babeld on any router (batman-adv alone routes this mesh)."""
    steps = []
    for step in tb.steps:
        do = tuple(a for a in step.do if not isinstance(a, StartBabeld))
        undo = tuple(a for a in step.undo if not isinstance(a, StopBabeld))
        if do or undo or not any(isinstance(a, StartBabeld) for a in step.do):
            steps.append(dataclasses.replace(step, do=do, undo=undo) if isinstance(step, Step) else step)
    tb.steps = steps


def batctl(tb: Testbed, node: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_cmd(["ip", "netns", "exec", tb.ns(node), "batctl", "meshif", MESH_IF, *args], tolerant=not check)


def module_version() -> str | None:
    try:
        with open("/sys/module/batman_adv/version") as f:
            return f.read().strip()
    except OSError:
        return None


class BatmanMesh:
    def __init__(self, tb: Testbed, settings: BatmanSettings = BatmanSettings()):
        self.tb = tb
        self.topo = tb.topo
        self.settings = settings
        self.gateway_node = self.topo.server
        self._threads: dict[str, NamespaceThread] = {}
        self._sockets: dict[str, socket.socket] = {}

    def bridge(self, node: str) -> str | None:
        if node in self.topo.aps:
            return CELL_BRIDGE
        return L2_BRIDGE if node == self.gateway_node else None

    def setup(self) -> "BatmanMesh":
        run_cmd(["modprobe", "batman-adv"])
        a = self.topo.spec.addressing
        plen = a.client_prefix.prefixlen
        st = self.settings
        for k, r in enumerate(self.topo.routers, start=1):
            node = r.name
            lines = [f"link add {MESH_IF} address 02:ba:00:00:00:{k:02x} type batadv"]
            lines += [f"link set {dev} master {MESH_IF}" for _, dev in self.topo.neighbours(node)]
            lines.append(f"link set {MESH_IF} up")
            br = self.bridge(node)
            if node in self.topo.aps and node != self.gateway_node:
                lines += [f"addr flush dev {br}", f"link set {br} address 02:00:00:aa:00:{k:02x}"]
            elif node == self.gateway_node and br == L2_BRIDGE:
                lines += [f"link add {br} address {a.gateway_mac} type bridge",
                          f"addr add {a.gateway}/{plen} dev {br}", f"link set {br} up"]
            if br:
                lines.append(f"link set {MESH_IF} master {br}")
            run_cmd(["ip", "-n", self.tb.ns(node), "-batch", "-"], stdin="\n".join(lines) + "\n")
            batctl(self.tb, node, "orig_interval", str(st.orig_interval_ms))
            batctl(self.tb, node, "hop_penalty", str(st.hop_penalty))
            batctl(self.tb, node, "distributed_arp_table", "1" if st.distributed_arp_table else "0")
            batctl(self.tb, node, "multicast_forceflood", "0" if st.multicast else "1")
            batctl(self.tb, node, "bridge_loop_avoidance", "1" if st.bridge_loop_avoidance else "0")
            if node == self.gateway_node:
                batctl(self.tb, node, "gw_mode", "server", "100000/100000")
            elif node in self.topo.aps:
                batctl(self.tb, node, "gw_mode", "client")
        gw = self.gateway_node
        net = a.client_prefix
        self.tb.spawn(gw, "dnsmasq", dnsmasq_argv(self.tb.run_dir / gw, self.bridge(gw) or L2_BRIDGE,
                                                 str(net.network_address + 10), str(net.broadcast_address - 1),
                                                 str(net.netmask), str(a.gateway)))
        for c in self.topo.clients:  # the far end of each station port, for the L2 Update frame
            t = NamespaceThread(self.tb.ns(c.name), name=f"batman-{c.name}")
            self._threads[c.name] = t
            self._sockets[c.name] = t.run(_packet_socket, CLIENT_IFNAME)
        return self

    def wait_converged(self, timeout: float = 60.0) -> float:
        """Seconds until every router has every other as an originator and every AP has chosen the gateway."""
        t0 = time.monotonic()
        want = len(self.topo.routers) - 1
        while True:
            counts = {r.name: len(self.originators(r.name)) for r in self.topo.routers}
            if all(n >= want for n in counts.values()) and all(
                    self.gateway_selected(ap) for ap in self.topo.aps if ap != self.gateway_node):
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise ExternalToolError(f"batman-adv did not converge in {timeout} s: originators per router {counts}")
            time.sleep(0.2)

    def gateway_selected(self, node: str) -> bool:
        out = batctl(self.tb, node, "gateways", "-H", check=False).stdout
        return any(line.lstrip().startswith("*") for line in out.splitlines())

    def originators(self, node: str) -> list[str]:
        """Originators this router has a best next hop for (batctl marks the best line with ``*``)."""
        out = batctl(self.tb, node, "originators", "-H", check=False).stdout
        return sorted({m.group(0) for line in out.splitlines() if line.lstrip().startswith("*")
                       and (m := re.search(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", line))})

    def announce(self, client: str) -> None:
        """The new AP's Layer 2 Update frame for ``client``, entering its bridge on the station port."""
        self._sockets[client].send(l2_update_frame(str(self.topo.client(client).mac)))

    def tables(self) -> dict:
        """Per router: originators, local and global translation-table entries (batctl -H lines)."""
        out = {}
        for r in self.topo.routers:
            tl = [x for x in batctl(self.tb, r.name, "translocal", "-H", check=False).stdout.splitlines() if x.strip()]
            tg = [x for x in batctl(self.tb, r.name, "transglobal", "-H", check=False).stdout.splitlines() if x.strip()]
            out[r.name] = {"originators": len(self.originators(r.name)), "tt_local": len(tl), "tt_global": len(tg)}
        return out

    def client_in_tables(self, client: str) -> dict[str, str]:
        """Where each router's translation table puts the client's MAC (``local``, ``global`` or absent)."""
        mac = str(self.topo.client(client).mac).lower()
        where = {}
        for r in self.topo.routers:
            if mac in batctl(self.tb, r.name, "translocal", "-H", check=False).stdout.lower():
                where[r.name] = "local"
            elif mac in batctl(self.tb, r.name, "transglobal", "-H", check=False).stdout.lower():
                where[r.name] = "global"
        return where

    def evidence(self) -> dict:
        """What shows batman-adv ran and carried the traffic: module, settings read back, bat0 counters."""
        gw = self.gateway_node
        settings = {}
        for key in ("orig_interval", "hop_penalty", "distributed_arp_table", "multicast_forceflood",
                    "bridge_loop_avoidance", "gw_mode"):
            out = batctl(self.tb, gw, key, check=False).stdout.strip()
            settings[key] = out.splitlines()[0] if out else None
        stats = {}
        for line in batctl(self.tb, gw, "statistics", check=False).stdout.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                if v.strip().isdigit():
                    stats[k.strip()] = int(v.strip())
        return {"module_version": module_version(), "gateway": gw, "gateway_settings": settings,
                "gateway_bat0_statistics": {k: stats[k] for k in ("tx", "tx_bytes", "rx", "rx_bytes", "forward")
                                            if k in stats}}

    def close(self) -> None:
        for s in self._sockets.values():
            s.close()
        for t in self._threads.values():
            t.stop()


def _packet_socket(ifname: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    return s
