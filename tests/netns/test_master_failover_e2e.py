"""A lease master that survives its own death, on a real babel mesh.

A 3-router line (APs r1 and r3), an etcd member on every router's loopback,
masters on r2 (active) and r3 (standby), agents that know both.  While 10
simulated nodes in r2's namespace churn 1,000 leases, the active master is
killed with SIGKILL and a real DHCP client roams from r1 to r3 at that moment.
Asserted: every acknowledged lease is kept with its address, no address is
held twice, and the roaming client's /32 is on r3 (and gone from r1) within 2 s
of the kill.  The second test kills the etcd raft leader first.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from l3roam.bench.churn import churn, macs_for, verify
from l3roam.kernel.nsthread import enter_netns
from l3roam.master.client import MasterClient
from l3roam.testbed import topology
from l3roam.testbed.air import Air
from l3roam.testbed.builder import Testbed
from l3roam.testbed.clean import list_netns
from l3roam.testbed.deploy import MASTER_PORT, Deployment
from l3roam.testbed.dhcpclient import DhcpClient
from l3roam.testbed.topology import CLIENT_IFNAME

pytestmark = [pytest.mark.netns, pytest.mark.babeld, pytest.mark.dhcpclient, pytest.mark.etcd,
              pytest.mark.slow]

N = 1000
FOLLOW_S = 2.0

YAML = """
mesh: {shape: line, routers: 3}
aps: [r1, r3]
master: r2
server: r2
clients: [{name: c1, ap: r1}]
"""


def proto44(tb: Testbed, router: str, ip: str) -> bool:
    return any(r["dst"] == ip for r in tb.routes(router, "44"))


def timeline(dep: Deployment, ip: str) -> str:
    """The masters' role changes and the roaming client's events, in time order."""
    keep = ("event=master_", "event=claim", "event=client_moved", "event=notice", "event=route",
            "event=station", "event=departure")
    lines = []
    for node, name in (("r2", "master"), ("r3", "master"), ("r1", "node"), ("r3", "node")):
        for line in dep.log(node, name).splitlines():
            if any(k in line for k in keep) and ("event=master_" in line or "ip=" + ip in line
                                                 or "mac=" in line):
                lines.append(f"{line[:12]} {node}/{name} {line[12:]}")
    return "\n".join(sorted(lines)[-60:])


class ChurnInNamespace(threading.Thread):
    """The churn's simulated nodes live in a router's namespace (their sockets are made there)."""

    def __init__(self, ns: str, key: bytes, masters: list[tuple[str, int]], faults: dict):
        super().__init__(daemon=True)
        self.ns, self.key, self.masters, self.faults = ns, key, masters, faults
        self.result = None
        self.problems: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            enter_netns(self.ns)
            clients = [MasterClient(f"churn{i}", self.key, self.masters, deadline=10.0,
                                    retry_max=0.25) for i in range(10)]
            try:
                self.result = churn(clients, macs_for(N), self.faults, deadline_s=150)
            finally:
                for c in clients:
                    c.close()
            probe = MasterClient("checker", self.key, self.masters, deadline=5.0)
            try:
                self.problems = verify(probe, self.result)
            finally:
                probe.close()
        except BaseException as exc:  # reported by the test
            self.error = exc


def run_failover(tag: str, kill_etcd_leader: bool) -> None:
    prefix = f"l3rt-{tag}{os.getpid() % 10000:04d}-"
    tb = Testbed(topology.loads(YAML, prefix=prefix))
    dhcp = dep = None
    try:
        tb.up()
        tb.wait_converged(30)
        dep = Deployment(tb, handoff=True, store="etcd", masters=["r2", "r3"],
                         etcd_on=["r1", "r2", "r3"]).start(timeout=30)
        dhcp = DhcpClient("udhcpc", tb.ns("c1"), CLIENT_IFNAME, tb.run_dir / "c1", "fo").start()
        ip = dhcp.wait_bound(30)
        assert proto44(tb, "r1", ip)
        go = threading.Event()
        member: list[int] = []

        def kill_member():
            i = dep.cluster.leader_index()
            assert i is not None
            member.append(i)
            dep.cluster.kill(i)

        faults = {N // 2: go.set}
        if kill_etcd_leader:
            faults = {N // 4: kill_member, N // 2: go.set}
        masters = [(dep.address_of(r), MASTER_PORT) for r in dep.masters]
        worker = ChurnInNamespace(tb.ns("r2"), bytes.fromhex(dep.key), masters, faults)
        worker.start()
        assert go.wait(120), f"churn stalled: {worker.error}"
        dep.kill_master("r2")
        t_kill = time.monotonic()
        Air(tb).move("c1", "r3")
        print(f"kill at {time.strftime('%H:%M:%S', time.gmtime())}")
        followed = None
        while time.monotonic() - t_kill < 10:
            if proto44(tb, "r3", ip) and not proto44(tb, "r1", ip):
                followed = time.monotonic() - t_kill
                break
            time.sleep(0.02)
        worker.join(180)
        assert not worker.is_alive(), "churn did not finish"
        assert worker.error is None, repr(worker.error)
        assert worker.problems == [], worker.problems[:10]
        res = worker.result
        gap = res.first_ack_after(res.fault_at[N // 2])
        print(f"{tag}: route on r3 {followed if followed is None else round(followed * 1000)} ms "
              f"after the kill; first lease ack {round(gap * 1000) if gap else None} ms after; "
              f"churn {res.seconds:.1f} s")
        assert followed is not None and followed < FOLLOW_S, \
            f"route followed after {followed} s\n" + timeline(dep, ip)
        assert "event=master_active master=r3" in dep.log("r3", "master")
        # the mesh delivers to the client at its new AP
        assert tb.exec("r2", ["ping", "-c", "1", "-W", "2", ip], check=False).returncode == 0
        if kill_etcd_leader:
            assert len(member) == 1
            alive = [m.proc.poll() is None for m in dep.cluster.members]
            assert alive.count(False) == 1
    finally:
        if dhcp is not None:
            dhcp.stop()
        if dep is not None:
            dep.close_store()
        tb.down()
        assert list_netns(prefix) == []
        assert not (tb.run_dir / "etcd").exists()


def test_kill_active_master_during_churn_and_a_roam():
    run_failover("fo", kill_etcd_leader=False)


def test_kill_etcd_leader_then_active_master_during_churn_and_a_roam():
    run_failover("fe", kill_etcd_leader=True)
