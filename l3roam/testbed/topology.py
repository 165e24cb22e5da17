"""The testbed's mesh as pure data: routers, links, access points, clients, addresses.

Read from YAML (``configs/testbed/*.yaml``, see docs/testbed.md); no side
effects except reading the YAML and an optional graph file.

Shapes: ``line``, ``ring``, ``grid`` (rows x cols), ``random`` (a random
spanning tree plus ``extra_links`` chords, from ``seed``) and ``graph`` (a
JSON file like configs/topologies/*.json: ``nodes`` with ``id``,
``links`` with ``source``/``target`` and optional ``source_tq``/``target_tq``;
the largest connected component, cut to ``max_routers`` in breadth-first
order from ``start``).

Routers are named ``r1`` .. ``rN``; a graph node keeps its original id in
``Router.origin``.  Addressing plan (router index i, 1-based):

- loopback ``<loopback_pool> + i`` /32 on ``lo`` (e.g. 10.255.0.3);
- IPv6 locator ``fc00:<i hex>::1/128`` on ``lo`` and the SRv6 SID
  ``fc00:<i hex>::d4/128`` (installed by the node agent, redistributed as a
  host route);
- mesh links are unnumbered: a veth pair per link with IPv6 link-local
  addresses only (babel speaks over link-local); babeld installs IPv4 routes
  with an IPv6 next hop (``v4-via-v6``, kernel >= 5.2), so no IPv4 subnet
  per link is needed and nothing shorter than a host route exists to leak;
- each AP has a bridge ``cell0`` (its client-facing interface, the "radio"),
  carrying the anycast gateway; a client is a namespace with ``wlan0`` whose
  veth peer ``sta-<client>`` is the station port (see l3roam.testbed.air).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from l3roam.config import MacAddress, load_file, load_text
from l3roam.errors import ConfigError, ConfigProblem
from l3roam.testbed.sizing import auto_timers, converge_timeout
from l3roam.testbed.spec import (  # noqa: F401  (re-exported: the schema is part of this module's API)
    AddressingSpec, BabelSpec, ClientSpec, MeshSpec, RoamingSpec, TestbedSpec,
)

CELL_BRIDGE = "cell0"
CLIENT_IFNAME = "wlan0"
BABEL_WIRED_RXCOST = 96


# ----------------------------------------------------------------------------- result


@dataclass(frozen=True)
class Router:
    name: str  # r1 .. rN
    index: int  # 1-based
    loopback: ipaddress.IPv4Address
    locator: ipaddress.IPv6Address
    sid: ipaddress.IPv6Address
    origin: str = ""  # node id in a graph file

    @property
    def router_id(self) -> str:
        raw = self.loopback.packed
        return "02:00:00:00:" + ":".join(f"{b:02x}" for b in raw)


@dataclass(frozen=True)
class Link:
    a: str
    b: str
    cost_a: int | None = None  # babeld rxcost on a's interface (None: babeld's default)
    cost_b: int | None = None
    kind: str = ""  # a graph file's link type: "vpn", "wifi", "other" or ""

    @property
    def ifname_a(self) -> str:
        return f"m-{self.b}"

    @property
    def ifname_b(self) -> str:
        return f"m-{self.a}"


@dataclass(frozen=True)
class Client:
    name: str
    mac: MacAddress
    first_ap: str

    @property
    def port(self) -> str:
        """The station port: the AP-side end of the client's veth."""
        return f"sta-{self.name}"


@dataclass(frozen=True)
class Topology:
    routers: tuple[Router, ...]
    links: tuple[Link, ...]
    aps: tuple[str, ...]
    master: str
    server: str
    clients: tuple[Client, ...]
    spec: TestbedSpec = field(compare=False)
    exits: tuple[str, ...] = ()  # routers with an uplink to the internet namespace (l3roam.testbed.internet)
    gateways: tuple[str, ...] = ()  # gateway-like routers (hubs of VPN links in a community graph)

    @property
    def hello_interval(self) -> float:
        """babel's hello interval: the file's, or chosen by size (l3roam.testbed.sizing)."""
        return self.spec.babel.hello_interval or auto_timers(len(self.routers))[0]

    @property
    def update_interval(self) -> float:
        return self.spec.babel.update_interval or auto_timers(len(self.routers))[1]

    @property
    def converge_timeout(self) -> float:
        return self.spec.converge_timeout or converge_timeout(len(self.routers), self.hello_interval,
                                                              self.update_interval)

    def placement(self) -> dict:
        """Where the server and master are and how far from each AP: stated in every report."""
        hops = self.hops(self.server)
        return {"server": self.server, "master": self.master,
                "server_is_gateway": self.server in self.gateways, "server_is_ap": self.server in self.aps,
                "server_hops_to_aps": {ap: hops.get(ap) for ap in self.aps},
                "master_is_ap": self.master in self.aps, "gateways": list(self.gateways),
                "ap_hops": {ap: self.hops(self.aps[0]).get(ap) for ap in self.aps}}

    def placement_text(self) -> str:
        p = self.placement()
        kind = "a gateway" if p["server_is_gateway"] else ("an AP" if p["server_is_ap"] else "a plain router")
        hops = ", ".join(f"{ap} {h}" for ap, h in p["server_hops_to_aps"].items())
        where = f"server on {p['server']} ({kind}; hops to the APs: {hops})"
        if p["master"] != p["server"]:
            where += f", lease master on {p['master']}" + (" (an AP)" if p["master_is_ap"] else "")
        else:
            where += ", lease master with it"
        return where

    def router(self, name: str) -> Router:
        for r in self.routers:
            if r.name == name:
                return r
        raise KeyError(name)

    def neighbours(self, name: str) -> list[tuple[str, str]]:
        """(neighbour name, local interface name) of router ``name``."""
        out = []
        for link in self.links:
            if link.a == name:
                out.append((link.b, link.ifname_a))
            elif link.b == name:
                out.append((link.a, link.ifname_b))
        return out

    def hops(self, src: str) -> dict[str, int]:
        return _bfs({r.name for r in self.routers}, [(l.a, l.b) for l in self.links], src)

    def client(self, name: str) -> Client:
        for c in self.clients:
            if c.name == name:
                return c
        raise KeyError(name)


# ----------------------------------------------------------------------------- shapes


def _bfs(nodes: set[str], edges: list[tuple[str, str]], src: str) -> dict[str, int]:
    adj: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    dist = {src: 0}
    queue = deque([src])
    while queue:
        n = queue.popleft()
        for m in adj[n]:
            if m not in dist:
                dist[m] = dist[n] + 1
                queue.append(m)
    return dist


def shape_edges(spec: MeshSpec) -> tuple[int, list[tuple[int, int]]]:
    """Router count and 1-based edges for the generated shapes."""
    if spec.shape == "line":
        n = spec.routers
        return n, [(i, i + 1) for i in range(1, n)]
    if spec.shape == "ring":
        n = spec.routers
        return n, [(i, i + 1) for i in range(1, n)] + [(n, 1)]
    if spec.shape == "grid":
        n = spec.rows * spec.cols
        edges = []
        for r in range(spec.rows):
            for c in range(spec.cols):
                i = r * spec.cols + c + 1
                if c + 1 < spec.cols:
                    edges.append((i, i + 1))
                if r + 1 < spec.rows:
                    edges.append((i, i + spec.cols))
        return n, edges
    if spec.shape == "random":
        rng = random.Random(spec.seed)
        n = spec.routers
        edges = [(rng.randint(1, i - 1), i) for i in range(2, n + 1)]  # random tree: connected
        present = {frozenset(e) for e in edges}
        candidates = [(a, b) for a in range(1, n + 1) for b in range(a + 1, n + 1) if frozenset((a, b)) not in present]
        rng.shuffle(candidates)
        edges += candidates[: spec.extra_links]
        return n, edges
    raise ValueError(spec.shape)


def tq_to_rxcost(tq: float | None) -> int | None:
    """batman-adv link quality (0..1) to a babel rxcost: wired cost 96 scaled by 1/tq (ETX-like)."""
    if tq is None:
        return None
    return min(0xFFFF, max(BABEL_WIRED_RXCOST, round(BABEL_WIRED_RXCOST / max(tq, 0.01))))


GraphEdge = tuple[int, int, int | None, int | None, str]


def graph_edges(data: dict, max_routers: int, start: str | None) -> tuple[list[str], list[GraphEdge]]:
    """Node ids (index 0 is r1) and edges with rxcosts and link type from a graph JSON object.

    Nodes only named by links are added; the largest connected component is
    kept and cut to ``max_routers`` in breadth-first order from ``start``.
    """
    ids = [str(n["id"]) for n in data.get("nodes", [])]
    raw_links = data.get("links", [])
    for link in raw_links:
        for end in (str(link["source"]), str(link["target"])):
            if end not in ids:
                ids.append(end)
    edges = [(str(l["source"]), str(l["target"])) for l in raw_links if str(l["source"]) != str(l["target"])]
    nodes = set(ids)
    best: list[str] = []
    seen: set[str] = set()
    for n in ids:
        if n in seen:
            continue
        comp = _bfs(nodes, edges, n)
        seen |= set(comp)
        if len(comp) > len(best):
            best = list(comp)
    root = start if start is not None and start in best else best[0]
    order = sorted(_bfs(nodes, edges, root).items(), key=lambda kv: (kv[1], ids.index(kv[0])))
    keep = [n for n, _ in order][:max_routers]
    index = {n: i for i, n in enumerate(keep)}
    out: dict[frozenset, GraphEdge] = {}
    for l in raw_links:
        s, t = str(l["source"]), str(l["target"])
        if s in index and t in index and s != t:
            key = frozenset((s, t))
            if key not in out:
                out[key] = (index[s] + 1, index[t] + 1, tq_to_rxcost(l.get("source_tq")),
                            tq_to_rxcost(l.get("target_tq")), str(l.get("type") or ""))
    return keep, list(out.values())


# ----------------------------------------------------------------------------- build


def find_gateways(names: list[str], links: list[Link]) -> tuple[str, ...]:
    """Gateway-like routers: those at the hub of two or more VPN links.

    In a community mesh (Freifunk), nodes reach the gateways (the
    community's servers and uplinks) through VPN tunnels; a node with one
    VPN link is an ordinary node with an uplink, a node with many is a
    gateway.  A graph without link types has none.
    """
    count: dict[str, int] = {}
    for l in links:
        if l.kind == "vpn":
            count[l.a] = count.get(l.a, 0) + 1
            count[l.b] = count.get(l.b, 0) + 1
    return tuple(n for n in names if count.get(n, 0) >= 2)


def _pick_aps(names: list[str], links: list[Link], count: int, avoid: tuple[str, ...] = ()) -> tuple[str, ...]:
    """``count`` routers far apart: farthest-point sampling on hop distance, from the first not in ``avoid``."""
    nodes = set(names)
    edges = [(l.a, l.b) for l in links]
    pool = [n for n in names if n not in avoid] or names
    dist = {n: _bfs(nodes, edges, n) for n in pool}
    chosen = [pool[0]] if count >= 1 else []
    while len(chosen) < min(count, len(pool)):
        nxt = max((n for n in pool if n not in chosen),
                  key=lambda n: (min(dist[c].get(n, 0) for c in chosen), -names.index(n)))
        chosen.append(nxt)
    return tuple(chosen)


def _center(names: list[str], links: list[Link], among: list[str] | None = None) -> str:
    nodes = set(names)
    edges = [(l.a, l.b) for l in links]
    pool = among or names
    return min(pool, key=lambda n: (max(_bfs(nodes, edges, n).values()), names.index(n)))


def place_server(names: list[str], links: list[Link], aps: tuple[str, ...], gateways: tuple[str, ...],
                 server_hops: int | None = None) -> tuple[str | None, str]:
    """Where a community mesh has its servers: (router, why), or (None, problem).

    Default: the most central gateway; without gateways, the most central
    router that is not an AP; an AP only when every router is one.  With
    ``server_hops``, a router exactly that many hops from the nearest AP
    (gateways first, then the most central).
    """
    nodes = set(names)
    edges = [(l.a, l.b) for l in links]
    from_aps = [_bfs(nodes, edges, ap) for ap in aps]

    def nearest_ap(n: str) -> int:
        return min((d.get(n, 1 << 30) for d in from_aps), default=0)

    if server_hops is not None:
        at = [n for n in names if nearest_ap(n) == server_hops]
        if not at:
            far = max((nearest_ap(n) for n in names), default=0)
            return None, f"no router is {server_hops} hops from the nearest AP (the farthest is {far})"
        gws = [n for n in at if n in gateways]
        return _center(names, links, gws or at), ("a gateway" if gws else "a router") + f" {server_hops} hops from the APs"
    gws = [n for n in gateways if n not in aps]
    if gws:
        return _center(names, links, gws), "the most central gateway"
    plain = [n for n in names if n not in aps]
    if plain:
        return _center(names, links, plain), "the most central router that is not an AP"
    return _center(names, links), "the most central router (every router is an AP)"


def build(spec: TestbedSpec, base_dir: Path | None = None) -> Topology:
    """Turn a validated spec into a Topology; raise ConfigError for inconsistent names."""
    m = spec.mesh
    origins: list[str] = []
    if m.shape == "graph":
        path = m.graph if m.graph is None or m.graph.is_absolute() or base_dir is None else base_dir / m.graph
        try:
            data = json.loads(Path(path).read_text())  # type: ignore[arg-type]
        except (OSError, ValueError) as exc:
            raise ConfigError(str(path), [ConfigProblem("mesh.graph", f"cannot read the graph: {exc}")]) from None
        origins, raw = graph_edges(data, m.max_routers, m.start)
        n = len(origins)
    else:
        n, plain = shape_edges(m)
        raw = [(a, b, None, None, "") for a, b in plain]
    a = spec.addressing
    if n + 1 > a.loopback_pool.num_addresses - 1:
        raise ConfigError("<testbed>", [ConfigProblem("addressing.loopback_pool", f"too small for {n} routers")])
    routers = tuple(
        Router(name=f"r{i}", index=i, loopback=a.loopback_pool.network_address + i,
               locator=ipaddress.IPv6Address(f"{a.locator_base}:{i:x}::1"),
               sid=ipaddress.IPv6Address(f"{a.locator_base}:{i:x}::d4"),
               origin=origins[i - 1] if origins else "")
        for i in range(1, n + 1))
    links = tuple(Link(f"r{x}", f"r{y}", ca, cb, kind) for x, y, ca, cb, kind in raw)
    names = [r.name for r in routers]
    gateways = find_gateways(names, list(links))
    problems = []
    aps = spec.aps or _pick_aps(names, list(links), spec.ap_count, avoid=gateways)
    for key, value in [("aps", x) for x in aps] + [("master", spec.master), ("server", spec.server)]:
        if value is not None and value not in names:
            problems.append(ConfigProblem(key, f"no router {value!r} (routers are r1..r{n})"))
    clients = []
    for idx, c in enumerate(spec.clients):
        ap = c.ap or aps[0]
        if ap not in aps:
            problems.append(ConfigProblem(f"clients[{idx}].ap", f"{ap!r} is not an access point ({', '.join(aps)})"))
        mac = c.mac or MacAddress(f"02:00:00:00:c0:{idx + 1:02x}")
        clients.append(Client(c.name, mac, ap))
    for idx, name in enumerate(spec.internet.exits):
        if name not in names:
            problems.append(ConfigProblem(f"internet.exits[{idx}]", f"no router {name!r} (routers are r1..r{n})"))
        elif name in aps:
            problems.append(ConfigProblem(
                f"internet.exits[{idx}]",
                f"{name!r} is an access point; an exit redistributes a default route, and babeld's "
                "flush_xroute() bug (up to 1.14) would then garble the /32 withdrawals of its clients "
                "(see l3roam.babel.config): put the exit on a router that is not an AP"))
    for idx, name in enumerate(spec.roaming.path):
        if name not in aps:
            problems.append(ConfigProblem(f"roaming.path[{idx}]", f"{name!r} is not an access point"))
    if problems:
        raise ConfigError("<testbed>", problems)
    if spec.server:
        server = spec.server
    elif spec.master and spec.server_hops is None:
        server = spec.master
    else:
        placed, why = place_server(names, list(links), tuple(aps), gateways, spec.server_hops)
        if placed is None:
            raise ConfigError("<testbed>", [ConfigProblem("server_hops", why)])
        server = placed
    master = spec.master or server
    return Topology(routers, links, tuple(aps), master, server, tuple(clients), spec,
                    tuple(spec.internet.exits), gateways)


def load(path: str | Path, prefix: str | None = None) -> Topology:
    """Read a testbed YAML file; ``prefix`` overrides its namespace prefix (tests use ``l3rt-…``)."""
    spec = load_file(TestbedSpec, path)
    if prefix is not None:
        spec = dataclasses.replace(spec, prefix=prefix)
    return build(spec, Path(path).parent)


def loads(text: str, prefix: str | None = None, base_dir: Path | None = None) -> Topology:
    spec = load_text(TestbedSpec, text)
    if prefix is not None:
        spec = dataclasses.replace(spec, prefix=prefix)
    return build(spec, base_dir)
