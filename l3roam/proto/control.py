"""The master's control protocol: wire codec and authentication (pure).

One UDP datagram is one message.  Layout (network byte order)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |        magic "L3"             |    version    |     type      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     flags     |  sender len   |         payload length        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |               message sequence number (64 bits)               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          sender timestamp, ms since the epoch (64 bits)       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                     request id (64 bits)                      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  key id len   |  key id (UTF-8, 1..32 bytes) ...              |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          sender id (UTF-8, sender len bytes, 1..64)  ...      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          payload: fields as TLVs (payload length bytes) ...   |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          HMAC-SHA256 over every byte above (32 bytes)         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

A field is ``type (u8) | length (u16) | value``.  Unknown field types are
skipped (forward compatibility); a field that repeats keeps its last value,
except ``ENTRY`` which is a list of nested field blocks.

Identity: the key id names the key the HMAC is made with; the receiver
looks it up in its ``KeyRing`` (proto/keys.py), verifies the HMAC with it and
refuses a sender that is not the key's node.

Freshness: every sender numbers its messages with a strictly increasing
64-bit sequence (started from the clock in ns, so it grows across restarts).
The receiver (``ReplayGuard``) refuses a message whose timestamp is further
than ``max_skew`` from its own clock, or whose sequence it has already seen
within a sliding window, the scheme of IPsec ESP (RFC 4303 §3.4.3).

See docs/protocol.md for every message type and its fields.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from ipaddress import IPv4Address, IPv6Address

from l3roam.errors import AuthenticationError, MalformedPacket
from l3roam.proto.keys import MAX_KEY_ID, KeyRing, NodeKey, SHARED_ID

MAGIC = b"L3"
VERSION = 2  # 2: key id after the fixed header (1 had none)
HEADER = struct.Struct("!2sBBBBHQQQB")  # 33 bytes: the fixed part and the key id's length
MAC_LEN = 32
MAX_DATAGRAM = 8192
MAX_SENDER = 64
FLAG_RESPONSE = 0x01
MASTER_ID = "master"  # the master's sender id; nodes accept answers and notices only from it
_TLV = struct.Struct("!BH")


class MessageType(IntEnum):
    HELLO = 1  # node -> master: register, with the node's hand-off address
    LEASE = 2  # node -> master: offer / bind / release / decline / inform
    CLAIM = 3  # node -> master: "this client is with me now"
    QUERY = 4  # any -> master: look up a MAC or an IP
    LIST = 5  # ctl -> master: a page of leases with locations
    MOVED = 6  # master -> node: your client moved to another node
    REPLY = 7  # answer to any of the above (flag RESPONSE set)


class Field(IntEnum):
    MAC = 1  # 6 bytes
    IP = 2  # 4 bytes
    NODE = 3  # UTF-8
    SEQ = 4  # u64 move sequence number
    LEASE_SECONDS = 5  # u32
    HOSTNAME = 6  # UTF-8
    CLIENT_ID = 7  # bytes
    STATUS = 8  # u8 Status
    REASON = 9  # UTF-8
    OP = 10  # u8 LeaseOp
    HANDOFF = 11  # 16 bytes IPv6: where the node accepts handed-off packets
    EXPIRES = 12  # u64 ms since the epoch
    STATE = 13  # u8 lease state
    ENTRY = 14  # nested fields (LIST pages)
    OFFSET = 15  # u32
    COUNT = 16  # u32
    PREV_NODE = 17  # UTF-8: the node a client left
    TOTAL = 18  # u32


class Status(IntEnum):
    OK = 0
    REFUSED = 1


class LeaseOp(IntEnum):
    OFFER = 1
    BIND = 2
    RELEASE = 3
    DECLINE = 4
    INFORM = 5


_U8 = struct.Struct("!B")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")

_INT_FIELDS = {
    Field.SEQ: _U64,
    Field.LEASE_SECONDS: _U32,
    Field.STATUS: _U8,
    Field.OP: _U8,
    Field.EXPIRES: _U64,
    Field.STATE: _U8,
    Field.OFFSET: _U32,
    Field.COUNT: _U32,
    Field.TOTAL: _U32,
}
_STR_FIELDS = {Field.NODE, Field.HOSTNAME, Field.REASON, Field.PREV_NODE}


@dataclass
class Message:
    """A decoded (or to be encoded) control message."""

    type: MessageType
    sender: str
    request_id: int
    fields: dict[Field, object] = field(default_factory=dict)
    response: bool = False
    seq: int = 0  # message sequence (freshness), filled by encode/decode
    timestamp_ms: int = 0
    key: NodeKey | None = None  # the key it was (to be) authenticated with; set by decode

    def get(self, f: Field, default: object = None) -> object:
        return self.fields.get(f, default)


def _ip4(v: object) -> bytes:
    return v.packed if isinstance(v, IPv4Address) else IPv4Address(v).packed  # type: ignore[arg-type]


def _ip6(v: object) -> bytes:
    return v.packed if isinstance(v, IPv6Address) else IPv6Address(v).packed  # type: ignore[arg-type]


_ENCODERS = {f: st.pack for f, st in _INT_FIELDS.items()}
_ENCODERS.update({f: lambda v: str(v).encode() for f in _STR_FIELDS})
_ENCODERS[Field.MAC] = lambda v: bytes.fromhex(str(v).replace(":", ""))
_ENCODERS[Field.IP] = _ip4
_ENCODERS[Field.HANDOFF] = _ip6
_ENCODERS[Field.CLIENT_ID] = bytes


def _encode_fields(fields: dict[Field, object]) -> bytes:
    out = []
    for f, v in fields.items():
        if v is None:
            continue
        if f is Field.ENTRY:
            for entry in v:  # type: ignore[attr-defined]
                blob = _encode_fields(entry)
                out.append(_TLV.pack(f, len(blob)) + blob)
            continue
        raw = _ENCODERS[f](v)
        if len(raw) > 0xFFFF:
            raise ValueError(f"field {f.name} too long")
        out.append(_TLV.pack(f, len(raw)) + raw)
    return b"".join(out)


def _mac_text(raw: bytes) -> str:
    return raw.hex(":")


_FIELD_OF = {f.value: f for f in Field}
_TYPE_OF = {t.value: t for t in MessageType}


def _decode_fields(buf: bytes, base: int) -> dict[Field, object]:
    fields: dict[Field, object] = {}
    i, end = 0, len(buf)
    while i < end:
        if i + 3 > end:
            raise MalformedPacket("truncated field header", base + i)
        ftype, flen = _TLV.unpack_from(buf, i)
        i += 3
        if i + flen > end:
            raise MalformedPacket(f"field {ftype} runs past the payload", base + i)
        raw = buf[i : i + flen]
        f = _FIELD_OF.get(ftype)
        if f is None:
            i += flen
            continue  # unknown field: skipped for forward compatibility
        if f in _INT_FIELDS:
            st = _INT_FIELDS[f]
            if flen != st.size:
                raise MalformedPacket(f"field {f.name} has length {flen}", base + i)
            fields[f] = st.unpack(raw)[0]
        elif f in _STR_FIELDS:
            try:
                fields[f] = raw.decode()
            except UnicodeDecodeError:
                raise MalformedPacket(f"field {f.name} is not UTF-8", base + i) from None
        elif f is Field.MAC:
            if flen != 6:
                raise MalformedPacket(f"MAC has length {flen}", base + i)
            fields[f] = _mac_text(raw)
        elif f is Field.IP:
            if flen != 4:
                raise MalformedPacket(f"IP has length {flen}", base + i)
            fields[f] = IPv4Address(raw)
        elif f is Field.HANDOFF:
            if flen != 16:
                raise MalformedPacket(f"HANDOFF has length {flen}", base + i)
            fields[f] = IPv6Address(raw)
        elif f is Field.ENTRY:
            entries = fields.setdefault(f, [])
            entries.append(_decode_fields(raw, base + i))  # type: ignore[union-attr]
        else:
            fields[f] = raw
        i += flen
    return fields


def as_key(key: bytes | NodeKey) -> NodeKey:
    return key if isinstance(key, NodeKey) else NodeKey(SHARED_ID, key)


class Codec:
    """Encodes and authenticates messages of one sender (with its key, or a given one)."""

    def __init__(self, key: bytes | NodeKey, sender: str, now_ns: int):
        sender_raw = sender.encode()
        if not 1 <= len(sender_raw) <= MAX_SENDER:
            raise ValueError(f"sender id must be 1..{MAX_SENDER} bytes")
        self.key = as_key(key)
        self.sender = sender
        self._sender_raw = sender_raw
        self._seq = now_ns  # grows across restarts as long as the clock does

    def encode(self, msg: Message, now_ms: int, key: NodeKey | None = None) -> bytes:
        """``key``: another key than the sender's own (the master answers with the asker's)."""
        k = key or self.key
        kid = k.id.encode()
        self._seq += 1
        payload = _encode_fields(msg.fields)
        flags = FLAG_RESPONSE if msg.response else 0
        head = HEADER.pack(
            MAGIC, VERSION, msg.type, flags, len(self._sender_raw), len(payload),
            self._seq, now_ms, msg.request_id, len(kid),
        )
        body = head + kid + self._sender_raw + payload
        if len(body) + MAC_LEN > MAX_DATAGRAM:
            raise ValueError("message too large for one datagram")
        msg.seq, msg.timestamp_ms, msg.sender, msg.key = self._seq, now_ms, self.sender, k
        return body + hmac.digest(k.secret, body, "sha256")

    def decode(self, data: bytes) -> Message:
        """Check size, layout and HMAC; raise MalformedPacket or AuthenticationError."""
        return decode(data, KeyRing([self.key]))


def decode(data: bytes, keys: bytes | KeyRing) -> Message:
    """Check size, layout and the HMAC under the key the key id names.

    ``keys`` as bytes: the shared key, whatever the key id.  The caller checks
    the sender against the key (``KeyRing.admit``) and freshness.
    """
    ring = KeyRing.shared(keys) if isinstance(keys, (bytes, bytearray)) else keys
    n = len(data)
    if n > MAX_DATAGRAM:
        raise MalformedPacket(f"oversized datagram ({n} bytes)")
    if n < HEADER.size + 2 + MAC_LEN:
        raise MalformedPacket(f"truncated datagram ({n} bytes)", n)
    magic, version, mtype, flags, slen, plen, seq, ts, rid, klen = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise MalformedPacket("bad magic", 0)
    if version != VERSION:
        raise MalformedPacket(f"unsupported version {version}", 2)
    if HEADER.size + klen + slen + plen + MAC_LEN != n or not 1 <= slen <= MAX_SENDER \
            or not 1 <= klen <= MAX_KEY_ID:
        raise MalformedPacket("lengths do not match the datagram", 5)
    try:
        key_id = data[HEADER.size : HEADER.size + klen].decode()
    except UnicodeDecodeError:
        raise MalformedPacket("key id is not UTF-8", HEADER.size) from None
    key = ring.lookup(key_id)
    body = data[:-MAC_LEN]
    if not hmac.compare_digest(hmac.digest(key.secret, body, "sha256"), data[-MAC_LEN:]):
        raise AuthenticationError("bad_mac", f"HMAC does not match key {key_id!r}")
    mt = _TYPE_OF.get(mtype)
    if mt is None:
        raise MalformedPacket(f"unknown message type {mtype}", 3)
    start = HEADER.size + klen
    try:
        sender = data[start : start + slen].decode()
    except UnicodeDecodeError:
        raise MalformedPacket("sender id is not UTF-8", start) from None
    start += slen
    fields = _decode_fields(data[start : start + plen], start)
    return Message(mt, sender, rid, fields, bool(flags & FLAG_RESPONSE), seq, ts, key)


class ReplayGuard:
    """Per-sender freshness: clock window plus a sliding window of sequences.

    ``floor`` maps a sender to the highest sequence known to be used before a
    restart (persisted by the master), so a message recorded before a crash
    cannot be replayed afterwards.
    """

    def __init__(self, max_skew_s: float = 30.0, window: int = 1024,
                 floor: dict[str, int] | None = None):
        self.max_skew_ms = int(max_skew_s * 1000)
        self.window = window
        self._high: dict[str, int] = dict(floor or {})
        # bitmap below high, bit i = sequence high - i; a floor counts as all seen
        full = (1 << window) - 1
        self._seen: dict[str, int] = {s: full for s in self._high}

    def check(self, msg: Message, now_ms: int) -> None:
        """Raise AuthenticationError('stale'|'replay'), else record the message."""
        if abs(now_ms - msg.timestamp_ms) > self.max_skew_ms:
            raise AuthenticationError(
                "stale", f"timestamp {msg.timestamp_ms} is {now_ms - msg.timestamp_ms} ms off")
        high = self._high.get(msg.sender)
        bits = self._seen.get(msg.sender, 0)
        if high is None:
            self._high[msg.sender], self._seen[msg.sender] = msg.seq, 1
            return
        if msg.seq > high:
            shift = msg.seq - high
            bits = ((bits << shift) | 1) & ((1 << self.window) - 1) if shift < self.window else 1
            self._high[msg.sender], self._seen[msg.sender] = msg.seq, bits
            return
        age = high - msg.seq
        if age >= self.window or (bits >> age) & 1:
            raise AuthenticationError("replay", f"sequence {msg.seq} from {msg.sender} already seen")
        self._seen[msg.sender] = bits | (1 << age)
