"""PNG figures of an experiment (matplotlib, Agg backend; imported only by the report).

Each function takes already-loaded data and a path, writes one PNG and
returns the path (or None when there is nothing to draw).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from l3roam.experiment.render import summarize_scenarios  # noqa: E402
from l3roam.measure.stats import cdf, percentile  # noqa: E402

DPI = 110


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def timeline(runs: list[dict], out_dir: Path, path: Path, window_ms: float = 600.0) -> Path | None:
    """Per scenario, downstream (and upstream) arrivals around the roam with the median gap."""
    picks = []
    seen = set()
    for run in runs:
        if run["scenario"] in seen or run.get("error") or not run.get("roams"):
            continue
        seen.add(run["scenario"])
        roams = [r for r in run["roams"] if r.get("down_gap_ms") is not None]
        if not roams:
            continue
        gaps = [r["down_gap_ms"] for r in roams]
        med = percentile(gaps, 50)
        roam = min(roams, key=lambda r: abs(r["down_gap_ms"] - med))
        picks.append((run, roam))
    if not picks:
        return None
    fig, axes = plt.subplots(len(picks), 1, figsize=(8, 1.9 * len(picks) + 0.6), sharex=True, squeeze=False)
    for ax, (run, roam) in zip(axes[:, 0], picks):
        d = out_dir / run["dir"]
        t0 = roam["at"]
        for stem, color, y in (("down", "tab:blue", 1.0), ("up", "tab:green", 0.0)):
            sp, rp = d / f"{stem}-send.json", d / f"{stem}-recv.json"
            if not sp.exists() or not rp.exists():
                continue
            sent = json.loads(sp.read_text())["sent"]
            got = json.loads(rp.read_text())["arrivals"]
            rx = [(a[2] / 1e9 - t0) * 1000 for a in got]
            rx = [x for x in rx if -window_ms / 3 <= x <= window_ms]
            received = {a[0] for a in got}
            lost = [(s[1] / 1e9 - t0) * 1000 for s in sent if s[0] not in received]
            lost = [x for x in lost if -window_ms / 3 <= x <= window_ms]
            ax.plot(rx, [y] * len(rx), "|", color=color, markersize=10, label=f"{stem} received")
            if lost:
                ax.plot(lost, [y + 0.3] * len(lost), "|", color="tab:red", markersize=7,
                        label=f"{stem} lost (send time)")
        ax.axvline(0, color="k", lw=0.8)
        ax.axvline(roam["move_ms"], color="k", lw=0.8, ls=":")
        ax.set_yticks([0, 1], ["up", "down"])
        ax.set_ylim(-0.5, 1.6)
        ax.set_title(f"{run['scenario']}: roam {roam['roam']} {roam['src']}→{roam['dst']}, "
                     f"gap {roam['down_gap_ms']:.0f} ms down / {roam.get('up_gap_ms') or 0:.0f} ms up", fontsize=9)
    axes[-1, 0].set_xlabel("ms after the old AP lost the station (dotted: the new AP has it)")
    return _save(fig, path)


def gap_cdf(runs: list[dict], path: Path) -> Path | None:
    rows = summarize_scenarios(runs)
    if not rows:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, key, name in ((axes[0], "down_gap_ms", "downstream"), (axes[1], "up_gap_ms", "upstream")):
        for r in rows:
            vals = [x[key] for run in runs if run["scenario"] == r.name and not run.get("error")
                    for x in run["roams"] if x.get(key) is not None]
            if not vals:
                continue
            xs, ys = cdf(vals)
            ax.step([max(x, 1) for x in xs], ys, where="post", label=r.name)
        ax.set_xscale("log")
        ax.set_xlabel(f"{name} gap per roam (ms, log)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("fraction of roams")
    axes[1].legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def hello_tradeoff(runs: list[dict], path: Path) -> Path | None:
    rows = [r for r in summarize_scenarios(runs) if r.kind == "l3roam" and r.handoff is False and r.roams]
    if len(rows) < 2:
        return None
    rows.sort(key=lambda r: r.hello or 0)
    fig, ax = plt.subplots(figsize=(6, 4))
    hs = [r.hello for r in rows]
    ax.plot(hs, [r.down_gap.median for r in rows], "o-", label="median gap (ms)")
    ax.plot(hs, [r.down_gap.p95 for r in rows], "s--", label="p95 gap (ms)")
    ax.set_xscale("log")
    ax.set_xlabel("babel hello interval (s)")
    ax.set_ylabel("handover gap (ms)")
    ax2 = ax.twinx()
    ax2.plot(hs, [r.control_bps.median for r in rows], "^-", color="tab:red", label="babel B/s per link")
    ax2.set_ylabel("babel bytes/s per link", color="tab:red")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="upper center")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def control_vs_clients(costs: list[dict], path: Path) -> Path | None:
    pts = sorted((c for c in costs if not c.get("roam_rate")), key=lambda c: c["clients"])
    roam = sorted((c for c in costs if c.get("roam_rate")), key=lambda c: c["roam_rate"])
    if not pts:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    xs = [max(c["clients"], 1) for c in pts]
    axes[0].plot(xs, [c["babel_bytes_per_s_per_link"] for c in pts], "o-", label="bytes/s")
    axes[0].plot(xs, [c["babel_packets_per_s_per_link"] for c in pts], "s--", label="packets/s")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("clients (host routes; 0 plotted at 1)")
    axes[0].set_ylabel("babel traffic per link")
    axes[0].legend(fontsize=8)
    axes[0].grid(True, which="both", alpha=0.3)
    if roam:
        base = [c for c in pts if c["clients"] == roam[0]["clients"]]
        rs = ([0.0] if base else []) + [c["roam_rate"] for c in roam]
        allp = base[-1:] + roam
        axes[1].plot(rs, [c["babel_bytes_per_s_per_link"] for c in allp], "o-", label="babel B/s per link")
        axes[1].set_xlabel(f"roams per second ({roam[0]['clients']} clients)")
        axes[1].set_ylabel("babel bytes/s per link")
        ax2 = axes[1].twinx()
        ax2.plot(rs, [c["babeld_cpu_percent_per_router"] for c in allp], "s--", color="tab:red")
        ax2.set_ylabel("babeld CPU % per router", color="tab:red")
        axes[1].grid(True, alpha=0.3)
    else:
        axes[1].axis("off")
    return _save(fig, path)


def table_vs_clients(costs: list[dict], path: Path) -> Path | None:
    pts = sorted((c for c in costs if not c.get("roam_rate")), key=lambda c: c["clients"])
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [max(c["clients"], 1) for c in pts]
    ax.plot(xs, [c["table_max"] for c in pts], "o-", label="largest table (routes)")
    ax.plot(xs, [c["table_median"] for c in pts], "s--", label="median table (routes)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("clients (0 plotted at 1)")
    ax.set_ylabel("routes per router")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def scale_plot(scale: list[dict], path: Path) -> Path | None:
    ok = sorted((s for s in scale if s.get("ok")), key=lambda s: s["routers"])
    if not ok:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    xs = [s["routers"] for s in ok]
    axes[0].plot(xs, [s["converge_s"] for s in ok], "o-", label="converged (s)")
    axes[0].plot(xs, [s["build_s"] for s in ok], "s--", label="built (s)")
    axes[0].set_xlabel("routers")
    axes[0].set_ylabel("seconds")
    axes[0].legend(fontsize=8)
    axes[0].grid(True, alpha=0.3)
    axes[1].plot(xs, [s["babeld_rss_mib_total"] for s in ok], "o-", label="babeld RSS, all (MiB)")
    axes[1].plot(xs, [s["babeld_cpu_percent_total"] for s in ok], "s--", label="babeld CPU, all (% of a core)")
    axes[1].set_xlabel("routers")
    axes[1].legend(fontsize=8)
    axes[1].grid(True, alpha=0.3)
    return _save(fig, path)
