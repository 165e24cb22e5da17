"""A real babel mesh in namespaces: convergence, client /32s, a client moved by hand.

One 4-router line (APs r1 and r4, server r2) serves all tests of this module to
keep the run short; every namespace and babeld is removed afterwards, also on
failure (the fixture's ``down`` plus a prefix-wide clean).
"""

import json
import subprocess
import time

import pytest

from l3roam.babel.control import BabelControl
from l3roam.babel.control_lines import RouteFlushed
from l3roam.errors import ExternalToolError
from l3roam.measure.table import format_table, summary
from l3roam.testbed.air import Air
from l3roam.testbed.builder import Testbed
from l3roam.testbed.clean import list_netns
from kernel_nsutil import running_testbed
from l3roam.testbed.schedule import plan_moves
from l3roam.testbed.session import run_roams

pytestmark = [pytest.mark.netns, pytest.mark.babeld]

YAML = """
mesh: {shape: line, routers: 4}
aps: [r1, r4]
server: r2
clients: [{name: c1, ap: r1}]
"""
CLIENT_IP = "10.99.0.10"


@pytest.fixture(scope="module")
def mesh():
    with running_testbed(YAML, "tb-") as tb:
        yield tb


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def test_every_router_routes_to_every_loopback_and_reports_it_on_the_control_socket(mesh):
    for r in mesh.topo.routers:
        others = {str(o.loopback) for o in mesh.topo.routers if o is not r}
        assert others <= mesh.reachable_loopbacks(r.name)
    mesh.exec("r1", ["ping", "-c1", "-W2", "-I", "10.255.0.1", "10.255.0.4"])
    with BabelControl(mesh.babeld_socket("r1")) as ctl:
        assert ctl.header["my-id"] == mesh.topo.router("r1").router_id  # router-id from the config
        dump = ctl.dump()
    installed = dump.installed()
    assert installed["10.255.0.4/32"].router_id == mesh.topo.router("r4").router_id
    assert installed["10.255.0.4/32"].ifname == "m-r2"
    assert {"10.255.0.1/32", "fc00:1::1/128"} <= {x.prefix for x in dump.xroutes}


def client_route(tb, router):
    return [r for r in tb.routes(router) if r["dst"] == CLIENT_IP and r.get("type", "unicast") == "unicast"]


def test_a_proto_44_host_route_is_announced_and_withdrawn(mesh):
    prefix = f"{CLIENT_IP}/32"
    r1_id = mesh.topo.router("r1").router_id
    ctl = BabelControl(mesh.babeld_socket("r4"))
    try:
        events = ctl.monitor(duration=6)
        mesh.exec("r1", ["ip", "route", "replace", prefix, "dev", "cell0", "proto", "44"])
        t0 = time.monotonic()
        seen = next((e for e in events if e.route.prefix == prefix and e.route.reachable), None)
        announced = time.monotonic() - t0
        assert seen is not None, "r4's babeld never learned the /32"
        assert seen.route.router_id == r1_id
        assert wait_for(lambda: client_route(mesh, "r4"), 2), "the /32 is not in r4's kernel table"
        assert client_route(mesh, "r4")[0]["protocol"] == "babel"

        mesh.exec("r1", ["ip", "route", "del", prefix, "dev", "cell0", "proto", "44"])
        t0 = time.monotonic()
        gone = next((e for e in events if e.route.prefix == prefix
                     and (isinstance(e, RouteFlushed) or not e.route.reachable)), None)
        withdrawn = time.monotonic() - t0
        assert gone is not None, "r4's babeld never saw the withdrawal"
        # babeld >= 1.12.2 withdraws the right prefix, urgently; the kernel keeps only hold-down
        assert wait_for(lambda: not client_route(mesh, "r4"), 2), "the /32 stayed in r4's kernel table"
        with BabelControl(mesh.babeld_socket("r4")) as other:  # ctl is in monitor mode
            assert prefix not in other.dump().installed()
        print(f"\n/32 announced to r4 in {announced * 1000:.0f} ms, withdrawn in {withdrawn * 1000:.0f} ms")
        assert withdrawn < 2.0
    finally:
        ctl.close()
        mesh.exec("r1", ["ip", "route", "del", prefix, "proto", "44"], check=False)


def test_client_moved_with_its_route_moved_by_hand_keeps_receiving(mesh, tmp_path):
    mesh.exec("c1", ["ip", "addr", "replace", f"{CLIENT_IP}/16", "dev", "wlan0"])
    mesh.exec("c1", ["ip", "route", "replace", "default", "via", "10.99.0.1"])
    mesh.exec("r1", ["ip", "route", "replace", f"{CLIENT_IP}/32", "dev", "cell0", "proto", "44"])
    assert wait_for(lambda: client_route(mesh, "r2"), 5)

    def move_route(rec):
        # babel alone (docs/babel.md): the new AP installs the /32, then the old one withdraws it
        mesh.exec(rec.dst, ["ip", "route", "replace", f"{CLIENT_IP}/32", "dev", "cell0", "proto", "44"])
        mesh.exec(rec.src, ["ip", "route", "del", f"{CLIENT_IP}/32", "proto", "44"])

    moves = plan_moves("every", "c1", mesh.topo.aps, "r1", count=3, interval=1.5)
    try:
        result = run_roams(mesh, "c1", CLIENT_IP, moves, tmp_path, on_move=move_route, lead_in=0.5, tail=1.0,
                           upstream=False)
    finally:
        for ap in mesh.topo.aps:
            mesh.exec(ap, ["ip", "route", "del", f"{CLIENT_IP}/32", "proto", "44"], check=False)
    print("\n" + format_table(result.down, [(m.src, m.dst) for m in result.moves]))
    print(summary(result.down))
    assert [(m.src, m.dst) for m in result.moves] == [("r1", "r4"), ("r4", "r1"), ("r1", "r4")]
    assert len(result.down) == 3
    assert all(r.gap_ms < 2000 for r in result.down)  # generous: real figures belong to the benchmarks
    assert result.down[-1].lost < result.down[-1].sent / 2, "probes stopped arriving after the last move"
    assert result.tcp["alive"], result.tcp
    assert Air(mesh).where("c1") == "r4"


def test_an_srv6_sid_installed_as_a_static_host_route_is_routed_across_the_mesh(mesh):
    sid = str(mesh.topo.router("r1").sid)
    mesh.exec("r1", ["ip", "-6", "route", "replace", f"{sid}/128", "encap", "seg6local", "action", "End.DX4",
                     "nh4", "0.0.0.0", "dev", "cell0", "proto", "static"])
    try:
        assert wait_for(lambda: any(r["dst"] == sid for r in json.loads(mesh.exec(
            "r4", ["ip", "-j", "-6", "route", "show", "proto", "babel"]).stdout or "[]")), 5)
    finally:
        mesh.exec("r1", ["ip", "-6", "route", "del", f"{sid}/128"], check=False)


@pytest.mark.parametrize("model", ["carrier-kept", "carrier-lost"])
def test_a_move_looks_like_a_reassociation_to_both_aps_and_the_client_keeps_carrier_only_if_kept(mesh, model):
    start = Air(mesh).where("c1")
    dst = "r4" if start == "r1" else "r1"
    mesh.exec("c1", ["ip", "addr", "replace", f"{CLIENT_IP}/16", "dev", "wlan0"])
    mac_before = json.loads(mesh.exec("c1", ["ip", "-j", "link", "show", "wlan0"]).stdout)[0]["address"]
    monitors = {n: mesh.popen(n, ["ip", "monitor", "link"], stdout=subprocess.PIPE, text=True)
                for n in (start, dst, "c1")}
    try:
        time.sleep(0.3)  # let the monitors subscribe
        with Air(mesh, model, gap=0.2 if model == "carrier-lost" else 0.0) as air:
            rec = air.move("c1", dst)
            assert air.where("c1") == dst
        time.sleep(0.3)
    finally:
        for m in monitors.values():
            m.terminate()
    seen = {n: m.communicate(timeout=5)[0] for n, m in monitors.items()}
    assert (rec.src, rec.dst) == (start, dst)
    assert "sta-c1" in seen[start] and "NO-CARRIER" in seen[start]  # the old AP: station gone
    assert "sta-c1" in seen[dst] and "LOWER_UP" in seen[dst]  # the new AP: station arrived
    port = json.loads(mesh.exec(dst, ["ip", "-j", "-d", "link", "show", "sta-c1"]).stdout)[0]
    assert port["ifalias"] == str(mesh.topo.client("c1").mac) and port["master"] == "cell0"
    assert port["linkinfo"]["info_slave_data"]["isolated"] is True
    assert port["operstate"] == "UP"
    old = json.loads(mesh.exec(start, ["ip", "-j", "link", "show", "sta-c1"]).stdout)[0]
    assert "LOWER_UP" not in old["flags"]
    if model == "carrier-kept":
        assert "wlan0" not in seen["c1"]  # no carrier change at all on the client
    else:
        assert "wlan0" in seen["c1"] and "NO-CARRIER" in seen["c1"]
        assert rec.t_end - rec.t_start >= 0.2
    link = json.loads(mesh.exec("c1", ["ip", "-j", "addr", "show", "wlan0"]).stdout)[0]
    assert link["address"] == mac_before and link["ifname"] == "wlan0"
    assert any(a["local"] == CLIENT_IP for a in link["addr_info"])
    mesh.exec("c1", ["ip", "addr", "del", f"{CLIENT_IP}/16", "dev", "wlan0"])


def test_a_second_up_with_the_same_prefix_refuses_and_leaves_the_running_mesh_alone(mesh):
    with pytest.raises(ExternalToolError, match="exist already"):
        Testbed(mesh.topo).up()
    assert len(list_netns(mesh.prefix)) == len(mesh.topo.routers) + 1 + len(mesh.topo.clients)
    assert mesh.reachable_loopbacks("r1")
