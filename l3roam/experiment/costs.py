"""What the mesh pays: babel control traffic, routing-table size, CPU time.

- Control traffic: an nftables counter per router on babel's UDP port 6696
  (output hook: what the router sends, hellos, IHUs and updates, on all its
  mesh interfaces).  Summed over routers and divided by the number of links
  and the seconds measured, it is the babel traffic one link carries, both
  directions together.
- Table size: IPv4 plus IPv6 routes in each router's main table.
- CPU: utime + stime of each babeld and each agent from ``/proc/<pid>/stat``.

Side effects only (``nft``, ``ip``, ``/proc``); the arithmetic is plain.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

from l3roam.babel import process as babeld
from l3roam.testbed.builder import Testbed, run_cmd

BABEL_PORT = 6696
NFT_TABLE = "l3rx_cost"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def install_counters(tb: Testbed) -> None:
    ruleset = (f"table inet {NFT_TABLE} {{\n"
               f"  chain out {{ type filter hook output priority 0; policy accept;\n"
               f"    udp dport {BABEL_PORT} counter\n  }}\n}}\n")
    for r in tb.topo.routers:
        run_cmd(["ip", "netns", "exec", tb.ns(r.name), "nft", "-f", "-"], stdin=ruleset)


def read_counters(tb: Testbed) -> tuple[int, int]:
    """Babel bytes and packets sent by all routers so far."""
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

    @staticmethod
    def take(tb: Testbed, t: float, agent_pids: list[int]) -> "Snapshot":
        b, p = read_counters(tb)
        return Snapshot(t, b, p, sum(cpu_seconds(x) for x in babeld_pids(tb).values()),
                        sum(cpu_seconds(x) for x in agent_pids))


def rates(a: Snapshot, b: Snapshot, links: int, routers: int, agents: int) -> dict:
    dt = max(b.t - a.t, 1e-9)
    return {
        "seconds": round(dt, 2),
        "babel_bytes_per_s_per_link": (b.babel_bytes - a.babel_bytes) / dt / max(links, 1),
        "babel_packets_per_s_per_link": (b.babel_packets - a.babel_packets) / dt / max(links, 1),
        "babeld_cpu_percent_per_router": 100 * (b.babeld_cpu - a.babeld_cpu) / dt / max(routers, 1),
        "agent_cpu_percent_per_ap": 100 * (b.agent_cpu - a.agent_cpu) / dt / max(agents, 1) if agents else None,
    }
