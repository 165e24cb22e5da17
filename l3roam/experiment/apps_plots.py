"""PNG figures of the application experiment (matplotlib, Agg; imported only by the report).

Each function reads the first repetition's raw files of every scenario and
pace (``runs/<scenario>@<pace>-1/``), draws one figure and returns its path,
or None when there is nothing to draw.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from l3roam.apps.player import playback  # noqa: E402
from l3roam.experiment.apps_render import groups  # noqa: E402

DPI = 100


def _first(runs: list[dict], with_roams: bool = True) -> list[dict]:
    out = []
    for _, _, rs in groups(runs):
        ok = [r for r in rs if not r.get("error") and r.get("apps") and (r["roams"] or not with_roams)]
        if ok:
            out.append(min(ok, key=lambda r: r["rep"]))
    return out


def _load(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _roam_lines(ax, run: dict) -> None:
    for x in run["roams"]:
        ax.axvline(x["at"] - run["t_clients"], color="k", lw=0.7, ls=":")


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def hls_timeline(runs: list[dict], out: Path, path: Path) -> Path | None:
    picks = [(r, _load(out / r["dir"] / "hls.json")) for r in _first(runs, with_roams=False)]
    picks = [(r, h) for r, h in picks if h]
    if not picks:
        return None
    fig, axes = plt.subplots(len(picks), 1, figsize=(9, 1.3 * len(picks) + 0.7), sharex=True, squeeze=False)
    for ax, (run, h) in zip(axes[:, 0], picks):
        t0 = run["t_clients"]
        ts = [h["t_start"] + k * 0.1 for k in range(int((h["t_end"] - h["t_start"]) / 0.1))]
        ahead = [playback([d for d in h["seg_done"] if d <= t], h["segment_s"], t).buffer_ahead() for t in ts]
        ax.plot([t - t0 for t in ts], ahead, color="tab:blue", lw=1)
        pb = playback(h["seg_done"], h["segment_s"], h["t_end"])
        for a, b in pb.stalls:
            ax.axvspan(a - t0, b - t0, color="tab:red", alpha=0.4)
        for q in h["requests"]:
            if not q["ok"]:
                ax.plot([q["t1"] - t0], [0.3], "x", color="tab:red")
        _roam_lines(ax, run)
        ax.set_ylim(0, h["max_buffer_s"] + 1)
        ax.set_ylabel("s ahead", fontsize=8)
        ax.set_title(f"{run['scenario']}@{run['pace']}: {len(pb.stalls)} rebuffers, {pb.stall_s:.1f} s stalled",
                     fontsize=9)
    axes[-1, 0].set_xlabel("s since the clients started (dotted: roams; x: failed request)")
    return _save(fig, path)


def _fps(samples: list[list[float]], t0: float) -> tuple[list[float], list[float]]:
    bins: dict[int, float] = {}
    last = None
    for x in samples:
        t, n = x[0], x[1]
        if last is not None and n > last[1]:
            bins[int(t - t0)] = bins.get(int(t - t0), 0) + n - last[1]
        last = (t, n)
    if not bins:
        return [], []
    ks = range(min(bins), max(bins) + 1)
    return [k + 0.5 for k in ks], [bins.get(k, 0) for k in ks]


def rtmp_timeline(runs: list[dict], out: Path, path: Path) -> Path | None:
    picks = _first(runs)
    if not picks:
        return None
    fig, axes = plt.subplots(len(picks), 1, figsize=(9, 1.3 * len(picks) + 0.7), sharex=True, squeeze=False)
    drew = False
    for ax, run in zip(axes[:, 0], picks):
        for name, color, label in (("rtmp-down-play.json", "tab:blue", "down (player)"),
                                   ("rtmp-up-recv.json", "tab:green", "up (server)")):
            d = _load(out / run["dir"] / name)
            if d:
                xs, ys = _fps(d["samples"], run["t_clients"])
                ax.step(xs, ys, where="mid", color=color, lw=1, label=label)
                drew = True
        _roam_lines(ax, run)
        ax.set_ylabel("frames/s", fontsize=8)
        ax.set_title(f"{run['scenario']}@{run['pace']}", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="lower left")
    axes[-1, 0].set_xlabel("s since the clients started (dotted: roams)")
    return _save(fig, path) if drew else None


def sip_loss(runs: list[dict], path: Path) -> Path | None:
    cols = []
    for scen, pace, rs in groups(runs):
        ok = [r for r in rs if not r.get("error") and r.get("apps", {}).get("sip") and r["roams"]]
        down = [x["lost"] for r in ok for x in r["apps"]["sip"]["down"]["per_roam"]]
        up = [x["lost"] for r in ok for x in r["apps"]["sip"]["up"]["per_roam"]]
        if down or up:
            cols.append((f"{scen}@{pace}", down, up))
    if not cols:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(cols) + 2), 4))
    for i, (_, down, up) in enumerate(cols):
        ax.plot([i - 0.12] * len(down), [max(d, 0.5) for d in down], "o", color="tab:blue", alpha=0.6,
                label="down" if i == 0 else None)
        ax.plot([i + 0.12] * len(up), [max(u, 0.5) for u in up], "s", color="tab:green", alpha=0.6,
                label="up" if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xticks(range(len(cols)), [c[0] for c in cols], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("RTP packets lost per roam (log; 0 drawn at 0.5)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def download_timeline(runs: list[dict], out: Path, path: Path) -> Path | None:
    picks = [(r, _load(out / r["dir"] / "download.json")) for r in _first(runs, with_roams=False)]
    picks = [(r, d) for r, d in picks if d and d.get("bins")]
    if not picks:
        return None
    fig, axes = plt.subplots(len(picks), 1, figsize=(9, 1.2 * len(picks) + 0.7), sharex=True, squeeze=False)
    for ax, (run, d) in zip(axes[:, 0], picks):
        t0 = run["t_clients"]
        bins: dict[int, int] = {}
        for t, n in d["bins"]:
            bins[int(t - t0)] = bins.get(int(t - t0), 0) + n
        ks = list(range(min(bins), max(bins) + 1))
        ax.step([k + 0.5 for k in ks], [bins.get(k, 0) * 8 / 1e6 for k in ks], where="mid", lw=1)
        _roam_lines(ax, run)
        ax.set_ylabel("Mbit/s", fontsize=8)
        ax.set_title(f"{run['scenario']}@{run['pace']}: {'complete' if d['complete'] else 'INCOMPLETE'}, "
                     f"longest stall {d['longest_stall_s']:.1f} s", fontsize=9)
    axes[-1, 0].set_xlabel("s since the clients started (dotted: roams)")
    return _save(fig, path)
