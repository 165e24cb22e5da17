"""ISC perfdhcp: its command line and a parser for its DHCPv4 report.

Pure: builds argument lists and reads text; runs nothing.

perfdhcp (Debian package kea-admin) always acts as a relay agent: it sets
giaddr to its local address and expects the replies at giaddr:67, so the
load generator needs an address the server can route to.  Its report gives,
per exchange (DISCOVER-OFFER, REQUEST-ACK): packets sent and received, drops,
and min/avg/max/std-deviation of the delay -- no percentiles.  With ``-x t``
it also prints the send and receive time of every successful exchange; the
percentiles below are computed from those.  A whole DORA's latency is got by
pairing each REQUEST with the OFFER perfdhcp received just before sending it
(perfdhcp sends the REQUEST as soon as it has read the OFFER); the pairing
is exact when perfdhcp is not behind, approximate when it is.

Report layout (perfdhcp 2.2, abridged)::

    ***Rate statistics***
    Rate: 1999.28 4-way exchanges/second, expected rate: 2000
    ***Statistics for: DISCOVER-OFFER***
    sent packets: 5999
    received packets: 5998
    drops: 1
    ...
    min delay: 0.064 ms
    avg delay: 0.209 ms
    max delay: 4.124 ms
    std deviation: 0.252 ms
    ***Statistics for: REQUEST-ACK***
    ...
    ***Timestamps for packets: DISCOVER-OFFER***
    sent / received: 000000.000042 / 000000.000560
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

EXCHANGES = ("DISCOVER-OFFER", "REQUEST-ACK")

_RATE = re.compile(r"^Rate:\s*([0-9.eE+-]+|-?nan|inf)\s+4-way exchanges/second"
                   r"(?:,\s*expected rate:\s*([0-9.]+))?", re.M)
_SECTION = re.compile(r"^\*\*\*(Statistics for|Timestamps for packets): ([A-Z-]+)\*\*\*\s*$", re.M)
_FIELD = re.compile(r"^(sent packets|received packets|drops|orphans|rejected leases|"
                    r"min delay|avg delay|max delay|std deviation):\s*(\S+)", re.M)
_STAMP = re.compile(r"^sent / received:\s*([0-9.]+)\s*/\s*([0-9.]+)\s*$", re.M)


def command(server: str, local: str, rate: int, clients: int, seconds: float,
            base_mac: str, timestamps: bool = True) -> list[str]:
    """perfdhcp argument list: single-threaded, a fixed rate, many distinct clients."""
    argv = ["perfdhcp", "-4", "-g", "single", "-r", str(rate), "-R", str(clients),
            "-p", f"{seconds:g}", "-b", f"mac={base_mac}", "-l", local]
    if timestamps:
        argv += ["-x", "t"]
    return argv + [server]


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None  # "n/a", "-nan" and the like
    return None if v != v or v in (float("inf"), float("-inf")) else v


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n * q / 100)
    return sorted_values[int(rank) - 1]


@dataclass
class Exchange:
    """One exchange's figures; delays in milliseconds."""

    name: str
    sent: int = 0
    received: int = 0
    drops: int = 0
    orphans: int = 0
    rejected: int = 0
    min_ms: float | None = None
    avg_ms: float | None = None
    max_ms: float | None = None
    std_ms: float | None = None
    stamps: list[tuple[float, float]] = field(default_factory=list)  # (sent, received), seconds

    @property
    def delays_ms(self) -> list[float]:
        return sorted((r - s) * 1000.0 for s, r in self.stamps)

    def pct(self, q: float) -> float | None:
        return percentile(self.delays_ms, q)

    @property
    def drop_ratio(self) -> float:
        return self.drops / self.sent if self.sent else 0.0


@dataclass
class PerfdhcpResult:
    rate: float | None  # achieved 4-way exchanges (DORA) per second
    expected_rate: float | None
    exchanges: dict[str, Exchange]

    @property
    def do(self) -> Exchange:
        return self.exchanges["DISCOVER-OFFER"]

    @property
    def ra(self) -> Exchange:
        return self.exchanges["REQUEST-ACK"]

    def dora_delays_ms(self) -> list[float]:
        """Whole-DORA latencies: each ACK's receipt minus its DISCOVER's sending."""
        offers = sorted(self.do.stamps, key=lambda sr: sr[1])
        received = [r for _, r in offers]
        out = []
        for sent, got in self.ra.stamps:
            i = bisect.bisect_right(received, sent) - 1
            if i >= 0:
                out.append((got - offers[i][0]) * 1000.0)
        return sorted(out)

    def dora_pct(self, q: float) -> float | None:
        return percentile(self.dora_delays_ms(), q)


def parse(text: str) -> PerfdhcpResult:
    """Read a perfdhcp DHCPv4 report (with or without ``-x t`` timestamps)."""
    m = _RATE.search(text)
    if m is None:
        raise ValueError("no 'Rate:' line: not a perfdhcp DHCPv4 report")
    rate = _number(m.group(1))
    expected = _number(m.group(2)) if m.group(2) else None
    exchanges = {name: Exchange(name) for name in EXCHANGES}
    sections = list(_SECTION.finditer(text))
    for i, sec in enumerate(sections):
        kind, name = sec.group(1), sec.group(2)
        if name not in exchanges:
            continue
        body = text[sec.end(): sections[i + 1].start() if i + 1 < len(sections) else len(text)]
        ex = exchanges[name]
        if kind == "Statistics for":
            for key, value in _FIELD.findall(body):
                v = _number(value)
                if key in ("sent packets", "received packets", "drops", "orphans", "rejected leases"):
                    setattr(ex, {"sent packets": "sent", "received packets": "received",
                                 "rejected leases": "rejected"}.get(key, key), int(v or 0))
                else:
                    setattr(ex, {"min delay": "min_ms", "avg delay": "avg_ms", "max delay": "max_ms",
                                 "std deviation": "std_ms"}[key], v)
        else:
            ex.stamps = [(float(s), float(r)) for s, r in _STAMP.findall(body)]
    return PerfdhcpResult(rate, expected, exchanges)
