"""The ``apps:`` section of an experiment file (pure: schema only).

With ``apps`` set, every scenario of the experiment runs the application
probes instead of the UDP/TCP probes, once per pace and repetition:

    apps:
      probes: [hls, rtmp, sip, download]
      paces:
        - {name: still, count: 0, seconds: 25, scenarios: [l3roam]}  # the no-roam reference
        - {name: walk, interval: 12, count: 4}
        - {name: fast, interval: 3, count: 8}
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from l3roam.errors import ConfigProblem

PROBES = ("hls", "rtmp", "sip", "download")


@dataclass(frozen=True)
class PaceSpec:
    name: str
    interval: float = 12.0  # seconds between roams
    count: int = 4  # roams per run; 0: a reference run without roams
    seconds: float = 25.0  # length of a run without roams
    scenarios: tuple[str, ...] = ()  # run only these scenarios at this pace (empty: all)

    def check(self) -> list[ConfigProblem]:
        p = []
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name or ""):
            p.append(ConfigProblem("name", "letters, digits, '-', '_' and '.' only"))
        if self.count < 0:
            p.append(ConfigProblem("count", "must not be negative"))
        if self.count and self.interval < 1:
            p.append(ConfigProblem("interval", "at least 1 s between roams"))
        if not self.count and self.seconds < 5:
            p.append(ConfigProblem("seconds", "a reference run needs at least 5 s"))
        return p


@dataclass(frozen=True)
class AppsSpec:
    paces: tuple[PaceSpec, ...]
    probes: tuple[str, ...] = PROBES
    lead_in: float = 8.0  # seconds from starting the clients to the first roam
    tail: float = 6.0  # seconds after the last roam
    download_rate: str = "10mbit"  # the download's rate-limited path (htb class at the server's uplinks)
    hls_max_buffer: float = 6.0  # seconds a live HLS player holds ahead (3 segments)
    hls_timeout: float = 8.0  # per-request read timeout of the player
    jitter_buffer_ms: float = 60.0  # the call's fixed de-jitter buffer (late packets count as lost)

    def check(self) -> list[ConfigProblem]:
        p = []
        if not self.paces:
            p.append(ConfigProblem("paces", "at least one pace"))
        names = [x.name for x in self.paces]
        if len(set(names)) != len(names):
            p.append(ConfigProblem("paces", "pace names must be unique"))
        for i, probe in enumerate(self.probes):
            if probe not in PROBES:
                p.append(ConfigProblem(f"probes[{i}]", f"unknown probe {probe!r} (known: {', '.join(PROBES)})"))
        if not re.fullmatch(r"\d+(\.\d+)?[kmg]?bit", self.download_rate):
            p.append(ConfigProblem("download_rate", "a tc rate such as 10mbit"))
        if self.lead_in < 3:
            p.append(ConfigProblem("lead_in", "at least 3 s (the clients must be running before the first roam)"))
        return p
