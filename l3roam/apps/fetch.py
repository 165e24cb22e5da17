"""A large download with curl, its bytes timed as they arrive; run inside the client's namespace.

    python3 -m l3roam.apps.fetch --url http://198.51.100.10:8081/big.bin --out fetch.json [--max-time 120]

curl writes the body to a pipe; this wrapper reads it and counts bytes per
50 ms bin, so the result has the throughput over time and the longest stall
(the longest interval without a byte).  curl gives up when less than 1 byte/s
arrived for ``--stall-limit`` seconds (``--speed-limit 1 --speed-time``).
Prints ``ready`` once curl runs; writes JSON when curl ends or on SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import time

from l3roam.measure.probe import write_result

BIN_S = 0.05


def longest_stall(bins: list[list[float]], t_start: float, t_end: float) -> tuple[float, float | None]:
    """(longest interval without data in seconds, its start) from (bin time, bytes) pairs."""
    times = [t_start] + [t for t, n in bins if n > 0] + [t_end]
    best, at = 0.0, None
    for a, b in zip(times, times[1:]):
        if b - a > best:
            best, at = b - a, a
    return max(0.0, best - BIN_S), at


def run(args: argparse.Namespace) -> int:
    stopped = {"flag": False}

    def stop(*_: object) -> None:
        stopped["flag"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    argv = ["curl", "-sS", "-o", "-", "--speed-limit", "1", "--speed-time", str(args.stall_limit),
            "--max-time", str(args.max_time), "-w", "%{stderr}http=%{http_code} size=%{size_download}\n", args.url]
    t_start = time.time()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    print("ready", flush=True)
    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    bins: dict[int, int] = {}
    total = 0
    t_last = t_start
    while not stopped["flag"]:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        t_last = time.time()
        total += len(chunk)
        k = int((t_last - t_start) / BIN_S)
        bins[k] = bins.get(k, 0) + len(chunk)
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""  # type: ignore[union-attr]
    t_end = time.time()
    series = [[round(t_start + k * BIN_S, 3), n] for k, n in sorted(bins.items())]
    stall, stall_at = longest_stall(series, t_start, t_last if proc.returncode == 0 else t_end)
    out = {"url": args.url, "t_start": t_start, "t_end": t_end, "t_last_byte": t_last, "bytes": total,
           "expected": args.expected, "exit": proc.returncode, "stopped": stopped["flag"],
           "complete": proc.returncode == 0 and (args.expected is None or total == args.expected),
           "curl": err.strip()[-500:], "bins": series, "longest_stall_s": round(stall, 3), "stall_at": stall_at}
    write_result(args.out, out)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m l3roam.apps.fetch")
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--expected", type=int, help="size of the file, bytes")
    p.add_argument("--max-time", type=float, default=600)
    p.add_argument("--stall-limit", type=int, default=30, help="give up after this many seconds without data")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
