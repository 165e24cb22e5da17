"""The application experiment's report as Markdown (pure: run records in, text out).

One row per scenario and pace; per application the verdict over the
repetitions (the worst one, and how many runs had it) and the figures
behind it as median (min–max) over the repetitions.  ``compare_l3_l2``
puts l3roam with hand-off next to the L2 baseline per application and pace.
"""

from __future__ import annotations

import math
from collections import Counter

from l3roam.experiment.render import KIND_LABEL, fmt, table
from l3roam.measure.stats import summarize

APPS = ("hls", "rtmp", "sip", "download")
APP_LABEL = {"hls": "HLS video", "rtmp": "RTMP live (both ways)", "sip": "SIP call", "download": "large download"}
RANK = {"works": 0, "degraded": 1, "breaks": 2}


def groups(runs: list[dict]) -> list[tuple[str, str, list[dict]]]:
    """(scenario, pace, runs) in first-seen order; runs that failed to run are kept (they count as errors)."""
    order: list[tuple[str, str]] = []
    by: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        key = (r["scenario"], r.get("pace", ""))
        if key not in by:
            order.append(key)
        by.setdefault(key, []).append(r)
    return [(s, p, by[(s, p)]) for s, p in order]


def mr(values: list[float], digits: int = 0) -> str:
    """``median (min–max)``, or the value alone when all are equal."""
    s = summarize([v for v in values if v is not None])
    if s.n == 0:
        return "–"
    if s.min == s.max:
        return fmt(s.median, digits)
    return f"{fmt(s.median, digits)} ({fmt(s.min, digits)}–{fmt(s.max, digits)})"


def verdict_cell(runs: list[dict], app: str) -> str:
    vs = [r["apps"][app]["verdict"] for r in runs if not r.get("error") and app in r.get("apps", {})]
    if not vs:
        return "–"
    worst = max(vs, key=lambda v: RANK[v])
    n = Counter(vs)[worst]
    return f"**{worst}**" + ("" if n == len(vs) else f" ({n}/{len(vs)})")


def _ok(runs: list[dict]) -> list[dict]:
    return [r for r in runs if not r.get("error") and r.get("apps")]


def figures_cell(runs: list[dict], app: str, ref_mbit: float | None) -> str:
    ok = [r["apps"][app] for r in _ok(runs) if app in r["apps"]]
    if not ok:
        return "–"
    if app == "hls":
        return (f"{mr([a.get('rebuffers') for a in ok])} rebuffers, {mr([a.get('stall_s') for a in ok], 1)} s "
                f"stalled, {mr([a.get('failed') for a in ok])} failed fetches")
    if app == "rtmp":
        surv = sum(1 for a in ok for d in ("down", "up") if a[d].get("survived"))
        return (f"{surv}/{2 * len(ok)} sessions kept; longest stall down {mr([a['down'].get('longest_stall_s') for a in ok], 1)} s, "
                f"up {mr([a['up'].get('longest_stall_s') for a in ok], 1)} s; "
                f"{mr([a['down'].get('dropped', 0) + a['up'].get('dropped', 0) for a in ok])} frames dropped")
    if app == "sip":
        bye = sum(1 for a in ok if a.get("clean_bye"))
        return (f"BYE {bye}/{len(ok)}; MOS {mr([a.get('mos') for a in ok], 2)}; longest gap "
                f"{mr([a.get('longest_gap_ms') for a in ok])} ms; loss down "
                f"{mr([a['down']['loss_pct'] for a in ok], 1)} %, up {mr([a['up']['loss_pct'] for a in ok], 1)} %")
    done = sum(1 for a in ok if a.get("complete"))
    rel = ""
    if ref_mbit:
        rel = f" = {mr([100 * a['mbit_s'] / ref_mbit for a in ok if a.get('complete')])} % of no-roam"
    return (f"complete {done}/{len(ok)}; {mr([a.get('mbit_s') for a in ok if a.get('complete')], 2)} Mbit/s{rel}; "
            f"longest stall {mr([a.get('longest_stall_s') for a in ok], 1)} s; "
            f"{mr([a.get('retransmissions') for a in ok])} retransmissions")


def reference_mbit(runs: list[dict]) -> float | None:
    """Mean throughput of the download in the runs without roams (median), the 100 % mark."""
    vals = [r["apps"]["download"]["mbit_s"] for r in _ok(runs) if not r["roams"] and r.get("pace")
            and "download" in r["apps"] and r["apps"]["download"].get("complete")]
    s = summarize(vals)
    return s.median if s.n else None


def path_rows(runs: list[dict]) -> list[list[str]]:
    rows = []
    for scen, pace, rs in groups(runs):
        ok = [r for r in _ok(rs) if r["roams"] and "paths" in r["apps"]]
        if not ok:
            continue
        if ok[0]["kind"] == "l2":  # frames cross the mesh inside VXLAN and reach every AP: no IP path
            rows.append([f"{scen}@{pace}", str(sum(len(r["roams"]) for r in ok))] + ["n/a"] * 5)
            continue
        per = [x for r in ok for x in r["apps"]["paths"]["per_roam"]]
        asym = [x["asymmetric_for_ms"] for x in per]
        srv6 = [x["via_srv6"] for x in per]
        changed = sum(1 for x in per if x.get("exit_changed"))
        renat = sorted({f for r in ok for f in r["apps"]["paths"].get("renatted_flows", [])})
        rows.append([f"{scen}@{pace}", str(len(per)), mr(asym), f"{sum(1 for a in asym if a > 0)}/{len(per)}",
                     mr(srv6), f"{changed}", str(len(renat))])
    return rows


def sip_roam_rows(runs: list[dict]) -> list[list[str]]:
    rows = []
    for scen, pace, rs in groups(runs):
        ok = [r for r in _ok(rs) if r["roams"] and "sip" in r["apps"]]
        if not ok:
            continue
        down = [x for r in ok for x in r["apps"]["sip"]["down"]["per_roam"]]
        up = [x for r in ok for x in r["apps"]["sip"]["up"]["per_roam"]]
        rows.append([f"{scen}@{pace}", str(len(down)), mr([x["lost"] for x in down]), mr([x["gap_ms"] for x in down]),
                     mr([x["lost"] for x in up]), mr([x["gap_ms"] for x in up])])
    return rows


def compare_l3_l2(runs: list[dict]) -> list[list[str]]:
    """Per pace and application: l3roam with hand-off against the L2 baseline, by the key figure."""
    by = {(r["kind"], r.get("handoff"), r.get("pace")): [] for r in runs}
    for r in _ok(runs):
        by[(r["kind"], r.get("handoff"), r.get("pace"))].append(r)
    paces = list(dict.fromkeys(r.get("pace") for r in runs if r["roams"]))
    key = {"hls": ("stall s", lambda a: a["stall_s"]),
           "rtmp": ("longest stall s", lambda a: max(a["down"].get("longest_stall_s", math.nan),
                                                      a["up"].get("longest_stall_s", math.nan))),
           "sip": ("longest media gap ms", lambda a: a["longest_gap_ms"]),
           "download": ("longest stall s", lambda a: a["longest_stall_s"])}
    rows = []
    for pace in paces:
        l3 = by.get(("l3roam", True, pace), [])
        l2 = by.get(("l2", None, pace), [])
        if not l3 or not l2:
            continue
        for app in APPS:
            name, f = key[app]
            a = summarize([f(r["apps"][app]) for r in l3 if app in r["apps"]])
            b = summarize([f(r["apps"][app]) for r in l2 if app in r["apps"]])
            if not a.n or not b.n:
                continue
            q = "–" if b.median == 0 else f"{a.median / b.median:.1f}×"
            digits = 0 if name.endswith("ms") else 2
            rows.append([pace, APP_LABEL[app], name, fmt(a.median, digits), fmt(b.median, digits), q])
    return rows


def exit_rows(runs: list[dict]) -> list[list[str]]:
    """Per roam of every run with more than one exit: the exit(s) the call's packets left by."""
    rows = []
    for r in _ok(runs):
        if len(r.get("exits", [])) < 2 or "paths" not in r["apps"]:
            continue
        for k, (roam, p) in enumerate(zip(r["roams"], r["apps"]["paths"]["per_roam"]), start=1):
            used = ", ".join(f"{e} ({n})" for e, n in sorted(p["exits"].items(), key=lambda x: -x[1])) or "none"
            rows.append([f"{r['scenario']}@{r['pace']}-{r['rep']}", str(k), f"{roam['src']}→{roam['dst']}", used,
                         "yes" if p.get("exit_changed") else "no"])
    return rows


def render_apps(meta: dict, runs: list[dict], figures: dict[str, str], title: str | None = None) -> str:
    md = [f"# {title or meta.get('title', 'Application experiment')}", ""]
    parts = meta.get("parts") or []
    loads = [x for r in runs for x in r.get("load", [])]
    when = ", ".join(f"{p['date_utc']} (repetition {p['repetition']})" for p in parts) or meta.get("date_utc", "?")
    md += [f"Run on {when} UTC ({fmt(meta.get('seconds'))} s in {max(1, len(parts))} part(s)): "
           f"{meta.get('cpu', '?')}, {meta.get('cores', '?')} cores; kernel {meta.get('kernel', '?')}; babeld "
           f"{meta.get('babeld', '?')}; " + "; ".join(f"{v}" for v in (meta.get("apps_tools") or {}).values())
           + (f". Load average (1 min) at the start and end of the runs: {mr(loads[0::6] + loads[3::6], 2)}."
              if loads else "."), ""]
    for s in dict.fromkeys(meta.get("skipped", [])):
        md.append(f"- skipped: {s}")
    topo = meta.get("topology", {})
    md += ["", f"Mesh: {topo.get('routers')} routers; APs {', '.join(topo.get('aps', []))}; the client reaches the "
           "application servers (nginx for HLS, the download and RTMP; a sipp callee) in the internet namespace "
           "through the exit's NAT. Verdict per application: the worst over the repetitions (in brackets how many "
           "runs had it when not all); figures as median (min–max) over the repetitions.", ""]
    ref = reference_mbit(runs)
    head = ["scenario @ pace", "design", "roams"] + [APP_LABEL[a] for a in APPS]
    rows = []
    for scen, pace, rs in groups(runs):
        ok = _ok(rs)
        kind = rs[0]["kind"]
        label = KIND_LABEL.get(kind, kind) + ({True: ", hand-off", False: ", no hand-off"}.get(rs[0].get("handoff"), "")
                                              if kind == "l3roam" else "")
        nroams = sum(len(r["roams"]) for r in ok)
        err = len(rs) - len(ok)
        rows.append([f"{scen}@{pace}", label, f"{nroams}" + (f" ({err} runs failed)" if err else "")]
                    + [verdict_cell(rs, a) for a in APPS])
    md += ["## Verdicts", "", table(head, rows), ""]
    md += ["*works*: a user would not notice (HLS: no rebuffering; RTMP: both sessions alive, no stall of 1 s; "
           "SIP: clean BYE, no media gap of 200 ms, MOS ≥ 4.0; download: complete, no stall of 1 s). *degraded*: "
           "it went on with a visible or audible glitch. *breaks*: the session ended or stopped for good.", ""]
    md += ["## Figures", ""]
    frows = [[f"{s}@{p}"] + [figures_cell(rs, a, ref) for a in APPS] for s, p, rs in groups(runs)]
    md += [table(["scenario @ pace"] + [APP_LABEL[a] for a in APPS], frows), ""]
    if ref:
        md += [f"Download reference (runs without roams): {fmt(ref, 2)} Mbit/s through the "
               f"rate-limited path.", ""]
    cmp_rows = compare_l3_l2(runs)
    if cmp_rows:
        md += ["## l3roam (hand-off) against the L2 baseline", "",
               table(["pace", "application", "figure", "l3roam", "L2", "ratio"], cmp_rows), ""]
    sr = sip_roam_rows(runs)
    if sr:
        md += ["## The call, per roam", "", "RTP packets lost and the longest gap between arrivals in the 3 s after "
               "each move (50 packets/s each way).", "",
               table(["scenario @ pace", "roams", "lost down", "gap down ms", "lost up", "gap up ms"], sr), ""]
    pr = path_rows(runs)
    if pr:
        md += ["## Paths and NAT", "", "From captures at every router: per roam, how long after the move a "
               "downstream RTP packet still took a path other than the upstream one reversed (asymmetric), how many "
               "went through the SRv6 hand-off, how often the flow's exit changed, and how many of the client's "
               "flows got a second NAT entry at another exit (a changed public source address: TCP breaks). A "
               "downstream packet that died at the old AP counts as asymmetric too. The L2 baseline has no IP "
               "path to trace: its frames cross the mesh inside VXLAN and every downstream frame reaches every AP "
               "(head-end replication).", "",
               table(["scenario @ pace", "roams", "asymmetric for ms", "roams with asymmetry", "via SRv6 per roam",
                      "exit changes", "flows NATed anew"], pr), ""]
    er = exit_rows(runs)
    if er:
        renat = sorted({f"{r['scenario']}@{r['pace']}-{r['rep']}: {f}" for r in _ok(runs) if len(r.get("exits", [])) > 1
                        for f in r["apps"].get("paths", {}).get("renatted_flows", [])})
        md += ["## Two exits: which NAT carries the call", "", "Per roam, the exits the call's upstream RTP packets "
               "reached the internet through (packets, from the internet side's capture: the NAT's source address "
               "names the exit) in the window after the move.", "",
               table(["run", "roam", "move", "exit (packets)", "exit changed"], er), ""]
        md += ["Flows that got a second NAT entry at another exit (conntrack at the exits): "
               + ("; ".join(renat) if renat else "none") + ".", ""]
    for key, caption in (("hls", "HLS player: stalls (red) and buffered seconds ahead, first repetition."),
                         ("rtmp", "RTMP: frames received per second by the player (down) and the server (up), "
                                  "first repetition; dotted lines: roams."),
                         ("sip", "SIP call: RTP packets lost per roam, both directions, all repetitions."),
                         ("download", "Download: throughput over time (1 s bins), first repetition.")):
        if key in figures:
            md += [f"![{key}]({figures[key]})", "", f"*{caption}*", ""]
    return "\n".join(md)
