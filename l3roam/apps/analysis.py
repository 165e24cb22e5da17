"""Figures and verdicts of one application run, from its raw files (reading + pure figures).

``analyse_run(workdir, roams)`` reads what ``l3roam.apps.session`` left in a
run's directory and returns one dict per application:

- ``hls``: rebuffer events, total stall time, failed requests, startup delay;
- ``rtmp``: per direction whether the session survived, its longest stall,
  frames received and dropped;
- ``sip``: the call's clean end (BYE answered), per direction RTP loss, late
  packets, longest media gap, jitter, one-way delay, MOS (``l3roam.apps.emodel``),
  loss per roam;
- ``download``: completion, mean throughput, longest stall, TCP retransmissions;
- ``paths``: per roam the paths each direction took, how long they stayed
  asymmetric, the exit used and whether it changed; the exits' NAT entries.

Verdicts (``verdict_*``): *works* when a user would not notice, *degraded*
when the application kept going with a visible or audible glitch, *breaks*
when the session ended or stopped for good.  The thresholds are in the
functions' docstrings.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from pathlib import Path

from l3roam.apps import conntrack, emodel, fetch, ffwatch, pcap, rtp
from l3roam.apps.media import FPS
from l3roam.apps.paths import packet_paths, per_roam
from l3roam.apps.player import playback
from l3roam.apps.sip import MEDIA_PORT
from l3roam.testbed.internet import uplink_addresses


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- HLS


def hls_figures(h: dict | None) -> dict:
    if h is None:
        return {"ran": False}
    pb = playback(h["seg_done"], h["segment_s"], h["t_end"])
    failed = [r for r in h["requests"] if not r["ok"]]
    return {"ran": True, "segments": len(h["seg_done"]), "requests": len(h["requests"]),
            "failed": len(failed), "errors": sorted({r["error"] for r in failed})[:5],
            "startup_s": round(pb.started_at - h["t_start"], 2) if pb.started_at else None,
            "rebuffers": len(pb.stalls), "stall_s": round(pb.stall_s, 2), "stalled_at_end": pb.stalled_at_end,
            "stalls": [[round(a, 3), round(b, 3)] for a, b in pb.stalls],
            "buffer_at_end_s": round(pb.buffer_ahead(), 2)}


def verdict_hls(f: dict) -> str:
    """works: no rebuffering; degraded: rebuffered but played on; breaks: stopped for good or never played."""
    if not f.get("ran") or f.get("startup_s") is None or f.get("stalled_at_end"):
        return "breaks"
    return "works" if f["rebuffers"] == 0 else "degraded"


# ----------------------------------------------------------------------------- RTMP


def rtmp_direction(sender: dict | None, receiver: dict | None, t_stop: float, fps: float) -> dict:
    """One RTMP session, from the receiving ffmpeg's progress.

    Frames dropped: the media time the receiver reached times the frame rate,
    minus the frames it got (a server that drops frames for a slow player
    advances the media time without the frames).  Behind: how much media
    time the receiver lost against the wall clock from its first frame on
    (stalls that were never caught up).
    """
    if sender is None or receiver is None:
        return {"ran": False}
    rs = receiver["samples"]
    got = max((x[1] for x in rs), default=0)
    media = max((x[2] for x in rs if len(x) > 2), default=0.0)
    head = next((x for x in rs if x[1] > 0), None)  # counted from the first frame on (the join offset)
    first = head[0] if head else None
    f0, m0 = (head[1], head[2] if len(head) > 2 else 0.0) if head else (0, 0.0)
    last_move = max((x[0] for x in rs if x[1] == got), default=None) if got else None
    end = min(receiver["t_end"], t_stop)
    stall, stall_at = ffwatch.longest_stall(rs, end)
    alive = (bool(receiver.get("stopped_by_us")) and bool(sender.get("stopped_by_us")) and last_move is not None
             and end - last_move < 2.0)
    return {"ran": True, "survived": alive, "frames": int(got), "media_s": round(media, 2),
            "dropped": int(max(0, round((media - m0) * fps) - (got - f0))),
            "behind_s": round(max(0.0, (end - first) - (media - m0)), 2) if first else None,
            "longest_stall_s": round(stall, 2), "stall_at": stall_at,
            "receiver_exit": receiver.get("exit"), "sender_exit": sender.get("exit")}


def verdict_rtmp(f: dict) -> str:
    """works: both sessions alive, no stall over 1 s; degraded: alive but stalled; breaks: a session died."""
    dirs = [f.get("down", {}), f.get("up", {})]
    if any(not d.get("ran") or not d.get("survived") for d in dirs):
        return "breaks"
    return "works" if all(d["longest_stall_s"] < 1.0 for d in dirs) else "degraded"


# ----------------------------------------------------------------------------- SIP


def sip_figures(meta: dict, client_pkts: list[pcap.Packet], inet_pkts: list[pcap.Packet], roams: list[float],
                jitter_buffer_ms: float) -> dict:
    """Upstream: every packet of the caller's stream counts as sent (those it never managed to send on
    schedule); downstream: the echoes the callee sent.  Gaps of both run over the stream's span."""
    server = meta["server"]
    up_sent = rtp.times_by_seq(client_pkts, lambda p: p.dst == server and p.dport == MEDIA_PORT)
    up_got = rtp.times_by_seq(inet_pkts, lambda p: p.dst == server and p.dport == MEDIA_PORT)
    down_sent = rtp.times_by_seq(inet_pkts, lambda p: p.src == server and p.sport == MEDIA_PORT)
    down_got = rtp.times_by_seq(client_pkts, lambda p: p.src == server and p.sport == MEDIA_PORT)
    up_sent = rtp.nominal(up_sent, meta.get("rtp_packets", 0), meta.get("rtp_rate", 50))
    span = (min(up_sent.values()), max(up_sent.values())) if up_sent else None
    up = rtp.direction(up_sent, up_got, roams, jitter_buffer_ms, span=span)
    down = rtp.direction(down_sent, down_got, roams, jitter_buffer_ms, span=span)
    out = {"ran": bool(up_sent), "clean_bye": meta.get("sip_exit") == 0 and meta.get("sip_successful_calls") == 1,
           "jitter_buffer_ms": jitter_buffer_ms}
    for name, d in (("up", up), ("down", down)):
        out[name] = {"sent": d.sent, "lost": d.lost, "late": d.late, "loss_pct": round(d.loss_pct, 2),
                     "longest_gap_ms": d.longest_gap_ms, "gap_at": d.gap_at, "jitter_ms": d.jitter_ms,
                     "delay_ms": d.delay_ms,
                     "mos": emodel.call_mos(d.delay_ms if not math.isnan(d.delay_ms) else 0.0,
                                            d.effective_loss_pct if d.sent else 100.0, jitter_buffer_ms),
                     "per_roam": [{"at": r.at, "lost": r.lost, "gap_ms": r.gap_ms} for r in d.per_roam]}
    out["mos"] = min(out["up"]["mos"], out["down"]["mos"])
    out["longest_gap_ms"] = max(out["up"]["longest_gap_ms"], out["down"]["longest_gap_ms"])
    return out


def verdict_sip(f: dict) -> str:
    """works: clean BYE, no media gap of 200 ms or more, MOS >= 4.0; breaks: no clean BYE or media
    stopped for 5 s or more; degraded otherwise."""
    if not f.get("ran") or not f.get("clean_bye") or f["longest_gap_ms"] >= 5000:
        return "breaks"
    return "works" if f["longest_gap_ms"] < 200 and f["mos"] >= 4.0 else "degraded"


# ----------------------------------------------------------------------------- download


def _retransmissions(samples: list[list]) -> int:
    """Largest total retransmission count ss reported for the download's connections."""
    best: dict[str, int] = {}
    for _, text in samples:
        conn = None
        for line in text.splitlines():
            if line and not line.startswith((" ", "\t")):
                conn = " ".join(line.split()[2:4])
            m = re.search(r"retrans:\d+/(\d+)", line)
            if m and conn is not None:
                best[conn] = max(best.get(conn, 0), int(m.group(1)))
    return sum(best.values())


def download_figures(d: dict | None, tcp_samples: list[list]) -> dict:
    if d is None:
        return {"ran": False}
    span = (d["t_last_byte"] - d["t_start"]) if d["bytes"] else 0.0
    return {"ran": True, "complete": d["complete"], "bytes": d["bytes"], "expected": d["expected"],
            "seconds": round(span, 2), "mbit_s": round(d["bytes"] * 8 / span / 1e6, 3) if span > 0 else 0.0,
            "longest_stall_s": d["longest_stall_s"], "stall_at": d.get("stall_at"),
            "retransmissions": _retransmissions(tcp_samples), "curl": d.get("curl", "")}


def verdict_download(f: dict) -> str:
    """works: complete, no stall of 1 s or more; degraded: complete after a longer stall; breaks: incomplete."""
    if not f.get("ran") or not f.get("complete"):
        return "breaks"
    return "works" if f["longest_stall_s"] < 1.0 else "degraded"


# ----------------------------------------------------------------------------- paths and exits


def path_figures(workdir: Path, meta: dict, roams: list[float], inet_pkts: list[pcap.Packet],
                 uplinks: ipaddress.IPv4Network) -> dict:
    server = meta["server"]
    caps = {}
    for r in meta["routers"]:
        p = workdir / f"cap-{r}.pcap"
        caps[r] = pcap.read(p.read_bytes()).packets if p.exists() else []
    rtp_only = [x for pk in caps.values() for x in pk]
    up = packet_paths(caps, lambda p: p.dst == server and p.dport == MEDIA_PORT)
    down = packet_paths(caps, lambda p: p.src == server and p.sport == MEDIA_PORT)
    srv6 = {s for p in rtp_only if p.srv6 and p.src == server and p.sport == MEDIA_PORT
            for s in [rtp.rtp_seq(p.payload)] if s is not None}
    nat = {str(uplink_addresses(uplinks, k)[0]): e for k, e in enumerate(meta["exits"])}
    exit_of = {}
    for p in inet_pkts:
        if p.dst == server and p.dport == MEDIA_PORT and p.src in nat:
            s = rtp.rtp_seq(p.payload)
            if s is not None:
                exit_of.setdefault(s, nat[p.src])
    end = meta["t_clients"] + meta["duration"]
    rp = per_roam(up, down, srv6, exit_of, roams, end)
    ct = conntrack.exits_over_time([tuple(x) for x in meta.get("conntrack", [])], _client_sources(caps, server))
    return {"per_roam": [r.__dict__ for r in rp], "conntrack": ct,
            "renatted_flows": ct[-1]["renatted"] if ct else [],
            "exit_changes": sum(1 for r in rp if r.exit_changed),
            "asymmetric_max_ms": max((r.asymmetric_for_ms for r in rp), default=0.0)}


def _client_sources(caps: dict[str, list[pcap.Packet]], server: str) -> set[str]:
    return {p.src for pk in caps.values() for p in pk if p.dst == server}


# ----------------------------------------------------------------------------- all


def analyse_run(workdir: Path, roams: list[float], jitter_buffer_ms: float,
                uplinks: ipaddress.IPv4Network) -> dict:
    workdir = Path(workdir)
    meta = _load(workdir / "apps-meta.json") or {}
    stop = meta.get("t_clients", 0) + meta.get("duration", 0)
    out: dict = {}
    out["hls"] = hls_figures(_load(workdir / "hls.json"))
    out["hls"]["verdict"] = verdict_hls(out["hls"])
    out["rtmp"] = {"down": rtmp_direction(_load(workdir / "rtmp-down-pub.json"),
                                          _load(workdir / "rtmp-down-play.json"), stop, FPS),
                   "up": rtmp_direction(_load(workdir / "rtmp-up-pub.json"),
                                        _load(workdir / "rtmp-up-recv.json"), stop, FPS)}
    out["rtmp"]["verdict"] = verdict_rtmp(out["rtmp"])
    cp, ip = workdir / f"cap-{meta.get('client', 'c1')}.pcap", workdir / "cap-inet.pcap"
    client_pkts = pcap.read(cp.read_bytes()).packets if cp.exists() else []
    inet_pkts = pcap.read(ip.read_bytes()).packets if ip.exists() else []
    if meta:
        out["sip"] = sip_figures(meta, client_pkts, inet_pkts, roams, jitter_buffer_ms)
        out["sip"]["verdict"] = verdict_sip(out["sip"])
        out["paths"] = path_figures(workdir, meta, roams, inet_pkts, uplinks)
    out["download"] = download_figures(_load(workdir / "download.json"), meta.get("download_tcp", []))
    out["download"]["verdict"] = verdict_download(out["download"])
    return out
