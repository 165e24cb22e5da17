"""Starvation limits of the DHCP engine (pure): what one station or one MAC may take.

- a token bucket per client MAC (chaddr): ``mac_burst`` DISCOVERs, refilled at
  ``mac_rate`` per second;
- outstanding offers (made and not yet requested, or being asked of the
  master) counted per station port and in total, capped at
  ``max_offers_per_port`` and ``max_offers`` (the port is known when the
  station binding filter marks DHCP by port; relayed requests have none);
- relayed DHCP only from configured relay addresses or interfaces.

The engine (``dhcp_server``) asks and reports; offers lapse there after
``offer_hold``.  No I/O; every call takes ``now``.
"""

from __future__ import annotations

from l3roam.core.dhcp_actions import DhcpServerSettings, Received


class OfferLimits:
    def __init__(self, config: DhcpServerSettings):
        self.config = config
        self._per_port: dict[str | None, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # chaddr -> (tokens, when)

    def relay_allowed(self, meta: Received) -> bool:
        c = self.config
        return meta.src_ip in c.relays or (meta.ingress is not None and meta.ingress in c.relay_interfaces)

    def rate_ok(self, mac: str, now: float) -> bool:
        c = self.config
        tokens, then = self._buckets.get(mac, (float(c.mac_burst), now))
        tokens = min(float(c.mac_burst), tokens + (now - then) * c.mac_rate)
        if tokens < 1.0:
            self._buckets[mac] = (tokens, now)
            return False
        self._buckets[mac] = (tokens - 1.0, now)
        return True

    def refusal(self, port: str | None) -> str | None:
        """Why a new client may not get an offer now (a drop reason), or None."""
        c = self.config
        if self.outstanding >= c.max_offers:
            return "offer_cap"
        if port is not None and self._per_port.get(port, 0) >= c.max_offers_per_port:
            return "port_offer_cap"
        return None

    def count(self, port: str | None, delta: int) -> None:
        n = self._per_port.get(port, 0) + delta
        if n > 0:
            self._per_port[port] = n
        else:
            self._per_port.pop(port, None)

    @property
    def outstanding(self) -> int:
        return sum(self._per_port.values())

    def sweep(self, now: float) -> None:
        """Forget buckets that are full again (bounded memory under a flood of new MACs)."""
        c = self.config
        full = c.mac_burst / c.mac_rate if c.mac_rate > 0 else float("inf")
        for mac in [m for m, (_, t) in self._buckets.items() if now - t >= full]:
            del self._buckets[mac]
