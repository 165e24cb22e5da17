"""key=value event lines: format, parse back, and the daemons' buffered file handler."""

import logging
import time

from l3roam import log as kvlog


def test_event_lines_round_trip_with_quoting():
    line = kvlog.format_event("lease_bind", mac="02:00:00:00:00:01", ip="10.99.0.2", host="my phone",
                              note='say "hi"')
    assert line.startswith("event=lease_bind mac=02:00:00:00:00:01 ip=10.99.0.2 ")
    parsed = kvlog.parse_event("12:00:00.000 l3roam.master INFO " + line)
    assert parsed == {"event": "lease_bind", "mac": "02:00:00:00:00:01", "ip": "10.99.0.2",
                      "host": "my phone", "note": 'say "hi"'}


def test_buffered_file_handler_writes_lines_within_its_flush_interval(tmp_path):
    path = tmp_path / "d.log"
    kvlog.setup("info", str(path))
    try:
        log = logging.getLogger("l3roam.test")
        kvlog.event(log, "first", n=1)
        kvlog.event(log, "second", n=2)  # buffered: a quiet daemon still gets it on disk
        deadline = time.monotonic() + 2
        while "event=second" not in path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        text = path.read_text()
        assert "l3roam.test INFO event=first n=1" in text and "event=second n=2" in text
        kvlog.event(log, "bad", level=logging.WARNING, why="x")  # warnings go out at once
        assert "event=bad why=x" in path.read_text()
    finally:
        root = logging.getLogger()
        for h in root.handlers:
            h.close()
        root.handlers.clear()
