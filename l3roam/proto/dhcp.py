"""DHCPv4 message codec (RFC 2131 §2, options RFC 2132), written with ``struct``.

Pure module: bytes in, ``DhcpMessage`` out and back; no sockets, no asyncio,
no scapy (scapy builds and parses a few hundred DHCP frames per second, this
codec a few hundred thousand; scapy stays in tests and tools).

``decode`` raises ``MalformedPacket(reason, offset)`` for anything it cannot
read (and nothing else, for any input): truncated header, bad magic cookie,
an option running past the end, a fixed-size option of the wrong size, a
message larger than an Ethernet MTU.  It validates the options the server
reads, so the accessors of a decoded message never fail.

Fixed header, RFC 2131 §2 (Figure 1), 236 octets, then the magic cookie
99.130.83.99 and the options::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +---------------+---------------+---------------+---------------+
    |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |  0
    +---------------+---------------+---------------+---------------+
    |                            xid (4)                            |  4
    +-------------------------------+-------------------------------+
    |           secs (2)            |           flags (2)           |  8
    +-------------------------------+-------------------------------+
    |                          ciaddr  (4)                          | 12
    +---------------------------------------------------------------+
    |                          yiaddr  (4)                          | 16
    +---------------------------------------------------------------+
    |                          siaddr  (4)                          | 20
    +---------------------------------------------------------------+
    |                          giaddr  (4)                          | 24
    +---------------------------------------------------------------+
    |                          chaddr  (16)                         | 28
    +---------------------------------------------------------------+
    |                          sname   (64)                         | 44
    +---------------------------------------------------------------+
    |                          file    (128)                        | 108
    +---------------------------------------------------------------+
    |                  magic cookie 0x63825363 (4)                  | 236
    +---------------------------------------------------------------+
    |                          options (variable)                   | 240
    +---------------------------------------------------------------+

Options are ``code(1) len(1) value(len)``; PAD (0) and END (255) are one
octet.  An option that appears more than once is concatenated (RFC 3396 §5);
``encode`` splits values longer than 255 octets the same way.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache
from ipaddress import IPv4Address

from l3roam.errors import LocalProtocolError, MalformedPacket

MAGIC_COOKIE = 0x63825363  # RFC 2131 §3: 99.130.83.99
HEADER_LEN = 236
OPTIONS_OFFSET = 240
MAX_MESSAGE_LEN = 1500  # larger than an Ethernet payload: not a DHCP message we accept
MIN_REPLY_LEN = 300  # RFC 1542 §2.1: some relays and clients drop shorter BOOTP messages
SERVER_PORT = 67
CLIENT_PORT = 68
BROADCAST_FLAG = 0x8000  # RFC 2131 §2, Figure 2

_HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128sI")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_ZERO4 = b"\x00\x00\x00\x00"


class Op(IntEnum):
    """RFC 2131 §2 'op' field."""

    BOOTREQUEST = 1
    BOOTREPLY = 2


class MessageType(IntEnum):
    """Option 53 values: RFC 2132 §9.6, FORCERENEW RFC 3203, lease query RFC 4388."""

    DHCPDISCOVER = 1
    DHCPOFFER = 2
    DHCPREQUEST = 3
    DHCPDECLINE = 4
    DHCPACK = 5
    DHCPNAK = 6
    DHCPRELEASE = 7
    DHCPINFORM = 8
    DHCPFORCERENEW = 9
    DHCPLEASEQUERY = 10
    DHCPLEASEUNASSIGNED = 11
    DHCPLEASEUNKNOWN = 12
    DHCPLEASEACTIVE = 13


class Option(IntEnum):
    """Option codes, named as in RFC 2132 (and RFC 3046 for 82)."""

    PAD = 0
    SUBNET_MASK = 1  # §3.3
    TIME_OFFSET = 2
    ROUTER = 3  # §3.5
    TIME_SERVER = 4
    NAME_SERVER = 5
    DOMAIN_NAME_SERVER = 6  # §3.8
    LOG_SERVER = 7
    HOST_NAME = 12  # §3.14
    DOMAIN_NAME = 15  # §3.17
    INTERFACE_MTU = 26  # §5.1
    BROADCAST_ADDRESS = 28  # §5.3
    STATIC_ROUTE = 33
    NTP_SERVERS = 42
    VENDOR_SPECIFIC = 43
    REQUESTED_IP_ADDRESS = 50  # §9.1
    LEASE_TIME = 51  # §9.2 "IP Address Lease Time"
    OPTION_OVERLOAD = 52  # §9.3
    DHCP_MESSAGE_TYPE = 53  # §9.6
    SERVER_IDENTIFIER = 54  # §9.7
    PARAMETER_REQUEST_LIST = 55  # §9.8
    MESSAGE = 56  # §9.9
    MAXIMUM_DHCP_MESSAGE_SIZE = 57  # §9.10
    RENEWAL_TIME_VALUE = 58  # §9.11, T1
    REBINDING_TIME_VALUE = 59  # §9.12, T2
    VENDOR_CLASS_IDENTIFIER = 60  # §9.13
    CLIENT_IDENTIFIER = 61  # §9.14
    CLIENT_FQDN = 81  # RFC 4702
    RELAY_AGENT_INFORMATION = 82  # RFC 3046
    CLASSLESS_STATIC_ROUTE = 121  # RFC 3442
    END = 255


# Options whose value has one fixed size (RFC 2132); a wrong size is malformed.
_FIXED_LEN: dict[int, int] = {
    Option.SUBNET_MASK: 4,
    Option.INTERFACE_MTU: 2,
    Option.REQUESTED_IP_ADDRESS: 4,
    Option.LEASE_TIME: 4,
    Option.OPTION_OVERLOAD: 1,
    Option.DHCP_MESSAGE_TYPE: 1,
    Option.SERVER_IDENTIFIER: 4,
    Option.MAXIMUM_DHCP_MESSAGE_SIZE: 2,
    Option.RENEWAL_TIME_VALUE: 4,
    Option.REBINDING_TIME_VALUE: 4,
}
# Lists of addresses: a non-empty multiple of 4 octets.
_ADDRESS_LISTS = (Option.ROUTER, Option.DOMAIN_NAME_SERVER)
# Minimum lengths (RFC 2132 §3.14, §9.8, §9.14).
_MIN_LEN: dict[int, int] = {
    Option.HOST_NAME: 1,
    Option.DOMAIN_NAME: 1,
    Option.PARAMETER_REQUEST_LIST: 1,
    Option.CLIENT_IDENTIFIER: 2,
}

_KNOWN_TYPES = {int(t): t for t in MessageType}


@lru_cache(maxsize=8192)
def _ip(raw: bytes) -> IPv4Address:
    return IPv4Address(raw)


ZERO_ADDRESS = IPv4Address(0)


@dataclass(slots=True)
class DhcpMessage:
    """One DHCP message.  ``options`` maps code -> raw value, in wire order."""

    op: int
    xid: int
    chaddr: bytes  # the first ``hlen`` octets of the field
    options: dict[int, bytes] = field(default_factory=dict)
    htype: int = 1  # Ethernet
    hlen: int = 6
    hops: int = 0
    secs: int = 0
    flags: int = 0
    ciaddr: IPv4Address = ZERO_ADDRESS
    yiaddr: IPv4Address = ZERO_ADDRESS
    siaddr: IPv4Address = ZERO_ADDRESS
    giaddr: IPv4Address = ZERO_ADDRESS
    sname: bytes = b""
    file: bytes = b""

    # --- accessors for the options the server reads (validated by decode) ---

    @property
    def message_type(self) -> MessageType | None:
        raw = self.options.get(Option.DHCP_MESSAGE_TYPE)
        if raw is None or len(raw) != 1:
            return None
        return _KNOWN_TYPES.get(raw[0])

    @property
    def mac(self) -> str:
        """chaddr as lower-case ``aa:bb:cc:dd:ee:ff`` (Ethernet clients)."""
        return self.chaddr[:6].hex(":")

    @property
    def broadcast(self) -> bool:
        return bool(self.flags & BROADCAST_FLAG)

    def ip_option(self, code: int) -> IPv4Address | None:
        raw = self.options.get(code)
        if raw is None or len(raw) != 4:
            return None
        return _ip(raw)

    def ip_list_option(self, code: int) -> list[IPv4Address]:
        raw = self.options.get(code, b"")
        return [_ip(raw[i : i + 4]) for i in range(0, len(raw) - len(raw) % 4, 4)]

    def u32_option(self, code: int) -> int | None:
        raw = self.options.get(code)
        if raw is None or len(raw) != 4:
            return None
        return _U32.unpack(raw)[0]

    def text_option(self, code: int) -> str | None:
        raw = self.options.get(code)
        if not raw:
            return None
        # Some clients count a trailing NUL into the length (RFC 2132 §2 says
        # they should not); never fail on odd bytes in a name.
        text = raw.rstrip(b"\x00").decode("utf-8", "replace")
        return text or None

    @property
    def requested_ip(self) -> IPv4Address | None:
        return self.ip_option(Option.REQUESTED_IP_ADDRESS)

    @property
    def server_id(self) -> IPv4Address | None:
        return self.ip_option(Option.SERVER_IDENTIFIER)

    @property
    def hostname(self) -> str | None:
        return self.text_option(Option.HOST_NAME)

    @property
    def client_id(self) -> bytes | None:
        return self.options.get(Option.CLIENT_IDENTIFIER)

    @property
    def lease_time(self) -> int | None:
        return self.u32_option(Option.LEASE_TIME)

    @property
    def parameter_request_list(self) -> bytes:
        return self.options.get(Option.PARAMETER_REQUEST_LIST, b"")

    @property
    def max_message_size(self) -> int | None:
        raw = self.options.get(Option.MAXIMUM_DHCP_MESSAGE_SIZE)
        if raw is None or len(raw) != 2:
            return None
        return _U16.unpack(raw)[0]

    @property
    def relay_agent_info(self) -> bytes | None:
        return self.options.get(Option.RELAY_AGENT_INFORMATION)


# --- option value builders (for replies) ---


def u32(value: int) -> bytes:
    return _U32.pack(value)


def u16(value: int) -> bytes:
    return _U16.pack(value)


def ip_bytes(*addresses: IPv4Address) -> bytes:
    return b"".join(a.packed for a in addresses)


def message_type_option(mtype: MessageType) -> bytes:
    return bytes((int(mtype),))


# --- decode ---


def _parse_options(buf: bytes, i: int, end: int, out: dict[int, bytes]) -> None:
    """Parse options in buf[i:end] into ``out`` (RFC 2131 §4.1, RFC 3396 concatenation).

    The hot path: no per-option validation here; ``_validate`` checks sizes
    afterwards and ``_offset_of`` finds an offending option's offset again.
    """
    while i < end:
        code = buf[i]
        if code == 0:  # PAD
            i += 1
            continue
        if code == 255:  # END: anything after it is padding
            return
        if i + 1 >= end:
            raise MalformedPacket(f"option {code} has no length octet", i)
        j = i + 2 + buf[i + 1]
        if j > end:
            raise MalformedPacket(f"option {code} (length {buf[i + 1]}) runs past the end", i)
        if code in out:
            out[code] += buf[i + 2 : j]
        else:
            out[code] = buf[i + 2 : j]
        i = j
    # No END option: tolerated when the options fill the message exactly.


def _offset_of(buf: bytes, code: int, overload: int) -> int:
    """Offset of the first instance of option ``code`` (only on the error path)."""
    areas = [(OPTIONS_OFFSET, len(buf))]
    if overload & 1:
        areas.append((108, 236))
    if overload & 2:
        areas.append((44, 108))
    for i, end in areas:
        while i + 1 < end and buf[i] != 255:
            if buf[i] == 0:
                i += 1
                continue
            if buf[i] == code:
                return i
            i += 2 + buf[i + 1]
    return OPTIONS_OFFSET


def _validate(buf: bytes, options: dict[int, bytes], overload: int) -> None:
    fixed = _FIXED_LEN
    for code, value in options.items():
        expected = fixed.get(code)
        if expected is not None and len(value) != expected:
            where = _offset_of(buf, code, overload)
            if len(value) % expected == 0 and buf[where + 1] == expected:
                raise MalformedPacket(f"option {code} appears twice", where)
            raise MalformedPacket(f"option {code} has length {buf[where + 1]}, expected {expected}", where)
    mtype = options.get(Option.DHCP_MESSAGE_TYPE)
    if mtype is not None and mtype[0] == 0:
        raise MalformedPacket("message type 0", _offset_of(buf, Option.DHCP_MESSAGE_TYPE, overload))
    for code in _ADDRESS_LISTS:
        raw = options.get(code)
        if raw is not None and (not raw or len(raw) % 4):
            where = _offset_of(buf, code, overload)
            raise MalformedPacket(f"option {code} length {len(raw)} is not a multiple of 4", where)
    for code, minimum in _MIN_LEN.items():
        raw = options.get(code)
        if raw is not None and len(raw) < minimum:
            raise MalformedPacket(f"option {code} shorter than {minimum}", _offset_of(buf, code, overload))


def decode(data: bytes) -> DhcpMessage:
    """Decode one DHCP message (the UDP payload).  Raises MalformedPacket only."""
    n = len(data)
    if n > MAX_MESSAGE_LEN:
        raise MalformedPacket(f"oversized: {n} octets > {MAX_MESSAGE_LEN}", MAX_MESSAGE_LEN)
    if n < OPTIONS_OFFSET:
        raise MalformedPacket(f"truncated: {n} octets, header and cookie need {OPTIONS_OFFSET}", n)
    try:
        data = bytes(data)
    except TypeError:
        raise MalformedPacket("not a byte string", 0) from None
    (op, htype, hlen, hops, xid, secs, flags, ci, yi, si, gi, chaddr, sname, file, cookie) = _HEADER.unpack_from(data)
    if cookie != MAGIC_COOKIE:
        raise MalformedPacket(f"bad magic cookie {cookie:#010x}", HEADER_LEN)
    if op != 1 and op != 2:
        raise MalformedPacket(f"op {op} is neither BOOTREQUEST nor BOOTREPLY", 0)
    if hlen > 16:
        raise MalformedPacket(f"hlen {hlen} > 16", 2)
    options: dict[int, bytes] = {}
    _parse_options(data, OPTIONS_OFFSET, n, options)

    overload = 0
    raw_overload = options.get(Option.OPTION_OVERLOAD)
    if raw_overload is not None and len(raw_overload) == 1:
        # RFC 2131 §4.1: 'file' then 'sname' carry more options.
        overload = raw_overload[0]
        if overload not in (1, 2, 3):
            where = _offset_of(data, Option.OPTION_OVERLOAD, 0)
            raise MalformedPacket(f"option overload value {overload}", where)
        if overload & 1:
            _parse_options(data, 108, 236, options)
            file = b""
        if overload & 2:
            _parse_options(data, 44, 108, options)
            sname = b""
    _validate(data, options, overload)

    return DhcpMessage(
        op=op,
        xid=xid,
        chaddr=chaddr[:hlen],
        options=options,
        htype=htype,
        hlen=hlen,
        hops=hops,
        secs=secs,
        flags=flags,
        ciaddr=ZERO_ADDRESS if ci == _ZERO4 else _ip(ci),
        yiaddr=ZERO_ADDRESS if yi == _ZERO4 else _ip(yi),
        siaddr=ZERO_ADDRESS if si == _ZERO4 else _ip(si),
        giaddr=ZERO_ADDRESS if gi == _ZERO4 else _ip(gi),
        sname=sname.rstrip(b"\x00"),
        file=file.rstrip(b"\x00"),
    )


# --- encode ---


def encode(msg: DhcpMessage) -> bytes:
    """Encode ``msg``; options in dict order, END appended, padded to 300 octets."""
    if len(msg.chaddr) > 16 or len(msg.sname) > 64 or len(msg.file) > 128:
        raise LocalProtocolError("chaddr, sname or file too long")
    parts = [
        _HEADER.pack(
            msg.op,
            msg.htype,
            msg.hlen,
            msg.hops,
            msg.xid,
            msg.secs,
            msg.flags,
            msg.ciaddr.packed,
            msg.yiaddr.packed,
            msg.siaddr.packed,
            msg.giaddr.packed,
            msg.chaddr,
            msg.sname,
            msg.file,
            MAGIC_COOKIE,
        )
    ]
    append = parts.append
    for code, value in msg.options.items():
        if code == 0 or code == 255:
            continue
        length = len(value)
        if length <= 255:
            append(bytes((code, length)))
            append(value)
        else:  # RFC 3396 §5: split a long option into consecutive instances
            for k in range(0, length, 255):
                chunk = value[k : k + 255]
                append(bytes((code, len(chunk))))
                append(chunk)
    append(b"\xff")
    data = b"".join(parts)
    if len(data) < MIN_REPLY_LEN:
        data += bytes(MIN_REPLY_LEN - len(data))
    elif len(data) > MAX_MESSAGE_LEN:
        raise LocalProtocolError(f"DHCP message of {len(data)} octets exceeds {MAX_MESSAGE_LEN}")
    return data
