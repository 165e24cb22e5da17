"""What babel's control traffic should cost per client, from RFC 8966's encoding (pure).

Two halves:

- ``predict``: bytes per client per link per second of the periodic full
  updates, from the wire format (RFC 8966 §4) as babeld 1.13 fills it:
  an Update TLV for an IPv4 /32 is 2 (type, length) + 10 (AE, flags, plen,
  omitted, interval, seqno, metric) + 4 prefix bytes = 16 bytes (babeld never
  omits IPv4 prefix bytes; over links without IPv4 addresses it uses AE 4,
  v4-via-v6, so no Next-Hop TLV; with an IPv4 link address one 8-byte
  Next-Hop TLV per packet).  Updates are sorted by originating router, so a
  12-byte Router-Id TLV starts each packet and each originator's run.  A
  packet carries ``mtu - 48 - 4`` bytes of TLVs (babeld's buffer) behind
  40 (IPv6) + 8 (UDP) + 4 (babel header) bytes.  Every router sends its whole
  table on every interface once per update interval, so a link carries each
  client twice (both directions) per interval.  Triggered updates per roam
  are estimated separately (``roam_bytes``).
- ``tally``: bytes and TLV counts by type from captured babel payloads, so a
  measured excess can be attributed (hellos, IHUs, requests, updates).

And ``crossings``: the client count at which a linear cost model
(``base + slope * clients``) reaches a share of a link's capacity.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

IPV6_UDP = 40 + 8
BABEL_HEADER = 4
UPDATE_FIXED = 2 + 10  # TLV header + AE, flags, plen, omitted, interval, seqno, metric
ROUTER_ID_TLV = 2 + 10  # TLV header + reserved(2) + router-id(8)
NEXT_HOP_V4_TLV = 2 + 2 + 4

FULL_PACKET_UPDATES = 24  # a packet with at least this many updates belongs to a full (periodic) update

TLV_NAMES = {0: "pad1", 1: "padn", 2: "ack-request", 3: "ack", 4: "hello", 5: "ihu", 6: "router-id",
             7: "next-hop", 8: "update", 9: "route-request", 10: "seqno-request", 11: "tspc", 12: "hmac",
             13: "mh-request"}


@dataclass(frozen=True)
class Prediction:
    update_tlv: int  # bytes of one client's Update TLV
    per_packet: int  # client updates per full packet
    bytes_per_client_per_dump: float  # TLV + its share of headers and Router-Id TLVs
    bytes_per_client_per_link_per_s: float


def update_tlv_bytes(plen: int = 32, omitted: int = 0) -> int:
    return UPDATE_FIXED + (plen + 7) // 8 - omitted


def predict(update_interval: float, mtu: int = 1600, clients: int = 1000, originators: int = 3,
            ipv4_link_address: bool = False, plen: int = 32, omitted: int = 0) -> Prediction:
    """Periodic-update cost of one client /32 on one link (both directions), per second."""
    body = mtu - IPV6_UDP - BABEL_HEADER
    tlv = update_tlv_bytes(plen, omitted)
    nh = NEXT_HOP_V4_TLV if ipv4_link_address else 0
    per_packet = (body - ROUTER_ID_TLV - nh) // tlv
    packets = max(1, math.ceil(clients / per_packet))
    # one Router-Id per packet, one more per originator boundary inside a packet
    router_ids = packets + max(0, min(originators, clients) - 1)
    total = clients * tlv + packets * (IPV6_UDP + BABEL_HEADER + nh) + router_ids * ROUTER_ID_TLV
    per_client = total / max(clients, 1)
    return Prediction(tlv, per_packet, per_client, 2 * per_client / update_interval)


def roam_bytes(update_tlv: int = 16, messages_per_direction: int = 1) -> int:
    """Estimated triggered bytes per roam on one link: the client's route changes once (its new AP
    announces it before the old one retracts, so the old AP's retraction becomes a metric change
    carried with it), each end of the link sends one triggered update for it in a packet of its own
    (headers + Router-Id + Update).  ``messages_per_direction=2``: the retraction travels apart."""
    packet = IPV6_UDP + BABEL_HEADER + ROUTER_ID_TLV + update_tlv
    return 2 * messages_per_direction * packet


def tally(payloads: list[bytes]) -> dict[str, dict[str, int]]:
    """Bytes (counting IPv6+UDP+babel headers to packets) and TLVs by type in babel payloads,
    and whole packets (headers included) by how many updates they carry (``packets-*``).

    A malformed packet is counted under ``malformed`` and skipped, never raised.
    """
    out: dict[str, dict[str, int]] = {"headers": {"count": 0, "bytes": 0}}
    for p in payloads:
        if len(p) < 4 or p[0] != 42 or p[1] != 2:
            out.setdefault("malformed", {"count": 0, "bytes": 0})
            out["malformed"]["count"] += 1
            out["malformed"]["bytes"] += len(p) + IPV6_UDP
            continue
        (body_len,) = struct.unpack_from("!H", p, 2)
        out["headers"]["count"] += 1
        out["headers"]["bytes"] += IPV6_UDP + BABEL_HEADER
        i, end = 4, min(len(p), 4 + body_len)
        updates = 0
        while i < end:
            t = p[i]
            n = 1 if t == 0 else (2 + p[i + 1] if i + 1 < end else end - i)
            name = TLV_NAMES.get(t, f"type-{t}")
            slot = out.setdefault(name, {"count": 0, "bytes": 0})
            slot["count"] += 1
            slot["bytes"] += n
            updates += t == 8
            i += n
        # whole packets by what they carry: a full update fills packets with dozens of updates,
        # a triggered one (a roam) goes out in a packet of a few
        kind = ("packets-without-updates" if updates == 0 else
                "packets-few-updates" if updates < FULL_PACKET_UPDATES else "packets-full-updates")
        slot = out.setdefault(kind, {"count": 0, "bytes": 0})
        slot["count"] += 1
        slot["bytes"] += len(p) + IPV6_UDP
        if len(p) > end:  # packet trailer (RFC 8966 §4.2)
            slot = out.setdefault("trailer", {"count": 0, "bytes": 0})
            slot["count"] += 1
            slot["bytes"] += len(p) - end
    return out


def update_bursts(packets: list[tuple[float, bytes]], gap: float = 0.05) -> list[int]:
    """Update TLVs per burst: packets with updates less than ``gap`` seconds apart form one burst
    (a full update leaves as one burst of full packets).  Malformed packets are skipped."""
    out: list[int] = []
    last = None
    for t, p in packets:
        if len(p) < 4 or p[0] != 42 or p[1] != 2:
            continue
        (body_len,) = struct.unpack_from("!H", p, 2)
        i, end, n = 4, min(len(p), 4 + body_len), 0
        while i < end:
            n += p[i] == 8
            i += 1 if p[i] == 0 else (2 + p[i + 1] if i + 1 < end else end - i)
        if not n:
            continue
        if last is None or t - last > gap:
            out.append(0)
        out[-1] += n
        last = t
    return out


def crossings(base: float, slope: float, capacity_bytes_per_s: float, share: float) -> float | None:
    """Clients at which ``base + slope * clients`` reaches ``share`` of the capacity (None: never)."""
    if slope <= 0:
        return None
    return max(0.0, (share * capacity_bytes_per_s - base) / slope)


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares ``y = a + b x``: (a, b)."""
    n = len(points)
    if n < 2:
        return (points[0][1] if points else 0.0, 0.0)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return (my, 0.0)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx
    return (my - b * mx, b)
