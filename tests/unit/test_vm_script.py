"""The user-mode Linux guest's init script (pure) and the missing-package error."""

import pytest

from l3roam.errors import VmUnavailable
from l3roam.vm import script, uml


def test_init_script_mounts_writable_dirs_loads_modules_and_records_status():
    text = script.init_script(["/usr/bin/python3", "-m", "l3roam", "experiment", "a b.yaml"], "/repo",
                              {"PATH": "/usr/bin", "L3ROAM_VM": "uml"}, "/usr/lib/uml/modules",
                              ["/tmp/out dir"], "/tmp/ctl")
    lines = text.splitlines()
    assert lines[0] == "#!/bin/sh"
    assert "mount -t hostfs -o '/tmp/out dir' hostfs '/tmp/out dir'" in lines
    assert "mount -t hostfs -o /tmp/ctl hostfs /tmp/ctl" in lines
    assert f"mount -t hostfs -o /usr/lib/uml/modules hostfs {script.MOD_ROOT}/lib/modules" in lines
    assert f"echo {script.WRAPPER_DIR}/modprobe > /proc/sys/kernel/modprobe" in lines
    assert f"{script.WRAPPER_DIR}/modprobe ipv6" in lines
    run = next(l for l in lines if l.startswith("env -i "))
    assert f"PATH={script.WRAPPER_DIR}:/usr/bin" in run and "L3ROAM_VM=uml" in run
    assert run.endswith("experiment 'a b.yaml' </dev/null 2>&1")
    # the command runs between the markers, its status lands in the control directory, then power off
    i = lines.index(run)
    assert lines[i - 1] == f"echo '{script.BEGIN}'" and lines[i + 2] == f"echo '{script.END}'"
    assert "echo $rc > /tmp/ctl/status" in lines
    assert lines[-1].startswith("busybox poweroff -f")


def test_missing_user_mode_linux_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(uml, "UML_BINARY", "no-such-linux.uml")
    monkeypatch.setattr(uml, "UML_MODULES", tmp_path / "none")
    with pytest.raises(VmUnavailable, match="user-mode-linux"):
        uml.find_uml()


def test_a_checkout_under_the_guests_tmpfs_is_mounted_back_once():
    from l3roam.vm.uml import shadowed_by_guest_tmpfs

    # a CI clone in /tmp and a working directory inside it: one mount, the outer one; /srv is visible as is
    assert shadowed_by_guest_tmpfs(["/tmp/ci-clone/tests", "/tmp/ci-clone", "/srv/l3roam"]) == ["/tmp/ci-clone"]
    assert shadowed_by_guest_tmpfs(["/srv/l3roam"]) == []
