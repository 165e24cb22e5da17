"""Many lightweight clients over the APs, roaming: does every router get every route, and at what cost?

Per mesh (a testbed file): the testbed, the master and an agent per AP; a
``clientdriver`` per AP (leases through the master, checked /32s).  Clients
are added up to each count of the spec, split evenly over the APs and added
at all APs at once (a burst: the worst case for babeld's kernel
notifications).  After each step: seconds until every router has every
client route (a presence poll), then the full check of ``coverage`` (every
route leads to its client's AP), where a missing route was lost
(``meshprobe``), then ``window`` seconds of babel bytes and packets per
link, CPU and RSS.  At the largest count, clients roam at each rate (a
random client to a random other AP: BIND at the new AP through the master,
/32 there, then delete at the old AP), measured the same way, and coverage
is checked again once the roams stop.

Writes ``clientscale-<mesh>.json`` into the output directory.
Side effects: a testbed, daemons, drivers, tcpdump.
"""

from __future__ import annotations

import json
import os
import queue
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from l3roam.experiment import babelbytes
from l3roam.experiment import costs as cost
from l3roam.experiment import coverage
from l3roam.experiment import meshprobe as probe
from l3roam.experiment.spec import ClientScaleSpec
from l3roam.testbed.builder import Testbed
from l3roam.testbed.deploy import MASTER_PORT, Deployment
from l3roam.testbed.topology import CELL_BRIDGE, Topology


RMEM_DEFAULT = Path("/proc/sys/net/core/rmem_default")


@contextmanager
def rmem_default(size: int | None) -> Iterator[None]:
    """Raise net.core.rmem_default while the testbed starts (babeld's UDP socket takes it then).

    The sysctl is system-wide (read-only in a namespace), so it is restored at once; sockets
    other programs open in those seconds get the larger default too.
    """
    if size is None:
        yield
        return
    old = RMEM_DEFAULT.read_text().strip()
    RMEM_DEFAULT.write_text(str(size))
    try:
        yield
    finally:
        RMEM_DEFAULT.write_text(old)


class Drivers:
    """One ``clientdriver`` per AP; answers collected by reader threads into one queue."""

    def __init__(self, tb: Testbed, dep: Deployment) -> None:
        self.answers: queue.Queue = queue.Queue()
        self.procs: dict[str, subprocess.Popen] = {}
        proto = str(tb.topo.spec.babel.client_proto)
        for ap in tb.topo.aps:
            p = tb.popen(ap, [sys.executable, "-m", "l3roam.experiment.clientdriver", "--master",
                              f"{dep.master_address}:{MASTER_PORT}", "--key", dep.key, "--node", f"{ap}.light",
                              "--ifname", CELL_BRIDGE, "--proto", proto],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.procs[ap] = p
            threading.Thread(target=self._read, args=(ap, p), daemon=True).start()

    def _read(self, ap: str, p: subprocess.Popen) -> None:
        for line in p.stdout:  # type: ignore[union-attr]
            try:
                self.answers.put((ap, json.loads(line)))
            except ValueError:
                self.answers.put((ap, {"cmd": "?", "ok": False, "error": line.strip()[:200]}))
        self.answers.put((ap, {"cmd": "exit", "ok": False}))

    def send(self, ap: str, line: str) -> None:
        p = self.procs[ap]
        p.stdin.write(line + "\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]

    def get(self, timeout: float) -> tuple[str, dict] | None:
        try:
            return self.answers.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        for p in self.procs.values():
            try:
                p.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


class Run:
    def __init__(self, c: ClientScaleSpec, name: str, topo: Topology, out: Path, say: Callable[[str], None]):
        self.c, self.name, self.topo, self.out, self.say = c, name, topo, out, say
        self.net = topo.spec.addressing.client_prefix
        self.prefix_text = ".".join(str(self.net.network_address).split(".")[:2]) + "."
        self.proto = str(topo.spec.babel.client_proto)
        self.where: dict[str, str] = {}  # client ip -> AP
        self.index_of: dict[str, int] = {}
        self.neighbour_of = {(r.name, ifname): n for r in topo.routers for n, ifname in topo.neighbours(r.name)}
        self.rng = random.Random(c.seed)
        self.master_ops = 0
        self.roam_failures = 0
        self.log_prev: dict | None = None
        self._old: dict[str, str] = {}  # client ip -> AP it is leaving (move in flight)

    # ---------------------------------------------------------------- steps
    def run(self) -> dict:
        topo = self.topo
        self.say(f"client scale {self.name}: {len(topo.routers)} routers, {len(topo.links)} links, "
                 f"{len(topo.aps)} APs; clients {list(self.c.clients)}, roams {list(self.c.roam_rates)}/s")
        tb = Testbed(topo)
        self.tb = tb
        points: list[dict] = []
        result = {"mesh": self.name, "routers": len(topo.routers), "links": len(topo.links),
                  "aps": list(topo.aps), "hello": topo.hello_interval,
                  "update_interval": topo.update_interval,
                  "kernel_check_interval": topo.spec.babel.kernel_check_interval,
                  "mtu": topo.spec.mesh.mtu, "master": topo.master,
                  "mean_hops_ap_to_master": statistics.fmean(topo.hops(topo.master)[a] for a in topo.aps),
                  "points": points, "load_before": list(os.getloadavg())}
        drivers = None
        t0 = time.monotonic()
        try:
            with rmem_default(self.c.babel_rcvbuf):
                tb.up()
            result["babel_rcvbuf"] = self.c.babel_rcvbuf
            result["converge_s"] = round(tb.wait_converged(120), 1)
            result["build_s"] = round(time.monotonic() - t0, 1)
            dep = Deployment(tb, handoff=True).start(timeout=60)
            self.pids = {"agents": [p.pid for k, p in dep.procs.items() if k != "master"],  # type: ignore[attr-defined]
                         "master": [dep.procs["master"].pid]}  # type: ignore[attr-defined]
            probe.install_link_counters(tb)
            drivers = Drivers(tb, dep)
            have = 0
            for n in sorted(set(self.c.clients)):
                if n > have:
                    self._add(drivers, have, n - have)
                    have = n
                points.append(self._point(drivers, 0.0))
                self._save(result)
            for rate in sorted(r for r in self.c.roam_rates if r > 0):
                if self.where:
                    points.append(self._point(drivers, rate))
                    self._save(result)
        except Exception as exc:  # a mesh too large for the machine is a result, recorded
            result["error"] = f"{type(exc).__name__}: {str(exc)[:400]}"
            self.say(f"  FAILED: {result['error']}")
        finally:
            if drivers is not None:
                drivers.close()
            result["babeld_log"] = probe.babeld_log_counts(tb, self.prefix_text)
            tb.down()
        self._save(result)
        return result

    def _save(self, result: dict) -> None:
        (self.out / f"clientscale-{self.name}.json").write_text(json.dumps(result, indent=1))

    def _add(self, drivers: Drivers, first: int, count: int) -> None:
        aps = self.topo.aps
        share = [count // len(aps) + (1 if k < count % len(aps) else 0) for k in range(len(aps))]
        start = first
        t = time.monotonic()
        for ap, k in zip(aps, share):
            if k:
                drivers.send(ap, f"{'burst' if self.c.fill == 'burst' else 'add'} {start} {k}")
            start += k
        pending = sum(1 for k in share if k)
        failed = {"lease": 0, "route": 0}
        while pending:
            got = drivers.get(120)
            if got is None:
                raise RuntimeError(f"client drivers did not answer ({pending} adds pending)")
            ap, ans = got
            if ans.get("cmd") == "exit":
                raise RuntimeError(f"client driver at {ap} exited")
            if ans.get("cmd") != "add":
                continue
            pending -= 1
            for idx, ip in ans["ok"].items():
                self.where[ip] = ap
                self.index_of[ip] = int(idx)
            failed["lease"] += ans["lease_failed"]
            failed["route"] += ans["route_failed"]
            self.master_ops += len(ans["ok"]) + ans["lease_failed"]
        self.last_add = {"added": count - failed["lease"] - failed["route"], "lease_failed": failed["lease"],
                         "route_failed": failed["route"], "seconds": round(time.monotonic() - t, 2)}
        if failed["lease"] or failed["route"]:
            self.say(f"  warning: {failed['lease']} leases and {failed['route']} routes failed")

    # ---------------------------------------------------------------- measuring
    def _read(self, router: str) -> tuple[str, dict[str, coverage.Entry], float]:
        text = probe.route_text(self.tb, router)
        return router, coverage.parse_routes(text, self.net), time.monotonic()

    def _tables(self) -> dict[str, dict[str, coverage.Entry]]:
        with ThreadPoolExecutor(8) as ex:
            return {r: t for r, t, _ in ex.map(self._read, [r.name for r in self.topo.routers])}

    def _settle(self) -> float | None:
        """Seconds until every router held a route for every client (presence; each router's time is
        when its table was read complete, so the poll's own duration does not count); None at timeout."""
        t0 = time.monotonic()
        done: dict[str, float] = {}
        want = len(self.where)
        with ThreadPoolExecutor(8) as ex:
            while True:
                todo = [r.name for r in self.topo.routers if r.name not in done]
                for r, table, t in ex.map(self._read, todo):
                    if coverage.count_present(table, self.where, r, self.proto) == want:
                        done[r] = t - t0
                if len(done) == len(self.topo.routers):
                    return max(done.values())
                if time.monotonic() - t0 > self.c.settle_timeout:
                    return None
                time.sleep(0.2)

    def _coverage(self, deadline: float) -> dict:
        """The full check, repeated until it holds or ``deadline`` (a route may still be changing
        when presence first holds); the result says when it first held."""
        while True:
            cov = coverage.check(self._tables(), self.where, self.neighbour_of, self.proto)
            s = coverage.summary(cov, len(self.where))
            if s["all_routes_everywhere"] or time.monotonic() >= deadline:
                break
            time.sleep(1.0)
        s["checked_at"] = time.monotonic()
        if not s["all_routes_everywhere"]:
            s["lost_where"] = self._lost_where(cov)
        return s

    def _converge(self, point: dict) -> None:
        """Presence everywhere, then the full check: ``settle_s`` until presence, ``complete_s``
        until the full check held (None: not within the settle timeout)."""
        t0 = time.monotonic()
        settle = self._settle()
        point["settle_s"] = None if settle is None else round(settle, 2)
        cv = self._coverage(t0 + self.c.settle_timeout)
        point["complete_s"] = round(cv.pop("checked_at") - t0, 2) if cv["all_routes_everywhere"] else None
        point["coverage"] = cv

    def _lost_where(self, cov: dict[str, coverage.RouterCoverage]) -> list[dict]:
        """For a few missing routes: which layer has them (AP kernel, AP babeld, neighbour babeld, kernel)."""
        rows = []
        views: dict[str, tuple[set[str], set[str]]] = {}
        for rc in cov.values():
            for ip in rc.examples[:2]:
                ap = self.where.get(ip)
                if ap is None:
                    continue
                for r in (ap, rc.router):
                    if r not in views:
                        views[r] = probe.babeld_view(self.tb, r, self.prefix_text)
                ap_kernel = coverage.parse_routes(probe.route_text(self.tb, ap), self.net).get(ip)
                here_kernel = coverage.parse_routes(probe.route_text(self.tb, rc.router), self.net).get(ip)
                rows.append({"ip": ip, "ap": ap, "router": rc.router,
                             "ap_kernel": ap_kernel is not None and ap_kernel.proto == self.proto,
                             "ap_babeld_xroute": ip in views[ap][0],
                             "router_babeld_route": ip in views[rc.router][1],
                             "router_kernel": here_kernel is not None})
                if len(rows) >= 8:
                    return rows
        return rows

    def _snapshot(self) -> dict:
        tb = self.tb
        pids = cost.babeld_pids(tb)
        return {"t": time.monotonic(), "links": probe.read_link_counters(tb),
                "babeld": {r: cost.cpu_seconds(p) for r, p in pids.items()},
                "agents": sum(cost.cpu_seconds(p) for p in self.pids["agents"]),
                "master": sum(cost.cpu_seconds(p) for p in self.pids["master"]),
                "ops": self.master_ops,
                "udp_rcvbuf_errors": sum(probe.udp_rcvbuf_errors(tb, r.name) for r in self.topo.routers)}

    def _roam(self, drivers: Drivers, rate: float, window: float) -> int:
        aps = self.topo.aps
        ips = list(self.where)
        t0 = time.monotonic()
        moved = 0
        pending = 0
        while time.monotonic() - t0 < window or pending:
            if time.monotonic() - t0 < window and time.monotonic() >= t0 + moved / rate:
                ip = self.rng.choice(ips)
                while ip in self._old:
                    ip = self.rng.choice(ips)
                old = self.where[ip]
                new = self.rng.choice([a for a in aps if a != old])
                self.where[ip] = new  # expected location from now on
                drivers.send(new, f"move {self.index_of[ip]}")
                self._old[ip] = old
                moved += 1
                pending += 1
                continue
            got = drivers.get(0.005)
            if got is None:
                if time.monotonic() - t0 > window + 30:
                    raise RuntimeError(f"{pending} roams unanswered")
                continue
            ap, ans = got
            if ans.get("cmd") == "move":
                self.master_ops += 1
                ip = ans.get("ip")
                if ans.get("ok") and ip in self._old:
                    drivers.send(self._old.pop(ip), f"del {ip}")
                else:
                    pending -= 1
                    self._roam_failed(ans)
            elif ans.get("cmd") == "del":
                pending -= 1
                if not ans.get("ok"):
                    self._roam_failed(ans)
            elif ans.get("cmd") == "exit":
                raise RuntimeError(f"client driver at {ap} exited")
        return moved

    def _roam_failed(self, ans: dict) -> None:
        self.roam_failures += 1
        if len(self.roam_errors) < 5:
            self.roam_errors.append(ans)

    def _point(self, drivers: Drivers, rate: float) -> dict:
        tb, topo = self.tb, self.topo
        # babeld's log since the previous point: a step's add (before this call) belongs to this point
        log0 = self.log_prev or probe.babeld_log_counts(tb, self.prefix_text)
        point: dict = {"clients": len(self.where), "roam_rate": rate, "load": list(os.getloadavg())}
        if rate == 0:
            point["add"] = getattr(self, "last_add", None)
            self._converge(point)
            time.sleep(1.0)
        cap = None
        cap_path = self.out / "captures" / f"{self.name}-{len(self.where)}-{rate:g}.pcap"
        link = topo.links[len(topo.links) // 2]
        if self.c.capture:
            cap_path.parent.mkdir(parents=True, exist_ok=True)
            cap = probe.start_capture(tb, link.a, link.ifname_a, cap_path)
            time.sleep(0.3)
        a = self._snapshot()
        self.roam_failures = 0
        self.roam_errors: list[dict] = []
        moved = self._roam(drivers, rate, self.c.window) if rate > 0 else (time.sleep(self.c.window) or 0)
        b = self._snapshot()
        if cap is not None:
            probe.stop_capture(cap)
            packets = probe.read_pcap(cap_path)
            bursts = babelbytes.update_bursts(packets)
            point["capture"] = {"link": f"{link.a}->{link.b}", "seconds": round(b["t"] - a["t"], 2),
                                "tally": babelbytes.tally([p for _, p in packets]),
                                # bursts carrying (nearly) every client: full updates, periodic or not
                                "full_updates": sum(1 for n in bursts if len(self.where) and n >= 0.9 * len(self.where)),
                                "bursts": len(bursts)}
            cap_path.unlink(missing_ok=True)
        dt = b["t"] - a["t"]
        links = probe.per_link(tb, a["links"], b["links"], dt)
        lb = sorted(x["bytes_per_s"] for x in links)
        lp = sorted(x["packets_per_s"] for x in links)
        cpu = sorted(100 * (b["babeld"].get(r, 0) - a["babeld"].get(r, 0)) / dt for r in b["babeld"])
        rss = sorted(cost.rss_kib(p) for p in cost.babeld_pids(tb).values())
        point.update({
            "seconds": round(dt, 2), "roams": moved, "roam_failures": self.roam_failures,
            "roam_errors": self.roam_errors,
            "babel_bytes_per_s_per_link": {"mean": statistics.fmean(lb), "median": statistics.median(lb),
                                           "min": lb[0], "max": lb[-1]},
            "babel_packets_per_s_per_link": {"mean": statistics.fmean(lp), "median": statistics.median(lp),
                                             "min": lp[0], "max": lp[-1]},
            "babeld_cpu_percent": {"median": statistics.median(cpu), "max": cpu[-1], "total": sum(cpu)},
            "babeld_rss_kib": {"median": statistics.median(rss), "max": rss[-1]},
            "agent_cpu_percent_per_ap": 100 * (b["agents"] - a["agents"]) / dt / max(len(topo.aps), 1),
            "master_cpu_percent": 100 * (b["master"] - a["master"]) / dt,
            "master_ops_per_s": (b["ops"] - a["ops"]) / dt,
            "udp_rcvbuf_errors": b["udp_rcvbuf_errors"] - a["udp_rcvbuf_errors"],
        })
        if rate > 0:  # once the roams stopped: does every router have every route at its new AP?
            self._converge(point)
        log1 = probe.babeld_log_counts(tb, self.prefix_text)
        self.log_prev = log1
        point["babeld_log"] = {k: sum(log1[r][k] - log0[r][k] for r in log1)
                               for k in ("enobufs", "repaired_add", "repaired_flush", "late_hellos")}
        cv = point["coverage"]
        self.say(f"  {point['clients']} clients, {rate:g} roams/s: every route everywhere "
                 f"{cv['all_routes_everywhere']} (present after {point['settle_s']} s, complete after "
                 f"{point['complete_s']} s; min {cv['routes_min']}/"
                 f"{cv['expected_routes']}), babel {point['babel_bytes_per_s_per_link']['mean']:.0f} B/s per link, "
                 f"babeld CPU {point['babeld_cpu_percent']['median']:.2f} % median, "
                 f"repaired {point['babeld_log']['repaired_add']}+{point['babeld_log']['repaired_flush']}, "
                 f"ENOBUFS {point['babeld_log']['enobufs']}")
        return point


def run_client_scale(c: ClientScaleSpec, name: str, topo: Topology, out: Path, say: Callable[[str], None]) -> dict:
    return Run(c, name, topo, out, say).run()
