"""Costs against clients and roam rate for batman-adv: many station MACs behind the APs.

The layer-2 counterpart of ``l3roam.experiment.clientcost``.  A lightweight
client here is a MAC address that sends one frame into an AP's client bridge
as a station would: every AP gets a veth pair whose one end is a port of its
``cell0`` and whose other end (in the same namespace) is written to with a
packet socket, so the frame *enters the bridge on a port*.  The bridge
forwards it into ``bat0`` (a unicast to the gateway's MAC, so it is not
flooded), and batman-adv adds the MAC to that AP's local translation table
and announces it to every node (translation-table changes ride on the OGMs;
full tables are fetched with TT requests).  Clients are spread round-robin
over the APs; at the largest count, a roam is the same MAC sending from the
next AP.  Per point: batman-adv control traffic per link (OGMs, TT and
roaming messages: ``l3roam.experiment.costs``), translation-table sizes,
machine CPU (batman-adv runs in the kernel, so no process can be charged).

Side effects: a testbed without babeld, batman-adv, packet sockets.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from l3roam.experiment import batman
from l3roam.experiment import costs as cost
from l3roam.experiment.spec import CostSpec
from l3roam.kernel.nsthread import NamespaceThread
from l3roam.testbed.builder import Testbed, run_cmd
from l3roam.testbed.topology import CELL_BRIDGE, Topology

CROWD_PORT = "crowd0"  # the bridge port
CROWD_SEND = "crowd1"  # its peer, written to
ETH_P_EXPERIMENTAL = 0x88B5  # IEEE local experimental ethertype: nobody answers it


def client_mac(i: int) -> bytes:
    return bytes([0x02, 0xC1]) + i.to_bytes(4, "big")


def station_frame(dst_mac: bytes, src_mac: bytes) -> bytes:
    frame = dst_mac + src_mac + ETH_P_EXPERIMENTAL.to_bytes(2, "big")
    return frame + b"\0" * (60 - len(frame))


def run_batman_costs(c: CostSpec, topo: Topology, say: Callable[[str], None]) -> list[dict]:
    """Points of the batman-adv cost curve (``design: batman``), as ``run_costs`` writes for l3roam."""
    say(f"costs (batman-adv): station MACs {list(c.clients)}, roam rates {list(c.roam_rates)}/s")
    tb = Testbed(topo)
    batman.drop_babeld(tb)
    points: list[dict] = []
    threads: dict[str, NamespaceThread] = {}
    socks: dict[str, socket.socket] = {}
    mesh = None
    try:
        tb.up()
        mesh = batman.BatmanMesh(tb).setup()
        mesh.wait_converged()
        cost.install_counters(tb)
        gw_mac = bytes.fromhex(str(topo.spec.addressing.gateway_mac).replace(":", ""))
        for ap in topo.aps:
            run_cmd(["ip", "-n", tb.ns(ap), "-batch", "-"], stdin=(
                f"link add {CROWD_PORT} type veth peer name {CROWD_SEND}\n"
                f"link set {CROWD_PORT} master {CELL_BRIDGE} up\n"
                f"link set {CROWD_SEND} up\n"))
            threads[ap] = NamespaceThread(tb.ns(ap), name=f"crowd-{ap}")
            socks[ap] = threads[ap].run(_packet_socket, CROWD_SEND)
        where: dict[int, str] = {}
        have = 0
        for n in sorted(c.clients):
            for i in range(have, n):
                ap = topo.aps[i % len(topo.aps)]
                where[i] = ap
                socks[ap].send(station_frame(gw_mac, client_mac(i)))
            have = max(have, n)
            settle = _wait_tt(tb, topo, mesh, len(where) + _baseline(points))
            points.append(_point(say, tb, topo, mesh, len(where), 0.0, c.window, settle))
        for rate in sorted(x for x in c.roam_rates if x > 0):
            if not where:
                break
            points.append(_point(say, tb, topo, mesh, len(where), rate, c.window, None,
                                 mover=(socks, where, gw_mac)))
    finally:
        for s in socks.values():
            s.close()
        for t in threads.values():
            t.stop()
        if mesh is not None:
            mesh.close()
        tb.down()
    return points


def _baseline(points: list[dict]) -> int:
    """Global entries the mesh has without lightweight clients (bridges, bat0s): from the first point."""
    return points[0]["tt_global_min"] if points else 0


def _packet_socket(ifname: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    return s


def _wait_tt(tb: Testbed, topo: Topology, mesh: batman.BatmanMesh, n: int, timeout: float = 60.0) -> float:
    """Seconds until the router farthest from the APs has ``n`` global translation-table entries."""
    far = max((r.name for r in topo.routers), key=lambda x: min(topo.hops(x)[a] for a in topo.aps))
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if _count(tb, far, "transglobal") >= n:
            return time.monotonic() - t0
        time.sleep(0.5)
    return float("nan")


def _count(tb: Testbed, node: str, table: str) -> int:
    out = batman.batctl(tb, node, table, "-H", check=False).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def _point(say, tb, topo, mesh, clients, rate, window, settle, mover=None) -> dict:
    time.sleep(1.0)
    a = cost.Snapshot.take(tb, time.monotonic(), [])
    step = None
    if mover is not None:
        socks, where, gw_mac = mover
        ids = list(where)

        def _step(k: int) -> None:  # the same MAC sends from the next AP
            i = ids[k % len(ids)]
            new = topo.aps[(topo.aps.index(where[i]) + 1) % len(topo.aps)]
            socks[new].send(station_frame(gw_mac, client_mac(i)))
            where[i] = new
        step = _step
    moved = cost.paced_moves(rate, window, step)
    b = cost.Snapshot.take(tb, time.monotonic(), [])
    tg = {r.name: _count(tb, r.name, "transglobal") for r in topo.routers}
    tl = {r.name: _count(tb, r.name, "translocal") for r in topo.routers}
    r = cost.rates(a, b, len(topo.links), len(topo.routers), 0)
    point = {"design": "batman", "clients": clients, "roam_rate": rate, "roams": moved, **r,
             "table_max": max(tg[x] + tl[x] for x in tg), "table_median": sorted(tg[x] + tl[x] for x in tg)[len(tg) // 2],
             "tt_global_max": max(tg.values()), "tt_global_min": min(tg.values()), "tt_local_max": max(tl.values()),
             "settle_s": None if settle is None else round(settle, 2)}
    say(f"  {clients} MACs, {rate:g} roams/s: batman-adv control {r['batman_ctl_bytes_per_s_per_link']:.0f} B/s "
        f"({r['batman_ctl_packets_per_s_per_link']:.1f} pkt/s) per link, TT entries up to {point['table_max']}, "
        f"machine CPU {r['system_cpu_percent'] or 0:.1f} %")
    return point
