"""Experiment files: the shipped ones load, mistakes are reported by key, and the
per-AP-subnet design changes only the APs' babeld configuration."""

from pathlib import Path

import pytest

from l3roam.config import load_file, load_text
from l3roam.errors import ConfigError
from l3roam.experiment.designs import ap_subnet, patch_babeld_for_subnets
from l3roam.experiment.spec import ExperimentSpec
from l3roam.testbed import topology
from l3roam.testbed.builder import Testbed
from l3roam.testbed.plan import StartBabeld

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "experiments").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_experiments_load(path):
    spec = load_file(ExperimentSpec, path)
    assert spec.scenarios or spec.client_scale.enabled
    tb = (path.parent / spec.testbed).resolve()
    assert tb.is_relative_to(ROOT) and tb.exists()
    topo = topology.load(tb)  # reads the graph file, if any, relative to the testbed file
    assert len(topo.aps) >= 2
    if spec.scale.enabled and spec.scale.graph is not None:
        graph = (path.parent / spec.scale.graph).resolve()
        assert graph.is_relative_to(ROOT / "configs" / "topologies") and graph.exists()
    for m in spec.client_scale.meshes:
        mt = (path.parent / m.testbed).resolve()
        assert mt.is_relative_to(ROOT) and mt.exists(), m
        assert len(topology.load(mt).aps) >= 2


@pytest.mark.parametrize("name", ["freifunk-ulm", "freifunk-bielefeld"])
def test_shipped_community_graphs_build(name):
    text = f"mesh: {{shape: graph, graph: {name}.json, max_routers: 40}}\n"
    topo = topology.loads(text, base_dir=ROOT / "configs" / "topologies")
    assert len(topo.routers) == 40 and len(topo.links) >= 39


def test_client_scale_problems_are_reported():
    with pytest.raises(ConfigError) as err:
        load_text(ExperimentSpec, """
testbed: x.yaml
client_scale: {enabled: true, clients: [-1], window: 0, fill: fast}
""")
    keys = {p.key for p in err.value.problems}
    assert {"client_scale.clients", "client_scale.window", "client_scale.fill", "client_scale.meshes"} <= keys


def test_an_experiment_needs_something_to_run():
    with pytest.raises(ConfigError) as err:
        load_text(ExperimentSpec, "testbed: x.yaml\n")
    assert [p.key for p in err.value.problems] == ["scenarios"]


def test_problems_are_reported_together():
    with pytest.raises(ConfigError) as err:
        load_text(ExperimentSpec, """
testbed: x.yaml
scenarios: [{name: a, kind: wifi}, {name: "b c", hello: 100}]
roams: {count: 0, colour: red}
""")
    keys = {p.key for p in err.value.problems}
    assert {"scenarios[0].kind", "scenarios[1].name", "scenarios[1].hello", "roams.colour", "roams.count"} <= keys


def test_subnet_design_redistributes_each_aps_slash24_only_there():
    topo = topology.loads("mesh: {shape: line, routers: 5}\naps: [r1, r3, r5]\n", prefix="l3rt-ex-u-")
    tb = Testbed(topo, run_root=Path("/nonexistent"))
    patch_babeld_for_subnets(tb)
    confs = {a.directory.name: a.config for s in tb.steps for a in s.do if isinstance(a, StartBabeld)}
    assert set(confs) == {"r1", "r2", "r3", "r4", "r5"}
    for k, ap in enumerate(["r1", "r3", "r5"], start=1):
        line = f"redistribute proto 45 ip {ap_subnet(k)[0]} eq 24 allow"
        assert line in confs[ap]
        assert confs[ap].index(line) < confs[ap].index("redistribute local deny")
    assert "eq 24" not in confs["r2"] and "eq 24" not in confs["r4"]


def test_batman_and_client_keys_are_checked_together():
    from l3roam.experiment.spec import ScenarioSpec

    assert ScenarioSpec("b", kind="batman", orig_interval=250, client="silent").check() == []
    keys = {p.key for p in ScenarioSpec("x", kind="l3roam", orig_interval=1000).check()}
    assert keys == {"orig_interval"}  # an OGM interval only means something to batman-adv
    keys = {p.key for p in ScenarioSpec("s", kind="subnets", client="silent", talk_delay=0).check()}
    assert keys == {"client", "talk_delay"}  # a subnets client must run DHCP, i.e. talk
