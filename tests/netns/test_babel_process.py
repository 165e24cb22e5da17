"""Starting and stopping one babeld in a namespace; its control socket."""

import os
import subprocess

import pytest

from l3roam.babel import process
from l3roam.babel.config import BabelSettings, InterfaceSettings, render_checked
from l3roam.babel.control import BabelControl
from l3roam.errors import ExternalToolError
from l3roam.testbed.clean import delete_netns

pytestmark = [pytest.mark.netns, pytest.mark.babeld]


@pytest.fixture
def netns():
    name = f"l3rt-tb-p{os.getpid() % 10000:04d}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "add", "m-r2", "type", "veth", "peer", "name", "m-peer"], check=True)
        subprocess.run(["ip", "-n", name, "link", "set", "m-r2", "up"], check=True)
        yield name
    finally:
        delete_netns(name)


def test_start_answer_on_the_socket_and_stop_cleanly(netns, tmp_path):
    files = process.BabeldFiles(tmp_path / "b")
    conf = render_checked(BabelSettings(router_id="02:00:00:00:0a:ff:00:09",
                                        interfaces=(InterfaceSettings("m-r2"),),
                                        own_prefixes=("10.255.0.9/32",), local_path=str(files.socket)))
    pid = process.start(files, conf, netns=netns)
    try:
        assert process.pid_alive(pid)
        with pytest.raises(ExternalToolError, match="already running"):
            process.start(files, conf, netns=netns)
        with BabelControl(files.socket) as ctl:
            assert ctl.header["my-id"] == "02:00:00:00:0a:ff:00:09"
            assert ctl.header["version"].startswith("babeld-")
    finally:
        assert process.stop(files)
    assert not process.pid_alive(pid)
    assert not files.pid.exists() and not files.socket.exists()
    assert process.stop(files) is False  # stopping twice is harmless


def test_a_config_babeld_rejects_is_reported_in_its_own_words(netns, tmp_path):
    files = process.BabeldFiles(tmp_path / "b")
    with pytest.raises(ExternalToolError, match="Couldn't parse configuration"):
        process.start(files, "redistribute bogus\n", netns=netns)
    assert subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout == ""
