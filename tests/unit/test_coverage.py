"""coverage: does every router have every client route, leading to the client's AP?"""

import ipaddress

from l3roam.experiment import coverage

NET = ipaddress.IPv4Network("10.99.0.0/16")
# r1 - r2 - r3 in a line; interface m-<peer> leads to <peer>
NB = {("r1", "m-r2"): "r2", ("r2", "m-r1"): "r1", ("r2", "m-r3"): "r3", ("r3", "m-r2"): "r2"}


def test_parse_routes_keeps_unicast_client_host_routes_only():
    text = """default via 192.0.2.1 dev eth0
10.99.0.0/16 dev cell0 proto kernel scope link src 10.99.0.1
10.99.0.5 dev cell0 proto 44 scope link
10.99.0.6 via inet6 fe80::1 dev m-r2 proto babel metric 100 onlink
10.99.0.7/32 via 10.255.0.2 dev m-r2 proto babel metric 100
unreachable 10.99.0.8 proto babel metric 4294967295
10.255.0.2 via inet6 fe80::1 dev m-r2 proto babel metric 100 onlink
"""
    got = coverage.parse_routes(text, NET)
    assert got == {"10.99.0.5": coverage.Entry("44", "cell0"), "10.99.0.6": coverage.Entry("babel", "m-r2"),
                   "10.99.0.7": coverage.Entry("babel", "m-r2")}


def tables(**kw):
    return {r: {ip: coverage.Entry(*v) for ip, v in routes.items()} for r, routes in kw.items()}


def test_good_routes_lead_to_the_clients_ap():
    t = tables(r1={"a": ("44", "cell0"), "b": ("babel", "m-r2")},
               r2={"a": ("babel", "m-r1"), "b": ("babel", "m-r3")},
               r3={"a": ("babel", "m-r2"), "b": ("44", "cell0")})
    cov = coverage.check(t, {"a": "r1", "b": "r3"}, NB)
    s = coverage.summary(cov, 2)
    assert s["all_routes_everywhere"] and s["routes_min"] == 2 and s["missing_total"] == 0


def test_missing_wrong_and_stale_routes_are_counted():
    # client a moved r1 -> r3; r1 still has its own route (stale), r2 still points at r1 (wrong),
    # r3 lacks b entirely (missing) and routes a locally (good)
    t = tables(r1={"a": ("44", "cell0"), "b": ("babel", "m-r2")},
               r2={"a": ("babel", "m-r1"), "b": ("babel", "m-r3")},
               r3={"a": ("44", "cell0")})
    cov = coverage.check(t, {"a": "r3", "b": "r3"}, NB)
    # b: r1 -> r2 -> r3, where b is missing: r1 and r2 have a route, but it leads nowhere
    assert (cov["r1"].good, cov["r1"].wrong, cov["r1"].missing, cov["r1"].stale) == (0, 2, 0, 1)
    assert (cov["r2"].good, cov["r2"].wrong, cov["r2"].missing) == (0, 2, 0)
    assert (cov["r3"].good, cov["r3"].missing) == (1, 1)
    s = coverage.summary(cov, 2)
    assert not s["all_routes_everywhere"]
    assert s["routers_incomplete"] == ["r1", "r2", "r3"] and s["stale_total"] == 1


def test_a_loop_is_wrong_not_an_endless_walk():
    t = tables(r1={"a": ("babel", "m-r2")}, r2={"a": ("babel", "m-r1")}, r3={"a": ("44", "cell0")})
    cov = coverage.check(t, {"a": "r3"}, NB)
    assert cov["r1"].wrong == 1 and cov["r2"].wrong == 1 and cov["r3"].good == 1


def test_count_present_wants_the_own_route_at_the_ap_and_a_learned_one_elsewhere():
    routes = {"a": coverage.Entry("44", "cell0"), "b": coverage.Entry("44", "cell0")}
    assert coverage.count_present(routes, {"a": "r1", "b": "r2"}, "r1", "44") == 1
