"""What the mesh pays: control traffic, routing-table size, CPU time.

- Control traffic: counters of what each router sends on its mesh links,
  summed over routers and divided by the number of links and the seconds
  measured: the control traffic one link carries, both directions together.
  Babel: UDP port 6696 (hellos, IHUs, updates).  batman-adv: frames of its
  ethertype 0x4305 whose packet type is routing or table state (OGM, ELP,
  OGMv2, unicast TVLV: translation-table requests/replies, roaming
  advertisements), apart from all 0x4305 frames (which carry the payload too).
  Two ways to count, chosen per kernel: an nftables counter in the output hook
  (babel only; IP bytes), or, where nftables has no ``inet`` family (Debian's
  user-mode Linux), tc ``clsact`` egress filters with counting actions on
  every mesh interface (bytes include the 14-byte Ethernet header).  One
  comparison runs on one kernel, so all its designs are counted the same way.
- Table size: IPv4 plus IPv6 routes in each router's main table.
- CPU: utime + stime of each babeld and each agent from ``/proc/<pid>/stat``.

Side effects only (``nft``, ``ip``, ``/proc``); the arithmetic is plain.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from l3roam.babel import process as babeld
from l3roam.testbed.builder import Testbed, run_cmd

BABEL_PORT = 6696
ETH_P_BATMAN = 0x4305
#: batman-adv packet types that are control (routing and translation-table state), not payload.
BATMAN_CONTROL_TYPES = {0x00: "iv_ogm", 0x03: "elp", 0x04: "ogm2", 0x44: "unicast_tvlv"}
NFT_TABLE = "l3rx_cost"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TC_BABEL_PREF = 10
TC_BATMAN_ALL_PREF = 30
_backend: dict[str, str] = {}  # testbed prefix -> "nft" or "tc"


def install_counters(tb: Testbed) -> str:
    """Counters on every router; returns how they count ("nft" or "tc")."""
    ruleset = (f"table inet {NFT_TABLE} {{\n"
               f"  chain out {{ type filter hook output priority 0; policy accept;\n"
               f"    udp dport {BABEL_PORT} counter\n  }}\n}}\n")
    first = tb.topo.routers[0].name
    probe = run_cmd(["ip", "netns", "exec", tb.ns(first), "nft", "-f", "-"], stdin=ruleset, tolerant=True)
    if probe.returncode == 0:
        for r in tb.topo.routers[1:]:
            run_cmd(["ip", "netns", "exec", tb.ns(r.name), "nft", "-f", "-"], stdin=ruleset)
        _backend[tb.prefix] = "nft"
        return "nft"
    for r in tb.topo.routers:
        lines = []
        for _, dev in tb.topo.neighbours(r.name):
            lines += [f"qdisc replace dev {dev} clsact",
                      f"filter add dev {dev} egress pref {TC_BABEL_PREF} protocol ipv6 u32 match ip6 protocol 17 0xff"
                      f" match ip6 dport {BABEL_PORT} 0xffff action continue"]
            for k, ptype in enumerate(BATMAN_CONTROL_TYPES):
                lines.append(f"filter add dev {dev} egress pref {20 + k} protocol {ETH_P_BATMAN:#06x} u32"
                             f" match u8 {ptype:#04x} 0xff at 0 action continue")
            lines.append(f"filter add dev {dev} egress pref {TC_BATMAN_ALL_PREF} protocol {ETH_P_BATMAN:#06x}"
                         f" matchall action continue")
        if lines:
            run_cmd(["ip", "netns", "exec", tb.ns(r.name), "tc", "-batch", "-"], stdin="\n".join(lines) + "\n")
    _backend[tb.prefix] = "tc"
    return "tc"


def _tc_counts(tb: Testbed, router: str) -> dict[int, tuple[int, int]]:
    """(bytes, packets) per filter preference, summed over the router's mesh interfaces."""
    devs = [dev for _, dev in tb.topo.neighbours(router)]
    if not devs:
        return {}
    script = "; ".join(f"tc -s -j filter show dev {dev} egress" for dev in devs)
    out = run_cmd(["ip", "netns", "exec", tb.ns(router), "sh", "-c", script]).stdout
    dec = json.JSONDecoder()
    counts: dict[int, tuple[int, int]] = {}
    i = 0
    while i < len(out):
        if out[i].isspace():
            i += 1
            continue
        items, i = dec.raw_decode(out, i)
        for f in items:
            for act in f.get("options", {}).get("actions", []):
                st = act.get("stats", {})
                b, p = counts.get(f["pref"], (0, 0))
                counts[f["pref"]] = (b + int(st.get("bytes", 0)), p + int(st.get("packets", 0)))
    return counts


def read_all_counters(tb: Testbed) -> dict[str, int]:
    """Control-traffic counters of all routers so far (bytes and packets)."""
    if _backend.get(tb.prefix) == "tc":
        tot = {"babel_bytes": 0, "babel_packets": 0, "batman_ctl_bytes": 0, "batman_ctl_packets": 0,
               "batman_bytes": 0, "batman_packets": 0}
        for r in tb.topo.routers:
            for pref, (b, p) in _tc_counts(tb, r.name).items():
                key = ("babel" if pref == TC_BABEL_PREF else "batman" if pref == TC_BATMAN_ALL_PREF
                       else "batman_ctl")
                tot[key + "_bytes"] += b
                tot[key + "_packets"] += p
        return tot
    b, p = read_counters(tb)
    return {"babel_bytes": b, "babel_packets": p, "batman_ctl_bytes": 0, "batman_ctl_packets": 0,
            "batman_bytes": 0, "batman_packets": 0}


def read_counters(tb: Testbed) -> tuple[int, int]:
    """Babel bytes and packets sent by all routers so far."""
    if _backend.get(tb.prefix) == "tc":
        c = read_all_counters(tb)
        return c["babel_bytes"], c["babel_packets"]
    total_b = total_p = 0
    for r in tb.topo.routers:
        out = run_cmd(["ip", "netns", "exec", tb.ns(r.name), "nft", "-j", "list", "table", "inet", NFT_TABLE])
        for item in json.loads(out.stdout).get("nftables", []):
            rule = item.get("rule")
            if not rule:
                continue
            for expr in rule.get("expr", []):
                if "counter" in expr:
                    total_b += int(expr["counter"]["bytes"])
                    total_p += int(expr["counter"]["packets"])
    return total_b, total_p


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def babeld_pids(tb: Testbed) -> dict[str, int]:
    out = {}
    for r in tb.topo.routers:
        pid = babeld.read_pid(babeld.BabeldFiles(tb.run_dir / r.name).pid)
        if pid:
            out[r.name] = pid
    return out


def system_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (all CPUs)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / CLK_TCK, sum(fields) / CLK_TCK


def table_sizes(tb: Testbed) -> dict[str, int]:
    """Routes (IPv4 + IPv6, main table, excluding babel's unreachable hold-downs) per router."""
    sizes = {}
    for r in tb.topo.routers:
        n = 0
        for fam in ("-4", "-6"):
            out = subprocess.run(["ip", "-n", tb.ns(r.name), "-j", fam, "route", "show", "table", "main"],
                                 capture_output=True, text=True)
            n += sum(1 for x in json.loads(out.stdout or "[]") if x.get("type", "unicast") == "unicast")
        sizes[r.name] = n
    return sizes


@dataclass
class Snapshot:
    """Counters at one instant; ``delta`` of two gives rates."""

    t: float
    babel_bytes: int
    babel_packets: int
    babeld_cpu: float
    agent_cpu: float
    batman_ctl_bytes: int = 0
    batman_ctl_packets: int = 0
    batman_bytes: int = 0
    batman_packets: int = 0
    system_busy: float = 0.0
    system_total: float = 0.0

    @staticmethod
    def take(tb: Testbed, t: float, agent_pids: list[int]) -> "Snapshot":
        c = read_all_counters(tb)
        busy, total = system_cpu()
        return Snapshot(t, c["babel_bytes"], c["babel_packets"], sum(cpu_seconds(x) for x in babeld_pids(tb).values()),
                        sum(cpu_seconds(x) for x in agent_pids), c["batman_ctl_bytes"], c["batman_ctl_packets"],
                        c["batman_bytes"], c["batman_packets"], busy, total)


def rates(a: Snapshot, b: Snapshot, links: int, routers: int, agents: int) -> dict:
    dt = max(b.t - a.t, 1e-9)
    return {
        "seconds": round(dt, 2),
        "babel_bytes_per_s_per_link": (b.babel_bytes - a.babel_bytes) / dt / max(links, 1),
        "babel_packets_per_s_per_link": (b.babel_packets - a.babel_packets) / dt / max(links, 1),
        "babeld_cpu_percent_per_router": 100 * (b.babeld_cpu - a.babeld_cpu) / dt / max(routers, 1),
        "agent_cpu_percent_per_ap": 100 * (b.agent_cpu - a.agent_cpu) / dt / max(agents, 1) if agents else None,
        "batman_ctl_bytes_per_s_per_link": (b.batman_ctl_bytes - a.batman_ctl_bytes) / dt / max(links, 1),
        "batman_ctl_packets_per_s_per_link": (b.batman_ctl_packets - a.batman_ctl_packets) / dt / max(links, 1),
        "batman_bytes_per_s_per_link": (b.batman_bytes - a.batman_bytes) / dt / max(links, 1),
        "control_bytes_per_s_per_link": ((b.babel_bytes - a.babel_bytes) + (b.batman_ctl_bytes - a.batman_ctl_bytes))
        / dt / max(links, 1),
        "control_packets_per_s_per_link": ((b.babel_packets - a.babel_packets)
                                           + (b.batman_ctl_packets - a.batman_ctl_packets)) / dt / max(links, 1),
        "system_cpu_percent": (100 * (b.system_busy - a.system_busy) / (b.system_total - a.system_total)
                               if b.system_total > a.system_total else None),
    }


def paced_moves(rate: float, window: float, move: Callable[[int], None] | None) -> int:
    """Call ``move(k)`` for k = 0, 1, ... at ``rate`` per second for ``window`` seconds (None:
    just wait the window); returns how many moves were made.  The cost runs' roam load."""
    if move is None:
        time.sleep(window)
        return 0
    moved = 0
    t0 = time.monotonic()
    while moved / rate < window and time.monotonic() - t0 < window:
        due = t0 + moved / rate
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        move(moved)
        moved += 1
    return moved
