"""Constant-rate UDP prober and TCP stream keeper, run as subprocesses in namespaces.

    python3 -m l3roam.measure.probe recv --port 9000 --out recv.json
    python3 -m l3roam.measure.probe send --to 10.99.0.10 --port 9000 --rate 100 --duration 30 --out send.json
    python3 -m l3roam.measure.probe tcp-server --port 9001
    python3 -m l3roam.measure.probe tcp-client --to 10.255.0.2 --port 9001 --duration 30 --out tcp.json

UDP datagram (network byte order), padded to ``--size``::

     0                   4                   8                  16                  24
    +-------------------+-------------------+-------------------+-------------------+
    |  magic "L3RP"     |      run id       |   sequence (u64)  | send time (i64 ns)|
    +-------------------+-------------------+-------------------+-------------------+

The sender keeps a precise schedule (packet n leaves at t0 + n/rate, on the
monotonic clock; a late packet does not shift the ones after it) and never
backs off on errors (``ping -i 0.01`` reached only ~16 ms spacing and backs
off); send errors such as "network unreachable" during a roam are counted
per sequence number.  Times written are wall-clock (``time.time_ns``), shared
by all namespaces of one machine and comparable with the testbed's move times.

The receiver prints ``ready`` once bound; both write JSON (or CSV for the
receiver's arrivals) when their duration ends or on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import select
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

HEADER = struct.Struct("!4sIQq")
MAGIC = b"L3RP"


class StopFlag:
    """Set by SIGTERM/SIGINT so a probe (or an application client) writes its results and exits cleanly."""

    def __init__(self) -> None:
        self.flag = False
        signal.signal(signal.SIGTERM, self._set)
        signal.signal(signal.SIGINT, self._set)

    def _set(self, *_: object) -> None:
        self.flag = True


def write_result(path: str | None, data: dict) -> None:
    """JSON to ``path``, atomically (or to stdout without a path): what every probe and
    application client leaves for the runner."""
    text = json.dumps(data)
    if path:
        tmp = Path(path + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)  # readers never see half a file
    else:
        print(text)


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def send(args: argparse.Namespace) -> int:
    stop = StopFlag()
    sock = socket.socket(_family(args.to), socket.SOCK_DGRAM)
    if args.bind:
        sock.bind((args.bind, 0))
    sock.setblocking(True)
    interval = 1.0 / args.rate
    run_id = args.run_id & 0xFFFFFFFF
    pad = b"\0" * max(0, args.size - HEADER.size)
    sent: list[list[int]] = []  # [seq, send ns, errno or 0]
    t0 = time.monotonic()
    wall0 = time.time_ns()
    total = int(args.duration * args.rate) if args.duration else None
    seq = 0
    while not stop.flag and (total is None or seq < total):
        due = t0 + seq * interval
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        now = time.time_ns()
        try:
            sock.sendto(HEADER.pack(MAGIC, run_id, seq, now) + pad, (args.to, args.port))
            err = 0
        except OSError as exc:  # unreachable during a roam: count it, keep the schedule
            err = exc.errno or -1
        sent.append([seq, now, err])
        seq += 1
    write_result(args.out, {"kind": "udp-send", "to": args.to, "port": args.port, "rate": args.rate,
                      "run_id": run_id, "start_ns": wall0, "sent": sent})
    return 0


def recv(args: argparse.Namespace) -> int:
    stop = StopFlag()
    fam = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_DGRAM)
    sock.bind((args.bind, args.port))
    sock.settimeout(0.1)
    print("ready", flush=True)
    arrivals: list[list[int]] = []  # [seq, send ns, receive ns]
    malformed = 0
    end = time.monotonic() + args.duration if args.duration else None
    while not stop.flag and (end is None or time.monotonic() < end):
        try:
            data = sock.recv(65535)
        except TimeoutError:
            continue
        except InterruptedError:
            continue
        now = time.time_ns()
        if len(data) < HEADER.size:
            malformed += 1
            continue
        magic, _run, seq, sent_ns = HEADER.unpack_from(data)
        if magic != MAGIC:
            malformed += 1
            continue
        arrivals.append([seq, sent_ns, now])
    if args.format == "csv":
        lines = ["seq,sent_ns,received_ns"] + [f"{a},{b},{c}" for a, b, c in arrivals]
        if args.out:
            Path(args.out).write_text("\n".join(lines) + "\n")
        else:
            print("\n".join(lines))
    else:
        write_result(args.out, {"kind": "udp-recv", "port": args.port, "malformed": malformed, "arrivals": arrivals})
    return 0


def tcp_server(args: argparse.Namespace) -> int:
    """Echo every byte back, one thread per connection."""
    stop = StopFlag()
    fam = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.bind, args.port))
    srv.listen(16)
    srv.settimeout(0.2)
    print("ready", flush=True)

    def echo(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass  # the client's report says what happened

    while not stop.flag:
        try:
            conn, _ = srv.accept()
        except TimeoutError:
            continue
        threading.Thread(target=echo, args=(conn,), daemon=True).start()
    return 0


def tcp_client(args: argparse.Namespace) -> int:
    """Keep one TCP connection busy; report whether it survived and its longest stall."""
    stop = StopFlag()
    result: dict = {"kind": "tcp-client", "to": args.to, "port": args.port, "alive": False,
                    "error": None, "sent": 0, "echoed": 0, "longest_stall_ms": None, "stall_at_ns": None}
    try:
        sock = socket.create_connection((args.to, args.port), timeout=5)
    except OSError as exc:
        result["error"] = f"connect: {exc}"
        write_result(args.out, result)
        return 1
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    print("ready", flush=True)
    chunk = b"x" * args.chunk
    last_rx = time.monotonic()
    last_rx_wall = time.time_ns()
    longest, longest_at = 0.0, None
    t0 = time.monotonic()
    n = 0
    end = t0 + args.duration if args.duration else None
    try:
        while not stop.flag and (end is None or time.monotonic() < end):
            due = t0 + n * args.interval
            now = time.monotonic()
            if now >= due:
                try:
                    result["sent"] += sock.send(chunk)
                except BlockingIOError:
                    pass  # send buffer full: the connection is stalled, keep measuring
                n += 1
            r, _, _ = select.select([sock], [], [], max(0.0, min(due - now, 0.05)) if now < due else 0)
            if r:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("server closed the connection")
                now = time.monotonic()
                if now - last_rx > longest:
                    longest, longest_at = now - last_rx, last_rx_wall
                last_rx, last_rx_wall = now, time.time_ns()
                result["echoed"] += len(data)
        # the stream survived if every byte comes back
        deadline = time.monotonic() + args.drain
        while result["echoed"] < result["sent"] and time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [], 0.1)
            if r:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("server closed the connection")
                result["echoed"] += len(data)
        result["alive"] = result["echoed"] == result["sent"]
        if not result["alive"]:
            result["error"] = f"{result['sent'] - result['echoed']} bytes not echoed within {args.drain} s"
    except OSError as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["failed_at_ns"] = time.time_ns()
    finally:
        sock.close()
    result["longest_stall_ms"] = round(longest * 1000, 1)
    result["stall_at_ns"] = longest_at
    write_result(args.out, result)
    return 0 if result["alive"] else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m l3roam.measure.probe", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, default=9000)
    s.add_argument("--rate", type=float, default=100.0, help="packets per second")
    s.add_argument("--duration", type=float, default=0, help="seconds (0: until SIGTERM)")
    s.add_argument("--size", type=int, default=64)
    s.add_argument("--bind", default="")
    s.add_argument("--run-id", type=int, default=0)
    s.add_argument("--out")
    s.set_defaults(fn=send)
    s = sub.add_parser("recv")
    s.add_argument("--port", type=int, default=9000)
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--duration", type=float, default=0)
    s.add_argument("--format", choices=("json", "csv"), default="json")
    s.add_argument("--out")
    s.set_defaults(fn=recv)
    s = sub.add_parser("tcp-server")
    s.add_argument("--port", type=int, default=9001)
    s.add_argument("--bind", default="0.0.0.0")
    s.set_defaults(fn=tcp_server)
    s = sub.add_parser("tcp-client")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, default=9001)
    s.add_argument("--duration", type=float, default=0)
    s.add_argument("--interval", type=float, default=0.01, help="seconds between chunks")
    s.add_argument("--chunk", type=int, default=100, help="bytes per chunk")
    s.add_argument("--drain", type=float, default=10.0, help="seconds to wait for the last echoes")
    s.add_argument("--out")
    s.set_defaults(fn=tcp_client)
    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
