"""NodeAgent, the hub that wires DHCP, presence, the master and the kernel,
without root: the fake kernel (l3roam/kernel/fake.py), a fake DHCP socket and
a fake link monitor, against a real master (MasterServer with its SQLite
store, in a thread on loopback).  The same paths run on the real kernel in
tests/netns/test_node_agent.py and test_node_teardown.py."""

from __future__ import annotations

import os
import threading
import time
from ipaddress import IPv4Address, IPv4Interface, IPv6Address

import pytest

from l3roam.config import load_data
from l3roam.core.dhcp_actions import Received
from l3roam.kernel.fake import FakeKernel, FakeLinkMonitor
from l3roam.kernel.interface import LinkDown, LinkUp
from l3roam.kernel.sysctl import gateway_sysctls
from l3roam.master.client import MasterClient
from l3roam.master.config import MasterConfig
from l3roam.master.server import MasterServer
from l3roam.master.store import open_store
from l3roam.node.agent import QUIET_METRIC, NodeAgent
from l3roam.node.config import NodeConfig
from l3roam.proto import dhcp
from l3roam.proto.control import Field, MessageType
from l3roam.proto.dhcp import DhcpMessage, MessageType as DT, Option

KEY = "66616b652d6b65726e656c2d746573742d6b6579"
MAC = "02:00:00:0a:00:01"
GW_MAC = "02:1e:00:00:00:01"
SID1, SID2 = IPv6Address("fc00:0:1::d4"), IPv6Address("fc00:0:2::d4")


class FakeDhcpIO:
    """DhcpSocket's surface: a pollable pipe, queued requests, recorded replies."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self.queue: list[tuple[bytes, Received]] = []
        self.sent: list = []

    def push(self, payload: bytes, meta: Received) -> None:
        self.queue.append((payload, meta))
        os.write(self._w, b"x")

    def fileno(self) -> int:
        return self._r

    def recv_batch(self, limit: int = 256):
        try:
            os.read(self._r, 4096)
        except BlockingIOError:
            pass
        out, self.queue = self.queue, []
        return out

    def send(self, reply) -> None:
        self.sent.append(reply)

    def replies(self, mtype: DT) -> list[DhcpMessage]:
        return [m for m in (dhcp.decode(s.payload) for s in self.sent) if m.message_type is mtype]

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def master(tmp_path):
    cfg = load_data(MasterConfig, {"listen": f"127.0.0.1:{free_udp_port()}", "key": KEY, "metrics_listen": None,
                                   "pools": [{"prefix": "10.99.0.0/16", "exclude": ["10.99.0.1"]}],
                                   "notify": {"retry_initial_ms": 50}})
    server = MasterServer(cfg, open_store("sqlite", tmp_path / "master.db"), bytes.fromhex(KEY))
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.running = False
    os.write(server._wake_w, b"x")  # out of its select at once, not after the 1 s sweep
    t.join(10)


def node_config(**over) -> NodeConfig:
    data = {"node_id": "ap1", "master": "127.0.0.1:1", "key": KEY, "client_interface": "cell0",
            "gateway": "10.99.0.1/16", "gateway_mac": GW_MAC, "mesh_interfaces": ["mesh0"],
            "handoff": {"sid": str(SID1), "withdraw_delay_seconds": 0.2, "window_seconds": 0.6},
            "dns": {"enabled": False}, "hello_seconds": 0.5, "master_deadline_seconds": 1.0}
    data.update(over)
    return load_data(NodeConfig, data)


@pytest.fixture
def node(master):
    kernel = FakeKernel(["cell0", "mesh0"])
    kernel.links["cell0"].mac = "aa:aa:aa:00:00:01"
    kernel.links["cell0"].up = False
    kernel.links["cell0"].addresses = {IPv4Interface("10.99.0.1/16")}  # setup must take it off
    kernel.sysctls.update({"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "0",
                           "net.ipv4.conf.cell0.proxy_arp": "0", "net.ipv4.neigh.cell0.proxy_delay": "80"})
    for key, _ in gateway_sysctls("cell0"):
        kernel.sysctls.setdefault(key, "0")
    client = MasterClient("ap1", bytes.fromhex(KEY), master.address, deadline=1.0)
    io, monitor = FakeDhcpIO(), FakeLinkMonitor()
    agent = NodeAgent(node_config(master=f"127.0.0.1:{master.address[1]}"), kernel, client, None, monitor)
    agent.start()
    agent.attach_dhcp(io)
    agent.io, agent.monitor_fake = io, monitor
    yield agent
    agent.close()
    client.close()
    io.close()
    monitor.close()


def run_until(agent: NodeAgent, pred, timeout: float = 5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        agent.step()
        if pred():
            return True
    return bool(pred())


def request(mtype: DT, mac: str = MAC, xid: int = 1, **options: bytes) -> bytes:
    opts = {Option.DHCP_MESSAGE_TYPE: bytes((mtype,))}
    opts.update({int(k): v for k, v in options.items()})
    return dhcp.encode(DhcpMessage(op=1, xid=xid, chaddr=bytes.fromhex(mac.replace(":", "")), options=opts))


def meta(mac: str = MAC) -> Received:
    return Received("cell0", mac, IPv4Address("0.0.0.0"), 68, IPv4Address("255.255.255.255"))


def lease(node: NodeAgent, mac: str = MAC) -> IPv4Address:
    """A whole DORA through the agent; returns the acknowledged address."""
    def reply(mtype: DT):
        return next((m for m in reversed(node.io.replies(mtype)) if m.mac == mac), None)

    node.io.push(request(DT.DHCPDISCOVER, mac), meta(mac))
    assert run_until(node, lambda: reply(DT.DHCPOFFER))
    offer = reply(DT.DHCPOFFER)
    node.io.push(request(DT.DHCPREQUEST, mac, **{str(int(Option.REQUESTED_IP_ADDRESS)): offer.yiaddr.packed,
                                                 str(int(Option.SERVER_IDENTIFIER)): bytes([10, 99, 0, 1])}),
                 meta(mac))
    assert run_until(node, lambda: reply(DT.DHCPACK))
    return reply(DT.DHCPACK).yiaddr


def test_start_sets_up_the_gateway_and_the_sid(node):
    k = node.kernel
    assert k.links["cell0"].mac == GW_MAC and k.links["cell0"].up
    assert k.links["cell0"].addresses == {IPv4Interface("10.99.0.1/32")}
    assert k.sysctls["net.ipv4.conf.cell0.proxy_arp"] == "1" and k.sysctls["net.ipv4.neigh.cell0.proxy_delay"] == "0"
    assert k.sids == {SID1: "cell0"}


def test_dhcp_through_the_master_installs_the_client_route(node, master):
    ip = lease(node)
    assert ip in IPv4Interface("10.99.0.1/16").network and ip != IPv4Address("10.99.0.1")
    assert node.kernel.routes[(ip, 0)].ifname == "cell0" and node.kernel.routes[(ip, 0)].proto == 44
    assert node.metrics.value("dhcp_total", kind="sent_dhcpack") == 1
    ans = MasterClient("probe", bytes.fromhex(KEY), master.address).call(MessageType.QUERY, {Field.MAC: MAC})
    assert ans.ok and ans.ip == ip and ans.node == "ap1"


def test_association_event_claims_and_greets_a_leased_client(node):
    ip = lease(node)
    node.monitor_fake.push(LinkDown("sta-1"))  # unknown port: ignored
    node.monitor_fake.push(LinkUp("sta-1", "02:00:00:00:ff:01", alias=MAC, master="cell0"))
    assert run_until(node, lambda: any(a[1] == IPv4Address("10.99.0.1") and a[3] == MAC for a in node.kernel.arps))
    assert node.kernel.routes[(ip, 0)].proto == 44


def test_move_notice_hands_off_then_withdraws(node, master):
    ip = lease(node)
    other = MasterClient("ap2", bytes.fromhex(KEY), master.address)
    assert other.call(MessageType.HELLO, {Field.HANDOFF: SID2}).ok
    seq = other.call(MessageType.QUERY, {Field.MAC: MAC}).seq
    assert other.call(MessageType.CLAIM, {Field.MAC: MAC, Field.SEQ: seq + 1}).ok
    # 1. the announced redirect (our protocol, metric 0) towards ap2's SID
    assert run_until(node, lambda: node.kernel.routes.get((ip, 0)) is not None
                     and node.kernel.routes[(ip, 0)].sid == SID2)
    assert node.kernel.routes[(ip, 0)].proto == 44 and node.kernel.routes[(ip, 0)].ifname == "mesh0"
    # 2. withdrawn, an unannounced copy at metric 50 stays
    assert run_until(node, lambda: (ip, 0) not in node.kernel.routes and (ip, QUIET_METRIC) in node.kernel.routes)
    assert node.kernel.routes[(ip, QUIET_METRIC)].proto != 44
    # 3. the window ends: nothing left for that client
    assert run_until(node, lambda: not any(k[0] == ip for k in node.kernel.routes))
    other.close()


def test_teardown_restores_link_sysctls_and_removes_routes_and_sid(node):
    ip = lease(node)
    assert (ip, 0) in node.kernel.routes
    assert node.teardown() == []
    k = node.kernel
    assert k.routes == {} and k.sids == {}
    assert k.links["cell0"].mac == "aa:aa:aa:00:00:01" and not k.links["cell0"].up
    assert k.links["cell0"].addresses == {IPv4Interface("10.99.0.1/16")}
    assert k.sysctls["net.ipv4.ip_forward"] == "0" and k.sysctls["net.ipv6.conf.all.forwarding"] == "0"
    assert k.sysctls["net.ipv4.neigh.cell0.proxy_delay"] == "80"
    assert node.teardown() == []  # twice is harmless


def test_malformed_packets_and_kernel_failures_are_counted_and_the_loop_goes_on(node):
    node.io.push(b"\x01" * 40, meta())  # too short for BOOTP
    node.io.push(b"", meta())
    assert run_until(node, lambda: node.dhcp.counters.drops)
    cell = node.kernel.links.pop("cell0")  # every route install now fails (ENODEV)
    failed = lease(node)
    assert (failed, 0) not in node.kernel.routes
    assert node.metrics.value("errors_total", where="InstallRoute") == 1
    node.kernel.links["cell0"] = cell
    ip = lease(node, "02:00:00:0a:00:02")
    assert (ip, 0) in node.kernel.routes
    text = node.metrics.render()
    assert "l3roam_node_dhcp_dropped" in text


def test_hello_tells_the_master_our_sid(node, master):
    assert run_until(node, lambda: "ap1" in master.service.nodes, timeout=3)
