"""Pure parts of the kernel seam: route plan, gratuitous ARP frame, sysctl
paths and checked writes, and the FakeKernel other unit tests rely on."""

from __future__ import annotations

import select
from ipaddress import IPv4Address, IPv4Interface, IPv6Address

import pytest

from l3roam.errors import KernelError
from l3roam.kernel import FakeKernel, Kernel, LinkDown, LinkMonitorLike, LinkUp
from l3roam.proto.arp import ArpOp, ArpPacket, encode_arp_frame
from l3roam.kernel.plan import plan_host_routes
from l3roam.kernel.sysctl import gateway_sysctls, sysctl_path, write_sysctl

A = IPv4Address


def test_plan_removes_unwanted_adds_missing_and_moves():
    current = {A("10.0.0.1"): "ap0", A("10.0.0.2"): "ap0", A("10.0.0.3"): "ap0"}
    wanted = {A("10.0.0.2"): "ap0", A("10.0.0.3"): "ap1", A("10.0.0.4"): "ap0"}
    assert plan_host_routes(current, wanted) == ([A("10.0.0.1")], [A("10.0.0.3"), A("10.0.0.4")])
    assert plan_host_routes(wanted, wanted) == ([], [])


def test_gratuitous_arp_golden_bytes():
    frame = encode_arp_frame(ArpPacket(ArpOp.REQUEST, "02:00:5e:00:00:01", A("10.99.0.1"),
                                       "00:00:00:00:00:00", A("10.99.0.1")),
                             "02:00:5e:00:00:01", "02:00:00:00:00:21")
    assert len(frame) == 60  # padded to the Ethernet minimum
    assert frame[:42].hex() == (
        "020000000021" "02005e000001" "0806"        # ethernet: dst, src, ARP
        "0001" "0800" "06" "04" "0001"              # htype, ptype, hlen, plen, request
        "02005e000001" "0a630001"                   # sender MAC, sender IP
        "000000000000" "0a630001"                   # target MAC (ignored), target IP = sender IP
    )


def test_sysctl_path_and_checked_write(tmp_path):
    assert str(sysctl_path("net.ipv4.conf.eth0/10.proxy_arp", tmp_path)).endswith("net/ipv4/conf/eth0.10/proxy_arp")
    with pytest.raises(KernelError, match="not a sysctl key"):
        sysctl_path("../etc/passwd")
    (tmp_path / "net/ipv4/conf/ap0").mkdir(parents=True)
    write_sysctl("net.ipv4.conf.ap0.proxy_arp", 1, tmp_path)
    assert (tmp_path / "net/ipv4/conf/ap0/proxy_arp").read_text() == "1\n"
    with pytest.raises(KernelError, match=r"net\.ipv4\.conf\.ap1\.proxy_arp"):
        write_sysctl("net.ipv4.conf.ap1.proxy_arp", 1, tmp_path)


def test_gateway_sysctls_cover_the_proxy_arp_choices():
    keys = dict(gateway_sysctls("ap0"))
    assert keys["net.ipv4.conf.ap0.proxy_arp"] == 1
    assert keys["net.ipv4.conf.ap0.proxy_arp_pvlan"] == 1
    assert keys["net.ipv4.neigh.ap0.proxy_delay"] == 0
    assert keys["net.ipv4.conf.all.send_redirects"] == 0


def test_fake_kernel_follows_the_kernel_rules():
    k = FakeKernel(("ap0", "mesh0"))
    assert isinstance(k, Kernel)
    k.add_host_route(A("10.99.0.5"), "ap0")
    k.add_host_route(A("10.99.0.6"), "ap0", proto=4)        # someone else's
    assert k.list_host_routes() == {A("10.99.0.5"): "ap0"}
    k.redirect_host_route(A("10.99.0.5"), IPv6Address("fc00:2::d4"), "mesh0")  # replaces, same metric
    assert k.list_host_routes() == {A("10.99.0.5"): "mesh0"}
    k.redirect_host_route(A("10.99.0.5"), IPv6Address("fc00:2::d4"), "mesh0", proto=None, metric=50)
    k.del_host_route(A("10.99.0.5"))                          # the withdrawal keeps the static redirect
    assert k.list_host_routes() == {} and (A("10.99.0.5"), 50) in k.routes
    k.remove_redirect(A("10.99.0.5"), metric=50)
    assert (A("10.99.0.5"), 50) not in k.routes
    assert k.reconcile_host_routes({A("10.99.0.7"): "ap0"}) == ([], [A("10.99.0.7")])
    assert (A("10.99.0.6"), 0) in k.routes                    # other protocols untouched
    with pytest.raises(KernelError) as err:
        k.add_host_route(A("10.99.0.8"), "wlan9")
    assert err.value.errno == 19
    k.setup_gateway("ap0", IPv4Interface("10.99.0.1/16"), "02:00:5E:00:00:01")
    assert k.links["ap0"].addresses == {IPv4Interface("10.99.0.1/32")} and k.links["ap0"].mac == "02:00:5e:00:00:01"
    assert k.get_sysctl("net.ipv4.conf.ap0.proxy_arp_pvlan") == "1"
    k.send_gratuitous_arp("ap0", A("10.99.0.1"), "02:00:5e:00:00:01", "02:00:00:00:00:21")
    assert k.arps == [("ap0", A("10.99.0.1"), "02:00:5e:00:00:01", "02:00:00:00:00:21")]


def test_fake_monitor_is_pollable():
    mon = FakeKernel().open_monitor()
    assert isinstance(mon, LinkMonitorLike)
    assert select.select([mon], [], [], 0)[0] == [] and mon.read() == []
    mon.push(LinkUp("ap0", "02:00:00:00:00:01"), LinkDown("ap1"))
    assert select.select([mon], [], [], 0)[0] == [mon]
    assert mon.read() == [LinkUp("ap0", "02:00:00:00:00:01"), LinkDown("ap1")]
    assert select.select([mon], [], [], 0)[0] == [] and mon.read() == []
    mon.close()


def test_implementations_match_the_interface_signatures():
    import inspect

    from l3roam.kernel.interface import Kernel as Iface
    from l3roam.kernel.netlink import NetlinkKernel

    methods = [n for n, v in vars(Iface).items() if callable(v) and not n.startswith("_")]
    assert "add_host_route" in methods and "open_monitor" in methods
    for impl in (FakeKernel, NetlinkKernel):
        for name in methods:
            want = [(p.name, p.default) for p in inspect.signature(getattr(Iface, name)).parameters.values()]
            got = [(p.name, p.default) for p in inspect.signature(getattr(impl, name)).parameters.values()]
            assert got == want, f"{impl.__name__}.{name}"


def test_station_binding_needs_setup_and_unbind_checks_the_mac():
    import pytest as _pytest
    from l3roam.errors import KernelError as _KE

    k = FakeKernel(("cell0",))
    with _pytest.raises(_KE):
        k.guard_bind("cell0", IPv4Address("10.99.0.5"), "02:c1:00:00:00:01")
    k.guard_setup("cell0", IPv4Address("10.99.0.1"))
    k.guard_bind("cell0", IPv4Address("10.99.0.5"), "02:C1:00:00:00:01")
    k.guard_unbind("cell0", IPv4Address("10.99.0.5"), "02:c1:00:00:00:99")  # another MAC: kept
    assert k.guard_bindings() == {IPv4Address("10.99.0.5"): "02:c1:00:00:00:01"}
    k.guard_unbind("cell0", IPv4Address("10.99.0.5"), "02:c1:00:00:00:01")
    assert k.guard_bindings() == {}
