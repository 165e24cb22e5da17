"""Inputs and outputs of the DHCP server engine (``l3roam.core.dhcp_server``).

Settings, what the adapter tells the engine (``Received``, ``MasterAnswer``)
and the actions it gets back: requests in the imperative (``AskMaster``,
``SendReply``), events in the past tense (``ClientBound``, ``ClientReleased``,
``ClientDeclined``, ``Dropped``).  Pure data: no I/O imports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Literal, Union

from l3roam.errors import ConfigProblem
from l3roam.proto import dhcp
from l3roam.proto.dhcp import MessageType

BROADCAST_IP = IPv4Address("255.255.255.255")
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
ZERO = IPv4Address(0)
MasterOp = Literal["offer", "bind", "release", "decline", "inform"]


@dataclass(frozen=True)
class DhcpServerSettings:
    """What the server hands out besides the address (RFC 2132 options)."""

    server_id: IPv4Address  # the anycast gateway address, same on every AP
    subnet: IPv4Network  # the client prefix; gives the subnet mask
    router: IPv4Address | None = None  # default: server_id
    dns_servers: tuple[IPv4Address, ...] | None = None  # default: (server_id,)
    domain: str | None = None
    lease_time: int = 3600  # upper bound; the master's lease may be shorter
    t1_ratio: float = 0.5  # RFC 2131 §4.4.5 defaults
    t2_ratio: float = 0.875
    offer_hold: float = 60.0  # how long an OFFER is remembered
    mtu: int | None = None  # option 26, e.g. to leave room for SRv6 encapsulation
    max_pending: int = 1024
    master_timeout: float = 2.0
    # Latency-based shedding: while the oldest request to the master has
    # waited longer than this, new DISCOVERs are dropped (reason "overload").
    # A count alone (max_pending) lets seconds of work pile up in front of a
    # saturated master: measured with perfdhcp, 4096 pending at twice the
    # capacity gave 250-800 ms answers and a third of the throughput.  The
    # age adapts to the master's round trip, so a remote master is not
    # mistaken for an overloaded one unless it is that slow.
    shed_after: float = 0.1
    # Wait this long before a unicast reply to a client that has an address
    # (RENEWING, INFORM).  busybox udhcpc sends such a request from a
    # short-lived socket bound to its address and *connected* to the server
    # (bind, connect, write, close); a reply that arrives before the close
    # matches that socket and is lost, and the client only gets its ACK a
    # timeout later by rebinding.  Measured on veth: 1-9 of 12 renewals lost
    # with an immediate reply, 0 of 48 with 3 ms.
    unicast_reply_delay: float = 0.005
    # Starvation limits (docs/node.md "Abuse").  Outstanding offers are offers
    # made and not yet requested, plus offers being asked of the master; an
    # offer lapses after offer_hold.  Per port: a station port (the agent
    # learns it from the packet mark its filter sets); relayed requests have none.
    max_offers: int = 1024
    max_offers_per_port: int = 32
    mac_rate: float = 1.0  # DISCOVERs per second per client MAC (chaddr), token bucket
    mac_burst: int = 5
    # relayed DHCP (giaddr set, or from port 67) only from these relays or interfaces
    relays: frozenset = frozenset()
    relay_interfaces: frozenset = frozenset()

    def check(self) -> list[ConfigProblem]:
        problems = []
        if self.server_id not in self.subnet:
            problems.append(ConfigProblem("server_id", f"{self.server_id} is not in subnet {self.subnet}"))
        if self.lease_time < 10:
            problems.append(ConfigProblem("lease_time", "must be at least 10 seconds"))
        if not 0 < self.t1_ratio < self.t2_ratio < 1:
            problems.append(ConfigProblem("t1_ratio", "need 0 < t1_ratio < t2_ratio < 1"))
        if self.mtu is not None and not 68 <= self.mtu <= 65535:
            problems.append(ConfigProblem("mtu", "must be between 68 and 65535 (RFC 2132 §5.1)"))
        if self.max_pending < 1:
            problems.append(ConfigProblem("max_pending", "must be at least 1"))
        if not 0 <= self.unicast_reply_delay <= 1:
            problems.append(ConfigProblem("unicast_reply_delay", "must be between 0 and 1 second"))
        if self.master_timeout <= 0 or self.offer_hold <= 0:
            problems.append(ConfigProblem("master_timeout", "master_timeout and offer_hold must be positive"))
        return problems


@dataclass(frozen=True, slots=True)
class Received:
    """Where a message came from (read from the frame by the adapter)."""

    interface: str
    src_mac: str
    src_ip: IPv4Address = ZERO
    src_port: int = dhcp.CLIENT_PORT
    dst_ip: IPv4Address | None = None  # None: unknown; 255.255.255.255: broadcast
    ingress: str | None = None  # the interface the datagram arrived on (relays: which one)
    port: str | None = None  # the station port (bridge port) it entered by, when known


@dataclass(frozen=True, slots=True)
class MasterAnswer:
    status: Literal["ok", "refused", "unavailable"]
    ip: IPv4Address | None = None
    lease_seconds: int = 0
    reason: str = ""


# --- actions ---


@dataclass(frozen=True, slots=True)
class AskMaster:
    """Request: ask the lease master; answer with ``on_master_answer(token, ...)``."""

    token: int
    op: MasterOp
    mac: str
    requested_ip: IPv4Address | None
    hostname: str | None
    client_id: bytes | None
    interface: str


@dataclass(frozen=True, slots=True)
class SendReply:
    """Request: send ``payload`` (a DHCP message) as UDP from server_id:67."""

    interface: str
    payload: bytes
    dst_mac: str
    dst_ip: IPv4Address
    dst_port: int
    broadcast: bool
    message_type: MessageType = MessageType.DHCPACK
    delay: float = 0.0  # send no earlier than this many seconds from now (see unicast_reply_delay)


@dataclass(frozen=True, slots=True)
class ClientBound:
    mac: str
    ip: IPv4Address
    interface: str
    hostname: str | None
    lease_expires: float
    from_cache: bool = False  # acknowledged from the local cache, master unavailable
    relayed: bool = False  # came through a relay agent (giaddr): not on our client interface


@dataclass(frozen=True, slots=True)
class ClientReleased:
    mac: str
    ip: IPv4Address
    interface: str


@dataclass(frozen=True, slots=True)
class ClientDeclined:
    """The client found its address in use (RFC 2131 §4.3.3)."""

    mac: str
    ip: IPv4Address
    interface: str


@dataclass(frozen=True, slots=True)
class Dropped:
    reason: str
    mac: str | None = None


Action = Union[AskMaster, SendReply, ClientBound, ClientReleased, ClientDeclined, Dropped]


@dataclass
class Counters:
    received: Counter = field(default_factory=Counter)  # by message type name
    replies: Counter = field(default_factory=Counter)  # by message type name
    drops: Counter = field(default_factory=Counter)  # by reason
    asks: Counter = field(default_factory=Counter)  # master requests by op
