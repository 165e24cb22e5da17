"""Client for babeld's local control socket (``local-path-readwrite``).

Blocking and small on purpose: ``dump()`` for a snapshot, ``monitor()`` for a
stream of *real* route changes (``RouteTable`` drops babeld's repeated
unchanged lines).  ``BabelWatch`` is the non-blocking form of ``monitor`` for a
daemon's select loop (the node agent's make-before-break withdrawal).  Line
parsing lives in ``control_lines`` (pure).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from l3roam.babel.control_lines import (
    RouteChanged, RouteEntry, RouteFlushed, RouteTable, XrouteEntry, installed, parse_header,
)
from l3roam.errors import ExternalToolError, MalformedPacket, RemoteProtocolError


@dataclass(frozen=True)
class Dump:
    header: dict[str, str]
    routes: tuple[RouteEntry, ...]
    xroutes: tuple[XrouteEntry, ...]

    def installed(self) -> dict[str, RouteEntry]:
        return installed(self.routes)


class BabelControl:
    """One connection to babeld's control socket (a unix path or a ``::1`` TCP port)."""

    def __init__(self, path: str | Path | None = None, port: int | None = None, timeout: float = 3.0):
        if (path is None) == (port is None):
            raise ValueError("give exactly one of path or port")
        try:
            if path is not None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock.settimeout(timeout)
                self._sock.connect(str(path))
            else:
                self._sock = socket.create_connection(("::1", port), timeout=timeout)
        except OSError as exc:
            raise ExternalToolError(f"cannot connect to babeld's control socket {path or port}: {exc}") from None
        self._buf = b""
        self.header = parse_header(self._read_until_ok(time.monotonic() + timeout))

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "BabelControl":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _readline(self, deadline: float) -> str | None:
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._sock.settimeout(left)
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                return None
            if not data:
                raise RemoteProtocolError("babeld closed the control socket")
            self._buf += data
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode(errors="replace")

    def _read_until_ok(self, deadline: float) -> list[str]:
        lines = []
        while True:
            line = self._readline(deadline)
            if line is None:
                raise RemoteProtocolError("babeld did not answer on its control socket in time")
            if line in ("ok", "no", "bad") or line.startswith(("no ", "bad ")):
                if line != "ok":
                    raise RemoteProtocolError(f"babeld refused the command: {line}")
                return lines
            lines.append(line)

    def command(self, text: str, timeout: float = 3.0) -> list[str]:
        """Send one command line and return the lines before ``ok``."""
        self._sock.sendall(text.encode() + b"\n")
        return self._read_until_ok(time.monotonic() + timeout)

    def dump(self, timeout: float = 3.0) -> Dump:
        table = RouteTable()
        for line in self.command("dump", timeout):
            table.apply(line)
        return Dump(self.header, tuple(table.routes.values()), tuple(table.xroutes.values()))

    def monitor(self, duration: float | None = None) -> Iterator[RouteChanged | RouteFlushed]:
        """Yield route changes (the initial dump first, as RouteChanged with previous=None).

        Ends after ``duration`` seconds (None: until the caller stops iterating).
        """
        table = RouteTable()
        self._sock.sendall(b"monitor\n")
        end = None if duration is None else time.monotonic() + duration
        while end is None or time.monotonic() < end:
            line = self._readline(end if end is not None else time.monotonic() + 1.0)
            if line is None:
                continue
            ev = table.apply(line)
            if ev is not None:
                yield ev


class BabelWatch:
    """``monitor`` on a non-blocking socket: ``fileno()`` for select, ``read()`` for the changes.

    Connects (blocking, with a timeout) and reads the header, then switches to
    monitor mode; ``my_id`` is this babeld's router-id as it prints ids.
    """

    def __init__(self, path: str | Path, timeout: float = 3.0):
        self._ctl = BabelControl(path=path, timeout=timeout)
        self.my_id = self._ctl.header.get("my-id", "")
        self.table = RouteTable()
        self._sock = self._ctl._sock
        self._sock.settimeout(timeout)
        self._sock.sendall(b"monitor\n")
        self._sock.setblocking(False)
        self._buf = self._ctl._buf
        self.malformed = 0

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._ctl.close()

    def read(self) -> list[RouteChanged | RouteFlushed]:
        """Drain what babeld sent; never blocks.  Raise RemoteProtocolError when babeld is gone."""
        while True:
            try:
                data = self._sock.recv(1 << 16)
            except BlockingIOError:
                break
            if not data:
                raise RemoteProtocolError("babeld closed the control socket")
            self._buf += data
        events: list[RouteChanged | RouteFlushed] = []
        *lines, self._buf = self._buf.split(b"\n")
        for raw in lines:
            try:
                ev = self.table.apply(raw.decode(errors="replace"))
            except MalformedPacket:
                self.malformed += 1
                continue
            if ev is not None:
                events.append(ev)
        return events
