"""Parsing babeld's local-socket lines, against lines captured from babeld 1.13.1."""

from pathlib import Path

import pytest

from l3roam.babel.control_lines import (
    RouteChanged, RouteFlushed, RouteTable, parse_header, parse_line, route_from,
)
from l3roam.errors import MalformedPacket

CAPTURE = Path(__file__).parent.parent / "data" / "babel" / "monitor-1.13.1.txt"


def test_route_line_fields():
    obj = parse_line("add route 563023112630 prefix 10.99.0.5/32 from 0.0.0.0/0 installed yes "
                     "id 02:00:00:ff:fe:00:00:02 metric 96 refmetric 0 via fe80::e8e9:7aff:fe74:48f4 if m-b")
    r = route_from(obj)
    assert (r.prefix, r.router_id, r.metric, r.installed, r.via, r.ifname) == (
        "10.99.0.5/32", "02:00:00:ff:fe:00:00:02", 96, True, "fe80::e8e9:7aff:fe74:48f4", "m-b")
    assert r.reachable


def test_captured_monitor_stream_reports_each_route_once():
    table = RouteTable()
    events = [e for line in CAPTURE.read_text().splitlines() if (e := table.apply(line))]
    # two routes in the dump; the repeated unchanged "change route" lines add nothing
    assert [e.route.prefix for e in events] == ["10.99.0.5/32", "10.255.0.2/32"]
    assert all(isinstance(e, RouteChanged) and e.previous is None for e in events)
    assert set(table.installed()) == {"10.99.0.5/32", "10.255.0.2/32"}
    assert [x.prefix for x in table.xroutes.values()] == ["10.255.0.1/32"]


def test_changed_metric_retraction_and_flush_are_events():
    table = RouteTable()
    base = ("route 1 prefix 10.99.0.5/32 from 0.0.0.0/0 installed yes id 02:00:00:ff:fe:00:00:02 "
            "metric {} refmetric 0 via fe80::1 if m-b")
    table.apply("add " + base.format(96))
    ev = table.apply("change " + base.format(65535))
    assert isinstance(ev, RouteChanged) and ev.previous.metric == 96 and not ev.route.reachable
    assert table.installed() == {}
    ev = table.apply("flush " + base.format(65535))
    assert isinstance(ev, RouteFlushed) and table.routes == {}


def test_two_announcers_of_one_prefix_are_two_routes():
    table = RouteTable()
    for key, rid in (("a", "02:00:00:00:0a:ff:00:01"), ("b", "02:00:00:00:0a:ff:00:03")):
        table.apply(f"add route {key} prefix 10.99.0.9/32 from 0.0.0.0/0 installed no id {rid} "
                    "metric 192 refmetric 96 via fe80::1 if m-r2")
    assert table.announcers("10.99.0.9/32") == {"02:00:00:00:0a:ff:00:01", "02:00:00:00:0a:ff:00:03"}


@pytest.mark.parametrize("line", ["ok", "", "BABEL 1.0", "add bogus 1 x y", "no"])
def test_status_and_unknown_lines_are_not_objects(line):
    assert parse_line(line) is None


def test_malformed_route_line_raises_malformed_packet():
    with pytest.raises(MalformedPacket):
        parse_line("add route 1 prefix")
    with pytest.raises(MalformedPacket):
        route_from(parse_line("add route 1 prefix 10.0.0.1/32 metric x"))


def test_header():
    h = parse_header(["BABEL 1.0", "version babeld-1.13.1", "host vm", "my-id 02:00:00:ff:fe:00:00:01"])
    assert h["version"] == "babeld-1.13.1" and h["my-id"] == "02:00:00:ff:fe:00:00:01"
    with pytest.raises(MalformedPacket):
        parse_header(["HTTP/1.0 200"])
