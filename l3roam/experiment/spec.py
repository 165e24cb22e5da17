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
- ``batman``: batman-adv itself; skipped (and said so) where the kernel lacks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from l3roam.apps.spec import AppsSpec
from l3roam.errors import ConfigProblem

Kind = Literal["l3roam", "subnets", "l2", "batman"]


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    kind: Kind = "l3roam"
    handoff: bool = True
    hello: float | None = None  # babel hello interval (s); None: the testbed's
    server: str | None = None  # router of the traffic server for this scenario (None: the testbed's)
    server_hops: int | None = None  # or: a router this many hops from the nearest AP (gateways first)

    def check(self) -> list[ConfigProblem]:
        p = []
        if self.server is not None and self.server_hops is not None:
            p.append(ConfigProblem("server_hops", "give server or server_hops, not both"))
        if self.server_hops is not None and self.server_hops < 0:
            p.append(ConfigProblem("server_hops", "must not be negative (0: on an AP)"))
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

    def check(self) -> list[ConfigProblem]:
        p = []
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

    def check(self) -> list[ConfigProblem]:
        p = []
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
class ExperimentSpec:
    """Top level of a configs/experiments/*.yaml file."""

    testbed: Path  # a configs/testbed/*.yaml file (relative paths: from the experiment file)
    scenarios: tuple[ScenarioSpec, ...]
    title: str = "l3roam experiment"
    prefix: str = "l3x-"
    traffic: TrafficSpec = TrafficSpec()
    roams: RoamSpec = RoamSpec()
    costs: CostSpec = CostSpec(enabled=False)
    scale: ScaleSpec = ScaleSpec()
    apps: AppsSpec | None = None  # real applications instead of the probes (l3roam.apps.spec)

    def check(self) -> list[ConfigProblem]:
        p = []
        names = [s.name for s in self.scenarios]
        if not names:
            p.append(ConfigProblem("scenarios", "at least one scenario"))
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
