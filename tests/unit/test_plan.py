"""The testbed build plan: names, pairing of every step with its undo."""

from pathlib import Path

from l3roam.testbed import topology
from l3roam.testbed.plan import Cmd, DeleteNetns, StartBabeld, StopBabeld, plan, radio_names

TOPO = topology.loads("mesh: {shape: line, routers: 3, rate: 10mbit}\naps: [r1, r3]\n"
                      "clients: [{name: c1}, {name: c2, ap: r3}]", prefix="l3rt-tb-u-")
STEPS = plan(TOPO, Path("/run/l3roam/l3rt-tb-u"))


def all_actions():
    return [a for s in STEPS for a in s.do + s.undo]


def test_every_namespace_has_the_prefix_and_is_deleted_on_undo():
    created = [a.argv[3] for a in all_actions() if isinstance(a, Cmd) and a.argv[:3] == ("ip", "netns", "add")]
    deleted = [a.name for a in all_actions() if isinstance(a, DeleteNetns)]
    assert sorted(created) == sorted(deleted)
    assert sorted(created) == sorted(["l3rt-tb-u-r1", "l3rt-tb-u-r2", "l3rt-tb-u-r3", "l3rt-tb-u-air",
                                      "l3rt-tb-u-c1", "l3rt-tb-u-c2"])


def test_every_babeld_started_is_stopped_and_its_config_is_host_routes_only():
    starts = [a for a in all_actions() if isinstance(a, StartBabeld)]
    stops = [a for a in all_actions() if isinstance(a, StopBabeld)]
    assert [s.directory for s in starts] == [s.directory for s in stops]
    r2 = next(s for s in starts if s.netns == "l3rt-tb-u-r2")
    assert "interface m-r1 type wired split-horizon false hello-interval 0.25" in r2.config
    assert "interface m-r3 type wired" in r2.config
    assert "redistribute local ip 10.255.0.2/32 eq 32 allow" in r2.config
    assert "local-path-readwrite /run/l3roam/l3rt-tb-u/r2/babeld.sock" in r2.config
    assert r2.config.rstrip().endswith("redistribute deny")


def test_links_are_created_inside_namespaces_with_short_names_and_tbf():
    adds = [a.argv for a in all_actions() if isinstance(a, Cmd) and a.argv[:3] == ("ip", "link", "add")]
    for argv in adds:
        assert argv.count("netns") == 2  # both ends created directly in their namespaces
        for i, word in enumerate(argv):
            if word in ("add", "name"):
                assert len(argv[i + 1]) <= 15
    tbf = [a for a in all_actions() if isinstance(a, Cmd) and "tbf" in a.argv]
    assert len(tbf) == 4 and all("10mbit" in a.argv for a in tbf)


def test_babeld_starts_last_so_interfaces_exist():
    kinds = [type(s.do[0]).__name__ for s in STEPS]
    first_babeld = kinds.index("StartBabeld")
    assert all(k == "StartBabeld" for k in kinds[first_babeld:])


def test_every_ap_gets_an_isolated_station_port_per_client_and_only_the_first_ap_is_associated():
    names = radio_names(TOPO, "c2")
    assert (names.client_end, names.bridge, names.ap_ends) == ("cl2", "ab2", {"r1": "ap2-1", "r3": "ap2-2"})
    assert len(set(names.index.values())) == len(names.index)  # no veth end shares its peer's index
    acts = [a for s in STEPS if s.what == "client c2" for a in s.do]
    ports = [a for a in acts if isinstance(a, Cmd) and a.argv[:4] == ("ip", "link", "add", "sta-c2")]
    assert [p.argv[5] for p in ports] == ["l3rt-tb-u-r1", "l3rt-tb-u-r3"]
    batches = [a.stdin for a in acts if isinstance(a, Cmd) and a.stdin]
    assert len(batches) == 2 and all("master cell0" in b and "isolated on" in b and
                                      "alias 02:00:00:00:c0:02" in b for b in batches)
    assoc = [a.argv for s in STEPS if s.what.startswith("associate c2") for a in s.do]
    assert assoc == [("ip", "-n", "l3rt-tb-u-air", "link", "set", "ap2-2", "up")]  # c2 starts at r3
    undo = [a.argv for s in STEPS if s.what == "client c2" for a in s.undo]
    assert ("ip", "-n", "l3rt-tb-u-air", "link", "del", "ab2") in undo
