"""Run an experiment: each scenario and repetition on a fresh testbed, then costs and scale.

Writes into the output directory (the report reads nothing else):

- ``meta.json``: machine, kernel, babeld, batman-adv availability, the spec;
- ``runs.json``: one record per scenario and repetition (per-roam figures,
  TCP result, control traffic and CPU during the run);
- ``roams.csv``: the same per-roam figures flat, one line per roam;
- ``runs/<scenario>-<rep>/``: the probes' raw files (send/receive times);
- ``costs.json`` / ``costs.csv`` and ``scale.json`` / ``scale.csv``.

Progress goes to stdout, one line per step with the elapsed time.
Side effects: testbeds in namespaces with the experiment's prefix.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import platform
import re
import subprocess
import time
from pathlib import Path

from l3roam.experiment import batman
from l3roam.experiment import costs as cost
from l3roam.experiment import designs
from l3roam.experiment.spec import ExperimentSpec, ScenarioSpec
from l3roam.measure.analysis import tcp_alive_at
from l3roam.testbed import topology
from l3roam.testbed.session import run_roams
from l3roam.testbed.topology import Topology

ROAM_FIELDS = ["scenario", "testbed", "kind", "handoff", "hello", "client", "orig_interval", "roam_model", "rep", "seed",
               "roam", "src", "dst", "hops", "at", "move_ms",
               "down_gap_ms", "down_lost", "down_sent", "down_dup", "down_reord",
               "up_gap_ms", "up_lost", "up_sent", "up_dup", "up_reord", "tcp_alive", "addr_after"]


class Progress:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, text: str) -> None:
        s = time.monotonic() - self.t0
        print(f"[{int(s // 60):2d}:{int(s % 60):02d}] {text}", flush=True)


def machine_info() -> dict:
    from l3roam.babel.version import installed_version

    def first_line(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    ok, why = designs.batman_available()
    seg6, seg6_why = designs.seg6_available()
    from l3roam.vm.uml import ENV_HOST_KERNEL, ENV_VM
    return {
        "vm": os.environ.get(ENV_VM) or None, "host_kernel": os.environ.get(ENV_HOST_KERNEL) or platform.release(),
        "hostname": platform.node(), "kernel": platform.release(), "cpu": cpu, "cores": os.cpu_count(),
        "memory_mib": mem_kib // 1024, "python": platform.python_version(),
        "babeld": ".".join(map(str, installed_version())), "os": first_line(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
        "dnsmasq": first_line(["dnsmasq", "--version"]).split("  ")[0], "batman_adv": ok, "batman_adv_detail": why,
        "batman_adv_version": batman.module_version(), "seg6": seg6, "seg6_detail": seg6_why,
        "handoff_encapsulation": "SRv6 (seg6)" if seg6 else "IPv4-in-IPv6 tunnels (ip6tnl; no SRv6 in this kernel)",
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }


def apps_tool_versions() -> dict:
    """First line of each application tool's version output."""
    out = {}
    for name, argv in (("nginx", ["nginx", "-v"]), ("ffmpeg", ["ffmpeg", "-version"]), ("sipp", ["sipp", "-v"]),
                       ("curl", ["curl", "--version"])):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            m = re.search(r"\d+\.\d+(\.\d+)?", r.stdout + r.stderr)
            out[name] = f"{name} {m.group(0) if m else '?'}"
        except (OSError, subprocess.TimeoutExpired):
            out[name] = "missing"
    return out


def scenario_topology(base: Topology, prefix: str, hello: float | None, base_dir: Path,
                      server: str | None = None, server_hops: int | None = None) -> Topology:
    """The experiment's testbed for one scenario: its hello interval, its traffic server.

    Moving the server (``server`` or ``server_hops``) leaves the lease master
    where the testbed put it, so only the traffic's path changes.
    """
    spec = dataclasses.replace(base.spec, prefix=prefix)
    if hello is not None:
        spec = dataclasses.replace(spec, babel=dataclasses.replace(spec.babel, hello_interval=hello))
    if server is not None or server_hops is not None:
        spec = dataclasses.replace(spec, server=server, server_hops=server_hops, master=base.master)
    return topology.build(spec, base_dir)


class Runner:
    def __init__(self, spec: ExperimentSpec, spec_path: Path, out: Path, say: Progress | None = None,
                 repetition: int | None = None, meshes: tuple[str, ...] = (),
                 lock: Path | None = None, lock_hold: float = 780.0):
        self.spec = spec
        self.repetition = repetition  # run only this repetition (1-based), merged into ``out``
        self.meshes = meshes  # client-scale meshes to run (empty: all)
        self.spec_path = spec_path
        self.out = out
        self.say = say or Progress()
        self.lock = lock  # held (flock) while scenarios run: timing-sensitive, one at a time per machine
        self.lock_hold = lock_hold
        self._lock_file = None
        self._held_since = 0.0
        self._last_scenario_s = 0.0
        tb_path = spec.testbed if spec.testbed.is_absolute() else spec_path.parent / spec.testbed
        self.tb_path = tb_path
        self.base = topology.load(tb_path, prefix=spec.prefix)
        self._bases: dict[Path, Topology] = {tb_path: self.base}

    def testbed_of(self, sc: ScenarioSpec) -> tuple[Path, Topology]:
        if sc.testbed is None:
            return self.tb_path, self.base
        path = sc.testbed if sc.testbed.is_absolute() else self.spec_path.parent / sc.testbed
        if path not in self._bases:
            self._bases[path] = topology.load(path, prefix=self.spec.prefix)
        return path, self._bases[path]

    # ------------------------------------------------------------------ scenarios

    def run_all(self, scale: bool = True) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        meta = machine_info()
        meta["title"] = self.spec.title
        meta["experiment_file"] = str(self.spec_path)
        meta["experiment"] = self.spec_path.read_text()
        meta["testbed"] = self.tb_path.read_text()
        meta["topology"] = {"routers": len(self.base.routers), "links": len(self.base.links),
                            "aps": list(self.base.aps), "server": self.base.server, "master": self.base.master,
                            "hops": {ap: self.base.hops(self.base.aps[0])[ap] for ap in self.base.aps},
                            "placement": self.base.placement(), "placement_text": self.base.placement_text(),
                            "hello": self.base.hello_interval, "update": self.base.update_interval}
        meta["testbeds"] = {}
        for sc in self.spec.scenarios:
            path, t = self.testbed_of(sc)
            meta["testbeds"][path.stem] = {
                "file": str(path.relative_to(self.spec_path.parent)) if path.is_relative_to(self.spec_path.parent)
                else str(path), "routers": len(t.routers), "links": len(t.links), "aps": list(t.aps),
                "server": t.server, "hops": {a: {b: t.hops(a)[b] for b in t.aps if b != a} for a in t.aps}}
        meta["skipped"] = []
        (self.out / "meta.json").write_text(json.dumps(meta, indent=1))
        self.say(f"mesh: {len(self.base.routers)} routers, {len(self.base.links)} links, APs "
                 f"{', '.join(self.base.aps)}; {self.base.placement_text()}")
        self.say(f"machine: {meta['cores']} cores, kernel {meta['kernel']}, babeld {meta['babeld']}; "
                 f"batman-adv: {'yes' if meta['batman_adv'] else 'absent (' + meta['batman_adv_detail'] + ')'}")
        if self.spec.apps is not None:
            return self._run_apps(meta)
        runs: list[dict] = []
        scenarios = list(self.spec.scenarios)
        if meta["batman_adv"] and not any(s.kind == "batman" for s in scenarios):
            meta["skipped"].append("batman-adv is available but its scenario is not implemented yet")
        total = len(scenarios) * self.spec.roams.repetitions
        n = 0
        for rep in range(self.spec.roams.repetitions):
            for sc in scenarios:
                n += 1
                if sc.kind == "batman" and not meta["batman_adv"]:
                    meta["skipped"].append(f"{sc.name}: batman-adv absent ({meta['batman_adv_detail']})")
                    self.say(f"({n}/{total}) {sc.name}: skipped, batman-adv absent")
                    continue
                self.say(f"({n}/{total}) scenario {sc.name} ({sc.kind}), repetition {rep + 1}")
                try:
                    with self._locked():
                        rec = self.run_scenario(sc, rep)
                except Exception as exc:  # one failed run is recorded, the experiment carries on
                    self.say(f"  FAILED: {type(exc).__name__}: {exc}")
                    rec = {"scenario": sc.name, "kind": sc.kind, "rep": rep, "error": f"{type(exc).__name__}: {exc}",
                           "roams": []}
                runs.append(rec)
                self._write_runs(runs)
        meta["batman_adv_version"] = batman.module_version() or meta.get("batman_adv_version")  # loaded by now
        self.release_lock()
        (self.out / "meta.json").write_text(json.dumps(meta, indent=1))
        if self.spec.costs.enabled:
            self.run_costs()
        if self.spec.scale.enabled and scale:
            self.run_scale()
        if self.spec.client_scale.enabled:
            self.run_client_scale()
        meta["finished_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        meta["seconds"] = round(time.monotonic() - self.say.t0)
        (self.out / "meta.json").write_text(json.dumps(meta, indent=1))
        return meta

    def _run_apps(self, meta: dict) -> dict:
        from l3roam.experiment.apps_runner import run_apps_experiment

        old = self.out / "meta.json.parts"
        parts = json.loads(old.read_text()) if self.repetition and old.exists() else []
        meta["apps_tools"] = apps_tool_versions()
        run_apps_experiment(self, meta, self.repetition)
        parts.append({"repetition": self.repetition or "all", "date_utc": meta["date_utc"],
                      "seconds": round(time.monotonic() - self.say.t0), "load_end": os.getloadavg()})
        old.write_text(json.dumps(parts))
        meta["parts"] = parts
        meta["finished_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        meta["seconds"] = sum(p["seconds"] for p in parts)
        (self.out / "meta.json").write_text(json.dumps(meta, indent=1))
        return meta

    def _locked(self):
        """Hold ``self.lock`` for the next scenario; keep it across scenarios within ``lock_hold`` seconds.

        flock(2) is not fair: a run that let go after every scenario waited for
        the lock again each time behind every other waiter.  Within the hold
        budget (default 13 min, under the machine's 15 min rule) the next
        scenario starts at once if the last one's duration still fits.
        """
        import contextlib
        import fcntl

        @contextlib.contextmanager
        def hold():
            if self.lock is None:
                yield
                return
            now = time.monotonic()
            if self._lock_file is not None and now - self._held_since + self._last_scenario_s > self.lock_hold:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                self._lock_file.close()
                self._lock_file = None
                self.say(f"  released {self.lock} after {now - self._held_since:.0f} s")
            if self._lock_file is None:
                f = open(self.lock, "a")
                fcntl.flock(f, fcntl.LOCK_EX)
                waited = time.monotonic() - now
                self._lock_file, self._held_since = f, time.monotonic()
                self.say(f"  holding {self.lock} (waited {waited:.0f} s; load {os.getloadavg()[0]:.2f})")
            t = time.monotonic()
            try:
                yield
            finally:
                self._last_scenario_s = time.monotonic() - t
        return hold()

    def release_lock(self) -> None:
        import fcntl

        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _write_runs(self, runs: list[dict]) -> None:
        (self.out / "runs.json").write_text(json.dumps(runs, indent=1))
        with open(self.out / "roams.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=ROAM_FIELDS, extrasaction="ignore")
            w.writeheader()
            for run in runs:
                for r in run.get("roams", []):
                    w.writerow({**{k: run.get(k) for k in ("scenario", "testbed", "kind", "handoff", "hello", "client", "orig_interval", "roam_model", "rep", "seed")}, **r})

    def run_scenario(self, sc: ScenarioSpec, rep: int) -> dict:
        from l3roam.experiment.bringup import ScenarioBed
        from l3roam.testbed.schedule import plan_moves

        tb_path, base = self.testbed_of(sc)
        topo = scenario_topology(base, self.spec.prefix, sc.hello, tb_path.parent, sc.server, sc.server_hops)
        hello = topo.hello_interval
        client = topo.clients[0]
        seed = self.spec.roams.seed + rep
        load0 = list(os.getloadavg())
        workdir = self.out / "runs" / f"{sc.name}-{rep + 1}"
        with ScenarioBed(topo, sc, self.say) as bed:
            tb, conv, ip0 = bed.tb, bed.conv, bed.ip0
            r = self.spec.roams
            model = sc.roam_model or r.model
            moves = plan_moves(r.schedule, client.name, topo.aps, client.first_ap, r.count, r.interval, seed=seed)
            agent_pids = bed.agent_pids
            snap0 = cost.Snapshot.take(tb, time.monotonic(), agent_pids)
            t = self.spec.traffic
            talks = sc.client == "talks"
            res = run_roams(tb, client.name, ip0, moves, workdir, on_move=bed.on_move, rate=t.rate,
                            upstream=t.upstream and talks, tcp=t.tcp and talks, roam_model=model,
                            gap=r.gap if model == r.model else 0.0, phase_seed=seed)
            snap1 = cost.Snapshot.take(tb, time.monotonic(), agent_pids)
            self.say(f"  traffic done ({res.received_down}/{res.sent_down} probes down); reading tables")
            tables = cost.table_sizes(tb)
            build_s = tb.build_seconds
            bat_info = bed.batman_records()
        addresses, redhcp_ms = bed.addresses, bed.redhcp_ms
        roams = []
        hops = {ap: topo.hops(ap) for ap in topo.aps}
        for i, m in enumerate(res.moves):
            d = res.down[i] if i < len(res.down) else None
            u = res.up[i] if i < len(res.up) else None
            roams.append({
                "roam": i + 1, "src": m.src, "dst": m.dst, "hops": hops[m.src][m.dst], "at": m.t_start,
                "move_ms": round((m.t_end - m.t_start) * 1000, 1),
                "down_gap_ms": d.gap_ms if d else None, "down_lost": d.lost if d else None,
                "down_sent": d.sent if d else None, "down_dup": d.duplicates if d else None,
                "down_reord": d.reordered if d else None,
                "up_gap_ms": u.gap_ms if u else None, "up_lost": u.lost if u else None,
                "up_sent": u.sent if u else None, "up_dup": u.duplicates if u else None,
                "up_reord": u.reordered if u else None,
                "tcp_alive": tcp_alive_at(res.tcp, m.t_start),
                "addr_after": addresses[i] if i < len(addresses) else None,
                "redhcp_ms": redhcp_ms[i] if i < len(redhcp_ms) else None,
            })
        rates = cost.rates(snap0, snap1, len(topo.links), len(topo.routers), len(agent_pids))
        rec = {"scenario": sc.name, "testbed": tb_path.stem, "load_before": load0, "load_after": list(os.getloadavg()),
               "kind": sc.kind, "handoff": sc.handoff if sc.kind == "l3roam" else None,
               "hello": hello if sc.kind != "batman" else None, "client": sc.client, "roam_model": model,
               "talk_delay": sc.talk_delay if sc.client == "later" else None,
               "orig_interval": (sc.orig_interval or batman.DEFAULT_ORIG_INTERVAL_MS) if sc.kind == "batman" else None,
               "batman": bat_info, "dat": sc.dat if sc.kind == "batman" else None, "rep": rep + 1, "seed": seed,
               "converge_s": round(conv, 2), "ip_before": ip0,
               "server": topo.server, "placement": topo.placement(), "placement_text": topo.placement_text(),
               "build_s": round(build_s or 0, 2),
               "tcp": res.tcp, "sent_down": res.sent_down, "received_down": res.received_down,
               "sent_up": res.sent_up, "received_up": res.received_up, "control": rates,
               "tables": tables, "roams": roams, "dir": str(workdir.relative_to(self.out))}
        gaps = sorted(x["down_gap_ms"] for x in roams if x["down_gap_ms"] is not None)
        tcp_ok = res.tcp.get("alive") if res.tcp else None
        self.say(f"  gaps (down) {', '.join(f'{g:.0f}' for g in gaps)} ms; TCP "
                 f"{'alive' if tcp_ok else 'broken' if res.tcp else 'off'}; control "
                 f"{rates['control_bytes_per_s_per_link']:.0f} B/s per link")
        return rec

    # ------------------------------------------------------------------ costs
    def run_costs(self) -> None:
        from l3roam.experiment.clientcost import run_costs

        topo = scenario_topology(self.base, self.spec.prefix, self.spec.costs.hello, self.tb_path.parent)
        designs_ = self.spec.costs.designs
        if "l3roam" in designs_:
            run_costs(self.spec.costs, topo, self.out, self.say)
        if "batman" in designs_:
            from l3roam.experiment.batmancost import run_batman_costs

            try:
                pts = run_batman_costs(self.spec.costs, topo, self.say)
            except Exception as exc:  # recorded; the experiment carries on
                self.say(f"  batman-adv costs FAILED: {type(exc).__name__}: {exc}")
                pts = [{"design": "batman", "error": f"{type(exc).__name__}: {exc}"}]
            path = self.out / "costs.json"
            old = json.loads(path.read_text()) if path.exists() and "l3roam" in designs_ else []
            allp = [{"design": "l3roam", **x} if "design" not in x else x for x in old] + pts
            path.write_text(json.dumps(allp, indent=1))
            fields = list(dict.fromkeys(k for x in allp for k in x))
            with open(self.out / "costs.csv", "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
                w.writeheader()
                w.writerows(allp)

    def run_scale(self) -> None:
        from l3roam.experiment.scale import run_scale

        run_scale(self.spec.scale, self.spec.prefix, self.spec_path.parent, self.out, self.say)

    def run_client_scale(self) -> None:
        from l3roam.experiment.clientscale import run_client_scale

        for m in self.spec.client_scale.meshes:
            if self.meshes and m.name not in self.meshes:
                continue
            path = m.testbed if m.testbed.is_absolute() else self.spec_path.parent / m.testbed
            topo = topology.load(path, prefix=self.spec.prefix)
            run_client_scale(self.spec.client_scale, m.name, topo, self.out, self.say)
