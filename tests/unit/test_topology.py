"""The pure mesh description: shapes, graph files, addressing, names."""

import json
from pathlib import Path

import pytest

from l3roam.errors import ConfigError
from l3roam.testbed import topology
from l3roam.testbed.topology import graph_edges, tq_to_rxcost

REPO = Path(__file__).resolve().parents[2]


def test_line_addressing_aps_and_roles():
    t = topology.loads("mesh: {shape: line, routers: 5}\naps: [r1, r3, r5]\nmaster: r2\n")
    assert [r.name for r in t.routers] == ["r1", "r2", "r3", "r4", "r5"]
    assert [(l.a, l.b) for l in t.links] == [("r1", "r2"), ("r2", "r3"), ("r3", "r4"), ("r4", "r5")]
    r3 = t.router("r3")
    assert (str(r3.loopback), str(r3.locator), str(r3.sid)) == ("10.255.0.3", "fc00:3::1", "fc00:3::d4")
    assert r3.router_id == "02:00:00:00:0a:ff:00:03"
    assert t.neighbours("r3") == [("r2", "m-r2"), ("r4", "m-r4")]
    assert (t.master, t.server) == ("r2", "r2")
    assert t.clients[0].first_ap == "r1" and t.clients[0].port == "sta-c1"


def test_ring_and_grid_shapes():
    ring = topology.loads("mesh: {shape: ring, routers: 4}")
    assert len(ring.links) == 4 and all(len(ring.neighbours(r.name)) == 2 for r in ring.routers)
    grid = topology.loads("mesh: {shape: grid, rows: 2, cols: 3}")
    assert len(grid.routers) == 6 and len(grid.links) == 7
    assert grid.hops("r1")["r6"] == 3


def test_random_shape_is_connected_and_reproducible():
    text = "mesh: {shape: random, routers: 12, extra_links: 4, seed: 3}"
    a, b = topology.loads(text), topology.loads(text)
    assert a.links == b.links
    assert len(a.links) == 11 + 4
    assert len(a.hops("r1")) == 12
    c = topology.loads(text.replace("seed: 3", "seed: 4"))
    assert c.links != a.links


def test_automatic_aps_are_far_apart_and_server_is_central_but_never_an_ap():
    t = topology.loads("mesh: {shape: line, routers: 7}\nap_count: 3")
    assert t.aps == ("r1", "r7", "r4")
    assert t.server == t.master == "r3"  # r4 is more central but an AP
    assert "server on r3 (a plain router; hops to the APs: r1 2, r7 4, r4 1)" in t.placement_text()
    asked = topology.loads("mesh: {shape: line, routers: 7}\nap_count: 3\nserver: r4")
    assert asked.server == asked.master == "r4" and asked.placement()["server_is_ap"]


def _vpn_graph(tmp_path):
    # two gateways g1, g2 (hubs of VPN links), a chain of nodes n1-n6 over wifi, each with one VPN uplink
    nodes = [f"n{i}" for i in range(1, 7)]
    links = [{"source": f"n{i}", "target": f"n{i + 1}", "type": "wifi"} for i in range(1, 6)]
    links += [{"source": n, "target": "g1" if i < 3 else "g2", "type": "vpn"} for i, n in enumerate(nodes)]
    f = tmp_path / "vpn.json"
    f.write_text(json.dumps({"nodes": [{"id": x} for x in nodes + ["g1", "g2"]], "links": links}))
    return f


def test_gateways_are_vpn_hubs_and_host_the_server_not_the_aps(tmp_path):
    f = _vpn_graph(tmp_path)
    t = topology.loads(f"mesh: {{shape: graph, graph: {f.name}}}\nap_count: 2", base_dir=tmp_path)
    gw = {t.router(n).origin for n in t.gateways}
    assert gw == {"g1", "g2"}
    assert not set(t.aps) & set(t.gateways)
    assert t.server in t.gateways and t.master == t.server
    p = t.placement()
    assert p["server_is_gateway"] and not p["server_is_ap"]
    assert set(p["server_hops_to_aps"]) == set(t.aps)


def test_server_hops_places_the_server_at_a_distance_from_the_aps(tmp_path):
    t = topology.loads("mesh: {shape: line, routers: 9}\naps: [r1, r9]\nserver_hops: 3")
    assert t.server in ("r4", "r6") and min(t.placement()["server_hops_to_aps"].values()) == 3
    with pytest.raises(ConfigError) as err:
        topology.loads("mesh: {shape: line, routers: 5}\naps: [r1, r5]\nserver_hops: 4")
    assert "server_hops: no router is 4 hops from the nearest AP (the farthest is 2)" in str(err.value)


def test_timers_and_timeout_chosen_by_size_unless_given():
    small = topology.loads("mesh: {shape: line, routers: 5}")
    assert (small.hello_interval, small.update_interval) == (0.25, 4.0)
    big = topology.loads("mesh: {shape: grid, rows: 15, cols: 15}")
    assert big.hello_interval > small.hello_interval and big.update_interval > small.update_interval
    assert big.converge_timeout > small.converge_timeout >= 20
    given = topology.loads("mesh: {shape: grid, rows: 15, cols: 15}\nbabel: {hello_interval: 0.5}\n"
                           "converge_timeout: 7")
    assert given.hello_interval == 0.5 and given.converge_timeout == 7


def test_router_cap_is_stated_with_its_reason():
    with pytest.raises(ConfigError) as err:
        topology.loads("mesh: {shape: line, routers: 5000}")
    assert "must be between 2 and 1000" in str(err.value) and "square of the size" in str(err.value)


@pytest.mark.parametrize("name,routers,links,gateways", [("freifunk-ulm", 217, 447, 4),
                                                          ("freifunk-bielefeld", 246, 483, 1)])
def test_shipped_community_graphs_whole(name, routers, links, gateways):
    t = topology.loads(f"mesh: {{shape: graph, graph: {name}.json, max_routers: 1000}}",
                       base_dir=REPO / "configs" / "topologies")
    assert (len(t.routers), len(t.links), len(t.gateways)) == (routers, links, gateways)
    assert t.server in t.gateways and t.server not in t.aps


def test_graph_file_with_tq_costs_and_unknown_ids(tmp_path):
    g = {"nodes": [{"id": "a"}, {"id": "b"}, {"id": "lonely"}],
         "links": [{"source": "a", "target": "b", "source_tq": 0.5, "target_tq": 1.0},
                   {"source": "b", "target": "c"}, {"source": "c", "target": "b"}]}
    f = tmp_path / "g.json"
    f.write_text(json.dumps(g))
    t = topology.loads(f"mesh: {{shape: graph, graph: {f.name}}}\nap_count: 2", base_dir=tmp_path)
    # "c" is only named by links: added; "lonely" is not connected: dropped; duplicate link kept once
    assert [r.origin for r in t.routers] == ["a", "b", "c"]
    assert [(l.a, l.b, l.cost_a, l.cost_b) for l in t.links] == [("r1", "r2", 192, 96), ("r2", "r3", None, None)]


def test_shared_reference_graph_cut_to_max_routers():
    # the reference graph shipped in configs/topologies (ids and links only)
    path = Path(__file__).resolve().parents[2] / "configs" / "topologies" / "17-node-mesh.json"
    keep, edges = graph_edges(json.loads(path.read_text()), 10, None)
    assert len(keep) == 10
    assert all(1 <= a <= 10 and 1 <= b <= 10 for a, b, *_ in edges)


def test_tq_to_rxcost():
    assert tq_to_rxcost(1.0) == 96 and tq_to_rxcost(0.5) == 192 and tq_to_rxcost(None) is None
    assert tq_to_rxcost(0.0) == 9600


def test_every_problem_reported_with_keys():
    with pytest.raises(ConfigError) as err:
        topology.loads("mesh: {shape: line, routers: 3}\naps: [r1, r9]\nmaster: r7\n"
                       "clients: [{name: c1, ap: r2}]\nroaming: {path: [r4]}")
    text = str(err.value)
    for key in ("aps: no router 'r9'", "master: no router 'r7'", "clients[0].ap", "roaming.path[0]"):
        assert key in text


def test_yaml_type_errors_name_the_key():
    with pytest.raises(ConfigError) as err:
        topology.loads("mesh: {shape: hexagon, routers: many}\nclients: [{name: this-is-too-long}]")
    text = str(err.value)
    assert "mesh.shape" in text and "mesh.routers" in text and "clients[0].name" in text


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "testbed").glob("*.yaml")))
def test_shipped_testbed_configs_load(path):
    t = topology.load(path)
    assert len(t.aps) >= 2
    assert all(len(name) <= 15 for l in t.links for name in (l.ifname_a, l.ifname_b))


@pytest.mark.parametrize("name", ["r2", "air"])
def test_client_names_cannot_shadow_router_or_air_namespaces(name):
    with pytest.raises(ConfigError, match=r"clients\[0\].name"):
        topology.loads(f"clients: [{{name: {name}}}]")
