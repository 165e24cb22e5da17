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
from l3roam.proto.keys import MAX_KEY_ID, SHARED_ID, NodeKey


@dataclass(frozen=True)
class DhcpConfig:
    lease_seconds: int = 3600  # asked of the master (it may give less)
    dns_servers: list[IPv4Address] = field(default_factory=list)  # empty: the anycast gateway
    domain: str = "mesh"
    mtu: int | None = None  # DHCP option 26, e.g. 1436 when the hand-off tunnel adds 64 bytes
    max_pending: int = 4096  # requests waiting on the master; beyond it DISCOVERs are shed
    offer_hold_seconds: float = 10.0  # an offer never requested lapses after this
    max_offers: int = 1024  # outstanding offers at this node
    max_offers_per_port: int = 32  # outstanding offers per station port
    mac_rate: float = 1.0  # DISCOVERs per second per client MAC (chaddr) ...
    mac_burst: int = 5  # ... after a burst of this many
    relays: list[IPv4Address] = field(default_factory=list)  # relay agents accepted (giaddr / port 67)
    relay_interfaces: list[str] = field(default_factory=list)  # or any relay on these interfaces

    def check(self) -> list[ConfigProblem]:
        out = []
        if not 1 <= self.offer_hold_seconds <= 300:
            out.append(ConfigProblem("offer_hold_seconds", "must be between 1 and 300"))
        if self.max_offers < 1:
            out.append(ConfigProblem("max_offers", "must be positive"))
        if not 1 <= self.max_offers_per_port <= self.max_offers:
            out.append(ConfigProblem("max_offers_per_port", "must be between 1 and max_offers"))
        if not self.mac_rate > 0:
            out.append(ConfigProblem("mac_rate", "must be above 0"))
        if self.mac_burst < 1:
            out.append(ConfigProblem("mac_burst", "must be at least 1 (a DISCOVER)"))
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
    withdraw_delay_seconds: float = 25.0  # at the latest; normally as soon as babel rerouted (docs/node.md)
    window_seconds: float = 27.0
    demoted_proto: int = 45  # kernel protocol of a moved client's announced redirect (babeld: high metric)
    make_before_break: bool = True  # withdraw once babeld holds another router's route (needs babel_socket)
    settle_seconds: float = 0.4  # not before: the demoted announcement has reached the neighbours
    # a station arriving with a master-given lease known here is served at once; its claim,
    # sent first, confirms or undoes that (needs master_down.serve_known_leases)
    serve_known_at_once: bool = True

    def check(self) -> list[ConfigProblem]:
        out = []
        if not 1 <= self.demoted_proto <= 255 or self.demoted_proto in (0, 1, 2, 3, 4, 42):
            out.append(ConfigProblem("demoted_proto", "must be a free kernel route protocol number"))
        if self.enabled and self.sid is None:
            out.append(ConfigProblem("sid", "hand-off is enabled: give this node's SRv6 SID "
                                            "(an IPv6 /128 that babel redistributes)"))
        if not 0 <= self.settle_seconds <= self.withdraw_delay_seconds:
            out.append(ConfigProblem("settle_seconds", "must be between 0 and withdraw_delay_seconds"))
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
class GuardConfig:
    """Station binding at the client side (docs/node-kernel.md): only leased (MAC, address) pairs
    may source IPv4 or ARP; DHCP is rate-limited per station port and per source MAC."""

    enabled: bool = True
    # every (MAC, address) pair the master leased that this node knows may source traffic here,
    # not only the served clients' (a roaming station's first frames pass; docs/node-kernel.md)
    admit_known_leases: bool = True
    trusted_ports: list[str] = field(default_factory=list)  # bridge ports not filtered (uplinks)
    dhcp_port_rate: int = 20  # DHCP packets/s per station port (on Wi-Fi: the radio)
    dhcp_port_burst: int = 40
    dhcp_mac_rate: int = 4  # DHCP packets/s per source MAC
    dhcp_mac_burst: int = 10

    def check(self) -> list[ConfigProblem]:
        out = []
        for key in ("dhcp_port_rate", "dhcp_port_burst", "dhcp_mac_rate", "dhcp_mac_burst"):
            if not 1 <= getattr(self, key) <= 100000:
                out.append(ConfigProblem(key, "must be between 1 and 100000"))
        for name in self.trusted_ports:
            if not 1 <= len(name) <= 15 or '"' in name:
                out.append(ConfigProblem("trusted_ports", f"{name!r} is not an interface name"))
        return out

    def limits(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("dhcp_port_rate", "dhcp_port_burst",
                                              "dhcp_mac_rate", "dhcp_mac_burst")}


@dataclass(frozen=True)
class MasterDownConfig:
    """Roaming while the master does not answer (docs/node.md)."""

    serve_known_leases: bool = True  # serve a client whose master-given lease is known here ...
    serve_after_seconds: float = 0.3  # ... once its claim has waited this long
    check_seconds: float | None = 0.5  # a station left: ask the master; silent this long: withdraw
    lease_sync_seconds: float = 60.0  # pull the master's lease table this often (0: never)

    def check(self) -> list[ConfigProblem]:
        out = []
        if not 0.05 <= self.serve_after_seconds <= 10:
            out.append(ConfigProblem("serve_after_seconds", "must be between 0.05 and 10"))
        if self.check_seconds is not None and not 0.05 <= self.check_seconds <= 10:
            out.append(ConfigProblem("check_seconds", "must be between 0.05 and 10, or null"))
        if self.lease_sync_seconds != 0 and not 5 <= self.lease_sync_seconds <= 86400:
            out.append(ConfigProblem("lease_sync_seconds", "must be 0 (off) or between 5 and 86400"))
        return out


@dataclass(frozen=True)
class NodeConfig:
    node_id: str
    master: Endpoint
    client_interface: str
    gateway: IPv4Interface  # anycast gateway address with the client prefix length
    key: str | None = None
    key_file: Path | None = None
    key_id: str | None = None  # this node's key id on the master (node_keys); None: the shared key
    gateway_mac: MacAddress = MacAddress("02:1e:00:00:00:01")
    mesh_interfaces: list[str] = field(default_factory=list)
    route_protocol: int = 44
    control_port: int = 4501
    control_address: IPv4Address | None = None  # source of control messages (the node's loopback)
    dhcp: DhcpConfig = field(default_factory=DhcpConfig)
    dns: DnsConfig = field(default_factory=DnsConfig)
    handoff: HandoffConfig = field(default_factory=HandoffConfig)
    presence: PresenceConfig = field(default_factory=PresenceConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    master_down: MasterDownConfig = field(default_factory=MasterDownConfig)
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
        if self.key_id is not None and (not 1 <= len(self.key_id.encode()) <= MAX_KEY_ID
                                        or self.key_id == SHARED_ID):
            out.append(ConfigProblem("key_id", f"must be 1..{MAX_KEY_ID} bytes and not {SHARED_ID!r}"))
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
        if self.handoff.demoted_proto == self.route_protocol:
            out.append(ConfigProblem("handoff.demoted_proto", "must differ from route_protocol"))
        if self.gateway.network.prefixlen > 30:
            out.append(ConfigProblem("gateway", "needs the client prefix length, e.g. 10.99.0.1/16"))
        if int(self.gateway_mac.split(":")[0], 16) & 1:
            out.append(ConfigProblem("gateway_mac", "must be a unicast MAC"))
        if self.handoff.enabled and not self.mesh_interfaces:
            out.append(ConfigProblem("mesh_interfaces", "the hand-off needs at least one mesh interface"))
        return out

    def node_key(self) -> NodeKey:
        """The key this node signs with: its own (``key_id``), or the shared key."""
        return NodeKey(self.key_id or SHARED_ID, read_key(self.key, self.key_file))


def load(path: str | Path) -> NodeConfig:
    return load_file(NodeConfig, path)
