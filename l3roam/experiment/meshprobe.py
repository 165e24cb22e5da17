"""Readings of a running testbed for the client-scale runs (side effects only).

- per-link babel counters: one nftables counter per router and mesh
  interface on UDP 6696 (output hook), so a link's traffic is what its two
  ends sent on it;
- every router's IPv4 table (``ip -4 route show``) for ``coverage``;
- where a missing route was lost: the announcing AP's kernel, its babeld's
  redistributed routes (``dump`` on the control socket), a neighbour's
  babeld route table and its kernel;
- babeld's own words: ``netlink_read ... No buffer space available`` (a
  dropped kernel notification) and ``Adding missing route to <client>``
  (babeld's periodic kernel check repairing one), counted per router;
- a tcpdump of babel on one link, read back as UDP payloads for
  ``babelbytes.tally``.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

from l3roam.babel.control import BabelControl
from l3roam.experiment import costs as cost
from l3roam.testbed.builder import Testbed, run_cmd

NFT_TABLE = "l3rx_links"


def install_link_counters(tb: Testbed) -> None:
    for r in tb.topo.routers:
        rules = "".join(f'    oifname "{ifname}" udp dport {cost.BABEL_PORT} counter\n'
                        for _, ifname in tb.topo.neighbours(r.name))
        ruleset = (f"table inet {NFT_TABLE} {{\n  chain out {{ type filter hook output priority 0; "
                   f"policy accept;\n{rules}  }}\n}}\n")
        run_cmd(["ip", "netns", "exec", tb.ns(r.name), "nft", "-f", "-"], stdin=ruleset)


def read_link_counters(tb: Testbed) -> dict[tuple[str, str], tuple[int, int]]:
    """(router, ifname) -> (bytes, packets) of babel sent there so far."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for r in tb.topo.routers:
        text = run_cmd(["ip", "netns", "exec", tb.ns(r.name), "nft", "-j", "list", "table", "inet",
                        NFT_TABLE]).stdout
        for item in json.loads(text).get("nftables", []):
            rule = item.get("rule")
            if not rule:
                continue
            ifname, counter = None, None
            for expr in rule.get("expr", []):
                m = expr.get("match")
                if m and m.get("left", {}).get("meta", {}).get("key") == "oifname":
                    ifname = m.get("right")
                if "counter" in expr:
                    counter = (int(expr["counter"]["bytes"]), int(expr["counter"]["packets"]))
            if ifname and counter:
                out[(r.name, ifname)] = counter
    return out


def per_link(tb: Testbed, a: dict, b: dict, seconds: float) -> list[dict]:
    """Babel bytes/packets per second on each link (both directions) between two counter readings."""
    rows = []
    for link in tb.topo.links:
        keys = [(link.a, link.ifname_a), (link.b, link.ifname_b)]
        db = sum(b.get(k, (0, 0))[0] - a.get(k, (0, 0))[0] for k in keys)
        dp = sum(b.get(k, (0, 0))[1] - a.get(k, (0, 0))[1] for k in keys)
        rows.append({"link": f"{link.a}-{link.b}", "bytes_per_s": db / seconds, "packets_per_s": dp / seconds})
    return rows


def route_text(tb: Testbed, router: str) -> str:
    return run_cmd(["ip", "-n", tb.ns(router), "-4", "route", "show", "table", "main"]).stdout


def babeld_view(tb: Testbed, router: str, prefix_text: str) -> tuple[set[str], set[str]]:
    """(redistributed client prefixes, installed client routes) in one router's babeld."""
    with BabelControl(tb.babeld_socket(router), timeout=10) as c:
        d = c.dump(timeout=30)
    xr = {x.prefix.split("/")[0] for x in d.xroutes if x.prefix.startswith(prefix_text)}
    inst = {x.prefix.split("/")[0] for x in d.installed().values() if x.prefix.startswith(prefix_text)}
    return xr, inst


def babeld_log_counts(tb: Testbed, prefix_text: str) -> dict[str, dict[str, int]]:
    """Per router: netlink overruns logged and client routes babeld's kernel check added/flushed."""
    pat_add = re.compile(r"Adding missing route to " + re.escape(prefix_text))
    pat_flush = re.compile(r"Flushing spurious route to " + re.escape(prefix_text))
    # a neighbour's hello came late (babeld: "bufferbloated"): a loaded machine; missed hellos
    # change link costs, and every route through the neighbour is sent again
    out = {}
    for r in tb.topo.routers:
        try:
            text = (tb.run_dir / r.name / "babeld.log").read_text(errors="replace")
        except OSError:
            text = ""
        out[r.name] = {"enobufs": text.count("No buffer space available"),
                       "repaired_add": len(pat_add.findall(text)),
                       "repaired_flush": len(pat_flush.findall(text)),
                       "late_hellos": text.count("Late hello")}
    return out


def udp_rcvbuf_errors(tb: Testbed, router: str) -> int:
    text = run_cmd(["ip", "netns", "exec", tb.ns(router), "cat", "/proc/net/snmp6"]).stdout
    for line in text.splitlines():
        if line.startswith("Udp6RcvbufErrors"):
            return int(line.split()[1])
    return 0


def start_capture(tb: Testbed, router: str, ifname: str, path: Path) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", tb.ns(router), "tcpdump", "-i", ifname, "-w", str(path),
                             "-s", "2000", "-U", "-Q", "out", "udp", "port", str(cost.BABEL_PORT)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_capture(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def read_pcap(path: Path) -> list[tuple[float, bytes]]:
    """(time, UDP payload) of IPv6/UDP frames in a pcap (Ethernet link type); anything else skipped."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    if len(data) < 24:
        return []
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    frac = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
    out = []
    i = 24
    while i + 16 <= len(data):
        sec, sub, incl, _ = struct.unpack_from(endian + "IIII", data, i)
        frame = data[i + 16:i + 16 + incl]
        i += 16 + incl
        if len(frame) < 14 + 40 + 8 or frame[12:14] != b"\x86\xdd" or frame[14 + 6] != 17:
            continue
        out.append((sec + sub * frac, frame[14 + 48:]))
    return out
