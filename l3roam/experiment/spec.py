"""The experiment YAML schema (``configs/experiments/*.yaml``) as frozen dataclasses.

Loaded by ``l3roam.config``; run by ``l3roam.experiment.command``.  Pure: no I/O.

A scenario is one roaming design on the experiment's testbed:

- ``l3roam``: lease master and node agents (``handoff`` on or off; ``hello``
  overrides the testbed's babel hello interval, so one experiment can sweep it);
- ``subnets``: no roaming: every AP its own /24 and DHCP server (dnsmasq); the
  client re-runs DHCP after each move and gets a new address;
- ``l2``: one broadcast domain across the mesh (a bridge per AP and VXLAN over
  the babel-routed loopbacks), one gateway and DHCP server on the traffic
  server's router: a stand-in for batman-adv;
- ``batman``: batman-adv itself (``l3roam.experiment.batman``); ``orig_interval``
  (ms) sets its OGM interval.  Where the host kernel lacks batman-adv, the
  whole experiment runs in a user-mode Linux VM (``l3roam.vm``).

``client`` is what the client does after each move, for every design:
``talks`` (UDP both ways and a TCP stream: it sends at once), ``silent``
(it sends nothing: downstream UDP only, its IPv6 off so that the kernel's
router solicitations do not speak for it) or ``later`` (silent, then one
UDP datagram to the server ``talk_delay`` seconds after the move).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from l3roam.apps.spec import AppsSpec
from l3roam.errors import ConfigProblem

Kind = Literal["l3roam", "subnets", "l2", "batman"]
ClientBehaviour = Literal["talks", "silent", "later"]
RoamModel = Literal["carrier-kept", "carrier-lost"]


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    kind: Kind = "l3roam"
    handoff: bool = True
    hello: float | None = None  # babel hello interval (s); None: the testbed's
    server: str | None = None  # router of the traffic server for this scenario (None: the testbed's)
    server_hops: int | None = None  # or: a router this many hops from the nearest AP (gateways first)
    orig_interval: int | None = None  # batman-adv OGM interval (ms); None: batman-adv's default, 1000
    dat: bool = True  # batman-adv's distributed ARP table (batman scenarios)
    client: ClientBehaviour = "talks"
    talk_delay: float = 1.0  # seconds after the move when a ``later`` client sends
    roam_model: RoamModel | None = None  # None: the experiment's (roams.model)
    testbed: Path | None = None  # None: the experiment's; relative paths: from the experiment file

    def check(self) -> list[ConfigProblem]:
        p = []
        if self.server is not None and self.server_hops is not None:
            p.append(ConfigProblem("server_hops", "give server or server_hops, not both"))
        if self.server_hops is not None and self.server_hops < 0:
            p.append(ConfigProblem("server_hops", "must not be negative (0: on an AP)"))
        if self.orig_interval is not None and (self.kind != "batman" or not 50 <= self.orig_interval <= 60000):
            p.append(ConfigProblem("orig_interval", "batman scenarios only, between 50 and 60000 ms"))
        if self.kind == "subnets" and self.client != "talks":
            p.append(ConfigProblem("client", "a subnets client runs DHCP after each move, so it always talks"))
        if not 0.05 <= self.talk_delay <= 30:
            p.append(ConfigProblem("talk_delay", "between 0.05 and 30 seconds"))
        if not self.name or not all(c.isalnum() or c in "-_." for c in self.name):
            p.append(ConfigProblem("name", "letters, digits, '-', '_' and '.' only"))
        if self.hello is not None and not 0.05 <= self.hello <= 60:
            p.append(ConfigProblem("hello", "must be between 0.05 and 60 seconds"))
        return p


@dataclass(frozen=True)
class TrafficSpec:
    rate: float = 100.0  # UDP probes per second, each direction
    upstream: bool = True  # client -> server UDP as well as server -> client
    tcp: bool = True  # a TCP echo stream from the client to the server


@dataclass(frozen=True)
class RoamSpec:
    count: int = 6
    interval: float = 3.0
    schedule: Literal["every", "random"] = "random"
    repetitions: int = 2
    seed: int = 1  # repetition k uses seed + k
    model: RoamModel = "carrier-kept"  # how the testbed moves the client (docs/testbed.md), every design alike
    gap: float = 0.0  # carrier-lost only: seconds without any AP per move

    def check(self) -> list[ConfigProblem]:
        p = []
        if self.gap < 0 or (self.gap > 0 and self.model != "carrier-lost"):
            p.append(ConfigProblem("gap", "a time without AP needs model: carrier-lost (and is not negative)"))
        if self.count < 1:
            p.append(ConfigProblem("count", "at least one roam"))
        if self.interval < 1:
            p.append(ConfigProblem("interval", "at least 1 s between roams"))
        if self.repetitions < 1:
            p.append(ConfigProblem("repetitions", "at least one repetition"))
        return p


@dataclass(frozen=True)
class CostSpec:
    """Control traffic, table size and CPU against lightweight clients and roam rate."""

    enabled: bool = True
    clients: tuple[int, ...] = (0, 10, 100, 1000)
    roam_rates: tuple[float, ...] = (0.0, 5.0, 20.0)  # lightweight roams per second (at the most clients)
    window: float = 8.0  # seconds each point is measured
    hello: float | None = None
    designs: tuple[Literal["l3roam", "batman"], ...] = ("l3roam",)  # batman: station MACs behind the APs

    def check(self) -> list[ConfigProblem]:
        p = []
        if not self.designs:
            p.append(ConfigProblem("designs", "at least one of l3roam, batman"))
        if any(c < 0 or c > 20000 for c in self.clients):
            p.append(ConfigProblem("clients", "between 0 and 20000"))
        if self.window < 1:
            p.append(ConfigProblem("window", "at least 1 s"))
        return p


@dataclass(frozen=True)
class ScaleSpec:
    """How large a mesh this machine carries: build, converge, measure memory."""

    enabled: bool = False
    graph: Path | None = None  # a graph JSON file (configs/topologies/); None: grids only
    sizes: tuple[int, ...] = (25, 50, 100)
    lines: tuple[int, ...] = ()  # routers in a line
    grids: tuple[int, ...] = ()  # n for an n x n grid
    hello: float | None = None  # None: chosen by size (l3roam.testbed.sizing)
    converge_timeout: float | None = None  # None: the testbed's, by size


@dataclass(frozen=True)
class ClientMeshSpec:
    """One mesh of the client-scale runs: a testbed file (relative: from the experiment file)."""

    name: str
    testbed: Path

    def check(self) -> list[ConfigProblem]:
        if not self.name or not all(c.isalnum() or c in "-_." for c in self.name):
            return [ConfigProblem("name", "letters, digits, '-', '_' and '.' only")]
        return []


@dataclass(frozen=True)
class ClientScaleSpec:
    """Many lightweight clients spread over the APs and roaming: does every router get every route?

    Per mesh: clients added up to each count (spread over the APs, leases
    through the master, checked /32s), then roams at each rate at the largest
    count.  ``window`` seconds measured per point; ``settle_timeout``: how
    long to wait for every router to have every route.
    """

    enabled: bool = False
    meshes: tuple[ClientMeshSpec, ...] = ()
    clients: tuple[int, ...] = (0, 1000, 2000, 5000, 10000)
    roam_rates: tuple[float, ...] = (5.0, 20.0)
    window: float = 8.0
    settle_timeout: float = 60.0
    capture: bool = True  # tcpdump one link per point and count bytes by TLV type
    # how an AP installs a step's routes: "burst" (one ip -batch, as fast as the kernel takes
    # them) or "netlink" (one checked request after the other)
    fill: Literal["burst", "netlink"] = "burst"
    # bytes of receive buffer for babeld's UDP socket: babeld sets none, so it gets
    # net.core.rmem_default when it starts; that sysctl is not per namespace, so the testbed
    # raises it for the moment its babelds start and restores it (docs/babel.md); None: leave it
    babel_rcvbuf: int | None = None
    seed: int = 1

    def check(self) -> list[ConfigProblem]:
        p = []
        if any(c < 0 or c > 60000 for c in self.clients):
            p.append(ConfigProblem("clients", "between 0 and 60000"))
        if any(r < 0 or r > 500 for r in self.roam_rates):
            p.append(ConfigProblem("roam_rates", "between 0 and 500 roams per second"))
        if self.window < 1:
            p.append(ConfigProblem("window", "at least 1 s"))
        if self.babel_rcvbuf is not None and not 212992 <= self.babel_rcvbuf <= 64 << 20:
            p.append(ConfigProblem("babel_rcvbuf", "between 212992 and 67108864 bytes"))
        if self.settle_timeout < 5:
            p.append(ConfigProblem("settle_timeout", "at least 5 s"))
        names = [m.name for m in self.meshes]
        if len(set(names)) != len(names):
            p.append(ConfigProblem("meshes", "mesh names must be unique"))
        if self.enabled and not self.meshes:
            p.append(ConfigProblem("meshes", "at least one mesh when enabled"))
        return p


@dataclass(frozen=True)
class ExperimentSpec:
    """Top level of a configs/experiments/*.yaml file."""

    testbed: Path  # a configs/testbed/*.yaml file (relative paths: from the experiment file)
    scenarios: tuple[ScenarioSpec, ...] = ()
    title: str = "l3roam experiment"
    prefix: str = "l3x-"
    traffic: TrafficSpec = TrafficSpec()
    roams: RoamSpec = RoamSpec()
    costs: CostSpec = CostSpec(enabled=False)
    scale: ScaleSpec = ScaleSpec()
    client_scale: ClientScaleSpec = ClientScaleSpec()
    apps: AppsSpec | None = None  # real applications instead of the probes (l3roam.apps.spec)

    def check(self) -> list[ConfigProblem]:
        p = []
        names = [s.name for s in self.scenarios]
        if not names and not (self.costs.enabled or self.scale.enabled or self.client_scale.enabled):
            p.append(ConfigProblem("scenarios", "at least one scenario (or costs, scale or client_scale)"))
        if len(set(names)) != len(names):
            p.append(ConfigProblem("scenarios", "scenario names must be unique"))
        if not (3 <= len(self.prefix) <= 10 and self.prefix.replace("-", "").isalnum()):
            p.append(ConfigProblem("prefix", "3-10 characters of letters, digits and '-'"))
        if self.apps is not None:
            for i, pace in enumerate(self.apps.paces):
                for j, name in enumerate(pace.scenarios):
                    if name not in names:
                        p.append(ConfigProblem(f"apps.paces[{i}].scenarios[{j}]", f"no scenario {name!r}"))
        return p
