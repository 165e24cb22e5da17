"""An in-memory Kernel for unit tests of the node agent.

Mirrors the real kernel's rules that the agent depends on: a route is keyed
by (destination, metric) and ``replace`` overwrites it whatever its
protocol; deletes match protocol and tolerate absence; operations on an
unknown interface fail with ENODEV.  It records gratuitous ARPs and keeps a
log of calls for assertions.  Pure: no sockets, no pyroute2.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address

from l3roam.errors import KernelError
from l3roam.kernel.interface import DEFAULT_ROUTE_PROTO, RTPROT_STATIC, LinkEvent, LinkInfo
from l3roam.kernel.plan import plan_host_routes
from l3roam.kernel.sysctl import gateway_sysctls, sysctl_key


@dataclass
class FakeRoute:
    ifname: str
    proto: int
    sid: IPv6Address | None = None  # set for an SRv6 redirect


@dataclass
class FakeLink:
    mac: str = "02:00:00:00:00:00"
    mtu: int = 1500
    up: bool = True
    addresses: set[IPv4Interface] = field(default_factory=set)


class FakeLinkMonitor:
    """A LinkMonitor whose events a test pushes; ``fileno()`` is a real pipe so
    select / asyncio ``add_reader`` work on it."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self._events: list[LinkEvent] = []

    def push(self, *events: LinkEvent) -> None:
        self._events.extend(events)
        os.write(self._w, b"x")

    def fileno(self) -> int:
        return self._r

    def read(self) -> list[LinkEvent]:
        try:
            while os.read(self._r, 4096):
                pass
        except BlockingIOError:
            pass
        out, self._events = self._events, []
        return out

    def close(self) -> None:
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


class FakeKernel:
    """Kernel in memory; ``routes[(ip, metric)]`` and friends are public for assertions."""

    def __init__(self, interfaces: tuple[str, ...] | list[str] = ("ap0", "mesh0")):
        self.links: dict[str, FakeLink] = {name: FakeLink() for name in interfaces}
        self.routes: dict[tuple[IPv4Address, int], FakeRoute] = {}
        self.sids: dict[IPv6Address, str] = {}
        self.sysctls: dict[str, str] = {}
        self.arps: list[tuple[str, IPv4Address, str, str]] = []
        self.calls: list[tuple[str, tuple]] = []
        self.closed = False
        self.guard: str | None = None  # the guarded interface once guard_setup ran
        self.bound: dict[IPv4Address, str] = {}  # station binding: address -> MAC
        self.admitted: set[tuple[IPv4Address, str]] = set()  # filter elements without a neighbour
        self.port_marks: dict[str, int] = {}

    def _need(self, ifname: str) -> FakeLink:
        if ifname not in self.links:
            raise KernelError(f"look up interface {ifname}", errno.ENODEV, "no such interface")
        return self.links[ifname]

    def _log(self, name: str, *args: object) -> None:
        self.calls.append((name, args))

    # host routes
    def add_host_route(self, ip: IPv4Address, ifname: str, proto: int = DEFAULT_ROUTE_PROTO,
                       metric: int | None = None) -> None:
        self._log("add_host_route", ip, ifname, proto, metric)
        self._need(ifname)
        self.routes[(IPv4Address(ip), metric or 0)] = FakeRoute(ifname, proto)

    def del_host_route(self, ip: IPv4Address, proto: int = DEFAULT_ROUTE_PROTO,
                       metric: int | None = None) -> None:
        self._log("del_host_route", ip, proto, metric)
        for key in [k for k, r in self.routes.items()
                    if k[0] == IPv4Address(ip) and r.proto == proto and (metric is None or k[1] == metric)]:
            del self.routes[key]

    def list_host_routes(self, proto: int = DEFAULT_ROUTE_PROTO) -> dict[IPv4Address, str]:
        out: dict[IPv4Address, str] = {}
        for (ip, _metric), r in sorted(self.routes.items(), key=lambda kv: -kv[0][1]):
            if r.proto == proto:
                out[ip] = r.ifname  # lowest metric written last
        return out

    def reconcile_host_routes(self, wanted: dict[IPv4Address, str],
                              proto: int = DEFAULT_ROUTE_PROTO) -> tuple[list[IPv4Address], list[IPv4Address]]:
        to_remove, to_add = plan_host_routes(self.list_host_routes(proto), wanted)
        for ip in to_remove:
            self.del_host_route(ip, proto)
        for ip in to_add:
            self.add_host_route(ip, wanted[ip], proto)
        return to_remove, to_add

    # gateway
    def setup_gateway(self, ifname: str, gateway: IPv4Interface, gateway_mac: str) -> None:
        self._log("setup_gateway", ifname, gateway, gateway_mac)
        link = self._need(ifname)
        link.mac = gateway_mac.lower()
        link.addresses = {a for a in link.addresses if a.ip != gateway.ip}
        link.addresses.add(IPv4Interface(f"{gateway.ip}/32"))
        link.up = True
        for key, value in gateway_sysctls(ifname):
            self.sysctls[key] = str(value)

    def teardown_gateway(self, ifname: str, gateway: IPv4Interface, before: LinkInfo | None = None) -> None:
        self._log("teardown_gateway", ifname, gateway, before)
        link = self._need(ifname)
        link.addresses.discard(IPv4Interface(f"{gateway.ip}/32"))
        self.sysctls[f"net.ipv4.conf.{sysctl_key(ifname)}.proxy_arp"] = "0"
        self.sysctls[f"net.ipv4.conf.{sysctl_key(ifname)}.proxy_arp_pvlan"] = "0"
        if before is not None:
            link.mac, link.up = before.mac, before.up
            link.addresses |= set(before.ipv4)

    def get_link(self, ifname: str) -> LinkInfo:
        link = self._need(ifname)
        return LinkInfo(link.mac, link.up, tuple(sorted(link.addresses)))

    def send_gratuitous_arp(self, ifname: str, ip: IPv4Address, mac: str,
                            dst_mac: str = "ff:ff:ff:ff:ff:ff") -> None:
        self._log("send_gratuitous_arp", ifname, ip, mac, dst_mac)
        self._need(ifname)
        self.arps.append((ifname, IPv4Address(ip), mac.lower(), dst_mac.lower()))

    # station binding
    def guard_setup(self, ifname: str, gateway: IPv4Address, trusted_ports: tuple[str, ...] = (),
                    **limits: int) -> None:
        self._log("guard_setup", ifname, gateway, tuple(trusted_ports))
        self._need(ifname)
        self.guard = ifname

    def guard_bind(self, ifname: str, ip: IPv4Address, mac: str) -> None:
        self._log("guard_bind", ifname, ip, mac)
        self._need(ifname)
        if self.guard is None:
            raise KernelError("station binding", detail="guard_setup was not called")
        self.bound[IPv4Address(ip)] = mac.lower()

    def guard_unbind(self, ifname: str, ip: IPv4Address, mac: str, keep_element: bool = False) -> None:
        self._log("guard_unbind", ifname, ip, mac)
        if self.bound.get(IPv4Address(ip)) == mac.lower():
            del self.bound[IPv4Address(ip)]
            if keep_element:  # the kernel's set has one element per pair, admitted or bound
                self.admitted.add((IPv4Address(ip), mac.lower()))
            else:
                self.admitted.discard((IPv4Address(ip), mac.lower()))

    def guard_admit(self, ifname: str, add: dict[IPv4Address, str], remove: dict[IPv4Address, str]) -> None:
        self._log("guard_admit", ifname, dict(add), dict(remove))
        if self.guard is None:
            raise KernelError("station binding", detail="guard_setup was not called")
        for ip, mac in remove.items():
            self.admitted.discard((IPv4Address(ip), mac.lower()))
        for ip, mac in add.items():
            self.admitted.add((IPv4Address(ip), mac.lower()))

    def guard_allows(self, ip: IPv4Address, mac: str) -> bool:
        """Would the filter pass IPv4 from (mac, ip)?  (Tests.)"""
        pair = (IPv4Address(ip), mac.lower())
        return self.bound.get(pair[0]) == pair[1] or pair in self.admitted

    def guard_port(self, ifname: str, mark: int | None, old: int | None = None) -> None:
        self._log("guard_port", ifname, mark)
        if mark is None:
            self.port_marks.pop(ifname, None)
        else:
            self.port_marks[ifname] = mark

    def guard_bindings(self) -> dict[IPv4Address, str]:
        return {**{ip: mac for ip, mac in self.admitted}, **self.bound}  # every element, as the kernel's set

    def guard_counters(self) -> dict[str, int]:
        return {}

    def guard_teardown(self) -> None:
        self.guard = None

    # SRv6
    def install_sid(self, sid: IPv6Address, ifname: str, proto: int = DEFAULT_ROUTE_PROTO) -> None:
        self._log("install_sid", sid, ifname, proto)
        self._need(ifname)
        self.sids[IPv6Address(sid)] = ifname

    def remove_sid(self, sid: IPv6Address) -> None:
        self._log("remove_sid", sid)
        self.sids.pop(IPv6Address(sid), None)

    def redirect_host_route(self, ip: IPv4Address, sid: IPv6Address, mesh_ifname: str,
                            proto: int | None = DEFAULT_ROUTE_PROTO, metric: int | None = None) -> None:
        self._log("redirect_host_route", ip, sid, mesh_ifname, proto, metric)
        self._need(mesh_ifname)
        self.routes[(IPv4Address(ip), metric or 0)] = FakeRoute(
            mesh_ifname, RTPROT_STATIC if proto is None else proto, IPv6Address(sid))

    def remove_redirect(self, ip: IPv4Address, proto: int | None = None, metric: int | None = None) -> None:
        self._log("remove_redirect", ip, proto, metric)
        want = RTPROT_STATIC if proto is None else proto
        for key in [k for k, r in self.routes.items()
                    if k[0] == IPv4Address(ip) and r.sid is not None and r.proto == want
                    and (metric is None or k[1] == metric)]:
            del self.routes[key]

    # links, sysctls
    def set_mtu(self, ifname: str, mtu: int) -> None:
        self._log("set_mtu", ifname, mtu)
        self._need(ifname).mtu = mtu

    def set_sysctl(self, key: str, value: str | int) -> None:
        self._log("set_sysctl", key, value)
        self.sysctls[key] = str(value)

    def get_sysctl(self, key: str) -> str:
        if key not in self.sysctls:
            raise KernelError(f"read sysctl {key}", errno.ENOENT, "No such file or directory")
        return self.sysctls[key]

    def open_monitor(self) -> FakeLinkMonitor:
        self.monitor = FakeLinkMonitor()
        return self.monitor

    def close(self) -> None:
        self.closed = True
