"""The "Many clients" section of the report: tables, arithmetic, the operator's question, a figure.

Reads ``clientscale-<mesh>.json`` files (``l3roam.experiment.clientscale``)
and renders one Markdown section.  ``splice`` puts it between the markers
``<!-- clients:begin -->`` and ``<!-- clients:end -->`` of an existing file
(docs/results.md), so the rest of that file is left as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

from l3roam.experiment import babelbytes as bb
from l3roam.experiment.render import fmt, table

BEGIN, END = "<!-- clients:begin -->", "<!-- clients:end -->"
LINKS_MBIT = (10, 50)
SHARES = (0.01, 0.10)
USER_KBIT = (1, 10)  # stated per-client averages of the users' own traffic


def load(out: Path) -> list[dict]:
    meshes = [json.loads(p.read_text()) for p in Path(out).glob("clientscale-*.json")]
    return sorted(meshes, key=lambda m: (m["routers"], m["mesh"] != m["mesh"].split("-")[0], m["mesh"]))


def _still(p: dict) -> bool:
    return not p.get("roam_rate")


def per_client_fit(m: dict) -> tuple[float, float] | None:
    """(base, slope) of babel bytes/s per link against clients: the base measured at 0 clients when
    there is such a point (hellos, IHUs, the routers' own routes), the slope fitted through it."""
    pts = [(p["clients"], p["babel_bytes_per_s_per_link"]["mean"]) for p in m["points"] if _still(p)]
    if len(pts) < 2:
        return None
    zero = [y for x, y in pts if x == 0]
    if not zero:
        return bb.fit(pts)
    base = zero[0]
    sxx = sum(x * x for x, _ in pts)
    return base, sum(x * (y - base) for x, y in pts) / sxx


def prediction(m: dict) -> bb.Prediction:
    n = max((p["clients"] for p in m["points"]), default=1000) or 1000
    return bb.predict(m["update_interval"], m["mtu"], n, len(m["aps"]))


def encoding(m: dict) -> tuple[float, float] | None:
    """From the capture at the largest still point: (bytes per client per full update, full updates per s)."""
    pts = [p for p in m["points"] if _still(p) and p["clients"] and p.get("capture", {}).get("tally")]
    if not pts:
        return None
    p = max(pts, key=lambda p: p["clients"])
    t, secs = p["capture"]["tally"], p["capture"]["seconds"]
    updates = t.get("update", {}).get("count", 0)
    if not updates:
        return None
    dumps = updates / p["clients"]  # Update TLVs per client (own and loopback routes: negligible here)
    wire = sum(t.get(k, {}).get("bytes", 0) for k in ("headers", "router-id", "update", "next-hop"))
    return wire / updates, dumps / secs


def _full(m: dict) -> str:
    """Bursts that carried (nearly) every client, per update interval, at the largest still point."""
    pts = [p for p in m["points"] if _still(p) and p["clients"] and "full_updates" in p.get("capture", {})]
    if not pts:
        return "–"
    p = max(pts, key=lambda p: p["clients"])
    return f"{p['capture']['full_updates'] / p['capture']['seconds'] * m['update_interval']:.2f}"


def _late(m: dict) -> str:
    counts = [p["babeld_log"]["late_hellos"] for p in m["points"] if "late_hellos" in p.get("babeld_log", {})]
    return str(sum(counts)) if counts else "–"


def roam_cost(m: dict) -> list[tuple[float, float]]:
    """(roams/s, triggered babel bytes per roam per link): bytes of packets with few updates (not part of
    a full update) in the captured direction at the roam point, minus the still point's, twice (both
    directions), per roam.  Falls back to the per-link counters when there is no capture."""
    def few(p: dict) -> float | None:
        t = p.get("capture", {}).get("tally", {})
        if "packets-few-updates" not in t and "packets-full-updates" not in t:
            return None
        return t.get("packets-few-updates", {}).get("bytes", 0) / p["capture"]["seconds"]

    still = {p["clients"]: p for p in m["points"] if _still(p)}
    out = []
    for p in m["points"]:
        if p.get("roam_rate") and p["clients"] in still and p["roams"]:
            a, b = few(still[p["clients"]]), few(p)
            if a is not None and b is not None:
                out.append((p["roam_rate"], 2 * (b - a) * p["seconds"] / p["roams"]))
            else:
                extra = p["babel_bytes_per_s_per_link"]["mean"] - still[p["clients"]]["babel_bytes_per_s_per_link"]["mean"]
                out.append((p["roam_rate"], extra * p["seconds"] / p["roams"]))
    return out


def mean_hops_to_master(m: dict) -> float | None:
    return m.get("mean_hops_ap_to_master")


def _row(m: dict, p: dict) -> list[str]:
    cv = p.get("coverage", {})
    every = "**yes**" if cv.get("all_routes_everywhere") else "NO"
    log = p.get("babeld_log", {})
    return [m["mesh"], str(p["clients"]), fmt(p.get("roam_rate"), 0), str(p.get("roams", 0)), every,
            f"{cv.get('routes_min', '–')} / {cv.get('expected_routes', '–')}",
            _secs(p),
            f"{log.get('repaired_add', 0)}+{log.get('repaired_flush', 0)}", str(log.get("enobufs", 0)),
            f"{fmt(p['babel_bytes_per_s_per_link']['mean'])} ({fmt(p['babel_bytes_per_s_per_link']['max'])})",
            fmt(p["babel_packets_per_s_per_link"]["mean"], 1),
            f"{fmt(p['babeld_cpu_percent']['median'], 2)} / {fmt(p['babeld_cpu_percent']['max'], 2)}",
            fmt(p["babeld_rss_kib"]["max"]), fmt(p["agent_cpu_percent_per_ap"], 2),
            _ops(p), fmt(p["load"][0], 1)]


def _secs(p: dict) -> str:
    """Seconds until every router had every route (the full check; older runs: presence only)."""
    if "complete_s" in p:
        return fmt(p["complete_s"], 1) if p["complete_s"] is not None else "never"
    return fmt(p.get("settle_s"), 1) if p.get("settle_s") is not None else "never"


def _ops(p: dict) -> str:
    """Master operations/s in the window; at a still point, the leases/s of the step's fill."""
    add = p.get("add") or {}
    if not p.get("roam_rate") and add.get("added") and add.get("seconds"):
        return f"{add['added'] / add['seconds']:.0f} (fill)"
    return fmt(p["master_ops_per_s"], 1)


HEAD = ["mesh", "clients", "roams/s", "roams", "every router had every route", "routes at the worst router",
        "s until all had all", "repaired by kernel check (add+flush)", "ENOBUFS logged",
        "babel B/s per link mean (max)", "babel pkt/s per link", "babeld CPU % per router median / max",
        "babeld RSS KiB max", "agent CPU % per AP", "master ops/s (window; fill: leases/s while adding)", "load (1 min)"]


def _tally_line(p: dict) -> str:
    t = p.get("capture", {}).get("tally", {})
    secs = p.get("capture", {}).get("seconds") or 1
    if not t:
        return "–"
    tlvs = {k: v for k, v in t.items() if not k.startswith("packets-")}
    parts = [f"{k} {v['bytes'] / secs:.0f}" for k, v in sorted(tlvs.items(), key=lambda kv: -kv[1]["bytes"])]
    few = t.get("packets-few-updates")
    if few:
        parts.append(f"(packets with few updates, i.e. triggered: {few['bytes'] / secs:.0f} B/s in {few['count']})")
    return ", ".join(parts)


def render_section(meshes: list[dict], figure: str | None) -> str:
    out = [BEGIN, "## Many clients: a /32 per client at every router", ""]
    if not meshes:
        return "\n".join(out + ["No client-scale results.", END]) + "\n"
    m0 = meshes[0]
    out.append(
        "Lightweight clients: a lease through the master (BIND from the AP, over the mesh) and a /32 of protocol 44 at "
        "an AP, installed and deleted by a driver per AP that checks every netlink answer; no namespace per client. "
        "Each step adds its clients at all APs at once (a burst, the hardest case for babeld's kernel notifications). "
        "A roam moves a random client to a random other AP: BIND there through the master, /32 there, then delete "
        "at the old AP. *Every router had every route*: at every router a route for every client that, followed hop "
        "by hop, ends at the AP the client is at (checked on the kernel tables after each step and after the roams "
        "stop). Babel bytes: nftables counters per router and mesh interface on UDP 6696, both directions of a link "
        f"summed. babeld {m0.get('babeld', '1.13.1')}, update interval {m0['update_interval']:g} s, MTU {m0['mtu']}; "
        "hello, kernel-check-interval and babeld's UDP receive buffer per mesh below (docs/babel.md). "
        "*s until all had all*: from the step's routes being in the APs' kernels until the check held. "
        "Rerun: `scripts/clients-figures.sh` (raw results: docs/results/clients/).")
    out.append("")
    out.append(
        "Two ways babel loses client routes at these sizes (docs/babel.md explains both and gives the rules): "
        "(1) babeld misses kernel notifications when a burst of route changes overruns its netlink socket "
        "(`ENOBUFS logged`); the client's /32 is then in its AP's kernel but never announced, until babeld's "
        "periodic kernel check (`repaired by kernel check`), every 300 s by default, every 10 s as l3roam "
        "configures it (compare line5 with line5-check300); (2) babeld's UDP socket, at the default "
        "`net.core.rmem_default`, drops parts of its neighbours' full updates once they outgrow it, and the "
        "same routes then expire again and again (the lines under the table say which runs had 4 MiB).")
    out.append("")
    rows = [_row(m, p) for m in meshes for p in m["points"]]
    out.append(table(HEAD, rows))
    out.append("")
    for m in meshes:
        status = f"error: {m['error']}" if m.get("error") else "complete"
        buf = m.get("babel_rcvbuf")
        out.append(f"- {m['mesh']}: {m['routers']} routers, {m['links']} links, {len(m['aps'])} APs, hello "
                   f"{m['hello']:g} s, kernel-check-interval {m['kernel_check_interval']} s, babeld's UDP receive "
                   f"buffer {'the default (208 KiB)' if not buf else f'{buf >> 20} MiB'}; babel converged in "
                   f"{fmt(m.get('converge_s'), 1)} s; run {status}.")
    out.append("")
    out += _lost(meshes)
    out += _arithmetic(meshes)
    out += _operator(meshes, figure)
    out.append(END)
    return "\n".join(out) + "\n"


def _yn(x: bool) -> str:
    return "yes" if x else "**no**"


def _lost(meshes: list[dict]) -> list[str]:
    """Where missing routes were lost, layer by layer, for every point that was incomplete."""
    rows = []
    for m in meshes:
        for p in m["points"]:
            cv = p.get("coverage", {})
            for x in cv.get("lost_where", [])[:4]:
                rows.append([m["mesh"], str(p["clients"]), fmt(p.get("roam_rate"), 0), x["ip"], x["ap"], x["router"],
                             _yn(x["ap_kernel"]), _yn(x["ap_babeld_xroute"]), _yn(x["router_babeld_route"]),
                             _yn(x["router_kernel"])])
    if not rows:
        return []
    return ["### Where the missing routes were lost", "",
            "For a few missing routes of each incomplete point: is the client's /32 in its AP's kernel, among the "
            "routes the AP's babeld redistributes (`dump` on its control socket), in the babeld of the router "
            "that lacks it, and in that router's kernel?  A route in the AP's kernel but not in its babeld is a "
            "kernel notification babeld never received (docs/babel.md, \"Many client routes\").", "",
            table(["mesh", "clients", "roams/s", "client", "AP", "router", "AP kernel", "AP babeld",
                   "router's babeld", "router's kernel"], rows), ""]


def _arithmetic(meshes: list[dict]) -> list[str]:
    out = ["### Against RFC 8966's arithmetic", ""]
    p = prediction(meshes[0])
    out.append(
        f"An IPv4 /32 Update TLV is {p.update_tlv} bytes (babeld does not compress IPv4 prefixes; over links without "
        f"IPv4 addresses it uses AE 4, v4-via-v6, so no Next-Hop TLV). A {meshes[0]['mtu']}-byte MTU carries "
        f"{p.per_packet} of them behind a 12-byte Router-Id TLV and 52 bytes of IPv6, UDP and babel headers, so one "
        f"client costs {p.bytes_per_client_per_dump:.2f} bytes per full update. Every router sends its whole table on "
        "every interface once per update interval, and a link carries both directions: predicted "
        f"{p.bytes_per_client_per_link_per_s:.2f} B/s per client per link at {meshes[0]['update_interval']:g} s.")
    out.append("")
    rows = []
    for m in meshes:
        f = per_client_fit(m)
        pr = prediction(m)
        if f is None:
            continue
        rc = roam_cost(m)
        roam = ", ".join(f"{x:.0f} B at {r:g}/s" for r, x in rc) or "–"
        enc = encoding(m)
        rows.append([m["mesh"], f"{f[1]:.2f}", f"{pr.bytes_per_client_per_link_per_s:.2f}",
                     f"{f[1] / pr.bytes_per_client_per_link_per_s:.2f}",
                     f"{enc[0]:.2f} / {pr.bytes_per_client_per_dump:.2f}" if enc else "–",
                     f"{enc[1] * m['update_interval']:.2f}" if enc else "–", _full(m), _late(m),
                     fmt(f[0]), roam, f"{bb.roam_bytes(pr.update_tlv)}-{bb.roam_bytes(pr.update_tlv, 2)}"])
    out.append(table(["mesh", "measured B/s per client per link (slope)", "predicted", "ratio",
                      "bytes per client per full update, captured / predicted",
                      "Update TLVs per client per update interval, captured", "complete full updates per interval, captured",
                      "late hellos logged (all points)",
                      "base B/s at 0 clients (hellos, IHUs, own routes)", "measured extra bytes per roam per link",
                      "predicted per roam"], rows))
    out.append("")
    out.append("The ratio splits into what one client's update costs on the wire (the encoding: captured bytes "
               "of update packets, headers and Router-Id TLVs included, per Update TLV, against the prediction) "
               "and how often a router sent each client's route on the captured link, against once per update "
               "interval (babeld jitters the interval to 0.75-1.25 of itself, so once on average).  Complete full "
               "updates: bursts of packets that carried at least 90 % of the clients.")
    out.append("")
    largest = [max((p for p in m["points"] if _still(p)), key=lambda p: p["clients"], default=None) for m in meshes]
    lines = [f"- {m['mesh']}, {p['clients']} clients, link {p.get('capture', {}).get('link', '?')}, one direction, "
             f"B/s by TLV type: {_tally_line(p)}" for m, p in zip(meshes, largest) if p is not None]
    roaming = [(m, p) for m in meshes for p in m["points"] if p.get("roam_rate")]
    lines += [f"- {m['mesh']}, {p['clients']} clients, {p['roam_rate']:g} roams/s: {_tally_line(p)}"
              for m, p in roaming]
    out.append("Captured on one link (tcpdump, what one end sent during the window):")
    out.append("")
    out += lines
    out.append("")
    return out


def _operator(meshes: list[dict], figure: str | None) -> list[str]:
    out = ["### The operator's question: when does routing traffic matter?", ""]
    rows = []
    for m in meshes:
        f = per_client_fit(m)
        if f is None:
            continue
        base, slope = f
        cells = [m["mesh"], f"{slope * 8:.0f} bit/s"]
        for mbit in LINKS_MBIT:
            for share in SHARES:
                n = bb.crossings(base, slope, mbit * 1e6 / 8, share)
                cells.append("never" if n is None else f"{n:,.0f}")
        h = m.get("mean_hops_ap_to_master")
        if h:
            # users' bytes/s per client on an average link: u/8 x mean hops to the gateway / links
            breakeven = slope * 8 * m["links"] / h  # bit/s per client below which routing > users at any size
            cells.append(f"{breakeven / 1000:.1f} kbit/s")
            for u in USER_KBIT:
                per_link = u * 1000 / 8 * h / m["links"]
                if per_link <= slope:
                    cells.append("every count")
                elif base <= 0:
                    cells.append("never")
                else:
                    cells.append(f"up to {base / (per_link - slope):,.0f}")
        else:
            cells += ["–"] * (1 + len(USER_KBIT))
        rows.append(cells)
    head = ["mesh", "routing per client per link"]
    head += [f"{int(s * 100)} % of {mb} Mbit/s at" for mb in LINKS_MBIT for s in SHARES]
    head += ["routing exceeds users' traffic (avg link) while clients average less than"]
    head += [f"routing exceeds users' traffic (avg link) at u = {u} kbit/s: clients" for u in USER_KBIT]
    out.append("Client counts at which babel's control traffic on a link (both directions, the measured fit "
               "*base + slope x clients*, update interval as above) reaches a share of a 10 or 50 Mbit/s "
               "link.  Against the users' own traffic: if each client averages *u* between its AP and a gateway "
               "at the master's router, an average link carries *u x mean hops / links* of it per client, which "
               "grows with the clients just like babel's share, so the comparison is per client: routing traffic "
               "exceeds the users' on an average link whenever clients average less than the break-even rate, "
               "at any mesh size (and below that, only while the few hellos dominate).")
    out.append("")
    out.append(table(head, rows))
    out.append("")
    if figure:
        out += [f"![clients]({figure})", "", "*Babel traffic per link against clients: measured points, fitted lines, "
                "shares of 10 and 50 Mbit/s links, and the users' own traffic on an average link.*", ""]
    return out


def splice(md_path: Path, section: str) -> None:
    """Replace the marked section of ``md_path`` (append it when the file has none)."""
    text = md_path.read_text() if md_path.exists() else ""
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    md_path.write_text(text)


def figure(meshes: list[dict], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fits = [(m, per_client_fit(m)) for m in meshes]
    fits = [(m, f) for m, f in fits if f is not None]
    if not fits:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [10 ** (k / 10) for k in range(10, 51)]  # 10 .. 100,000 clients
    for m, (a, b) in fits:
        pts = [(p["clients"], p["babel_bytes_per_s_per_link"]["mean"]) for p in m["points"] if _still(p) and p["clients"]]
        line = ax.plot(xs, [(a + b * x) * 8 / 1e6 for x in xs], "-", lw=1, label=f"babel, {m['mesh']} (fit)")
        ax.plot([x for x, _ in pts], [y * 8 / 1e6 for _, y in pts], "o", color=line[0].get_color())
        h = m.get("mean_hops_ap_to_master")
        if h:
            for u, style in zip(USER_KBIT, (":", "-.")):
                ax.plot(xs, [x * u * 1000 * h / m["links"] / 1e6 for x in xs], style, color=line[0].get_color(),
                        lw=0.8, label=f"users at {u} kbit/s each, {m['mesh']} avg link")
    for mbit, color in zip(LINKS_MBIT, ("tab:gray", "black")):
        for share, style in zip(SHARES, ("--", "-")):
            ax.axhline(mbit * share, color=color, ls=style, lw=0.7)
            ax.text(xs[0], mbit * share * 1.05, f"{int(share * 100)} % of {mbit} Mbit/s", fontsize=7, color=color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=1e-3)
    ax.set_xlabel("clients (a /32 each)")
    ax.set_ylabel("Mbit/s per link (both directions)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
