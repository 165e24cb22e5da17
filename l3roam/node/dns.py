"""DNS decisions of the node agent: names of clients, and what to forward.

The agent learns client host names from DHCP (option 12) and calls
``set_name``/``remove``.  ``DnsAnswerer.answer(query)`` decides, for one
query datagram, to answer it itself (bytes), to forward it upstream
(``Forward``) or to drop it (None, malformed; counted).  It answers
authoritatively:

* ``A`` for ``<hostname>.<mesh domain>`` (NXDOMAIN for unknown names, an
  empty NOERROR answer for other types of a known name),
* ``PTR`` for client addresses in ``<reversed>.in-addr.arpa`` (NXDOMAIN for
  unknown addresses inside the client prefix),

and forwards everything else.  Pure: dnslib only, no sockets; the socket
loop is dns_server.py.  RFC 1035 for the message format, RFC 2308 for
negative answers, RFC 1034 §3.5 / RFC 1123 §2.1 for host name syntax.
"""

from __future__ import annotations

import re
import struct
import threading
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from dnslib import PTR, QTYPE, RCODE, RR, A, DNSError, DNSLabel, DNSRecord
from dnslib.buffer import BufferError as DnsBufferError

OPCODE_QUERY = 0  # RFC 1035 §4.1.1
# what dnslib raises on bytes that are not a DNS message
_PARSE_ERRORS = (DNSError, DnsBufferError, ValueError, IndexError, UnicodeDecodeError, struct.error)
_LABEL_BAD = re.compile(r"[^a-z0-9-]+")
MAX_LABEL = 63  # RFC 1035 §2.3.4


def host_label(hostname: str) -> str | None:
    """A DHCP host name as one DNS label, or None if nothing usable is left.

    Lower case; anything outside letters, digits and hyphen becomes a hyphen;
    only the first dotted part counts (clients sometimes send an FQDN); no
    leading or trailing hyphen; at most 63 characters (RFC 1123 §2.1).
    """
    first = hostname.strip().split(".")[0].lower()
    label = _LABEL_BAD.sub("-", first).strip("-")[:MAX_LABEL].strip("-")
    return label or None


def reverse_name(ip: IPv4Address) -> str:
    """10.99.0.5 -> 5.0.99.10.in-addr.arpa. (RFC 1035 §3.5)."""
    return ".".join(reversed(str(ip).split("."))) + ".in-addr.arpa."


def _ptr_address(qname: DNSLabel) -> IPv4Address | None:
    parts = qname.label
    if len(parts) != 6 or parts[-2:] != (b"in-addr", b"arpa"):
        return None
    if not all(p.isdigit() and len(p) <= 3 for p in parts[:4]):
        return None
    try:
        return IPv4Address(".".join(p.decode("ascii") for p in reversed(parts[:4])))
    except ValueError:
        return None


@dataclass(frozen=True)
class Forward:
    """Send ``query`` (the client's datagram, unchanged) to the upstream resolvers."""

    query: bytes
    qid: int


@dataclass
class DnsCounters:
    answered: int = 0
    nxdomain: int = 0
    forwarded: int = 0
    malformed: int = 0
    refused: int = 0


@dataclass
class NameTable:
    """Host label <-> client address, one name per address and one address per name."""

    by_label: dict[str, IPv4Address] = field(default_factory=dict)
    by_ip: dict[IPv4Address, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set_name(self, hostname: str, ip: IPv4Address) -> str | None:
        """Register ``hostname`` for ``ip``; returns the label used, or None if unusable.

        A name taken by another address moves to this one (the newest DHCP
        client with that name wins); a new name for an address replaces its
        old one.
        """
        label = host_label(hostname)
        ip = IPv4Address(ip)
        with self.lock:
            self._remove(ip)
            if label is None:
                return None
            old_ip = self.by_label.pop(label, None)
            if old_ip is not None:
                self.by_ip.pop(old_ip, None)
            self.by_label[label] = ip
            self.by_ip[ip] = label
        return label

    def remove(self, ip: IPv4Address) -> None:
        with self.lock:
            self._remove(IPv4Address(ip))

    def _remove(self, ip: IPv4Address) -> None:
        label = self.by_ip.pop(ip, None)
        if label is not None:
            self.by_label.pop(label, None)

    def address(self, label: str) -> IPv4Address | None:
        return self.by_label.get(label)

    def label(self, ip: IPv4Address) -> str | None:
        return self.by_ip.get(ip)


class DnsAnswerer:
    """Pure DNS decision: answer, forward or drop one query datagram."""

    def __init__(self, domain: str, client_prefix: IPv4Network | None = None, ttl: int = 60,
                 table: NameTable | None = None):
        self.domain = DNSLabel(domain.strip(".").lower() + ".")
        self.client_prefix = client_prefix
        self.ttl = ttl
        self.table = table if table is not None else NameTable()
        self.counters = DnsCounters()

    # the agent's side
    def set_name(self, hostname: str, ip: IPv4Address) -> str | None:
        return self.table.set_name(hostname, ip)

    def remove(self, ip: IPv4Address) -> None:
        self.table.remove(ip)

    def fqdn(self, label: str) -> str:
        return f"{label}.{self.domain}"

    # the resolver's side
    def answer(self, query: bytes) -> bytes | Forward | None:
        try:
            request = DNSRecord.parse(query)
        except _PARSE_ERRORS:
            self.counters.malformed += 1
            return None
        if request.header.qr or len(request.questions) != 1:
            # a response sent to us, or zero / several questions (RFC 9619)
            self.counters.malformed += 1
            return None
        if request.header.opcode != OPCODE_QUERY:
            reply = request.reply(ra=1, aa=0)
            reply.header.rcode = RCODE.NOTIMP
            self.counters.refused += 1
            return bytes(reply.pack())
        q = request.questions[0]
        # lower-case the raw labels: a str() round trip goes through IDNA and
        # raises on arbitrary bytes (found by the fuzz test)
        qname = DNSLabel(tuple(part.lower() for part in q.qname.label))
        if qname.matchSuffix(self.domain):
            return self._own_name(request, qname)
        ip = _ptr_address(qname)
        if ip is not None and (self.table.label(ip) is not None
                               or (self.client_prefix is not None and ip in self.client_prefix)):
            return self._ptr(request, ip)
        self.counters.forwarded += 1
        return Forward(query, request.header.id)

    def servfail(self, query: bytes) -> bytes | None:
        """SERVFAIL for a forwarded query no upstream answered (None if unparsable)."""
        try:
            request = DNSRecord.parse(query)
        except _PARSE_ERRORS:
            return None
        reply = request.reply(ra=1, aa=0)
        reply.header.rcode = RCODE.SERVFAIL
        return bytes(reply.pack())

    def _own_name(self, request: DNSRecord, qname: DNSLabel) -> bytes:
        reply = request.reply(ra=1, aa=1)
        relative = qname.label[: len(qname.label) - len(self.domain.label)]
        ip = self.table.address(relative[0].decode("ascii", "replace")) if len(relative) == 1 else None
        if ip is None:
            if relative:  # the apex itself exists (NOERROR, no data)
                reply.header.rcode = RCODE.NXDOMAIN
                self.counters.nxdomain += 1
            return bytes(reply.pack())
        if request.q.qtype in (QTYPE.A, QTYPE.ANY):
            reply.add_answer(RR(request.q.qname, QTYPE.A, ttl=self.ttl, rdata=A(str(ip))))
        self.counters.answered += 1
        return bytes(reply.pack())

    def _ptr(self, request: DNSRecord, ip: IPv4Address) -> bytes:
        reply = request.reply(ra=1, aa=1)
        label = self.table.label(ip)
        if label is None:
            reply.header.rcode = RCODE.NXDOMAIN
            self.counters.nxdomain += 1
            return bytes(reply.pack())
        if request.q.qtype in (QTYPE.PTR, QTYPE.ANY):
            reply.add_answer(RR(request.q.qname, QTYPE.PTR, ttl=self.ttl, rdata=PTR(self.fqdn(label))))
        self.counters.answered += 1
        return bytes(reply.pack())

