"""The experiment report as Markdown, from the raw results (pure: no I/O, no plotting).

``summarize_scenarios`` turns ``runs.json`` records into one row per scenario
(spread of the per-roam gaps and losses, TCP survival, control traffic,
CPU); ``verdicts`` compares l3roam with hand-off against the L2 baseline,
metric by metric; ``render_markdown`` assembles the whole report around
figure paths the caller chose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from l3roam.measure.stats import Summary, ratio, summarize

KIND_LABEL = {"l3roam": "L3 roaming (l3roam)", "l2": "L2 baseline (bridge + VXLAN)",
              "subnets": "no roaming (subnet per AP)", "batman": "batman-adv"}


@dataclass(frozen=True)
class ScenarioRow:
    name: str
    kind: str
    handoff: bool | None
    hello: float | None
    client: str
    orig_interval: int | None
    runs: int
    failed: int
    roams: int
    down_gap: Summary
    up_gap: Summary
    down_lost: Summary
    up_lost: Summary
    duplicates: int
    reordered: int
    tcp_alive: int
    tcp_runs: int
    tcp_stall: Summary
    control_bps: Summary  # babel bytes/s per link during the runs
    control_pps: Summary
    babeld_cpu: Summary  # % of one core per router
    agent_cpu: Summary  # % of one core per AP
    table_max: Summary
    redhcp_ms: Summary
    system_cpu: Summary  # % of the whole machine during the runs (batman-adv works in the kernel)
    server: str = ""  # where the traffic server ran (router, gateway/AP, hops to the APs)

    @property
    def label(self) -> str:
        return self.name


def _ctl(run: dict, key: str) -> float:
    """Control traffic of a run: ``control_*`` (babel + batman-adv control), or babel's in older records."""
    c = run["control"]
    return c.get(f"control_{key}_per_s_per_link", c[f"babel_{key}_per_s_per_link"])


def _table(run: dict) -> int:
    """Largest per-router table: routes, or for batman-adv translation-table entries + originators."""
    bat = run.get("batman")
    if bat and bat.get("tables"):
        return max(t["tt_local"] + t["tt_global"] + t["originators"] for t in bat["tables"].values())
    return max(run["tables"].values())


def _vals(runs: list[dict], key: str) -> list[float]:
    return [r[key] for run in runs for r in run.get("roams", []) if r.get(key) is not None]


def summarize_scenarios(runs: list[dict]) -> list[ScenarioRow]:
    order: list[str] = []
    by: dict[str, list[dict]] = {}
    for run in runs:
        if run["scenario"] not in by:
            order.append(run["scenario"])
        by.setdefault(run["scenario"], []).append(run)
    rows = []
    for name in order:
        rs = by[name]
        ok = [r for r in rs if not r.get("error")]
        tcp = [r["tcp"] for r in ok if r.get("tcp")]
        first = rs[0]
        rows.append(ScenarioRow(
            name=name, kind=first["kind"], handoff=first.get("handoff"), hello=first.get("hello"),
            client=first.get("client", "talks"), orig_interval=first.get("orig_interval"),
            runs=len(rs), failed=len(rs) - len(ok), roams=sum(len(r.get("roams", [])) for r in ok),
            down_gap=summarize(_vals(ok, "down_gap_ms")), up_gap=summarize(_vals(ok, "up_gap_ms")),
            down_lost=summarize(_vals(ok, "down_lost")), up_lost=summarize(_vals(ok, "up_lost")),
            duplicates=int(sum(_vals(ok, "down_dup")) + sum(_vals(ok, "up_dup"))),
            reordered=int(sum(_vals(ok, "down_reord")) + sum(_vals(ok, "up_reord"))),
            tcp_alive=sum(1 for t in tcp if t.get("alive")), tcp_runs=len(tcp),
            tcp_stall=summarize([t["longest_stall_ms"] for t in tcp if t.get("longest_stall_ms") is not None]),
            control_bps=summarize([_ctl(r, "bytes") for r in ok if r.get("control")]),
            control_pps=summarize([_ctl(r, "packets") for r in ok if r.get("control")]),
            babeld_cpu=summarize([r["control"]["babeld_cpu_percent_per_router"] for r in ok if r.get("control")]),
            agent_cpu=summarize([r["control"]["agent_cpu_percent_per_ap"] for r in ok
                                 if r.get("control") and r["control"].get("agent_cpu_percent_per_ap") is not None]),
            table_max=summarize([_table(r) for r in ok if r.get("tables")]),
            redhcp_ms=summarize(_vals(ok, "redhcp_ms")),
            system_cpu=summarize([r["control"]["system_cpu_percent"] for r in ok
                                  if r.get("control") and r["control"].get("system_cpu_percent") is not None]),
            server=_server_text(first),
        ))
    return rows


def _server_text(run: dict) -> str:
    """``r5 (gateway; 2/2 hops)``: the server's router, its role, hops to each AP."""
    p = run.get("placement")
    if not p:
        return run.get("server", "") or ""
    role = "gateway" if p.get("server_is_gateway") else ("AP" if p.get("server_is_ap") else "router")
    hops = "/".join(str(h) for h in p.get("server_hops_to_aps", {}).values())
    return f"{p['server']} ({role}; {hops} hops)"


#: Differences smaller than these are "same" whatever the ratio (equal is equal; 0.18 vs 0.19 % too).
#: Gap and loss: under half a probe (5 ms at 10 ms spacing, half a lost probe per roam); one
#: probe more per roam is a difference a call or a game notices, and the report says so.
ABS_TOLERANCE = {"gap": 5.0, "loss": 0.5, "bytes": 20.0, "routes": 1.0, "cpu": 0.1}
REL_TOLERANCE = 0.1


def compare(a: float, b: float, kind: str, lower_is_better: bool = True) -> str:
    """better / worse / same for ``a`` against ``b``: same within 10 % or within the absolute tolerance."""
    if any(math.isnan(x) for x in (a, b)):
        return "?"
    if abs(a - b) <= ABS_TOLERANCE.get(kind, 0.0):
        return "same"
    q = ratio(a, b)
    if 1 - REL_TOLERANCE <= q <= 1 + REL_TOLERANCE:
        return "same"
    return "better" if (q < 1) == lower_is_better else "worse"


def fmt(x: float | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return f"{x:.{digits}f}"


def spread(s: Summary, digits: int = 0) -> str:
    """``median / p95 (min–max)``."""
    if s.n == 0:
        return "–"
    return f"{fmt(s.median, digits)} / {fmt(s.p95, digits)} ({fmt(s.min, digits)}–{fmt(s.max, digits)})"


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def pick(rows: list[ScenarioRow], kind: str, handoff: bool | None = None, client: str = "talks") -> ScenarioRow | None:
    for r in rows:
        if r.kind == kind and (handoff is None or r.handoff == handoff) and r.roams and r.client == client:
            return r
    return None


def _times(a: float, b: float) -> str:
    """How ``a`` compares with ``b`` in words: "3.2× higher", "about the same"."""
    if any(math.isnan(x) for x in (a, b)):
        return "not comparable (missing data)"
    q = ratio(a, b)
    if math.isinf(q):
        return f"{fmt(a, 1)} against 0"
    if 0.9 <= q <= 1.1:
        return "about the same"
    return f"{q:.1f}× higher" if q > 1 else f"{1 / q:.1f}× lower"


def verdicts(rows: list[ScenarioRow], costs: list[dict]) -> list[tuple[str, str, str]]:
    """(metric, better/worse/same for L3, sentence) comparing l3roam with hand-off to the L2 baseline."""
    l3 = pick(rows, "l3roam", True) or pick(rows, "l3roam")
    l2 = pick(rows, "l2")
    if l3 is None or l2 is None:
        return []
    out = []
    word = compare
    out.append(("handover gap", word(l3.down_gap.median, l2.down_gap.median, "gap"),
                f"median {fmt(l3.down_gap.median)} ms (L3) vs {fmt(l2.down_gap.median)} ms (L2): "
                f"{_times(l3.down_gap.median, l2.down_gap.median)}; p95 {fmt(l3.down_gap.p95)} vs "
                f"{fmt(l2.down_gap.p95)} ms; worst {fmt(l3.down_gap.max)} vs {fmt(l2.down_gap.max)} ms "
                f"(downstream, 10 ms probe spacing)."))
    l3_loss = l3.down_lost.mean + l3.up_lost.mean if l3.up_lost.n else l3.down_lost.mean
    l2_loss = l2.down_lost.mean + l2.up_lost.mean if l2.up_lost.n else l2.down_lost.mean
    out.append(("loss", word(l3_loss, l2_loss, "loss"),
                f"{fmt(l3_loss, 1)} vs {fmt(l2_loss, 1)} probe packets lost per roam, both directions "
                f"(at 100 packets/s each way): {_times(l3_loss, l2_loss)}."))
    f3, f2 = l3.tcp_alive / max(l3.tcp_runs, 1), l2.tcp_alive / max(l2.tcp_runs, 1)
    out.append(("TCP survival", "same" if f3 == f2 else ("better" if f3 > f2 else "worse"),
                f"{l3.tcp_alive}/{l3.tcp_runs} runs (L3) vs {l2.tcp_alive}/{l2.tcp_runs} (L2) kept the TCP stream; "
                f"longest stall median {fmt(l3.tcp_stall.median)} vs {fmt(l2.tcp_stall.median)} ms."))
    slope = control_per_client(costs)
    extra = (f" Each lightweight client adds about {fmt(slope, 1)} B/s per link of babel traffic with l3roam "
             f"(its /32 in every router's updates); in the L2 stand-in clients never enter the routing protocol "
             f"(batman-adv would instead carry them in its translation tables)." if slope is not None else "")
    out.append(("control traffic", word(l3.control_bps.median, l2.control_bps.median, "bytes"),
                f"{fmt(l3.control_bps.median)} vs {fmt(l2.control_bps.median)} B/s of babel per link with one "
                f"client: {_times(l3.control_bps.median, l2.control_bps.median)}.{extra}"))
    tmax = max((c["table_max"] for c in costs), default=None)
    nmax = max((c["clients"] for c in costs), default=None)
    out.append(("table size", word(l3.table_max.median, l2.table_max.median, "routes"),
                f"largest routing table {fmt(l3.table_max.median)} vs {fmt(l2.table_max.median)} routes with one client"
                + (f"; with {nmax} lightweight clients every l3roam router holds up to {tmax} routes (one /32 per "
                   f"client), while L2 routers keep only the loopbacks (the clients sit in bridge FDBs instead)."
                   if tmax is not None else ".")))
    out.append(("CPU", word(l3.babeld_cpu.median + (l3.agent_cpu.median if l3.agent_cpu.n else 0),
                            l2.babeld_cpu.median, "cpu"),
                f"babeld {fmt(l3.babeld_cpu.median, 2)} vs {fmt(l2.babeld_cpu.median, 2)} % of a core per router "
                f"during the runs; l3roam adds its agents, {fmt(l3.agent_cpu.median, 2)} % per AP (Python). "
                f"The L2 forwarding cost (head-end replication of every flooded frame to every AP) is in the "
                f"kernel and not counted here."))
    return out


def control_per_client(costs: list[dict]) -> float | None:
    """Babel bytes/s per link added by one client (least squares over the points without roams)."""
    pts = [(c["clients"], c["babel_bytes_per_s_per_link"]) for c in costs
           if not c.get("roam_rate") and c.get("design", "l3roam") == "l3roam" and not c.get("error")]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    den = sum((x - mx) ** 2 for x, _ in pts)
    if den == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in pts) / den


def _settle(c: dict) -> str:
    v = c.get("settle_s")
    if v is None:
        return "–"
    if isinstance(v, float) and math.isnan(v):
        return "never (60 s)"
    return fmt(v, 1)


def _saturated(s: dict, cores: int) -> bool:
    """babeld alone using more than 70 % of the machine: nothing left for traffic or measurement."""
    return (s.get("babeld_cpu_percent_total") or 0) > 70 * cores


def _scale_result(s: dict, cores: int) -> str:
    if not s.get("ok"):
        return s.get("error", "failed")
    return "CPU saturated" if _saturated(s, cores) else "ok"


def _distance_sections(meta: dict, runs: list[dict], figures: dict[str, str]) -> list[str]:
    """Per hop distance and the handover targets, when the runs record hop distances."""
    from l3roam.experiment.distance import by_distance, targets

    dist = by_distance(runs)
    if not dist:
        return []
    md = ["", "## By hop distance", "",
          "Hops between the two APs of a move. Gap and loss spread as median / p95 (min–max); the move "
          "itself (the testbed's netlink calls) is in the next column.", ""]
    moves = {}
    for run in runs:
        for x in run.get("roams", []):
            if x.get("hops") is not None and x.get("move_ms") is not None:
                moves.setdefault((run.get("testbed", "-"), x["hops"], run["scenario"]), []).append(x["move_ms"])
    md.append(table(["testbed", "hops", "scenario", "roam model", "roams", "gap down ms", "gap up ms",
                     "lost down", "lost up", "move ms (median / max)"],
                    [[d.testbed, str(d.hops), d.scenario, d.model, str(d.roams), spread(d.down_gap),
                      spread(d.up_gap), spread(d.down_lost), spread(d.up_lost),
                      (lambda m: f"{fmt(summarize(m).median, 1)} / {fmt(summarize(m).max, 1)}" if m else "–")(
                          moves.get((d.testbed, d.hops, d.scenario), []))]
                     for d in dist]))
    if "cdf_hops" in figures:
        md += ["", f"![cdf by hop distance]({figures['cdf_hops']})", "",
               "*CDF of the downstream gap per roam, by testbed and hop distance.*"]
    t = targets(runs)
    if t:
        md += ["", "## Handover targets", "",
               "l3roam with hand-off under the carrier-kept roam model, against the targets and against the "
               "L2 baseline of the same testbed and roam model at each hop distance.", ""]
        md.append(table(["scenario", "target", "wanted", "measured", "met"],
                        [[x.scenario, x.what, x.want, x.got, {True: "yes", False: "**no**", None: "–"}[x.met]]
                         for x in t]))
    return md


def render_markdown(meta: dict, runs: list[dict], costs: list[dict], scale: list[dict],
                    figures: dict[str, str], title: str | None = None) -> str:
    rows = summarize_scenarios(runs)
    topo = meta.get("topology", {})
    md: list[str] = [f"# {title or meta.get('title', 'Experiment report')}", ""]
    md += [f"Run on {meta.get('date_utc', '?')} UTC ({fmt(meta.get('seconds'))} s): {meta.get('cpu', '?')}, "
           f"{meta.get('cores', '?')} cores, {meta.get('memory_mib', '?')} MiB; {meta.get('os', '?')}, "
           f"kernel {meta.get('kernel', '?')}; babeld {meta.get('babeld', '?')}; {meta.get('dnsmasq', '?')}; "
           f"Python {meta.get('python', '?')}.", ""]
    if meta.get("vm"):
        md += [f"Where it ran: **in a VM**, {meta['vm']}, on a host with kernel {meta.get('host_kernel', '?')}; "
               "all scenarios and the client costs share the guest's kernel and its one CPU"
               + (f"; the scale part ran on the {meta['scale_ran_on']}" if meta.get("scale_ran_on") else "")
               + f". l3roam's hand-off: {meta.get('handoff_encapsulation', 'SRv6')}.", ""]
    md += [f"batman-adv: {'available' if meta.get('batman_adv') else 'absent on this kernel'} "
           + (f"(version {meta['batman_adv_version']})" if meta.get("batman_adv_version")
              else f"({meta.get('batman_adv_detail', '?')})")
           + ("" if meta.get("batman_adv") else
              "; the L2 baseline (Linux bridges joined by VXLAN over the babel routes) stands in for it."), ""]
    skipped = list(dict.fromkeys(meta.get("skipped", [])))
    for s in skipped:
        md.append(f"- skipped: {s}")
    if skipped:
        md.append("")
    if topo:
        where = topo.get("placement_text") or f"traffic server and lease master on {topo.get('server')}"
        md += [f"Mesh: {topo.get('routers')} routers, {topo.get('links')} links; APs "
               f"{', '.join(topo.get('aps', []))} (hops from the first: "
               f"{', '.join(str(v) for v in topo.get('hops', {}).values())}). Placement: {where}; the L2 "
               "baseline's gateway runs on the traffic server's router. Scenarios that move the server say so in "
               "the table below. Traffic: UDP probes at 100 packets/s downstream "
               "(server to client) and upstream, and a TCP echo stream (100 bytes every 10 ms) from the client.", ""]
    md += ["## Scenarios", ""]
    first = {run["scenario"]: run for run in runs}
    md.append(table(["scenario", "design", "hand-off", "interval s (babel hello / batman OGM)", "client after a move",
                     "testbed", "roam model", "server (hops to the APs)", "runs", "roams"],
                    [[r.name, KIND_LABEL.get(r.kind, r.kind), {True: "yes", False: "no"}.get(r.handoff, "–"),
                      fmt(r.hello, 2) if r.kind != "batman" else f"OGM {fmt((r.orig_interval or 1000) / 1000, 2)}",
                      r.client, first[r.name].get("testbed", "–"),
                      first[r.name].get("roam_model") or "carrier-lost", r.server or "–",
                      f"{r.runs}" + (f" ({r.failed} failed)" if r.failed else ""), str(r.roams)]
                     for r in rows]))
    md += ["", "## Handover", "",
           "Per roam: the longest interval without probe arrivals around the move (gap), probes lost, "
           "duplicated and reordered. Spread as median / p95 (min–max) over all roams of all repetitions.", ""]
    md.append(table(["scenario", "gap down ms", "gap up ms", "lost down", "lost up", "dup", "reord",
                     "TCP alive", "TCP longest stall ms"],
                    [[r.name, spread(r.down_gap), spread(r.up_gap), spread(r.down_lost), spread(r.up_lost),
                      str(r.duplicates), str(r.reordered), f"{r.tcp_alive}/{r.tcp_runs}", spread(r.tcp_stall)]
                     for r in rows]))
    md += _distance_sections(meta, runs, figures)
    sub = pick(rows, "subnets")
    if sub is not None:
        md += ["", f"No roaming (`{sub.name}`): the client's address changes at every move, so downstream probes "
               "to its first address arrive only while it is back at its first AP (their gap spans whole windows), "
               "and the TCP stream stalls until then or breaks (TCP alive: "
               f"{sub.tcp_alive}/{sub.tcp_runs}). The upstream gap is the time until the client, with a new address from "
               f"the new AP's DHCP server, reaches the server again; the new DHCP exchange itself took "
               f"{spread(sub.redhcp_ms)} ms (process restart included). Here each AP redistributes its /24 into "
               "babel: acceptable in this design only, because babeld's flush_xroute() bug (docs/babel.md) garbles "
               "/32 withdrawals once a shorter prefix is redistributed, and no /32 is withdrawn here."]
    for key, caption in (("timeline", "Packet arrivals around one roam per scenario (the roam with the median gap "
                                      "of the first repetition); red ticks: probes sent but never received."),
                         ("cdf", "CDF of the per-roam gap per scenario."),
                         ("hello", "The hello interval trades handover gap against control traffic "
                                   "(l3roam without hand-off)")):
        if key in figures:
            md += ["", f"![{key}]({figures[key]})", "", f"*{caption}*"]
    md += behaviour_section(rows)
    md += ["", "## Costs during the runs", "",
           "Control traffic per link, both directions: babel (UDP 6696) for the L3 designs and the L2 stand-in's "
           "underlay, batman-adv's own control frames (ethertype 0x4305 of packet type OGM, ELP, OGMv2 or unicast "
           "TVLV: translation-table and roaming messages) for batman-adv; counted "
           + ("by tc egress filters on every mesh interface (bytes include the Ethernet header)"
              if meta.get("vm") else "by nftables counters (IP bytes)")
           + ". CPU time of babeld and the agents from /proc/<pid>/stat; machine CPU from /proc/stat (batman-adv "
           "works in the kernel, so only the machine total sees it; it includes the probes). Largest table: "
           "routes (IPv4 + IPv6) per router, or for batman-adv translation-table entries (local + global) plus "
           "originators.", ""]
    md.append(table(["scenario", "control B/s per link", "control pkt/s per link", "babeld CPU % per router",
                     "agent CPU % per AP", "machine CPU %", "largest table"],
                    [[r.name, spread(r.control_bps), spread(r.control_pps, 1), spread(r.babeld_cpu, 2),
                      spread(r.agent_cpu, 2), spread(r.system_cpu, 1), fmt(r.table_max.median)] for r in rows]))
    l3costs = [c for c in costs if c.get("design", "l3roam") == "l3roam"]
    batcosts = [c for c in costs if c.get("design") == "batman"]
    costs = l3costs
    if costs:
        md += ["", "## Costs against clients and roam rate", "",
               "l3roam (hand-off on) with lightweight clients: a lease from the master through its client library "
               "and a /32 of protocol 44 on an AP (spread round-robin over the APs), no namespace. Roaming "
               "lightweight clients move their /32 to the next AP (install there, delete at the old AP) at the "
               "given rate.", ""]
        md.append(table(["clients", "roams/s", "babel B/s per link", "babel pkt/s per link", "largest table",
                         "median table", "babeld CPU % per router", "agent CPU % per AP", "babeld RSS KiB (max)",
                         "all routers had the routes after s"],
                        [[str(c["clients"]), fmt(c["roam_rate"], 0), fmt(c["babel_bytes_per_s_per_link"]),
                          fmt(c["babel_packets_per_s_per_link"], 1), str(c["table_max"]), str(c.get("table_median", "–")),
                          fmt(c["babeld_cpu_percent_per_router"], 2), fmt(c.get("agent_cpu_percent_per_ap"), 2),
                          fmt(c.get("babeld_rss_kib_max")), _settle(c)] for c in costs]))
        slope = control_per_client(costs)
        if slope is not None:
            md += ["", f"Least-squares slope: **{fmt(slope, 1)} B/s of babel traffic per link per client** "
                   f"(update interval 4 s; a /32 costs its share of the periodic full dumps)."]
    md += batman_cost_section(batcosts)
    if costs or batcosts:
        for key in ("control", "table"):
            if key in figures:
                md += ["", f"![{key}]({figures[key]})"]
    if scale:
        md += ["", "## How large a mesh this machine carries", "",
               "Each router a namespace with its own babeld (babel timers from the experiment file, else by size); built, converged "
               "(every router has a route to every loopback), then 5 s measured"
               + (f", on the {meta['scale_ran_on']} (a mesh of hundreds of routing daemons does not fit the VM's "
                  "one CPU); babel only, batman-adv is not part of this section" if meta.get("scale_ran_on") else "")
               + ".", ""]
        cores = meta.get("cores") or 1
        md.append(table(["mesh", "routers", "links", "hello s", "built s", "converged s",
                         "babeld CPU % of one core (all)", "babeld RSS MiB (all)", "memory used MiB",
                         "largest table", "teardown s", "result"],
                        [[s["case"], str(s["routers"]), str(s["links"]), fmt(s.get("hello"), 2),
                          fmt(s.get("build_s"), 1), fmt(s.get("converge_s"), 1),
                          fmt(s.get("babeld_cpu_percent_total"), 1), fmt(s.get("babeld_rss_mib_total"), 1),
                          fmt(s.get("memory_used_mib")), fmt(s.get("table_max")), fmt(s.get("teardown_s"), 1),
                          _scale_result(s, cores)]
                         for s in scale]))
        ok = [s for s in scale if s.get("ok") and not _saturated(s, cores)]
        if ok:
            big = max(ok, key=lambda s: s["routers"])
            md += ["", f"Largest mesh carried comfortably: **{big['routers']} routers** ({big['case']}), converged in "
                   f"{fmt(big.get('converge_s'), 1)} s, babeld using {fmt(big.get('babeld_cpu_percent_total'), 0)} % "
                   f"of one core in total."]
        hot = [s for s in scale if s.get("ok") and _saturated(s, cores)]
        if hot:
            h = max(hot, key=lambda s: s["routers"])
            md += ["", f"At the limit: {h['routers']} routers ({h['case']}) converged for the IPv4 loopbacks, but "
                   f"the babelds used {fmt(h.get('babeld_cpu_percent_total'), 0)} % of one core on a {cores}-core "
                   f"machine, i.e. the CPU was saturated."]
        if "scale" in figures:
            md += ["", f"![scale]({figures['scale']})"]
    v = verdicts(rows, costs)
    if v:
        md += ["", "## Verdict: L3 roaming (l3roam, hand-off) against the L2 baseline", ""]
        md.append(table(["metric", "L3 is", "figures"], [[m, w, s] for m, w, s in v]))
    md += batman_verdict_section(rows, l3costs, batcosts)
    md.append("")
    return "\n".join(md)


from l3roam.experiment.render_batman import (  # noqa: E402  (it uses the helpers above)
    batman_cost_section, batman_verdict_section, behaviour_section,
)
