"""DnsAnswerer: names and PTRs of clients, forwarding, malformed queries."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from dnslib import QTYPE, RCODE, DNSRecord
from hypothesis import example, given, settings
from hypothesis import strategies as st

from l3roam.node.dns import DnsAnswerer, Forward, host_label, reverse_name


def make() -> DnsAnswerer:
    a = DnsAnswerer("mesh.example", client_prefix=IPv4Network("10.99.0.0/16"), ttl=30)
    a.set_name("Laptop", IPv4Address("10.99.0.5"))
    return a


def ask(a: DnsAnswerer, name: str, qtype: str = "A") -> DNSRecord:
    out = a.answer(DNSRecord.question(name, qtype).pack())
    assert isinstance(out, bytes)
    return DNSRecord.parse(out)


def test_a_record_for_client_name_case_insensitive():
    r = ask(make(), "LAPTOP.Mesh.Example")
    assert r.header.rcode == RCODE.NOERROR and r.header.aa == 1
    assert [(str(rr.rdata), rr.ttl) for rr in r.rr] == [("10.99.0.5", 30)]


def test_unknown_name_in_domain_is_nxdomain_and_other_type_is_nodata():
    a = make()
    assert ask(a, "phone.mesh.example").header.rcode == RCODE.NXDOMAIN
    r = ask(a, "laptop.mesh.example", "AAAA")
    assert r.header.rcode == RCODE.NOERROR and r.rr == []
    assert ask(a, "mesh.example").header.rcode == RCODE.NOERROR
    assert ask(a, "x.laptop.mesh.example").header.rcode == RCODE.NXDOMAIN


def test_ptr_for_client_and_nxdomain_inside_prefix():
    a = make()
    r = ask(a, reverse_name(IPv4Address("10.99.0.5")), "PTR")
    assert [str(rr.rdata) for rr in r.rr] == ["laptop.mesh.example."]
    assert r.rr[0].rtype == QTYPE.PTR
    assert ask(a, "6.0.99.10.in-addr.arpa", "PTR").header.rcode == RCODE.NXDOMAIN


def test_other_names_and_outside_ptrs_are_forwarded_unchanged():
    a = make()
    for q in (DNSRecord.question("example.org"), DNSRecord.question("1.2.0.192.in-addr.arpa", "PTR")):
        out = a.answer(q.pack())
        assert out == Forward(q.pack(), q.header.id)
    assert a.counters.forwarded == 2


def test_rename_and_remove():
    a = make()
    a.set_name("laptop", IPv4Address("10.99.0.9"))   # the name moves to the newest holder
    assert [str(rr.rdata) for rr in ask(a, "laptop.mesh.example").rr] == ["10.99.0.9"]
    assert ask(a, "5.0.99.10.in-addr.arpa", "PTR").header.rcode == RCODE.NXDOMAIN
    a.set_name("desk", IPv4Address("10.99.0.9"))     # a new name for an address replaces the old
    assert ask(a, "laptop.mesh.example").header.rcode == RCODE.NXDOMAIN
    a.remove(IPv4Address("10.99.0.9"))
    a.remove(IPv4Address("10.99.0.9"))
    assert ask(a, "desk.mesh.example").header.rcode == RCODE.NXDOMAIN


def test_host_label_sanitising():
    assert host_label("My_Phone (2)") == "my-phone-2"
    assert host_label("laptop.home.lan") == "laptop"
    assert host_label("---") is None
    assert host_label("a" * 80) == "a" * 63


def test_non_query_opcode_is_notimp_and_responses_are_dropped():
    a = make()
    q = DNSRecord.question("laptop.mesh.example")
    q.header.opcode = 4  # NOTIFY
    assert DNSRecord.parse(a.answer(q.pack())).header.rcode == RCODE.NOTIMP
    resp = DNSRecord.question("laptop.mesh.example").reply()
    assert a.answer(resp.pack()) is None
    assert a.counters.malformed == 1


def test_servfail_keeps_id_and_question():
    q = DNSRecord.question("example.org")
    r = DNSRecord.parse(make().servfail(q.pack()))
    assert r.header.id == q.header.id and r.header.rcode == RCODE.SERVFAIL and str(r.q.qname) == "example.org."


def test_non_ascii_label_is_answered_not_raised():
    raw = bytearray(DNSRecord.question("laptop.mesh.example").pack())
    raw[13:16] = b"\xe1\x80\x80"
    out = make().answer(bytes(raw))
    assert isinstance(out, bytes) and DNSRecord.parse(out).header.rcode == RCODE.NXDOMAIN


def test_truncated_query_dropped_and_counted():
    a = make()
    raw = DNSRecord.question("laptop.mesh.example").pack()
    for cut in (0, 5, 12, len(raw) - 3):
        assert a.answer(raw[:cut]) is None
    assert a.counters.malformed == 4


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data):
    a = make()
    out = a.answer(data)
    assert out is None or isinstance(out, (bytes, Forward))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=40), st.binary(min_size=1, max_size=8))
@example(pos=13, junk=b"\xe1\x80\x80")  # non-ASCII label: once crashed the IDNA round trip
def test_corrupted_valid_query_never_raises(pos, junk):
    raw = bytearray(DNSRecord.question("laptop.mesh.example").pack())
    raw[pos:pos + len(junk)] = junk
    out = make().answer(bytes(raw))
    assert out is None or isinstance(out, (bytes, Forward))
