"""Render babeld.conf for one node (pure: no I/O, no subprocess, no sockets).

What a node redistributes into babel, in this order (babeld applies the first
``redistribute`` statement that matches):

1. its own host addresses (loopback /32, IPv6 /128 locator) as ``local``
   routes, and its own host routes (e.g. an SRv6 SID ``fc00:N::d4/128``
   installed as a kernel route) of any protocol;
2. client /32s: ``redistribute proto 44 ip <client prefix> ge 32 allow``;
3. ``redistribute local deny`` and a final ``redistribute deny``, so nothing
   else leaks in (connected subnets, a default route, the anycast gateway's
   /16).

Host routes only.  babeld's ``flush_xroute()`` (xroute.c, up to 1.14 and its
current source) takes the plen and source prefix of a withdrawn route from the
*first* entry of the redistributed-route table instead of the route being
withdrawn.  While every redistributed route has the same length (IPv4 /32s are
stored as 128-bit prefixes like IPv6 /128s) and none is source-specific,
withdrawals are right; as soon as one shorter prefix is redistributed, /32
withdrawals go out malformed and neighbours keep the stale route until it
expires (each roam then lost ~2.8 s; docs/babel.md).  ``check`` refuses such a
configuration.

The one exception is an *exit* (``default_route_proto``): a router with an
uplink that redistributes its kernel default route.  The bug only garbles the
withdrawals a node sends for routes *it* redistributes, so an exit is safe as
long as it redistributes no client /32s (``client_prefix`` null, i.e. it is
not an AP) and its own host routes are never withdrawn while it runs;
``check`` enforces the first, and docs/testbed.md shows by measurement that
the APs' /32 withdrawals stay intact with a default route in the mesh.

Timers.  A newly redistributed /32 is announced non-urgently, about one hello
interval later (capped at 4 s), while a withdrawal is urgent (~100 ms); the
hello interval therefore bounds how fast a roam converges.  Measured roam
outages, babel alone: hello 4 s ~1.1 s; 1 s ~0.45-0.7 s; 0.25 s ~0.14-0.2 s.
The defaults use 0.25 s on wired/tunnel mesh links: on veth or Ethernet the
cost is a few dozen 20-byte packets per second per link, which is nothing;
on a real radio with many neighbours (multicast at the basic rate, airtime)
1 s is the better trade-off, and ``hello_interval`` is per interface for that
reason.  ``update_interval`` (full dumps) stays at 4 s: babel uses triggered
updates and does not count to infinity, so dumps only repair losses.

Split horizon must be off on wired and tunnel mesh links: with it on, 15 of
60 roams ended in a two-router loop (the old AP fell back to the /32 learned
from its neighbour and split horizon hid it from that neighbour).  babeld
does not use split horizon on ``type wireless`` interfaces anyway.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal

from l3roam.errors import ConfigError, ConfigProblem

InterfaceType = Literal["wired", "wireless", "tunnel"]

#: babeld's "infinity" metric: a retracted route.
INFINITY = 0xFFFF

_ROUTER_ID_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$|^[0-9a-f]{2}(:[0-9a-f]{2}){7}$")
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,15}$")

FLUSH_XROUTE_BUG = (
    "babeld's flush_xroute() (xroute.c, present up to babeld 1.14) withdraws a route with the "
    "prefix length and source prefix of the first redistributed route instead of its own; "
    "once a node redistributes any prefix shorter than a host route, its /32 withdrawals go "
    "out malformed and neighbours keep stale client routes until they expire (~2.8 s per roam "
    "measured). Redistribute host routes only (IPv4 /32, IPv6 /128), none source-specific"
)


@dataclass(frozen=True)
class InterfaceSettings:
    """Per-interface babeld options for one mesh interface."""

    name: str
    type: InterfaceType = "wired"
    hello_interval: float = 0.25
    update_interval: float = 4.0
    split_horizon: bool = False
    rxcost: int | None = None  # None: babeld's default for the type (96 wired, 256 wireless)

    def check(self) -> list[ConfigProblem]:
        problems = []
        if not _IFNAME_RE.match(self.name):
            problems.append(ConfigProblem("name", f"not an interface name (1-15 characters): {self.name!r}"))
        if not 0.01 <= self.hello_interval <= 655.35:
            problems.append(ConfigProblem("hello_interval", "must be between 0.01 and 655.35 seconds"))
        if not 0.01 <= self.update_interval <= 655.35:
            problems.append(ConfigProblem("update_interval", "must be between 0.01 and 655.35 seconds"))
        if self.split_horizon and self.type in ("wired", "tunnel"):
            problems.append(ConfigProblem(
                "split_horizon",
                "split horizon on a wired or tunnel mesh link makes roams end in routing loops "
                "(15 of 60 measured); set it to false",
            ))
        if self.rxcost is not None and not 1 <= self.rxcost <= 0xFFFF:
            problems.append(ConfigProblem("rxcost", "must be between 1 and 65535"))
        return problems


@dataclass(frozen=True)
class BabelSettings:
    """Everything needed to render one node's babeld.conf.

    ``own_prefixes`` are the node's host addresses and host routes (loopback
    /32, IPv6 /128 locator or SID); ``client_prefix`` is the prefix whose /32s
    the node agent installs with ``client_proto``.
    """

    router_id: str
    interfaces: tuple[InterfaceSettings, ...] = ()
    own_prefixes: tuple[str, ...] = ()
    client_prefix: str | None = "10.99.0.0/16"
    client_proto: int = 44
    kernel_priority: int = 100
    #: seconds between babeld's full kernel-table checks (``kernel-check-interval``);
    #: the only repair for a route notification babeld's netlink socket dropped
    #: (ENOBUFS under bursts of route changes); babeld's own default is 300 s
    kernel_check_interval: int = 10
    local_path: str | None = None  # read-write control socket (local-path-readwrite)
    local_port: int | None = None  # read-write TCP control port on ::1 (local-port-readwrite)
    extra_redistribute: tuple[str, ...] = field(default=())  # further prefixes; checked like the rest
    default_route_proto: int | None = None  # an exit: redistribute the kernel default route of this protocol

    def check(self) -> list[ConfigProblem]:
        problems: list[ConfigProblem] = []
        if not _ROUTER_ID_RE.match(self.router_id.lower()):
            problems.append(ConfigProblem("router_id", "must be a MAC-48 or EUI-64 (aa:bb:cc:dd:ee:ff[:00:11])"))
        elif set(self.router_id.replace(":", "")) == {"0"}:
            problems.append(ConfigProblem("router_id", "must not be all zeros"))
        names = [i.name for i in self.interfaces]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(ConfigProblem("interfaces", f"interface {name} listed twice"))
        if not 1 <= self.client_proto <= 255 or self.client_proto in (0, 1, 2, 3, 4, 42):
            problems.append(ConfigProblem(
                "client_proto", "must be a free kernel route protocol number (not 0-4 or 42, babel's own)"))
        if not 0 <= self.kernel_priority <= 0xFFFFFFFF:
            problems.append(ConfigProblem("kernel_priority", "out of range"))
        if not 1 <= self.kernel_check_interval <= 3600:
            problems.append(ConfigProblem(
                "kernel_check_interval",
                "must be between 1 and 3600 seconds (it bounds how long a client route whose kernel "
                "notification babeld lost stays unannounced; see docs/babel.md)"))
        if self.local_port is not None and not 1 <= self.local_port <= 65535:
            problems.append(ConfigProblem("local_port", "must be a TCP port"))
        if self.local_path is not None and len(self.local_path.encode()) > 107:
            problems.append(ConfigProblem("local_path", "a unix socket path must be at most 107 bytes"))
        problems.extend(check_host_routes_only(self))
        if self.default_route_proto is not None:
            if not 1 <= self.default_route_proto <= 255 or self.default_route_proto in (0, 1, 2, 3, 4, 42):
                problems.append(ConfigProblem("default_route_proto", "must be a free kernel route protocol number"))
            if self.client_prefix is not None:
                problems.append(ConfigProblem(
                    "default_route_proto",
                    "an exit (default route) must not redistribute client /32s (client_prefix must be null): "
                    + FLUSH_XROUTE_BUG))
        return problems


def validate(settings: BabelSettings) -> list[ConfigProblem]:
    """Every problem of ``settings`` and its interfaces (the YAML loader checks nested ones itself)."""
    problems = list(settings.check())
    for idx, iface in enumerate(settings.interfaces):
        problems.extend(ConfigProblem(f"interfaces[{idx}].{p.key}", p.problem) for p in iface.check())
    return problems


def render_checked(settings: BabelSettings, source: str = "<babel settings>") -> str:
    """``render`` after ``validate``; raise ConfigError listing every problem."""
    problems = validate(settings)
    if problems:
        raise ConfigError(source, problems)
    return render(settings)


def _parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None


def check_host_routes_only(settings: BabelSettings) -> list[ConfigProblem]:
    """Refuse redistributing anything but host routes (the flush_xroute() bug, see module doc)."""
    problems: list[ConfigProblem] = []
    for key, values in (("own_prefixes", settings.own_prefixes),
                        ("extra_redistribute", settings.extra_redistribute)):
        for idx, text in enumerate(values):
            net = _parse_network(text)
            if net is None:
                problems.append(ConfigProblem(f"{key}[{idx}]", f"not an IP prefix: {text!r}"))
            elif net.prefixlen != net.max_prefixlen:
                problems.append(ConfigProblem(
                    f"{key}[{idx}]", f"{text} is not a host route: {FLUSH_XROUTE_BUG}"))
    if settings.client_prefix is not None:
        net = _parse_network(settings.client_prefix)
        if net is None:
            problems.append(ConfigProblem("client_prefix", f"not an IP prefix: {settings.client_prefix!r}"))
        elif net.version != 4:
            problems.append(ConfigProblem("client_prefix", "must be an IPv4 prefix (clients get /32s)"))
    return problems


def redistributed_problems(prefixes: list[tuple[str, str]]) -> list[str]:
    """What is wrong with what a running babeld redistributes: (prefix, source) pairs.

    Anything but plain host routes makes babeld's ``flush_xroute()`` send
    malformed withdrawals for the client /32s (see the module docstring).
    """
    out = []
    for prefix, source in prefixes:
        net = _parse_network(prefix)
        src = _parse_network(source) if source else None
        if net is not None and net.prefixlen != net.max_prefixlen:
            out.append(f"babeld redistributes {prefix}, not a host route: {FLUSH_XROUTE_BUG}")
        if src is not None and src.prefixlen != 0:
            out.append(f"babeld redistributes {prefix} from {source} (source-specific): {FLUSH_XROUTE_BUG}")
    return out


def _num(value: float) -> str:
    return f"{value:g}"


def render_interface(iface: InterfaceSettings) -> str:
    parts = [f"interface {iface.name}", f"type {iface.type}"]
    if iface.type != "wireless":
        parts.append(f"split-horizon {'true' if iface.split_horizon else 'false'}")
    parts += [f"hello-interval {_num(iface.hello_interval)}", f"update-interval {_num(iface.update_interval)}"]
    if iface.rxcost is not None:
        parts.append(f"rxcost {iface.rxcost}")
    return " ".join(parts)


def render(settings: BabelSettings) -> str:
    """Return the babeld.conf text for ``settings`` (call ``settings.check()`` first)."""
    lines = ["# babeld.conf rendered by l3roam; host routes only (see l3roam.babel.config)",
             f"router-id {settings.router_id.lower()}",
             f"kernel-priority {settings.kernel_priority}",
             f"kernel-check-interval {settings.kernel_check_interval}"]
    if settings.local_path:
        lines.append(f"local-path-readwrite {settings.local_path}")
    if settings.local_port:
        lines.append(f"local-port-readwrite {settings.local_port}")
    lines += [render_interface(i) for i in settings.interfaces]
    own = list(settings.own_prefixes) + list(settings.extra_redistribute)
    for prefix in own:
        lines.append(f"redistribute local ip {prefix} eq {_parse_network(prefix).prefixlen} allow")  # type: ignore[union-attr]
    for prefix in own:
        lines.append(f"redistribute ip {prefix} eq {_parse_network(prefix).prefixlen} allow")  # type: ignore[union-attr]
    if settings.client_prefix is not None:
        lines.append(f"redistribute proto {settings.client_proto} ip {settings.client_prefix} ge 32 allow")
    if settings.default_route_proto is not None:  # an exit: never withdraws a /32 (no client_prefix)
        lines.append(f"redistribute proto {settings.default_route_proto} ip 0.0.0.0/0 eq 0 allow")
    lines += ["redistribute local deny", "redistribute deny"]
    return "\n".join(lines) + "\n"


def router_id_for(ipv4: ipaddress.IPv4Address | str) -> str:
    """A stable EUI-64 router-id derived from a node's loopback IPv4 address.

    babeld prints ids as EUI-64, so an id given in this form is what ``dump``
    and ``monitor`` show for the node's routes.
    """
    raw = ipaddress.IPv4Address(ipv4).packed
    return "02:00:00:00:" + ":".join(f"{b:02x}" for b in raw)
