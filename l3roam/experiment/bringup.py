"""One scenario's testbed with its design running and the client holding an address.

``ScenarioBed`` builds a fresh testbed for a scenario, starts the design
(``l3roam``: master and agents; ``l2``: bridges and VXLAN; ``subnets``: a
dnsmasq per AP), installs the control-traffic counters, starts the client's
DHCP client and waits until the client is reachable.  ``on_move`` is the
design's reaction to a re-association (the L2 baseline's Layer 2 Update
frame, a new DHCP exchange in ``subnets``); it records the client's address
after every move.  ``close`` tears everything down.  Used by the probe runner
(``l3roam.experiment.runner``) and the application runner
(``l3roam.experiment.apps_runner``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from l3roam.experiment import batman, behaviour
from l3roam.experiment import costs as cost
from l3roam.experiment import designs
from l3roam.experiment.spec import ScenarioSpec
from l3roam.testbed.builder import Testbed
from l3roam.testbed.topology import CLIENT_IFNAME, Topology


class ScenarioBed:
    def __init__(self, topo: Topology, sc: ScenarioSpec, say: Callable[[str], None]):
        self.topo = topo
        self.sc = sc
        self.say = say
        self.client = topo.clients[0]
        self.tb = Testbed(topo)
        if sc.kind == "subnets":
            designs.patch_babeld_for_subnets(self.tb)
        if sc.kind == "batman":
            batman.drop_babeld(self.tb)
        self.bat: batman.BatmanMesh | None = None
        self.talker: behaviour.QuietClient | None = None
        self.dep = None
        self.l2: designs.L2Domain | None = None
        self.dhcp = None
        self.conv = 0.0
        self.ip0 = ""
        self.addresses: list[str | None] = []
        self.redhcp_ms: list[float] = []

    @property
    def agent_pids(self) -> list[int]:
        return [p.pid for p in (self.dep.procs.values() if self.dep else [])]  # type: ignore[attr-defined]

    def _dhcp(self):
        from l3roam.testbed.dhcpclient import DhcpClient

        return DhcpClient("udhcpc", self.tb.ns(self.client.name), CLIENT_IFNAME, self.tb.run_dir / self.client.name,
                          "exp-phone").start()

    def open(self) -> "ScenarioBed":
        """Build and start everything; on failure the caller still calls ``close``."""
        from l3roam.testbed.deploy import Deployment

        topo, sc, tb = self.topo, self.sc, self.tb
        hello = topo.hello_interval
        tb.up()
        if sc.kind == "batman":
            self.bat = batman.BatmanMesh(tb, batman.BatmanSettings(
                orig_interval_ms=sc.orig_interval or batman.DEFAULT_ORIG_INTERVAL_MS,
                distributed_arp_table=sc.dat)).setup()
            self.conv = self.bat.wait_converged()
            self.say(f"  {len(topo.routers)} routers up, batman-adv (orig_interval "
                     f"{self.bat.settings.orig_interval_ms} ms) converged in {self.conv:.1f} s")
        else:
            self.conv = tb.wait_converged()  # the topology's timeout, by size
            self.say(f"  {len(topo.routers)} routers up in {tb.build_seconds:.1f} s, babel (hello {hello:g} s) "
                     f"converged in {self.conv:.1f} s; {topo.placement_text()}")
        if sc.kind == "l3roam":
            self.dep = Deployment(tb, handoff=sc.handoff).start()
        elif sc.kind == "l2":
            self.l2 = designs.L2Domain(tb).setup()
        elif sc.kind == "subnets":
            designs.setup_subnets(tb)
            for k in range(len(topo.aps)):
                designs.wait_routes(tb, topo.server, [designs.ap_subnet(k + 1)[0]])
        cost.install_counters(tb)
        self.dhcp = self._dhcp()
        self.ip0 = self.dhcp.wait_bound(30)
        reach = tb.wait_reachable(topo.server, self.ip0)
        self.say(f"  {self.client.name} got {self.ip0} at {self.client.first_ap}; reachable after {reach:.1f} s")
        if sc.client != "talks":
            self.talker = behaviour.QuietClient(tb, self.client.name, str(topo.router(topo.server).loopback),
                                                sc.talk_delay)
        return self

    def batman_records(self) -> dict | None:
        """What shows batman-adv ran and carried the traffic (``l3roam.experiment.batman``)."""
        if self.bat is None:
            return None
        return {**self.bat.evidence(), "tables": self.bat.tables(),
                "client_at_end": self.bat.client_in_tables(self.client.name), "client_mac": str(self.client.mac)}

    def on_move(self, rec) -> None:
        """The design's reaction to a re-association; records the client's address afterwards."""
        if self.l2 is not None:
            self.l2.announce(rec.dst, str(self.client.mac))
        if self.bat is not None:
            self.bat.announce(self.client.name)
        if self.talker is not None and self.sc.client == "later":
            self.talker.talk_later()
        if self.sc.kind == "subnets":
            t = time.monotonic()
            n0 = len(self.dhcp.lines())
            self.dhcp.stop()
            self.dhcp = self._dhcp()
            end = time.monotonic() + 10
            while time.monotonic() < end and not any(l.startswith("bound") for l in self.dhcp.lines()[n0:]):
                time.sleep(0.01)
            self.redhcp_ms.append(round((time.monotonic() - t) * 1000, 1))
        self.addresses.append(self.tb.client_address(self.client.name))
        self.say(f"    roam {len(self.addresses)}: {rec.src} -> {rec.dst} (address {self.addresses[-1]})")

    def close(self) -> None:
        if self.talker is not None:
            self.talker.close()
        if self.dhcp is not None:
            self.dhcp.stop()
        if self.l2 is not None:
            self.l2.close()
        if self.bat is not None:
            self.bat.close()
        self.tb.down()

    def __enter__(self) -> "ScenarioBed":
        try:
            return self.open()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()
