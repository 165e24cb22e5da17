"""Starvation limits of the DHCP engine: per-MAC rate, caps on outstanding offers, relays."""

from __future__ import annotations

from ipaddress import IPv4Address as A, IPv4Network

from l3roam.core.dhcp_server import (AskMaster, DhcpServer, DhcpServerSettings, Dropped, MasterAnswer,
                                     Received, SendReply)
from l3roam.proto.dhcp import DhcpMessage, MessageType, Option

GW = A("10.99.0.1")


def server(**kw) -> DhcpServer:
    return DhcpServer(DhcpServerSettings(server_id=GW, subnet=IPv4Network("10.99.0.0/16"), **kw))


def discover(mac: str, giaddr: A = A(0)) -> DhcpMessage:
    return DhcpMessage(op=1, xid=1, chaddr=bytes.fromhex(mac.replace(":", "")), giaddr=giaddr,
                       options={Option.DHCP_MESSAGE_TYPE: bytes((MessageType.DHCPDISCOVER,))})


def at(port: str | None) -> Received:
    return Received("cell0", "02:00:00:00:00:00", A(0), 68, A("255.255.255.255"), "cell0", port)


def mac(i: int) -> str:
    return f"02:ee:00:00:{i >> 8:02x}:{i & 255:02x}"


def offer(s: DhcpServer, m: str, port: str | None, now: float, i: int = 5) -> list:
    acts = s.handle(discover(m), at(port), now)
    asks = [a for a in acts if isinstance(a, AskMaster)]
    if not asks:
        return acts
    return s.on_master_answer(asks[0].token, MasterAnswer("ok", A(f"10.99.1.{i}"), 600), now)


def reasons(acts) -> list[str]:
    return [a.reason for a in acts if isinstance(a, Dropped)]


def test_one_mac_is_limited_to_its_burst_then_its_rate():
    s = server(mac_rate=1.0, mac_burst=3)
    got = [offer(s, mac(1), "sta-a", 0.0) for _ in range(5)]
    assert [bool(reasons(g)) for g in got] == [False, False, False, True, True]
    assert reasons(got[3]) == ["mac_rate"] and s.counters.drops["mac_rate"] == 2
    assert not reasons(offer(s, mac(1), "sta-a", 1.01))  # one token back after a second


def test_offers_per_port_are_capped_and_other_ports_still_served():
    s = server(max_offers_per_port=4, offer_hold=5.0)
    for i in range(4):
        assert any(isinstance(a, SendReply) for a in offer(s, mac(i), "sta-flood", 0.0, i + 2))
    assert reasons(offer(s, mac(99), "sta-flood", 0.1)) == ["port_offer_cap"]
    assert any(isinstance(a, SendReply) for a in offer(s, mac(200), "sta-real", 0.1, 200))
    assert s.outstanding_offers == 5
    # offers never requested lapse after offer_hold: the port may ask again
    s.tick(5.5)
    assert s.outstanding_offers == 0
    assert any(isinstance(a, SendReply) for a in offer(s, mac(100), "sta-flood", 5.6, 100))


def test_a_request_ends_the_offer_and_frees_its_place():
    s = server(max_offers_per_port=1)
    offer(s, mac(1), "sta-a", 0.0)
    req = DhcpMessage(op=1, xid=2, chaddr=bytes.fromhex(mac(1).replace(":", "")), options={
        Option.DHCP_MESSAGE_TYPE: bytes((MessageType.DHCPREQUEST,)),
        Option.SERVER_IDENTIFIER: GW.packed, Option.REQUESTED_IP_ADDRESS: A("10.99.1.5").packed})
    ask = next(a for a in s.handle(req, at("sta-a"), 0.1) if isinstance(a, AskMaster))
    s.on_master_answer(ask.token, MasterAnswer("ok", A("10.99.1.5"), 600), 0.2)
    assert s.outstanding_offers == 0
    assert not reasons(offer(s, mac(2), "sta-a", 0.3))


def test_global_cap_counts_offers_being_asked_too():
    s = server(max_offers=3, max_offers_per_port=3)
    for i in range(3):  # asked of the master, not answered yet
        assert any(isinstance(a, AskMaster) for a in s.handle(discover(mac(i)), at(f"p{i}"), 0.0))
    assert reasons(s.handle(discover(mac(9)), at("p9"), 0.0)) == ["offer_cap"]


def test_relayed_dhcp_only_from_configured_relays_or_interfaces():
    s = server(relays=frozenset({A("192.0.2.1")}), relay_interfaces=frozenset({"uplink0"}))
    d = discover(mac(1), giaddr=A("192.0.2.9"))
    foreign = Received("cell0", "x", A("192.0.2.9"), 67, GW, "mesh0")
    assert reasons(s.handle(d, foreign, 0.0)) == ["relay_not_allowed"]
    # a client on the AP that sets giaddr itself is no relay either
    assert reasons(s.handle(discover(mac(2), giaddr=A("192.0.2.1")), at("sta-a"), 0.0)) == ["relay_not_allowed"]
    ok = Received("cell0", "x", A("192.0.2.1"), 67, GW, "mesh0")
    assert any(isinstance(a, AskMaster) for a in s.handle(discover(mac(3), A("192.0.2.1")), ok, 0.0))
    via_if = Received("cell0", "x", A("198.51.100.7"), 67, GW, "uplink0")
    assert any(isinstance(a, AskMaster) for a in s.handle(discover(mac(4), A("198.51.100.7")), via_if, 0.0))
    assert s.counters.drops["relay_not_allowed"] == 2


def test_bad_limits_in_the_node_config_name_file_key_and_problem(tmp_path):
    import pytest

    from l3roam.errors import ConfigError
    from l3roam.node import config as nconfig

    f = tmp_path / "node.yaml"
    f.write_text("node_id: ap1\nmaster: 10.0.0.1:4500\nkey: '" + "61" * 16 + "'\nclient_interface: cell0\n"
                 "gateway: 10.99.0.1/16\nhandoff: {enabled: false}\n"
                 "dhcp: {max_offers: 10, max_offers_per_port: 11, mac_rate: 0, relays: [nope]}\n"
                 "guard: {dhcp_port_rate: 0, trusted_ports: ['a-name-far-too-long']}\n"
                 "master_down: {serve_after_seconds: 60, lease_sync_seconds: 1}\n")
    with pytest.raises(ConfigError) as e:
        nconfig.load(f)
    text = str(e.value)
    assert str(f) in text
    for key in ("dhcp.max_offers_per_port", "dhcp.mac_rate", "dhcp.relays[0]", "guard.dhcp_port_rate",
                "guard.trusted_ports", "master_down.serve_after_seconds", "master_down.lease_sync_seconds"):
        assert key in text, (key, text)
