"""ffmpeg under watch: its progress (frames so far) timed as it arrives; run inside a namespace.

    python3 -m l3roam.apps.ffwatch --out play.json -- ffmpeg -i rtmp://... -c copy -f null -

Appends ``-progress pipe:1 -stats_period 0.1`` to the ffmpeg command, so
ffmpeg reports its frame count and media time (``out_time_us``) ten times a
second; each report is stamped with the wall-clock time it arrived:
``[time, frames, media seconds]``.  The result has the samples, ffmpeg's
exit code and the tail of its log.  Prints ``ready`` once ffmpeg runs;
SIGTERM stops ffmpeg (which then ends its output cleanly) and writes the JSON.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import time
from pathlib import Path

from l3roam.measure.probe import write_result


def parse_progress(text: str) -> list[tuple[int, str]]:
    """(frame count, progress state) of every complete block of ffmpeg's ``-progress`` output."""
    out, frame = [], None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "frame":
            try:
                frame = int(value.strip())
            except ValueError:
                frame = None
        elif key == "progress" and frame is not None:
            out.append((frame, value.strip()))
    return out


def longest_stall(samples: list[list[float]], t_end: float) -> tuple[float, float | None]:
    """Longest time the frame count stood still, from the first frame to ``t_end``; (seconds, start)."""
    moving = []
    last = None
    for t, frames, *_ in samples:
        if frames > 0 and (last is None or frames > last):
            moving.append(t)
            last = frames
    if not moving:
        return 0.0, None
    pts = moving + [t_end]
    best, at = 0.0, None
    for a, b in zip(pts, pts[1:]):
        if b - a > best:
            best, at = b - a, a
    return best, at


def run(argv_ff: list[str], out: str) -> int:
    stopped = {"flag": False}

    def stop(*_: object) -> None:
        stopped["flag"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    argv = [*argv_ff, "-progress", "pipe:1", "-stats_period", "0.1", "-nostats"]
    t_start = time.time()
    log_path = Path(out + ".log")
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=logf, stdin=subprocess.DEVNULL)
        print("ready", flush=True)
        fd = proc.stdout.fileno()  # type: ignore[union-attr]
        samples: list[list[float]] = []
        buf = ""
        frame: int | None = None
        kill_at: float | None = None
        media_s = 0.0
        while True:
            if stopped["flag"] and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                stopped["flag"] = False
                stopped["sent"] = True  # type: ignore[assignment]
                kill_at = time.monotonic() + 3.0  # ffmpeg blocked in a network read may ignore SIGTERM
            if kill_at is not None and time.monotonic() > kill_at and proc.poll() is None:
                proc.kill()
            r, _, _ = select.select([fd], [], [], 0.2)
            if not r:
                if proc.poll() is not None:
                    break
                continue
            data = os.read(fd, 4096)
            if not data:
                break
            now = time.time()
            buf += data.decode(errors="replace")
            lines, sep, buf = buf.rpartition("\n")
            for line in (lines + sep).splitlines():
                key, _, value = line.partition("=")
                if key == "frame" and value.strip().isdigit():
                    frame = int(value.strip())
                elif key == "out_time_us" and value.strip().lstrip("-").isdigit():
                    media_s = max(0, int(value.strip())) / 1e6
                elif key == "progress" and frame is not None:
                    samples.append([now, frame, media_s])
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    t_end = time.time()
    tail = log_path.read_text(errors="replace")[-1500:]
    res = {"argv": argv, "t_start": t_start, "t_end": t_end, "exit": proc.returncode,
           "stopped_by_us": bool(stopped.get("sent")), "samples": samples, "log": tail}
    write_result(out, res)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m l3roam.apps.ffwatch")
    p.add_argument("--out", required=True)
    p.add_argument("ffmpeg", nargs=argparse.REMAINDER, help="-- ffmpeg ARGS...")
    a = p.parse_args(argv)
    cmd = a.ffmpeg[1:] if a.ffmpeg[:1] == ["--"] else a.ffmpeg
    if not cmd:
        p.error("no ffmpeg command after --")
    return run(cmd, a.out)


if __name__ == "__main__":
    raise SystemExit(main())
