"""``key=value`` log lines, one per state change.

Library code calls ``event(logger, "lease_granted", mac=..., ip=...)``; only
entry points call ``setup`` to configure handlers.  The format is what the
measurement code parses: ``event=<name> k=v k=v`` with values quoted when they
contain spaces.
"""

from __future__ import annotations

import logging
import sys


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


def setup(level: str = "info", path: str | None = None) -> None:
    """Configure the root logger for a daemon (entry points only)."""
    handler: logging.Handler = logging.FileHandler(path) if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(name)s %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
