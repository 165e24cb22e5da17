"""The external programs the application probes drive, and the Debian package of each.

A missing one is a clear error naming what to install (scripts/setup.sh
installs them all).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from l3roam.errors import ExternalToolError

#: program (or file) -> Debian package that provides it
PACKAGES = {
    "nginx": "nginx",
    "ngx_rtmp_module": "libnginx-mod-rtmp",
    "ffmpeg": "ffmpeg",
    "sipp": "sip-tester",
    "curl": "curl",
    "tcpdump": "tcpdump",
    "conntrack": "conntrack",
    "nft": "nftables",
    "ss": "iproute2",
}
RTMP_MODULE_DIRS = (Path("/usr/lib/nginx/modules"), Path("/usr/lib64/nginx/modules"), Path("/usr/share/nginx/modules"))


def rtmp_module() -> Path:
    """Path of nginx's RTMP module (``ngx_rtmp_module.so``)."""
    for d in RTMP_MODULE_DIRS:
        p = d / "ngx_rtmp_module.so"
        if p.exists():
            return p
    raise ExternalToolError("nginx's RTMP module (ngx_rtmp_module.so) is missing: "
                            "install the Debian package libnginx-mod-rtmp (scripts/setup.sh does)")


def require(*programs: str) -> dict[str, str]:
    """Paths of ``programs``; one error naming every missing program and its package."""
    found, missing = {}, []
    for prog in programs:
        if prog == "ngx_rtmp_module":
            try:
                found[prog] = str(rtmp_module())
            except ExternalToolError:
                missing.append(prog)
            continue
        path = shutil.which(prog) or shutil.which(prog, path="/usr/sbin:/sbin:/usr/bin:/bin")
        if path is None:
            missing.append(prog)
        else:
            found[prog] = path
    if missing:
        pkgs = sorted({PACKAGES.get(m, m) for m in missing})
        raise ExternalToolError(
            f"missing for the application probes: {', '.join(missing)}; install the Debian package(s) "
            f"{' '.join(pkgs)} (apt-get install {' '.join(pkgs)}; scripts/setup.sh does)")
    return found
