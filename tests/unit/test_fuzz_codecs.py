"""Codec fuzzing at scale: at least 100,000 structured inputs per codec.

Hypothesis drives it (the ``ci`` profile in tests/conftest.py): each example
draws a base (for DHCP) and a seed for a ``random.Random`` from which
``BATCH`` inputs are derived, so a failure is one example that reproduces from
its seed, and the whole run stays cheap (a hypothesis example costs milliseconds,
an input microseconds).  ``L3ROAM_FUZZ_INPUTS`` sets the count per codec.

DHCP: real clients' captures (tests/data/*.bin) and freshly encoded messages,
then field-aware mutations (option codes, lengths at the boundaries, PAD/END,
option overload into sname/file, duplicated and split options, header
fields, truncation, extension).  decode may raise MalformedPacket only; what
decodes survives encode/decode unchanged, and a DhcpServer handles it.

Control protocol: header, sender id and TLV fields generated field by field
(valid values, wrong lengths, invalid UTF-8, unknown types, nested ENTRY
blocks, truncated TLVs) and then signed with the key, so the HMAC check
passes and the field parser is what is exercised; a few are then corrupted
to hit the refusals.  decode may raise MalformedPacket or
AuthenticationError only; well-typed messages round-trip, and what decodes
is handed to the master's request handlers (MasterService.handle), which must
not raise either.  The counts go to the terminal summary (tests/conftest.py).
"""

from __future__ import annotations

import hmac
import os
import random
import struct
import time
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from l3roam.core.dhcp_actions import DhcpServerSettings, Received
from l3roam.core.dhcp_server import DhcpServer
from l3roam.errors import AuthenticationError, MalformedPacket
from l3roam.proto import control as C
from l3roam.proto import dhcp

INPUTS = int(os.environ.get("L3ROAM_FUZZ_INPUTS", "100000"))
BATCH = 250
EXAMPLES = -(-INPUTS // BATCH)
DATA = Path(__file__).resolve().parent.parent / "data"
GOLDENS = [p.read_bytes() for p in sorted(DATA.glob("*.bin"))]
KEY = b"fuzz-key-0123456789abcdef"
META = Received("wlan0", "02:00:00:00:00:01", IPv4Address(0), 68, IPv4Address("255.255.255.255"))
SERVER = DhcpServerSettings(server_id=IPv4Address("10.99.0.1"), subnet=IPv4Network("10.99.0.0/16"), max_pending=8)

OPTION_CODES = [0, 1, 3, 6, 12, 15, 26, 50, 51, 52, 53, 54, 55, 57, 58, 59, 61, 66, 67, 81, 82, 116, 255, 43, 200]
LENGTHS = [0, 1, 2, 3, 4, 5, 6, 8, 16, 254, 255]


class Tally:
    def __init__(self, name: str):
        self.name, self.counts, self.seconds = name, {"inputs": 0}, 0.0

    def add(self, outcome: str) -> None:
        self.counts["inputs"] += 1
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def line(self) -> str:
        rest = ", ".join(f"{k} {v:,}" for k, v in sorted(self.counts.items()) if k != "inputs")
        return (f"fuzz {self.name}: {self.counts['inputs']:,} structured inputs ({rest}); "
                f"0 uncaught exceptions; {self.seconds:.1f} s")


# ---- DHCP ----------------------------------------------------------------------
def fresh_dhcp(r: random.Random) -> bytes:
    options = {53: bytes((r.choice([1, 3, 4, 7, 8, r.randrange(256)]),))}
    for _ in range(r.randrange(8)):
        code = r.choice(OPTION_CODES[1:-3])
        options[code] = r.randbytes(r.choice(LENGTHS[:9]))
    msg = dhcp.DhcpMessage(op=r.choice([1, 1, 2]), xid=r.getrandbits(32), chaddr=r.randbytes(6), options=options,
                           flags=r.choice([0, 0x8000]), ciaddr=IPv4Address(r.choice([0, 0x0A630064])))
    try:
        return dhcp.encode(msg)
    except Exception:  # an option set too long to encode: fall back to a capture
        return r.choice(GOLDENS)


def option(r: random.Random) -> bytes:
    code = r.choice(OPTION_CODES)
    if code in (0, 255):
        return bytes((code,))
    length = r.choice(LENGTHS)
    value = r.randbytes(length)
    if code == 52 and length == 1:
        value = bytes((r.choice([1, 2, 3, 0, 4]),))
    return bytes((code, length)) + value


def mutate_dhcp(data: bytes, r: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(r.randrange(1, 5)):
        op = r.randrange(10)
        if op == 0 and buf:  # a random byte
            buf[r.randrange(len(buf))] = r.randrange(256)
        elif op == 1:  # an option inserted at an option boundary or anywhere
            at = r.choice([240, len(buf), r.randrange(240, max(241, len(buf)))])
            buf[at:at] = option(r)
        elif op == 2 and len(buf) > 242:  # an option length byte changed
            buf[r.randrange(241, len(buf))] = r.choice(LENGTHS)
        elif op == 3:  # truncated
            del buf[r.randrange(len(buf) + 1):]
        elif op == 4:  # extended
            buf += r.randbytes(r.randrange(40)) if r.random() < 0.5 else option(r) * r.randrange(1, 4)
        elif op == 5 and len(buf) >= 240:  # overload: options in sname/file
            area = r.choice([(44, 108), (108, 236)])
            blob = b"".join(option(r) for _ in range(r.randrange(4)))[: area[1] - area[0]]
            buf[area[0]:area[0] + len(blob)] = blob
            buf[240:240] = bytes((52, 1, r.choice([1, 2, 3])))
        elif op == 6 and len(buf) >= 3:  # header fields: op, htype, hlen
            buf[r.randrange(3)] = r.choice([0, 1, 2, 6, 16, 17, 255])
        elif op == 7 and len(buf) >= 240:  # the magic cookie
            buf[236 + r.randrange(4)] ^= 1 << r.randrange(8)
        elif op == 8:  # a duplicated option (concatenation, RFC 3396)
            o = option(r)
            buf[240:240] = o + o
        else:  # END or PAD in the middle
            buf.insert(r.randrange(len(buf) + 1), r.choice([0, 255]))
    return bytes(buf[: dhcp.MAX_MESSAGE_LEN + 4])


def check_dhcp(data: bytes, server: DhcpServer, now: float, tally: Tally) -> None:
    try:
        msg = dhcp.decode(data)
    except MalformedPacket as exc:
        assert isinstance(exc.reason, str) and exc.reason
        tally.add("malformed")
        return
    if len(data) < 1300:
        assert dhcp.decode(dhcp.encode(msg)) == msg
    server.handle_bytes(data, META, now)
    tally.add("decoded")


DHCP_TALLY = Tally("dhcp")


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.sampled_from(range(len(GOLDENS) + 1)), st.integers(0, 2**64 - 1))
def fuzz_dhcp(base, seed_value):
    r = random.Random(seed_value)
    server = DhcpServer(SERVER)
    seed = GOLDENS[base] if base < len(GOLDENS) else fresh_dhcp(r)
    for i in range(BATCH):
        check_dhcp(mutate_dhcp(seed if r.random() < 0.7 else fresh_dhcp(r), r), server, i * 0.5, DHCP_TALLY)
    server.tick(BATCH)


def test_dhcp_codec_fuzz(fuzz_report):
    t0 = time.perf_counter()
    fuzz_dhcp()
    DHCP_TALLY.seconds = time.perf_counter() - t0
    fuzz_report.append(DHCP_TALLY.line())
    assert DHCP_TALLY.counts["inputs"] >= INPUTS
    assert DHCP_TALLY.counts.get("decoded", 0) > INPUTS // 10  # the mutations do not only break things
    assert DHCP_TALLY.counts.get("malformed", 0) > INPUTS // 10


# ---- control protocol ---------------------------------------------------------
def text(r: random.Random, max_len: int = 20) -> bytes:
    pick = r.randrange(4)
    if pick == 0:
        return r.randbytes(r.randrange(max_len))  # often not UTF-8
    if pick == 1:
        return "".join(chr(r.choice([0x61, 0xE9, 0x4E2D, 0x1F600, 0])) for _ in range(r.randrange(max_len))).encode()
    return f"ap{r.randrange(100)}".encode()


def field_value(f: int, r: random.Random) -> bytes:
    """A value for field type ``f``: usually the right size, sometimes not."""
    sizes = {C.Field.MAC: 6, C.Field.IP: 4, C.Field.HANDOFF: 16}
    sizes.update({k: s.size for k, s in C._INT_FIELDS.items()})
    if f in sizes and r.random() < 0.85:
        return r.randbytes(sizes[C.Field(f)])
    if f in C._STR_FIELDS:
        return text(r, 80)
    return r.randbytes(r.choice([0, 1, 2, 3, 4, 5, 6, 8, 15, 16, 17, 40]))


def tlvs(r: random.Random, depth: int = 0) -> bytes:
    out = bytearray()
    for _ in range(r.randrange(9)):
        f = r.choice([*range(1, 19), 0, 19, 200, 255])
        if f == C.Field.ENTRY and depth < 3:
            value = tlvs(r, depth + 1)
        else:
            value = field_value(f, r)
        out += struct.pack("!BH", f, len(value)) + value
    if r.random() < 0.08:  # a broken tail: truncated header or a length past the end
        out += r.choice([b"\x01", b"\x02\x00", struct.pack("!BH", r.randrange(1, 19), r.randrange(1, 300))])
    return bytes(out)


def signed_datagram(r: random.Random) -> bytes:
    # mostly a valid header, so that the fields are what is exercised
    sender = text(r, 70) if r.random() < 0.1 else f"ap{r.randrange(1000)}".encode()
    if r.random() < 0.95:
        sender = sender[:C.MAX_SENDER] or b"x"
    payload = tlvs(r)
    mtype = r.randrange(1, 8) if r.random() < 0.95 else r.choice([0, 8, 255])
    kid = C.SHARED_ID.encode() if r.random() < 0.95 else text(r, 40)  # the key id (protocol v2)
    head = C.HEADER.pack(C.MAGIC, C.VERSION, mtype, r.choice([0, 1, 1, 2, 255]), len(sender), len(payload),
                         r.getrandbits(64), r.getrandbits(64), r.getrandbits(64), len(kid))
    body = head + kid + sender + payload
    data = body + hmac.digest(KEY, body, "sha256")
    roll = r.random()
    if roll < 0.03:  # a bit flipped after signing: refused
        data = bytearray(data)
        data[r.randrange(len(data))] ^= 1 << r.randrange(8)
        data = bytes(data)
    elif roll < 0.05:
        data = data[: r.randrange(len(data))]
    return data


def well_typed(r: random.Random) -> C.Message:
    fields: dict = {}
    for f in r.sample(list(C.Field), r.randrange(6)):
        if f in C._INT_FIELDS:
            fields[f] = r.getrandbits(C._INT_FIELDS[f].size * 8)
        elif f in C._STR_FIELDS:
            fields[f] = text(r).decode("utf-8", "replace")
        elif f is C.Field.MAC:
            fields[f] = r.randbytes(6).hex(":")
        elif f is C.Field.IP:
            fields[f] = IPv4Address(r.getrandbits(32))
        elif f is C.Field.HANDOFF:
            fields[f] = IPv6Address(r.getrandbits(128))
        elif f is C.Field.ENTRY:
            fields[f] = [{C.Field.MAC: r.randbytes(6).hex(":"), C.Field.NODE: "ap1"} for _ in range(r.randrange(1, 3))]  # an empty list is no field at all
        else:
            fields[f] = r.randbytes(r.randrange(10))
    return C.Message(r.choice(list(C.MessageType)), "x", r.getrandbits(64), fields, r.random() < 0.3)


def master_service():
    from l3roam.core.lease import LeasePolicy, LeaseTable
    from l3roam.master.service import MasterService
    from l3roam.master.store import Snapshot
    from l3roam.metrics import Registry

    table = LeaseTable([IPv4Network("10.99.0.0/24")], set(), {}, LeasePolicy(600, 30, 60, 60))
    return MasterService(table, Snapshot(), Registry("fuzz"), 0.05, 1.0, 5.0)


CONTROL_TALLY = Tally("control protocol")


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.integers(0, 2**64 - 1))
def fuzz_control(seed_value):
    r = random.Random(seed_value)
    codec = C.Codec(KEY, "fuzzer", 1)
    service = master_service()
    for i in range(BATCH):
        if r.random() < 0.1:
            msg = well_typed(r)
            data = codec.encode(msg, 1_700_000_000_000)
            again = C.decode(data, KEY)
            assert again.fields == {k: v for k, v in msg.fields.items() if v is not None}
            CONTROL_TALLY.add("round_trip")
            continue
        data = signed_datagram(r)
        try:
            msg = C.decode(data, KEY)
        except MalformedPacket as exc:  # where: in the fields (past the sender id) or before
            in_fields = exc.offset is not None and exc.offset > C.HEADER.size
            CONTROL_TALLY.add("malformed_fields" if in_fields else "malformed_header")
            continue
        except AuthenticationError:
            CONTROL_TALLY.add("refused_hmac")
            continue
        service.handle(msg, ("127.0.0.1", 4501), 1000.0 + i)
        CONTROL_TALLY.add("decoded_and_handled")


def test_control_codec_fuzz(fuzz_report):
    t0 = time.perf_counter()
    fuzz_control()
    CONTROL_TALLY.seconds = time.perf_counter() - t0
    fuzz_report.append(CONTROL_TALLY.line())
    c = CONTROL_TALLY.counts
    assert c["inputs"] >= INPUTS
    # most inputs pass authentication and reach the field parser (and the handlers)
    assert c.get("malformed_fields", 0) + c.get("decoded_and_handled", 0) > 0.6 * c["inputs"]
    assert c.get("malformed_fields", 0) > INPUTS // 10
    assert c.get("decoded_and_handled", 0) > INPUTS // 10 and c.get("refused_hmac", 0) > 0
