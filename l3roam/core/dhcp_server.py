"""DHCPv4 server decisions (RFC 2131 §4.3), sans I/O.

The engine reads decoded client messages and the lease master's answers and
returns actions: ask the master, send this reply to that address, a client
was bound / released / declined, a message was dropped (with a reason, for
counters).  It never opens a socket, never sleeps and never reads the clock:
every call takes ``now``; ``tick(now)`` expires master requests that got no
answer within ``master_timeout`` and ``next_deadline()`` says when to call it.
Must not import asyncio, socket, subprocess or pyroute2.

Every address comes from the master.  While the master is unavailable a
client whose lease this server acknowledged before (a local cache of
mac -> address, expiry) is renewed from the cache, for at most the time its
lease has left; any other client gets no reply at all and retries: it is
never NAKed and never offered an address the master did not give.

Overload: at most ``max_pending`` master requests are outstanding for
DISCOVERs, and none is added while the oldest has waited longer than
``shed_after``; further DISCOVERs are dropped (reason ``overload``) instead of
queueing, so latency stays flat and clients retry.  Messages of clients
already in a handshake (REQUEST, RELEASE, DECLINE) may use up to twice that,
so work already started is finished first.

Which state a DHCPREQUEST comes from (RFC 2131 §4.3.2, Table 4)::

    state         server id   requested ip   ciaddr   sent to
    SELECTING     MUST        MUST           zero     broadcast
    INIT-REBOOT   MUST NOT    MUST           zero     broadcast
    RENEWING      MUST NOT    MUST NOT       set      unicast to the server
    REBINDING     MUST NOT    MUST NOT       set      broadcast
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Address
from typing import Callable

from l3roam.core.dhcp_actions import (
    BROADCAST_IP,
    BROADCAST_MAC,
    ZERO,
    Action,
    AskMaster,
    ClientBound,
    ClientDeclined,
    ClientReleased,
    Counters,
    DhcpServerSettings,
    Dropped,
    MasterAnswer,
    MasterOp,
    Received,
    SendReply,
)
from l3roam.core.dhcp_limits import OfferLimits
from l3roam.errors import LocalProtocolError, MalformedPacket
from l3roam.proto import dhcp
from l3roam.proto.dhcp import DhcpMessage, MessageType, Option

__all__ = [
    "Action",
    "AskMaster",
    "ClientBound",
    "ClientDeclined",
    "ClientReleased",
    "Counters",
    "DhcpServer",
    "DhcpServerSettings",
    "Dropped",
    "MasterAnswer",
    "Received",
    "RequestState",
    "SendReply",
]

# bytes 236..242: magic cookie, then option 53 (message type) = DHCPDISCOVER
_PEEK = slice(236, 243)
_DISCOVER_FIRST = bytes((99, 130, 83, 99, Option.DHCP_MESSAGE_TYPE, 1, MessageType.DHCPDISCOVER))


class RequestState(Enum):
    """Client state a DHCPREQUEST was sent from (RFC 2131 §4.3.2)."""

    SELECTING = "selecting"
    INIT_REBOOT = "init-reboot"
    RENEWING = "renewing"
    REBINDING = "rebinding"


@dataclass(slots=True)
class _Pending:
    op: MasterOp
    msg: DhcpMessage
    meta: Received
    created: float
    requested_ip: IPv4Address | None = None
    state: RequestState | None = None


@dataclass(slots=True)
class _Lease:
    ip: IPv4Address
    expires: float
    interface: str
    port: str | None = None  # offers: the station port the DISCOVER came by


class DhcpServer:
    """Decisions of one node's DHCP server; see the module docstring."""

    def __init__(self, config: DhcpServerSettings):
        self.config = config
        self.counters = Counters()
        self._tokens = itertools.count(1)
        self._pending: dict[int, _Pending] = {}  # insertion order = creation order
        self._by_key: dict[tuple[str, str], int] = {}  # (mac, op) -> token, to merge retransmissions
        self._offers: dict[str, _Lease] = {}
        self._cache: dict[str, _Lease] = {}  # mac -> lease this server acknowledged
        self._next_sweep = 0.0
        self._next_offer_sweep = 0.0
        self.limits = OfferLimits(config)  # starvation limits (dhcp_limits.py)
        c = config
        self._mask = c.subnet.netmask.packed
        self._router = (c.router or c.server_id).packed
        self._dns = dhcp.ip_bytes(*(c.dns_servers if c.dns_servers is not None else (c.server_id,)))
        self._domain = c.domain.encode() if c.domain else None
        self._server_id = c.server_id.packed
        self._handlers: dict[MessageType, Callable[[DhcpMessage, Received, float], list[Action]]] = {
            MessageType.DHCPDISCOVER: self._discover,
            MessageType.DHCPREQUEST: self._request,
            MessageType.DHCPDECLINE: self._decline,
            MessageType.DHCPRELEASE: self._release,
            MessageType.DHCPINFORM: self._inform,
        }

    # --- public entry points ---------------------------------------------

    def handle_bytes(self, payload: bytes, meta: Received, now: float) -> list[Action]:
        """Decode and handle a UDP payload; a malformed one is dropped and counted."""
        if self._pending and payload[_PEEK] == _DISCOVER_FIRST and self._master_lagging(now):
            # Shedding costs no decode: under overload most datagrams are new
            # DISCOVERs, and decoding each one only to drop it would take the
            # time the requests already admitted need.  Option 53 comes first
            # in what udhcpc, dhclient and perfdhcp send; otherwise decode.
            mac = payload[28:34].hex(":")
            if payload[0] == dhcp.Op.BOOTREQUEST and self.cached_lease(mac, now) is None:
                self.counters.received["DHCPDISCOVER"] += 1
                return [self._drop("overload", mac)]
        try:
            msg = dhcp.decode(payload)
        except MalformedPacket as exc:
            self.counters.received["malformed"] += 1
            return [self._drop("malformed", None, exc.reason)]
        return self.handle(msg, meta, now)

    def handle(self, msg: DhcpMessage, meta: Received, now: float) -> list[Action]:
        actions = self.tick(now) if self._pending else []
        mtype = msg.message_type
        self.counters.received[mtype.name if mtype else "unknown"] += 1
        if msg.op != dhcp.Op.BOOTREQUEST:
            actions.append(self._drop("not_a_request", None))
        elif mtype is None:
            actions.append(self._drop("no_message_type", None))  # BOOTP or unknown type
        elif msg.htype != 1 or msg.hlen != 6:
            actions.append(self._drop("not_ethernet", None))
        elif (msg.giaddr != ZERO or meta.src_port == dhcp.SERVER_PORT) and not self.limits.relay_allowed(meta):
            actions.append(self._drop("relay_not_allowed", msg.mac))
        else:
            handler = self._handlers.get(mtype)
            if handler is None:
                actions.append(self._drop("unexpected_type", msg.mac))
            else:
                actions.extend(handler(msg, meta, now))
        return actions

    def _drop_offer(self, mac: str) -> None:
        offer = self._offers.pop(mac, None)
        if offer is not None:
            self.limits.count(offer.port, -1)

    @property
    def outstanding_offers(self) -> int:
        return self.limits.outstanding

    def on_master_answer(self, token: int, answer: MasterAnswer, now: float) -> list[Action]:
        pending = self._pending.pop(token, None)
        if pending is None:  # answered late, merged or expired: ignore
            self.counters.drops["unknown_token"] += 1
            return []
        if pending.op == "offer":
            self.limits.count(pending.meta.port, -1)  # the ask ends; an offer made counts anew
        key = (pending.msg.mac, pending.op)
        if self._by_key.get(key) == token:
            del self._by_key[key]
        if pending.op == "offer":
            return self._answer_offer(pending, answer, now)
        if pending.op == "bind":
            return self._answer_bind(pending, answer, now)
        return []  # release, decline, inform: the master only records them

    def tick(self, now: float) -> list[Action]:
        """Expire master requests older than master_timeout (as 'unavailable')."""
        actions: list[Action] = []
        limit = now - self.config.master_timeout
        while self._pending:
            token, pending = next(iter(self._pending.items()))
            if pending.created > limit:
                break
            self.counters.drops["master_timeout"] += 1
            actions.extend(self.on_master_answer(token, MasterAnswer("unavailable", reason="timeout"), now))
        if now >= self._next_offer_sweep:  # offers never requested lapse quickly
            self._next_offer_sweep = now + 1.0
            for mac in [m for m, lease in self._offers.items() if lease.expires <= now]:
                self._drop_offer(mac)
        if now >= self._next_sweep:
            self._next_sweep = now + 60.0
            for mac in [m for m, lease in self._cache.items() if lease.expires <= now]:
                del self._cache[mac]
            self.limits.sweep(now)
        return actions

    def next_deadline(self) -> float | None:
        if not self._pending:
            return None
        return next(iter(self._pending.values())).created + self.config.master_timeout

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def cached_lease(self, mac: str, now: float) -> tuple[IPv4Address, float] | None:
        """(address, expiry) this server acknowledged to ``mac``, if still valid."""
        lease = self._cache.get(mac)
        if lease is None or lease.expires <= now:
            return None
        return lease.ip, lease.expires

    def remember(self, mac: str, ip: IPv4Address, expires: float, interface: str) -> None:
        """Cache a lease the master confirmed another way (a claim on arrival, a
        restart's reconcile), so this server can renew it while the master is down."""
        if self._usable(ip) and expires > 0:
            self._cache[mac] = _Lease(ip, expires, interface)

    def forget(self, mac: str) -> None:
        """Drop the offer and cached lease of ``mac`` (e.g. the master says it moved away)."""
        self._drop_offer(mac)
        self._cache.pop(mac, None)

    # --- client messages ---------------------------------------------------

    def _discover(self, msg: DhcpMessage, meta: Received, now: float) -> list[Action]:
        if self._merge_retransmission(msg, meta, "offer", msg.requested_ip):
            return [self._drop("awaiting_master", msg.mac)]
        if len(self._pending) >= self.config.max_pending or (
                self._master_lagging(now) and self.cached_lease(msg.mac, now) is None):
            # a client with a cached lease is not shed for lag: while the
            # master is unreachable the cache is what answers it
            return [self._drop("overload", msg.mac)]
        mac = msg.mac
        if not self.limits.rate_ok(mac, now):
            return [self._drop("mac_rate", mac)]
        if mac not in self._offers and self.cached_lease(mac, now) is None:
            # a new client: caps on outstanding offers (a known one only asks again)
            why = self.limits.refusal(meta.port)
            if why is not None:
                return [self._drop(why, mac)]
        self.limits.count(meta.port, +1)
        return [self._ask("offer", msg, meta, now, msg.requested_ip)]

    def _master_lagging(self, now: float) -> bool:
        """The oldest unanswered master request is older than shed_after."""
        if not self._pending:
            return False
        return now - next(iter(self._pending.values())).created > self.config.shed_after

    def _request(self, msg: DhcpMessage, meta: Received, now: float) -> list[Action]:
        mac = msg.mac
        server_id = msg.server_id
        requested = msg.requested_ip
        if server_id is not None:
            if server_id != self.config.server_id:
                # RFC 2131 §4.3.2: the client chose another server; forget our offer.
                self._drop_offer(mac)
                return [self._drop("other_server", mac)]
            state = RequestState.SELECTING
            if requested is None:
                offer = self._offers.get(mac)
                if offer is None:
                    return [self._drop("no_requested_ip", mac)]
                requested = offer.ip
        elif requested is not None and msg.ciaddr == ZERO:
            state = RequestState.INIT_REBOOT
        elif msg.ciaddr != ZERO:
            requested = msg.ciaddr
            unicast = meta.dst_ip is not None and meta.dst_ip != BROADCAST_IP
            state = RequestState.RENEWING if unicast else RequestState.REBINDING
        else:
            return [self._drop("request_without_address", mac)]
        if state is not RequestState.SELECTING and requested not in self.config.subnet:
            # RFC 2131 §4.3.2: the client is on the wrong network.
            return [self._nak(msg, meta, "wrong network")]
        if self._merge_retransmission(msg, meta, "bind", requested):
            return [self._drop("awaiting_master", mac)]
        if len(self._pending) >= 2 * self.config.max_pending:
            return [self._drop("overload", mac)]
        return [self._ask("bind", msg, meta, now, requested, state)]

    def _decline(self, msg: DhcpMessage, meta: Received, now: float) -> list[Action]:
        mac, ip = msg.mac, msg.requested_ip
        if msg.server_id not in (None, self.config.server_id):
            return [self._drop("other_server", mac)]
        if ip is None:
            return [self._drop("decline_without_address", mac)]
        self._drop_offer(mac)
        self._cache.pop(mac, None)
        actions: list[Action] = [ClientDeclined(mac, ip, meta.interface)]
        if len(self._pending) < 2 * self.config.max_pending:
            actions.insert(0, self._ask("decline", msg, meta, now, ip))
        return actions

    def _release(self, msg: DhcpMessage, meta: Received, now: float) -> list[Action]:
        mac, ip = msg.mac, msg.ciaddr
        if msg.server_id not in (None, self.config.server_id):
            return [self._drop("other_server", mac)]
        if ip == ZERO:
            return [self._drop("release_without_address", mac)]
        self._drop_offer(mac)
        self._cache.pop(mac, None)
        actions: list[Action] = [ClientReleased(mac, ip, meta.interface)]
        if len(self._pending) < 2 * self.config.max_pending:
            actions.insert(0, self._ask("release", msg, meta, now, ip))
        return actions

    def _inform(self, msg: DhcpMessage, meta: Received, now: float) -> list[Action]:
        # RFC 2131 §4.3.5: ACK with configuration but no lease and no yiaddr,
        # sent to ciaddr; the master only records the client.
        if msg.ciaddr == ZERO and msg.giaddr == ZERO:
            return [self._drop("inform_without_ciaddr", msg.mac)]
        actions: list[Action] = []
        if len(self._pending) < self.config.max_pending:
            actions.append(self._ask("inform", msg, meta, now, msg.ciaddr))
        actions.append(self._reply(msg, meta, MessageType.DHCPACK, ZERO, None))
        return actions

    # --- master answers ----------------------------------------------------

    def _answer_offer(self, p: _Pending, answer: MasterAnswer, now: float) -> list[Action]:
        mac = p.msg.mac
        if answer.status == "ok":
            if not self._usable(answer.ip):
                return [self._drop("master_bad_address", mac)]
            lease = self._lease_seconds(answer)
            self._drop_offer(mac)
            self._offers[mac] = _Lease(answer.ip, now + self.config.offer_hold, p.meta.interface, p.meta.port)
            self.limits.count(p.meta.port, +1)
            return [self._reply(p.msg, p.meta, MessageType.DHCPOFFER, answer.ip, lease)]
        if answer.status == "unavailable":
            cached = self._cache.get(mac)
            remaining = int(cached.expires - now) if cached else 0
            if cached and remaining > 0:
                return [self._reply(p.msg, p.meta, MessageType.DHCPOFFER, cached.ip, remaining)]
            return [self._drop("master_unavailable", mac)]
        return [self._drop("master_refused", mac)]  # RFC 2131 §4.3.1: a server may stay silent

    def _answer_bind(self, p: _Pending, answer: MasterAnswer, now: float) -> list[Action]:
        mac, iface = p.msg.mac, p.meta.interface
        hostname = p.msg.hostname
        if answer.status == "ok":
            if answer.ip != p.requested_ip or not self._usable(answer.ip):
                # Never ACK an address other than the one requested: NAK, and
                # the client starts over with a DISCOVER (RFC 2131 §3.1 step 4).
                return [self._nak(p.msg, p.meta, "address not available")]
            lease = self._lease_seconds(answer)
            expires = now + lease
            self._drop_offer(mac)
            self._cache[mac] = _Lease(answer.ip, expires, iface)
            return [
                self._reply(p.msg, p.meta, MessageType.DHCPACK, answer.ip, lease),
                ClientBound(mac, answer.ip, iface, hostname, expires,
                            relayed=p.msg.giaddr != ZERO),
            ]
        if answer.status == "refused":
            return [self._nak(p.msg, p.meta, answer.reason or "refused by the lease master")]
        cached = self._cache.get(mac)
        remaining = int(cached.expires - now) if cached else 0
        if cached and remaining > 0 and cached.ip == p.requested_ip:
            # Master unreachable: renew from the cache, never past the lease's end.
            return [
                self._reply(p.msg, p.meta, MessageType.DHCPACK, cached.ip, remaining),
                ClientBound(mac, cached.ip, iface, hostname, cached.expires, from_cache=True,
                            relayed=p.msg.giaddr != ZERO),
            ]
        return [self._drop("master_unavailable", mac)]  # no reply: the client retries

    # --- helpers -------------------------------------------------------------

    def _merge_retransmission(
        self, msg: DhcpMessage, meta: Received, op: MasterOp, requested: IPv4Address | None
    ) -> bool:
        """A retransmission while the master is asked: answer its latest copy, ask once."""
        token = self._by_key.get((msg.mac, op))
        pending = self._pending.get(token) if token is not None else None
        if pending is None or pending.requested_ip != requested:
            return False
        # the ask stays counted against the port it came by
        pending.msg, pending.meta = msg, dataclasses.replace(meta, port=pending.meta.port)
        return True

    def _ask(
        self,
        op: MasterOp,
        msg: DhcpMessage,
        meta: Received,
        now: float,
        requested: IPv4Address | None,
        state: RequestState | None = None,
    ) -> AskMaster:
        token = next(self._tokens)
        self._pending[token] = _Pending(op, msg, meta, now, requested, state)
        self._by_key[(msg.mac, op)] = token
        self.counters.asks[op] += 1
        return AskMaster(token, op, msg.mac, requested, msg.hostname, msg.client_id, meta.interface)

    def _drop(self, reason: str, mac: str | None, detail: str = "") -> Dropped:
        self.counters.drops[reason] += 1
        return Dropped(f"{reason}: {detail}" if detail else reason, mac)

    def _usable(self, ip: IPv4Address | None) -> bool:
        subnet = self.config.subnet
        return (
            ip is not None
            and ip in subnet
            and ip != self.config.server_id
            and (subnet.prefixlen >= 31 or ip not in (subnet.network_address, subnet.broadcast_address))
        )

    def _lease_seconds(self, answer: MasterAnswer) -> int:
        if answer.lease_seconds > 0:
            return min(answer.lease_seconds, self.config.lease_time)
        return self.config.lease_time

    def _nak(self, msg: DhcpMessage, meta: Received, text: str) -> SendReply:
        return self._reply(msg, meta, MessageType.DHCPNAK, ZERO, None, text)

    def _reply(
        self,
        req: DhcpMessage,
        meta: Received,
        mtype: MessageType,
        yiaddr: IPv4Address,
        lease: int | None,
        nak_text: str = "",
    ) -> Action:
        """Build a reply (RFC 2131 Table 3) and address it (RFC 2131 §4.1)."""
        c = self.config
        options: dict[int, bytes] = {
            Option.DHCP_MESSAGE_TYPE: dhcp.message_type_option(mtype),
            Option.SERVER_IDENTIFIER: self._server_id,
        }
        flags = req.flags
        if mtype is MessageType.DHCPNAK:
            if nak_text:
                options[Option.MESSAGE] = nak_text.encode()[:255]
            if req.giaddr != ZERO:
                flags |= dhcp.BROADCAST_FLAG  # RFC 2131 §4.3.2: relay must broadcast the NAK
        else:
            if lease is not None:
                options[Option.LEASE_TIME] = dhcp.u32(lease)
                options[Option.RENEWAL_TIME_VALUE] = dhcp.u32(int(lease * c.t1_ratio))
                options[Option.REBINDING_TIME_VALUE] = dhcp.u32(int(lease * c.t2_ratio))
            options[Option.SUBNET_MASK] = self._mask
            options[Option.ROUTER] = self._router
            prl = req.parameter_request_list
            if self._dns and (not prl or Option.DOMAIN_NAME_SERVER in prl):
                options[Option.DOMAIN_NAME_SERVER] = self._dns
            if self._domain and (not prl or Option.DOMAIN_NAME in prl):
                options[Option.DOMAIN_NAME] = self._domain
            if c.mtu is not None and (not prl or Option.INTERFACE_MTU in prl):
                options[Option.INTERFACE_MTU] = dhcp.u16(c.mtu)
        if req.client_id is not None:
            options[Option.CLIENT_IDENTIFIER] = req.client_id  # RFC 6842 §3
        if req.relay_agent_info is not None and req.giaddr != ZERO:
            options[Option.RELAY_AGENT_INFORMATION] = req.relay_agent_info  # RFC 3046 §2.2: last
        keep_ciaddr = mtype is MessageType.DHCPACK
        reply = DhcpMessage(
            op=dhcp.Op.BOOTREPLY,
            xid=req.xid,
            chaddr=req.chaddr,
            options=options,
            htype=req.htype,
            hlen=req.hlen,
            flags=flags,
            ciaddr=req.ciaddr if keep_ciaddr else ZERO,
            yiaddr=yiaddr,
            giaddr=req.giaddr,
        )
        # RFC 2132 §9.10: the client's limit covers the IP datagram (>= 576).
        # A huge echoed client id or relay option can make the reply too big.
        limit = max(576, req.max_message_size or 576) - 28
        try:
            payload = dhcp.encode(reply)
        except LocalProtocolError:
            return self._drop("reply_too_large", req.mac)
        if len(payload) > limit:
            return self._drop("reply_too_large", req.mac)

        # RFC 2131 §4.1, where the reply goes:
        delay = 0.0
        if req.giaddr != ZERO:  # relayed: to the relay's server port
            dst_ip, dst_port, dst_mac, bcast = req.giaddr, dhcp.SERVER_PORT, meta.src_mac, False
        elif mtype is MessageType.DHCPNAK:  # NAKs are broadcast when not relayed
            dst_ip, dst_port, dst_mac, bcast = BROADCAST_IP, dhcp.CLIENT_PORT, BROADCAST_MAC, True
        elif req.ciaddr != ZERO:  # RENEWING/REBINDING/INFORM: the client has an address
            dst_ip, dst_port, dst_mac, bcast = req.ciaddr, dhcp.CLIENT_PORT, meta.src_mac, False
            delay = c.unicast_reply_delay  # see DhcpServerSettings.unicast_reply_delay
        elif req.broadcast:  # the client cannot receive unicast before it is configured
            dst_ip, dst_port, dst_mac, bcast = BROADCAST_IP, dhcp.CLIENT_PORT, BROADCAST_MAC, True
        else:  # unicast to chaddr and yiaddr
            dst_ip, dst_port, dst_mac, bcast = yiaddr, dhcp.CLIENT_PORT, req.mac, False
        self.counters.replies[mtype.name] += 1
        return SendReply(meta.interface, payload, dst_mac, dst_ip, dst_port, bcast, mtype, delay)
