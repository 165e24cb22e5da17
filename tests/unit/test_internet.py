"""The testbed's exit to the internet: names, NAT, the default route in babel, and the AP rule."""

from pathlib import Path

import pytest

from l3roam.babel.config import BabelSettings, validate
from l3roam.errors import ConfigError
from l3roam.testbed import topology
from l3roam.testbed.internet import nat_ruleset, uplink_addresses
from l3roam.testbed.plan import Cmd, DeleteNetns, StartBabeld, plan

YAML = ("mesh: {shape: line, routers: 5}\naps: [r1, r3, r5]\nserver: r2\nmaster: r2\n"
        "internet: {exits: [r2, r4]}\n")


def _plan():
    topo = topology.loads(YAML, prefix="l3rt-in-u-")
    return topo, plan(topo, Path("/run/l3roam/l3rt-in-u"))


def test_exits_get_an_uplink_nat_and_a_default_route_in_babel_the_aps_do_not():
    topo, steps = _plan()
    assert topo.exits == ("r2", "r4")
    acts = [a for s in steps for a in s.do]
    created = [a.argv[3] for a in acts if isinstance(a, Cmd) and a.argv[:3] == ("ip", "netns", "add")]
    assert "l3rt-in-u-inet" in created
    assert DeleteNetns("l3rt-in-u-inet") in [a for s in steps for a in s.undo]
    batches = [a.stdin for a in acts if isinstance(a, Cmd) and a.stdin and "default via" in a.stdin]
    assert len(batches) == 2 and "via 192.0.2.2 dev inet0 proto 46" in batches[0]
    assert "via 192.0.2.6 dev inet0 proto 46" in batches[1]
    nft = [a for a in acts if isinstance(a, Cmd) and a.argv[-3:] == ("nft", "-f", "-")]
    assert [a.argv[3] for a in nft] == ["l3rt-in-u-r2", "l3rt-in-u-r4"]
    assert 'oifname "inet0" masquerade' in nft[0].stdin
    confs = {a.netns[len("l3rt-in-u-"):]: a.config for a in acts if isinstance(a, StartBabeld)}
    for r in ("r2", "r4"):
        assert "redistribute proto 46 ip 0.0.0.0/0 eq 0 allow" in confs[r]
        assert "proto 44" not in confs[r]  # an exit never redistributes client /32s
    for r in ("r1", "r3", "r5"):
        assert "0.0.0.0/0" not in confs[r] and "redistribute proto 44 ip 10.99.0.0/16 ge 32 allow" in confs[r]
    # babeld applies the first matching statement: the default must come before the final denies
    assert confs["r2"].index("0.0.0.0/0") < confs["r2"].index("redistribute local deny")


def test_an_exit_on_an_access_point_is_refused_naming_the_babeld_bug():
    with pytest.raises(ConfigError) as e:
        topology.loads(YAML.replace("[r2, r4]", "[r3]"))
    assert "internet.exits[0]" in str(e.value) and "flush_xroute" in str(e.value)
    with pytest.raises(ConfigError) as e:
        topology.loads(YAML.replace("[r2, r4]", "[r9]"))
    assert "no router 'r9'" in str(e.value)


def test_babel_settings_refuse_a_default_route_next_to_client_routes():
    ok = BabelSettings(router_id="02:00:00:00:0a:ff:00:02", client_prefix=None, default_route_proto=46)
    assert validate(ok) == []
    bad = BabelSettings(router_id="02:00:00:00:0a:ff:00:02", default_route_proto=46)
    assert any(p.key == "default_route_proto" and "flush_xroute" in p.problem for p in validate(bad))


def test_uplink_addresses_are_one_slash30_per_exit_and_inet_is_reserved():
    import ipaddress

    net = ipaddress.IPv4Network("192.0.2.0/24")
    assert [str(a) for a in uplink_addresses(net, 1)] == ["192.0.2.5", "192.0.2.6"]
    assert "srcnat" in nat_ruleset()
    with pytest.raises(ConfigError) as e:
        topology.loads("mesh: {shape: line, routers: 3}\naps: [r1, r3]\nclients: [{name: inet}]\n")
    assert "reserved" in str(e.value)
