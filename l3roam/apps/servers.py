"""The internet side of the application probes, started on a built testbed (side effects).

In the internet namespace: nginx (HLS, the large file, RTMP), the download's
rate-limited path (an htb class of ``download_rate`` on every uplink,
selected by an nftables rule that sets the priority of the file server's
packets), an ffmpeg publishing the RTMP stream the client plays, and the
sipp callee.  Everything is started with ``Testbed.spawn``/``popen``, so the
testbed's teardown kills it with the namespace even if ``stop`` never runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from l3roam.apps import nginxconf, sip
from l3roam.apps.media import Media
from l3roam.apps.tools import require, rtmp_module
from l3roam.errors import ExternalToolError
from l3roam.apps.procs import stop as _stop, wait_ready as _wait_ready
from l3roam.testbed.builder import Testbed, run_cmd
from l3roam.testbed.internet import INET, uplink_ifname

DOWNLOAD_CLASS = "1:20"
SHAPE_TABLE = "l3roam_shape"


def shape_commands(uplinks: list[str], rate: str) -> tuple[str, str]:
    """(tc batch, nft ruleset) putting the file server's packets into a class of ``rate`` on every uplink."""
    tc = []
    for dev in uplinks:
        tc += [f"qdisc replace dev {dev} root handle 1: htb default 10",
               f"class add dev {dev} parent 1: classid 1:10 htb rate 10gbit",
               f"class add dev {dev} parent 1: classid {DOWNLOAD_CLASS} htb rate {rate} ceil {rate}"]
    nft = (f"table inet {SHAPE_TABLE} {{\n  chain out {{\n    type filter hook output priority 0;\n"
           f"    tcp sport {nginxconf.DOWNLOAD_PORT} meta priority set {DOWNLOAD_CLASS}\n  }}\n}}\n")
    return "\n".join(tc) + "\n", nft


class AppServers:
    def __init__(self, tb: Testbed, media: Media, workdir: Path, download_rate: str, probes: tuple[str, ...]):
        self.tb = tb
        self.media = media
        self.dir = workdir
        self.rate = download_rate
        self.probes = probes
        self.server_ip = str(tb.topo.spec.internet.server)
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, playlist_entries: int, download_size: int) -> "AppServers":
        if not self.tb.topo.exits:
            raise ExternalToolError("the application probes need a testbed with an internet exit (internet.exits)")
        require("nginx", "ngx_rtmp_module", "ffmpeg", "sipp", "curl", "tcpdump", "conntrack", "nft")
        d = self.dir / "server"
        d.mkdir(parents=True, exist_ok=True)
        self.media.playlist("index.m3u8", playlist_entries)
        dl = self.media.download_file(d / "files", download_size)
        conf = d / "nginx.conf"
        conf.write_text(nginxconf.render(str(d), str(self.media.hls_dir), str(dl.parent), str(rtmp_module()),
                                         self.server_ip))
        tc, nft = shape_commands([uplink_ifname(r) for r in self.tb.topo.exits], self.rate)
        run_cmd(["ip", "netns", "exec", self.tb.ns(INET), "tc", "-batch", "-"], stdin=tc)
        run_cmd(["ip", "netns", "exec", self.tb.ns(INET), "nft", "-f", "-"], stdin=nft)
        self.procs["nginx"] = self.tb.spawn(INET, "nginx", ["nginx", "-p", str(d), "-c", str(conf)])
        self._wait_listening("-ltnH", [nginxconf.HLS_PORT, nginxconf.DOWNLOAD_PORT, nginxconf.RTMP_PORT], "nginx")
        if "sip" in self.probes:
            xml = d / "callee.xml"
            xml.write_text(sip.callee_xml())
            self.procs["sipp"] = self.tb.spawn(INET, "sipp-callee", sip.callee_argv(str(xml), self.server_ip, str(d)))
            self._wait_listening("-lunH", [sip.SIP_PORT], "the sipp callee")
        if "rtmp" in self.probes:
            self.procs["rtmp-pub"] = self.tb.popen(INET, [
                sys.executable, "-m", "l3roam.apps.ffwatch", "--out", str(self.dir / "rtmp-down-pub.json"), "--",
                "ffmpeg", "-nostdin", "-loglevel", "warning", "-re", "-stream_loop", "-1", "-i", str(self.media.flv),
                "-c", "copy", "-f", "flv", f"rtmp://{self.server_ip}:{nginxconf.RTMP_PORT}/live/down"],
                stdout=subprocess.PIPE, text=True)
            _wait_ready(self.procs["rtmp-pub"], "the RTMP publisher in the internet")
        return self

    def _wait_listening(self, flags: str, ports: list[int], what: str, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            out = self.tb.exec(INET, ["ss", flags], check=False).stdout
            if all(f":{p} " in out for p in ports):
                return
            time.sleep(0.05)
        log = (self.tb.run_dir / INET).glob("*.log")
        tail = "".join(p.read_text(errors="replace")[-800:] for p in log)
        raise ExternalToolError(f"{what} did not listen on {ports} within {timeout} s: {tail}")

    def stop(self) -> None:
        for name in ("rtmp-pub", "sipp", "nginx"):
            p = self.procs.pop(name, None)
            if p is not None:
                _stop(p, timeout=5)
        for log in (self.tb.run_dir / INET).glob("*.log"):  # the run directory goes with the testbed
            shutil.copy(log, self.dir / "server" / log.name)
