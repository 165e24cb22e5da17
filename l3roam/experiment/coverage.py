"""Does every router have every client route, and does it lead to the right AP?  (pure)

Input: each router's IPv4 main table as ``ip -4 route show`` prints it, the
mesh's links, and where each client is (client IP -> AP).  A client route is
*good* at a router when following the routers' next hops (the outgoing
interface names the neighbour) ends at the client's AP, where the route is
the AP's own (the client protocol, 44), without a loop.  *missing*: no
unicast route at this router (an ``unreachable`` hold-down counts as none);
*wrong*: a route that leads elsewhere (a stale AP, a loop, a dead end).
*stale*: an AP still holds its own route for a client that is no longer
there (the lightweight-client driver failed to delete it).

No I/O: the experiment reads the tables and passes the text in.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    proto: str  # "babel", "44", ...
    dev: str


def parse_routes(text: str, prefix: ipaddress.IPv4Network) -> dict[str, Entry]:
    """Unicast host routes inside ``prefix`` from ``ip -4 route show`` text: dst -> Entry."""
    out: dict[str, Entry] = {}
    for line in text.splitlines():
        words = line.split()
        if not words or not words[0][0].isdigit():  # unreachable/blackhole/prohibit hold-downs
            continue
        dst = words[0]
        if "/" in dst:
            if not dst.endswith("/32"):
                continue
            dst = dst[:-3]
        try:
            if ipaddress.IPv4Address(dst) not in prefix:
                continue
        except ValueError:
            continue
        proto = dev = ""
        for i in range(1, len(words) - 1):
            if words[i] == "proto":
                proto = words[i + 1]
            elif words[i] == "dev":
                dev = words[i + 1]
        out[dst] = Entry(proto, dev)
    return out


def count_present(routes: dict[str, Entry], expected: dict[str, str], router: str, client_proto: str) -> int:
    """How many expected clients ``router`` has a route for (its own for clients at it)."""
    n = 0
    for ip, ap in expected.items():
        e = routes.get(ip)
        if e is not None and (e.proto == client_proto) == (ap == router):
            n += 1
    return n


@dataclass
class RouterCoverage:
    router: str
    good: int = 0
    missing: int = 0
    wrong: int = 0
    stale: int = 0
    examples: list[str] = field(default_factory=list)  # a few missing/wrong client IPs


def check(tables: dict[str, dict[str, Entry]], expected: dict[str, str],
          neighbour_of: dict[tuple[str, str], str], client_proto: str = "44",
          max_examples: int = 5) -> dict[str, RouterCoverage]:
    """Per router: good/missing/wrong routes for every expected client, stale own routes.

    ``neighbour_of[(router, ifname)]`` is the router at the other end of a mesh link.
    """
    cov = {r: RouterCoverage(r) for r in tables}
    hops_limit = len(tables) + 1
    for ip, ap in expected.items():
        verdict: dict[str, bool] = {}  # router -> route leads to ap (memo along walked paths)
        for start in tables:
            path = []
            r: str | None = start
            ok = False
            while r is not None:
                if r in verdict:
                    ok = verdict[r]
                    break
                path.append(r)
                e = tables[r].get(ip)
                if e is None:
                    ok = False
                    break
                if e.proto == client_proto:
                    ok = r == ap
                    break
                if e.proto != "babel" or len(path) > hops_limit:
                    ok = False
                    break
                r = neighbour_of.get((r, e.dev))
            for x in path:
                verdict[x] = ok
            c = cov[start]
            if ok:
                c.good += 1
            else:
                if tables[start].get(ip) is None:
                    c.missing += 1
                else:
                    c.wrong += 1
                if len(c.examples) < max_examples:
                    c.examples.append(ip)
    for r, routes in tables.items():
        cov[r].stale = sum(1 for ip, e in routes.items() if e.proto == client_proto and expected.get(ip) != r)
    return cov


def summary(cov: dict[str, RouterCoverage], expected: int) -> dict:
    """Figures for a results row: every router had every route, and the worst router's counts."""
    goods = sorted(c.good for c in cov.values())
    return {
        "routers": len(cov),
        "expected_routes": expected,
        "all_routes_everywhere": all(c.good == expected and c.stale == 0 for c in cov.values()),
        "routes_min": goods[0] if goods else 0,
        "routes_median": goods[len(goods) // 2] if goods else 0,
        "missing_total": sum(c.missing for c in cov.values()),
        "wrong_total": sum(c.wrong for c in cov.values()),
        "stale_total": sum(c.stale for c in cov.values()),
        "routers_incomplete": sorted(c.router for c in cov.values() if c.good != expected),
    }
