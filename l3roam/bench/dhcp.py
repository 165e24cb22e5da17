"""DHCP server throughput and latency under ISC perfdhcp: l3roam vs Kea vs dnsmasq.

One run, this machine, namespaces it creates and removes (``l3r-bench-<pid>-srv``
and ``-pf``, also on failure and Ctrl-C)::

    [pf ns] perfdhcp, relay 10.111.255.254/30 --veth-- 10.111.255.253/30 up0 [srv ns]
                                                         10.96.0.1/12 cell0 (bridge)

The server namespace runs, one after the other and each from an empty lease
database: the real lease master (SQLite on disk, every ACK committed before
it is sent) with the real ``l3roam node`` agent (hand-off off, DNS off, log
level info as in production); Kea 2.2 ``kea-dhcp4`` with its memfile backend;
dnsmasq with its lease file (rewritten and fsynced on every change) and,
optionally, with ``--leasefile-ro``.  perfdhcp always acts as a relay (giaddr
= its address, replies to giaddr:67), so every server sees relayed traffic;
giaddr 10.111.255.254 lies in the client prefix 10.96.0.0/12, which is how
Kea and dnsmasq pick the subnet.  Each rate step uses its own base MAC and
``-R`` distinct clients, so every DORA is a new lease.

Needs root and: perfdhcp (``apt-get install kea-admin``), kea-dhcp4
(``apt-get install kea-dhcp4-server``), dnsmasq (``apt-get install
dnsmasq-base``), babeld (the node agent checks for it).  A missing baseline is
skipped with a message; a missing perfdhcp stops the run.  Not run in CI.

    l3roam bench dhcp [--rates 250,500,1000,2000,4000,6000,8000] [--seconds 3]
                      [--servers l3roam,kea,dnsmasq] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from l3roam.bench import perfdhcp

KEY = "62656e63682d6b65792d3031323334353637"
ROOT = Path(__file__).resolve().parents[2]
SRV_IP, PF_IP = "10.111.255.253", "10.111.255.254"
LINK_PREFIX = 30
CLIENT_NET, GATEWAY = "10.96.0.0/12", "10.96.0.1"
POOL_FIRST, POOL_LAST = "10.96.0.10", "10.111.255.240"
SERVERS = ("l3roam", "kea", "dnsmasq", "dnsmasq-ro")
NEEDS = {"perfdhcp": "kea-admin", "kea-dhcp4": "kea-dhcp4-server", "dnsmasq": "dnsmasq-base",
         "babeld": "babeld"}
TARGET_P99_MS = 10.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rates", default="250,500,1000,2000,4000,6000,8000",
                   help="offered DORA/s, comma-separated, run in this order")
    p.add_argument("--seconds", type=float, default=3.0, help="perfdhcp test period per rate")
    p.add_argument("--clients", type=int, default=100000, help="perfdhcp -R: distinct clients")
    p.add_argument("--servers", default="l3roam,kea,dnsmasq",
                   help=f"comma-separated, from {','.join(SERVERS)}")
    p.add_argument("--db-dir", default="/var/tmp",
                   help="where the master's SQLite store and the lease files go (a disk, not tmpfs)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning"),
                   help="log level of the master and the node agent (info: as in production)")
    p.add_argument("--keep", metavar="DIR", help="keep perfdhcp outputs, logs and a results.json here")


# ---- small helpers -----------------------------------------------------------------
def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
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


def missing_tools() -> dict[str, str]:
    return {tool: pkg for tool, pkg in NEEDS.items()
            if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()}


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds.

    ``ip netns exec`` execs the daemon, so the pids of our Popen objects are
    the daemons' own."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


# ---- the namespaces ------------------------------------------------------------------
class Lab:
    """Two namespaces and a veth; every step undone by ``down`` (idempotent)."""

    def __init__(self, tag: str):
        self.srv, self.pf = f"{tag}-srv", f"{tag}-pf"
        self.procs: list[subprocess.Popen] = []

    def up(self) -> None:
        for ns in (self.srv, self.pf):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.srv, "link", "add", "up0", "type", "veth", "peer", "name", "pf0",
           "netns", self.pf)
        sh("ip", "-n", self.srv, "addr", "add", f"{SRV_IP}/{LINK_PREFIX}", "dev", "up0")
        sh("ip", "-n", self.pf, "addr", "add", f"{PF_IP}/{LINK_PREFIX}", "dev", "pf0")
        for ns, dev in ((self.srv, "up0"), (self.pf, "pf0")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        # the client-facing side: the node agent's anycast gateway lives here
        sh("ip", "-n", self.srv, "link", "add", "cell0", "type", "bridge")
        sh("ip", "-n", self.srv, "link", "set", "cell0", "up")

    def spawn(self, argv: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        p = subprocess.Popen(["ip", "netns", "exec", self.srv, *argv], stdout=subprocess.DEVNULL,
                             stderr=open(log, "w"), env=env, start_new_session=True)
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.procs.clear()
        for pid in sh("ip", "netns", "pids", self.srv, check=False).stdout.split():
            sh("kill", "-9", pid, check=False)

    def listening(self, port: int = 67) -> bool:
        out = sh("ip", "netns", "exec", self.srv, "ss", "-Hlun", f"sport = :{port}", check=False)
        return bool(out.stdout.strip())

    def down(self) -> None:
        self.stop_all()
        for ns in (self.srv, self.pf):
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                sh("kill", "-9", pid, check=False)
            sh("ip", "netns", "delete", ns, check=False)


# ---- the servers ------------------------------------------------------------------------
def start_l3roam(lab: Lab, work: Path, log_level: str = "info") -> dict[str, int]:
    (work / "master.yaml").write_text(
        f"listen: 127.0.0.1:4500\nkey: {KEY}\nmetrics_listen: null\n"
        f"log_file: {work / 'master.log'}\nlog_level: {log_level}\n"
        f"pools: [{{prefix: {CLIENT_NET}, exclude: [{GATEWAY}, 10.111.255.252-10.111.255.255]}}]\n"
        f"store: {{path: {work / 'master.db'}}}\nlease: {{lease_seconds: 3600}}\n")
    (work / "node.yaml").write_text(
        f"node_id: bench\nmaster: 127.0.0.1:4500\nkey: {KEY}\nclient_interface: cell0\n"
        f"gateway: {GATEWAY}/12\ngateway_mac: 02:1e:00:00:00:01\nmesh_interfaces: [up0]\n"
        "handoff: {enabled: false}\ndns: {enabled: false}\n"
        # perfdhcp is a relay (its address); offers it never requests must not hit the cap
        "dhcp: {lease_seconds: 3600, domain: mesh, relays: [10.111.255.254], max_offers: 1000000,"
        " max_offers_per_port: 1000000}\nmetrics_listen: null\n"
        f"log_file: {work / 'node.log'}\nlog_level: {log_level}\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    py = [sys.executable, "-m", "l3roam"]
    master = lab.spawn([*py, "master", "--config", str(work / "master.yaml")], work / "master.err", env)
    if not wait_for(lambda: master.poll() is None and lab.listening(4500), 15):
        raise RuntimeError(f"master did not start: {(work / 'master.err').read_text()[-500:]}")
    node = lab.spawn([*py, "node", "--config", str(work / "node.yaml")], work / "node.err", env)
    # the agent opens port 67 once it has set up the gateway and reconciled routes
    if not wait_for(lambda: node.poll() is None and lab.listening(67), 20):
        raise RuntimeError(f"node agent did not start: {(work / 'node.err').read_text()[-500:]}")
    return {"master": master.pid, "node": node.pid}


def start_kea(lab: Lab, work: Path) -> dict[str, int]:
    cfg = {"Dhcp4": {
        "interfaces-config": {"interfaces": ["up0"], "dhcp-socket-type": "udp"},
        "lease-database": {"type": "memfile", "persist": True, "lfc-interval": 0,
                           "name": str(work / "kea-leases4.csv")},
        "valid-lifetime": 3600,
        "subnet4": [{"subnet": CLIENT_NET, "pools": [{"pool": f"{POOL_FIRST} - {POOL_LAST}"}],
                     "option-data": [{"name": "routers", "data": GATEWAY}]}],
        "loggers": [{"name": "kea-dhcp4", "severity": "WARN",
                     "output_options": [{"output": str(work / "kea.log")}]}],
    }}
    (work / "kea.json").write_text(json.dumps(cfg, indent=1))
    env = dict(os.environ, KEA_PIDFILE_DIR=str(work), KEA_LOCKFILE_DIR=str(work))
    p = lab.spawn(["kea-dhcp4", "-c", str(work / "kea.json")], work / "kea.err", env)
    if not wait_for(lambda: p.poll() is None and lab.listening(), 10):
        raise RuntimeError(f"kea-dhcp4 did not start: {(work / 'kea.err').read_text()[-500:]}")
    return {"kea-dhcp4": p.pid}


def start_dnsmasq(lab: Lab, work: Path, leasefile_ro: bool) -> dict[str, int]:
    argv = ["dnsmasq", "--keep-in-foreground", "--port=0", "--conf-file=/dev/null", "--no-hosts",
            "--no-resolv", "--no-ping", "--quiet-dhcp", "--interface=up0", "--bind-interfaces",
            f"--dhcp-range={POOL_FIRST},{POOL_LAST},255.240.0.0,1h", "--dhcp-lease-max=1000000",
            f"--dhcp-option=option:router,{GATEWAY}", f"--pid-file={work / 'dnsmasq.pid'}",
            f"--log-facility={work / 'dnsmasq.log'}"]
    argv.append("--leasefile-ro" if leasefile_ro else f"--dhcp-leasefile={work / 'dnsmasq.leases'}")
    p = lab.spawn(argv, work / "dnsmasq.err")
    if not wait_for(lambda: p.poll() is None and lab.listening(), 10):
        raise RuntimeError(f"dnsmasq did not start: {(work / 'dnsmasq.err').read_text()[-500:]}")
    return {"dnsmasq": p.pid}


# ---- one measurement ---------------------------------------------------------------------
@dataclass
class Point:
    server: str
    offered: int
    result: perfdhcp.PerfdhcpResult
    cpu_by: dict[str, float]  # CPU seconds per wall second during the step, per server process
    exit_code: int
    load_cpu: float = 0.0  # the same for perfdhcp

    @property
    def cpu(self) -> float:
        return sum(self.cpu_by.values())

    def cpu_ms_per_dora(self, name: str) -> float:
        return 1000.0 * self.cpu_by[name] / self.achieved if self.achieved else float("nan")

    @property
    def achieved(self) -> float:
        return self.result.rate or 0.0

    @property
    def drops(self) -> float:
        r = self.result
        sent = r.do.sent
        return (r.do.drops + r.ra.drops) / sent if sent else 0.0

    @property
    def ok(self) -> bool:
        """Kept up: at least 95 % of the offered rate with at most 1 % of exchanges lost."""
        return self.achieved >= 0.95 * self.offered and self.drops <= 0.01


def run_perfdhcp(lab: Lab, server: str, rate: int, step: int, args, pids: dict[str, int],
                 keep: Path | None) -> Point:
    base = f"02:{step:02x}:{SERVERS.index(server):02x}:00:00:00"  # a fresh client set per step
    argv = perfdhcp.command(SRV_IP, PF_IP, rate, args.clients, args.seconds, base)
    c0, t0 = {n: cpu_seconds([pid]) for n, pid in pids.items()}, time.monotonic()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["ip", "netns", "exec", lab.pf, *argv], capture_output=True, text=True,
                         timeout=args.seconds + 60)
    wall = max(1e-6, time.monotonic() - t0)
    cpu = {n: (cpu_seconds([pid]) - c0[n]) / wall for n, pid in pids.items()}
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / wall
    if keep is not None:
        (keep / f"perfdhcp-{server}-{rate}.txt").write_text(out.stdout + out.stderr)
    if out.returncode not in (0, 3):  # 3: some packets were dropped
        raise RuntimeError(f"perfdhcp exited {out.returncode}: {(out.stderr or out.stdout)[-500:]}")
    return Point(server, rate, perfdhcp.parse(out.stdout), cpu, out.returncode, load)


def fmt(v: float | None, width: int = 6, digits: int = 2) -> str:
    return f"{v:{width}.{digits}f}" if v is not None else " " * (width - 3) + "n/a"


def line(p: Point) -> str:
    r = p.result
    return (f"{p.server:10} {p.offered:7d} {p.achieved:9.0f} {100 * p.drops:6.1f}%"
            f" {fmt(r.do.pct(50))} {fmt(r.do.pct(99))} {fmt(r.ra.pct(50))} {fmt(r.ra.pct(99))}"
            f" {fmt(r.dora_pct(99))} {fmt(max(r.do.max_ms or 0, r.ra.max_ms or 0), 8, 1)}"
            f" {100 * p.cpu:5.0f}% {100 * p.load_cpu:5.0f}%")


HEADER = ("server     offered  achieved  drops  DO p50 DO p99 RA p50 RA p99 DORAp99    max ms"
          "   cpu perfdhcp\n" + " " * 19 + "DORA/s   DORA/s   (DO+RA)  ------------- ms ---------------")


def measure_server(lab: Lab, server: str, rates: list[int], args, work: Path,
                   keep: Path | None) -> list[Point]:
    d = work / server
    d.mkdir()
    if server == "l3roam":
        pids = start_l3roam(lab, d, args.log_level)
    elif server == "kea":
        pids = start_kea(lab, d)
    else:
        pids = start_dnsmasq(lab, d, leasefile_ro=server == "dnsmasq-ro")
    points = []
    try:
        for step, rate in enumerate(rates, 1):
            p = run_perfdhcp(lab, server, rate, step, args, pids, keep)
            print(line(p), flush=True)
            points.append(p)
            time.sleep(1.0)  # let late answers drain before the next step
    finally:
        lab.stop_all()
        if keep is not None:
            shutil.copytree(d, keep / server, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.db*", "*.csv*", "*.leases"))
    return points


def summary(points: list[Point], rates: list[int]) -> list[str]:
    by = {}
    for p in points:
        by.setdefault(p.server, {})[p.offered] = p
    out = ["", "Highest offered rate kept up with (>= 95 % achieved, <= 1 % lost), its latency, "
           f"and the highest rate that also met the target (REQUEST-ACK p99 <= {TARGET_P99_MS:g} ms):"]
    for server, pts in by.items():
        good = [p for p in pts.values() if p.ok]
        best = max(good, key=lambda p: p.offered) if good else None
        peak = max(pts.values(), key=lambda p: p.achieved)
        if best is None:
            out.append(f"  {server:10} none; peak {peak.achieved:.0f} DORA/s at {peak.offered}/s offered")
        else:
            p99 = best.result.ra.pct(99)
            cost = ", ".join(f"{n} {best.cpu_ms_per_dora(n):.2f}" for n in best.cpu_by)
            met = [p for p in good if (p.result.ra.pct(99) or 1e9) <= TARGET_P99_MS]
            target = f"{max(p.offered for p in met)}/s" if met else "none"
            out.append(f"  {server:10} {best.offered:6d}/s (RA p99 {fmt(p99, 1)} ms, DORA p99 "
                       f"{fmt(best.result.dora_pct(99), 1)} ms); peak {peak.achieved:.0f} DORA/s;"
                       f" CPU ms per DORA there: {cost}; target met up to {target}")
    if "l3roam" in by:
        for base in [s for s in by if s != "l3roam"]:
            ratios = [f"{r}: {by['l3roam'][r].achieved / by[base][r].achieved:.2f}"
                      for r in rates if r in by["l3roam"] and r in by[base] and by[base][r].achieved]
            out.append(f"  achieved l3roam/{base} by offered rate: {', '.join(ratios)}")
    return out


def _interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("l3roam bench dhcp: needs root (it creates network namespaces)", file=sys.stderr)
        return 2
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    bad = [s for s in servers if s not in SERVERS]
    if bad:
        print(f"l3roam bench dhcp: unknown server {', '.join(bad)}; choose from {', '.join(SERVERS)}",
              file=sys.stderr)
        return 2
    missing = missing_tools()
    if "perfdhcp" in missing:
        print("l3roam bench dhcp: perfdhcp is missing: apt-get install kea-admin", file=sys.stderr)
        return 2
    for tool, server in (("kea-dhcp4", "kea"), ("dnsmasq", "dnsmasq"), ("dnsmasq", "dnsmasq-ro"),
                         ("babeld", "l3roam")):
        if tool in missing and server in servers:
            print(f"skipping {server}: {tool} is missing (apt-get install {missing[tool]})")
            servers.remove(server)
    rates = [int(x) for x in args.rates.split(",")]
    keep = Path(args.keep).resolve() if args.keep else None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    fs = sh("stat", "-f", "-c", "%T", args.db_dir, check=False).stdout.strip() or "?"
    print(f"DHCP benchmark: perfdhcp -g single, {args.seconds:g} s per rate, {args.clients} distinct "
          f"clients, every DORA a new lease; {os.cpu_count()} cpus; stores in {args.db_dir} ({fs})")
    print("DO = DISCOVER-OFFER, RA = REQUEST-ACK, DORA = DISCOVER sent to ACK received; "
          "percentiles from perfdhcp -x t timestamps; cpu = server processes and perfdhcp, 100% = one core")
    print(HEADER, flush=True)
    lab = Lab(f"l3r-bench-{os.getpid()}")
    old_term = signal.signal(signal.SIGTERM, _interrupt)
    points: list[Point] = []
    failed = False
    try:
        lab.up()
        with tempfile.TemporaryDirectory(prefix="l3roam-bench-dhcp-", dir=args.db_dir) as tmp:
            for server in servers:
                try:
                    points += measure_server(lab, server, rates, args, Path(tmp), keep)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:  # report, go on
                    failed = True
                    print(f"{server}: failed: {exc}", flush=True)
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        lab.down()
        signal.signal(signal.SIGTERM, old_term)
    for text in summary(points, rates):
        print(text)
    if keep is not None:
        (keep / "results.json").write_text(json.dumps([{
            "server": p.server, "offered": p.offered, "achieved": p.achieved, "drops": p.drops,
            "do_p50_ms": p.result.do.pct(50), "do_p99_ms": p.result.do.pct(99),
            "ra_p50_ms": p.result.ra.pct(50), "ra_p99_ms": p.result.ra.pct(99),
            "dora_p50_ms": p.result.dora_pct(50), "dora_p99_ms": p.result.dora_pct(99),
            "do_max_ms": p.result.do.max_ms, "ra_max_ms": p.result.ra.max_ms, "cpu": p.cpu_by,
        } for p in points], indent=1))
    return 1 if failed else 0
