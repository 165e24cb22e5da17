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
    """Kill every process inside, then delete the namespace (tolerates a missing one).

    The builder deletes the namespaces of one undo together: one scan of
    /proc for their processes and one ``ip -batch`` of ``netns delete``.
    """

    name: str


@dataclass(frozen=True)
class Sysctls:
    """Sysctls written in-process from a thread inside ``netns`` (no ``ip netns exec``)."""

    netns: str
    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class WaitLinkLocal:
    """Wait until the named interfaces of ``netns`` have their IPv6 link-local address.

    babeld ignores an interface without one ("has no link-local address")
    until its next interface check, 30 s later; the kernel adds the address
    a moment after the link comes up, so the babelds wait for it.
    """

    netns: str
    interfaces: tuple[str, ...]


@dataclass(frozen=True)
class StartBabeld:
    netns: str
    directory: Path
    config: str


@dataclass(frozen=True)
class StopBabeld:
    directory: Path


Action = Cmd | DeleteNetns | Sysctls | WaitLinkLocal | StartBabeld | StopBabeld


@dataclass(frozen=True)
class Step:
    what: str
    do: tuple[Action, ...]
    undo: tuple[Action, ...] = ()


def ns_name(prefix: str, node: str) -> str:
    return f"{prefix}{node}"


def _ip(ns: str, *args: str, tolerant: bool = False) -> Cmd:
    return Cmd(("ip", "-n", ns, *args), tolerant)


def _batch(lines: list[str], ns: str | None = None, tool: str = "ip") -> Cmd:
    """One ``ip``/``tc`` process for many changes (``-batch -`` reads them from stdin)."""
    argv = (tool, "-n", ns, "-batch", "-") if ns else (tool, "-batch", "-")
    return Cmd(argv, stdin="".join(f"{line}\n" for line in lines))


ROUTER_SYSCTLS = (
    ("net.ipv4.ip_forward", "1"),
    ("net.ipv6.conf.all.forwarding", "1"),
    ("net.ipv6.conf.default.accept_dad", "0"),  # link-local usable at once: babel starts sooner
    ("net.ipv4.conf.all.rp_filter", "0"),
    ("net.ipv4.conf.default.rp_filter", "0"),
)
CLIENT_SYSCTLS = (("net.ipv6.conf.default.accept_dad", "0"), ("net.ipv6.conf.all.disable_ipv6", "0"))


def babel_settings(topo: Topology, router: str, run_dir: Path) -> BabelSettings:
    r = topo.router(router)
    b = topo.spec.babel
    hello, update = topo.hello_interval, topo.update_interval
    ifaces = []
    for link in topo.links:
        if router in (link.a, link.b):
            mine = link.a == router
            ifaces.append(InterfaceSettings(
                name=link.ifname_a if mine else link.ifname_b, type="wired",
                hello_interval=hello, update_interval=update,
                rxcost=link.cost_a if mine else link.cost_b))
    exit_ = router in topo.exits  # an exit redistributes its default route and never a client /32
    return BabelSettings(
        router_id=r.router_id, interfaces=tuple(ifaces),
        own_prefixes=(f"{r.loopback}/32", f"{r.locator}/128", f"{r.sid}/128"),
        client_prefix=None if exit_ else str(topo.spec.addressing.client_prefix), client_proto=b.client_proto,
        kernel_priority=b.kernel_priority, kernel_check_interval=b.kernel_check_interval,
        local_path=str(run_dir / router / "babeld.sock"),
        default_route_proto=EXIT_PROTO if exit_ else None)


def namespaces(topo: Topology) -> list[str]:
    """Every namespace a testbed of ``topo`` creates, routers first."""
    p = topo.spec.prefix
    return [ns_name(p, n) for n in [r.name for r in topo.routers] + [AIR] + [c.name for c in topo.clients]]


def plan(topo: Topology, run_dir: Path) -> list[Step]:
    """The build in a handful of bulk steps; a few processes in all, not a few per router.

    1. every namespace in one ``ip -batch`` (undo: delete them all; that
       removes every link, bridge and route inside, and the processes are
       killed first);
    2. their sysctls, written in-process;
    3. every veth pair (mesh links, and per client its radio: one pair to the
       air namespace and one per AP) in one ``ip -batch``, both ends created
       directly in their namespaces;
    4. per namespace one ``ip -n <ns> -batch`` (loopback addresses, links up,
       the AP's cell bridge), and ``tc -n <ns> -batch`` for rate limits;
    5. per client an air bridge joining its station ports, and its
       association to the first AP (that AP's port enabled);
    6. one babeld per router (the builder starts them in parallel).
    """
    p = topo.spec.prefix
    mtu = str(topo.spec.mesh.mtu)
    addr = topo.spec.addressing
    all_ns = namespaces(topo)
    steps: list[Step] = [Step("namespaces", (_batch([f"netns add {n}" for n in all_ns]),),
                              tuple(DeleteNetns(n) for n in all_ns))]
    sysctls: list[Action] = [Sysctls(ns_name(p, r.name), ROUTER_SYSCTLS) for r in topo.routers]
    sysctls += [Sysctls(ns_name(p, c.name), CLIENT_SYSCTLS) for c in topo.clients]
    steps.append(Step("sysctls", tuple(sysctls)))

    air = ns_name(p, AIR)
    links = [f"link add {l.ifname_a} netns {ns_name(p, l.a)} mtu {mtu} type veth "
             f"peer name {l.ifname_b} netns {ns_name(p, l.b)} mtu {mtu}" for l in topo.links]
    for c in topo.clients:
        names, cns = radio_names(topo, c.name), ns_name(p, c.name)
        links.append(f"link add {CLIENT_IFNAME} netns {cns} index {names.index['client']} address {c.mac} "
                     f"type veth peer name {names.client_end} netns {air} index {names.index['client_end']}")
        links += [f"link add {c.port} netns {ns_name(p, ap)} index {names.index['port']} type veth "
                  f"peer name {names.ap_ends[ap]} netns {air} index {names.index[ap]}" for ap in topo.aps]
    if links:
        steps.append(Step("links", (_batch(links),)))

    plen = addr.client_prefix.prefixlen
    for r in topo.routers:
        ns = ns_name(p, r.name)
        lines = ["link set lo up", f"addr replace {r.loopback}/32 dev lo", f"addr replace {r.locator}/128 dev lo"]
        lines += [f"link set {ifname} up" for _, ifname in topo.neighbours(r.name)]
        acts: list[Action] = []
        if r.name in topo.aps:
            lines += [f"link add {CELL_BRIDGE} address {addr.gateway_mac} type bridge",
                      f"addr replace {addr.gateway}/{plen} dev {CELL_BRIDGE}", f"link set {CELL_BRIDGE} up"]
            for c in topo.clients:  # its station port for every client: the MAC as a Wi-Fi station event
                # carries it; isolated like Wi-Fi client isolation (clients meet only through routing)
                lines += [f"link set {c.port} alias {c.mac}", f"link set {c.port} master {CELL_BRIDGE}",
                          f"link set {c.port} type bridge_slave isolated on", f"link set {c.port} up"]
        acts.append(_batch(lines, ns))
        if topo.spec.mesh.rate and topo.neighbours(r.name):
            acts.append(_batch([f"qdisc replace dev {ifname} root tbf rate {topo.spec.mesh.rate} burst 32kbit "
                                f"latency 50ms" for _, ifname in topo.neighbours(r.name)], ns, tool="tc"))
        if r.name in topo.aps:
            # proxied ARP answers without the default random delay of up to 0.8 s
            acts.append(Sysctls(ns, ((f"net.ipv4.neigh.{CELL_BRIDGE}.proxy_delay", "0"),)))
        steps.append(Step(f"configure {r.name}", tuple(acts)))
    air_lines = ["link set lo up"]
    for c in topo.clients:  # the radio stand-in: a station port per AP, one enabled (l3roam.testbed.air)
        names = radio_names(topo, c.name)
        steps.append(Step(f"client {c.name}", (_batch(["link set lo up", f"link set {CLIENT_IFNAME} up"],
                                                      ns_name(p, c.name)),)))
        # a hub per client: no port learns a MAC, so no frame follows a stale entry to the AP the
        # client left (the gateway MAC is the same at every AP)
        air_lines += [f"link add {names.bridge} type bridge", f"link set {names.bridge} up",
                      f"link set {names.client_end} master {names.bridge} up",
                      f"link set {names.client_end} type bridge_slave learning off"]
        for ap in topo.aps:
            air_lines += [f"link set {names.ap_ends[ap]} master {names.bridge}",
                          f"link set {names.ap_ends[ap]} type bridge_slave learning off"]
    steps.append(Step("air", (_batch(air_lines, air),)))
    for c in topo.clients:
        names = radio_names(topo, c.name)
        steps.append(Step(f"associate {c.name} to {c.first_ap}",
                          (_ip(air, "link", "set", names.ap_ends[c.first_ap], "up"),)))

    from l3roam.testbed.internet import internet_steps  # it builds on this module's step types

    net = topo.spec.internet
    steps += internet_steps(p, topo.exits, net.server, net.uplinks, topo.spec.mesh.mtu)

    steps.append(Step("link-local addresses", tuple(
        WaitLinkLocal(ns_name(p, r.name), tuple(i for _, i in topo.neighbours(r.name))) for r in topo.routers)))
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
