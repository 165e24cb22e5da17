"""The agent's DNS on the real network path: a client in its own namespace asks
the anycast gateway address of its AP; names and PTRs of clients come from the
agent's table, other names from an upstream resolver on the AP's loopback."""

from __future__ import annotations

import threading
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from l3roam.kernel.netlink import NetlinkKernel
from l3roam.kernel.nsthread import NamespaceThread, enter_netns
from l3roam.node.dns import DnsAnswerer
from l3roam.node.dns_server import DnsServer
from dns_stub import StubResolver
from kernel_nsutil import ip, namespaces, veth

pytestmark = pytest.mark.netns


def test_client_resolves_names_ptrs_and_forwarded_names_through_the_gateway():
    with namespaces("dap", "dcl") as ns:
        ap, cl = ns["dap"], ns["dcl"]
        veth(ap, "cell", cl, "eth0")
        ip(cl, "addr", "add", "10.99.0.5/16", "dev", "eth0")
        kernel = NetlinkKernel(ap)
        ap_thread = NamespaceThread(ap)
        cl_thread = NamespaceThread(cl)
        stop = threading.Event()
        server = stub = loop = None
        try:
            kernel.setup_gateway("cell", IPv4Interface("10.99.0.1/16"), "02:00:5e:00:00:01")
            kernel.add_host_route(IPv4Address("10.99.0.5"), "cell")
            answerer = DnsAnswerer("mesh.test", IPv4Network("10.99.0.0/16"))
            answerer.set_name("laptop", IPv4Address("10.99.0.5"))
            stub = ap_thread.run(StubResolver, ("127.0.0.1", 5353), "192.0.2.7")
            server = ap_thread.run(DnsServer, answerer, ("10.99.0.1", 53), [("127.0.0.1", 5353)], 0.5)

            def serve() -> None:
                enter_netns(ap)  # forwarding sockets must be opened in the AP's namespace
                server.serve_forever(stop, 0.05)

            loop = threading.Thread(target=serve, daemon=True)
            loop.start()

            def ask(name: str, qtype: str = "A") -> DNSRecord:
                raw = cl_thread.run(DNSRecord.question(name, qtype).send, "10.99.0.1", 53, timeout=3)
                return DNSRecord.parse(raw)

            r = ask("laptop.mesh.test")
            assert r.header.aa == 1 and [str(rr.rdata) for rr in r.rr] == ["10.99.0.5"]
            r = ask("5.0.99.10.in-addr.arpa", "PTR")
            assert [(rr.rtype, str(rr.rdata)) for rr in r.rr] == [(QTYPE.PTR, "laptop.mesh.test.")]
            assert ask("nobody.mesh.test").header.rcode == RCODE.NXDOMAIN
            r = ask("www.example.org")
            assert [str(rr.rdata) for rr in r.rr] == ["192.0.2.7"] and stub.queries == ["www.example.org."]
            answerer.remove(IPv4Address("10.99.0.5"))  # the client left
            assert ask("laptop.mesh.test").header.rcode == RCODE.NXDOMAIN
        finally:
            stop.set()
            if loop is not None:
                loop.join(timeout=2)
            if server is not None:
                server.close()
            if stub is not None:
                stub.close()
            cl_thread.stop()
            ap_thread.stop()
            kernel.close()
