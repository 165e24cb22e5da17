"""Metrics through prometheus_client: exact numbers, escaped labels, a valid
exposition, and a scrape that never blocks the daemon's loop."""

from __future__ import annotations

import selectors
import socket
import threading
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from l3roam.metrics import Registry
from l3roam.metrics_http import MetricsServer


def parsed(text: str) -> dict:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def registry() -> Registry:
    m = Registry("l3roam_test")
    m.counter("dhcp_total", "DHCP events by kind")
    m.counter("plain", "a counter without the suffix")
    m.gauge("clients", "clients by state", lambda: {(("state", "bound"),): 3, (("state", "gone"),): 0})
    m.gauge("pending", "waiting", lambda: 1234567)
    h = m.histogram("request_seconds", "latency")
    for v in (0.0001, 0.003, 7.0):
        h.observe(v)
    return m


def test_large_numbers_keep_every_digit_and_the_exposition_parses():
    m = registry()
    m.inc("dhcp_total", 1234567, kind="sent_ack")
    m.inc("dhcp_total", 2**53, kind="huge")
    m.inc("plain")
    text = m.render()
    assert "1.23457e+06" not in text
    values = parsed(text)
    assert values[("l3roam_test_dhcp_total", (("kind", "sent_ack"),))] == 1234567
    assert values[("l3roam_test_dhcp_total", (("kind", "huge"),))] == 2**53
    assert values[("l3roam_test_plain_total", ())] == 1
    assert values[("l3roam_test_pending", ())] == 1234567
    assert values[("l3roam_test_clients", (("state", "bound"),))] == 3
    assert values[("l3roam_test_request_seconds_bucket", (("le", "0.0005"),))] == 1
    assert values[("l3roam_test_request_seconds_bucket", (("le", "+Inf"),))] == 3
    assert values[("l3roam_test_request_seconds_count", ())] == 3
    assert "# TYPE l3roam_test_dhcp_total counter" in text
    assert "# TYPE l3roam_test_request_seconds histogram" in text


def test_label_values_are_escaped():
    m = registry()
    nasty = 'a "quoted"\\path\nnext line'
    m.inc("dhcp_total", kind=nasty)
    text = m.render()
    assert 'kind="a \\"quoted\\"\\\\path\\nnext line"' in text
    assert parsed(text)[("l3roam_test_dhcp_total", (("kind", nasty),))] == 1


def test_value_reads_counters():
    m = registry()
    m.inc("dhcp_total", kind="x", where="y")
    assert m.value("dhcp_total", where="y", kind="x") == 1 and m.value("dhcp_total", kind="z") == 0


def test_scrape_is_served_beside_the_loop_and_gauges_are_read_in_the_loop():
    m = Registry("l3roam_test")
    loop_thread = []
    state = {"n": 0}

    def gauge():
        loop_thread.append(threading.get_ident())
        return state["n"]

    m.gauge("n", "a value only the loop may read", gauge)
    sel = selectors.DefaultSelector()
    srv = MetricsServer("127.0.0.1", 0, m, sel)
    stop = threading.Event()
    steps = [0]

    def loop():  # the daemon: its own selector, short timeouts, changes its state
        while not stop.is_set():
            for key, _ in sel.select(0.05):
                key.data.on_readable(key.fileobj)
            state["n"] += 1
            steps[0] += 1

    t = threading.Thread(target=loop)
    t.start()
    slow = socket.create_connection(srv.address)  # a scraper that never sends its request
    try:
        before = steps[0]
        time.sleep(0.5)
        assert steps[0] > before + 3  # the loop kept running while that connection hangs
        url = f"http://{srv.address[0]}:{srv.address[1]}/metrics"
        body = urllib.request.urlopen(url, timeout=5).read().decode()
        assert parsed(body)[("l3roam_test_n", ())] >= 1
        assert set(loop_thread) == {t.ident}  # gauges evaluated by the loop, never by the HTTP thread
    finally:
        slow.close()
        stop.set()
        t.join()
        srv.close()
        sel.close()
