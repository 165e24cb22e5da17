"""DHCP server decisions, driven by golden client messages and a scripted master."""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from l3roam.config import load_data
from l3roam.core.dhcp_server import (
    AskMaster,
    ClientBound,
    ClientDeclined,
    ClientReleased,
    DhcpServer,
    DhcpServerSettings,
    Dropped,
    MasterAnswer,
    Received,
    SendReply,
)
from l3roam.errors import ConfigError
from l3roam.proto import dhcp
from l3roam.proto.dhcp import DhcpMessage, MessageType, Option

DATA = Path(__file__).resolve().parent.parent / "data"
A = IPv4Address
GW = A("10.99.0.1")
BCAST = A("255.255.255.255")
UDHCPC_MAC = "02:00:00:d4:00:01"
DHCLIENT_MAC = "02:00:00:d4:00:02"
OK_100 = MasterAnswer("ok", A("10.99.0.100"), 600)
UNAVAILABLE = MasterAnswer("unavailable", reason="timeout")


def settings(**kw) -> DhcpServerSettings:
    base = dict(server_id=GW, subnet=IPv4Network("10.99.0.0/16"), domain="mesh", lease_time=600, mtu=1400,
                relays=frozenset({A("10.50.0.1"), A("192.0.2.1")}))
    base.update(kw)
    return DhcpServerSettings(**base)


@pytest.fixture
def server() -> DhcpServer:
    return DhcpServer(settings())


def golden(name: str) -> DhcpMessage:
    return dhcp.decode((DATA / name).read_bytes())


def meta(mac: str = UDHCPC_MAC, dst: IPv4Address = BCAST, src: IPv4Address = A(0)) -> Received:
    return Received("wlan0", mac, src, 68, dst)


def msg(mtype: MessageType, mac: str = "02:00:00:00:00:09", xid: int = 7, **fields) -> DhcpMessage:
    options = {Option.DHCP_MESSAGE_TYPE: bytes((mtype,))}
    options.update(fields.pop("options", {}))
    return DhcpMessage(op=1, xid=xid, chaddr=bytes.fromhex(mac.replace(":", "")), options=options, **fields)


def only(actions, kind):
    found = [a for a in actions if isinstance(a, kind)]
    assert len(found) == 1, actions
    return found[0]


def reply_of(actions) -> tuple[SendReply, DhcpMessage]:
    send = only(actions, SendReply)
    return send, dhcp.decode(send.payload)


def opts(reply: DhcpMessage) -> dict[int, bytes]:
    return reply.options


# --- DISCOVER / OFFER / REQUEST / ACK with real clients' messages -------


def test_udhcpc_dora(server):
    ask = only(server.handle(golden("udhcpc-discover.bin"), meta(), 1.0), AskMaster)
    assert (ask.op, ask.mac, ask.hostname, ask.interface) == ("offer", UDHCPC_MAC, "golden-udhcpc", "wlan0")
    assert ask.client_id == b"\x01" + bytes.fromhex("020000d40001")
    send, offer = reply_of(server.on_master_answer(ask.token, OK_100, 1.1))
    assert offer.message_type is MessageType.DHCPOFFER
    assert offer.yiaddr == A("10.99.0.100") and offer.xid == golden("udhcpc-discover.bin").xid
    assert offer.server_id == GW and offer.lease_time == 600
    assert offer.u32_option(Option.RENEWAL_TIME_VALUE) == 300
    assert offer.u32_option(Option.REBINDING_TIME_VALUE) == 525
    assert offer.ip_option(Option.SUBNET_MASK) == A("255.255.0.0")
    assert offer.ip_list_option(Option.ROUTER) == [GW]
    assert offer.ip_list_option(Option.DOMAIN_NAME_SERVER) == [GW]
    assert offer.text_option(Option.DOMAIN_NAME) == "mesh"
    assert offer.client_id == ask.client_id  # RFC 6842
    # RFC 2131 §4.1: no broadcast bit, no giaddr, no ciaddr -> unicast to chaddr/yiaddr
    assert (send.dst_mac, send.dst_ip, send.dst_port, send.broadcast) == (UDHCPC_MAC, A("10.99.0.100"), 68, False)

    actions = server.handle(golden("udhcpc-request-selecting.bin"), meta(), 2.0)
    ask = only(actions, AskMaster)
    assert (ask.op, ask.requested_ip) == ("bind", A("10.99.0.100"))
    actions = server.on_master_answer(ask.token, OK_100, 2.1)
    send, ack = reply_of(actions)
    assert ack.message_type is MessageType.DHCPACK and ack.yiaddr == A("10.99.0.100") and ack.lease_time == 600
    bound = only(actions, ClientBound)
    assert bound == ClientBound(UDHCPC_MAC, A("10.99.0.100"), "wlan0", "golden-udhcpc", 602.1)
    assert server.cached_lease(UDHCPC_MAC, 3.0) == (A("10.99.0.100"), 602.1)
    assert server.counters.replies == {"DHCPOFFER": 1, "DHCPACK": 1}
    assert server.counters.received == {"DHCPDISCOVER": 1, "DHCPREQUEST": 1}


def bind(server: DhcpServer, mac: str = UDHCPC_MAC, ip: str = "10.99.0.100", now: float = 0.0) -> None:
    """Bring a client to BOUND through SELECTING."""
    req = msg(MessageType.DHCPREQUEST, mac, options={
        Option.SERVER_IDENTIFIER: GW.packed, Option.REQUESTED_IP_ADDRESS: A(ip).packed})
    ask = only(server.handle(req, meta(mac), now), AskMaster)
    only(server.on_master_answer(ask.token, MasterAnswer("ok", A(ip), 600), now), ClientBound)


def test_dhclient_selecting_and_init_reboot(server):
    ask = only(server.handle(golden("dhclient-discover.bin"), meta(DHCLIENT_MAC), 0), AskMaster)
    assert ask.hostname == "golden-dhclient" and ask.client_id is None
    server.on_master_answer(ask.token, MasterAnswer("ok", A("10.99.0.101"), 600), 0)
    ask = only(server.handle(golden("dhclient-request-selecting.bin"), meta(DHCLIENT_MAC), 1), AskMaster)
    assert ask.requested_ip == A("10.99.0.101")
    server.on_master_answer(ask.token, MasterAnswer("ok", A("10.99.0.101"), 600), 1)
    # INIT-REBOOT: requested address, no server id -> ask the master to bind it
    reboot = golden("dhclient-request-init-reboot.bin")
    ask = only(server.handle(reboot, meta(DHCLIENT_MAC), 2), AskMaster)
    assert (ask.op, ask.requested_ip) == ("bind", A("10.99.0.101"))
    send, ack = reply_of(server.on_master_answer(ask.token, MasterAnswer("ok", A("10.99.0.101"), 600), 2))
    assert ack.message_type is MessageType.DHCPACK and ack.xid == reboot.xid


def test_init_reboot_refused_by_master_is_naked(server):
    ask = only(server.handle(golden("dhclient-request-init-reboot.bin"), meta(DHCLIENT_MAC), 0), AskMaster)
    send, nak = reply_of(server.on_master_answer(ask.token, MasterAnswer("refused", reason="taken"), 0))
    assert nak.message_type is MessageType.DHCPNAK
    assert nak.yiaddr == A(0) and nak.server_id == GW and nak.options[Option.MESSAGE] == b"taken"
    assert Option.LEASE_TIME not in nak.options
    # RFC 2131 §4.1: a NAK that is not relayed is broadcast
    assert (send.dst_ip, send.dst_mac, send.broadcast) == (BCAST, "ff:ff:ff:ff:ff:ff", True)


def test_init_reboot_on_the_wrong_network_is_naked_without_asking(server):
    req = msg(MessageType.DHCPREQUEST, options={Option.REQUESTED_IP_ADDRESS: A("192.168.1.5").packed})
    actions = server.handle(req, meta(), 0)
    assert not [a for a in actions if isinstance(a, AskMaster)]
    assert reply_of(actions)[1].message_type is MessageType.DHCPNAK


def test_master_answers_another_address_for_a_request_gives_nak(server):
    ask = only(server.handle(golden("udhcpc-request-selecting.bin"), meta(), 0), AskMaster)
    _, reply = reply_of(server.on_master_answer(ask.token, MasterAnswer("ok", A("10.99.0.55"), 600), 0))
    assert reply.message_type is MessageType.DHCPNAK


def test_request_for_another_server_forgets_the_offer(server):
    ask = only(server.handle(golden("udhcpc-discover.bin"), meta(), 0), AskMaster)
    server.on_master_answer(ask.token, OK_100, 0)
    other = golden("udhcpc-request-selecting.bin")
    other.options[Option.SERVER_IDENTIFIER] = A("10.99.0.2").packed
    actions = server.handle(other, meta(), 1)
    assert actions == [Dropped("other_server", UDHCPC_MAC)]
    assert server._offers == {}
    # a SELECTING request without requested IP can no longer fall back to the offer
    req = golden("udhcpc-request-selecting.bin")
    del req.options[Option.REQUESTED_IP_ADDRESS]
    assert server.handle(req, meta(), 2) == [Dropped("no_requested_ip", UDHCPC_MAC)]


def test_renewing_is_answered_by_unicast_to_ciaddr(server):
    bind(server)
    renew = golden("udhcpc-request-renewing.bin")
    ask = only(server.handle(renew, meta(dst=GW, src=A("10.99.0.100")), 100), AskMaster)
    assert (ask.op, ask.requested_ip) == ("bind", A("10.99.0.100"))
    assert server._pending[ask.token].state.value == "renewing"
    send, ack = reply_of(server.on_master_answer(ask.token, OK_100, 100))
    assert ack.message_type is MessageType.DHCPACK and ack.ciaddr == A("10.99.0.100")
    assert (send.dst_ip, send.dst_mac, send.dst_port, send.broadcast) == (A("10.99.0.100"), UDHCPC_MAC, 68, False)
    assert send.delay == 0.005  # udhcpc's connected send socket would swallow an immediate reply


def test_only_replies_to_ciaddr_are_delayed(server):
    ask = only(server.handle(golden("udhcpc-discover.bin"), meta(), 0), AskMaster)
    assert reply_of(server.on_master_answer(ask.token, OK_100, 0))[0].delay == 0
    no_delay = DhcpServer(settings(unicast_reply_delay=0))
    bind(no_delay)
    ask = only(no_delay.handle(golden("udhcpc-request-renewing.bin"), meta(dst=GW), 1), AskMaster)
    assert reply_of(no_delay.on_master_answer(ask.token, OK_100, 1))[0].delay == 0


def test_rebinding_is_recognised_and_answered_to_ciaddr(server):
    bind(server)
    ask = only(server.handle(golden("udhcpc-request-rebinding.bin"), meta(dst=BCAST), 100), AskMaster)
    assert server._pending[ask.token].state.value == "rebinding"
    send, ack = reply_of(server.on_master_answer(ask.token, OK_100, 100))
    assert send.dst_ip == A("10.99.0.100") and not send.broadcast


def test_broadcast_flag_gets_a_broadcast_reply(server):
    disc = golden("udhcpc-discover.bin")
    disc.flags = dhcp.BROADCAST_FLAG
    ask = only(server.handle(disc, meta(), 0), AskMaster)
    send, offer = reply_of(server.on_master_answer(ask.token, OK_100, 0))
    assert (send.dst_ip, send.dst_mac, send.broadcast) == (BCAST, "ff:ff:ff:ff:ff:ff", True)
    assert offer.flags == dhcp.BROADCAST_FLAG


def test_relayed_request_goes_to_the_relay_with_option_82_last(server):
    disc = golden("udhcpc-discover.bin")
    disc.giaddr = A("10.50.0.1")
    disc.flags = dhcp.BROADCAST_FLAG
    disc.options[Option.RELAY_AGENT_INFORMATION] = b"\x01\x04eth0"
    relay = Received("mesh0", "02:00:00:00:aa:aa", A("10.50.0.1"), 67, GW)
    ask = only(server.handle(disc, relay, 0), AskMaster)
    send, offer = reply_of(server.on_master_answer(ask.token, OK_100, 0))
    assert (send.dst_ip, send.dst_port, send.dst_mac, send.broadcast) == (A("10.50.0.1"), 67, "02:00:00:00:aa:aa", False)
    assert offer.giaddr == A("10.50.0.1")
    assert list(offer.options)[-1] == Option.RELAY_AGENT_INFORMATION
    assert offer.options[Option.RELAY_AGENT_INFORMATION] == b"\x01\x04eth0"
    # A relayed NAK sets the broadcast bit for the relay (RFC 2131 §4.3.2)
    req = golden("dhclient-request-init-reboot.bin")
    req.giaddr = A("10.50.0.1")
    ask = only(server.handle(req, relay, 1), AskMaster)
    send, nak = reply_of(server.on_master_answer(ask.token, MasterAnswer("refused"), 1))
    assert nak.message_type is MessageType.DHCPNAK and nak.broadcast and send.dst_ip == A("10.50.0.1")


def test_parameter_request_list_limits_optional_options(server):
    disc = msg(MessageType.DHCPDISCOVER, options={Option.PARAMETER_REQUEST_LIST: bytes([1, 3])})
    ask = only(server.handle(disc, meta(), 0), AskMaster)
    _, offer = reply_of(server.on_master_answer(ask.token, OK_100, 0))
    assert Option.SUBNET_MASK in offer.options and Option.ROUTER in offer.options
    assert Option.DOMAIN_NAME_SERVER not in offer.options and Option.DOMAIN_NAME not in offer.options
    assert Option.INTERFACE_MTU not in offer.options
    disc = msg(MessageType.DHCPDISCOVER, mac="02:00:00:00:00:0a", options={Option.PARAMETER_REQUEST_LIST: bytes([26])})
    ask = only(server.handle(disc, meta(), 0), AskMaster)
    _, offer = reply_of(server.on_master_answer(ask.token, OK_100, 0))
    assert dhcp.decode(dhcp.encode(offer)).options[Option.INTERFACE_MTU] == dhcp.u16(1400)


def test_lease_is_the_shorter_of_master_and_config(server):
    ask = only(server.handle(golden("udhcpc-discover.bin"), meta(), 0), AskMaster)
    _, offer = reply_of(server.on_master_answer(ask.token, MasterAnswer("ok", A("10.99.0.100"), 86400), 0))
    assert offer.lease_time == 600
    ask = only(server.handle(golden("dhclient-discover.bin"), meta(DHCLIENT_MAC), 0), AskMaster)
    _, offer = reply_of(server.on_master_answer(ask.token, MasterAnswer("ok", A("10.99.0.101"), 120), 0))
    assert offer.lease_time == 120 and offer.u32_option(Option.RENEWAL_TIME_VALUE) == 60


@pytest.mark.parametrize("bad", [None, "10.98.0.5", "10.99.0.1", "10.99.255.255", "10.99.0.0"])
def test_master_address_outside_the_client_prefix_is_never_offered(server, bad):
    ask = only(server.handle(golden("udhcpc-discover.bin"), meta(), 0), AskMaster)
    answer = MasterAnswer("ok", A(bad) if bad else None, 600)
    assert server.on_master_answer(ask.token, answer, 0) == [Dropped("master_bad_address", UDHCPC_MAC)]


def test_master_refusing_an_offer_means_silence(server):
    ask = only(server.handle(golden("udhcpc-discover.bin"), meta(), 0), AskMaster)
    assert server.on_master_answer(ask.token, MasterAnswer("refused"), 0) == [Dropped("master_refused", UDHCPC_MAC)]


# --- master unavailable ---------------------------------------------------


def test_unavailable_master_cached_client_is_renewed_for_its_remaining_time(server):
    bind(server, now=0.0)  # lease until 600
    renew = golden("udhcpc-request-renewing.bin")
    ask = only(server.handle(renew, meta(dst=GW), 400.0), AskMaster)
    actions = server.on_master_answer(ask.token, UNAVAILABLE, 400.0)
    send, ack = reply_of(actions)
    assert ack.message_type is MessageType.DHCPACK and ack.yiaddr == A("10.99.0.100")
    assert ack.lease_time == 200  # never past the end of the lease the master granted
    bound = only(actions, ClientBound)
    assert bound.from_cache and bound.lease_expires == 600.0


def test_unavailable_master_cached_client_rediscovering_gets_its_address(server):
    bind(server, now=0.0)
    ask = only(server.handle(golden("udhcpc-discover.bin"), meta(), 100.0), AskMaster)
    _, offer = reply_of(server.on_master_answer(ask.token, UNAVAILABLE, 100.0))
    assert offer.yiaddr == A("10.99.0.100") and offer.lease_time == 500


def test_forgotten_client_is_not_renewed_from_the_cache(server):
    bind(server, now=0.0)
    server.forget(UDHCPC_MAC)  # e.g. the master reported that the client moved to another AP
    ask = only(server.handle(golden("udhcpc-request-renewing.bin"), meta(dst=GW), 10.0), AskMaster)
    assert server.on_master_answer(ask.token, UNAVAILABLE, 10.0) == [Dropped("master_unavailable", UDHCPC_MAC)]


def test_unavailable_master_new_client_gets_no_reply_at_all(server):
    ask = only(server.handle(golden("dhclient-discover.bin"), meta(DHCLIENT_MAC), 0), AskMaster)
    assert server.on_master_answer(ask.token, UNAVAILABLE, 0) == [Dropped("master_unavailable", DHCLIENT_MAC)]
    for name in ("dhclient-request-init-reboot.bin", "dhclient-request-selecting.bin"):
        ask = only(server.handle(golden(name), meta(DHCLIENT_MAC), 1), AskMaster)
        actions = server.on_master_answer(ask.token, UNAVAILABLE, 1)
        assert actions == [Dropped("master_unavailable", DHCLIENT_MAC)]  # no NAK, no address


def test_unavailable_master_expired_or_other_address_is_not_acked(server):
    bind(server, now=0.0)
    renew = golden("udhcpc-request-renewing.bin")
    ask = only(server.handle(renew, meta(dst=GW), 700.0), AskMaster)  # lease ended at 600
    assert not [a for a in server.on_master_answer(ask.token, UNAVAILABLE, 700.0) if isinstance(a, SendReply)]
    bind(server, now=1000.0)
    renew.ciaddr = A("10.99.0.200")  # not the cached address
    ask = only(server.handle(renew, meta(dst=GW), 1001.0), AskMaster)
    assert not [a for a in server.on_master_answer(ask.token, UNAVAILABLE, 1001.0) if isinstance(a, SendReply)]


def test_unanswered_master_request_times_out_as_unavailable():
    server = DhcpServer(settings(master_timeout=2.0))
    bind(server, now=0.0)
    ask = only(server.handle(golden("udhcpc-request-renewing.bin"), meta(dst=GW), 10.0), AskMaster)
    assert server.next_deadline() == 12.0
    assert server.tick(11.9) == []
    actions = server.tick(12.0)
    assert reply_of(actions)[1].lease_time == 588  # the cached lease ends at 600
    assert server.next_deadline() is None
    assert server.on_master_answer(ask.token, OK_100, 12.5) == []  # late answer: ignored
    assert server.counters.drops["master_timeout"] == 1 and server.counters.drops["unknown_token"] == 1


def test_answer_for_unknown_token_is_ignored(server):
    assert server.on_master_answer(424242, OK_100, 0) == []
    ask = only(server.handle(golden("udhcpc-discover.bin"), meta(), 0), AskMaster)
    assert server.on_master_answer(ask.token, OK_100, 0)
    assert server.on_master_answer(ask.token, OK_100, 0) == []  # answered twice


# --- DECLINE, RELEASE, INFORM ---------------------------------------------


def test_release_tells_the_master_and_reports_the_client_gone(server):
    bind(server)
    actions = server.handle(golden("udhcpc-release.bin"), meta(dst=GW), 50)
    ask = only(actions, AskMaster)
    assert (ask.op, ask.requested_ip) == ("release", A("10.99.0.100"))
    assert only(actions, ClientReleased) == ClientReleased(UDHCPC_MAC, A("10.99.0.100"), "wlan0")
    assert not [a for a in actions if isinstance(a, SendReply)]  # RFC 2131: no reply to RELEASE
    assert server.cached_lease(UDHCPC_MAC, 51) is None
    assert server.on_master_answer(ask.token, MasterAnswer("ok"), 51) == []


def test_dhclient_release_golden(server):
    actions = server.handle(golden("dhclient-release.bin"), meta(DHCLIENT_MAC, dst=GW), 0)
    assert only(actions, ClientReleased).ip == A("10.99.0.101")


def test_release_for_another_server_is_ignored(server):
    rel = golden("udhcpc-release.bin")
    rel.options[Option.SERVER_IDENTIFIER] = A("10.99.0.2").packed
    assert server.handle(rel, meta(), 0) == [Dropped("other_server", UDHCPC_MAC)]


def test_decline_drops_the_cached_lease(server):
    bind(server)
    decline = msg(MessageType.DHCPDECLINE, UDHCPC_MAC, options={
        Option.REQUESTED_IP_ADDRESS: A("10.99.0.100").packed, Option.SERVER_IDENTIFIER: GW.packed})
    actions = server.handle(decline, meta(), 5)
    assert only(actions, AskMaster).op == "decline"
    assert only(actions, ClientDeclined) == ClientDeclined(UDHCPC_MAC, A("10.99.0.100"), "wlan0")
    assert not [a for a in actions if isinstance(a, SendReply)]
    assert server.cached_lease(UDHCPC_MAC, 6) is None
    no_ip = msg(MessageType.DHCPDECLINE, UDHCPC_MAC)
    assert server.handle(no_ip, meta(), 6) == [Dropped("decline_without_address", UDHCPC_MAC)]


def test_inform_is_acked_at_once_without_a_lease(server):
    inform = msg(MessageType.DHCPINFORM, ciaddr=A("10.99.3.3"), options={Option.PARAMETER_REQUEST_LIST: bytes([1, 3, 6])})
    actions = server.handle(inform, meta(dst=GW, src=A("10.99.3.3")), 0)
    assert only(actions, AskMaster).op == "inform"
    send, ack = reply_of(actions)
    assert ack.message_type is MessageType.DHCPACK and ack.yiaddr == A(0) and ack.ciaddr == A("10.99.3.3")
    assert Option.LEASE_TIME not in ack.options and Option.RENEWAL_TIME_VALUE not in ack.options
    assert ack.ip_list_option(Option.DOMAIN_NAME_SERVER) == [GW]
    assert (send.dst_ip, send.broadcast) == (A("10.99.3.3"), False)
    assert server.handle(msg(MessageType.DHCPINFORM), meta(), 0) == [Dropped("inform_without_ciaddr", "02:00:00:00:00:09")]


# --- overload, retransmissions, odd messages ---------------------------------


def test_pending_requests_are_bounded_and_new_discovers_shed():
    server = DhcpServer(settings(max_pending=3))
    asks = []
    for i in range(5):
        actions = server.handle(msg(MessageType.DHCPDISCOVER, f"02:00:00:00:01:{i:02x}"), meta(), 0)
        asks += [a for a in actions if isinstance(a, AskMaster)]
    assert len(asks) == 3 and server.pending_count == 3
    assert server.counters.drops["overload"] == 2
    # a client already in the handshake may still REQUEST (work in progress finishes first)
    req = msg(MessageType.DHCPREQUEST, "02:00:00:00:02:01", options={
        Option.SERVER_IDENTIFIER: GW.packed, Option.REQUESTED_IP_ADDRESS: A("10.99.0.9").packed})
    assert only(server.handle(req, meta(), 0), AskMaster).op == "bind"
    server.on_master_answer(asks[0].token, OK_100, 0)
    server.on_master_answer(asks[1].token, OK_100, 0)
    assert only(server.handle(msg(MessageType.DHCPDISCOVER, "02:00:00:00:01:09"), meta(), 0), AskMaster)


def test_discovers_are_shed_while_the_master_lags_except_for_cached_clients():
    server = DhcpServer(settings(shed_after=0.1))
    # a client bound earlier (its lease is in the cache)
    bound = "02:00:00:00:04:09"
    req = msg(MessageType.DHCPREQUEST, bound, options={
        Option.SERVER_IDENTIFIER: GW.packed, Option.REQUESTED_IP_ADDRESS: A("10.99.0.100").packed})
    ask = only(server.handle(req, meta(), 0.0), AskMaster)
    assert reply_of([a for a in server.on_master_answer(ask.token, OK_100, 0.0)
                     if isinstance(a, SendReply)])[1].message_type is MessageType.DHCPACK
    only(server.handle(msg(MessageType.DHCPDISCOVER, "02:00:00:00:04:01"), meta(), 1.0), AskMaster)
    # 50 ms later the master has not answered yet: still admitted
    only(server.handle(msg(MessageType.DHCPDISCOVER, "02:00:00:00:04:02"), meta(), 1.05), AskMaster)
    # 200 ms: the master lags; a new client is shed, the cached one is not
    assert server.handle(msg(MessageType.DHCPDISCOVER, "02:00:00:00:04:03"), meta(), 1.2) == [
        Dropped("overload", "02:00:00:00:04:03")]
    only(server.handle(msg(MessageType.DHCPDISCOVER, bound), meta(), 1.2), AskMaster)
    assert server.counters.drops["overload"] == 1


def test_lagging_master_sheds_raw_discovers_without_decoding_them():
    server = DhcpServer(settings(shed_after=0.1))
    first = only(server.handle(msg(MessageType.DHCPDISCOVER, "02:00:00:00:05:01"), meta(), 0.0), AskMaster)
    raw = dhcp.encode(msg(MessageType.DHCPDISCOVER, "02:00:00:00:05:02"))
    assert raw[240:243] == bytes([53, 1, 1])  # option 53 first, as the peek expects
    second = only(server.handle_bytes(raw, meta(), 0.05), AskMaster)
    raw3 = dhcp.encode(msg(MessageType.DHCPDISCOVER, "02:00:00:00:05:03"))
    assert server.handle_bytes(raw3, meta(), 0.5) == [Dropped("overload", "02:00:00:00:05:03")]
    # the rest of a shed DISCOVER is not even read: an option overrunning the
    # packet would make the decoder drop it as malformed
    broken = raw3[:243] + bytes([50, 200])
    assert server.handle_bytes(broken, meta(), 0.5) == [Dropped("overload", "02:00:00:00:05:03")]
    assert server.counters.received["DHCPDISCOVER"] == 4 and server.counters.received["malformed"] == 0
    for ask in (first, second):  # the master catches up: the same bytes reach the decoder
        server.on_master_answer(ask.token, MasterAnswer("refused", reason="test"), 0.5)
    assert server.handle_bytes(broken, meta(), 0.5)[0].reason.startswith("malformed")
    # a REQUEST is not shed by the lag, and goes through the decoder
    req = dhcp.encode(msg(MessageType.DHCPREQUEST, "02:00:00:00:05:03", options={
        Option.SERVER_IDENTIFIER: GW.packed, Option.REQUESTED_IP_ADDRESS: A("10.99.0.9").packed}))
    assert only(server.handle_bytes(req, meta(), 0.5), AskMaster).op == "bind"


def test_requests_are_bounded_too():
    server = DhcpServer(settings(max_pending=1))
    results = []
    for i in range(4):
        req = msg(MessageType.DHCPREQUEST, f"02:00:00:00:03:{i:02x}", options={
            Option.SERVER_IDENTIFIER: GW.packed, Option.REQUESTED_IP_ADDRESS: A("10.99.0.9").packed})
        results += server.handle(req, meta(), 0)
    assert len([a for a in results if isinstance(a, AskMaster)]) == 2
    assert server.counters.drops["overload"] == 2


def test_retransmitted_discover_asks_once_and_answers_the_latest(server):
    first = golden("udhcpc-discover.bin")
    ask = only(server.handle(first, meta(), 0), AskMaster)
    again = golden("udhcpc-discover.bin")
    again.xid = 0xABCDEF
    assert server.handle(again, meta(), 1) == [Dropped("awaiting_master", UDHCPC_MAC)]
    _, offer = reply_of(server.on_master_answer(ask.token, OK_100, 1))
    assert offer.xid == 0xABCDEF


@pytest.mark.parametrize(
    "change, reason",
    [
        (dict(op=2), "not_a_request"),
        (dict(htype=6), "not_ethernet"),
        (dict(options={}), "no_message_type"),
    ],
)
def test_odd_messages_are_dropped_and_counted(server, change, reason):
    m = dataclasses.replace(golden("udhcpc-discover.bin"), **change)
    assert server.handle(m, meta(), 0) == [Dropped(reason, None)]
    assert server.counters.drops[reason] == 1


def test_server_messages_from_clients_are_dropped(server):
    m = msg(MessageType.DHCPOFFER)
    assert server.handle(m, meta(), 0) == [Dropped("unexpected_type", "02:00:00:00:00:09")]


def test_request_without_any_address_is_dropped(server):
    assert server.handle(msg(MessageType.DHCPREQUEST), meta(), 0) == [
        Dropped("request_without_address", "02:00:00:00:00:09")]


def test_malformed_bytes_are_dropped_and_counted(server):
    actions = server.handle_bytes(b"\x01" * 100, meta(), 0)
    assert len(actions) == 1 and actions[0].reason.startswith("malformed: truncated")
    assert server.counters.drops["malformed"] == 1 and server.counters.received["malformed"] == 1


# --- settings -------------------------------------------------------------------


def test_settings_load_from_config_and_report_every_problem():
    ok = load_data(DhcpServerSettings, {"server_id": "10.99.0.1", "subnet": "10.99.0.0/16", "dns_servers": ["9.9.9.9"]})
    assert ok.dns_servers == (A("9.9.9.9"),)
    with pytest.raises(ConfigError) as info:
        load_data(DhcpServerSettings, {"server_id": "10.1.0.1", "subnet": "10.99.0.0/16", "mtu": 20,
                                       "t1_ratio": 0.9})
    keys = {p.key for p in info.value.problems}
    assert keys == {"server_id", "mtu", "t1_ratio"}


def test_reply_that_would_be_too_large_is_dropped_not_raised(server):
    disc = golden("udhcpc-discover.bin")
    disc.options[Option.CLIENT_IDENTIFIER] = b"\x00" + b"c" * 900  # echoed back (RFC 6842)
    disc.options[Option.RELAY_AGENT_INFORMATION] = b"r" * 700  # echoed back to the relay
    disc.giaddr = A("10.50.0.1")
    relay = Received("mesh0", "02:00:00:00:aa:aa", A("10.50.0.1"), 67, GW)
    ask = only(server.handle(disc, relay, 0), AskMaster)
    assert server.on_master_answer(ask.token, OK_100, 0) == [Dropped("reply_too_large", UDHCPC_MAC)]
    # the client's own limit (option 57) counts too
    disc = golden("udhcpc-discover.bin")
    disc.options[Option.CLIENT_IDENTIFIER] = b"\x00" + b"c" * 300
    ask = only(server.handle(disc, meta(), 0), AskMaster)
    assert server.on_master_answer(ask.token, OK_100, 0) == [Dropped("reply_too_large", UDHCPC_MAC)]


def test_retransmitted_request_asks_once(server):
    req = golden("udhcpc-request-selecting.bin")
    ask = only(server.handle(req, meta(), 0), AskMaster)
    assert server.handle(req, meta(), 0.5) == [Dropped("awaiting_master", UDHCPC_MAC)]
    assert reply_of(server.on_master_answer(ask.token, OK_100, 0.6))[1].message_type is MessageType.DHCPACK
    assert only(server.handle(req, meta(), 1), AskMaster).token != ask.token


def test_relayed_bind_is_marked_so_the_agent_installs_no_host_route():
    from ipaddress import IPv4Address as A

    from l3roam.core.dhcp_server import (ClientBound, DhcpServer, DhcpServerSettings, MasterAnswer,
                                         Received)
    from l3roam.proto import dhcp

    server = DhcpServer(DhcpServerSettings(server_id=A("10.99.0.1"),
                                           subnet=__import__("ipaddress").IPv4Network("10.99.0.0/16"),
                                           relays=frozenset({A("192.0.2.1")})))
    req = dhcp.DhcpMessage(op=dhcp.Op.BOOTREQUEST, xid=9, chaddr=bytes.fromhex("020000000009"),
                           giaddr=A("192.0.2.1"),
                           options={53: bytes([3]), 50: A("10.99.0.9").packed, 54: A("10.99.0.1").packed})
    acts = server.handle(req, Received("cell0", "02:00:00:00:00:09", A("192.0.2.1"), 67), now=0.0)
    ask = next(a for a in acts if type(a).__name__ == "AskMaster")
    out = server.on_master_answer(ask.token, MasterAnswer("ok", A("10.99.0.9"), 600), now=0.01)
    bound = [a for a in out if isinstance(a, ClientBound)]
    assert len(bound) == 1 and bound[0].relayed is True


def test_a_lease_remembered_from_a_claim_is_renewed_from_cache_while_the_master_is_down():
    from ipaddress import IPv4Address as A, IPv4Network as N

    from l3roam.core.dhcp_server import (ClientBound, DhcpServer, DhcpServerSettings, MasterAnswer,
                                         Received, SendReply)
    from l3roam.proto import dhcp

    server = DhcpServer(DhcpServerSettings(server_id=A("10.99.0.1"), subnet=N("10.99.0.0/16")))
    server.remember("02:00:00:00:00:0a", A("10.99.0.10"), 500.0, "cell0")
    renew = dhcp.DhcpMessage(op=dhcp.Op.BOOTREQUEST, xid=3, chaddr=bytes.fromhex("02000000000a"),
                             ciaddr=A("10.99.0.10"), options={53: bytes([3])})
    acts = server.handle(renew, Received("cell0", "02:00:00:00:00:0a", A("10.99.0.10"), 68,
                                         A("10.99.0.1")), now=100.0)
    ask = next(a for a in acts if type(a).__name__ == "AskMaster")
    out = server.on_master_answer(ask.token, MasterAnswer("unavailable"), now=102.0)
    bound = [a for a in out if isinstance(a, ClientBound)]
    assert bound and bound[0].from_cache and bound[0].ip == A("10.99.0.10")
    ack = dhcp.decode(next(a for a in out if isinstance(a, SendReply)).payload)
    assert ack.message_type is dhcp.MessageType.DHCPACK and ack.lease_time <= 398
