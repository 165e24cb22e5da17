#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine, as root.
# Installs the system tools l3roam drives (babeld >= 1.12.2 from a pinned
# Debian 13 source, iproute2, DHCP clients, nftables, tcpdump, etcd) and the Python
# package with its test extras.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: must run as root (it installs Debian packages)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
want_babeld() {
    command -v babeld >/dev/null 2>&1 || return 0
    # babeld -V prints e.g. "babeld-1.13.1"
    local v
    v=$(babeld -V 2>&1 | sed -n 's/.*babeld-\([0-9.]*\).*/\1/p' | head -n1)
    python3 - "$v" <<'PY' || return 0
import sys
v = tuple(int(x) for x in sys.argv[1].split(".") if x.isdigit())
sys.exit(0 if v >= (1, 12, 2) else 1)
PY
    return 1
}

# Debian 12's babeld 1.12.1 withdraws the wrong prefix (fixed in 1.12.2); take
# babeld from Debian 13, pinned so that nothing else is upgraded from it.
# The mirror is the one this machine's apt already uses (a local mirror or a
# proxy keeps working); L3ROAM_DEBIAN_MIRROR overrides it.
codename=$(. /etc/os-release; echo "${VERSION_CODENAME:-}")
if [ "$codename" = bookworm ] && [ ! -f /etc/apt/sources.list.d/l3roam-trixie.sources ]; then
    mirror=${L3ROAM_DEBIAN_MIRROR:-$(python3 scripts/apt_mirror.py "$codename")}
    cat > /etc/apt/sources.list.d/l3roam-trixie.sources <<SRC
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    cat > /etc/apt/preferences.d/l3roam-trixie <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100

Package: babeld libb2-1
Pin: release n=trixie
Pin-Priority: 990
PIN
fi

pkgs=(iproute2 udhcpc isc-dhcp-client nftables tcpdump iputils-ping procps psmisc kmod dnsmasq-base
      systemd  # systemd: systemd-analyze verify checks the shipped units (tests)
      nginx libnginx-mod-rtmp ffmpeg sip-tester curl conntrack  # the application probes (l3roam.apps)
      etcd-server  # etcd: the replicated store of the master (tests run three members)
      user-mode-linux batctl busybox)  # the VM: l3roam.vm, docs/vm.md
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || want_babeld; then
    # Installing nginx would start it on port 80 of this machine; the testbed starts its own in a
    # namespace. A policy-rc.d that refuses service starts is in place for the install only.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" babeld >/dev/null
fi
babeld -V 2>&1 | head -n1

# A Debian system Python may lack pip, and marks itself externally managed
# (PEP 668); the package goes into it anyway, as root, like the tools above.
if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
fi
pip_flags=(-q --disable-pip-version-check)
if python3 -c 'import sys, sysconfig, os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
    pip_flags+=(--break-system-packages)
fi
python3 -m pip install "${pip_flags[@]}" -e '.[test,report]'
