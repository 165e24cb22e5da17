"""The real kernel: pyroute2 (netlink), /proc/sys and one AF_PACKET socket.

``NetlinkKernel(netns)`` runs every operation on a thread inside ``netns``
(see nsthread.py), or in the current namespace when ``netns`` is None.  Every
"do" is a ``replace`` or tolerates "already there", every "undo" tolerates
"not found", so a restarted agent converges instead of failing.  Errors come
out as KernelError with the operation and errno.

This package is the only importer of pyroute2 in l3roam.
"""

from __future__ import annotations

import errno
import logging
import socket
from ipaddress import IPv4Address, IPv4Interface, IPv6Address
from typing import Any, Callable, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from l3roam.errors import KernelError
from l3roam.proto.arp import ArpOp, ArpPacket, encode_arp_frame
from l3roam.kernel.interface import DEFAULT_ROUTE_PROTO, RTPROT_STATIC
from l3roam.kernel.nsthread import NamespaceThread
from l3roam.kernel.plan import plan_host_routes
from l3roam.kernel.rtnl import RouteSocket
from l3roam.kernel.sysctl import gateway_sysctls, read_sysctl, sysctl_key as _key, write_sysctl
from l3roam.log import event

log = logging.getLogger(__name__)
T = TypeVar("T")

AF_INET = socket.AF_INET
AF_INET6 = socket.AF_INET6
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RT_SCOPE_NOWHERE = 255  # in a delete: match any scope (fib_table_delete)
LWTUNNEL_ENCAP_SEG6 = 5
_MAX_DUPLICATES = 64  # bound on "delete until gone" loops


class NetlinkKernel:
    """Kernel operations over netlink, inside one network namespace."""

    def __init__(self, netns: str | None = None):
        self.netns = netns
        self._ns = NamespaceThread(netns, name=f"l3roam-kernel-{netns or 'host'}")
        self._arp_socks: dict[str, socket.socket] = {}  # ifname -> send-only packet socket
        try:
            self._ipr: IPRoute = self._ns.run(IPRoute)
            self._rt = self._ns.run(RouteSocket)  # host routes on the hot path (see rtnl.py)
        except OSError as exc:
            self._ns.stop()
            raise KernelError("open netlink socket", exc.errno, exc.strerror or "") from None

    # --- plumbing --------------------------------------------------------------
    def _do(self, operation: str, fn: Callable[[], T]) -> T:
        try:
            return self._ns.run(fn)
        except NetlinkError as exc:
            raise KernelError(operation, exc.code, str(exc.args[1] if len(exc.args) > 1 else exc)) from None
        except OSError as exc:
            raise KernelError(operation, exc.errno, exc.strerror or str(exc)) from None

    def _ifindex(self, ifname: str) -> int:
        # an ioctl on the namespace thread: ~100 times cheaper than a link dump;
        # in our own namespace, on the caller's thread, without the hop
        try:
            if self.netns is None:
                return socket.if_nametoindex(ifname)
            return self._ns.run(socket.if_nametoindex, ifname)
        except OSError as exc:
            raise KernelError(f"look up interface {ifname}", exc.errno or errno.ENODEV, "no such interface") from None

    def _ifnames(self) -> dict[int, str]:
        links = self._do("list interfaces", lambda: list(self._ipr.get_links()))
        return {int(link["index"]): str(link.get_attr("IFLA_IFNAME")) for link in links}

    def _delete_all(self, operation: str, **match: Any) -> int:
        """``ip route del`` until the kernel says no such route; returns how many went."""
        removed = 0
        for _ in range(_MAX_DUPLICATES):
            try:
                self._ns.run(lambda: self._ipr.route("del", **match))
            except NetlinkError as exc:
                if exc.code == errno.ESRCH:
                    return removed
                raise KernelError(operation, exc.code, str(exc)) from None
            except OSError as exc:
                raise KernelError(operation, exc.errno, exc.strerror or str(exc)) from None
            removed += 1
        raise KernelError(operation, detail=f"more than {_MAX_DUPLICATES} matching routes")

    def close(self) -> None:
        try:
            for s in self._arp_socks.values():
                s.close()
            self._arp_socks.clear()
            self._rt.close()
            self._ns.run(self._ipr.close)
        finally:
            self._ns.stop()

    def __enter__(self) -> "NetlinkKernel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sysctls -----------------------------------------------------------------
    def set_sysctl(self, key: str, value: str | int) -> None:
        self._ns.run(write_sysctl, key, value)

    def get_sysctl(self, key: str) -> str:
        return self._ns.run(read_sysctl, key)

    # --- host routes -----------------------------------------------------------
    def add_host_route(self, ip: IPv4Address, ifname: str, proto: int = DEFAULT_ROUTE_PROTO,
                       metric: int | None = None) -> None:
        idx = self._ifindex(ifname)
        try:
            self._rt.replace_host_route(ip, idx, proto, RT_TABLE_MAIN, RT_SCOPE_LINK, RTN_UNICAST, metric)
        except OSError as exc:
            raise KernelError(f"add host route {ip}/32 dev {ifname} proto {proto}", exc.errno,
                              exc.strerror or str(exc)) from None
        event(log, "route_installed", ip=ip, ifname=ifname, proto=proto, metric=metric if metric is not None else 0)

    def del_host_route(self, ip: IPv4Address, proto: int = DEFAULT_ROUTE_PROTO,
                       metric: int | None = None) -> None:
        kw: dict[str, Any] = dict(dst=str(ip), dst_len=32, proto=proto, table=RT_TABLE_MAIN, type=RTN_UNICAST,
                                  scope=RT_SCOPE_NOWHERE)
        if metric is not None:
            kw["priority"] = metric
        n = self._delete_all(f"delete host route {ip}/32 proto {proto}", **kw)
        if n:
            event(log, "route_removed", ip=ip, proto=proto)

    def _routes(self, family: int) -> list[Any]:
        return self._do("list routes", lambda: list(self._ipr.get_routes(family=family, table=RT_TABLE_MAIN)))

    def list_host_routes(self, proto: int = DEFAULT_ROUTE_PROTO) -> dict[IPv4Address, str]:
        """Unicast /32s of ``proto`` in the main table.

        ``unreachable`` hold-down entries babeld leaves after a withdrawal are
        another type (and protocol) and never show up here.  When one address
        has several such routes (metrics), the preferred (lowest metric) wins.
        """
        names = self._ifnames()
        best: dict[IPv4Address, tuple[int, str]] = {}
        for r in self._routes(AF_INET):
            if r["proto"] != proto or r["dst_len"] != 32 or r["type"] != RTN_UNICAST:
                continue
            if (r.get_attr("RTA_TABLE") or r["table"]) != RT_TABLE_MAIN:
                continue
            ip = IPv4Address(r.get_attr("RTA_DST"))
            metric = r.get_attr("RTA_PRIORITY") or 0
            oif = r.get_attr("RTA_OIF")
            name = names.get(int(oif), f"if{oif}") if oif is not None else ""
            if ip not in best or metric < best[ip][0]:
                best[ip] = (metric, name)
        return {ip: name for ip, (_, name) in best.items()}

    def reconcile_host_routes(self, wanted: dict[IPv4Address, str],
                              proto: int = DEFAULT_ROUTE_PROTO) -> tuple[list[IPv4Address], list[IPv4Address]]:
        to_remove, to_add = plan_host_routes(self.list_host_routes(proto), wanted)
        for ip in to_remove:
            self.del_host_route(ip, proto)
        for ip in to_add:
            self.add_host_route(ip, wanted[ip], proto)
        event(log, "routes_reconciled", proto=proto, removed=len(to_remove), added=len(to_add), kept=len(wanted) - len(to_add))
        return to_remove, to_add

    # --- anycast gateway ---------------------------------------------------------
    def setup_gateway(self, ifname: str, gateway: IPv4Interface, gateway_mac: str) -> None:
        """Anycast gateway on ``ifname``; see docs/node-kernel.md for each choice.

        The address goes on as ``gateway.ip/32`` so that no connected route for
        the client prefix appears (babeld must only ever see host routes, and
        the AP must not treat the prefix as on-link); clients reach each other
        through the AP because proxy ARP answers for every routed address.
        """
        idx = self._ifindex(ifname)
        mac = gateway_mac.lower()
        link = self._do(f"read interface {ifname}", lambda: self._ipr.get_links(idx)[0])
        if str(link.get_attr("IFLA_ADDRESS")).lower() != mac:
            try:
                self._do(f"set MAC of {ifname}", lambda: self._ipr.link("set", index=idx, address=mac))
            except KernelError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                # some drivers refuse a MAC change while up
                self._do(f"set MAC of {ifname}", lambda: (
                    self._ipr.link("set", index=idx, state="down"),
                    self._ipr.link("set", index=idx, address=mac),
                ))
        # the same address with another prefix length would bring back the
        # connected route we avoid: take it off
        for a in self._do(f"list addresses of {ifname}", lambda: list(self._ipr.get_addr(family=AF_INET, index=idx))):
            if a.get_attr("IFA_ADDRESS") == str(gateway.ip) and a["prefixlen"] != 32:
                plen = a["prefixlen"]
                self._do(f"remove {gateway.ip}/{plen} from {ifname}",
                         lambda: self._ipr.addr("del", index=idx, address=str(gateway.ip), prefixlen=plen))
        try:
            self._do(f"add {gateway.ip}/32 to {ifname}",
                     lambda: self._ipr.addr("add", index=idx, address=str(gateway.ip), prefixlen=32))
        except KernelError as exc:
            if exc.errno != errno.EEXIST:
                raise
        self._do(f"set {ifname} up", lambda: self._ipr.link("set", index=idx, state="up"))
        for key, value in gateway_sysctls(ifname):
            self.set_sysctl(key, value)
        event(log, "gateway_ready", ifname=ifname, gateway=gateway.ip, mac=mac)

    def teardown_gateway(self, ifname: str, gateway: IPv4Interface) -> None:
        idx = self._ifindex(ifname)
        try:
            self._do(f"remove {gateway.ip}/32 from {ifname}",
                     lambda: self._ipr.addr("del", index=idx, address=str(gateway.ip), prefixlen=32))
        except KernelError as exc:
            if exc.errno not in (errno.EADDRNOTAVAIL, errno.ESRCH, errno.ENOENT):
                raise
        self.set_sysctl(f"net.ipv4.conf.{_key(ifname)}.proxy_arp", 0)
        self.set_sysctl(f"net.ipv4.conf.{_key(ifname)}.proxy_arp_pvlan", 0)
        event(log, "gateway_removed", ifname=ifname, gateway=gateway.ip)

    def send_gratuitous_arp(self, ifname: str, ip: IPv4Address, mac: str,
                            dst_mac: str = "ff:ff:ff:ff:ff:ff") -> None:
        # RFC 5227 §3 announcement: sender and target IP are both ``ip``
        frame = encode_arp_frame(ArpPacket(ArpOp.REQUEST, mac, ip, "00:00:00:00:00:00", ip), mac, dst_mac)

        # One send-only packet socket (protocol 0: it receives nothing) per
        # interface, kept open: closing a packet socket waits for an RCU grace
        # period (synchronize_net), measured ~29 ms per ARP here.  Once open it
        # is used from the caller's thread (it stays in its namespace).
        s = self._arp_socks.get(ifname)
        if s is not None:
            try:
                s.send(frame)
                return
            except OSError:  # the interface went away or was re-created: reopen
                self._arp_socks.pop(ifname, None)
                s.close()

        def send() -> None:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            try:
                s.bind((ifname, 0))
                s.send(frame)
            except OSError:
                s.close()
                raise
            self._arp_socks[ifname] = s

        self._do(f"send gratuitous ARP for {ip} on {ifname}", send)

    # --- SRv6 hand-off -------------------------------------------------------------
    def install_sid(self, sid: IPv6Address, ifname: str, proto: int = DEFAULT_ROUTE_PROTO) -> None:
        """``sid/128 encap seg6local action End.DX4 nh4 0.0.0.0 dev ifname proto <proto>``.

        nh4 0.0.0.0 makes the kernel look the inner destination up in the main
        table, so one SID serves every client (docs/node-kernel.md).  The route is a
        /128 host route of our protocol, so babeld announces it as the locator.
        """
        idx = self._ifindex(ifname)
        encap = {"type": "seg6local", "action": "End.DX4", "nh4": "0.0.0.0"}
        self.set_sysctl("net.ipv6.conf.all.forwarding", 1)
        self.set_sysctl("net.ipv4.ip_forward", 1)
        self._do(f"install SID {sid}", lambda: self._ipr.route(
            "replace", family=AF_INET6, dst=str(sid), dst_len=128, oif=idx, proto=proto,
            table=RT_TABLE_MAIN, encap=encap))
        event(log, "sid_installed", sid=sid, ifname=ifname)

    def remove_sid(self, sid: IPv6Address) -> None:
        self._delete_all(f"remove SID {sid}", family=AF_INET6, dst=str(sid), dst_len=128, table=RT_TABLE_MAIN,
                         scope=RT_SCOPE_NOWHERE)

    def redirect_host_route(self, ip: IPv4Address, sid: IPv6Address, mesh_ifname: str,
                            proto: int | None = DEFAULT_ROUTE_PROTO, metric: int | None = None) -> None:
        """``ip/32 encap seg6 mode encap segs <sid> dev mesh_ifname``, replacing.

        With ``proto`` None the route gets proto static, which babeld does not
        redistribute: the unannounced redirect (step 2 in docs/node-kernel.md).

        Packets that no longer fit the mesh MTU after the 64 bytes of
        encapsulation are lost without an ICMP error the sender could see
        (measured: the kernel sends ICMPv6 Packet Too Big to the encapsulating
        AP itself; a locked route MTU does not change it).  The mesh MTU must
        leave room: docs/node-kernel.md.
        """
        idx = self._ifindex(mesh_ifname)
        # a forwarded packet enters seg6 encapsulation on the input path and
        # leaves through ip6_forward: without IPv6 forwarding it is dropped
        self.set_sysctl("net.ipv6.conf.all.forwarding", 1)
        kw: dict[str, Any] = dict(dst=str(ip), dst_len=32, oif=idx, table=RT_TABLE_MAIN, type=RTN_UNICAST,
                                  proto=RTPROT_STATIC if proto is None else proto,
                                  encap={"type": "seg6", "mode": "encap", "segs": [str(sid)]})
        if metric is not None:
            kw["priority"] = metric
        self._do(f"redirect {ip}/32 to SID {sid}", lambda: self._ipr.route("replace", **kw))
        event(log, "route_redirected", ip=ip, sid=sid, ifname=mesh_ifname, proto=kw["proto"],
              metric=metric if metric is not None else 0)

    def remove_redirect(self, ip: IPv4Address, proto: int | None = None, metric: int | None = None) -> None:
        """Remove SRv6 redirects for ``ip`` of that protocol (static if None), any metric if None."""
        want_proto = RTPROT_STATIC if proto is None else proto
        for r in self._routes(AF_INET):
            if r["dst_len"] != 32 or r.get_attr("RTA_DST") != str(ip) or r["proto"] != want_proto:
                continue
            if r.get_attr("RTA_ENCAP_TYPE") != LWTUNNEL_ENCAP_SEG6:
                continue
            prio = r.get_attr("RTA_PRIORITY") or 0
            if metric is not None and prio != metric:
                continue
            self._delete_all(f"remove redirect {ip}/32", dst=str(ip), dst_len=32, proto=want_proto,
                             priority=prio, table=RT_TABLE_MAIN, scope=RT_SCOPE_NOWHERE)
            event(log, "redirect_removed", ip=ip, proto=want_proto, metric=prio)

    # --- links ---------------------------------------------------------------------
    def set_mtu(self, ifname: str, mtu: int) -> None:
        idx = self._ifindex(ifname)
        self._do(f"set MTU of {ifname} to {mtu}", lambda: self._ipr.link("set", index=idx, mtu=mtu))

    def open_monitor(self) -> "LinkMonitor":
        """A LinkMonitor in this kernel's namespace."""
        from l3roam.kernel.monitor import LinkMonitor

        return LinkMonitor(self._ns)
