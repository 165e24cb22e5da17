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
import hashlib
import logging
import socket
from ipaddress import IPv4Address, IPv4Interface, IPv6Address
from typing import Any, Callable, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from l3roam.errors import KernelError
from l3roam.proto.arp import ArpOp, ArpPacket, encode_arp_frame
from l3roam.kernel.interface import DEFAULT_ROUTE_PROTO, RTPROT_STATIC, LinkInfo
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
IPPROTO_IPIP = 4
IP6_TNL_F_IGN_ENCAP_LIMIT = 0x1
#: The flow-based IPv6 tunnel that receives hand-off packets where SRv6 is absent.
HANDOFF_TUNNEL = "l3ho"
_MAX_DUPLICATES = 64  # bound on "delete until gone" loops


class NetlinkKernel:
    """Kernel operations over netlink, inside one network namespace."""

    def __init__(self, netns: str | None = None):
        self.netns = netns
        self._ns = NamespaceThread(netns, name=f"l3roam-kernel-{netns or 'host'}")
        self._arp_socks: dict[str, socket.socket] = {}  # ifname -> send-only packet socket
        self._tunnel_sid: IPv6Address | None = None  # set when the hand-off uses IPv6 tunnels (no SRv6)
        self._guard = None  # StationGuard once guard_setup ran
        self._v6_forwarding = False  # set by the first redirect
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
            if self._guard is not None:
                self._guard.close()
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
        self._set_mac(ifname, idx, mac)
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

    def teardown_gateway(self, ifname: str, gateway: IPv4Interface, before: LinkInfo | None = None) -> None:
        idx = self._ifindex(ifname)
        if before is None or IPv4Interface(f"{gateway.ip}/32") not in before.ipv4:
            try:
                self._do(f"remove {gateway.ip}/32 from {ifname}",
                         lambda: self._ipr.addr("del", index=idx, address=str(gateway.ip), prefixlen=32))
            except KernelError as exc:
                if exc.errno not in (errno.EADDRNOTAVAIL, errno.ESRCH, errno.ENOENT):
                    raise
        self.set_sysctl(f"net.ipv4.conf.{_key(ifname)}.proxy_arp", 0)
        self.set_sysctl(f"net.ipv4.conf.{_key(ifname)}.proxy_arp_pvlan", 0)
        if before is not None:
            self._set_mac(ifname, idx, before.mac)
            now = set(self.get_link(ifname).ipv4)
            for a in before.ipv4:  # what setup took off (the gateway with another length)
                if a not in now:
                    self._do(f"add {a} to {ifname}", lambda a=a: self._ipr.addr(
                        "add", index=idx, address=str(a.ip), prefixlen=a.network.prefixlen))
            self._do(f"set {ifname} {'up' if before.up else 'down'}", lambda: self._ipr.link(
                "set", index=idx, state="up" if before.up else "down"))
        event(log, "gateway_removed", ifname=ifname, gateway=gateway.ip, restored=before is not None)

    def get_link(self, ifname: str) -> LinkInfo:
        idx = self._ifindex(ifname)
        link = self._do(f"read interface {ifname}", lambda: self._ipr.get_links(idx)[0])
        addrs = self._do(f"list addresses of {ifname}",
                         lambda: list(self._ipr.get_addr(family=AF_INET, index=idx)))
        return LinkInfo(mac=str(link.get_attr("IFLA_ADDRESS")).lower(), up=bool(link["flags"] & 1),
                        ipv4=tuple(IPv4Interface(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
                                   for a in addrs))

    def _set_mac(self, ifname: str, idx: int, mac: str) -> None:
        link = self._do(f"read interface {ifname}", lambda: self._ipr.get_links(idx)[0])
        if str(link.get_attr("IFLA_ADDRESS")).lower() == mac:
            return
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
        try:
            self._do(f"install SID {sid}", lambda: self._ipr.route(
                "replace", family=AF_INET6, dst=str(sid), dst_len=128, oif=idx, proto=proto,
                table=RT_TABLE_MAIN, encap=encap))
        except KernelError as exc:
            if exc.errno != errno.EOPNOTSUPP:
                raise
            self._install_tunnel_sid(sid)  # a kernel without SRv6 lightweight tunnels
            return
        event(log, "sid_installed", sid=sid, ifname=ifname, mode="seg6")

    # IPv6-in-IPv6 fallback.  Where the kernel has no SRv6 lightweight tunnels
    # (CONFIG_IPV6_SEG6_LWTUNNEL off, e.g. Debian's user-mode Linux), the same
    # hand-off runs over plain IPv4-in-IPv6 tunnels: the SID becomes a local
    # address (babeld announces it as an own prefix), a flow-based ip6tnl
    # device receives and decapsulates whatever is sent to it, and a redirect
    # is a route into a point-to-point ip6tnl device from our SID to the new
    # AP's.  40 bytes of overhead instead of 64; no segment routing header.

    def _install_tunnel_sid(self, sid: IPv6Address) -> None:
        def do() -> None:
            if not self._ipr.link_lookup(ifname=HANDOFF_TUNNEL):
                self._ipr.link("add", ifname=HANDOFF_TUNNEL, kind="ip6tnl", ip6tnl_proto=0,
                               ip6tnl_collect_metadata=True, ip6tnl_flags=IP6_TNL_F_IGN_ENCAP_LIMIT)
            tidx = self._ipr.link_lookup(ifname=HANDOFF_TUNNEL)[0]
            self._ipr.link("set", index=tidx, state="up")
            lo = self._ipr.link_lookup(ifname="lo")[0]
            self._ipr.addr("replace", index=lo, address=str(sid), prefixlen=128, family=AF_INET6,
                           flags=0x02)  # IFA_F_NODAD: usable at once
        self._do(f"install SID {sid} (IPv6 tunnel)", do)
        self.set_sysctl(f"net.ipv4.conf.{HANDOFF_TUNNEL}.rp_filter", 0)
        self._tunnel_sid = sid
        event(log, "sid_installed", sid=sid, ifname=HANDOFF_TUNNEL, mode="ip6tnl")

    @staticmethod
    def _tunnel_name(sid: IPv6Address) -> str:
        """A 15-character name unique per SID: a digest of the whole address, since SIDs
        often differ only in their locator part (fc00:3::d4, fc00:5::d4), and a name taken
        from the last bytes sent every hand-off into the first AP's tunnel."""
        return "l3h" + hashlib.blake2s(sid.packed, digest_size=6).hexdigest()

    def _tunnel_to(self, sid: IPv6Address) -> int:
        """The point-to-point tunnel from our SID to ``sid``, created on first use; its ifindex."""
        name = self._tunnel_name(sid)
        local = self._tunnel_sid

        def do() -> int:
            found = self._ipr.link_lookup(ifname=name)
            if not found:
                self._ipr.link("add", ifname=name, kind="ip6tnl", ip6tnl_local=str(local), ip6tnl_remote=str(sid),
                               ip6tnl_proto=IPPROTO_IPIP, ip6tnl_flags=IP6_TNL_F_IGN_ENCAP_LIMIT)
                found = self._ipr.link_lookup(ifname=name)
                self._ipr.link("set", index=found[0], state="up", mtu=1500)
            return found[0]
        idx = self._do(f"tunnel to SID {sid}", do)
        self.set_sysctl(f"net.ipv4.conf.{name}.rp_filter", 0)
        return idx

    def remove_sid(self, sid: IPv6Address) -> None:
        if self._tunnel_sid is not None:
            def undo() -> None:
                lo = self._ipr.link_lookup(ifname="lo")[0]
                try:
                    self._ipr.addr("del", index=lo, address=str(sid), prefixlen=128, family=AF_INET6)
                except NetlinkError as exc:
                    if exc.code not in (errno.EADDRNOTAVAIL, errno.ENOENT, errno.ESRCH):
                        raise
            self._do(f"remove SID {sid} (IPv6 tunnel)", undo)
            self._tunnel_sid = None
            return
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
        if self._tunnel_sid is not None:
            self._redirect_tunnel(ip, sid, proto, metric)
            return
        idx = self._ifindex(mesh_ifname)
        # a forwarded packet enters seg6 encapsulation on the input path and
        # leaves through ip6_forward: without IPv6 forwarding it is dropped
        if not self._v6_forwarding:  # once: a write per roam cost 0.1 ms of the hand-off
            self.set_sysctl("net.ipv6.conf.all.forwarding", 1)
            self._v6_forwarding = True
        kw: dict[str, Any] = dict(dst=str(ip), dst_len=32, oif=idx, table=RT_TABLE_MAIN, type=RTN_UNICAST,
                                  proto=RTPROT_STATIC if proto is None else proto,
                                  encap={"type": "seg6", "mode": "encap", "segs": [str(sid)]})
        if metric is not None:
            kw["priority"] = metric
        self._do(f"redirect {ip}/32 to SID {sid}", lambda: self._ipr.route("replace", **kw))
        event(log, "route_redirected", ip=ip, sid=sid, ifname=mesh_ifname, proto=kw["proto"],
              metric=metric if metric is not None else 0)

    def _redirect_tunnel(self, ip: IPv4Address, sid: IPv6Address, proto: int | None, metric: int | None) -> None:
        idx = self._tunnel_to(sid)
        kw: dict[str, Any] = dict(dst=str(ip), dst_len=32, oif=idx, table=RT_TABLE_MAIN, type=RTN_UNICAST,
                                  scope=RT_SCOPE_LINK, proto=RTPROT_STATIC if proto is None else proto)
        if metric is not None:
            kw["priority"] = metric
        self._do(f"redirect {ip}/32 to SID {sid} (IPv6 tunnel)", lambda: self._ipr.route("replace", **kw))
        event(log, "route_redirected", ip=ip, sid=sid, ifname=self._tunnel_name(sid), proto=kw["proto"],
              metric=metric if metric is not None else 0)

    def remove_redirect(self, ip: IPv4Address, proto: int | None = None, metric: int | None = None) -> None:
        """Remove SRv6 redirects for ``ip`` of that protocol (static if None), any metric if None.

        With ``metric`` given (the agent always knows it) this is one delete matched on
        address, protocol and metric: a roam must not pay for a dump of the routing table
        (700 ms with 10,000 client routes, measured).  The protocol (l3roam's demoted one,
        or static at the agent's own metric) is what tells a redirect from other routes.
        """
        want_proto = RTPROT_STATIC if proto is None else proto
        if metric is not None:
            n = self._delete_all(f"remove redirect {ip}/32", dst=str(ip), dst_len=32, proto=want_proto,
                                 priority=metric, table=RT_TABLE_MAIN, scope=RT_SCOPE_NOWHERE)
            if n:
                event(log, "redirect_removed", ip=ip, proto=want_proto, metric=metric)
            return
        for r in self._routes(AF_INET):
            if r["dst_len"] != 32 or r.get_attr("RTA_DST") != str(ip) or r["proto"] != want_proto:
                continue
            if r.get_attr("RTA_ENCAP_TYPE") != LWTUNNEL_ENCAP_SEG6 and not (
                    self._tunnel_sid is not None and self._ifnames().get(r.get_attr("RTA_OIF"), "").startswith("l3h")):
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

    # --- station binding (guard.py) ---------------------------------------------------
    def guard_setup(self, ifname: str, gateway: IPv4Address, trusted_ports: tuple[str, ...] = (),
                    **limits: int) -> None:
        from l3roam.kernel.guard import StationGuard, is_bridge
        from l3roam.kernel.guard_rules import GuardSettings

        self._ifindex(ifname)  # a clear error for a missing interface
        settings = GuardSettings(ifname, self._ns.run(is_bridge, ifname), gateway,
                                 tuple(trusted_ports), **limits)
        if self._guard is not None:
            self._guard.close()
        self._guard = StationGuard(self._ns, self._ipr, settings)
        self._guard.setup()

    def _guard_on(self) -> "StationGuard":
        if self._guard is None:
            raise KernelError("station binding", detail="guard_setup was not called")
        return self._guard

    def guard_bind(self, ifname: str, ip: IPv4Address, mac: str) -> None:
        self._guard_on().bind(self._ifindex(ifname), ip, mac)

    def guard_unbind(self, ifname: str, ip: IPv4Address, mac: str, keep_element: bool = False) -> None:
        self._guard_on().unbind(self._ifindex(ifname), ip, mac, keep_element)

    def guard_admit(self, ifname: str, add: dict[IPv4Address, str], remove: dict[IPv4Address, str]) -> None:
        self._guard_on().admit(add, remove)

    def guard_port(self, ifname: str, mark: int | None, old: int | None = None) -> None:
        self._guard_on().port(ifname, mark, old)

    def guard_bindings(self) -> dict[IPv4Address, str]:
        return {b.ip: b.mac for b in self._guard_on().bindings()}

    def guard_counters(self) -> dict[str, int]:
        return self._guard.counters() if self._guard is not None else {}

    def guard_teardown(self) -> None:
        if self._guard is not None:
            self._guard.teardown(self._ifindex(self._guard.s.device))
            self._guard = None

    def open_monitor(self) -> "LinkMonitor":
        """A LinkMonitor in this kernel's namespace."""
        from l3roam.kernel.monitor import LinkMonitor

        return LinkMonitor(self._ns)
