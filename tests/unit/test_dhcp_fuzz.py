"""Property tests: no input makes the codec or the server raise anything unexpected.

decode() may only raise MalformedPacket; whatever decodes, the server handles
without raising, whatever the master answers; a decodable message survives
encode/decode unchanged.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l3roam.core.dhcp_server import AskMaster, DhcpServer, DhcpServerSettings, MasterAnswer, Received, SendReply
from l3roam.errors import MalformedPacket
from l3roam.proto import dhcp

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDENS = [p.read_bytes() for p in sorted(DATA.glob("*.bin"))]
SETTINGS = DhcpServerSettings(server_id=IPv4Address("10.99.0.1"), subnet=IPv4Network("10.99.0.0/16"), max_pending=4)
META = Received("wlan0", "02:00:00:00:00:01", IPv4Address(0), 68, IPv4Address("255.255.255.255"))

# Option codes the codec and server care about, plus a few others.
CODES = [0, 1, 3, 6, 12, 15, 26, 50, 51, 52, 53, 54, 55, 57, 58, 59, 61, 82, 255, 43, 200]


def try_decode(data: bytes):
    try:
        return dhcp.decode(data)
    except MalformedPacket as exc:
        assert isinstance(exc.reason, str) and exc.reason
        assert exc.offset is None or 0 <= exc.offset <= max(len(data), dhcp.MAX_MESSAGE_LEN)
        return None


@st.composite
def mutated_golden(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(GOLDENS)))
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.booleans()):
        data += draw(st.binary(max_size=40))
    return bytes(data)


@st.composite
def option_soup(draw) -> bytes:
    """A valid header and cookie followed by options of random codes and lengths."""
    header = bytearray(draw(st.sampled_from(GOLDENS))[:240])
    header[0] = draw(st.sampled_from([1, 1, 1, 2]))
    header[10] = draw(st.sampled_from([0, 0x80]))
    if draw(st.booleans()):
        header[24:28] = draw(st.sampled_from([b"\x0a\x32\x00\x01", b"\x00\x00\x00\x00"]))
    if draw(st.booleans()):
        header[12:16] = draw(st.sampled_from([b"\x0a\x63\x00\x64", b"\xc0\xa8\x01\x01"]))
    out = bytes(header)
    mtype = draw(st.integers(0, 12))
    out += bytes((53, 1, mtype))
    for _ in range(draw(st.integers(0, 8))):
        code = draw(st.sampled_from(CODES))
        length = draw(st.sampled_from([0, 1, 2, 4, 5, 8, 255]))
        value = draw(st.binary(min_size=length, max_size=length))
        if code in (50, 54) and length == 4 and draw(st.booleans()):
            value = draw(st.sampled_from([b"\x0a\x63\x00\x01", b"\x0a\x63\x00\x64", b"\x0a\x62\x00\x05"]))
        out += bytes((code, length)) + value if code not in (0, 255) else bytes((code,))
    if draw(st.booleans()):
        out += b"\xff"
    return out[: dhcp.MAX_MESSAGE_LEN + draw(st.integers(0, 3))]


answers = st.builds(
    MasterAnswer,
    status=st.sampled_from(["ok", "refused", "unavailable"]),
    ip=st.sampled_from([None, IPv4Address("10.99.0.100"), IPv4Address("10.99.0.1"), IPv4Address("1.2.3.4")]),
    lease_seconds=st.integers(-5, 100000),
    reason=st.text(max_size=300),
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=1600))
def test_random_bytes_only_raise_malformed(data):
    try_decode(data)


@settings(max_examples=400, deadline=None)
@given(mutated_golden())
def test_mutated_goldens_only_raise_malformed(data):
    msg = try_decode(data)
    if msg is not None:
        assert dhcp.decode(dhcp.encode(msg)) == msg


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(option_soup())
def test_option_soup_roundtrips_or_is_malformed(data):
    msg = try_decode(data)
    if msg is not None and len(data) < 1300:
        assert dhcp.decode(dhcp.encode(msg)) == msg


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(option_soup(), mutated_golden()), min_size=1, max_size=8),
    st.lists(answers, min_size=1, max_size=8),
    st.lists(st.floats(0, 5000, allow_nan=False), min_size=1, max_size=8),
)
def test_server_never_raises(payloads, master_answers, times):
    server = DhcpServer(SETTINGS)
    tokens: list[int] = []
    now = 0.0
    for i, payload in enumerate(payloads):
        now += times[i % len(times)]
        actions = server.handle_bytes(payload, META, now)
        for a in actions:
            if isinstance(a, AskMaster):
                tokens.append(a.token)
            if isinstance(a, SendReply):
                reply = dhcp.decode(a.payload)  # every reply we send decodes
                assert reply.op == dhcp.Op.BOOTREPLY
                assert reply.server_id == SETTINGS.server_id
        if tokens and i % 2:
            answer = master_answers[i % len(master_answers)]
            for b in server.on_master_answer(tokens.pop(0), answer, now):
                if isinstance(b, SendReply):
                    reply = dhcp.decode(b.payload)
                    assert reply.yiaddr == IPv4Address(0) or reply.yiaddr in SETTINGS.subnet
        server.tick(now)
    assert server.pending_count <= 2 * SETTINGS.max_pending
    for token in tokens:
        server.on_master_answer(token, master_answers[0], now + 1)


@given(st.integers(0, 0xFFFFFFFF), st.binary(min_size=6, max_size=6))
def test_engine_built_replies_are_well_formed(xid, mac):
    msg = dhcp.DhcpMessage(op=1, xid=xid, chaddr=mac, options={53: b"\x01"})
    server = DhcpServer(SETTINGS)
    (ask,) = server.handle(msg, META, 0)
    (send,) = server.on_master_answer(ask.token, MasterAnswer("ok", IPv4Address("10.99.0.100"), 60), 0)
    reply = dhcp.decode(send.payload)
    assert reply.xid == xid and reply.chaddr == mac and struct.unpack_from("!I", send.payload, 236)[0] == dhcp.MAGIC_COOKIE
