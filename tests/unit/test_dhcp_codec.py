"""DHCPv4 codec against golden captures from real clients, hand-built bytes and scapy."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from l3roam.errors import MalformedPacket
from l3roam.proto import dhcp
from l3roam.proto.dhcp import DhcpMessage, MessageType, Option

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDENS = sorted(DATA.glob("*.bin"))
A = IPv4Address


def golden(name: str) -> dhcp.DhcpMessage:
    return dhcp.decode((DATA / name).read_bytes())


def test_goldens_are_present():
    names = {p.name for p in GOLDENS}
    assert {"udhcpc-discover.bin", "dhclient-request-init-reboot.bin", "udhcpc-request-renewing.bin"} <= names


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.name)
def test_golden_roundtrip_keeps_every_field(path):
    raw = path.read_bytes()
    msg = dhcp.decode(raw)
    again = dhcp.decode(dhcp.encode(msg))
    assert again == msg
    assert msg.op == dhcp.Op.BOOTREQUEST and msg.htype == 1 and msg.hlen == 6


def test_udhcpc_discover_fields():
    msg = golden("udhcpc-discover.bin")
    assert msg.message_type is MessageType.DHCPDISCOVER
    assert msg.mac == "02:00:00:d4:00:01"
    assert msg.hostname == "golden-udhcpc"
    assert msg.client_id == b"\x01" + bytes.fromhex("020000d40001")  # RFC 2132 §9.14: type 1 + MAC
    assert msg.max_message_size == 576
    assert Option.SUBNET_MASK in msg.parameter_request_list
    assert msg.ciaddr == A("0.0.0.0") and msg.requested_ip is None and msg.server_id is None


def test_udhcpc_request_states():
    sel = golden("udhcpc-request-selecting.bin")
    assert sel.message_type is MessageType.DHCPREQUEST
    assert sel.server_id == A("10.99.0.1") and sel.requested_ip == A("10.99.0.100")
    renew = golden("udhcpc-request-renewing.bin")
    assert renew.ciaddr == A("10.99.0.100") and renew.server_id is None and renew.requested_ip is None
    rebind = golden("udhcpc-request-rebinding.bin")
    assert rebind.ciaddr == A("10.99.0.100") and rebind.server_id is None


def test_dhclient_messages():
    disc = golden("dhclient-discover.bin")
    assert disc.message_type is MessageType.DHCPDISCOVER and disc.hostname == "golden-dhclient"
    reboot = golden("dhclient-request-init-reboot.bin")
    assert reboot.requested_ip == A("10.99.0.101") and reboot.server_id is None and reboot.ciaddr == A(0)
    rel = golden("dhclient-release.bin")
    assert rel.message_type is MessageType.DHCPRELEASE and rel.ciaddr == A("10.99.0.101")
    assert rel.server_id == A("10.99.0.1")


def test_goldens_parse_like_scapy():
    scapy = pytest.importorskip("scapy.layers.dhcp")
    for path in GOLDENS:
        raw = path.read_bytes()
        ours = dhcp.decode(raw)
        theirs = scapy.BOOTP(raw)
        opts = {o[0]: o[1] for o in theirs[scapy.DHCP].options if isinstance(o, tuple)}
        assert ours.xid == theirs.xid
        assert ours.message_type == opts["message-type"]
        if "hostname" in opts:
            assert ours.hostname == opts["hostname"].decode()


def _reply() -> DhcpMessage:
    return DhcpMessage(
        op=dhcp.Op.BOOTREPLY,
        xid=0x12345678,
        chaddr=bytes.fromhex("020000000001"),
        yiaddr=A("10.99.0.7"),
        flags=dhcp.BROADCAST_FLAG,
        options={
            Option.DHCP_MESSAGE_TYPE: dhcp.message_type_option(MessageType.DHCPOFFER),
            Option.SERVER_IDENTIFIER: A("10.99.0.1").packed,
            Option.LEASE_TIME: dhcp.u32(600),
            Option.SUBNET_MASK: A("255.255.0.0").packed,
            Option.ROUTER: A("10.99.0.1").packed,
            Option.DOMAIN_NAME_SERVER: dhcp.ip_bytes(A("10.99.0.1"), A("9.9.9.9")),
            Option.DOMAIN_NAME: b"mesh",
            Option.INTERFACE_MTU: dhcp.u16(1400),
        },
    )


def test_encode_matches_scapy_reading():
    scapy = pytest.importorskip("scapy.layers.dhcp")
    raw = dhcp.encode(_reply())
    assert len(raw) == 300  # padded to the BOOTP minimum (RFC 1542 §2.1)
    p = scapy.BOOTP(raw)
    opts = {o[0]: o[1] if len(o) == 2 else list(o[1:]) for o in p[scapy.DHCP].options if isinstance(o, tuple)}
    assert p.op == 2 and p.yiaddr == "10.99.0.7" and p.flags == 0x8000 and p.xid == 0x12345678
    assert opts["message-type"] == 2 and opts["lease_time"] == 600
    assert opts["name_server"] == ["10.99.0.1", "9.9.9.9"]
    assert opts["subnet_mask"] == "255.255.0.0" and opts["interface-mtu"] == 1400


def test_accessors():
    msg = dhcp.decode(dhcp.encode(_reply()))
    assert msg.message_type is MessageType.DHCPOFFER
    assert msg.broadcast
    assert msg.server_id == A("10.99.0.1")
    assert msg.lease_time == 600
    assert msg.ip_list_option(Option.DOMAIN_NAME_SERVER) == [A("10.99.0.1"), A("9.9.9.9")]
    assert msg.text_option(Option.DOMAIN_NAME) == "mesh"


def test_long_option_is_split_and_concatenated():
    """RFC 3396: values over 255 octets travel as consecutive instances."""
    msg = _reply()
    msg.options[Option.VENDOR_SPECIFIC] = bytes(range(256)) * 2  # 512 octets
    raw = dhcp.encode(msg)
    assert dhcp.decode(raw).options[Option.VENDOR_SPECIFIC] == bytes(range(256)) * 2


def test_trailing_nul_in_hostname_is_ignored():
    msg = _reply()
    msg.options[Option.HOST_NAME] = b"phone\x00"
    assert dhcp.decode(dhcp.encode(msg)).hostname == "phone"


def test_option_overload_is_read_from_file_and_sname():
    """RFC 2131 §4.1 / RFC 2132 §9.3: option 52 = 3 means 'file' and 'sname' hold options."""
    msg = _reply()
    msg.options[Option.OPTION_OVERLOAD] = b"\x03"
    msg.file = bytes((Option.HOST_NAME, 5)) + b"phone" + b"\xff"
    msg.sname = bytes((Option.MESSAGE, 1)) + b"x"
    msg = dhcp.decode(dhcp.encode(msg))
    assert msg.hostname == "phone"
    assert msg.options[Option.MESSAGE] == b"x"
    assert msg.file == b"" and msg.sname == b""


# --- malformed input: one reason, one offset ---


def _base() -> bytearray:
    return bytearray(dhcp.encode(_reply()))


def _with_options(options: bytes) -> bytes:
    raw = _base()[:240]
    return bytes(raw) + options


@pytest.mark.parametrize(
    "data, reason, offset",
    [
        (b"", "truncated", 0),
        (bytes(239), "truncated", 239),
        (bytes(1501), "oversized", 1500),
        (bytes(_base()[:236]) + b"\x00\x00\x00\x00", "magic cookie", 236),
        (_with_options(b"\x35"), "no length octet", 240),
        (_with_options(b"\x35\x01\x01\x0c\x09abc"), "runs past the end", 243),
        (_with_options(b"\x35\x02\x01\x01\xff"), "expected 1", 240),
        (_with_options(b"\x35\x01\x01\x35\x01\x03\xff"), "appears twice", 240),
        (_with_options(b"\x35\x01\x00\xff"), "message type 0", 240),
        (_with_options(b"\x35\x01\x01\x03\x03abc\xff"), "multiple of 4", 243),
        (_with_options(b"\x35\x01\x01\x34\x01\x07\xff"), "overload value", 243),
        (_with_options(b"\x35\x01\x01\x3d\x01\x01\xff"), "shorter than 2", 243),
    ],
)
def test_malformed(data, reason, offset):
    with pytest.raises(MalformedPacket) as info:
        dhcp.decode(data)
    assert reason in info.value.reason
    assert info.value.offset == offset


def test_bad_op_and_hlen():
    raw = _base()
    raw[0] = 3
    with pytest.raises(MalformedPacket, match="op 3"):
        dhcp.decode(bytes(raw))
    raw = _base()
    raw[2] = 17
    with pytest.raises(MalformedPacket, match="hlen"):
        dhcp.decode(bytes(raw))


def test_missing_end_is_tolerated_when_options_fill_the_message():
    msg = dhcp.decode(_with_options(b"\x35\x01\x01"))
    assert msg.message_type is MessageType.DHCPDISCOVER


def test_unknown_message_type_decodes_but_has_no_type():
    msg = dhcp.decode(_with_options(b"\x35\x01\x63\xff"))
    assert msg.message_type is None


def test_decode_accepts_bytearray_and_memoryview():
    raw = (DATA / "udhcpc-discover.bin").read_bytes()
    assert dhcp.decode(bytearray(raw)) == dhcp.decode(memoryview(raw)) == dhcp.decode(raw)


def test_header_layout_offsets():
    """The ASCII layout in the module docstring: xid at 4, ciaddr at 12, chaddr at 28."""
    msg = _reply()
    msg.ciaddr = A("1.2.3.4")
    raw = dhcp.encode(msg)
    assert struct.unpack_from("!I", raw, 4)[0] == 0x12345678
    assert raw[12:16] == bytes((1, 2, 3, 4))
    assert raw[16:20] == A("10.99.0.7").packed
    assert raw[28:34] == bytes.fromhex("020000000001")
    assert struct.unpack_from("!I", raw, 236)[0] == dhcp.MAGIC_COOKIE
