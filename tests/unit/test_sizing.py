"""What a mesh of a given size needs: timers, timeout, global kernel limits."""

import socket
import struct

from l3roam.kernel.routedump import RTN_UNICAST, RTPROT_BABEL, babel_hosts, dump_request, parse_dump
from l3roam.testbed.sizing import auto_timers, host_sysctls, merge_limits, neigh_entries


def test_timers_slow_down_with_size():
    assert auto_timers(5) == (0.25, 4.0)
    sizes = [auto_timers(n) for n in (10, 100, 217, 300, 1000)]
    assert sizes == sorted(sizes)


def test_kernel_limits_cover_a_whole_community_mesh():
    entries = neigh_entries(links=483, namespaces=248, clients=1)
    limits = host_sysctls(entries, max_degree=245)
    assert limits["net.ipv6.neigh.default.gc_thresh3"] >= 2 * 483 * 2  # default 1024 overflowed at 1031
    assert limits["net.ipv6.neigh.default.gc_thresh1"] <= limits["net.ipv6.neigh.default.gc_thresh2"] \
        <= limits["net.ipv6.neigh.default.gc_thresh3"]
    assert limits["net.core.rmem_default"] >= 245 * 64 * 1024 // 2
    small = host_sysctls(neigh_entries(4, 7), max_degree=2)
    assert small["net.ipv6.neigh.default.gc_thresh3"] == 1024 and small["net.core.rmem_default"] == 212992


def test_merged_limits_never_lower_anything():
    assert merge_limits({"a": 5, "b": 1}, {"a": 3, "c": 2}) == {"a": 5, "b": 1, "c": 2}


def _route(family, dst, plen, proto, rtype):
    body = struct.pack("=BBBBBBBBI", family, plen, 0, 0, 254, proto, 0, rtype, 0)
    attr = struct.pack("=HH", 4 + len(dst), 1) + dst
    body += attr + b"\0" * (-len(attr) % 4)
    return struct.pack("=IHHII", 16 + len(body), 24, 2, 7, 0) + body


def test_route_dump_codec():
    req = dump_request(7)
    assert struct.unpack_from("=IHH", req) == (len(req), 26, 0x301)
    data = (_route(socket.AF_INET, socket.inet_aton("10.255.0.3"), 32, RTPROT_BABEL, RTN_UNICAST)
            + _route(socket.AF_INET, socket.inet_aton("10.255.0.4"), 32, RTPROT_BABEL, 7)  # unreachable hold-down
            + _route(socket.AF_INET, socket.inet_aton("10.99.0.0"), 16, 2, RTN_UNICAST))
    routes, done, err = parse_dump(data)
    assert not done and len(routes) == 3 and routes[0].dst == "10.255.0.3"
    assert babel_hosts(routes) == {"10.255.0.3"}
    _, done, err = parse_dump(struct.pack("=IHHII", 20, 3, 2, 7, 0) + b"\0\0\0\0")
    assert done and err == 0
