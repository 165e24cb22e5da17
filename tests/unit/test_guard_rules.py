"""The station binding ruleset text and the parsing of nft's JSON (pure parts).

The rules themselves are exercised on the real kernel in
tests/netns/test_station_guard.py; here: what goes into the text.
"""

from ipaddress import IPv4Address

from l3roam.kernel import guard_rules as G

GW = IPv4Address("10.99.0.1")


def test_bridge_ruleset_filters_every_port_but_the_trusted_and_keeps_bindings():
    s = G.GuardSettings("cell0", True, GW, ("uplink0",), dhcp_port_rate=7, dhcp_mac_rate=3)
    text = G.ruleset(s, [G.Binding("02:c1:00:00:00:01", IPv4Address("10.99.0.5"))])
    assert text.startswith("add table bridge l3roam_guard\ndelete table bridge l3roam_guard\n")
    assert "hook prerouting" in text and 'iifname != @trusted' in text
    assert 'elements = { "uplink0" }' in text
    assert "elements = { 02:c1:00:00:00:01 . 10.99.0.5 }" in text
    assert "limit rate over 7/second" in text and "limit rate over 3/second" in text
    assert f"ip daddr {{ 255.255.255.255, {GW} }} udp sport 68 udp dport 67" in text
    for reason in G.REASONS:
        assert f"counter {reason} {{}}" in text


def test_plain_interface_uses_netdev_ingress_of_that_device():
    text = G.ruleset(G.GuardSettings("eth1", False, GW))
    assert "table netdev l3roam_guard" in text
    assert 'hook ingress device "eth1"' in text and "@trusted ether" not in text


def test_unbind_is_idempotent_in_one_transaction():
    s = G.GuardSettings("cell0", True, GW)
    b = G.Binding("02:c1:00:00:00:01", IPv4Address("10.99.0.5"))
    lines = G.del_binding(s, b).splitlines()
    assert lines[0].startswith("add element") and lines[1].startswith("delete element")


def test_parse_bindings_and_counters_from_nft_json():
    listing = [{"metainfo": {}}, {"set": {"name": "bound", "elem": [
        {"concat": ["02:C1:00:00:00:01", "10.99.0.5"]}]}}]
    assert G.parse_bindings(listing) == [G.Binding("02:c1:00:00:00:01", IPv4Address("10.99.0.5"))]
    assert G.parse_bindings([{"set": {"name": "bound"}}]) == []
    counters = [{"counter": {"name": "ipv4_unbound", "packets": 12}}, {"counter": {"name": "x", "packets": 1}}]
    got = G.parse_counters(counters)
    assert got["ipv4_unbound"] == 12 and got["arp_unbound"] == 0 and "x" not in got
