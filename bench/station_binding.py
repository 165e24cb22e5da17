"""What station binding costs: per packet and per roam, nftables vs tc vs none.

Builds, in namespaces with the prefix given, an AP with the client bridge
``cell0`` (one isolated station port) and a client behind it that sends UDP
through the AP (to an address the AP routes to a blackhole, so only the
receive path counts).  For each configuration, in rounds (the order rotates),
the client sends ``--packets`` datagrams as fast as it can and the CPU it
spends (user + system; the bridge, the filter and the routing run in its
softirq on the way out of ``send``) is divided by the packets:

- ``none``: no filter (the baseline);
- ``nft``: l3roam's ruleset (``l3roam.kernel.guard_rules``), ``--bindings``
  pairs in the ``bound`` set, as the agent loads it;
- ``tc``: the same IPv4 check as a classic BPF program in direct-action mode
  on ``cell0``'s ingress (this kernel has no flower/matchall/gact, so a
  program is the only tc filter that can drop).  Classic BPF has no maps: one
  7-instruction test per pair; the kernel takes 4,096 instructions but the
  ``tc`` tool's request holds 16 KiB, so about 280 pairs is the most it loads.

Per roam: a new pair is bound and an old one unbound, ``--roams`` times, with
``--bindings`` pairs present: nft through the agent's own code path
(libnftables in process + permanent neighbour), tc by regenerating and
replacing the program (``tc`` process; the neighbour the same).

    sudo python3 bench/station_binding.py [--bindings 250] [--packets 200000] [--rounds 3]

Prints ns/packet and ms/roam with ratios to the baseline, and the load.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time
from ipaddress import IPv4Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from l3roam.kernel.guard_rules import GuardSettings, ruleset, Binding  # noqa: E402

GW = IPv4Address("10.99.0.1")
GW_MAC = "02:1e:00:00:00:01"
CLIENT_MAC = "02:c1:00:00:00:01"
CLIENT_IP = IPv4Address("10.99.0.2")
SINK = "198.51.100.1"

SENDER = r"""
import resource, socket, sys, time
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[2], 9))
b = bytes(64)
send = s.send
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
for _ in range(n):
    send(b)
t1 = time.perf_counter(); r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(cpu, t1 - t0, r1.ru_stime - r0.ru_stime)
"""


def sh(*argv: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, input=stdin, timeout=120)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)[:200]}: {out.stderr.strip()[-300:]}")
    return out


def pairs(n: int) -> list[Binding]:
    """``n`` bindings, the sending client's last (the worst case for a linear program)."""
    out = [Binding(f"02:aa:00:00:{i >> 8:02x}:{i & 255:02x}", IPv4Address(int(CLIENT_IP) + 1 + i))
           for i in range(n - 1)]
    return out + [Binding(CLIENT_MAC, CLIENT_IP)]


def cbpf(bindings: list[Binding]) -> str:
    """tc's ``bytecode`` text: per pair, IPv4 source, then the source MAC (7 instructions)."""
    ins = [(0x28, 0, 0, 12),  # ldh [12]: ethertype
           (0x15, 1, 0, 0x0800),  # IPv4: skip the next
           (0x06, 0, 0, 0),  # not IPv4: TC_ACT_OK (ARP is left out of this comparison)
           (0x20, 0, 0, 26)]  # ld [26]: IPv4 source
    for b in bindings:
        mac = bytes.fromhex(b.mac.replace(":", ""))
        ins += [(0x15, 0, 6, int(b.ip)),  # not this address: next pair
                (0x20, 0, 0, 6),  # ld [6]: MAC bytes 0..3
                (0x15, 0, 3, int.from_bytes(mac[:4], "big")),
                (0x28, 0, 0, 10),  # ldh [10]: MAC bytes 4..5
                (0x15, 0, 1, int.from_bytes(mac[4:], "big")),
                (0x06, 0, 0, 0),  # TC_ACT_OK
                (0x06, 0, 0, 2)]  # TC_ACT_SHOT
    ins.append((0x06, 0, 0, 2))  # no pair: drop
    if len(ins) > 2000:  # tc's netlink request holds 16 KiB: ~2,000 instructions, ~280 pairs
        raise SystemExit(f"{len(bindings)} pairs need {len(ins)} classic BPF instructions; tc loads ~2000")
    return f"{len(ins)}," + ",".join(f"{c} {jt} {jf} {k}" for c, jt, jf, k in ins)


class Lab:
    def __init__(self, prefix: str):
        self.ap, self.cl = f"{prefix}ap", f"{prefix}cl"

    def up(self) -> None:
        for ns in (self.ap, self.cl):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        ap, cl = self.ap, self.cl
        sh("ip", "-n", ap, "link", "add", "cell0", "address", GW_MAC, "type", "bridge")
        sh("ip", "-n", ap, "addr", "add", f"{GW}/32", "dev", "cell0")
        sh("ip", "-n", ap, "link", "set", "cell0", "up")
        sh("ip", "-n", cl, "link", "add", "wlan0", "address", CLIENT_MAC, "type", "veth", "peer", "name",
           "sta0", "netns", ap)
        sh("ip", "-n", ap, "-batch", "-", stdin="link set sta0 master cell0\n"
           "link set sta0 type bridge_slave isolated on\nlink set sta0 up\n"
           f"route add {CLIENT_IP}/32 dev cell0\nroute add blackhole 198.51.100.0/24\n")
        sh("ip", "netns", "exec", ap, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "-n", cl, "-batch", "-", stdin=f"addr add {CLIENT_IP}/16 dev wlan0\nlink set wlan0 up\n"
           f"route add default via {GW}\nneigh replace {GW} lladdr {GW_MAC} dev wlan0\n")

    def down(self) -> None:
        for ns in (self.ap, self.cl):
            sh("ip", "netns", "delete", ns, check=False)

    def send(self, n: int) -> tuple[float, float]:
        out = sh("ip", "netns", "exec", self.cl, sys.executable, "-c", SENDER, str(n), SINK).stdout.split()
        return float(out[0]) / n * 1e9, float(out[1]) / n * 1e9  # CPU ns and wall ns per packet

    def clear(self) -> None:
        sh("ip", "netns", "exec", self.ap, "nft", "flush", "ruleset")
        sh("ip", "netns", "exec", self.ap, "tc", "qdisc", "del", "dev", "cell0", "clsact", check=False)

    def use(self, kind: str, bindings: list[Binding]) -> None:
        self.clear()
        if kind == "nft":
            s = GuardSettings("cell0", True, GW)
            sh("ip", "netns", "exec", self.ap, "nft", "-f", "-", stdin=ruleset(s, bindings))
        elif kind == "tc":
            sh("ip", "netns", "exec", self.ap, "tc", "qdisc", "add", "dev", "cell0", "clsact")
            sh("ip", "netns", "exec", self.ap, "tc", "filter", "add", "dev", "cell0", "ingress", "pref", "1",
               "protocol", "all", "bpf", "da", "bytecode", cbpf(bindings))


def per_packet(lab: Lab, n_bind: int, packets: int, rounds: int,
               big: int) -> dict[str, list[tuple[float, float]]]:
    kinds = ["none", "nft", "tc", f"nft@{big}"]
    res: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    b, bb = pairs(n_bind), pairs(big)
    lab.send(packets // 4)  # warm up
    for r in range(rounds):
        for kind in kinds[r % 4:] + kinds[:r % 4]:
            lab.use(kind.split("@")[0], bb if "@" in kind else b)
            res[kind].append(lab.send(packets))
    lab.clear()
    return res


def per_roam(lab: Lab, n_bind: int, roams: int) -> dict[str, list[float]]:
    from l3roam.kernel.netlink import NetlinkKernel

    b = pairs(n_bind)
    out: dict[str, list[float]] = {"nft": [], "tc": [], "route": []}
    k = NetlinkKernel(lab.ap)
    try:
        lab.clear()
        sh("ip", "netns", "exec", lab.ap, "nft", "-f", "-", stdin=ruleset(GuardSettings("cell0", True, GW), b))
        k.guard_setup("cell0", GW)
        extra = [Binding(f"02:bb:00:00:{i >> 8:02x}:{i & 255:02x}", IPv4Address(f"10.99.200.{i % 250 + 1}"))
                 for i in range(roams)]
        for x in extra:  # nft: bind a new pair, unbind it again (a client arrives, one leaves)
            t0 = time.perf_counter()
            k.guard_bind("cell0", x.ip, x.mac)
            k.guard_unbind("cell0", x.ip, x.mac)
            out["nft"].append((time.perf_counter() - t0) * 1000)
        for x in extra:  # reference: what a roam already costs, the /32 added and removed
            t0 = time.perf_counter()
            k.add_host_route(x.ip, "cell0")
            k.del_host_route(x.ip)
            out["route"].append((time.perf_counter() - t0) * 1000)
        lab.clear()
        sh("ip", "netns", "exec", lab.ap, "tc", "qdisc", "add", "dev", "cell0", "clsact")
        sh("ip", "netns", "exec", lab.ap, "tc", "filter", "add", "dev", "cell0", "ingress", "pref", "1",
           "protocol", "all", "bpf", "da", "bytecode", cbpf(b))
        for x in extra[: max(1, roams // 4)]:  # tc: the program is rebuilt for both changes
            t0 = time.perf_counter()
            for prog in (cbpf(b[1:] + [x]), cbpf(b)):
                sh("ip", "netns", "exec", lab.ap, "tc", "filter", "replace", "dev", "cell0", "ingress", "pref",
                   "1", "protocol", "all", "bpf", "da", "bytecode", prog)
            k.add_host_route(x.ip, "cell0")  # the neighbour entry costs what a route does
            k.del_host_route(x.ip)
            out["tc"].append((time.perf_counter() - t0) * 1000)
    finally:
        k.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bindings", type=int, default=250)
    ap.add_argument("--packets", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--roams", type=int, default=200)
    ap.add_argument("--big", type=int, default=5000, help="nft alone with this many pairs (tc cannot)")
    ap.add_argument("--prefix", default="l3rb-sb-")
    args = ap.parse_args()
    lab = Lab(args.prefix)
    lab.up()
    try:
        pkt = per_packet(lab, args.bindings, args.packets, args.rounds, args.big)
        roam = per_roam(lab, args.bindings, args.roams)
    finally:
        lab.down()
    load = os.getloadavg()
    print(f"station binding cost, {args.bindings} pairs bound, {args.packets} packets x {args.rounds} rounds; "
          f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    base_cpu = statistics.median(c for c, _ in pkt["none"])
    print(f"{'filter':8} {'CPU ns/pkt':>11} {'wall ns/pkt':>12} {'+ns vs none':>12} {'ratio':>6}")
    for kind, vals in pkt.items():
        cpu = statistics.median(c for c, _ in vals)
        wall = statistics.median(w for _, w in vals)
        print(f"{kind:8} {cpu:11.0f} {wall:12.0f} {cpu - base_cpu:12.0f} {cpu / base_cpu:6.2f}")
    print(f"{'per roam':8} {'median ms':>11} {'p90 ms':>12}   (bind one pair + unbind one, {args.bindings} bound)")
    for kind, vals in roam.items():
        vals = sorted(vals)
        label = {"route": "route (reference: /32 add + delete)"}.get(kind, kind)
        print(f"{kind:8} {statistics.median(vals):11.2f} {vals[int(len(vals) * 0.9)]:12.2f}   {label}")


if __name__ == "__main__":
    main()
