"""NetlinkKernel and LinkMonitor on the real kernel, in namespaces of their own.

What a user of the node agent would see: our /32s with protocol 44 appear,
go and reconcile while other routes stay; a client behind the anycast
gateway gets ARP answers with the gateway MAC for the gateway and for other
clients (never for its own address) and reaches a host behind the AP; a
client moved between two APs with the same gateway MAC keeps working without
ARP; an SRv6 redirect carries packets from the old AP to the new one.
"""

from __future__ import annotations

import select
import time
from ipaddress import IPv4Address, IPv4Interface, IPv6Address

import pytest

from l3roam.errors import KernelError
from l3roam.kernel import SRV6_OVERHEAD, LinkDown, LinkUp, NeighbourSeen
from l3roam.kernel.netlink import NetlinkKernel
from l3roam.kernel.sysctl import gateway_sysctls
from kernel_nsutil import arp_ask, ip, ip_json, namespaces, nsexec, ping, veth, wire_handoff_lab

pytestmark = pytest.mark.netns

GW = IPv4Interface("10.99.0.1/16")
GW_MAC = "02:00:5e:00:00:01"
A = IPv4Address


def proto44(ns: str) -> dict[str, str]:
    """Our routes as `ip route` shows them (an independent reader)."""
    return {r["dst"]: r["dev"] for r in ip_json(ns, "route", "show", "proto", "44")}


@pytest.fixture
def kernel_factory():
    made: list[NetlinkKernel] = []

    def make(ns: str) -> NetlinkKernel:
        k = NetlinkKernel(ns)
        made.append(k)
        return k

    try:
        yield make
    finally:
        for k in made:
            k.close()


def test_host_routes_appear_disappear_and_reconcile(kernel_factory):
    with namespaces("rt") as ns:
        n = ns["rt"]
        veth(n, "c0", n, "c1")
        # somebody else's routes, which must survive: static and a babel hold-down
        ip(n, "route", "add", "10.99.0.50/32", "dev", "c0", "proto", "static")
        ip(n, "route", "add", "unreachable", "10.99.0.51/32", "proto", "babel")
        k = kernel_factory(n)

        k.add_host_route(A("10.99.0.5"), "c0")
        k.add_host_route(A("10.99.0.5"), "c0")  # idempotent
        k.add_host_route(A("10.99.0.6"), "c0")
        assert proto44(n) == {"10.99.0.5": "c0", "10.99.0.6": "c0"}
        assert k.list_host_routes() == {A("10.99.0.5"): "c0", A("10.99.0.6"): "c0"}

        k.del_host_route(A("10.99.0.6"))
        k.del_host_route(A("10.99.0.6"))  # absent is fine
        k.del_host_route(A("10.99.0.50"))  # not ours: untouched
        assert proto44(n) == {"10.99.0.5": "c0"}

        removed, added = k.reconcile_host_routes({A("10.99.0.5"): "c1", A("10.99.0.7"): "c0"})
        assert (removed, added) == ([], [A("10.99.0.5"), A("10.99.0.7")])
        assert proto44(n) == {"10.99.0.5": "c1", "10.99.0.7": "c0"}
        removed, added = k.reconcile_host_routes({A("10.99.0.7"): "c0"})
        assert (removed, added) == ([A("10.99.0.5")], [])
        assert proto44(n) == {"10.99.0.7": "c0"}

        others = {(r.get("type", "unicast"), r["dst"]) for r in ip_json(n, "route", "show")}
        assert ("unicast", "10.99.0.50") in others and ("unreachable", "10.99.0.51") in others
        # a restarted agent (new kernel object) sees the same state
        assert kernel_factory(n).list_host_routes() == {A("10.99.0.7"): "c0"}


def test_sysctl_errors_name_the_key(kernel_factory):
    with namespaces("sc") as ns:
        k = kernel_factory(ns["sc"])
        with pytest.raises(KernelError, match=r"net\.ipv4\.conf\.nosuch0\.proxy_arp"):
            k.set_sysctl("net.ipv4.conf.nosuch0.proxy_arp", 1)
        with pytest.raises(KernelError, match="look up interface nosuch0"):
            k.setup_gateway("nosuch0", GW, GW_MAC)


def _cell(ns: dict[str, str], k: NetlinkKernel) -> None:
    """AP with a bridge 'cell' whose isolated ports lead to clients cl1, cl2 (like
    hostapd's ap_isolate), and a link m0 to a server; gateway on the bridge."""
    ap = ns["ap"]
    ip(ap, "link", "add", "cell", "type", "bridge")
    for i, c in enumerate(("cl1", "cl2"), start=1):
        veth(ap, f"p-{c}", ns[c], "eth0", mac_b=f"02:00:00:00:00:0{i}")
        ip(ap, "link", "set", f"p-{c}", "master", "cell")
        nsexec(ap, "bridge", "link", "set", "dev", f"p-{c}", "isolated", "on")
        ip(ns[c], "addr", "add", f"10.99.0.{10 + i}/16", "dev", "eth0")
        ip(ns[c], "route", "add", "default", "via", "10.99.0.1")
    veth(ap, "m0", ns["srv"], "m0")
    ip(ap, "addr", "add", "10.1.0.1/24", "dev", "m0")
    ip(ns["srv"], "addr", "add", "10.1.0.2/24", "dev", "m0")
    ip(ns["srv"], "route", "add", "10.99.0.0/16", "via", "10.1.0.1")
    k.setup_gateway("cell", GW, GW_MAC)
    k.add_host_route(A("10.99.0.11"), "cell")
    k.add_host_route(A("10.99.0.12"), "cell")
    # a client on another AP, learned from the mesh (here: a static route via m0)
    ip(ap, "route", "add", "10.99.0.77/32", "via", "10.1.0.2", "proto", "static")


def test_anycast_gateway_proxy_arp_and_forwarding(kernel_factory):
    with namespaces("ap", "cl1", "cl2", "srv") as ns:
        k = kernel_factory(ns["ap"])
        _cell(ns, k)
        k.setup_gateway("cell", GW, GW_MAC)  # idempotent
        ap = ns["ap"]
        addrs = ip_json(ap, "addr", "show", "dev", "cell")[0]["addr_info"]
        assert [(a["local"], a["prefixlen"]) for a in addrs if a["family"] == "inet"] == [("10.99.0.1", 32)]
        assert not [r for r in ip_json(ap, "route", "show") if r["dst"] == "10.99.0.0/16"]
        for key, value in gateway_sysctls("cell"):
            assert k.get_sysctl(key) == str(value)

        cl1, mac1 = ns["cl1"], "02:00:00:00:00:01"
        mon = k.open_monitor()
        mon.read()
        assert arp_ask(cl1, "eth0", mac1, "10.99.0.11", "10.99.0.1") == [GW_MAC]       # the gateway
        assert arp_ask(cl1, "eth0", mac1, "10.99.0.11", "10.99.0.12") == [GW_MAC]      # client on this AP
        assert arp_ask(cl1, "eth0", mac1, "10.99.0.11", "10.99.0.77") == [GW_MAC]      # client elsewhere
        assert arp_ask(cl1, "eth0", mac1, "0.0.0.0", "10.99.0.11") == []                # own address (DAD probe)
        assert arp_ask(cl1, "eth0", mac1, "10.99.0.11", "10.99.0.11") == []             # own address (announcement)
        # documented limits (docs/node-kernel.md): no route, no answer; an
        # announcement of an address the AP routes elsewhere is answered
        assert arp_ask(cl1, "eth0", mac1, "10.99.0.11", "10.99.0.200") == []
        assert arp_ask(cl1, "eth0", mac1, "10.99.0.77", "10.99.0.77") == [GW_MAC]

        assert ping(cl1, "10.1.0.2")                 # host behind the AP, through the gateway
        assert ping(cl1, "10.99.0.12")               # the other client, through the AP
        trace = nsexec(cl1, "ip", "-j", "neigh", "show", "10.99.0.12").stdout
        assert GW_MAC in trace
        # no ICMP redirect told the client to go direct
        assert _icmp_counter(ap, "OutRedirects") == 0
        assert _icmp_counter(cl1, "InRedirects") == 0
        # presence signals for the agent: the bridge learned the client's MAC on
        # its port, the kernel learned it as an ARP neighbour on the cell
        events = _collect(mon, lambda evs: False, 0.3)
        mon.close()
        assert NeighbourSeen("p-cl1", mac1, None) in events
        assert NeighbourSeen("cell", mac1, A("10.99.0.11")) in events


def _icmp_counter(ns: str, name: str) -> int:
    head, values = [line.split() for line in nsexec(ns, "cat", "/proc/net/snmp").stdout.splitlines()
                    if line.startswith("Icmp:")]
    return int(values[head.index(name)])


def test_two_aps_same_gateway_mac_and_gratuitous_arp(kernel_factory):
    """The client keeps its interface and ARP cache and moves from ap1's cell to
    ap2's (a port changes bridge in an 'air' namespace, as in the testbed)."""
    with namespaces("ap1", "ap2", "air", "cl") as ns:
        k1, k2 = kernel_factory(ns["ap1"]), kernel_factory(ns["ap2"])
        air, cl, mac = ns["air"], ns["cl"], "02:00:00:00:00:21"
        for n, ap in ((1, "ap1"), (2, "ap2")):
            ip(air, "link", "add", f"cell{n}", "type", "bridge", "ageing_time", "0")
            ip(air, "link", "set", f"cell{n}", "up")
            veth(ns[ap], "cell", air, f"ap{n}")
            ip(air, "link", "set", f"ap{n}", "master", f"cell{n}")
        veth(cl, "eth0", air, "air-c")
        ip(cl, "link", "set", "eth0", "address", mac)
        ip(air, "link", "set", "air-c", "master", "cell1")
        ip(cl, "addr", "add", "10.99.0.21/16", "dev", "eth0")
        ip(cl, "route", "add", "default", "via", "10.99.0.1")
        client = A("10.99.0.21")
        for k in (k1, k2):
            k.setup_gateway("cell", GW, GW_MAC)
        k1.add_host_route(client, "cell")
        assert ping(cl, "10.99.0.1")
        assert ip_json(cl, "neigh", "show", "10.99.0.1")[0]["lladdr"] == GW_MAC

        # the move: ap1 withdraws, ap2 installs, the client's port changes cell
        k1.del_host_route(client)
        k2.add_host_route(client, "cell")
        ip(air, "link", "set", "air-c", "master", "cell2")
        assert ping(cl, "10.99.0.1", wait=1)      # at once, with the cached gateway MAC
        assert ip_json(cl, "neigh", "show", "10.99.0.1")[0]["lladdr"] == GW_MAC

        # negative control: a gateway MAC that differs strands the client ...
        other = "02:00:5e:00:00:02"
        k2.setup_gateway("cell", GW, other)
        assert not ping(cl, "10.99.0.1", wait=0.5)
        # ... until a gratuitous ARP from the AP corrects its cache
        k2.send_gratuitous_arp("cell", A("10.99.0.1"), other, dst_mac=mac)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and ip_json(cl, "neigh", "show", "10.99.0.1")[0]["lladdr"] != other:
            time.sleep(0.05)
        assert ip_json(cl, "neigh", "show", "10.99.0.1")[0]["lladdr"] == other
        assert ping(cl, "10.99.0.1")


def test_srv6_redirect_hands_packets_to_the_new_ap(kernel_factory):
    """srv -- ap1 == mesh == ap2 -- client.  The client left ap1 for ap2; ap1's only
    route to it is the SRv6 redirect to ap2's SID."""
    with namespaces("srv", "ap1", "ap2", "cl") as ns:
        k1, k2 = kernel_factory(ns["ap1"]), kernel_factory(ns["ap2"])
        client = A("10.99.0.31")
        wire_handoff_lab(ns, str(client))
        k1.set_sysctl("net.ipv4.ip_forward", 1)
        for k in (k1, k2):
            k.install_sid(IPv6Address("fc00:1::d4") if k is k1 else IPv6Address("fc00:2::d4"), "mesh0")
        k2.setup_gateway("cell", GW, GW_MAC)
        k2.add_host_route(client, "cell")            # step 1: the new AP first

        assert not ping(ns["srv"], str(client), wait=0.5)  # ap1 has no route yet
        k1.redirect_host_route(client, IPv6Address("fc00:2::d4"), "mesh0")   # step 2: announced redirect
        assert k1.list_host_routes() == {client: "mesh0"}
        assert ping(ns["srv"], str(client), count=3)
        # 64 bytes of encapsulation: a full-size DF packet is lost silently at
        # mesh MTU 1500 and gets through once the mesh MTU leaves room
        full = ("-M", "do", "-s", "1472")
        assert not ping(ns["srv"], str(client), wait=0.5, extra=full)
        assert ping(ns["srv"], str(client), extra=("-M", "do", "-s", str(1472 - SRV6_OVERHEAD)))
        k1.set_mtu("mesh0", 1500 + SRV6_OVERHEAD)
        k2.set_mtu("mesh0", 1500 + SRV6_OVERHEAD)
        assert ping(ns["srv"], str(client), extra=full)
        k1.redirect_host_route(client, IPv6Address("fc00:2::d4"), "mesh0", proto=None, metric=50)  # step 3
        k1.del_host_route(client)                     # the withdrawal leaves the redirect alone ...
        assert k1.list_host_routes() == {}
        assert ping(ns["srv"], str(client), count=3)  # ... which still carries packets
        k1.remove_redirect(client, proto=None, metric=50)   # step 4
        k1.remove_redirect(client, proto=None, metric=50)   # absent is fine
        assert not ping(ns["srv"], str(client), wait=0.5)


def test_link_monitor_reports_links_and_new_neighbours(kernel_factory):
    with namespaces("mon", "peer") as ns:
        k = kernel_factory(ns["mon"])
        mon = k.open_monitor()
        try:
            assert not [e for e in mon.read() if not isinstance(e, LinkUp)]  # initial dump: only lo
            veth(ns["mon"], "ap0", ns["peer"], "eth0", mac_b="02:00:00:00:00:41")
            ip(ns["mon"], "addr", "add", "10.99.0.1/16", "dev", "ap0")
            ip(ns["peer"], "addr", "add", "10.99.0.41/16", "dev", "eth0")
            assert ping(ns["peer"], "10.99.0.1")
            events = _collect(mon, lambda evs: any(isinstance(e, NeighbourSeen) for e in evs))
            mac = ip_json(ns["mon"], "link", "show", "ap0")[0]["address"]
            assert LinkUp("ap0", mac) in events
            assert NeighbourSeen("ap0", "02:00:00:00:00:41", A("10.99.0.41")) in events
            assert ping(ns["peer"], "10.99.0.1")           # same MAC again: nothing new
            assert not [e for e in _collect(mon, lambda evs: False, 0.3) if isinstance(e, NeighbourSeen)]
            ip(ns["peer"], "link", "del", "eth0")          # the client's link goes away
            events = _collect(mon, lambda evs: any(isinstance(e, LinkDown) for e in evs))
            assert LinkDown("ap0") in events
        finally:
            mon.close()


def test_link_monitor_keeps_the_station_alias_when_only_the_carrier_comes_back(kernel_factory):
    """A carrier-on notification carries no IFLA_IFALIAS: the alias seen before is reported."""
    with namespaces("mon", "peer") as ns:
        k = kernel_factory(ns["mon"])
        veth(ns["mon"], "sta-x", ns["peer"], "p0")
        ip(ns["mon"], "link", "set", "sta-x", "alias", "02:00:00:00:c0:07")
        ip(ns["peer"], "link", "set", "p0", "down")  # the station port without carrier: not associated
        mon = k.open_monitor()
        try:
            _collect(mon, lambda evs: False, 0.3)
            ip(ns["peer"], "link", "set", "p0", "up")  # carrier: associated
            up = [e for e in _collect(mon, lambda evs: any(isinstance(e, LinkUp) for e in evs))
                  if isinstance(e, LinkUp)]
            assert [(e.ifname, e.alias) for e in up] == [("sta-x", "02:00:00:00:c0:07")]
            ip(ns["peer"], "link", "set", "p0", "down")
            assert LinkDown("sta-x") in _collect(mon, lambda evs: any(isinstance(e, LinkDown) for e in evs))
        finally:
            mon.close()


def _collect(mon, done, timeout: float = 3.0) -> list:
    events: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done(events):
        ready, _, _ = select.select([mon], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            events.extend(mon.read())
    return events


def test_admitted_pairs_pass_the_station_filter_without_a_neighbour_entry(kernel_factory):
    """ap: bridge cell0 with a station port; cl sends from its leased address through it."""
    with namespaces("ap", "cl") as ns:
        k = kernel_factory(ns["ap"])
        ip(ns["ap"], "link", "add", "cell0", "type", "bridge")
        ip(ns["ap"], "link", "set", "cell0", "up")
        veth(ns["ap"], "sta0", ns["cl"], "eth0", mac_b="02:00:00:00:00:51")
        ip(ns["ap"], "link", "set", "sta0", "master", "cell0")
        ip(ns["ap"], "addr", "add", "10.99.0.1/16", "dev", "cell0")
        ip(ns["cl"], "addr", "add", "10.99.0.51/16", "dev", "eth0")
        ip(ns["cl"], "neigh", "replace", "10.99.0.1", "lladdr",
           ip_json(ns["ap"], "link", "show", "cell0")[0]["address"], "dev", "eth0")
        ip(ns["ap"], "neigh", "replace", "10.99.0.51", "lladdr", "02:00:00:00:00:51", "dev", "cell0")
        k.guard_setup("cell0", IPv4Address("10.99.0.1"))
        client, mac = IPv4Address("10.99.0.51"), "02:00:00:00:00:51"
        try:
            assert not ping(ns["cl"], "10.99.0.1", wait=0.5)  # not leased: dropped
            k.guard_admit("cell0", {client: mac}, {})
            assert k.guard_bindings() == {client: mac}
            assert ping(ns["cl"], "10.99.0.1")  # admitted: passes, though not served here
            k.guard_bind("cell0", client, mac)
            k.guard_unbind("cell0", client, mac, keep_element=True)  # it roamed away
            assert "PERMANENT" not in ip(ns["ap"], "neigh", "show", str(client), "dev", "cell0").stdout
            assert k.guard_bindings() == {client: mac} and ping(ns["cl"], "10.99.0.1")
            k.guard_admit("cell0", {}, {client: mac})  # the lease ended
            k.guard_admit("cell0", {}, {client: mac})  # twice is fine
            assert k.guard_bindings() == {} and not ping(ns["cl"], "10.99.0.1", wait=0.5)
        finally:
            k.guard_teardown()
