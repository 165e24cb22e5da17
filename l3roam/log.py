"""``key=value`` log lines, one per state change.

Library code calls ``event(logger, "lease_granted", mac=..., ip=...)``; only
entry points call ``setup`` to configure handlers.  The format is what the
measurement code parses: ``event=<name> k=v k=v`` with values quoted when they
contain spaces.
"""

from __future__ import annotations

import logging
import sys
import threading
import time


def _fmt(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="'):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def format_event(name: str, **fields: object) -> str:
    parts = [f"event={name}"]
    parts.extend(f"{k}={_fmt(v)}" for k, v in fields.items())
    return " ".join(parts)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: object) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, format_event(name, **fields))


def parse_event(line: str) -> dict[str, str]:
    """Inverse of ``format_event`` for one line (extra text before ``event=`` is ignored)."""
    start = line.find("event=")
    if start < 0:
        return {}
    out: dict[str, str] = {}
    i, text = 0, line[start:]
    while i < len(text):
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq].strip()
        if eq + 1 < len(text) and text[eq + 1] == '"':
            j = eq + 2
            buf = []
            while j < len(text) and text[j] != '"':
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                buf.append(text[j])
                j += 1
            out[key] = "".join(buf)
            i = j + 2
        else:
            sp = text.find(" ", eq)
            sp = len(text) if sp < 0 else sp
            out[key] = text[eq + 1 : sp]
            i = sp + 1
    return out


class _Formatter(logging.Formatter):
    """``HH:MM:SS.mmm name LEVEL message``; the clock part is formatted once a second."""

    def __init__(self) -> None:
        super().__init__()
        self._sec = -1
        self._text = ""

    def format(self, record: logging.LogRecord) -> str:
        sec = int(record.created)
        if sec != self._sec:
            self._sec, self._text = sec, time.strftime("%H:%M:%S", time.localtime(sec))
        line = f"{self._text}.{int(record.msecs):03d} {record.name} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _BufferedFileHandler(logging.FileHandler):
    """Writes lines through a buffer, flushed at most every 0.2 s (and on warnings).

    A flush per line (``FileHandler``'s way) cost about half of a lease
    operation on the master; a crash may lose the last 0.2 s of log lines,
    never state (the store is durable on its own).
    """

    FLUSH_SECONDS = 0.2

    def __init__(self, path: str):
        super().__init__(path)
        self._last = 0.0
        self._dirty = False
        threading.Thread(target=self._flusher, name="log-flush", daemon=True).start()

    def _flusher(self) -> None:
        while True:  # a quiet daemon's last lines reach the file within 0.2 s too
            time.sleep(self.FLUSH_SECONDS)
            if self._dirty:
                self._dirty = False
                with self.lock:  # type: ignore[union-attr]
                    if self.stream is not None:
                        self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + "\n")
        except Exception:  # logging must never break the daemon  # noqa: BLE001
            self.handleError(record)
            return
        now = time.monotonic()
        if record.levelno >= logging.WARNING or now - self._last >= self.FLUSH_SECONDS:
            self._last = now
            self.flush()
        else:
            self._dirty = True


def setup(level: str = "info", path: str | None = None) -> None:
    """Configure the root logger for a daemon (entry points only)."""
    handler: logging.Handler = _BufferedFileHandler(path) if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
