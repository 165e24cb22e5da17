"""Real udhcpc and dhclient against l3roam's DHCP engine and codec, on the real kernel.

A responder on a packet socket in one namespace (the engine with a fake
in-process master, see dhcp_lab.py) serves a real client in another; the
clients must configure the master's address, renew, reboot and release.
"""

from __future__ import annotations

import signal
import time
from ipaddress import IPv4Address

import pytest
from dhcp_lab import CLIENT_IF, SERVER_ID, DhcpLab, state_lines, wait_for

from l3roam.core.dhcp_server import ClientBound, ClientReleased, SendReply
from l3roam.proto.dhcp import MessageType

pytestmark = [pytest.mark.netns, pytest.mark.dhcpclient]

UDHCPC_MAC = "02:00:00:d4:10:01"
DHCLIENT_MAC = "02:00:00:d4:10:02"


@pytest.fixture
def lab():
    with DhcpLab(tag="t") as lab:
        yield lab


def line_starting(path, word):
    return [s for s in state_lines(path) if s.startswith(word)]


def replies(lab, mtype):
    return [a for a in lab.responder.actions if isinstance(a, SendReply) and a.message_type is mtype]


def events(lab, kind):
    return [a for a in lab.responder.actions if isinstance(a, kind)]


def test_udhcpc_gets_the_masters_address_renews_and_releases(lab):
    lab.set_client_mac(UDHCPC_MAC)
    proc, state = lab.start_udhcpc(hostname="phone-u")
    assert wait_for(lambda: line_starting(state, "bound"), 10), state_lines(state)
    ip = lab.master.leases[UDHCPC_MAC]
    assert lab.client_addresses() == [f"{ip}/16"]
    bound = line_starting(state, "bound")[0]
    assert f"ip={ip} " in bound and f"router={SERVER_ID} " in bound and f"serverid={SERVER_ID}" in bound
    assert f"dns={SERVER_ID} " in bound and "domain=mesh.test " in bound and "lease=600" in bound
    assert [(e.mac, e.ip, e.hostname) for e in events(lab, ClientBound)] == [(UDHCPC_MAC, ip, "phone-u")]
    # the configured address works: the client reaches the gateway
    lab.ns_run(lab.client_ns, "ping", "-c", "1", "-W", "2", str(SERVER_ID))

    # RENEWING: udhcpc unicasts a REQUEST through its kernel socket; our unicast ACK reaches it
    proc.send_signal(signal.SIGUSR1)
    assert wait_for(lambda: line_starting(state, "renew"), 5), state_lines(state)
    renewals = [m for m in lab.responder.messages() if m.message_type is MessageType.DHCPREQUEST and m.ciaddr == ip]
    assert renewals and len(replies(lab, MessageType.DHCPACK)) == 2
    assert not replies(lab, MessageType.DHCPNAK)

    proc.send_signal(signal.SIGUSR2)  # release
    assert wait_for(lambda: events(lab, ClientReleased), 5)
    assert events(lab, ClientReleased)[0].ip == ip
    assert wait_for(lambda: lab.client_addresses() == [], 5)
    assert lab.master.asked[-1].op == "release"


def test_dhclient_gets_the_address_keeps_it_on_reboot_and_releases(lab):
    lab.set_client_mac(DHCLIENT_MAC)
    proc, state = lab.start_dhclient(hostname="laptop-d")
    assert wait_for(lambda: line_starting(state, "BOUND"), 15), state_lines(state)
    ip = lab.master.leases[DHCLIENT_MAC]
    assert lab.client_addresses() == [f"{ip}/16"]
    bound = line_starting(state, "BOUND")[0]
    assert f"router={SERVER_ID} " in bound and "mask=255.255.0.0" in bound and "domain=mesh.test" in bound
    assert events(lab, ClientBound)[0].hostname == "laptop-d"

    proc.terminate()  # stop without releasing; INIT-REBOOT on the next start
    proc.wait(timeout=10)
    proc, state = lab.start_dhclient(hostname="laptop-d")
    assert wait_for(lambda: line_starting(state, "REBOOT"), 15), state_lines(state)
    assert lab.client_addresses() == [f"{ip}/16"]
    reboot = [m for m in lab.responder.messages() if m.message_type is MessageType.DHCPREQUEST][-1]
    assert reboot.server_id is None and reboot.requested_ip == ip

    lab.release_dhclient(hostname="laptop-d")
    assert wait_for(lambda: events(lab, ClientReleased), 5)
    assert events(lab, ClientReleased)[0].ip == ip


def test_master_unavailable_cached_client_renews_new_client_gets_nothing(lab):
    lab.set_client_mac(UDHCPC_MAC)
    proc, state = lab.start_udhcpc()
    assert wait_for(lambda: line_starting(state, "bound"), 10), state_lines(state)
    ip = lab.master.leases[UDHCPC_MAC]

    lab.master.mode = "unavailable"
    time.sleep(1.0)
    proc.send_signal(signal.SIGUSR1)
    assert wait_for(lambda: line_starting(state, "renew"), 5), state_lines(state)
    lease = int(line_starting(state, "renew")[0].split("lease=")[1].split()[0])
    assert lease < 600  # only what is left of the lease the master granted
    assert [e.from_cache for e in events(lab, ClientBound)] == [False, True]
    proc.terminate()
    proc.wait(timeout=5)

    # A client the server never acknowledged waits: no address, and never a NAK.
    lab.set_client_mac("02:00:00:d4:10:03")
    script, state2 = lab.udhcpc_files()
    result = lab.ns_run(lab.client_ns, "udhcpc", "-f", "-n", "-q", "-i", CLIENT_IF, "-s", str(script),
                        "-t", "2", "-T", "1", "-A", "1", check=False)
    assert result.returncode != 0
    assert lab.client_addresses() == []
    assert not replies(lab, MessageType.DHCPNAK)
    assert lab.server.counters.drops["master_unavailable"] >= 2
    assert "02:00:00:d4:10:03" not in lab.master.leases
    assert ip == IPv4Address("10.99.0.100")
