"""An HLS client that fetches like a player, run inside the client's namespace.

    python3 -m l3roam.apps.hls --url http://198.51.100.10:8080/index.m3u8 --duration 60 --out hls.json

Like a live player kept ``--max-buffer`` seconds behind the live edge: it
loads the playlist, reloads it every target duration, and downloads the
segments in order over one keep-alive HTTP connection whenever less than
``--max-buffer`` seconds are buffered ahead (``l3roam.apps.player`` keeps
the buffer).  A request that fails (connection refused or reset, no data for
``--timeout`` seconds: ExoPlayer's default read timeout is 8 s, or an HTTP
error) is recorded, the connection is dropped and the request retried on a
new connection after ``--retry`` seconds, as players do.

Prints ``ready`` once started; writes every request (what, start, end,
bytes, ok, error) and the segments' completion times as JSON at the end of
``--duration`` or on SIGTERM.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import time
import urllib.parse

from l3roam.apps.player import playback
from l3roam.measure.probe import StopFlag, write_result


def parse_playlist(text: str) -> tuple[float, list[str]]:
    """(target duration, segment URIs) of a media playlist."""
    target, segs = 2.0, []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
        elif line and not line.startswith("#"):
            segs.append(line)
    return target, segs


class Fetcher:
    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> bytes:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request("GET", path)
            resp = self.conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise OSError(f"HTTP {resp.status}")
            return body
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run(args: argparse.Namespace) -> int:
    stop = StopFlag()
    url = urllib.parse.urlsplit(args.url)
    base = url.path.rsplit("/", 1)[0]
    fetch = Fetcher(url.hostname or "", url.port or 80, args.timeout)
    requests: list[dict] = []
    seg_done: list[float] = []
    segs: list[str] = []
    target = 2.0
    t_start = time.time()
    end = time.monotonic() + args.duration
    next_playlist = 0.0
    nxt = 0
    print("ready", flush=True)

    def attempt(what: str, path: str) -> bytes | None:
        t0 = time.time()
        try:
            body = fetch.get(path)
        except (OSError, http.client.HTTPException, socket.timeout) as exc:
            requests.append({"what": what, "t0": t0, "t1": time.time(), "bytes": 0, "ok": False,
                             "error": f"{type(exc).__name__}: {exc}"})
            return None
        requests.append({"what": what, "t0": t0, "t1": time.time(), "bytes": len(body), "ok": True})
        return body

    while not stop.flag and time.monotonic() < end:
        if time.monotonic() >= next_playlist:
            body = attempt("playlist", url.path)
            if body is None:
                time.sleep(args.retry)
                continue
            target, segs = parse_playlist(body.decode(errors="replace"))
            next_playlist = time.monotonic() + target
        ahead = playback(seg_done, args.segment, time.time()).buffer_ahead()
        if nxt < len(segs) and ahead + args.segment <= args.max_buffer + 1e-9:
            if attempt(f"segment {nxt}", f"{base}/{segs[nxt]}") is None:
                time.sleep(args.retry)
                continue
            seg_done.append(time.time())
            nxt += 1
            continue
        time.sleep(min(0.05, max(0.0, end - time.monotonic())))
    fetch.close()
    out = {"url": args.url, "t_start": t_start, "t_end": time.time(), "segment_s": args.segment,
           "max_buffer_s": args.max_buffer, "timeout_s": args.timeout, "requests": requests,
           "seg_done": seg_done}
    write_result(args.out, out)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m l3roam.apps.hls")
    p.add_argument("--url", required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--segment", type=float, default=2.0, help="segment duration, s")
    p.add_argument("--max-buffer", type=float, default=6.0, help="seconds buffered ahead at most")
    p.add_argument("--timeout", type=float, default=8.0, help="connect/read timeout of a request, s")
    p.add_argument("--retry", type=float, default=0.5, help="pause before retrying a failed request, s")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
