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
    """Gap and control traffic against the interval of the periodic control message:
    babel's hello (l3roam without hand-off) and, where measured, batman-adv's OGM interval."""
    rows = [r for r in summarize_scenarios(runs) if r.kind == "l3roam" and r.handoff is False and r.roams
            and r.client == "talks"]
    bats = sorted((r for r in summarize_scenarios(runs) if r.kind == "batman" and r.roams and r.client == "talks"
                   and r.orig_interval), key=lambda r: r.orig_interval or 0)
    if len(rows) < 2 and len(bats) < 2:
        return None
    rows.sort(key=lambda r: r.hello or 0)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax2 = ax.twinx()
    for series, xs, label, color in ((rows, [r.hello for r in rows], "babel hello", "tab:blue"),
                                     (bats, [(r.orig_interval or 0) / 1000 for r in bats], "batman-adv OGM",
                                      "tab:purple")):
        if not series:
            continue
        ax.plot(xs, [r.down_gap.median for r in series], "o-", color=color, label=f"{label}: median gap (ms)")
        ax.plot(xs, [r.down_gap.p95 for r in series], "s--", color=color, alpha=0.6, label=f"{label}: p95 gap (ms)")
        ax2.plot(xs, [r.control_bps.median for r in series], "^:", color=color, alpha=0.8,
                 label=f"{label}: control B/s per link")
    ax.set_xscale("log")
    ax.set_xlabel("interval of the periodic control message (s): babel hello / batman-adv OGM")
    ax.set_ylabel("handover gap (ms)")
    ax2.set_ylabel("control bytes/s per link (triangles)")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="upper left")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


DESIGN_LABEL = {"l3roam": "l3roam (/32 per client in babel)", "batman": "batman-adv (MAC per client in its TT)"}


def _control(c: dict) -> tuple[float, float]:
    """Control bytes and packets per s per link of a cost point (babel, or batman-adv's control frames)."""
    if "control_bytes_per_s_per_link" in c:
        return c["control_bytes_per_s_per_link"], c["control_packets_per_s_per_link"]
    return c["babel_bytes_per_s_per_link"], c["babel_packets_per_s_per_link"]


def _designs(costs: list[dict]) -> dict[str, tuple[list[dict], list[dict]]]:
    out = {}
    for d in ("l3roam", "batman"):
        mine = [c for c in costs if c.get("design", "l3roam") == d and not c.get("error")]
        pts = sorted((c for c in mine if not c.get("roam_rate")), key=lambda c: c["clients"])
        roam = sorted((c for c in mine if c.get("roam_rate")), key=lambda c: c["roam_rate"])
        if pts:
            out[d] = (pts, roam)
    return out


def control_vs_clients(costs: list[dict], path: Path) -> Path | None:
    by = _designs(costs)
    if not by:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    used = False
    for d, (pts, roam) in by.items():
        xs = [max(c["clients"], 1) for c in pts]
        axes[0].plot(xs, [_control(c)[0] for c in pts], "o-", label=f"{DESIGN_LABEL[d]}: bytes/s")
        axes[0].plot(xs, [_control(c)[1] for c in pts], "s--", label=f"{DESIGN_LABEL[d]}: packets/s")
        if roam:
            used = True
            base = [c for c in pts if c["clients"] == roam[0]["clients"]]
            rs = ([0.0] if base else []) + [c["roam_rate"] for c in roam]
            allp = base[-1:] + roam
            axes[1].plot(rs, [_control(c)[0] for c in allp], "o-",
                         label=f"{DESIGN_LABEL[d]} ({roam[0]['clients']} clients)")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("clients (0 plotted at 1)")
    axes[0].set_ylabel("control traffic per link")
    axes[0].legend(fontsize=7)
    axes[0].grid(True, which="both", alpha=0.3)
    if used:
        axes[1].set_xlabel("roams per second")
        axes[1].set_ylabel("control bytes/s per link")
        axes[1].legend(fontsize=7)
        axes[1].grid(True, alpha=0.3)
    else:
        axes[1].axis("off")
    return _save(fig, path)


def table_vs_clients(costs: list[dict], path: Path) -> Path | None:
    by = _designs(costs)
    if not by:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for d, (pts, _) in by.items():
        xs = [max(c["clients"], 1) for c in pts]
        what = "routes" if d == "l3roam" else "TT entries"
        ax.plot(xs, [c["table_max"] for c in pts], "o-", label=f"{DESIGN_LABEL[d]}: largest ({what})")
        ax.plot(xs, [c["table_median"] for c in pts], "s--", label=f"{DESIGN_LABEL[d]}: median ({what})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("clients (0 plotted at 1)")
    ax.set_ylabel("entries per router")
    ax.legend(fontsize=7)
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
