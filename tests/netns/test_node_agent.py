"""The node agent on the real kernel, with the real master and real DHCP clients.

One access point namespace runs the master and ``l3roam node``; two client
namespaces hang off its ``cell0`` bridge as isolated station ports (as the
testbed's air does); a host namespace sits behind the AP on ``mesh0``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from l3roam.testbed.dhcpclient import DhcpClient

pytestmark = [pytest.mark.netns, pytest.mark.dhcpclient, pytest.mark.babeld]

KEY = "6e6f64652d6167656e742d746573742d6b6579"
ROOT = Path(__file__).resolve().parents[2]
GW_MAC = "02:1e:00:00:00:01"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {out.stderr.strip()}")
    return out


def wait_for(pred, timeout: float = 10.0, interval: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


class Lab:
    def __init__(self, tmp: Path):
        tag = f"l3rt-na{os.getpid() % 100000}"
        self.ap, self.host = f"{tag}-ap", f"{tag}-h"
        self.clients = {"c1": f"{tag}-c1", "c2": f"{tag}-c2", "c3": f"{tag}-c3"}
        self.macs = {"c1": "02:c1:00:00:00:01", "c2": "02:c2:00:00:00:02", "c3": "02:c3:00:00:00:03"}
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.dhcp: list[DhcpClient] = []

    def ns_names(self):
        return [self.ap, self.host, *self.clients.values()]

    def up(self) -> None:
        for ns in self.ns_names():
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        ap = self.ap
        sh("ip", "-n", ap, "link", "add", "cell0", "type", "bridge", "ageing_time", "0")
        sh("ip", "-n", ap, "link", "set", "cell0", "up")
        sh("ip", "-n", ap, "link", "add", "mesh0", "type", "veth", "peer", "name", "eth0",
           "netns", self.host)
        sh("ip", "-n", ap, "addr", "add", "10.200.0.1/30", "dev", "mesh0")
        sh("ip", "-n", ap, "link", "set", "mesh0", "up")
        sh("ip", "-n", self.host, "addr", "add", "10.200.0.2/30", "dev", "eth0")
        sh("ip", "-n", self.host, "link", "set", "eth0", "up")
        sh("ip", "-n", self.host, "route", "add", "10.99.0.0/16", "via", "10.200.0.1")
        sh("ip", "netns", "exec", ap, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for name, ns in self.clients.items():
            port = f"sta-{name}"
            sh("ip", "-n", ns, "link", "add", "wlan0", "address", self.macs[name], "type", "veth",
               "peer", "name", port, "netns", ap)
            sh("ip", "-n", ns, "link", "set", "wlan0", "up")
            sh("ip", "-n", ap, "link", "set", port, "alias", self.macs[name])
        self.write_configs()
        import socket as _socket
        self.hostapd = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)  # a scripted hostapd
        self.hostapd.bind(str(self.tmp / "hostapd-wlan0"))
        self.hostapd.settimeout(5)
        self.start_master()
        self.start_node()
        for name in self.clients:
            self.associate(name)

    def associate(self, name: str) -> None:
        port = f"sta-{name}"
        sh("ip", "-n", self.ap, "link", "set", port, "master", "cell0")
        sh("ip", "-n", self.ap, "link", "set", port, "type", "bridge_slave", "isolated", "on")
        sh("ip", "-n", self.ap, "link", "set", port, "up")

    def write_configs(self) -> None:
        (self.tmp / "master.yaml").write_text(f"""
listen: 127.0.0.1:4500
key: {KEY}
metrics_listen: null
log_file: {self.tmp / 'master.log'}
pools: [{{prefix: 10.99.0.0/16, exclude: [10.99.0.1]}}]
store: {{path: {self.tmp / 'master.db'}}}
""")
        (self.tmp / "node.yaml").write_text(f"""
node_id: ap1
master: 127.0.0.1:4500
key: {KEY}
client_interface: cell0
gateway: 10.99.0.1/16
gateway_mac: {GW_MAC}
mesh_interfaces: [mesh0]
handoff: {{enabled: false}}
dns: {{enabled: true, port: 53, upstream: []}}
dhcp: {{lease_seconds: 600, domain: mesh}}
log_file: {self.tmp / 'node.log'}
log_level: debug
metrics_listen: 127.0.0.1:9469
presence: {{hostapd: [{self.tmp / 'hostapd-wlan0'}]}}
""")

    def spawn(self, name: str, *argv: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.procs[name] = subprocess.Popen(
            ["ip", "netns", "exec", self.ap, sys.executable, "-m", "l3roam", *argv],
            stdout=subprocess.DEVNULL, stderr=open(self.tmp / f"{name}.err", "w"), env=env)

    def start_master(self) -> None:
        self.spawn("master", "master", "--config", str(self.tmp / "master.yaml"))
        assert wait_for(lambda: "event=master_started" in self.log("master"), 10), self.log("master")

    def start_node(self) -> None:
        before = self.log("node").count("event=node_started")
        self.spawn("node", "node", "--config", str(self.tmp / "node.yaml"))
        ok = wait_for(lambda: self.log("node").count("event=node_started") > before, 15)
        assert ok, (self.tmp / "node.err").read_text() + self.log("node")
        time.sleep(0.3)  # the DHCP socket binds right after the start line

    def restart_stop_node(self) -> None:
        """SIGHUP: stop for a restart, the data plane stays (exit 75)."""
        p = self.procs.pop("node")
        p.send_signal(signal.SIGHUP)
        assert p.wait(10) == 75

    def log(self, name: str) -> str:
        p = self.tmp / f"{name}.log"
        return p.read_text() if p.exists() else ""

    def routes(self, proto: str = "44") -> dict[str, str]:
        out = sh("ip", "-n", self.ap, "-4", "route", "show", "proto", proto).stdout
        return {line.split()[0]: line for line in out.splitlines() if line.strip()}

    def client(self, kind: str, name: str, hostname: str) -> DhcpClient:
        c = DhcpClient(kind, self.clients[name], "wlan0", self.tmp, hostname).start()
        self.dhcp.append(c)
        return c

    def down(self) -> None:
        self.hostapd.close() if hasattr(self, "hostapd") else None
        for c in self.dhcp:
            c.stop()
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(5)
        for ns in self.ns_names():
            pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                sh("kill", "-9", pid, check=False)
            sh("ip", "netns", "delete", ns, check=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("nodeagent"))
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


def test_udhcpc_gets_the_masters_address_and_a_route_with_our_protocol(lab):
    c = lab.client("udhcpc", "c1", "phone-one")
    ip = c.wait_bound(20)
    assert IPv4Address(ip) in IPv4Network("10.99.0.0/16")
    line = f"event=lease_bind mac={lab.macs['c1']} ip={ip} node=ap1"
    assert wait_for(lambda: line in lab.log("master"), 2)  # log lines are flushed every 0.2 s
    assert wait_for(lambda: ip in lab.routes(), 5), lab.routes()
    assert "dev cell0" in lab.routes()[ip]
    # the client's gateway is the anycast address, with the shared gateway MAC
    line = [x for x in c.lines() if x.startswith("bound")][-1]
    assert "router=10.99.0.1" in line and "serverid=10.99.0.1" in line and "domain=mesh" in line
    # it reaches a host behind the AP through the anycast gateway
    ping = sh("ip", "netns", "exec", lab.clients["c1"], "ping", "-c", "2", "-W", "2", "10.200.0.2",
              check=False)
    assert ping.returncode == 0, ping.stdout
    neigh = sh("ip", "-n", lab.clients["c1"], "neigh", "show", "10.99.0.1").stdout
    assert GW_MAC in neigh


def test_dhclient_gets_an_address_and_reaches_the_other_client_via_proxy_arp(lab):
    c1 = next(c for c in lab.dhcp if c.netns == lab.clients["c1"])
    ip1 = c1.address()
    c = lab.client("dhclient", "c2", "laptop-two")
    ip2 = c.wait_bound(30)
    assert ip2 != ip1
    assert wait_for(lambda: ip2 in lab.routes(), 5)
    # c2 ARPs for c1's address: the AP answers with the gateway MAC (ports are isolated)
    ping = sh("ip", "netns", "exec", lab.clients["c2"], "ping", "-c", "2", "-W", "2", ip1, check=False)
    assert ping.returncode == 0, ping.stdout
    neigh = sh("ip", "-n", lab.clients["c2"], "neigh", "show", ip1).stdout
    assert GW_MAC in neigh, neigh


def test_client_host_names_resolve_through_the_agents_dns(lab):
    c1 = next(c for c in lab.dhcp if c.netns == lab.clients["c1"])
    out = sh("ip", "netns", "exec", lab.clients["c2"], sys.executable, "-c",
             "import sys; from dnslib import DNSRecord; "
             "q = DNSRecord.question(sys.argv[1]); "
             "print(DNSRecord.parse(q.send('10.99.0.1', 53, timeout=3)).a.rdata)",
             "phone-one.mesh")
    assert out.stdout.strip() == c1.address()


def node_metrics(lab) -> str:
    out = sh("ip", "netns", "exec", lab.ap, sys.executable, "-c",
             "import urllib.request; print(urllib.request.urlopen("
             "'http://127.0.0.1:9469/metrics', timeout=5).read().decode())")
    return out.stdout


def test_malformed_truncated_and_oversized_dhcp_is_dropped_counted_and_survived(lab):
    from l3roam.proto import dhcp as codec
    good = codec.encode(codec.DhcpMessage(op=codec.Op.BOOTREQUEST, xid=7, chaddr=bytes(6),
                                          options={53: bytes([1])}))
    datagrams = [b"\x00", b"garbage" * 30, good[:100], good[:240] + b"\x35\x09",
                 good + b"\x00" * 1400]
    code = ("import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "[s.sendto(bytes.fromhex(h), ('10.99.0.1', 67)) for h in sys.argv[1:]]")
    sh("ip", "netns", "exec", lab.clients["c2"], sys.executable, "-c", code,
       *[d.hex() for d in datagrams])
    text = wait_for(lambda: (t := node_metrics(lab)) and 'l3roam_node_dhcp_dropped{reason="malformed"}' in t and t, 5)
    assert text, node_metrics(lab)
    line = [x for x in text.splitlines() if x.startswith('l3roam_node_dhcp_dropped{reason="malformed"}')][0]
    assert float(line.split()[-1]) >= 4
    assert lab.procs["node"].poll() is None
    # still serving: a DNS answer and a route for the clients
    assert len(lab.routes()) == 2


def test_restart_keeps_served_routes_and_removes_foreign_ones(lab):
    before = set(lab.routes())
    assert len(before) == 2
    lab.restart_stop_node()
    sh("ip", "-n", lab.ap, "route", "add", "10.99.7.7/32", "dev", "cell0", "proto", "44")
    lab.start_node()
    assert wait_for(lambda: set(lab.routes()) == before, 10), lab.routes()
    assert wait_for(lambda: "event=routes_reconciled kept=2 removed=1" in lab.log("node"), 2)


def test_master_down_cached_client_renews_new_client_gets_nothing(lab):
    """While the master is unreachable: renewals from the agent's cache, no address for newcomers."""
    import signal as sig

    c1 = next(c for c in lab.dhcp if c.netns == lab.clients["c1"])
    ip = c1.address()
    renews_before = sum(1 for x in c1.lines() if x.startswith("renew"))
    lab.procs.pop("master").kill()
    try:
        os.killpg(c1.proc.pid, sig.SIGUSR1)  # udhcpc: renew now (unicast to the server id)
        assert wait_for(lambda: sum(1 for x in c1.lines() if x.startswith("renew")) > renews_before, 15)
        assert c1.address() == ip
        assert wait_for(lambda: f"event=client_bound mac={lab.macs['c1']} ip={ip}" in lab.log("node")
                        and "from_cache=True" in lab.log("node"), 3)
        newcomer = lab.client("udhcpc", "c3", "newcomer")
        time.sleep(6)
        assert newcomer.address() is None  # no address rather than a wrong one
        assert not any("nak" in line.lower() for line in newcomer.lines())
        newcomer.stop()
    finally:
        lab.start_master()  # same store: the rest of the module goes on


def test_release_removes_the_route(lab):
    c1 = next(c for c in lab.dhcp if c.netns == lab.clients["c1"])
    ip = c1.address()
    c1.release()
    assert wait_for(lambda: ip not in lab.routes(), 5), lab.routes()
    assert wait_for(lambda: f"event=lease_release mac={lab.macs['c1']}" in lab.log("master"), 2)


def test_hostapd_station_event_makes_the_agent_claim_the_client(lab):
    """A Wi-Fi association reported on hostapd's control socket reaches the master as a claim."""
    clients = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # every agent start sent ATTACH; answer the latest
        try:
            msg, addr = lab.hostapd.recvfrom(64)
        except TimeoutError:
            break
        if msg == b"ATTACH":
            clients.add(addr)
            lab.hostapd.settimeout(0.5)
    assert clients, "the agent never attached to hostapd"
    for addr in clients:
        try:
            lab.hostapd.sendto(b"OK\n", addr)
            lab.hostapd.sendto(b"<3>AP-STA-CONNECTED 02:99:00:00:00:09", addr)
        except OSError:
            pass  # an earlier agent process is gone
    line = "event=station_associated mac=02:99:00:00:00:09 port=hostapd-wlan0"
    assert wait_for(lambda: line in lab.log("node"), 5), lab.log("node")[-2000:]
    # no lease for that MAC: the master refuses the claim, and no route appears
    assert wait_for(lambda: "event=claim_answered mac=02:99:00:00:00:09 ok=False" in lab.log("node")
                    and "reason=no_lease" in lab.log("node"), 5)
