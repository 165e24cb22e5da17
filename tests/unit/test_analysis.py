"""Per-roam gap, loss, duplicates and reordering from probe records."""

from l3roam.measure.analysis import Arrival, analyse, from_probe_files, longest_gap

INTERVAL = 0.01


def stream(n, lost=(), dup=(), swap=(), delay=0.001):
    sent = {s: 100 + s * INTERVAL for s in range(n)}
    arrivals = []
    for s in range(n):
        if s in lost:
            continue
        t = sent[s] + delay
        if s in swap:
            t += 1.5 * INTERVAL  # arrives after its successor
        arrivals.append(Arrival(s, t))
        if s in dup:
            arrivals.append(Arrival(s, t + 0.0001))
    return sent, arrivals


def test_clean_stream_gap_is_the_probe_interval():
    sent, arr = stream(300)
    (r,) = analyse(sent, arr, [101.5])
    assert (r.lost, r.duplicates, r.reordered, r.sent) == (0, 0, 0, 300)
    assert abs(r.gap_ms - 10.0) < 0.01


def test_outage_per_roam_in_its_own_window():
    lost1 = set(range(100, 115))  # 150 ms outage after the roam at t=101
    lost2 = set(range(205, 208))
    sent, arr = stream(300, lost=lost1 | lost2)
    r1, r2 = analyse(sent, arr, [101.0, 102.05])
    assert r1.lost == 15 and abs(r1.gap_ms - 160.0) < 0.01
    assert r2.lost == 3 and abs(r2.gap_ms - 40.0) < 0.01
    assert r1.window[1] == r2.window[0] == (101.0 + 102.05) / 2


def test_duplicates_and_reordering():
    sent, arr = stream(100, dup={10, 11}, swap={50})
    (r,) = analyse(sent, arr, [100.5])
    assert r.duplicates == 2 and r.reordered == 1 and r.lost == 0


def test_traffic_that_never_resumes_counts_until_the_end():
    sent, arr = stream(200, lost=set(range(150, 200)))
    (r,) = analyse(sent, arr, [101.45])
    assert r.lost == 50 and abs(r.gap_ms - 499.0) < 0.5  # last arrival 101.491 to last send 101.99


def test_longest_gap_uses_neighbours_outside_the_window():
    assert longest_gap([0.0, 1.0, 1.01], 0.5, 0.6) == (1.0, 0.0)


def test_from_probe_files():
    send = {"sent": [[0, 1_000_000_000, 0], [1, 1_010_000_000, 101]]}
    recv = {"arrivals": [[0, 1_000_000_000, 1_001_000_000]]}
    sent, arr = from_probe_files(send, recv)
    assert sent == {0: 1.0, 1: 1.01} and arr == [Arrival(0, 1.001)]


def test_loss_runs_say_when_a_roam_lost_its_packets():
    from l3roam.measure.analysis import Arrival, loss_runs

    sent = {s: 10.0 + s * 0.01 for s in range(300)}  # 100/s from t = 10 s
    lost = set(range(100, 104)) | set(range(215, 230))  # at the move, and 1.15 s later
    arrivals = [Arrival(s, t + 0.001) for s, t in sent.items() if s not in lost]
    runs = loss_runs(sent, arrivals, roam=11.0, window=(10.0, 13.0))
    assert runs == [(0.0, 4), (1150.0, 15)]
    assert loss_runs(sent, arrivals, roam=11.0, window=(10.0, 11.0)) == []
