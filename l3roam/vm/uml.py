"""Boot a user-mode Linux guest (Debian's ``user-mode-linux``) that runs one l3roam command.

Why user-mode Linux: it is a stock Debian kernel (6.1, with batman-adv,
netem, veth, bridges and namespaces as modules) that runs as an ordinary host
process, so it needs no hardware virtualisation; it boots to the command in
about 2 s and runs Python at the host's speed.  Its limits (one CPU; no
nftables ``ip``/``inet`` families; no SRv6 lightweight tunnels) are handled
by the callers and stated in docs/vm.md.

The guest sees the host's ``/`` read-only, so the repository, the installed
package and every tool are the host's own; results go to host directories
mounted writable at the same paths (``l3roam.vm.script``).

Side effects: starts the guest process (and its helpers, one process group),
writes a control directory under /tmp.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from l3roam.errors import ExternalToolError, VmUnavailable
from l3roam.vm.script import BEGIN, END, init_script

UML_BINARY = "linux.uml"
UML_MODULES = Path("/usr/lib/uml/modules")
DEBIAN_PACKAGE = "user-mode-linux"
#: Environment variables handed to the guest's command (everything else is reset).
PASS_ENV = ("PATH", "PYTHONPATH", "HOME", "LANG", "LC_ALL", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")
#: Set inside the guest: what it is (for the report's environment line) and the host kernel.
ENV_VM = "L3ROAM_VM"
ENV_HOST_KERNEL = "L3ROAM_VM_HOST_KERNEL"
DEFAULT_MEM = "3G"


@dataclass(frozen=True)
class Uml:
    binary: str
    modules: Path  # /usr/lib/uml/modules/<release>
    package_version: str

    @property
    def release(self) -> str:
        return self.modules.name

    @property
    def description(self) -> str:
        return f"user-mode Linux {self.release} (Debian {DEBIAN_PACKAGE} {self.package_version}), 1 CPU"


def in_vm() -> bool:
    return bool(os.environ.get(ENV_VM))


def find_uml() -> Uml:
    """The installed user-mode Linux kernel and its modules; VmUnavailable names the package."""
    binary = shutil.which(UML_BINARY) or ("/usr/bin/" + UML_BINARY if Path("/usr/bin/" + UML_BINARY).exists() else None)
    releases = sorted(p for p in UML_MODULES.glob("*") if p.is_dir()) if UML_MODULES.is_dir() else []
    if binary is None or not releases:
        raise VmUnavailable(
            f"user-mode Linux is not installed ({UML_BINARY} or {UML_MODULES}/<version> missing): "
            f"install the Debian package '{DEBIAN_PACKAGE}' (apt-get install {DEBIAN_PACKAGE} batctl), "
            f"or run scripts/setup.sh, which installs it")
    version = "?"
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", DEBIAN_PACKAGE], capture_output=True, text=True)
        version = out.stdout.strip() or "?"
    except OSError:
        pass
    return Uml(binary, releases[-1], version)


def guest_env(uml: Uml, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("L3ROAM_")})
    env.setdefault("HOME", "/root")
    env[ENV_VM] = uml.description
    env[ENV_HOST_KERNEL] = os.uname().release
    env.update(extra or {})
    return env


REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout this package runs from
GUEST_TMPFS = ("/tmp", "/run")


def shadowed_by_guest_tmpfs(paths: Sequence[str]) -> list[str]:
    """Those of ``paths`` under a directory the guest covers with tmpfs, outermost first, no nesting."""
    hidden = sorted({str(Path(p).resolve()) for p in paths
                     if any(Path(p).resolve().is_relative_to(t) for t in GUEST_TMPFS)}, key=len)
    out: list[str] = []
    for p in hidden:
        if not any(Path(p).is_relative_to(o) for o in out):
            out.append(p)
    return out


def run(argv: Sequence[str], writable: Sequence[str | Path] = (), cwd: str | None = None,
        mem: str | None = None, say: Callable[[str], None] | None = None,
        extra_env: dict[str, str] | None = None) -> int:
    """Run ``argv`` in a fresh guest; its output is passed to ``say`` line by line; its exit status."""
    uml = find_uml()
    say = say or (lambda line: print(line, flush=True))
    dirs = []
    for d in writable:
        p = Path(d).resolve()
        p.mkdir(parents=True, exist_ok=True)
        dirs.append(str(p))
    # the guest mounts fresh tmpfs on /tmp and /run: a checkout or working directory there
    # (a CI clone, a test's tmp_path) would vanish, so it is mounted back at its own path
    dirs += [d for d in shadowed_by_guest_tmpfs([cwd or os.getcwd(), str(REPO_ROOT)]) if d not in dirs]
    control = Path(tempfile.mkdtemp(prefix="l3roam-vm-"))
    try:
        script = control / "init.sh"
        script.write_text(init_script(list(argv), cwd or os.getcwd(), guest_env(uml, extra_env), str(uml.modules.parent),
                                      dirs, str(control)))
        script.chmod(0o755)
        cmdline = [uml.binary, f"mem={mem or os.environ.get('L3ROAM_VM_MEM', DEFAULT_MEM)}", "root=/dev/root",
                   "rootfstype=hostfs", "rootflags=/", "ro", f"init={script}", "con=null", "con0=fd:0,fd:1",
                   f"uml_dir={control}", f"umid=l3roam-{os.getpid()}", "quiet"]
        tail: deque[str] = deque(maxlen=40)
        t0 = time.monotonic()
        proc = subprocess.Popen(cmdline, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", start_new_session=True)
        inside = False
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip("\r\n")
                if line == BEGIN:
                    inside = True
                    say(f"[vm] {uml.description} booted in {time.monotonic() - t0:.1f} s")
                    continue
                if line == END:
                    inside = False
                    continue
                if inside:
                    say(line)
                else:
                    tail.append(line)
            proc.wait()
        except BaseException:
            _kill(proc)
            raise
        status = control / "status"
        if not status.exists():
            raise ExternalToolError("the user-mode Linux guest stopped before its command finished; "
                                    "its console ended with:\n  " + "\n  ".join(tail))
        return int(status.read_text().strip() or 1)
    finally:
        shutil.rmtree(control, ignore_errors=True)


def _kill(proc: subprocess.Popen) -> None:
    """Stop the guest: its process group (the kernel and its helper processes) we started."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def self_argv(args: Sequence[str]) -> list[str]:
    """This Python running ``l3roam`` with ``args``."""
    return [sys.executable, "-m", "l3roam", *args]
