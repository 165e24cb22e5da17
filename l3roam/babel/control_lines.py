"""Parse babeld's local-socket lines (pure: no sockets, no I/O).

After connecting, babeld sends a header and ``ok``::

    BABEL 1.0
    version babeld-1.13.1
    host vm
    my-id 02:00:00:ff:fe:00:00:01
    ok

``dump`` answers with one line per object and ``ok``; ``monitor`` does the
same and then streams changes.  Object lines are ``<verb> <kind> <key>``
followed by ``name value`` pairs, e.g.::

    add route 563023112630 prefix 10.99.0.5/32 from 0.0.0.0/0 installed yes
        id 02:00:00:ff:fe:00:00:02 metric 96 refmetric 0
        via fe80::e8e9:7aff:fe74:48f4 if m-b

``verb`` is add, change or flush; ``kind`` is interface, neighbour, xroute
(a route this node redistributes) or route; the key of a route is babeld's
internal pointer, so one prefix announced by two routers is two routes with
different ``id``s.  ``monitor`` repeats *unchanged* ``change route`` lines
several times a second (babeld 1.13.1), so ``RouteTable`` compares fields and
reports only real changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from l3roam.errors import MalformedPacket

VERBS = ("add", "change", "flush")
KINDS = ("interface", "neighbour", "xroute", "route")
INFINITY = 0xFFFF


@dataclass(frozen=True)
class ObjectLine:
    verb: str
    kind: str
    key: str
    fields: dict[str, str] = field(hash=False, compare=True)


@dataclass(frozen=True)
class RouteEntry:
    """One route babeld knows (selected or not)."""

    key: str
    prefix: str
    source: str
    installed: bool
    router_id: str
    metric: int
    refmetric: int
    via: str
    ifname: str

    @property
    def reachable(self) -> bool:
        return self.metric < INFINITY


@dataclass(frozen=True)
class XrouteEntry:
    """A route this node redistributes."""

    prefix: str
    source: str
    metric: int


@dataclass(frozen=True)
class RouteChanged:
    """A route appeared or one of its fields changed; ``previous`` is None for a new route."""

    route: RouteEntry
    previous: RouteEntry | None


@dataclass(frozen=True)
class RouteFlushed:
    route: RouteEntry


def installed(routes: Iterable[RouteEntry]) -> dict[str, RouteEntry]:
    """prefix -> the installed, reachable route for it."""
    return {r.prefix: r for r in routes if r.installed and r.reachable}


def parse_line(line: str) -> ObjectLine | None:
    """Parse an object line; None for status lines (``ok``, ``no``, header lines, blank)."""
    words = line.split()
    if len(words) < 3 or words[0] not in VERBS:
        return None
    verb, kind, key, rest = words[0], words[1], words[2], words[3:]
    if kind not in KINDS:
        return None
    if len(rest) % 2:
        raise MalformedPacket(f"odd number of words after the key in {line.strip()!r}")
    return ObjectLine(verb, kind, key, dict(zip(rest[::2], rest[1::2])))


def route_from(obj: ObjectLine) -> RouteEntry:
    f = obj.fields
    try:
        return RouteEntry(
            key=obj.key, prefix=f["prefix"], source=f.get("from", ""),
            installed=f.get("installed") == "yes", router_id=f.get("id", ""),
            metric=int(f["metric"]), refmetric=int(f.get("refmetric", "0")),
            via=f.get("via", ""), ifname=f.get("if", ""))
    except (KeyError, ValueError) as exc:
        raise MalformedPacket(f"route line without a usable {exc}: {obj}") from None


def xroute_from(obj: ObjectLine) -> XrouteEntry:
    f = obj.fields
    try:
        return XrouteEntry(prefix=f["prefix"], source=f.get("from", ""), metric=int(f.get("metric", "0")))
    except (KeyError, ValueError) as exc:
        raise MalformedPacket(f"xroute line without a usable {exc}: {obj}") from None


def parse_header(lines: list[str]) -> dict[str, str]:
    """``BABEL 1.0`` / ``version ..`` / ``host ..`` / ``my-id ..`` -> dict; raise if not babeld."""
    if not lines or not lines[0].startswith("BABEL "):
        raise MalformedPacket(f"not a babeld control socket (got {lines[:1]!r})")
    out = {"protocol": lines[0].split(None, 1)[1]}
    for line in lines[1:]:
        k, _, v = line.partition(" ")
        if k and k != "ok":
            out[k] = v.strip()
    return out


class RouteTable:
    """Routes as the control socket reports them, with repeated unchanged lines filtered out."""

    def __init__(self) -> None:
        self.routes: dict[str, RouteEntry] = {}
        self.xroutes: dict[str, XrouteEntry] = {}

    def apply(self, line: str) -> RouteChanged | RouteFlushed | None:
        """Feed one line; return an event only when a route really changed."""
        obj = parse_line(line)
        if obj is None:
            return None
        if obj.kind == "xroute":
            if obj.verb == "flush":
                self.xroutes.pop(obj.key, None)
            else:
                self.xroutes[obj.key] = xroute_from(obj)
            return None
        if obj.kind != "route":
            return None
        route = route_from(obj)
        if obj.verb == "flush":
            old = self.routes.pop(obj.key, None)
            return RouteFlushed(old or route)
        previous = self.routes.get(obj.key)
        if previous == route:
            return None
        self.routes[obj.key] = route
        return RouteChanged(route, previous)

    def installed(self) -> dict[str, RouteEntry]:
        return installed(self.routes.values())

    def announcers(self, prefix: str) -> set[str]:
        """Router ids that currently announce ``prefix`` with a finite metric."""
        return {r.router_id for r in self.routes.values() if r.prefix == prefix and r.reachable}
