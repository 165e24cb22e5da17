"""The testbed build plan: names, pairing of every step with its undo."""

from pathlib import Path

from l3roam.testbed import topology
from l3roam.testbed.plan import (
    AIR, Cmd, DeleteNetns, StartBabeld, StopBabeld, Sysctls, WaitLinkLocal, plan, radio_names,
)

TOPO = topology.loads("mesh: {shape: line, routers: 3, rate: 10mbit}\naps: [r1, r3]\n"
                      "clients: [{name: c1}, {name: c2, ap: r3}]", prefix="l3rt-tb-u-")
STEPS = plan(TOPO, Path("/run/l3roam/l3rt-tb-u"))


def all_actions():
    return [a for s in STEPS for a in s.do + s.undo]


def batch_lines(tool="ip", ns=None):
    argv = (tool, "-n", ns, "-batch", "-") if ns else (tool, "-batch", "-")
    return [line for a in all_actions() if isinstance(a, Cmd) and a.argv == argv for line in a.stdin.splitlines()]


def test_every_namespace_has_the_prefix_and_is_deleted_on_undo():
    created = [line.split()[2] for line in batch_lines() if line.startswith("netns add ")]
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
    adds = [line.split() for line in batch_lines() if line.startswith("link add ")]
    assert len(adds) == 2 + 2 * (1 + 2)  # two mesh links; per client one pair to the air, one per AP
    for argv in adds:
        assert argv.count("netns") == 2  # both ends created directly in their namespaces
        for i, word in enumerate(argv):
            if word in ("add", "name"):
                assert len(argv[i + 1]) <= 15
    tbf = batch_lines("tc", "l3rt-tb-u-r1") + batch_lines("tc", "l3rt-tb-u-r2") + batch_lines("tc", "l3rt-tb-u-r3")
    assert len(tbf) == 4 and all("tbf rate 10mbit" in line for line in tbf)


def test_bulk_build_few_processes_and_sysctls_in_process():
    cmds = [a for a in all_actions() if isinstance(a, Cmd)]
    # namespaces + links batches, one per router, one per client, the air, per-router tc, association moves
    assert len(cmds) <= 2 + 3 + 2 + 1 + 3 + 2 * 2
    sysctl = {a.netns: dict(a.items) for a in all_actions() if isinstance(a, Sysctls)}
    assert sysctl["l3rt-tb-u-r2"]["net.ipv4.ip_forward"] == "1"
    assert sysctl["l3rt-tb-u-r1"]["net.ipv4.neigh.cell0.proxy_delay"] == "0"
    assert "net.ipv4.ip_forward" not in sysctl["l3rt-tb-u-c1"]
    r1 = batch_lines("ip", "l3rt-tb-u-r1")
    assert "addr replace 10.255.0.1/32 dev lo" in r1 and "link set m-r2 up" in r1
    assert any(line.startswith("link add cell0 address 02:00:5e:00:99:01 type bridge") for line in r1)
    assert not any("cell0" in line for line in batch_lines("ip", "l3rt-tb-u-r2"))  # r2 is no AP


def test_babeld_waits_for_link_local_addresses_of_its_interfaces():
    kinds = [type(a).__name__ for s in STEPS for a in s.do]
    assert kinds.index("WaitLinkLocal") < kinds.index("StartBabeld")
    waits = {a.netns: set(a.interfaces) for s in STEPS for a in s.do if isinstance(a, WaitLinkLocal)}
    assert waits["l3rt-tb-u-r2"] == {"m-r1", "m-r3"}


def test_babeld_starts_last_so_interfaces_exist():
    kinds = [type(s.do[0]).__name__ for s in STEPS if s.do]
    first_babeld = kinds.index("StartBabeld")
    assert all(k == "StartBabeld" for k in kinds[first_babeld:])


def test_every_ap_gets_an_isolated_station_port_per_client_and_only_the_first_ap_is_associated():
    names = radio_names(TOPO, "c2")
    assert (names.client_end, names.bridge, names.ap_ends) == ("cl2", "ab2", {"r1": "ap2-1", "r3": "ap2-2"})
    assert len(set(names.index.values())) == len(names.index)  # no veth end shares its peer's index
    ports = [line.split() for line in batch_lines() if line.startswith("link add sta-c2 ")]
    assert [argv[argv.index("netns") + 1] for argv in ports] == ["l3rt-tb-u-r1", "l3rt-tb-u-r3"]
    for ap in ("l3rt-tb-u-r1", "l3rt-tb-u-r3"):
        lines = batch_lines(ns=ap)
        assert {"link set sta-c2 master cell0", "link set sta-c2 type bridge_slave isolated on",
                "link set sta-c2 alias 02:00:00:00:c0:02"} <= set(lines)
    assoc = [a.argv for s in STEPS if s.what.startswith("associate c2") for a in s.do]
    assert assoc == [("ip", "-n", "l3rt-tb-u-air", "link", "set", "ap2-2", "up")]  # c2 starts at r3
    air = batch_lines(ns="l3rt-tb-u-air")
    assert "link add ab2 type bridge" in air and "link set ap2-1 type bridge_slave learning off" in air
