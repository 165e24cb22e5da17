"""The application experiment: every scenario at every pace, repeated, on fresh testbeds.

Called by ``l3roam.experiment.runner.Runner`` when the experiment file has an
``apps:`` section.  Per repetition, pace and scenario: a testbed with the
design running (``l3roam.experiment.bringup``), the application probes across
the pace's roams (``l3roam.apps.session``), then, with the testbed down,
the figures (``l3roam.apps.analysis``).  ``runs.json`` gets one record per
run (scenario, pace, repetition, the machine's load, the roams, the
figures per application); ``--repetition N`` runs one repetition only and
merges it into what the output directory already holds, so a long
experiment can be split into several shorter holds of the machine.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from l3roam.apps.analysis import analyse_run
from l3roam.apps.media import Media
from l3roam.apps.session import run_apps
from l3roam.apps.spec import PaceSpec
from l3roam.experiment.spec import ScenarioSpec


def run_name(sc: ScenarioSpec, pace: PaceSpec) -> str:
    return f"{sc.name}@{pace.name}"


def run_apps_experiment(runner, meta: dict, repetition: int | None = None) -> list[dict]:
    """Run (one or all repetitions of) the application experiment; returns every run record."""
    spec = runner.spec
    apps = spec.apps
    out: Path = runner.out
    media = Media(out / "media").prepare()
    runs_path = out / "runs.json"
    runs: list[dict] = json.loads(runs_path.read_text()) if repetition and runs_path.exists() else []
    reps = [repetition - 1] if repetition else list(range(spec.roams.repetitions))
    plan = [(rep, pace, sc) for rep in reps for pace in apps.paces for sc in spec.scenarios
            if not pace.scenarios or sc.name in pace.scenarios]
    for n, (rep, pace, sc) in enumerate(plan, start=1):
        name = run_name(sc, pace)
        runs = [r for r in runs if not (r["scenario"] == sc.name and r.get("pace") == pace.name
                                        and r["rep"] == rep + 1)]
        if sc.kind == "batman" and not meta["batman_adv"]:
            meta["skipped"].append(f"{sc.name}: batman-adv absent ({meta['batman_adv_detail']})")
            runner.say(f"({n}/{len(plan)}) {name}: skipped, batman-adv absent")
            continue
        runner.say(f"({n}/{len(plan)}) {name} ({sc.kind}), repetition {rep + 1}")
        try:
            rec = run_one(runner, sc, pace, rep, media)
        except Exception as exc:  # one failed run is recorded, the experiment carries on
            runner.say(f"  FAILED: {type(exc).__name__}: {exc}")
            rec = {"scenario": sc.name, "kind": sc.kind, "pace": pace.name, "rep": rep + 1,
                   "error": f"{type(exc).__name__}: {exc}", "roams": []}
        runs.append(rec)
        runs_path.write_text(json.dumps(runs, indent=1))
    return runs


def run_one(runner, sc: ScenarioSpec, pace: PaceSpec, rep: int, media: Media) -> dict:
    from l3roam.experiment.bringup import ScenarioBed
    from l3roam.experiment.runner import scenario_topology
    from l3roam.testbed.schedule import plan_moves

    spec = runner.spec
    topo = scenario_topology(runner.base, spec.prefix, sc.hello, runner.tb_path.parent)
    client = topo.clients[0]
    seed = spec.roams.seed + rep
    moves = (plan_moves(spec.roams.schedule, client.name, topo.aps, client.first_ap, pace.count, pace.interval,
                        seed=seed) if pace.count else [])
    workdir = runner.out / "runs" / f"{sc.name}@{pace.name}-{rep + 1}"
    load0 = os.getloadavg()
    with ScenarioBed(topo, sc, runner.say) as bed:
        info = run_apps(bed.tb, client.name, moves, workdir, spec.apps, media, pace.seconds,
                        on_move=bed.on_move, say=runner.say)
        addresses = list(bed.addresses)
        ip0 = bed.ip0
    load1 = os.getloadavg()
    t = time.monotonic()
    roams_at = [m["t_start"] for m in info["moves"]]
    figures = analyse_run(workdir, roams_at, spec.apps.jitter_buffer_ms, topo.spec.internet.uplinks)
    roams = [{"roam": i + 1, "src": m["src"], "dst": m["dst"], "at": m["t_start"],
              "move_ms": round((m["t_end"] - m["t_start"]) * 1000, 1),
              "addr_after": addresses[i] if i < len(addresses) else None} for i, m in enumerate(info["moves"])]
    rec = {"scenario": sc.name, "kind": sc.kind, "handoff": sc.handoff if sc.kind == "l3roam" else None,
           "hello": topo.hello_interval, "pace": pace.name, "interval": pace.interval if pace.count else None,
           "rep": rep + 1, "seed": seed, "ip_before": ip0, "exits": list(topo.exits),
           "t_clients": info["t_clients"], "duration": info["duration"],
           "load": [round(x, 2) for x in load0 + load1], "roams": roams, "apps": figures,
           "dir": str(workdir.relative_to(runner.out))}
    v = {k: figures[k]["verdict"] for k in ("hls", "rtmp", "sip", "download") if k in figures}
    runner.say(f"  verdicts {v}; analysed in {time.monotonic() - t:.1f} s")
    return rec
