"""Namespace helpers for the kernel and DNS namespace tests (area "k").

Every namespace is named ``l3rt-k<pid>-<role>`` so that concurrent test runs
of other areas never collide, and ``namespaces()`` removes them all, with
their processes, even when the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator

PREFIX = f"l3rt-k{os.getpid() % 100000}-"


def sh(*cmd: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
    out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    return out


def ip(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("ip", "-n", ns, *args, check=check)


def nsexec(ns: str, *args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *args, check=check, timeout=timeout)


def ip_json(ns: str, *args: str) -> list[dict]:
    return json.loads(sh("ip", "-j", "-n", ns, *args).stdout or "[]")


def remove_namespace(ns: str) -> None:
    pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), 9)
    sh("ip", "netns", "delete", ns, check=False)


@contextlib.contextmanager
def namespaces(*roles: str) -> Iterator[dict[str, str]]:
    """Create one namespace per role (loopback up); remove them all afterwards."""
    made: list[str] = []
    try:
        names = {}
        for role in roles:
            ns = PREFIX + role
            remove_namespace(ns)  # leftover of a crashed run with the same pid
            sh("ip", "netns", "add", ns)
            made.append(ns)
            ip(ns, "link", "set", "lo", "up")
            names[role] = ns
        yield names
    finally:
        for ns in made:
            remove_namespace(ns)


def veth(ns_a: str, if_a: str, ns_b: str, if_b: str, mac_b: str | None = None) -> None:
    """A veth pair between two namespaces, both ends up."""
    extra = ["address", mac_b] if mac_b else []
    sh("ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b, *extra)
    ip(ns_a, "link", "set", if_a, "up")
    ip(ns_b, "link", "set", if_b, "up")


ARP_PROBE_SCRIPT = r"""
import socket, struct, sys, time
ifname, src_mac, sip, tip, timeout = sys.argv[1:6]
mac = bytes.fromhex(src_mac.replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((ifname, 0))
frame = (b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
         + mac + socket.inet_aton(sip) + bytes(6) + socket.inet_aton(tip))
s.send(frame)
end = time.monotonic() + float(timeout)
while True:
    left = end - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        data = s.recv(100)
    except socket.timeout:
        break
    op = struct.unpack("!H", data[20:22])[0]
    if op == 2 and data[28:32] == socket.inet_aton(tip) and data[0:6] == mac:
        print(data[22:28].hex(":"))
"""


def arp_ask(ns: str, ifname: str, src_mac: str, sip: str, tip: str, timeout: float = 0.5) -> list[str]:
    """Send one ARP request from ``ns`` and return the sender MACs of the replies for ``tip``."""
    out = nsexec(ns, "python3", "-c", ARP_PROBE_SCRIPT, ifname, src_mac, sip, tip, str(timeout))
    return out.stdout.split()


def ping(ns: str, dst: str, count: int = 1, wait: float = 1, extra: tuple[str, ...] = ()) -> bool:
    out = nsexec(ns, "ping", "-n", "-q", "-c", str(count), "-W", str(wait), "-i", "0.2", *extra, dst,
                 check=False)
    return out.returncode == 0


def wire_handoff_lab(ns: dict[str, str], client: str) -> None:
    """srv -- ap1 == mesh0 == ap2 -- cl: addresses and the static routes babel would give.

    ``ns`` from ``namespaces("srv", "ap1", "ap2", "cl")``; SIDs fc00:1::d4 (ap1) and
    fc00:2::d4 (ap2) are routed over mesh0, the server reaches the clients' /16 through
    ap1, the client ``client`` sits behind ap2's ``cell`` with 10.99.0.1 as its gateway.
    Shared by the SRv6 test (test_kernel.py) and the VM's tunnel check.
    """
    veth(ns["srv"], "m0", ns["ap1"], "m0")
    ip(ns["srv"], "addr", "add", "10.1.0.2/24", "dev", "m0")
    ip(ns["srv"], "route", "add", "10.99.0.0/16", "via", "10.1.0.1")
    ip(ns["ap1"], "addr", "add", "10.1.0.1/24", "dev", "m0")
    veth(ns["ap1"], "mesh0", ns["ap2"], "mesh0")
    ip(ns["ap1"], "-6", "addr", "add", "fd00:12::1/64", "dev", "mesh0", "nodad")
    ip(ns["ap2"], "-6", "addr", "add", "fd00:12::2/64", "dev", "mesh0", "nodad")
    ip(ns["ap1"], "-6", "route", "add", "fc00:2::d4/128", "via", "fd00:12::2")  # babel's job in real life
    ip(ns["ap2"], "-6", "route", "add", "fc00:1::d4/128", "via", "fd00:12::1")
    ip(ns["ap2"], "route", "add", "10.1.0.0/24", "dev", "mesh0", "via", "inet6", "fd00:12::1")
    veth(ns["ap2"], "cell", ns["cl"], "eth0")
    ip(ns["cl"], "addr", "add", f"{client}/16", "dev", "eth0")
    ip(ns["cl"], "route", "add", "default", "via", "10.99.0.1")


@contextlib.contextmanager
def running_testbed(yaml_text: str, tag: str, converge_timeout: float = 30) -> Iterator["object"]:
    """A converged ``Testbed`` of ``yaml_text`` under the prefix ``l3rt-<tag><pid>-``; torn
    down on exit, and no namespace of that prefix may be left."""
    from l3roam.testbed import topology
    from l3roam.testbed.builder import Testbed
    from l3roam.testbed.clean import list_netns

    prefix = f"l3rt-{tag}{os.getpid() % 10000:04d}-"
    tb = Testbed(topology.loads(yaml_text, prefix=prefix))
    try:
        tb.up()
        tb.wait_converged(timeout=converge_timeout)
        yield tb
    finally:
        tb.down()
        assert list_netns(prefix) == []
