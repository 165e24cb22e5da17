"""babeld.conf rendering and the checks that protect roaming."""

import argparse
from pathlib import Path

import pytest

from l3roam.node import babel_command as command
from l3roam.babel.config import (
    BabelSettings, InterfaceSettings, render, render_checked, router_id_for, validate,
)
from l3roam.babel.version import check_version, parse_version
from l3roam.errors import ConfigError, ExternalToolError


ROOT = Path(__file__).resolve().parents[2]


def settings(**kw):
    base = dict(router_id=router_id_for("10.255.0.1"),
                interfaces=(InterfaceSettings("m-r2"), InterfaceSettings("wl0", type="wireless", hello_interval=1)),
                own_prefixes=("10.255.0.1/32", "fc00:1::1/128", "fc00:1::d4/128"),
                local_path="/run/l3roam/x/babeld.sock")
    base.update(kw)
    return BabelSettings(**base)


def test_renders_router_id_interfaces_and_host_route_redistribution_in_order():
    text = render_checked(settings())
    lines = text.splitlines()
    assert "router-id 02:00:00:00:0a:ff:00:01" in lines
    assert "kernel-priority 100" in lines
    assert "local-path-readwrite /run/l3roam/x/babeld.sock" in lines
    assert "interface m-r2 type wired split-horizon false hello-interval 0.25 update-interval 4" in lines
    # babeld does not do split horizon on wireless interfaces: no option rendered
    assert "interface wl0 type wireless hello-interval 1 update-interval 4" in lines
    redis = [l for l in lines if l.startswith("redistribute")]
    assert redis == [
        "redistribute local ip 10.255.0.1/32 eq 32 allow",
        "redistribute local ip fc00:1::1/128 eq 128 allow",
        "redistribute local ip fc00:1::d4/128 eq 128 allow",
        "redistribute ip 10.255.0.1/32 eq 32 allow",
        "redistribute ip fc00:1::1/128 eq 128 allow",
        "redistribute ip fc00:1::d4/128 eq 128 allow",
        "redistribute proto 44 ip 10.99.0.0/16 ge 32 allow",
        "redistribute local deny",
        "redistribute deny",
    ]


@pytest.mark.parametrize("prefix", ["fc00:1::/64", "10.0.0.0/24", "0.0.0.0/0"])
def test_refuses_anything_but_host_routes_and_names_the_babeld_bug(prefix):
    with pytest.raises(ConfigError) as err:
        render_checked(settings(own_prefixes=("10.255.0.1/32", prefix)))
    assert "own_prefixes[1]" in str(err.value)
    assert "flush_xroute()" in str(err.value)


def test_refuses_split_horizon_on_wired_and_reports_every_problem_at_once():
    bad = settings(router_id="nonsense", interfaces=(InterfaceSettings("m-r2", split_horizon=True),),
                   client_proto=42)
    keys = {p.key for p in validate(bad)}
    assert keys == {"router_id", "interfaces[0].split_horizon", "client_proto"}


def test_interface_name_longer_than_15_characters_is_refused():
    assert [p.key for p in validate(settings(interfaces=(InterfaceSettings("a" * 16),)))] == ["interfaces[0].name"]


def test_no_client_prefix_renders_no_client_rule():
    assert "proto 44" not in render(settings(client_prefix=None))


def test_babel_config_command_from_options(capsys):
    p = argparse.ArgumentParser()
    command.add_arguments(p)
    args = p.parse_args(["--loopback", "10.255.0.7", "--locator", "fc00:7::d4", "-i", "m-r6",
                         "-i", "m-r8:tunnel", "--hello", "1", "--proto", "45"])
    assert command.run(args) == 0
    out = capsys.readouterr().out
    assert "router-id 02:00:00:00:0a:ff:00:07" in out
    assert "interface m-r8 type tunnel split-horizon false hello-interval 1 update-interval 4" in out
    assert "redistribute ip fc00:7::d4/128 eq 128 allow" in out
    assert "redistribute proto 45 ip 10.99.0.0/16 ge 32 allow" in out


NODE = """node_id: ap2
master: 10.255.0.1:4500
key: 6c33726f616d2d64656d6f2d6b65792d6368616e67652d6d65
client_interface: cell0
gateway: 10.99.0.1/16
mesh_interfaces: [m-r2, wlan1]
control_address: 10.255.0.3
handoff: {sid: "fc00:0:3::d4"}
"""


def run_babel_config(*argv):
    p = argparse.ArgumentParser()
    command.add_arguments(p)
    return command.run(p.parse_args(list(argv)))


def test_babel_config_from_the_shipped_node_file(capsys):
    assert run_babel_config("--config", str(ROOT / "configs" / "node.yaml")) == 0
    out = capsys.readouterr().out
    assert "router-id 02:00:00:00:0a:ff:00:02" in out  # derived from control_address
    assert "local-path-readwrite /run/babeld.sock" in out  # babel_socket
    assert "interface mesh0 type wireless hello-interval 1" in out
    assert "redistribute ip 10.255.0.2/32 eq 32 allow" in out
    assert "redistribute ip fc00:0:1::d4/128 eq 128 allow" in out  # handoff.sid
    assert "redistribute proto 44 ip 10.99.0.0/16 ge 32 allow" in out  # route_protocol, gateway


def test_babel_config_from_a_node_file_without_babel_section(tmp_path, capsys):
    f = tmp_path / "node.yaml"
    f.write_text(NODE)
    assert run_babel_config("--config", str(f)) == 0
    out = capsys.readouterr().out
    assert "router-id 02:00:00:00:0a:ff:00:03" in out
    assert "interface m-r2 type wired split-horizon false hello-interval 0.25" in out
    assert "interface wlan1 type wired" in out
    assert "redistribute ip fc00:0:3::d4/128 eq 128 allow" in out
    # options still override the file
    assert run_babel_config("--config", str(f), "-i", "wlan1:wireless", "--hello", "1") == 0
    assert "interface wlan1 type wireless hello-interval 1" in capsys.readouterr().out


def test_babel_section_errors_name_file_and_dotted_key(tmp_path):
    f = tmp_path / "node.yaml"
    f.write_text(NODE.replace("control_address: 10.255.0.3\n", "") + """babel:
  interfaces:
    - {name: m-r2, split_horizon: true}
  own_prefixes: [10.0.0.0/8, fc00::1/128]
  kernel_priority: -1
  colour: blue
""")
    with pytest.raises(ConfigError) as err:
        run_babel_config("--config", str(f))
    text = str(err.value)
    for key in ("babel.interfaces[0].split_horizon", "babel.own_prefixes[0]", "babel.kernel_priority",
                "babel.colour", "mesh_interfaces[1]", "babel.router_id"):
        assert f"{f}: {key}:" in text, key
    assert "flush_xroute" in text and "wlan1 is not among babel.interfaces" in text
    assert "own_prefixes[1]" not in text
    # the agent's own check refuses the same file, for the same reasons
    from l3roam.node import config as nconfig
    with pytest.raises(ConfigError) as err2:
        nconfig.load(f)
    assert "babel.own_prefixes[0]" in str(err2.value)


def test_babel_problems_of_derived_settings_name_the_node_keys(tmp_path):
    f = tmp_path / "node.yaml"
    f.write_text(NODE.replace("control_address: 10.255.0.3\n", "").replace("[m-r2, wlan1]", "[m-r2, a-very-long-name0]"))
    from l3roam.node import config as nconfig
    nconfig.load(f)  # no babel: section, so the agent does not care
    with pytest.raises(ConfigError) as err:
        run_babel_config("--config", str(f))
    text = str(err.value)
    assert f"{f}: mesh_interfaces[1]:" in text and f"{f}: babel.router_id: required" in text


@pytest.mark.parametrize("text,version", [("babeld-1.13.1", (1, 13, 1)), ("babeld-1.12", (1, 12, 0)),
                                          ("nothing", None)])
def test_parse_version(text, version):
    assert parse_version(text) == version


def test_refuses_babeld_older_than_1_12_2():
    check_version((1, 12, 2))
    with pytest.raises(ExternalToolError, match="1.12.1 is too old.*withdraws the wrong prefix"):
        check_version((1, 12, 1))


def test_running_babeld_redistributing_a_subnet_or_source_specific_route_is_refused():
    from l3roam.babel.config import redistributed_problems

    ok = [("10.99.0.5/32", "0.0.0.0/0"), ("fc00:1::d4/128", "::/0"), ("10.255.0.1/32", "")]
    assert redistributed_problems(ok) == []
    bad = redistributed_problems([("10.99.0.0/24", "0.0.0.0/0"), ("10.99.0.9/32", "10.0.0.0/8")])
    assert len(bad) == 2 and all("flush_xroute" in b for b in bad)


def test_renders_a_periodic_kernel_check_and_refuses_an_unusable_interval():
    # babeld misses kernel route notifications under bursts (netlink ENOBUFS); only its periodic
    # kernel-table check repairs that, so the interval is rendered explicitly (babeld's default: 300 s)
    assert "kernel-check-interval 10" in render_checked(settings()).splitlines()
    assert "kernel-check-interval 3" in render_checked(settings(kernel_check_interval=3)).splitlines()
    for bad in (0, 3601):
        problems = validate(settings(kernel_check_interval=bad))
        assert [p.key for p in problems] == ["kernel_check_interval"]
        assert "docs/babel.md" in problems[0].problem


def test_one_file_per_node_from_the_command_line():
    import subprocess
    import sys

    def cli(*argv):
        return subprocess.run([sys.executable, "-m", "l3roam", *argv], cwd=ROOT, capture_output=True, text=True)

    r = cli("babel-config", "--config", "configs/node.yaml")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# babeld.conf rendered by l3roam") and "redistribute deny" in r.stdout
    r = cli("node", "--config", "configs/node.yaml", "--check-config")
    assert r.returncode == 0 and "configs/node.yaml: ok" in r.stdout, r.stderr


def test_the_node_file_sets_the_kernel_check_and_a_bad_value_names_its_key(tmp_path):
    import subprocess
    import sys

    text = (ROOT / "configs" / "node.yaml").read_text()
    assert "kernel_check_interval: 10" in text
    bad = tmp_path / "node.yaml"
    bad.write_text(text.replace("kernel_check_interval: 10", "kernel_check_interval: 0"))
    r = subprocess.run([sys.executable, "-m", "l3roam", "babel-config", "--config", str(bad)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "babel.kernel_check_interval: must be between 1 and 3600" in r.stderr
    good = tmp_path / "good.yaml"
    good.write_text(text.replace("kernel_check_interval: 10", "kernel_check_interval: 5"))
    r = subprocess.run([sys.executable, "-m", "l3roam", "babel-config", "--config", str(good)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "kernel-check-interval 5" in r.stdout.splitlines()
