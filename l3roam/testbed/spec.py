"""The testbed YAML schema (``configs/testbed/*.yaml``) as frozen dataclasses.

Loaded by ``l3roam.config``; ``l3roam.testbed.topology`` turns a spec into
routers, links and addresses.  Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from l3roam.config import MacAddress
from l3roam.errors import ConfigProblem
from l3roam.testbed.sizing import CAP_REASON, MAX_ROUTERS

IFNAME_MAX = 15


@dataclass(frozen=True)
class MeshSpec:
    shape: Literal["line", "ring", "grid", "random", "graph"] = "line"
    routers: int = 5
    rows: int = 0
    cols: int = 0
    seed: int = 1
    extra_links: int = 0
    graph: Path | None = None
    max_routers: int = 20  # graph: keep this many (breadth-first); a larger value keeps the whole graph
    start: str | None = None  # graph node id to start the breadth-first cut from
    rate: str | None = None  # tbf rate on every mesh link, e.g. "10mbit"
    mtu: int = 1600  # room for SRv6 encapsulation (+64 bytes) of full-size client packets

    def check(self) -> list[ConfigProblem]:
        p = []
        cap = f"must be between 2 and {MAX_ROUTERS} ({CAP_REASON})"
        if self.shape in ("line", "ring", "random") and not 2 <= self.routers <= MAX_ROUTERS:
            p.append(ConfigProblem("routers", cap))
        if self.shape == "ring" and self.routers < 3:
            p.append(ConfigProblem("routers", "a ring needs at least 3 routers"))
        if self.shape == "grid" and (self.rows < 1 or self.cols < 1 or not 2 <= self.rows * self.cols <= MAX_ROUTERS):
            p.append(ConfigProblem("rows", f"a grid needs rows >= 1, cols >= 1 and 2..{MAX_ROUTERS} routers"))
        if self.shape == "graph" and self.graph is None:
            p.append(ConfigProblem("graph", "shape graph needs a graph file"))
        if not 2 <= self.max_routers <= MAX_ROUTERS:
            p.append(ConfigProblem("max_routers", cap))
        if not 1280 <= self.mtu <= 9000:
            p.append(ConfigProblem("mtu", "must be between 1280 and 9000"))
        if self.extra_links < 0:
            p.append(ConfigProblem("extra_links", "must not be negative"))
        return p


@dataclass(frozen=True)
class ClientSpec:
    name: str
    mac: MacAddress | None = None
    ap: str | None = None  # first access point (default: the first AP)

    def check(self) -> list[ConfigProblem]:
        if len("sta-" + self.name) > IFNAME_MAX or not self.name.isalnum():
            return [ConfigProblem("name", "must be alphanumeric and at most 11 characters")]
        return []


@dataclass(frozen=True)
class AddressingSpec:
    loopback_pool: ipaddress.IPv4Network = ipaddress.IPv4Network("10.255.0.0/16")
    locator_base: str = "fc00"  # locators are <base>:<i>::1/128, SIDs <base>:<i>::d4/128
    client_prefix: ipaddress.IPv4Network = ipaddress.IPv4Network("10.99.0.0/16")
    gateway: ipaddress.IPv4Address = ipaddress.IPv4Address("10.99.0.1")
    gateway_mac: MacAddress = MacAddress("02:00:5e:00:99:01")

    def check(self) -> list[ConfigProblem]:
        p = []
        if self.gateway not in self.client_prefix:
            p.append(ConfigProblem("gateway", f"must lie in client_prefix {self.client_prefix}"))
        try:
            ipaddress.IPv6Address(f"{self.locator_base}:1::1")
        except ValueError:
            p.append(ConfigProblem("locator_base", "must be one IPv6 hextet such as fc00"))
        return p


@dataclass(frozen=True)
class BabelSpec:
    hello_interval: float | None = None  # None: by mesh size (l3roam.testbed.sizing.auto_timers)
    update_interval: float | None = None  # None: by mesh size
    kernel_priority: int = 100
    kernel_check_interval: int = 10  # babeld's periodic kernel-table check (docs/babel.md)
    client_proto: int = 44

    def check(self) -> list[ConfigProblem]:
        p = []
        for key in ("hello_interval", "update_interval"):
            v = getattr(self, key)
            if v is not None and not 0.05 <= v <= 600:
                p.append(ConfigProblem(key, "must be between 0.05 and 600 seconds (or omitted: chosen by size)"))
        return p


@dataclass(frozen=True)
class RoamingSpec:
    schedule: Literal["every", "random", "path"] = "every"
    interval: float = 3.0  # seconds between moves
    count: int = 10
    path: tuple[str, ...] = ()
    seed: int = 1
    model: Literal["carrier-kept", "carrier-lost"] = "carrier-kept"  # l3roam.testbed.air
    gap: float = 0.0  # carrier-lost only: seconds a moving client is associated to no AP

    def check(self) -> list[ConfigProblem]:
        p = []
        if self.gap < 0 or (self.gap > 0 and self.model != "carrier-lost"):
            p.append(ConfigProblem("gap", "a time without AP needs model: carrier-lost (and is not negative)"))
        return p


@dataclass(frozen=True)
class InternetSpec:
    """An "internet" namespace behind one or more exit routers (NAT, default route into babel)."""

    exits: tuple[str, ...] = ()  # router names; empty: no internet
    server: ipaddress.IPv4Address = ipaddress.IPv4Address("198.51.100.10")  # application servers' address
    uplinks: ipaddress.IPv4Network = ipaddress.IPv4Network("192.0.2.0/24")  # a /30 per exit

    def check(self) -> list[ConfigProblem]:
        p = []
        if len(set(self.exits)) != len(self.exits):
            p.append(ConfigProblem("exits", "an exit is listed twice"))
        if self.uplinks.num_addresses < 4 * max(1, len(self.exits)):
            p.append(ConfigProblem("uplinks", f"too small for a /30 per exit ({len(self.exits)})"))
        if self.server in self.uplinks:
            p.append(ConfigProblem("server", f"must not lie in uplinks {self.uplinks}"))
        return p


@dataclass(frozen=True)
class TestbedSpec:
    """Top level of a configs/testbed/*.yaml file."""

    mesh: MeshSpec = MeshSpec()
    aps: tuple[str, ...] = ()  # router names; empty: ap_count routers picked far apart
    ap_count: int = 2
    master: str | None = None  # router hosting the lease master (default: with the server)
    server: str | None = None  # router hosting the traffic server (default: a gateway, never an AP; see topology)
    server_hops: int | None = None  # place the (default) server this many hops from the nearest AP
    clients: tuple[ClientSpec, ...] = (ClientSpec("c1"),)
    addressing: AddressingSpec = AddressingSpec()
    babel: BabelSpec = BabelSpec()
    roaming: RoamingSpec = RoamingSpec()
    internet: InternetSpec = InternetSpec()
    prefix: str = "l3r-"
    converge_timeout: float | None = None  # seconds `up` waits for babel; None: by size and timers
    host_limits: bool = True  # raise the kernel's global limits the mesh needs (neighbour tables, socket buffers), restore after

    def check(self) -> list[ConfigProblem]:
        p = []
        if not (1 <= len(self.prefix) <= 16 and self.prefix.replace("-", "").isalnum()):
            p.append(ConfigProblem("prefix", "must be 1-16 characters of letters, digits and '-'"))
        if self.server_hops is not None and self.server_hops < 0:
            p.append(ConfigProblem("server_hops", "must not be negative (0 puts the server on an AP)"))
        if self.converge_timeout is not None and not 1 <= self.converge_timeout <= 3600:
            p.append(ConfigProblem("converge_timeout", "must be between 1 and 3600 seconds (or omitted)"))
        names = [c.name for c in self.clients]
        if len(set(names)) != len(names):
            p.append(ConfigProblem("clients", "client names must be unique"))
        for idx, name in enumerate(names):
            # client namespaces share the prefix with routers (r<i>) and the air namespace
            if name in ("air", "inet") or re.fullmatch(r"r\d+", name):
                p.append(ConfigProblem(f"clients[{idx}].name",
                                       f"{name!r} is reserved for a router, the air or the internet"))
        return p
