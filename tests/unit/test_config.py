"""Configuration errors name the file, the dotted key and the problem, all at once."""

import subprocess
import sys
from pathlib import Path

import pytest

from l3roam.errors import ConfigError
from l3roam.master import config as mconfig

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, text):
    p = tmp_path / "m.yaml"
    p.write_text(text)
    return p


def problems(path):
    with pytest.raises(ConfigError) as e:
        mconfig.load(path)
    assert all(str(path) in line for line in str(e.value).splitlines()[1:])
    return {p.key: p.problem for p in e.value.problems}


def test_shipped_example_is_valid():
    cfg = mconfig.load(ROOT / "configs" / "master.yaml")
    assert str(cfg.pools[0].prefix) == "10.99.0.0/16"
    assert cfg.listen.port == 4500 and len(cfg.shared_key()) >= 16


def test_every_problem_is_reported_at_once(tmp_path):
    p = write(tmp_path, """
listen: nowhere
key: "00"
pools:
  - prefix: 10.99.0.0/16
    exclude: [10.99.0.1, 10.98.0.1, banana]
    colour: blue
reservations:
  02:00:00:00:00:01: 10.1.1.1
lease: {lease_seconds: -5, offer_hold_seconds: "soon"}
store: {backend: redis}
""")
    got = problems(p)
    assert "listen" in got and "host:port" in got["listen"]
    assert got["pools[0].colour"].startswith("unknown key")
    assert "outside" in got["pools[0].exclude[1]"] and "range" in got["pools[0].exclude[2]"]
    assert "no pool" in got["reservations.02:00:00:00:00:01"]
    assert got["lease.lease_seconds"] == "must be positive"
    assert "number" in got["lease.offer_hold_seconds"]
    assert "'sqlite'" in got["store.backend"]
    assert "16 bytes" in got["key"]


def test_missing_required_key_and_bad_yaml(tmp_path):
    assert problems(write(tmp_path, "key: " + "ab" * 16 + "\n")) == {"pools": "required key is missing"}
    got = problems(write(tmp_path, "pools: [\n"))
    assert "not valid YAML" in got[""]


def test_overlapping_pools_and_double_reservations(tmp_path):
    got = problems(write(tmp_path, f"""
key: {"ab" * 16}
pools: [{{prefix: 10.0.0.0/16}}, {{prefix: 10.0.1.0/24}}]
reservations: {{"02:00:00:00:00:01": 10.0.0.5, "02:00:00:00:00:02": 10.0.0.5}}
"""))
    assert "overlaps" in got["pools"]
    assert "reserved for" in got["reservations.02:00:00:00:00:02"]


def test_reservation_inside_an_exclusion_is_refused(tmp_path):
    got = problems(write(tmp_path, f"""
key: {"ab" * 16}
pools: [{{prefix: 10.0.0.0/16, exclude: [10.0.0.1, 10.0.0.2-10.0.0.31]}}]
reservations: {{"02:00:00:00:00:01": 10.0.0.7, "02:00:00:00:00:02": 10.0.0.100}}
"""))
    assert "excluded (10.0.0.2-10.0.0.31 in pool 10.0.0.0/16)" in got["reservations.02:00:00:00:00:01"]
    assert "reservations.02:00:00:00:00:02" not in got


def test_check_config_cli_validates_without_side_effects(tmp_path):
    db = tmp_path / "never.db"
    good = write(tmp_path, f"key: {'ab' * 16}\npools: [{{prefix: 10.0.0.0/24}}]\nstore: {{path: {db}}}\n")
    ok = subprocess.run([sys.executable, "-m", "l3roam", "master", "--config", str(good),
                         "--check-config"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and "ok" in ok.stdout
    assert not db.exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("pools: 3\n")
    out = subprocess.run([sys.executable, "-m", "l3roam", "master", "--config", str(bad),
                          "--check-config"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2
    assert f"{bad}: pools: expected a list" in out.stderr
