"""docs/deploy.md's configuration files are valid: the heredocs for
master.yaml and node.yaml are taken from the page, filled in for r2, and
checked by the same commands the page runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "deploy.md").read_text()


def heredoc(target: str) -> str:
    m = re.search(rf"cat > {re.escape(target)} <<'?EOF'?\n(.*?)\nEOF\n", PAGE, re.S)
    assert m, target
    return m.group(1) + "\n"


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "l3roam", *argv], cwd=ROOT, capture_output=True, text=True)


def test_the_pages_configs_pass_check_config_and_render_babeld_conf(tmp_path):
    key = tmp_path / "key"
    key.write_text("ab" * 32 + "\n")
    key.chmod(0o600)  # the page says chmod 600; the master refuses a key others can read
    master = tmp_path / "master.yaml"
    master.write_text(heredoc("/etc/l3roam/master.yaml").replace("/etc/l3roam/key", str(key)))
    r = cli("master", "--config", str(master), "--check-config")
    assert r.returncode == 0, r.stderr
    node = tmp_path / "node.yaml"
    node.write_text(heredoc("/etc/l3roam/node.yaml").replace("$N", "2").replace("/etc/l3roam/key", str(key)))
    r = cli("node", "--config", str(node), "--check-config")
    assert r.returncode == 0, r.stderr
    r = cli("babel-config", "--config", str(node))
    assert r.returncode == 0, r.stderr
    conf = r.stdout
    for line in ("router-id 02:00:00:00:0a:ff:00:02", "local-path-readwrite /run/babeld.sock",
                 "interface eth1 type wired split-horizon false hello-interval 0.25",
                 "redistribute ip 10.255.0.2/32 eq 32 allow", "redistribute ip fc00:0:2::1/128 eq 128 allow",
                 "redistribute ip fc00:0:2::d4/128 eq 128 allow",
                 "redistribute proto 44 ip 10.99.0.0/16 ge 32 allow"):
        assert line in conf, line


def test_r1s_babeld_conf_gets_the_default_route_before_the_final_rules():
    r = cli("babel-config", "--loopback", "10.255.0.1", "--locator", "fc00:0:1::1", "-i", "eth1",
            "--socket", "/run/babeld.sock")
    assert r.returncode == 0, r.stderr
    assert "sed -i 's|^redistribute local deny|redistribute ip 0.0.0.0/0 eq 0 allow\\nredistribute local deny|'" in PAGE
    conf = r.stdout.replace("redistribute local deny", "redistribute ip 0.0.0.0/0 eq 0 allow\nredistribute local deny")
    lines = conf.splitlines()
    assert lines[-3:] == ["redistribute ip 0.0.0.0/0 eq 0 allow", "redistribute local deny", "redistribute deny"]
