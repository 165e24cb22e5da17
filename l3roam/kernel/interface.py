"""The narrow seam between the node agent and the kernel.

``Kernel`` lists every kernel operation the node agent needs: host routes
with our routing protocol number, the anycast gateway with proxy ARP, the
gratuitous ARP sent on arrival, the SRv6 hand-off of in-flight packets and
sysctls.  Each "do" sits next to its "undo"; every operation is idempotent
(``replace`` semantics, deletes tolerate "not found") so a restarted agent
reconciles instead of failing.

``NetlinkKernel`` (netlink.py) is the real implementation, ``FakeKernel``
(fake.py) an in-memory one for unit tests of other code.  This module is
pure: no pyroute2, no sockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv6Address
from typing import Protocol, runtime_checkable

#: Routing protocol number of the host routes the agent installs and babeld
#: redistributes (``redistribute proto 44``); 44 as sroamd uses.
DEFAULT_ROUTE_PROTO = 44

#: Protocol of the unannounced SRv6 redirect (babeld redistributes only ours).
RTPROT_STATIC = 4

#: Bytes an SRv6 encapsulation with one segment adds: IPv6 header (40) and a
#: segment routing header with one segment (8 + 16).  RFC 8754 §2.
SRV6_OVERHEAD = 64


@dataclass(frozen=True)
class LinkUp:
    """An interface came up (administratively up and carrier on)."""

    ifname: str
    mac: str
    alias: str | None = None  # IFLA_IFALIAS: the testbed puts the station's MAC here
    master: str | None = None  # the bridge the interface is a port of


@dataclass(frozen=True)
class LinkDown:
    """An interface lost carrier, went down or was removed."""

    ifname: str


@dataclass(frozen=True)
class NeighbourSeen:
    """The kernel learned a MAC on an interface it had not seen there before.

    ``ip`` is set for ARP-learned neighbours, ``None`` for bridge FDB entries
    (a frame from that MAC crossed a bridge port).
    """

    ifname: str
    mac: str
    ip: IPv4Address | None


LinkEvent = LinkUp | LinkDown | NeighbourSeen


@dataclass(frozen=True)
class LinkInfo:
    """What ``setup_gateway`` may change on an interface, read before it does."""

    mac: str
    up: bool
    ipv4: tuple[IPv4Interface, ...] = ()


@runtime_checkable
class Kernel(Protocol):
    """Every kernel operation the node agent performs."""

    # --- host routes (client /32s that babeld redistributes) ---------------
    def add_host_route(self, ip: IPv4Address, ifname: str, proto: int = DEFAULT_ROUTE_PROTO,
                       metric: int | None = None) -> None:
        """Install or replace ``ip/32 dev ifname proto <proto>``."""

    def del_host_route(self, ip: IPv4Address, proto: int = DEFAULT_ROUTE_PROTO,
                       metric: int | None = None) -> None:
        """Remove our-protocol routes to ``ip/32`` (all metrics unless given); absent is fine."""

    def list_host_routes(self, proto: int = DEFAULT_ROUTE_PROTO) -> dict[IPv4Address, str]:
        """Our-protocol unicast /32s in the main table: address -> interface."""

    def reconcile_host_routes(self, wanted: dict[IPv4Address, str],
                              proto: int = DEFAULT_ROUTE_PROTO) -> tuple[list[IPv4Address], list[IPv4Address]]:
        """Make our-protocol /32s equal ``wanted``; returns (removed, added)."""

    # --- anycast gateway -----------------------------------------------------
    def setup_gateway(self, ifname: str, gateway: IPv4Interface, gateway_mac: str) -> None:
        """Gateway MAC and ``gateway.ip/32`` on ``ifname``, proxy ARP, forwarding."""

    def teardown_gateway(self, ifname: str, gateway: IPv4Interface, before: LinkInfo | None = None) -> None:
        """Remove the gateway address and switch proxy ARP off again; with ``before``
        (``get_link`` before ``setup_gateway``) also restore the MAC, the IPv4
        addresses setup took off and the link state."""

    def get_link(self, ifname: str) -> LinkInfo:
        """MAC, administrative state and IPv4 addresses of ``ifname``."""

    def send_gratuitous_arp(self, ifname: str, ip: IPv4Address, mac: str,
                            dst_mac: str = "ff:ff:ff:ff:ff:ff") -> None:
        """Announce ``ip`` is at ``mac`` on ``ifname`` (ARP reply, RFC 5227 §3)."""

    # --- station binding (guard_rules.py, guard.py) ----------------------------
    def guard_setup(self, ifname: str, gateway: IPv4Address, trusted_ports: tuple[str, ...] = (),
                    **limits: int) -> None:
        """Filter the client side of ``ifname``: only bound (MAC, address) pairs source IPv4/ARP."""

    def guard_bind(self, ifname: str, ip: IPv4Address, mac: str) -> None:
        """Bind ``ip`` to ``mac``: a permanent neighbour entry and a filter element."""

    def guard_unbind(self, ifname: str, ip: IPv4Address, mac: str, keep_element: bool = False) -> None:
        """Undo ``guard_bind``; absent is fine.  ``keep_element``: the pair stays admitted."""

    def guard_admit(self, ifname: str, add: dict[IPv4Address, str], remove: dict[IPv4Address, str]) -> None:
        """Filter elements only, no neighbour entry: these pairs may (no longer) source IPv4/ARP."""

    def guard_port(self, ifname: str, mark: int | None, old: int | None = None) -> None:
        """DHCP entering by station port ``ifname`` gets packet mark ``mark`` (None: forget it);
        ``old``: the mark the port has now (None: none since ``guard_setup``)."""

    def guard_bindings(self) -> dict[IPv4Address, str]:
        """The pairs bound now: address -> MAC."""

    def guard_counters(self) -> dict[str, int]:
        """Packets dropped, by reason (``guard_rules.REASONS``)."""

    def guard_teardown(self) -> None:
        """Remove the filter."""

    # --- SRv6 hand-off ---------------------------------------------------------
    def install_sid(self, sid: IPv6Address, ifname: str, proto: int = DEFAULT_ROUTE_PROTO) -> None:
        """Decapsulating SID: ``sid/128 encap seg6local action End.DX4 nh4 0.0.0.0``."""

    def remove_sid(self, sid: IPv6Address) -> None:
        """Remove the SID route; absent is fine."""

    def redirect_host_route(self, ip: IPv4Address, sid: IPv6Address, mesh_ifname: str,
                            proto: int | None = DEFAULT_ROUTE_PROTO, metric: int | None = None) -> None:
        """Replace ``ip/32`` by an SRv6 encapsulating route towards ``sid``.

        ``proto`` None means proto static: not announced by babeld.
        """

    def remove_redirect(self, ip: IPv4Address, proto: int | None = None,
                        metric: int | None = None) -> None:
        """Remove an SRv6 redirect for ``ip`` with that protocol/metric; absent is fine."""

    # --- links and sysctls -----------------------------------------------------
    def set_mtu(self, ifname: str, mtu: int) -> None:
        """Set an interface's MTU."""

    def set_sysctl(self, key: str, value: str | int) -> None:
        """Write a sysctl (dotted key) and read it back; KernelError names the key."""

    def get_sysctl(self, key: str) -> str:
        """Read a sysctl (dotted key); KernelError names the key."""

    def open_monitor(self) -> "LinkMonitorLike":
        """Link and neighbour events of this kernel's namespace."""

    def close(self) -> None:
        """Release sockets and threads."""


@runtime_checkable
class LinkMonitorLike(Protocol):
    """What LinkMonitor (monitor.py) and FakeLinkMonitor (fake.py) offer."""

    def fileno(self) -> int:
        """A descriptor that becomes readable when events are waiting."""

    def read(self) -> list[LinkEvent]:
        """Every waiting event, without blocking."""

    def close(self) -> None:
        """Release the socket."""
