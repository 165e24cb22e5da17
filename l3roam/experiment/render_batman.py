"""Report sections for batman-adv and the client's behaviour after a move (pure: no I/O).

- ``behaviour_section``: per design, the client that talks at once, stays
  silent, or talks later;
- ``batman_cost_section``: batman-adv's costs against station MACs behind the APs;
- ``batman_verdict_section``: L3 roaming (l3roam) against batman-adv, metric by
  metric, with the mechanism behind each difference.

Called by ``l3roam.experiment.render.render_markdown``.
"""

from __future__ import annotations

import math

from l3roam.experiment import render as R
from l3roam.measure.stats import ratio

BEHAVIOUR = {"talks": "talks at once", "silent": "silent", "later": "talks later"}


def _design(r: "R.ScenarioRow") -> str:
    if r.kind == "l3roam":
        return "l3roam" + (" + hand-off" if r.handoff else " (babel alone)")
    if r.kind == "batman":
        return f"batman-adv (OGM {R.fmt((r.orig_interval or 1000) / 1000, 2)} s)"
    return R.KIND_LABEL.get(r.kind, r.kind)


def behaviour_section(rows: list["R.ScenarioRow"]) -> list[str]:
    if not any(r.client != "talks" for r in rows):
        return []
    designs = [d for d in dict.fromkeys(_design(r) for r in rows if r.client != "talks")]
    body = []
    for d in designs:
        for beh in ("talks", "silent", "later"):
            for r in rows:
                if _design(r) == d and r.client == beh and r.roams:
                    body.append([d, BEHAVIOUR[beh], r.name, R.spread(r.down_gap), R.spread(r.down_lost),
                                 R.fmt(r.down_gap.max)])
                    break
    md = ["", "## The client after a move: talks at once, silent, talks later", "",
          "Downstream UDP (server to client) only for the silent and later clients: they send nothing (their "
          "IPv6 is off, so that router solicitations do not speak for them), except, for the later client, one "
          "datagram to the server 1 s after the move. The talking client is the one of the tables above (UDP "
          "both ways and a TCP stream). Gap and loss as median / p95 (min–max) per roam.", ""]
    md.append(R.table(["design", "client", "scenario", "gap down ms", "lost down", "worst gap ms"], body))
    return md


def _slope(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return None if den == 0 else sum((x - mx) * (y - my) for x, y in points) / den


def batman_ctl(c: dict) -> float:
    return c.get("batman_ctl_bytes_per_s_per_link", 0.0)


def batman_cost_section(costs: list[dict]) -> list[str]:
    ok = [c for c in costs if not c.get("error")]
    bad = [c for c in costs if c.get("error")]
    if not costs:
        return []
    md = ["", "## batman-adv: costs against clients and roam rate", "",
          "batman-adv (OGM interval 1 s) with lightweight clients: station MACs that each send one frame into an "
          "AP's client bridge (entering it on a port, as a station's frames do), spread round-robin over the APs; "
          "batman-adv puts each in the AP's local translation table and every other node's global one. A roam is "
          "the same MAC sending from the next AP. Control: batman-adv's OGM, TT and roaming frames per link; "
          "table: translation-table entries (local + global) per node; CPU: the whole machine (batman-adv runs "
          "in the kernel).", ""]
    if bad:
        md += [f"- failed: {bad[0]['error']}", ""]
    if ok:
        md.append(R.table(["MACs", "roams/s", "control B/s per link", "control pkt/s per link", "largest TT",
                           "median TT", "machine CPU %", "all nodes had the entries after s"],
                          [[str(c["clients"]), R.fmt(c["roam_rate"], 0), R.fmt(batman_ctl(c)),
                            R.fmt(c.get("batman_ctl_packets_per_s_per_link"), 1), str(c["table_max"]),
                            str(c["table_median"]), R.fmt(c.get("system_cpu_percent"), 1), R._settle(c)]
                           for c in ok]))
        s = _slope([(c["clients"], batman_ctl(c)) for c in ok if not c.get("roam_rate")])
        if s is not None:
            md += ["", f"Least-squares slope: **{R.fmt(s, 2)} B/s of batman-adv control traffic per link per "
                   "client** in steady state (a MAC costs bytes once, when its translation-table change rides on "
                   "the next OGMs; afterwards only the table's checksum travels)."]
    return md


def _pick_batman(rows: list["R.ScenarioRow"]) -> "R.ScenarioRow | None":
    bats = [r for r in rows if r.kind == "batman" and r.client == "talks" and r.roams]
    for r in bats:
        if (r.orig_interval or 1000) == 1000:
            return r
    return bats[0] if bats else None


def _word(a: float, b: float, lower_is_better: bool = True) -> str:
    if any(math.isnan(x) for x in (a, b)):
        return "?"
    q = ratio(a, b)
    if 0.9 <= q <= 1.1:
        return "same"
    return "better" if (q < 1) == lower_is_better else "worse"


def batman_verdict_section(rows: list["R.ScenarioRow"], l3costs: list[dict], batcosts: list[dict]) -> list[str]:
    l3 = R.pick(rows, "l3roam", True) or R.pick(rows, "l3roam")
    bat = _pick_batman(rows)
    if l3 is None or bat is None:
        return []
    t = R._times
    out = []
    out.append(("handover gap", _word(l3.down_gap.median, bat.down_gap.median),
                f"median {R.fmt(l3.down_gap.median)} vs {R.fmt(bat.down_gap.median)} ms "
                f"({t(l3.down_gap.median, bat.down_gap.median)}); p95 {R.fmt(l3.down_gap.p95)} vs "
                f"{R.fmt(bat.down_gap.p95)} ms; worst {R.fmt(l3.down_gap.max)} vs {R.fmt(bat.down_gap.max)} ms. "
                "Mechanism: l3roam's new AP sees the association, claims the lease and installs the /32 at once, "
                "and the old AP tunnels what still arrives to it to the new AP; the rest of the mesh follows when "
                "babel propagates the /32 (a new route about one hello later). batman-adv's new AP learns the "
                "station from the Layer 2 Update frame, adds it to its local translation table and sends a "
                "roaming advertisement straight to the old AP, which then forwards the station's frames to it; the "
                "gateway itself sends to the new AP only after the translation-table change rides on the new "
                "AP's next OGM (up to one OGM interval), so frames go the long way round until then."))
    l3l = l3.down_lost.mean + (l3.up_lost.mean if l3.up_lost.n else 0)
    bl = bat.down_lost.mean + (bat.up_lost.mean if bat.up_lost.n else 0)
    out.append(("loss", _word(l3l, bl), f"{R.fmt(l3l, 1)} vs {R.fmt(bl, 1)} probes lost per roam, both directions "
                f"({t(l3l, bl)}); loss is the gap times the probe rate, plus packets already in flight to the old "
                "AP that neither design's forwarding caught."))
    f3, fb = l3.tcp_alive / max(l3.tcp_runs, 1), bat.tcp_alive / max(bat.tcp_runs, 1)
    out.append(("TCP survival", "same" if f3 == fb else ("better" if f3 > fb else "worse"),
                f"{l3.tcp_alive}/{l3.tcp_runs} vs {bat.tcp_alive}/{bat.tcp_runs} runs kept the stream; longest "
                f"stall median {R.fmt(l3.tcp_stall.median)} vs {R.fmt(bat.tcp_stall.median)} ms. Both keep the "
                "client's address, so a connection only has to ride out the gap (TCP retransmits)."))
    l3s = R.pick(rows, "l3roam", True, client="silent") or R.pick(rows, "l3roam", client="silent")
    bs = next((r for r in rows if r.kind == "batman" and r.client == "silent" and r.roams), None)
    if l3s is not None and bs is not None:
        out.append(("silent client", _word(l3s.down_gap.median, bs.down_gap.median),
                    f"median gap {R.fmt(l3s.down_gap.median)} vs {R.fmt(bs.down_gap.median)} ms, worst "
                    f"{R.fmt(l3s.down_gap.max)} vs {R.fmt(bs.down_gap.max)} ms for a client that sends nothing. "
                    "l3roam acts on the association event itself; batman-adv acts on frames, and only the "
                    "AP's Layer 2 Update frame (which must enter the bridge on the station's port) speaks for "
                    "a silent station."))
    out.append(("control traffic", _word(l3.control_bps.median, bat.control_bps.median),
                f"{R.fmt(l3.control_bps.median)} vs {R.fmt(bat.control_bps.median)} B/s per link with one client "
                f"({t(l3.control_bps.median, bat.control_bps.median)}). babel sends hellos and IHUs per link and "
                "per-neighbour updates; batman-adv IV floods every node's OGM through the whole mesh every OGM "
                "interval, so its base cost grows with the number of nodes, not only of links."))
    l3slope = R.control_per_client(l3costs)
    bslope = _slope([(c["clients"], batman_ctl(c)) for c in batcosts if not c.get("roam_rate") and not c.get("error")])
    if l3slope is not None and bslope is not None:
        out.append(("control per client", _word(l3slope, max(bslope, 0.01)),
                    f"{R.fmt(l3slope, 2)} vs {R.fmt(bslope, 2)} B/s per link per client. Each l3roam client is a "
                    "/32 that babel repeats in every periodic full update; batman-adv sends a MAC once, as a "
                    "translation-table change on the OGMs, and afterwards only a checksum of the whole table."))
    l3max = max((c["table_max"] for c in l3costs if not c.get("error")), default=None)
    bmax = max((c["table_max"] for c in batcosts if not c.get("error")), default=None)
    nmax = max((c["clients"] for c in l3costs + batcosts if not c.get("error")), default=None)
    out.append(("table size", _word(l3.table_max.median, bat.table_max.median),
                f"largest table {R.fmt(l3.table_max.median)} routes vs {R.fmt(bat.table_max.median)} "
                "translation-table entries + originators with one client"
                + (f"; at {nmax} clients up to {l3max} routes vs {bmax} TT entries per node" if l3max and bmax else "")
                + ". Both keep one entry per client on every node: l3roam a /32 per leased address, batman-adv a "
                "MAC per device seen behind any AP's bridge (bridges, APs' own and non-IP devices included)."))
    out.append(("CPU", "?" if not (l3.system_cpu.n and bat.system_cpu.n) else
                _word(l3.system_cpu.median, bat.system_cpu.median),
                f"machine CPU during the runs {R.fmt(l3.system_cpu.median, 1)} vs {R.fmt(bat.system_cpu.median, 1)} % "
                f"(probes included, same traffic); l3roam's babeld {R.fmt(l3.babeld_cpu.median, 2)} % per router and "
                f"agents {R.fmt(l3.agent_cpu.median, 2)} % per AP run in user space, batman-adv in the kernel, where "
                "only the machine total sees it."))
    md = ["", "## Verdict: L3 roaming (l3roam) against batman-adv", "",
          f"`{l3.name}` against `{bat.name}` (client talking at once unless said otherwise), same mesh, same "
          "traffic, same kernel."
          , ""]
    md.append(R.table(["metric", "L3 is", "figures and mechanism"], [[m, w, s] for m, w, s in out]))
    return md
