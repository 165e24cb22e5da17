"""Per-client roaming at one node: arrival, claim, serving, hand-off (pure).

Each client MAC this node knows is in one state:

    ABSENT ──arrived──▶ CLAIMING ──claim ok──▶ SERVING ──moved notice──▶ HANDING_OFF
                           │   ▲                 │  ▲                        │
                           │   └──────arrived────┼──┼────────────────────────┘
                      refused/timeout            │  └── bound (DHCP ACK)
                           ▼                     ▼
                         ABSENT ◀──departure timeout / release / expiry──

Events come from presence detection (station/link/FDB events), the DHCP
server (a bind or release), the master (claim answers, move notices) and the
clock.  The machine returns actions for the adapter to carry out; it never
touches the kernel itself.  Every (state, event) pair is in ``TRANSITIONS``;
a pair not there raises ``IllegalTransition``, so a new event must be thought
through for every state.

The hand-off is make-before-break (docs/node.md has the measurements).  When
the master says the client moved to node N with hand-off address S, at t0:

1. the /32 becomes an SRv6 encapsulation to S, *still announced* but demoted:
   filed under the demoted kernel protocol, which babeld redistributes at a
   high metric, so every router that hears N's announcement switches to it
   (babel accepts a worse metric from the same source without a retraction),
   while traffic that still reaches this node follows the client;
2. as soon as this node's babeld holds a route to the /32 from another router
   (``Rerouted``; its neighbours switched to N), or at t0 + ``withdraw_delay``
   at the latest: an unannounced copy of the redirect is added (another
   metric, not our protocol) and the announced one removed.  babeld then
   installs the learned route and announces it in place of its own, so no
   router is left without a route; late packets still follow the redirect;
3. at t0 + ``window``: the redirect goes too.

A node only knows the move sequence numbers it has seen, which may be old
(the client may have moved between two other nodes since it left here).  So
when the claim of a fresh association is refused as stale, the node claims
again with the master's current number plus one while the station is still
associated, as an EVPN PE re-advertises a MAC that is still local (RFC 7432
§15.1).  Re-claims are capped (``max_reclaims`` per ``reclaim_window``) so a
MAC seen at two places at once cannot make two nodes fight forever.  A move
notice, on the other hand, always wins over this node's belief that the
station is still here: on Wi-Fi the old AP often does not see a roaming
station leave (that is why batman-adv sends a roaming advertisement to it).
Residual race, documented in docs/node.md: a claim delayed past a later
claim by another node wins until the station re-associates.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv4Address, IPv6Address

from l3roam.core.roaming_events import (  # the machine's vocabulary, re-exported
    Arrived, Bound, CheckMaster, ClaimAnswered, Departed, GreetClient, InstallRoute, MasterSilent,
    MovedAway, Redirect, Released, RemoveRedirect, RemoveRoute, SendClaim,
)
from l3roam.core.roaming_events import CheckRerouted, Rerouted  # make-before-break: re-exported too


class State(Enum):
    ABSENT = "absent"
    CLAIMING = "claiming"
    SERVING = "serving"
    HANDING_OFF = "handing_off"


class IllegalTransition(Exception):
    pass


@dataclass(frozen=True)
class HandoffSettings:
    enabled: bool = True
    withdraw_delay: float = 0.5  # at the latest
    settle: float = 0.0  # at the earliest: babel has spread the demoted announcement to the neighbours
    window: float = 2.0
    departure_timeout: float = 5.0  # gone without a move notice: stop announcing
    max_reclaims: int = 3
    reclaim_window: float = 2.0
    # while the master does not answer (docs/node.md): serve a client whose
    # master-given lease this node knows once its claim has waited this long
    # (None: never), claim again every reclaim_interval; when a station leaves,
    # check the master and withdraw at once if it is silent (master_check)
    provisional_after: float | None = 0.3
    # with the master up too: serve a known lease at once on arrival, the claim (sent first)
    # confirms or undoes it; needs provisional_after (the same rule on what may be served)
    serve_known_at_once: bool = False
    reclaim_interval: float = 1.0
    master_check: bool = True


@dataclass
class Client:
    mac: str
    state: State = State.ABSENT
    ip: IPv4Address | None = None
    interface: str | None = None
    seq: int = 0  # the highest move sequence this node knows for the MAC
    lease_expires: float = 0.0
    present: bool = False  # the station is associated here now
    sid: IPv6Address | None = None
    redirect_announced: bool = False
    redirect_quiet: bool = False
    rerouted: bool = False  # babel rerouted before ``settle`` ended
    route: bool = False
    provisional: bool = False  # served from a known lease without the master's confirmation
    reclaims: list[float] = field(default_factory=list)  # times of recent re-claims
    deadlines: dict[str, float] = field(default_factory=dict)


# (state, event type) -> handler name; every legal pair is listed
TRANSITIONS: dict[tuple[State, type], str] = {}
for _s in State:
    TRANSITIONS[(_s, Arrived)] = "_on_arrived"
    TRANSITIONS[(_s, Departed)] = "_on_departed"
    TRANSITIONS[(_s, Bound)] = "_on_bound"
    TRANSITIONS[(_s, Released)] = "_on_released"
    TRANSITIONS[(_s, MovedAway)] = "_on_moved"
    TRANSITIONS[(_s, Rerouted)] = "_on_rerouted"
    TRANSITIONS[(_s, MasterSilent)] = "_on_master_silent"
TRANSITIONS[(State.CLAIMING, ClaimAnswered)] = "_on_claim_answered"
# a claim answer in another state is late (the client left or bound meanwhile)
for _s in (State.ABSENT, State.SERVING, State.HANDING_OFF):
    TRANSITIONS[(_s, ClaimAnswered)] = "_ignore"


class RoamingTable:
    def __init__(self, settings: HandoffSettings):
        self.settings = settings
        self.clients: dict[str, Client] = {}
        # (time, mac, name) of every deadline set, so tick() and next_deadline()
        # cost O(log n) instead of a walk over every client (a node holds one
        # entry per leased client).  Entries go stale when a handler moves or
        # drops a deadline; a stale one no longer matches c.deadlines and is
        # skipped when it surfaces.
        self._heap: list[tuple[float, str, str]] = []
        self._idle: set[str] = set()  # absent, no deadlines, still an address: dropped at tick
        self._handing: dict[IPv4Address, str] = {}  # ip -> MAC of clients handing off with an announced redirect

    def handing_off(self, ip: IPv4Address) -> str | None:
        """The MAC whose announced redirect for ``ip`` waits for babel to reroute, if any."""
        mac = self._handing.get(ip)
        c = self.clients.get(mac) if mac else None
        if c is None or c.state is not State.HANDING_OFF or not c.redirect_announced or c.ip != ip:
            self._handing.pop(ip, None)
            return None
        return mac

    def client(self, mac: str) -> Client:
        c = self.clients.get(mac)
        if c is None:
            c = self.clients[mac] = Client(mac)
        return c

    def handle(self, ev: object, now: float) -> list[object]:
        c = self.client(ev.mac)  # type: ignore[attr-defined]
        name = TRANSITIONS.get((c.state, type(ev)))
        if name is None:
            raise IllegalTransition(f"{type(ev).__name__} in state {c.state.value}")
        actions = getattr(self, name)(c, ev, now)
        self._schedule(c)
        if c.state is State.ABSENT and not c.present and not c.deadlines:
            if c.ip is None:
                self.clients.pop(c.mac, None)
            else:
                self._idle.add(c.mac)
        return actions

    def _schedule(self, c: Client) -> None:
        """Index the client's deadlines (after a handler may have changed them)."""
        for name, t in c.deadlines.items():
            heapq.heappush(self._heap, (t, c.mac, name))
        if len(self._heap) > 4 * len(self.clients) + 1024:  # too many stale entries: rebuild
            self._heap = [(t, m, n) for m, cl in self.clients.items() for n, t in cl.deadlines.items()]
            heapq.heapify(self._heap)

    def _valid(self, entry: tuple[float, str, str]) -> Client | None:
        t, mac, name = entry
        c = self.clients.get(mac)
        return c if c is not None and c.deadlines.get(name) == t else None

    def serving(self) -> dict[IPv4Address, str]:
        """Routes this node should announce: ip -> interface."""
        return {c.ip: c.interface for c in self.clients.values()  # type: ignore[misc]
                if c.route and c.state in (State.SERVING, State.CLAIMING)
                and c.ip is not None and c.interface}

    # ---- handlers ---------------------------------------------------------
    def _ignore(self, c: Client, ev: object, now: float) -> list[object]:
        return []

    def _cancel_handoff(self, c: Client) -> list[object]:
        out: list[object] = []
        if c.ip is not None:
            if c.redirect_announced:
                out.append(RemoveRedirect(c.ip, announced=True))
            if c.redirect_quiet:
                out.append(RemoveRedirect(c.ip, announced=False))
        c.redirect_announced = c.redirect_quiet = c.rerouted = False
        c.route = False if out else c.route
        for k in ("withdraw", "end_handoff", "settled"):
            c.deadlines.pop(k, None)
        return out

    def _on_arrived(self, c: Client, ev: Arrived, now: float) -> list[object]:
        was_present = c.present
        c.present = True
        c.interface = ev.interface
        c.deadlines.pop("departure", None)
        if ev.lease_ip is not None and ev.lease_expires > now and not c.route:
            c.ip, c.lease_expires = ev.lease_ip, ev.lease_expires
            c.seq = max(c.seq, ev.seq)
        if c.state is State.SERVING and was_present:
            return [GreetClient(c.mac, c.ip, ev.interface)] if c.ip else []  # type: ignore[list-item]
        # back after a departure: it may have been elsewhere meanwhile, so claim
        # again (the route stays until the answer says otherwise).  The claim goes
        # first: the old AP's hand-off waits for it, the kernel work here does not
        out: list[object] = []
        if c.state is not State.CLAIMING:
            # claim with the last sequence known + 1, or 0 to let the master number it
            out.append(SendClaim(c.mac, c.seq + 1 if c.seq else 0))
        if c.state is State.HANDING_OFF and c.ip is not None:
            # back while handing off: serve it here at once (the route replaces the redirect in
            # place, so babel sees a metric change and no withdrawal); the claim confirms it
            out.append(InstallRoute(c.ip, ev.interface, c.mac))
            out += self._cancel_handoff(c)
            c.route = True
        if c.state is State.CLAIMING:
            return out  # a claim is already on its way
        c.state = State.CLAIMING
        after = self.settings.provisional_after
        if after is not None and c.ip is not None and c.lease_expires > now and not c.route:
            if self.settings.serve_known_at_once:
                c.route = c.provisional = True
                c.deadlines["lease"] = c.lease_expires
                out += [InstallRoute(c.ip, ev.interface, c.mac), GreetClient(c.mac, c.ip, ev.interface)]
            else:
                c.deadlines["provisional"] = now + after
        return out

    def _reclaim(self, c: Client, seq: int, now: float) -> list[object]:
        """Claim again with ``seq`` + 1, unless this MAC has been re-claimed too often."""
        c.reclaims = [t for t in c.reclaims if now - t < self.settings.reclaim_window]
        if len(c.reclaims) >= self.settings.max_reclaims:
            return []
        c.reclaims.append(now)
        c.seq = max(c.seq, seq)
        c.state = State.CLAIMING
        return [SendClaim(c.mac, c.seq + 1)]

    def _on_claim_answered(self, c: Client, ev: ClaimAnswered, now: float) -> list[object]:
        c.deadlines.pop("provisional", None)
        if not ev.ok and ev.reason == "unavailable" and c.route and c.present and c.ip is not None:
            # the master is silent and this node serves the client already (provisionally,
            # or from before): go on, and claim again later
            c.state = State.SERVING
            c.provisional = True
            c.deadlines["reclaim"] = now + self.settings.reclaim_interval
            return []
        if not ev.ok and ev.reason == "stale_sequence" and c.present:
            return self._reclaim(c, ev.seq, now)  # our number was old; the station is here
        if not ev.ok or ev.ip is None:
            c.state = State.ABSENT
            if ev.seq:
                c.seq = max(c.seq, ev.seq)
            if c.route and c.ip is not None:
                c.route = False
                return [RemoveRoute(c.ip, c.mac)]
            return []
        return self._serve(c, ev.ip, c.interface or "", ev.seq, ev.lease_expires)

    def _serve(self, c: Client, ip: IPv4Address, interface: str, seq: int,
               lease_expires: float) -> list[object]:
        out: list[object] = []
        if c.ip is not None and c.ip != ip and c.route:
            out.append(RemoveRoute(c.ip, c.mac))
        # the route first (it replaces an announced redirect in place, so babel sees a metric
        # change and never a withdrawal), then what is left of a hand-off, then greet the client
        out.append(InstallRoute(ip, interface, c.mac))
        out += self._cancel_handoff(c) if c.state is State.HANDING_OFF else []
        c.state = State.SERVING
        c.provisional = False
        c.deadlines.pop("reclaim", None)
        c.ip, c.interface = ip, interface
        c.seq = max(c.seq, seq)
        c.lease_expires = lease_expires
        c.deadlines["lease"] = lease_expires
        out.append(GreetClient(c.mac, ip, interface))
        c.route = True
        return out

    def _on_bound(self, c: Client, ev: Bound, now: float) -> list[object]:
        c.present = True
        c.deadlines.pop("departure", None)
        return self._serve(c, ev.ip, ev.interface, ev.seq, ev.lease_expires)

    def _drop_route(self, c: Client) -> list[object]:
        out = self._cancel_handoff(c)
        if c.route and c.ip is not None:
            out.append(RemoveRoute(c.ip, c.mac))
        c.route = c.provisional = False
        c.state = State.ABSENT
        c.deadlines.clear()
        return out

    def _on_released(self, c: Client, ev: Released, now: float) -> list[object]:
        out = self._drop_route(c)
        c.ip = None
        return out

    def _on_departed(self, c: Client, ev: Departed, now: float) -> list[object]:
        c.present = False
        c.deadlines.pop("reclaim", None)
        if c.state in (State.SERVING, State.CLAIMING):
            # keep announcing until the master says where it went, or it stays gone
            c.deadlines["departure"] = now + self.settings.departure_timeout
            if c.route and self.settings.master_check:
                return [CheckMaster(c.mac)]  # a silent master would send no notice either
        return []

    def _on_master_silent(self, c: Client, ev: MasterSilent, now: float) -> list[object]:
        """The station left and the master is silent: no notice will come, stop announcing."""
        if c.present or c.state not in (State.SERVING, State.CLAIMING) or not c.route:
            return []
        return self._drop_route(c)

    def _on_moved(self, c: Client, ev: MovedAway, now: float) -> list[object]:
        if ev.seq <= c.seq and c.state in (State.SERVING, State.CLAIMING):
            return []  # stale: this node claimed the client again after that move
        c.seq = max(c.seq, ev.seq)
        if c.state is not State.SERVING or c.ip is None or not c.route:
            if c.state is State.CLAIMING:
                return []  # our claim is newer than what we know; its answer decides
            return self._drop_route(c) if c.state is not State.HANDING_OFF else []
        c.present = False
        c.deadlines.pop("departure", None)
        if not self.settings.enabled or ev.sid is None:
            return self._drop_route(c)
        c.state = State.HANDING_OFF
        c.sid = ev.sid
        c.redirect_announced = True
        self._handing[c.ip] = c.mac
        c.rerouted = False
        if self.settings.settle > 0:
            c.deadlines["settled"] = now + self.settings.settle
        c.deadlines["withdraw"] = now + self.settings.withdraw_delay
        c.deadlines["end_handoff"] = now + self.settings.window
        return [Redirect(c.ip, ev.sid, announced=True, mac=c.mac)]

    def _on_rerouted(self, c: Client, ev: Rerouted, now: float) -> list[object]:
        if c.state is not State.HANDING_OFF or not c.redirect_announced:
            return []
        if "settled" in c.deadlines:  # too early: the neighbours may not have the demotion yet
            c.rerouted = True
            return []
        c.deadlines.pop("withdraw", None)
        return self._due_withdraw(c, now)

    def _due_settled(self, c: Client, now: float) -> list[object]:
        if c.state is not State.HANDING_OFF or not c.redirect_announced or c.ip is None:
            return []
        if c.rerouted:
            c.deadlines.pop("withdraw", None)
            return self._due_withdraw(c, now)
        return [CheckRerouted(c.mac, c.ip)]

    # ---- time ---------------------------------------------------------------
    def tick(self, now: float) -> list[object]:
        out: list[object] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            c = self._valid(entry)
            if c is None:
                continue
            del c.deadlines[entry[2]]
            out += getattr(self, f"_due_{entry[2]}")(c, now)
            self._schedule(c)
            if c.state is State.ABSENT and not c.present and not c.deadlines:
                self.clients.pop(c.mac, None)
        while self._idle:
            c = self.clients.get(self._idle.pop())
            if c is not None and c.state is State.ABSENT and not c.present and not c.deadlines:
                self.clients.pop(c.mac, None)
        return out

    def _due_withdraw(self, c: Client, now: float) -> list[object]:
        assert c.ip is not None and c.sid is not None
        c.redirect_quiet = True
        c.redirect_announced = False
        return [Redirect(c.ip, c.sid, announced=False), RemoveRedirect(c.ip, announced=True)]

    def _due_end_handoff(self, c: Client, now: float) -> list[object]:
        out = self._cancel_handoff(c)
        c.route = False
        c.state = State.ABSENT
        return out

    def _due_provisional(self, c: Client, now: float) -> list[object]:
        """The claim is unanswered: serve the known lease; the claim's answer decides later."""
        if c.state is not State.CLAIMING or not c.present or c.ip is None or c.route \
                or c.lease_expires <= now or not c.interface:
            return []
        c.route = c.provisional = True
        c.deadlines["lease"] = c.lease_expires
        return [InstallRoute(c.ip, c.interface, c.mac), GreetClient(c.mac, c.ip, c.interface)]

    def _due_reclaim(self, c: Client, now: float) -> list[object]:
        if c.state is not State.SERVING or not c.provisional or not c.present:
            return []
        c.state = State.CLAIMING
        return [SendClaim(c.mac, c.seq + 1 if c.seq else 0)]

    def _due_departure(self, c: Client, now: float) -> list[object]:
        if c.present:
            return []
        return self._drop_route(c)

    def _due_lease(self, c: Client, now: float) -> list[object]:
        if c.state is not State.SERVING:
            return []
        out = self._drop_route(c)
        c.ip = None
        return out

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap and self._valid(heap[0]) is None:
            heapq.heappop(heap)
        return heap[0][0] if heap else None
