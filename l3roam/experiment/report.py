"""``l3roam report DIR``: the Markdown report and PNG plots of an experiment's output.

Reads ``meta.json``, ``runs.json`` and, when present, ``costs.json`` and
``scale.json`` from DIR (a directory with only ``clientscale-*.json``
renders the "Many clients" section into an existing Markdown file instead,
between its markers; see ``l3roam.experiment.clientreport``) (written by ``l3roam experiment``); writes
``DIR/report.md`` and ``DIR/figures/*.png``.  ``--md`` and ``--figures``
write them elsewhere (docs/results.md with docs/results/), with image links
relative to the Markdown file.  Needs matplotlib (``pip install .[report]``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="an experiment's output directory")
    p.add_argument("--md", help="write the Markdown here (default DIR/report.md)")
    p.add_argument("--figures", help="directory for the PNGs (default DIR/figures)")
    p.add_argument("--title", help="report title (default: the experiment's)")
    p.add_argument("--notes", help="a Markdown file of hand-written reading notes to append")


def _load(path: Path, default):
    return json.loads(path.read_text()) if path.exists() else default


def write_report(out: Path, md_path: Path | None = None, fig_dir: Path | None = None,
                 title: str | None = None, notes: str | None = None) -> Path:
    from l3roam.experiment import plots
    from l3roam.experiment.render import render_markdown

    out = Path(out)
    md_path = Path(md_path) if md_path else out / "report.md"
    fig_dir = Path(fig_dir) if fig_dir else out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    meta = _load(out / "meta.json", {})
    runs = _load(out / "runs.json", [])
    if not runs and list(out.glob("clientscale-*.json")):
        return write_clients_section(out, md_path, fig_dir)
    costs = _load(out / "costs.json", [])
    scale = _load(out / "scale.json", [])
    if any("apps" in r or "pace" in r for r in runs):
        return _write_apps_report(out, md_path, fig_dir, meta, runs, title, notes)
    made = {
        "timeline": plots.timeline(runs, out, fig_dir / "timeline.png"),
        "cdf": plots.gap_cdf(runs, fig_dir / "gap-cdf.png"),
        "hello": plots.hello_tradeoff(runs, fig_dir / "hello-tradeoff.png"),
        "control": plots.control_vs_clients(costs, fig_dir / "control-vs-clients.png"),
        "table": plots.table_vs_clients(costs, fig_dir / "table-vs-clients.png"),
        "scale": plots.scale_plot(scale, fig_dir / "scale.png"),
    }
    figures = {k: os.path.relpath(v, md_path.parent) for k, v in made.items() if v is not None}
    md_path.parent.mkdir(parents=True, exist_ok=True)
    text = render_markdown(meta, runs, costs, scale, figures, title)
    if notes:
        text += "\n" + notes.strip() + "\n"
    kept = _clients_section(md_path)
    md_path.write_text(text)
    if kept:  # the "Many clients" section comes from its own runs: a full report keeps it
        from l3roam.experiment.clientreport import splice

        splice(md_path, kept)
    return md_path


def _clients_section(md_path: Path) -> str | None:
    from l3roam.experiment.clientreport import BEGIN, END

    text = md_path.read_text() if md_path.exists() else ""
    if BEGIN not in text or END not in text:
        return None
    return BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END + "\n"


def write_clients_section(out: Path, md_path: Path, fig_dir: Path) -> Path:
    """Client-scale results only: render the "Many clients" section into ``md_path`` (between its markers)."""
    from l3roam.experiment import clientreport

    meshes = clientreport.load(out)
    fig = clientreport.figure(meshes, fig_dir / "clients-control.png")
    section = clientreport.render_section(meshes, os.path.relpath(fig, md_path.parent) if fig else None)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    clientreport.splice(md_path, section)
    return md_path


def _write_apps_report(out: Path, md_path: Path, fig_dir: Path, meta: dict, runs: list[dict],
                       title: str | None, notes: str | None) -> Path:
    from l3roam.experiment import apps_plots
    from l3roam.experiment.apps_render import render_apps

    made = {
        "hls": apps_plots.hls_timeline(runs, out, fig_dir / "apps-hls.png"),
        "rtmp": apps_plots.rtmp_timeline(runs, out, fig_dir / "apps-rtmp.png"),
        "sip": apps_plots.sip_loss(runs, fig_dir / "apps-sip.png"),
        "download": apps_plots.download_timeline(runs, out, fig_dir / "apps-download.png"),
    }
    figures = {k: os.path.relpath(v, md_path.parent) for k, v in made.items() if v is not None}
    md_path.parent.mkdir(parents=True, exist_ok=True)
    text = render_apps(meta, runs, figures, title)
    if notes:
        text += "\n" + notes.strip() + "\n"
    md_path.write_text(text)
    return md_path


def run(args: argparse.Namespace) -> int:
    notes = Path(args.notes).read_text() if args.notes else None
    path = write_report(Path(args.dir), args.md and Path(args.md), args.figures and Path(args.figures), args.title,
                        notes)
    print(f"report written to {path}")
    return 0
