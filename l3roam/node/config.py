"""The node agent's configuration (configs/node.yaml), as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address
from pathlib import Path
from typing import Literal

from l3roam.config import Endpoint, MacAddress, load_file
from l3roam.errors import ConfigProblem
from l3roam.master.config import check_key, read_key
from l3roam.node.babel_section import BabelSection, problems_for
from l3roam.proto.control import MASTER_ID


@dataclass(frozen=True)
class DhcpConfig:
    lease_seconds: int = 3600  # asked of the master (it may give less)
    dns_servers: list[IPv4Address] = field(default_factory=list)  # empty: the anycast gateway
    domain: str = "mesh"
    mtu: int | None = None  # DHCP option 26, e.g. 1436 when the hand-off tunnel adds 64 bytes
    max_pending: int = 4096  # requests waiting on the master; beyond it DISCOVERs are shed
    offer_hold_seconds: float = 30.0

    def check(self) -> list[ConfigProblem]:
        out = []
        if self.lease_seconds < 60:
            out.append(ConfigProblem("lease_seconds", "must be at least 60"))
        if self.mtu is not None and not 576 <= self.mtu <= 9000:
            out.append(ConfigProblem("mtu", "must be between 576 and 9000"))
        if self.max_pending < 1:
            out.append(ConfigProblem("max_pending", "must be positive"))
        return out


@dataclass(frozen=True)
class DnsConfig:
    enabled: bool = True
    port: int = 53
    upstream: list[Endpoint] = field(default_factory=list)
    timeout_seconds: float = 2.0


@dataclass(frozen=True)
class HandoffConfig:
    enabled: bool = True
    sid: IPv6Address | None = None  # this node's decapsulating SID, a /128 babel announces
    withdraw_delay_seconds: float = 1.0
    window_seconds: float = 3.0

    def check(self) -> list[ConfigProblem]:
        out = []
        if self.enabled and self.sid is None:
            out.append(ConfigProblem("sid", "hand-off is enabled: give this node's SRv6 SID "
                                            "(an IPv6 /128 that babel redistributes)"))
        if not 0 <= self.withdraw_delay_seconds <= self.window_seconds:
            out.append(ConfigProblem("withdraw_delay_seconds", "must be between 0 and window_seconds"))
        return out


@dataclass(frozen=True)
class PresenceConfig:
    link_events: bool = True  # station ports appearing/disappearing (testbed, wired APs)
    bridge_fdb: bool = True  # first frame from a MAC learned on the client bridge
    hostapd: list[Path] = field(default_factory=list)  # hostapd control sockets (Wi-Fi APs)
    departure_timeout_seconds: float = 5.0


@dataclass(frozen=True)
class NodeConfig:
    node_id: str
    master: Endpoint
    client_interface: str
    gateway: IPv4Interface  # anycast gateway address with the client prefix length
    key: str | None = None
    key_file: Path | None = None
    gateway_mac: MacAddress = MacAddress("02:1e:00:00:00:01")
    mesh_interfaces: list[str] = field(default_factory=list)
    route_protocol: int = 44
    control_port: int = 4501
    control_address: IPv4Address | None = None  # source of control messages (the node's loopback)
    dhcp: DhcpConfig = field(default_factory=DhcpConfig)
    dns: DnsConfig = field(default_factory=DnsConfig)
    handoff: HandoffConfig = field(default_factory=HandoffConfig)
    presence: PresenceConfig = field(default_factory=PresenceConfig)
    babel_socket: Path | None = None  # babeld's local-path-readwrite: checked at start (host routes only)
    hello_seconds: float = 30.0
    master_deadline_seconds: float = 2.0
    other_masters: list[Endpoint] = field(default_factory=list)  # standbys on a replicated store
    metrics_listen: Endpoint | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_file: Path | None = None
    babel: BabelSection | None = None  # babeld.conf for this node (l3roam babel-config)

    @property
    def masters(self) -> list[tuple[str, int]]:
        """Every master's control address, ``master`` first."""
        return [(e.host, e.port) for e in [self.master, *self.other_masters]]

    def check(self) -> list[ConfigProblem]:
        out = check_key(self.key, self.key_file)
        if self.master in self.other_masters:
            out.append(ConfigProblem("other_masters", f"{self.master} is already `master`"))
        if len(set(self.other_masters)) != len(self.other_masters):
            out.append(ConfigProblem("other_masters", "lists an address twice"))
        if self.babel is not None:  # absent: babeld is configured some other way
            out += problems_for(self, nested_checked=True)
        if not 1 <= len(self.node_id.encode()) <= 64 or self.node_id == MASTER_ID:
            out.append(ConfigProblem("node_id", "must be 1..64 bytes and not 'master'"))
        if len(self.client_interface) > 15:
            out.append(ConfigProblem("client_interface", "interface names have at most 15 characters"))
        if not 1 <= self.route_protocol <= 255 or self.route_protocol in (2, 3, 4, 42):
            out.append(ConfigProblem("route_protocol", "must be 1..255 and not kernel/boot/static/babel"))
        if self.gateway.network.prefixlen > 30:
            out.append(ConfigProblem("gateway", "needs the client prefix length, e.g. 10.99.0.1/16"))
        if int(self.gateway_mac.split(":")[0], 16) & 1:
            out.append(ConfigProblem("gateway_mac", "must be a unicast MAC"))
        if self.handoff.enabled and not self.mesh_interfaces:
            out.append(ConfigProblem("mesh_interfaces", "the hand-off needs at least one mesh interface"))
        return out

    def shared_key(self) -> bytes:
        return read_key(self.key, self.key_file)


def load(path: str | Path) -> NodeConfig:
    return load_file(NodeConfig, path)
