"""The perfdhcp report parser (l3roam/bench/perfdhcp.py) against real perfdhcp 2.2 output.

Samples in tests/data/perfdhcp/, captured on this machine with the bench's
namespaces: Kea at 300 DORA/s with ``-x t`` timestamps, Kea at 2000 DORA/s
without them (one DISCOVER lost), and perfdhcp against an address where no
server listens (every exchange lost, delays "n/a").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from l3roam.bench.perfdhcp import command, parse, percentile

DATA = Path(__file__).resolve().parent.parent / "data" / "perfdhcp"


def report(name: str):
    return parse((DATA / name).read_text())


def test_summary_figures_of_a_run_with_timestamps():
    r = report("kea-300-timestamps.txt")
    assert (r.rate, r.expected_rate) == (298.978, 300.0)
    assert (r.do.sent, r.do.received, r.do.drops) == (299, 299, 0)
    assert (r.do.min_ms, r.do.avg_ms, r.do.max_ms, r.do.std_ms) == (0.095, 0.229, 0.682, 0.093)
    assert (r.ra.sent, r.ra.received, r.ra.max_ms) == (299, 299, 2.801)


def test_percentiles_come_from_the_timestamps_and_agree_with_perfdhcps_extremes():
    r = report("kea-300-timestamps.txt")
    assert len(r.do.stamps) == len(r.ra.stamps) == 299
    for ex in (r.do, r.ra):
        delays = ex.delays_ms
        assert delays[0] == pytest.approx(ex.min_ms, abs=0.0011)
        assert delays[-1] == pytest.approx(ex.max_ms, abs=0.0011)
        assert ex.min_ms <= ex.pct(50) <= ex.pct(99) <= ex.max_ms
    assert r.do.pct(99) == pytest.approx(0.555, abs=0.001)


def test_whole_dora_pairs_each_request_with_its_offer():
    r = report("kea-300-timestamps.txt")
    dora = r.dora_delays_ms()
    assert len(dora) == 299
    # a DORA lasts at least its two exchanges and at most both worst cases plus the gap
    assert dora[0] >= r.do.min_ms + r.ra.min_ms - 0.002
    assert r.dora_pct(50) == pytest.approx(0.521, abs=0.001)
    assert r.dora_pct(99) < r.do.max_ms + r.ra.max_ms + 1.0


def test_a_report_without_timestamps_has_no_percentiles_but_its_drops():
    r = report("kea-2000-summary.txt")
    assert (r.rate, r.expected_rate) == (1999.28, 2000.0)
    assert (r.do.sent, r.do.received, r.do.drops) == (5999, 5998, 1)
    assert r.do.drop_ratio == pytest.approx(1 / 5999)
    assert (r.ra.sent, r.ra.drops, r.ra.max_ms) == (5998, 0, 4.187)
    assert r.do.pct(99) is None and r.dora_pct(99) is None


def test_no_server_every_exchange_lost_and_no_delays():
    r = report("no-server.txt")
    assert r.rate == 0.0
    assert (r.do.sent, r.do.received, r.do.drops, r.do.drop_ratio) == (9, 0, 9, 1.0)
    assert (r.do.min_ms, r.do.avg_ms, r.do.max_ms) == (None, None, None)
    assert r.ra.sent == 0 and r.ra.drop_ratio == 0.0


def test_not_a_report():
    with pytest.raises(ValueError, match="Rate"):
        parse("perfdhcp: command not found\n")


def test_nearest_rank_percentile():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None


def test_command_line_is_single_threaded_and_rate_limited():
    argv = command("10.0.0.1", "10.0.0.2", 4000, 100000, 3, "02:01:00:00:00:00")
    assert argv[:5] == ["perfdhcp", "-4", "-g", "single", "-r"] and argv[5] == "4000"
    assert argv[-1] == "10.0.0.1" and "-x" in argv and ["-l", "10.0.0.2"] == argv[argv.index("-l"):][:2]
