"""Lease master throughput and latency, with durable writes, at 1/10/50 nodes.

Starts the real master process (SQLite store) on loopback and drives it from
simulated nodes, each a real ``MasterClient`` with its own socket, every node
keeping one request in flight (a node agent waiting on the master).  The work
is what a DHCP exchange costs the master: OFFER then BIND for a new MAC; every
operation is committed to disk before it is answered.  The same load against a
store on tmpfs (fsync costs nothing there) is the baseline, so the ratio shows
what durability costs.  ``--stores`` adds the replicated store: three real
etcd members on loopback (data on disk, each fsyncs), every answer sent only
after the quorum committed it; its column is set against SQLite's in the same
run, with the requests per etcd transaction that group commit achieved.  The load generator is Python too and shares the two
cores with the master, so the table also gives the master's own CPU time per
operation (from /proc) and the rate one core would carry at that cost.
"""

from __future__ import annotations

import argparse
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEY = "62656e63682d6b65792d3031323334353637"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", default="1,10,50", help="comma-separated node counts")
    p.add_argument("--seconds", type=float, default=3.0, help="measuring time per point")
    p.add_argument("--no-baseline", action="store_true", help="skip the tmpfs baseline")
    p.add_argument("--stores", default="sqlite,etcd",
                   help="comma-separated: sqlite (on disk, with the tmpfs baseline), etcd (three members)")
    p.add_argument("--rate", type=float, default=10000.0,
                   help="open-loop run: total lease operations/s offered by the nodes (0: skip)")


def write_config(directory: Path, port: int, db: Path, etcd=None) -> Path:
    cfg = directory / "master.yaml"
    if etcd is not None:
        from l3roam.master.etcd_cluster import MAX_TXN_OPS

        eps = ", ".join(f"{h}:{p}" for h, p in etcd.endpoints)
        store = (f"store: {{backend: etcd, etcd: {{endpoints: [{eps}], name: bench, "
                 f"max_txn_ops: {MAX_TXN_OPS}}}}}\n")
    else:
        store = f"store: {{path: {db}}}\n"
    cfg.write_text(
        f"listen: 127.0.0.1:{port}\nkey: {KEY}\nmetrics_listen: null\nlog_level: warning\n"
        f"pools:\n  - prefix: 10.64.0.0/10\n    exclude: [10.64.0.1]\n"
        + store + "lease: {lease_seconds: 3600}\n")
    return cfg


def etcd_revision(etcd) -> int:
    from l3roam.master.etcd_gateway import EtcdGateway

    gw = EtcdGateway(etcd.endpoints)
    try:
        return int(gw.status()["header"]["revision"])
    finally:
        gw.close()


def start_master(cfg: Path, port: int) -> subprocess.Popen:
    from l3roam.master.client import MasterClient
    from l3roam.proto.control import MessageType

    proc = subprocess.Popen([sys.executable, "-m", "l3roam", "master", "--config", str(cfg)])
    probe = MasterClient("bench-probe", bytes.fromhex(KEY), ("127.0.0.1", port), deadline=0.2)
    try:
        for _ in range(100):
            if proc.poll() is not None:
                raise RuntimeError("master exited at start")
            try:
                probe.call(MessageType.HELLO, {})
                return proc
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("master did not answer")
    finally:
        probe.close()


def drive(port: int, n_nodes: int, seconds: float, tag: str) -> dict:
    from l3roam.master.client import MasterClient
    from l3roam.proto.control import LeaseOp

    key = bytes.fromhex(KEY)
    clients = [MasterClient(f"bench-{tag}-{i}", key, ("127.0.0.1", port), deadline=5.0)
               for i in range(n_nodes)]
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c.sock, selectors.EVENT_READ, c)
    lat: list[float] = []
    failures = 0
    counter = [0]
    end = time.monotonic() + seconds

    def next_op(client, state):
        # state: [mac, stage]
        if state[1] == 0:
            counter[0] += 1
            n = counter[0]
            state[0] = f"02:{hash(tag) & 0xff:02x}:{(n >> 24) & 0xff:02x}:{(n >> 16) & 0xff:02x}:" \
                       f"{(n >> 8) & 0xff:02x}:{n & 0xff:02x}"
            op = LeaseOp.OFFER
        else:
            op = LeaseOp.BIND
        t0 = time.perf_counter()

        def done(ans, client=client, state=state, t0=t0):
            nonlocal failures
            if ans is None or not ans.ok:
                failures += 1
            lat.append(time.perf_counter() - t0)
            state[1] ^= 1
            if time.monotonic() < end:
                next_op(client, state)

        client.lease(op, state[0], done)

    for c in clients:
        next_op(c, [None, 0])
    t_start = time.perf_counter()
    while any(c.outstanding for c in clients):
        for key_, _ in sel.select(0.05):
            key_.data.on_readable()
        for c in clients:
            c.on_timer()
    elapsed = time.perf_counter() - t_start
    retransmits = sum(c.retransmits for c in clients)
    for c in clients:
        c.close()
    lat.sort()
    return {
        "nodes": n_nodes, "ops": len(lat), "ops_per_s": len(lat) / elapsed, "failures": failures, "retransmits": retransmits,
        "p50_ms": lat[len(lat) // 2] * 1000 if lat else 0.0,
        "p99_ms": lat[int(len(lat) * 0.99)] * 1000 if lat else 0.0,
        "mean_ms": statistics.fmean(lat) * 1000 if lat else 0.0,
    }


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive_open(port: int, n_nodes: int, rate: float, seconds: float, tag: str) -> dict:
    """Open loop: the nodes together offer ``rate`` operations/s, whatever the answers do.

    Each new MAC gets an OFFER and, one slot later, a BIND (with no address: the
    master binds the one it offered), so no request waits for another.
    """
    from l3roam.master.client import MasterClient
    from l3roam.proto.control import LeaseOp

    key = bytes.fromhex(KEY)
    clients = [MasterClient(f"open-{tag}-{i}", key, ("127.0.0.1", port), deadline=5.0)
               for i in range(n_nodes)]
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c.sock, selectors.EVENT_READ, c)
    lat: list[float] = []
    failures = [0]
    total = int(rate * seconds)
    t0 = time.perf_counter()
    sent = 0
    mac = ""
    while sent < total or any(c.outstanding for c in clients):
        now = time.perf_counter()
        while sent < total and t0 + sent / rate <= now:
            c = clients[sent % n_nodes]
            if sent % 2 == 0:
                n = sent // 2
                mac = f"02:{hash(tag) & 0xff:02x}:{(n >> 24) & 0xff:02x}:{(n >> 16) & 0xff:02x}:" \
                      f"{(n >> 8) & 0xff:02x}:{n & 0xff:02x}"
            op = LeaseOp.OFFER if sent % 2 == 0 else LeaseOp.BIND
            t_send = t0 + sent / rate  # latency from the scheduled time: no coordinated omission

            def done(ans, t_send=t_send):
                if ans is None or not ans.ok:
                    failures[0] += 1
                lat.append(time.perf_counter() - t_send)

            c.lease(op, mac, done)
            sent += 1
        wait = max(0.0, t0 + sent / rate - time.perf_counter()) if sent < total else 0.05
        for key_, _ in sel.select(min(wait, 0.05)):
            key_.data.on_readable()
        for c in clients:
            c.on_timer()
    elapsed = time.perf_counter() - t0
    for c in clients:
        c.close()
    lat.sort()
    return {"nodes": n_nodes, "offered": rate, "ops": len(lat), "ops_per_s": len(lat) / elapsed,
            "failures": failures[0], "p50_ms": lat[len(lat) // 2] * 1000 if lat else 0.0,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1000 if lat else 0.0}


def measure(db_dir: str, label: str, nodes: list[int], seconds: float,
            open_rate: float = 0.0, etcd: bool = False) -> list[dict]:
    import socket

    with tempfile.TemporaryDirectory(dir=db_dir) as d:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        cluster = None
        if etcd:
            from l3roam.master.etcd_cluster import LocalCluster

            cluster = LocalCluster(Path(d) / "etcd").start()
        cfg = write_config(Path(d), port, Path(d) / "master.db", cluster)
        proc = None
        try:
            proc = start_master(cfg, port)
            rows = []
            for n in nodes:
                cpu0 = cpu_seconds(proc.pid)
                rev0 = etcd_revision(cluster) if cluster else 0
                r = drive(port, n, seconds, f"{label}{n}")
                r["master_cpu_us_per_op"] = (cpu_seconds(proc.pid) - cpu0) / max(1, r["ops"]) * 1e6
                r["store"] = label
                extra = ""
                if cluster:  # one revision per write transaction; heartbeats write 10/s
                    txns = max(1.0, etcd_revision(cluster) - rev0 - 10 * seconds)
                    r["ops_per_txn"] = r["ops"] / txns
                    extra = f"  {r['ops_per_txn']:.1f} requests/txn"
                rows.append(r)
                print(f"  {label:8} nodes={n:3}  {r['ops_per_s']:8.0f} ops/s  p50 {r['p50_ms']:.2f} ms"
                      f"  p99 {r['p99_ms']:.2f} ms  master CPU {r['master_cpu_us_per_op']:.0f} us/op"
                      f"  failures {r['failures']}  retransmits {r['retransmits']}{extra}", flush=True)
            if open_rate:
                n = max(nodes)
                r = drive_open(port, n, open_rate, seconds, f"{label}o")
                r["store"], r["mode"] = label, "open"
                rows.append(r)
                print(f"  {label:8} nodes={n:3}  open loop at {open_rate:.0f} ops/s offered: "
                      f"{r['ops_per_s']:.0f} ops/s answered, p50 {r['p50_ms']:.2f} ms, "
                      f"p99 {r['p99_ms']:.2f} ms, failures {r['failures']}", flush=True)
            return rows
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(10)
            if cluster is not None:
                cluster.close()


def run(args: argparse.Namespace) -> int:
    nodes = [int(x) for x in args.nodes.split(",")]
    stores = {x.strip() for x in args.stores.split(",") if x.strip()}
    unknown = stores - {"sqlite", "etcd"}
    if unknown:
        print(f"--stores: unknown {', '.join(sorted(unknown))} (known: sqlite, etcd)", file=sys.stderr)
        return 2
    load0 = os.getloadavg()
    print(f"lease master benchmark: {os.cpu_count()} cpus, {args.seconds:.0f} s per point, "
          "one request in flight per node, OFFER+BIND per new MAC; load average "
          f"{load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} at start")
    here = os.getcwd() if os.access(os.getcwd(), os.W_OK) else "/var/tmp"
    durable: list[dict] = []
    open_rows: list[dict] = []
    if "sqlite" in stores:
        durable = measure(here, "disk", nodes, args.seconds, args.rate)
        open_rows = [r for r in durable if r.get("mode") == "open"]
        durable = [r for r in durable if r.get("mode") != "open"]
    base = [] if args.no_baseline or "sqlite" not in stores or not os.path.isdir("/dev/shm") else \
        measure("/dev/shm", "tmpfs", nodes, args.seconds)
    replicated = measure(here, "etcd", nodes, args.seconds, etcd=True) if "etcd" in stores else []
    if durable:
        print("\nSQLite  nodes  durable ops/s  p50 ms  p99 ms  master us/op  one-core capacity ops/s"
              + ("  tmpfs ops/s  durable/tmpfs" if base else ""))
    for i, r in enumerate(durable):
        cap = 1e6 / r["master_cpu_us_per_op"] if r["master_cpu_us_per_op"] else 0
        line = (f"       {r['nodes']:5}  {r['ops_per_s']:13.0f}  {r['p50_ms']:6.2f}  {r['p99_ms']:6.2f}"
                f"  {r['master_cpu_us_per_op']:12.0f}  {cap:23.0f}")
        if base:
            b = base[i]
            line += f"  {b['ops_per_s']:11.0f}  {r['ops_per_s'] / b['ops_per_s']:13.2f}"
        print(line)
    if replicated:
        print("\netcd    nodes  quorum ops/s  p50 ms  p99 ms  master us/op  requests/txn"
              + ("  etcd/SQLite ops" if durable else ""))
        for i, r in enumerate(replicated):
            line = (f"       {r['nodes']:5}  {r['ops_per_s']:12.0f}  {r['p50_ms']:6.2f}  {r['p99_ms']:6.2f}"
                    f"  {r['master_cpu_us_per_op']:12.0f}  {r['ops_per_txn']:12.1f}")
            if durable:
                line += f"  {r['ops_per_s'] / durable[i]['ops_per_s']:16.2f}"
            print(line)
    for r in open_rows:
        print(f"open loop, {r['nodes']} nodes, {r['offered']:.0f} ops/s offered, durable: "
              f"{r['ops_per_s']:.0f} answered/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms "
              "(latency from each request's scheduled send time)")
    load1 = os.getloadavg()
    print(f"load average {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} at the end")
    return 0
