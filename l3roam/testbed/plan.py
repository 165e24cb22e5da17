"""The testbed build as a pure list of steps, each with its undo (Mininet-style).

``plan(topology, run_dir)`` returns ``Step``s; ``l3roam.testbed.builder``
carries them out and, on failure or ``down``, runs the undos of the steps
done, in reverse.  Keeping the plan pure lets unit tests check every name and
every do/undo pair without root.

Namespaces: ``<prefix>r<i>`` per router, ``<prefix>c<name>``… per client
(``<prefix><client name>``), ``<prefix>air`` where station ports wait while
no AP holds them.  Links are created directly inside their namespaces
(``ip link add … netns``), so the root namespace never holds a testbed link.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from l3roam.babel.config import BabelSettings, InterfaceSettings, render_checked
from l3roam.testbed.topology import CELL_BRIDGE, CLIENT_IFNAME, Topology

AIR = "air"
EXIT_PROTO = 46  # kernel route protocol of an exit's default route (l3roam.testbed.internet)


@dataclass(frozen=True)
class Cmd:
    """A command line; ``tolerant`` commands (undos) may fail because the object is gone."""

    argv: tuple[str, ...]
    tolerant: bool = False
    stdin: str | None = None  # for ``ip -batch -``


@dataclass(frozen=True)
class DeleteNetns:
    """Kill every process inside, then delete the namespace (tolerates a missing one)."""

    name: str


@dataclass(frozen=True)
class StartBabeld:
    netns: str
    directory: Path
    config: str


@dataclass(frozen=True)
class StopBabeld:
    directory: Path


Action = Cmd | DeleteNetns | StartBabeld | StopBabeld


@dataclass(frozen=True)
class Step:
    what: str
    do: tuple[Action, ...]
    undo: tuple[Action, ...] = ()


def ns_name(prefix: str, node: str) -> str:
    return f"{prefix}{node}"


def _ip(ns: str, *args: str, tolerant: bool = False) -> Cmd:
    return Cmd(("ip", "-n", ns, *args), tolerant)


def _in_ns(ns: str, *argv: str) -> Cmd:
    return Cmd(("ip", "netns", "exec", ns, *argv))


def _netns_steps(ns: str, sysctls: list[str]) -> Step:
    do: list[Action] = [Cmd(("ip", "netns", "add", ns)), _ip(ns, "link", "set", "lo", "up")]
    if sysctls:
        do.append(_in_ns(ns, "sysctl", "-qw", *sysctls))
    return Step(f"namespace {ns}", tuple(do), (DeleteNetns(ns),))


ROUTER_SYSCTLS = [
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.forwarding=1",
    "net.ipv6.conf.default.accept_dad=0",  # link-local usable at once: babel starts sooner
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
]
CLIENT_SYSCTLS = ["net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.disable_ipv6=0"]


def babel_settings(topo: Topology, router: str, run_dir: Path) -> BabelSettings:
    r = topo.router(router)
    b = topo.spec.babel
    ifaces = []
    for link in topo.links:
        if router in (link.a, link.b):
            mine = link.a == router
            ifaces.append(InterfaceSettings(
                name=link.ifname_a if mine else link.ifname_b, type="wired",
                hello_interval=b.hello_interval, update_interval=b.update_interval,
                rxcost=link.cost_a if mine else link.cost_b))
    exit_ = router in topo.exits  # an exit redistributes its default route and never a client /32
    return BabelSettings(
        router_id=r.router_id, interfaces=tuple(ifaces),
        own_prefixes=(f"{r.loopback}/32", f"{r.locator}/128", f"{r.sid}/128"),
        client_prefix=None if exit_ else str(topo.spec.addressing.client_prefix), client_proto=b.client_proto,
        kernel_priority=b.kernel_priority, kernel_check_interval=b.kernel_check_interval,
        local_path=str(run_dir / router / "babeld.sock"),
        default_route_proto=EXIT_PROTO if exit_ else None)


def plan(topo: Topology, run_dir: Path) -> list[Step]:
    p = topo.spec.prefix
    mtu = str(topo.spec.mesh.mtu)
    addr = topo.spec.addressing
    steps: list[Step] = []
    for r in topo.routers:
        steps.append(_netns_steps(ns_name(p, r.name), ROUTER_SYSCTLS))
    steps.append(_netns_steps(ns_name(p, AIR), []))
    for c in topo.clients:
        steps.append(_netns_steps(ns_name(p, c.name), CLIENT_SYSCTLS))

    for link in topo.links:
        na, nb = ns_name(p, link.a), ns_name(p, link.b)
        do: list[Action] = [
            Cmd(("ip", "link", "add", link.ifname_a, "netns", na, "mtu", mtu, "type", "veth",
                 "peer", "name", link.ifname_b, "netns", nb, "mtu", mtu)),
            _ip(na, "link", "set", link.ifname_a, "up"),
            _ip(nb, "link", "set", link.ifname_b, "up"),
        ]
        if topo.spec.mesh.rate:
            for ns, dev in ((na, link.ifname_a), (nb, link.ifname_b)):
                do.append(_in_ns(ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf",
                                 "rate", topo.spec.mesh.rate, "burst", "32kbit", "latency", "50ms"))
        steps.append(Step(f"link {link.a}-{link.b}", tuple(do),
                          (_ip(na, "link", "del", link.ifname_a, tolerant=True),)))

    for r in topo.routers:
        ns = ns_name(p, r.name)
        steps.append(Step(f"loopback {r.name}", (
            _ip(ns, "addr", "replace", f"{r.loopback}/32", "dev", "lo"),
            _ip(ns, "-6", "addr", "replace", f"{r.locator}/128", "dev", "lo"),
        )))

    plen = str(addr.client_prefix.prefixlen)
    for ap in topo.aps:
        ns = ns_name(p, ap)
        steps.append(Step(f"cell {ap}", (
            _ip(ns, "link", "add", CELL_BRIDGE, "address", str(addr.gateway_mac), "type", "bridge"),
            _ip(ns, "addr", "replace", f"{addr.gateway}/{plen}", "dev", CELL_BRIDGE),
            _ip(ns, "link", "set", CELL_BRIDGE, "up"),
            # proxied ARP answers without the default random delay of up to 0.8 s
            _in_ns(ns, "sysctl", "-qw", f"net.ipv4.neigh.{CELL_BRIDGE}.proxy_delay=0"),
        ), (_ip(ns, "link", "del", CELL_BRIDGE, tolerant=True),)))

    air = ns_name(p, AIR)
    for c in topo.clients:
        cns = ns_name(p, c.name)
        names = radio_names(topo, c.name)
        acts: list[Action] = [
            Cmd(("ip", "link", "add", CLIENT_IFNAME, "netns", cns, "index", str(names.index["client"]),
                 "address", str(c.mac), "type", "veth",
                 "peer", "name", names.client_end, "netns", air, "index", str(names.index["client_end"]))),
            _ip(cns, "link", "set", CLIENT_IFNAME, "up"),
            _ip(air, "link", "add", names.bridge, "type", "bridge"),
            _ip(air, "link", "set", names.bridge, "up"),
            _ip(air, "link", "set", names.client_end, "master", names.bridge, "up"),
            # a hub: no port learns a MAC, so no frame follows a stale entry to the AP the
            # client left (the gateway MAC is the same at every AP)
            _ip(air, "link", "set", names.client_end, "type", "bridge_slave", "learning", "off"),
        ]
        for ap in topo.aps:
            ap_ns = ns_name(p, ap)
            acts += [
                Cmd(("ip", "link", "add", c.port, "netns", ap_ns, "index", str(names.index["port"]), "type", "veth",
                     "peer", "name", names.ap_ends[ap], "netns", air, "index", str(names.index[ap]))),
                # the station's MAC on the AP-side port, as a Wi-Fi station event carries it;
                # isolated like Wi-Fi client isolation (clients meet only through the AP's routing)
                Cmd(("ip", "-n", ap_ns, "-batch", "-"), stdin=(
                    f"link set {c.port} alias {c.mac}\n"
                    f"link set {c.port} master {CELL_BRIDGE}\n"
                    f"link set {c.port} type bridge_slave isolated on\n"
                    f"link set {c.port} up\n")),
                _ip(air, "link", "set", names.ap_ends[ap], "master", names.bridge),
                _ip(air, "link", "set", names.ap_ends[ap], "type", "bridge_slave", "learning", "off"),
            ]
        steps.append(Step(f"client {c.name}", tuple(acts), (
            _ip(cns, "link", "del", CLIENT_IFNAME, tolerant=True),
            *(_ip(air, "link", "del", names.ap_ends[ap], tolerant=True) for ap in topo.aps),
            _ip(air, "link", "del", names.bridge, tolerant=True))))
        steps.append(Step(f"associate {c.name} to {c.first_ap}",
                          (_ip(air, "link", "set", names.ap_ends[c.first_ap], "up"),)))

    from l3roam.testbed.internet import internet_steps  # it builds on this module's step types

    net = topo.spec.internet
    steps += internet_steps(p, topo.exits, net.server, net.uplinks, topo.spec.mesh.mtu)

    for r in topo.routers:
        d = run_dir / r.name
        conf = render_checked(babel_settings(topo, r.name, run_dir), f"testbed router {r.name}")
        steps.append(Step(f"babeld {r.name}", (StartBabeld(ns_name(p, r.name), d, conf),), (StopBabeld(d),)))
    return steps


@dataclass(frozen=True)
class RadioNames:
    """The air namespace's devices of one client (see ``l3roam.testbed.air``)."""

    client_end: str  # peer of the client's wlan0
    bridge: str  # joins the client's end with its end towards each AP
    ap_ends: dict[str, str]  # AP -> the air end of the veth whose other end is the AP's station port
    index: dict[str, int]  # interface indexes: client, client_end, port (in every AP) and per AP its air end


def radio_names(topo: Topology, client: str) -> RadioNames:
    """Short, unique names (15 characters at most) by client and AP position.

    Interface indexes are given too, so that no veth end has its peer's index:
    the kernel treats a carrier change of a device whose index equals its
    link's index as non-urgent and reports it up to a second later (linkwatch),
    and a bridge port then stays closed that long (measured: 0.6 s without
    frames after a move, whenever the indexes in two namespaces happened to
    coincide).
    """
    k = [c.name for c in topo.clients].index(client) + 1
    index = {"client": 10_000 + k, "client_end": 20_000 + k, "port": 30_000 + k}
    index.update({ap: 1_000_000 + 1000 * k + j for j, ap in enumerate(topo.aps, start=1)})
    return RadioNames(f"cl{k}", f"ab{k}", {ap: f"ap{k}-{j}" for j, ap in enumerate(topo.aps, start=1)}, index)
