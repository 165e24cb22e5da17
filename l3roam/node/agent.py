"""The node agent: wires DHCP, presence, the master, the kernel and DNS.

One thread, one plain non-blocking loop over a selector: the DHCP socket, the
master client's socket, the netlink link monitor and hostapd's control
sockets.  DNS is not in it: ``l3roam.node.main`` runs the DNS server
(``dns_server.py``) in a thread of its own, and this loop only tells its
answerer the names of bound clients.  ``/metrics`` too is served from its own
thread (``l3roam.metrics_http``); the loop only samples the gauges.  The
decisions live in pure engines (``core.dhcp_server``, ``core.roaming``); this
module only turns their actions into calls on the master client and the
kernel, and feeds their answers back.  A failure while handling one packet or
one action is logged with the client's MAC and counted; the loop goes on.

Presence (why these defaults):
- association: a station port joining the client bridge, with the station's
  MAC as its alias (what the testbed's air does; on Wi-Fi, hostapd's
  AP-STA-CONNECTED carries the same fact).  DHCP alone cannot drive roaming:
  a moved client sends nothing until its renewal time;
- first frame: a MAC learned in the bridge's FDB that holds a lease, for
  clients that roam onto a port without an association event;
- DHCP: a bind is also an arrival;
- departure: the station port goes away; the route stays until the master's
  move notice (then the hand-off) or the departure timeout.
"""

from __future__ import annotations

import heapq
import logging
import re
import selectors
import time
from ipaddress import IPv4Address, IPv4Network

from l3roam.core import roaming as R
from l3roam.core.dhcp_actions import (AskMaster, ClientBound, ClientDeclined, ClientReleased,
                                      DhcpServerSettings, Dropped, MasterAnswer, SendReply)
from l3roam.core.dhcp_server import DhcpServer
from l3roam.errors import ExternalToolError, L3roamError
from l3roam.kernel.interface import LinkDown, LinkUp, NeighbourSeen
from l3roam.log import event
from l3roam.master.client import Answer, MasterClient, MoveNotice
from l3roam.metrics import Registry
from l3roam.node import footprint
from l3roam.node.binding import StationBinding
from l3roam.node.lease_sync import KnownLeases
from l3roam.node.config import NodeConfig
from l3roam.proto.control import Field, LeaseOp, MessageType

log = logging.getLogger("l3roam.node")

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
ADMIT_REFRESH_SECONDS = 10.0  # known leases that ended lose their admission this often
QUIET_METRIC = 50  # the unannounced redirect: metric 50, not our protocol (docs/node-kernel.md)
_OPS = {"offer": LeaseOp.OFFER, "bind": LeaseOp.BIND, "release": LeaseOp.RELEASE,
        "decline": LeaseOp.DECLINE, "inform": LeaseOp.INFORM}


class NodeAgent:
    def __init__(self, cfg: NodeConfig, kernel, master: MasterClient, dhcp_io, monitor=None,
                 dns=None, clock=time.time):
        self.cfg = cfg
        self.kernel = kernel
        self.master = master
        self.dhcp_io = dhcp_io
        self.monitor = monitor
        self.dns = dns
        self.clock = clock
        self.proto = cfg.route_protocol
        self.demoted_proto = cfg.handoff.demoted_proto
        self.babel_watch = None  # babeld's monitor stream: make-before-break withdrawals
        self.mesh_if = cfg.mesh_interfaces[0] if cfg.mesh_interfaces else None
        self.metrics = Registry("l3roam_node")
        for name, text in (("dhcp_total", "DHCP events by kind"),
                           ("roaming_total", "roaming actions by kind"),
                           ("errors_total", "failures while handling, by where")):
            self.metrics.counter(name, text)
        gw = cfg.gateway
        self.dhcp = DhcpServer(DhcpServerSettings(
            server_id=gw.ip, subnet=IPv4Network(gw.network), domain=cfg.dhcp.domain,
            dns_servers=tuple(cfg.dhcp.dns_servers) or None, lease_time=cfg.dhcp.lease_seconds,
            mtu=cfg.dhcp.mtu, max_pending=cfg.dhcp.max_pending,
            offer_hold=cfg.dhcp.offer_hold_seconds,
            max_offers=cfg.dhcp.max_offers, max_offers_per_port=cfg.dhcp.max_offers_per_port,
            mac_rate=cfg.dhcp.mac_rate, mac_burst=cfg.dhcp.mac_burst,
            relays=frozenset(cfg.dhcp.relays), relay_interfaces=frozenset(cfg.dhcp.relay_interfaces),
            master_timeout=cfg.master_deadline_seconds + 0.5))
        self.roaming = R.RoamingTable(R.HandoffSettings(
            enabled=cfg.handoff.enabled, withdraw_delay=cfg.handoff.withdraw_delay_seconds,
            settle=cfg.handoff.settle_seconds if cfg.handoff.make_before_break and cfg.babel_socket else 0.0,
            window=cfg.handoff.window_seconds,
            departure_timeout=cfg.presence.departure_timeout_seconds,
            provisional_after=cfg.master_down.serve_after_seconds
            if cfg.master_down.serve_known_leases else None,
            serve_known_at_once=cfg.handoff.serve_known_at_once,
            master_check=cfg.master_down.check_seconds is not None))
        self.known = KnownLeases(master, cfg.master_down.lease_sync_seconds, on_synced=self._admit_known)
        self._next_admit = 0.0
        self._bind_seq: dict[str, int] = {}  # mac -> move seq from the master's BIND answer
        self._hostnames: dict[str, str] = {}
        self._ports: dict[str, str] = {}  # station port -> MAC
        self.binding = StationBinding(kernel, cfg.client_interface, cfg.guard.enabled)
        self._next_hello = 0.0
        self._delayed: list[tuple[float, int, SendReply]] = []  # replies to send later
        self._delay_seq = 0
        self.running = True
        self.sel = selectors.DefaultSelector()
        self.sel.register(master.sock, selectors.EVENT_READ, "master")
        if dhcp_io is not None:
            self.attach_dhcp(dhcp_io)
        if monitor is not None:
            self.sel.register(monitor, selectors.EVENT_READ, "monitor")
        master.on_notice = self._on_notice
        self.http = None
        self.footprint: footprint.Footprint | None = None
        self.hostapd: list = []
        self._gauges()

    def _gauges(self) -> None:
        m = self.metrics
        m.gauge("clients", "clients by roaming state", lambda: {
            (("state", st.value),): sum(1 for c in self.roaming.clients.values() if c.state is st)
            for st in R.State})
        m.gauge("dhcp_received", "DHCP messages received, by type",
                lambda: {(("type", k),): v for k, v in self.dhcp.counters.received.items()})
        m.gauge("dhcp_replies", "DHCP replies, by type",
                lambda: {(("type", k),): v for k, v in self.dhcp.counters.replies.items()})
        m.gauge("dhcp_dropped", "DHCP messages dropped, by reason",
                lambda: {(("reason", k),): v for k, v in self.dhcp.counters.drops.items()})
        m.gauge("dhcp_pending", "requests waiting on the master", lambda: self.dhcp.pending_count)
        m.gauge("master_retransmits", "control requests sent again", lambda: self.master.retransmits)
        m.gauge("master_dropped", "control datagrams refused (auth, replay, malformed)",
                lambda: self.master.dropped)
        m.gauge("guard_dropped", "client frames dropped by the station binding, by reason",
                lambda: {(("reason", k),): v for k, v in self.kernel.guard_counters().items()})
        m.gauge("guard_bound", "(MAC, address) pairs bound at the client side", lambda: len(self.binding.bound))

    def serve_metrics(self, host: str, port: int) -> None:
        from l3roam.metrics_http import MetricsServer

        self.http = MetricsServer(host, port, self.metrics, self.sel)

    def attach_hostapd(self, monitor) -> None:
        """A hostapd control-socket monitor (``l3roam.node.hostapd``): Wi-Fi station events."""
        self.hostapd.append(monitor)
        self.sel.register(monitor, selectors.EVENT_READ, "hostapd")

    def attach_dhcp(self, dhcp_io) -> None:
        """The DHCP socket binds to the gateway's interface: attach it after ``start``."""
        self.dhcp_io = dhcp_io
        if hasattr(dhcp_io, "port_of"):
            dhcp_io.port_of = self.binding.port_of
        self.sel.register(dhcp_io, selectors.EVENT_READ, "dhcp")

    # ---- start -------------------------------------------------------------
    def check_babeld(self) -> None:
        """Refuse a babeld that redistributes anything but host routes (flush_xroute bug)."""
        if self.cfg.babel_socket is None:
            return
        from l3roam.babel.config import redistributed_problems
        from l3roam.babel.control import BabelControl

        with BabelControl(path=self.cfg.babel_socket) as ctl:
            dump = ctl.dump()
        problems = redistributed_problems([(x.prefix, x.source) for x in dump.xroutes])
        if problems:
            raise ExternalToolError("; ".join(problems))
        event(log, "babeld_checked", xroutes=len(dump.xroutes), routes=len(dump.routes))

    def start(self) -> None:
        cfg = self.cfg
        self.check_babeld()
        self.footprint = footprint.record(self.kernel, cfg)  # before any change: what stop restores
        self.kernel.setup_gateway(cfg.client_interface, cfg.gateway, str(cfg.gateway_mac))
        if cfg.handoff.enabled and cfg.handoff.sid is not None:
            self.kernel.install_sid(cfg.handoff.sid, cfg.client_interface)
        self.binding.start(cfg.gateway.ip, tuple(cfg.guard.trusted_ports), cfg.guard.limits())
        self._reconcile()
        self.watch_babel()
        event(log, "node_started", node=cfg.node_id, interface=cfg.client_interface,
              gateway=cfg.gateway.ip, master=cfg.master, handoff=cfg.handoff.sid or "off")

    def watch_babel(self) -> None:
        """Follow babeld's routes, so a moved client's announcement goes once babel rerouted it."""
        h = self.cfg.handoff
        if not (h.enabled and h.make_before_break and self.cfg.babel_socket is not None):
            return
        from l3roam.babel.control import BabelWatch

        self.babel_watch = BabelWatch(self.cfg.babel_socket)
        self.sel.register(self.babel_watch, selectors.EVENT_READ, "babel")
        event(log, "babel_watched", socket=self.cfg.babel_socket, my_id=self.babel_watch.my_id)

    def _babel(self, now: float) -> None:
        from l3roam.babel.control_lines import RouteChanged, RouteFlushed
        from l3roam.errors import RemoteProtocolError

        watch = self.babel_watch
        try:
            events = watch.read()
        except RemoteProtocolError as exc:  # babeld restarted or gone: withdraw on the timer alone
            self.sel.unregister(watch)
            watch.close()
            self.babel_watch = None
            event(log, "babel_watch_lost", level=logging.WARNING, error=exc)
            return
        for ev in events:
            if isinstance(ev, (RouteChanged, RouteFlushed)) and ev.route.prefix.endswith("/32"):
                try:
                    ip = IPv4Address(ev.route.prefix[:-3])
                except ValueError:
                    continue
                mac = self.roaming.handing_off(ip)
                if mac is not None:
                    self._check_route_to_new_ap(mac, ip, now)

    def _check_route_to_new_ap(self, mac: str, ip: IPv4Address, now: float) -> None:
        """Rerouted when babeld would pick the new AP's route once this node stops announcing.

        That route must come from the neighbour through which babel reaches
        the new AP's hand-off SID, and be strictly better than every other
        route babeld holds for the /32 that is not itself demoted.  Other
        routes may be stale: once a neighbour routes through this node it
        announces this node's own id, babeld ignores such updates, and the
        entry keeps its old id and metric until it expires (~24 s).  Picked
        at the withdrawal, such an entry points back at a neighbour that
        routes through us: measured, a 110 ms black hole (docs/babel.md).
        """
        from l3roam.babel.config import DEMOTED_METRIC

        watch = self.babel_watch
        if watch is None:
            return
        sid = self.roaming.clients[mac].sid
        routes = watch.table.routes.values()
        towards = [r for r in routes if r.prefix == f"{sid}/128" and r.installed and r.reachable]
        if not towards:
            return
        sid_route = towards[0]
        mine = [r for r in routes if r.prefix == f"{ip}/32" and r.reachable and r.metric < DEMOTED_METRIC
                and r.router_id != watch.my_id]
        best = [r for r in mine if r.via == sid_route.via and r.ifname == sid_route.ifname
                and r.router_id == sid_route.router_id]
        if not best:
            return
        cand = min(best, key=lambda r: r.metric)
        if any(r is not cand and r.metric <= cand.metric for r in mine):
            return  # a stale route could win babeld's choice: wait until it is gone (or the timer)
        event(log, "babel_rerouted", mac=mac, ip=ip, via=cand.via, id=cand.router_id, metric=cand.metric)
        self._roam(R.Rerouted(mac), now)

    def _reconcile(self) -> None:
        """Keep the kernel's client routes this node still serves; drop the others.

        After a restart the agent has no memory: it asks the master about each
        of its protocol's /32s and keeps those whose client is located here.
        """
        current = self.kernel.list_host_routes(self.proto)
        wanted: dict[IPv4Address, str] = {}
        answers: dict[IPv4Address, Answer | None] = {}
        pending = list(current)
        while pending:  # many queries in flight at once, a window of 256
            batch, pending = pending[:256], pending[256:]
            rids = {self.master.send(MessageType.QUERY, {Field.IP: ip},
                                     lambda ans, ip=ip: answers.__setitem__(ip, ans)) for ip in batch}
            self.master.wait(rids)
        for ip, ifname in current.items():
            ans = answers.get(ip)
            if ans is None:
                event(log, "reconcile_unknown", level=logging.WARNING, ip=ip, error="master unreachable")
                wanted[ip] = ifname  # master unreachable: keep rather than cut clients off
                continue
            if ans.ok and ans.node == self.cfg.node_id and ans.fields.get(Field.STATE) == 2:
                wanted[ip] = ifname
                mac = str(ans.fields[Field.MAC])
                expires = int(ans.fields.get(Field.EXPIRES, 0)) / 1000
                self.roaming.handle(R.Bound(mac, ip, ifname, ans.seq, expires), self.clock())
                self.dhcp.remember(mac, ip, expires, ifname)
                self.roaming.handle(R.Departed(mac), self.clock())  # present only once seen again
        removed, _ = self.kernel.reconcile_host_routes(wanted, self.proto)
        # bindings of kept routes: the master's MAC, or (master unreachable) the one bound before
        macs: dict[IPv4Address, str] = {}
        for ip in wanted:
            a = answers.get(ip)
            if a is not None and Field.MAC in a.fields:
                macs[ip] = str(a.fields[Field.MAC])
            elif ip in self.binding.bound:
                macs[ip] = self.binding.bound[ip]
        self.binding.reconcile(macs)
        event(log, "routes_reconciled", kept=len(wanted), removed=len(removed))

    # ---- loop --------------------------------------------------------------
    def serve_forever(self) -> None:
        while self.running:
            self.step()

    def _timeout(self, now: float) -> float:
        t = [now + 1.0, self._next_hello]
        if self._delayed:
            t.append(self._delayed[0][0])
        for d in (self.master.next_deadline(), self.dhcp.next_deadline(), self.roaming.next_deadline()):
            if d is not None:
                t.append(d)
        return max(0.0, min(t) - now)

    def step(self) -> None:
        for key, _ in self.sel.select(self._timeout(self.clock())):
            now = self.clock()
            try:
                if key.data is self.http and self.http is not None:
                    self.http.on_readable(key.fileobj)
                elif key.data == "dhcp":
                    stale = getattr(self.dhcp_io, "stale", 0)
                    for payload, meta in self.dhcp_io.recv_batch():
                        self._dhcp_actions(self.dhcp.handle_bytes(payload, meta, now), now)
                    if getattr(self.dhcp_io, "stale", 0) != stale:  # cut unread (dhcp_io: overload)
                        self.metrics.inc("dhcp_total", self.dhcp_io.stale - stale, kind="dropped_stale")
                elif key.data == "master":
                    self.master.on_readable(now)
                elif key.data == "monitor":
                    for ev in self.monitor.read():
                        self._presence(ev, now)
                elif key.data == "babel":
                    self._babel(now)
                elif key.data == "hostapd":
                    for ev in key.fileobj.read():
                        self._station(ev, now)
            except Exception:  # supervising loop: log with context and carry on
                self.metrics.inc("errors_total", where=str(key.data))
                log.exception("event=handler_failed source=%s", key.data)
        now = self.clock()
        try:
            for h in self.hostapd:
                h.tick()
            while self._delayed and self._delayed[0][0] <= now:
                self.dhcp_io.send(heapq.heappop(self._delayed)[2])
            self.master.on_timer(now)
            self.known.tick(now)
            if now >= self._next_admit:  # leases that ended lose their admission
                self._admit_known()
            self._dhcp_actions(self.dhcp.tick(now), now)
            self._roam_actions(self.roaming.tick(now))
            if now >= self._next_hello:
                self._next_hello = now + self.cfg.hello_seconds
                self.master.hello(lambda a: None, handoff=self.cfg.handoff.sid
                                  if self.cfg.handoff.enabled else None, now=now)
        except Exception:
            self.metrics.inc("errors_total", where="timers")
            log.exception("event=handler_failed source=timers")

    # ---- DHCP ----------------------------------------------------------------
    def _dhcp_actions(self, actions: list, now: float) -> None:
        for a in actions:
            if isinstance(a, SendReply):
                if a.delay > 0:  # see DhcpServerSettings.unicast_reply_delay
                    self._delay_seq += 1
                    heapq.heappush(self._delayed, (now + a.delay, self._delay_seq, a))
                else:
                    self.dhcp_io.send(a)
                self.metrics.inc("dhcp_total", kind=f"sent_{a.message_type.name.lower()}")
            elif isinstance(a, AskMaster):
                self._ask_master(a, now)
            elif isinstance(a, ClientBound):
                event(log, "client_bound", mac=a.mac, ip=a.ip, hostname=a.hostname or "-",
                      expires=round(a.lease_expires, 1), from_cache=a.from_cache, relayed=a.relayed)
                if a.hostname:
                    self._hostnames[a.mac] = a.hostname
                    if self.dns is not None:
                        self.dns.answerer.set_name(a.hostname, a.ip)
                seq = self._bind_seq.pop(a.mac, 0)
                if a.relayed:
                    continue  # behind a relay agent: its network routes it, not our /32
                self._roam(R.Bound(a.mac, a.ip, self.cfg.client_interface, seq, a.lease_expires), now)
            elif isinstance(a, ClientReleased):
                event(log, "client_released", mac=a.mac, ip=a.ip)
                if self.dns is not None:
                    self.dns.answerer.remove(a.ip)
                self._lease_ended(a.mac, a.ip)
                self._roam(R.Released(a.mac), now)
            elif isinstance(a, ClientDeclined):
                self._lease_ended(a.mac, a.ip)
                self._roam(R.Released(a.mac), now)
            elif isinstance(a, Dropped):  # counted by the engine (l3roam_node_dhcp_dropped)
                event(log, "dhcp_dropped", level=logging.DEBUG, reason=a.reason, mac=a.mac or "-")

    def _ask_master(self, a: AskMaster, now: float) -> None:
        token = a.token

        def answered(ans: Answer | None) -> None:
            t = self.clock()
            if ans is None:
                result = MasterAnswer("unavailable")
            elif ans.ok:
                if a.op == "bind":
                    self._bind_seq[a.mac] = ans.seq
                    self.known.learn(a.mac, ans.ip, t + ans.lease_seconds, ans.seq)
                    self._admit_one(ans.ip, a.mac)
                result = MasterAnswer("ok", ans.ip, ans.lease_seconds)
            else:
                result = MasterAnswer("refused", reason=ans.reason)
            self._dhcp_actions(self.dhcp.on_master_answer(token, result, t), t)

        self.master.lease(_OPS[a.op], a.mac, answered, ip=a.requested_ip, hostname=a.hostname,
                          client_id=a.client_id, lease_seconds=self.cfg.dhcp.lease_seconds, now=now)

    # ---- presence and moves ---------------------------------------------------
    def _presence(self, ev, now: float) -> None:
        if isinstance(ev, LinkUp):
            mac = (ev.alias or "").strip().lower()
            station_port = ev.master == self.cfg.client_interface
            if station_port and _MAC.match(mac):
                self._ports[ev.ifname] = mac
                event(log, "station_associated", mac=mac, port=ev.ifname)
                self._arrived(mac, now)  # its claim first: the old AP's hand-off waits for it
            if station_port:
                self.binding.port_up(ev.ifname)  # the port's DHCP mark right after
        elif isinstance(ev, LinkDown):
            self.binding.port_down(ev.ifname)
            mac = self._ports.pop(ev.ifname, None)
            if mac is not None:
                event(log, "station_left", mac=mac, port=ev.ifname)
                self._roam(R.Departed(mac), now)
        elif isinstance(ev, NeighbourSeen) and self.cfg.presence.bridge_fdb and ev.ip is None:
            c = self.roaming.clients.get(ev.mac)
            if ev.ifname in self._ports or (c is not None and c.present) \
                    or ev.mac == str(self.cfg.gateway_mac) or int(ev.mac[:2], 16) & 1:
                return  # a known station, our own gateway MAC, or not a unicast MAC
            self._arrived(ev.mac, now)

    def _admit_known(self) -> None:
        self._next_admit = self.clock() + ADMIT_REFRESH_SECONDS
        if self.cfg.guard.admit_known_leases:
            self.binding.admit(self.known.pairs(self.clock()))

    def _lease_ended(self, mac: str, ip: IPv4Address | None) -> None:
        """Released or declined here: neither known nor admitted any more (elsewhere: next sync)."""
        self.known.forget(mac)
        if ip is not None:
            self.binding.unadmit(ip)

    def _admit_one(self, ip: IPv4Address | None, mac: str) -> None:
        if ip is not None and self.cfg.guard.admit_known_leases:
            self.binding.admit_one(ip, mac)

    def _arrived(self, mac: str, now: float) -> None:
        """A station is here; with the master-given lease this node knows for it, if any."""
        iface = self.cfg.client_interface
        known = self.known.get(mac, now)
        if known is None:
            self._roam(R.Arrived(mac, iface), now)
            return
        ip, expires, seq = known
        self.dhcp.remember(mac, ip, expires, iface)  # renewable from here while the master is silent
        self._roam(R.Arrived(mac, iface, ip, expires, seq), now)

    def _station(self, ev, now: float) -> None:
        """hostapd's AP-STA-CONNECTED / AP-STA-DISCONNECTED."""
        from l3roam.node.hostapd import StationConnected

        if isinstance(ev, StationConnected):
            event(log, "station_associated", mac=ev.mac, port=ev.ifname)
            self._arrived(ev.mac, now)
        else:
            event(log, "station_left", mac=ev.mac, port=ev.ifname)
            self._roam(R.Departed(ev.mac), now)

    def _on_notice(self, n: MoveNotice) -> None:
        now = self.clock()
        self._roam(R.MovedAway(n.mac, n.new_node, n.seq, n.handoff), now)


    def _roam(self, ev, now: float) -> None:
        self._roam_actions(self.roaming.handle(ev, now))

    def _roam_actions(self, actions: list) -> None:
        for a in actions:
            kind = type(a).__name__
            self.metrics.inc("roaming_total", kind=kind)
            try:
                self._do(a)
            except L3roamError as exc:
                self.metrics.inc("errors_total", where=kind)
                event(log, "action_failed", level=logging.WARNING, action=kind, error=exc)

    def _do(self, a) -> None:
        k = self.kernel
        if isinstance(a, R.SendClaim):
            mac = a.mac

            def answered(ans: Answer | None, mac=mac) -> None:
                t = self.clock()
                if ans is None:
                    ev = R.ClaimAnswered(mac, False, reason="unavailable")
                else:
                    expires = int(ans.fields.get(Field.EXPIRES, 0)) / 1000
                    ev = R.ClaimAnswered(mac, ans.ok, ans.ip, ans.seq, expires, ans.reason)
                    if ans.ok and ans.ip is not None:  # renewable from here if the master goes
                        self.dhcp.remember(mac, ans.ip, expires, self.cfg.client_interface)
                        self.known.learn(mac, ans.ip, expires, ans.seq)
                        self._admit_one(ans.ip, mac)
                    host = ans.fields.get(Field.HOSTNAME)
                    if ans.ok and host and self.dns is not None and ans.ip is not None:
                        self.dns.answerer.set_name(str(host), ans.ip)
                event(log, "claim_answered", mac=mac, ok=ev.ok, ip=ev.ip or "-", seq=ev.seq,
                      reason=ev.reason or "-")
                self._roam(ev, t)

            self.master.claim(a.mac, a.seq, answered)
        elif isinstance(a, R.CheckMaster):
            def checked(ans: Answer | None, mac=a.mac) -> None:
                if ans is None:
                    event(log, "master_silent", level=logging.WARNING, mac=mac)
                    self._roam(R.MasterSilent(mac), self.clock())

            self.master.query(checked, mac=a.mac, deadline=self.cfg.master_down.check_seconds)
        elif isinstance(a, R.InstallRoute):
            c = self.roaming.clients.get(a.mac)
            if c is not None and c.provisional:
                event(log, "served_provisionally", mac=a.mac, ip=a.ip)
            # the route first: it is what the hand-off waits for (the station's permanent
            # neighbour entry follows within a millisecond; a packet meanwhile waits in the
            # kernel's ARP queue, which the entry releases)
            k.add_host_route(a.ip, a.interface, self.proto)
            if a.mac:
                self.binding.bind(a.ip, a.mac)
        elif isinstance(a, R.RemoveRoute):
            k.del_host_route(a.ip, self.proto)
            self.binding.unbind(a.ip)
        elif isinstance(a, R.GreetClient):
            k.send_gratuitous_arp(a.interface, self.cfg.gateway.ip, str(self.cfg.gateway_mac),
                                  dst_mac=a.mac)
        elif isinstance(a, R.Redirect):
            if a.announced:  # demoted: babeld announces it at a high metric (make-before-break)
                k.redirect_host_route(a.ip, a.sid, self.mesh_if, proto=self.demoted_proto)
                self.binding.unbind(a.ip)  # the binding follows the client: gone from here
            else:
                k.redirect_host_route(a.ip, a.sid, self.mesh_if, proto=None, metric=QUIET_METRIC)
            event(log, "handoff_redirect", ip=a.ip, sid=a.sid, announced=a.announced)
        elif isinstance(a, R.CheckRerouted):
            if self.babel_watch is not None and self.roaming.handing_off(a.ip) == a.mac:
                self._check_route_to_new_ap(a.mac, a.ip, self.clock())
        elif isinstance(a, R.RemoveRedirect):
            if a.announced:
                k.remove_redirect(a.ip, proto=self.demoted_proto, metric=0)
            else:
                k.remove_redirect(a.ip, metric=QUIET_METRIC)

    def teardown(self) -> list[str]:
        """Undo every kernel change ``start`` and the roaming made (l3roam.node.footprint)."""
        if self.footprint is None:
            return []
        failures = footprint.undo(self.kernel, self.cfg, self.footprint, self.roaming, self.proto)
        self.footprint = None
        return failures

    def close(self) -> None:
        self.running = False
        if self.babel_watch is not None:
            self.babel_watch.close()
        if self.http is not None:
            self.http.close()
            self.http = None
        self.sel.close()
