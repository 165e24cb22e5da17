"""The node agent on the real kernel, with the real master and real DHCP clients.

One access point namespace runs the master and ``l3roam node``; two client
namespaces hang off its ``cell0`` bridge as isolated station ports (as the
testbed's air does); a host namespace sits behind the AP on ``mesh0``.
"""

from __future__ import annotations

import os
import sys
import time
from ipaddress import IPv4Address, IPv4Network

import pytest

from agent_lab import GW_MAC, Lab, sh, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.dhcpclient, pytest.mark.babeld]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("nodeagent"))
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


def test_udhcpc_gets_the_masters_address_and_a_route_with_our_protocol(lab):
    c = lab.client("udhcpc", "c1", "phone-one")
    ip = c.wait_bound(20)
    assert IPv4Address(ip) in IPv4Network("10.99.0.0/16")
    line = f"event=lease_bind mac={lab.macs['c1']} ip={ip} node=ap1"
    assert wait_for(lambda: line in lab.log("master"), 2)  # log lines are flushed every 0.2 s
    assert wait_for(lambda: ip in lab.routes(), 5), lab.routes()
    assert "dev cell0" in lab.routes()[ip]
    # the client's gateway is the anycast address, with the shared gateway MAC
    line = [x for x in c.lines() if x.startswith("bound")][-1]
    assert "router=10.99.0.1" in line and "serverid=10.99.0.1" in line and "domain=mesh" in line
    # it reaches a host behind the AP through the anycast gateway
    ping = sh("ip", "netns", "exec", lab.clients["c1"], "ping", "-c", "2", "-W", "2", "10.200.0.2",
              check=False)
    assert ping.returncode == 0, ping.stdout
    neigh = sh("ip", "-n", lab.clients["c1"], "neigh", "show", "10.99.0.1").stdout
    assert GW_MAC in neigh


def test_dhclient_gets_an_address_and_reaches_the_other_client_via_proxy_arp(lab):
    c1 = next(c for c in lab.dhcp if c.netns == lab.clients["c1"])
    ip1 = c1.address()
    c = lab.client("dhclient", "c2", "laptop-two")
    ip2 = c.wait_bound(30)
    assert ip2 != ip1
    assert wait_for(lambda: ip2 in lab.routes(), 5)
    # c2 ARPs for c1's address: the AP answers with the gateway MAC (ports are isolated)
    ping = sh("ip", "netns", "exec", lab.clients["c2"], "ping", "-c", "2", "-W", "2", ip1, check=False)
    assert ping.returncode == 0, ping.stdout
    neigh = sh("ip", "-n", lab.clients["c2"], "neigh", "show", ip1).stdout
    assert GW_MAC in neigh, neigh


def test_client_host_names_resolve_through_the_agents_dns(lab):
    c1 = next(c for c in lab.dhcp if c.netns == lab.clients["c1"])
    out = sh("ip", "netns", "exec", lab.clients["c2"], sys.executable, "-c",
             "import sys; from dnslib import DNSRecord; "
             "q = DNSRecord.question(sys.argv[1]); "
             "print(DNSRecord.parse(q.send('10.99.0.1', 53, timeout=3)).a.rdata)",
             "phone-one.mesh")
    assert out.stdout.strip() == c1.address()


def node_metrics(lab) -> str:
    out = sh("ip", "netns", "exec", lab.ap, sys.executable, "-c",
             "import urllib.request; print(urllib.request.urlopen("
             "'http://127.0.0.1:9469/metrics', timeout=5).read().decode())")
    return out.stdout


def test_malformed_truncated_and_oversized_dhcp_is_dropped_counted_and_survived(lab):
    from l3roam.proto import dhcp as codec
    good = codec.encode(codec.DhcpMessage(op=codec.Op.BOOTREQUEST, xid=7, chaddr=bytes(6),
                                          options={53: bytes([1])}))
    datagrams = [b"\x00", b"garbage" * 30, good[:100], good[:240] + b"\x35\x09",
                 good + b"\x00" * 1400]
    code = ("import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "[s.sendto(bytes.fromhex(h), ('10.99.0.1', 67)) for h in sys.argv[1:]]")
    sh("ip", "netns", "exec", lab.clients["c2"], sys.executable, "-c", code,
       *[d.hex() for d in datagrams])
    text = wait_for(lambda: (t := node_metrics(lab)) and 'l3roam_node_dhcp_dropped{reason="malformed"}' in t and t, 5)
    assert text, node_metrics(lab)
    line = [x for x in text.splitlines() if x.startswith('l3roam_node_dhcp_dropped{reason="malformed"}')][0]
    assert float(line.split()[-1]) >= 4
    assert lab.procs["node"].poll() is None
    # still serving: a DNS answer and a route for the clients
    assert len(lab.routes()) == 2


def test_restart_keeps_served_routes_and_removes_foreign_ones(lab):
    before = set(lab.routes())
    assert len(before) == 2
    lab.restart_stop_node()
    sh("ip", "-n", lab.ap, "route", "add", "10.99.7.7/32", "dev", "cell0", "proto", "44")
    lab.start_node()
    assert wait_for(lambda: set(lab.routes()) == before, 10), lab.routes()
    assert wait_for(lambda: "event=routes_reconciled kept=2 removed=1" in lab.log("node"), 2)


def test_master_down_cached_client_renews_new_client_gets_nothing(lab):
    """While the master is unreachable: renewals from the agent's cache, no address for newcomers."""
    import signal as sig

    c1 = next(c for c in lab.dhcp if c.netns == lab.clients["c1"])
    ip = c1.address()
    renews_before = sum(1 for x in c1.lines() if x.startswith("renew"))
    lab.procs.pop("master").kill()
    try:
        os.killpg(c1.proc.pid, sig.SIGUSR1)  # udhcpc: renew now (unicast to the server id)
        assert wait_for(lambda: sum(1 for x in c1.lines() if x.startswith("renew")) > renews_before, 15)
        assert c1.address() == ip
        assert wait_for(lambda: f"event=client_bound mac={lab.macs['c1']} ip={ip}" in lab.log("node")
                        and "from_cache=True" in lab.log("node"), 3)
        newcomer = lab.client("udhcpc", "c3", "newcomer")
        time.sleep(6)
        assert newcomer.address() is None  # no address rather than a wrong one
        assert not any("nak" in line.lower() for line in newcomer.lines())
        newcomer.stop()
    finally:
        lab.start_master()  # same store: the rest of the module goes on


def test_release_removes_the_route(lab):
    c1 = next(c for c in lab.dhcp if c.netns == lab.clients["c1"])
    ip = c1.address()
    c1.release()
    assert wait_for(lambda: ip not in lab.routes(), 5), lab.routes()
    assert wait_for(lambda: f"event=lease_release mac={lab.macs['c1']}" in lab.log("master"), 2)


def test_hostapd_station_event_makes_the_agent_claim_the_client(lab):
    """A Wi-Fi association reported on hostapd's control socket reaches the master as a claim."""
    clients = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # every agent start sent ATTACH; answer the latest
        try:
            msg, addr = lab.hostapd.recvfrom(64)
        except TimeoutError:
            break
        if msg == b"ATTACH":
            clients.add(addr)
            lab.hostapd.settimeout(0.5)
    assert clients, "the agent never attached to hostapd"
    for addr in clients:
        try:
            lab.hostapd.sendto(b"OK\n", addr)
            lab.hostapd.sendto(b"<3>AP-STA-CONNECTED 02:99:00:00:00:09", addr)
        except OSError:
            pass  # an earlier agent process is gone
    line = "event=station_associated mac=02:99:00:00:00:09 port=hostapd-wlan0"
    assert wait_for(lambda: line in lab.log("node"), 5), lab.log("node")[-2000:]
    # no lease for that MAC: the master refuses the claim, and no route appears
    assert wait_for(lambda: "event=claim_answered mac=02:99:00:00:00:09 ok=False" in lab.log("node")
                    and "reason=no_lease" in lab.log("node"), 5)
