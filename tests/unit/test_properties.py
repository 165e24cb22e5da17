"""Property tests: the control-line parser never fails but with MalformedPacket; analysis accounts for every packet."""

from hypothesis import given, settings
from hypothesis import strategies as st

from l3roam.babel.control_lines import RouteTable
from l3roam.errors import MalformedPacket
from l3roam.measure.analysis import Arrival, analyse

WORDS = st.sampled_from(["add", "change", "flush", "route", "xroute", "neighbour", "prefix", "metric", "id",
                         "installed", "yes", "via", "if", "10.0.0.1/32", "65535", "96", "x", "", "from"])


@settings(max_examples=300)
@given(st.lists(st.lists(WORDS, max_size=14).map(" ".join), max_size=20))
def test_route_table_only_raises_malformed_packet(lines):
    table = RouteTable()
    for line in lines:
        try:
            table.apply(line)
        except MalformedPacket:
            pass


@settings(max_examples=200)
@given(n=st.integers(1, 300), lost=st.sets(st.integers(0, 299)), dups=st.sets(st.integers(0, 299)),
       roams=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=5))
def test_every_sent_packet_is_counted_once_as_lost_or_received(n, lost, dups, roams):
    sent = {s: s * 0.01 for s in range(n)}
    arrivals = [Arrival(s, t + 0.001) for s, t in sent.items() if s not in lost]
    arrivals += [Arrival(s, sent[s] + 0.002) for s in dups if s < n and s not in lost]
    stats = analyse(sent, arrivals, roams)
    assert sum(r.sent for r in stats) == n
    assert sum(r.lost for r in stats) == len([s for s in lost if s < n])
    assert sum(r.duplicates for r in stats) == len([s for s in dups if s < n and s not in lost])
    assert all(r.gap_ms >= 0 for r in stats)
