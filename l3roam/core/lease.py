"""Sticky lease allocation (pure).

One ``LeaseTable`` holds every client MAC's lease and the address it last had.
Rules, in the order they are tried when a MAC asks for an address:

1. a static reservation for the MAC;
2. the address it asked for, when that is free or already its own;
3. the address it holds or last held, unless somebody else holds it now;
4. an address never handed out before (a cursor walks each pool once);
5. the address whose previous owner let it go longest ago (lease and grace
   period over), so remembered addresses are reused last.

"Held" means: a live offer (short hold), a bound lease until its expiry plus
the grace period, a quarantine after DECLINE, a reservation or an exclusion.
Every method takes ``now`` (seconds, wall clock) and returns the lease it
changed, so the caller can persist exactly that.  No I/O here.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace
from enum import IntEnum
from ipaddress import IPv4Address, IPv4Network


class LeaseState(IntEnum):
    OFFERED = 1
    BOUND = 2
    RELEASED = 3
    EXPIRED = 4
    DECLINED = 5
    LAPSED = 6  # an offer that was never bound: remembered, but without grace


@dataclass(frozen=True)
class Lease:
    mac: str
    ip: IPv4Address
    state: LeaseState
    expires: float  # end of the offer hold or of the bound lease
    hostname: str | None = None
    client_id: bytes | None = None
    updated: float = 0.0

    def live(self, now: float) -> bool:
        return self.state in (LeaseState.OFFERED, LeaseState.BOUND) and self.expires > now


@dataclass(frozen=True)
class Refusal:
    reason: str  # pool_exhausted, not_in_pool, excluded, reserved, in_use, quarantined, no_lease, ...
    detail: str = ""


@dataclass(frozen=True)
class Pool:
    network: IPv4Network
    first: int  # integer bounds of the range handed out
    last: int


@dataclass(frozen=True)
class LeasePolicy:
    lease_seconds: int = 3600
    offer_hold_seconds: float = 10.0
    grace_seconds: float = 86400.0
    quarantine_seconds: float = 600.0


class LeaseTable:
    def __init__(self, networks: list[IPv4Network], excluded: set[IPv4Address],
                 reservations: dict[str, IPv4Address], policy: LeasePolicy):
        self.policy = policy
        self.pools = [Pool(n, int(n.network_address) + 1, int(n.broadcast_address) - 1)
                      for n in networks]
        self._excluded = {int(a) for a in excluded}
        self._reserved_ip = {int(ip): mac for mac, ip in reservations.items()}
        self._reservations = dict(reservations)
        self.by_mac: dict[str, Lease] = {}
        self._owner: dict[int, str] = {}  # ip -> mac that holds or last held it
        self._quarantine: dict[int, float] = {}  # ip -> until
        self._cursor = [p.first for p in self.pools]
        self._reuse: list[tuple[float, int]] = []  # (free from, ip), lazily checked
        self._expiry: list[tuple[float, str]] = []  # (expires, mac) of live leases, lazily checked
        self.forgotten: list[Lease] = []  # leases whose address another MAC took (last call)

    # ---- loading -----------------------------------------------------------
    def restore(self, leases: list[Lease], quarantine: dict[IPv4Address, float]) -> list[Lease]:
        """Load stored leases; returns those dropped because a newer lease holds their address.

        A store that commits a batch in several transactions may hold both
        records after a crash between them; the newer one (``updated``) wins.
        """
        for lease in sorted(leases, key=lambda x: x.updated):
            self._put(lease)
        dropped = [x for x in self.by_mac.values() if self._owner.get(int(x.ip)) != x.mac]
        for x in dropped:
            del self.by_mac[x.mac]
        self._quarantine.update({int(ip): until for ip, until in quarantine.items()})
        return dropped

    def _put(self, lease: Lease) -> Lease:
        old = self.by_mac.get(lease.mac)
        if old is not None and old.ip != lease.ip and self._owner.get(int(old.ip)) == lease.mac:
            del self._owner[int(old.ip)]
        self.by_mac[lease.mac] = lease
        self._owner[int(lease.ip)] = lease.mac
        heapq.heappush(self._reuse, (self._free_from(lease), int(lease.ip)))
        if lease.state in (LeaseState.OFFERED, LeaseState.BOUND):
            heapq.heappush(self._expiry, (lease.expires, lease.mac))
        return lease

    def _free_from(self, lease: Lease) -> float:
        if lease.state in (LeaseState.OFFERED, LeaseState.LAPSED, LeaseState.DECLINED):
            return lease.expires
        return lease.expires + self.policy.grace_seconds

    # ---- queries -----------------------------------------------------------
    def owner_of(self, ip: IPv4Address) -> str | None:
        return self._owner.get(int(ip))

    def lease_of(self, mac: str) -> Lease | None:
        return self.by_mac.get(mac)

    def _why_unavailable(self, i: int, mac: str, now: float) -> str | None:
        """None when ``mac`` may take integer address ``i`` now, else the reason."""
        if not any(p.first <= i <= p.last for p in self.pools):
            return "not_in_pool"
        if i in self._excluded:
            return "excluded"
        rmac = self._reserved_ip.get(i)
        if rmac is not None and rmac != mac:
            return "reserved"
        until = self._quarantine.get(i)
        if until is not None:
            if until > now:
                return "quarantined"
        owner = self._owner.get(i)
        if owner is not None and owner != mac:
            lease = self.by_mac[owner]
            if self._free_from(lease) > now:
                return "in_use"
        return None

    # ---- allocation --------------------------------------------------------
    def choose(self, mac: str, requested: IPv4Address | None, now: float) -> IPv4Address | Refusal:
        """The address ``mac`` should get now, by the rules in the module docstring."""
        reserved = self._reservations.get(mac)
        if reserved is not None:
            why = self._why_unavailable(int(reserved), mac, now)
            return reserved if why is None else Refusal(why, f"reserved address {reserved}")
        if requested is not None and self._why_unavailable(int(requested), mac, now) is None:
            return requested
        current = self.by_mac.get(mac)
        if current is not None and self._why_unavailable(int(current.ip), mac, now) is None:
            return current.ip
        for k, pool in enumerate(self.pools):
            while self._cursor[k] <= pool.last:
                i = self._cursor[k]
                self._cursor[k] += 1
                if i not in self._owner and self._why_unavailable(i, mac, now) is None:
                    return IPv4Address(i)
        while self._reuse and self._reuse[0][0] <= now:
            _, i = heapq.heappop(self._reuse)
            owner = self._owner.get(i)
            if owner is not None and self._free_from(self.by_mac[owner]) > now:
                continue  # renewed since it was queued; a newer entry exists
            if self._why_unavailable(i, mac, now) is None:
                return IPv4Address(i)
        for i, until in list(self._quarantine.items()):
            if until <= now:
                del self._quarantine[i]
                if self._why_unavailable(i, mac, now) is None:
                    return IPv4Address(i)
        return Refusal("pool_exhausted", "no free address in any pool")

    def _take(self, mac: str, ip: IPv4Address, state: LeaseState, expires: float,
              hostname: str | None, client_id: bytes | None, now: float) -> Lease:
        old_owner = self._owner.get(int(ip))
        if old_owner is not None and old_owner != mac:
            # the previous owner's memory of this address goes; it keeps its record
            prev = self.by_mac[old_owner]
            del self.by_mac[old_owner]
            self.forgotten.append(prev)
        self._quarantine.pop(int(ip), None)
        prev_self = self.by_mac.get(mac)
        lease = Lease(mac, ip, state, expires,
                      hostname if hostname is not None else (prev_self.hostname if prev_self else None),
                      client_id if client_id is not None else (prev_self.client_id if prev_self else None),
                      now)
        return self._put(lease)

    def offer(self, mac: str, requested: IPv4Address | None, now: float,
              hostname: str | None = None, client_id: bytes | None = None) -> Lease | Refusal:
        self.forgotten = []
        current = self.by_mac.get(mac)
        choice = self.choose(mac, requested, now)
        if isinstance(choice, Refusal):
            return choice
        if current is not None and current.ip == choice and current.state is LeaseState.BOUND \
                and current.expires > now:
            return current  # an offer never shortens a bound lease
        return self._take(mac, choice, LeaseState.OFFERED, now + self.policy.offer_hold_seconds,
                          hostname, client_id, now)

    def bind(self, mac: str, ip: IPv4Address | None, now: float, hostname: str | None = None,
             client_id: bytes | None = None, lease_seconds: int | None = None) -> Lease | Refusal:
        """DHCPREQUEST: bind ``ip`` (or the MAC's own address when None) to ``mac``."""
        self.forgotten = []
        if ip is None:
            current = self.by_mac.get(mac)
            if current is None:
                choice = self.choose(mac, None, now)
                if isinstance(choice, Refusal):
                    return choice
                ip = choice
            else:
                ip = current.ip
        why = self._why_unavailable(int(ip), mac, now)
        if why is not None:
            return Refusal(why, f"{ip} is not available to {mac}")
        reserved = self._reservations.get(mac)
        if reserved is not None and reserved != ip:
            return Refusal("reserved", f"{mac} has the reservation {reserved}")
        seconds = self.policy.lease_seconds if lease_seconds is None else min(
            lease_seconds, self.policy.lease_seconds)
        return self._take(mac, ip, LeaseState.BOUND, now + seconds, hostname, client_id, now)

    def release(self, mac: str, ip: IPv4Address | None, now: float) -> Lease | Refusal:
        lease = self.by_mac.get(mac)
        if lease is None or (ip is not None and lease.ip != ip):
            return Refusal("no_lease", f"{mac} holds no lease on {ip}")
        if lease.state is not LeaseState.BOUND and lease.state is not LeaseState.OFFERED:
            return lease  # already released or expired: idempotent
        # the address stays remembered for the MAC through the grace period
        return self._put(replace(lease, state=LeaseState.RELEASED, expires=now, updated=now))

    def decline(self, mac: str, ip: IPv4Address, now: float) -> Lease | Refusal:
        """DHCPDECLINE: the client found ``ip`` in use; quarantine it (RFC 2131 §3.1.5)."""
        lease = self.by_mac.get(mac)
        if lease is None or lease.ip != ip:
            return Refusal("no_lease", f"{mac} was not given {ip}")
        until = now + self.policy.quarantine_seconds
        self._quarantine[int(ip)] = until
        declined = replace(lease, state=LeaseState.DECLINED, expires=now, updated=now)
        self.by_mac[mac] = declined
        # the MAC loses its claim to this address: its next request gets another
        del self._owner[int(ip)]
        return declined

    def expire(self, now: float) -> list[Lease]:
        """Move lapsed offers to LAPSED and ended leases to EXPIRED; return those changed."""
        changed = []
        while self._expiry and self._expiry[0][0] <= now:
            expires, mac = heapq.heappop(self._expiry)
            lease = self.by_mac.get(mac)
            if lease is None or lease.expires != expires or \
                    lease.state not in (LeaseState.OFFERED, LeaseState.BOUND):
                continue  # renewed, released or forgotten since it was queued
            state = LeaseState.LAPSED if lease.state is LeaseState.OFFERED else LeaseState.EXPIRED
            changed.append(self._put(replace(lease, state=state, updated=now)))
        return changed

    def end_quarantine(self, now: float) -> list[IPv4Address]:
        """Lift quarantines that are over; return their addresses."""
        over = [i for i, until in self._quarantine.items() if until <= now]
        for i in over:
            del self._quarantine[i]
        return [IPv4Address(i) for i in over]

    def next_expiry(self) -> float | None:
        while self._expiry:
            expires, mac = self._expiry[0]
            lease = self.by_mac.get(mac)
            if lease is not None and lease.expires == expires and \
                    lease.state in (LeaseState.OFFERED, LeaseState.BOUND):
                return expires
            heapq.heappop(self._expiry)
        return None
