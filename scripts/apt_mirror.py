#!/usr/bin/env python3
"""Print the Debian mirror this machine's apt already uses, for scripts/setup.sh.

Reads /etc/apt/sources.list, sources.list.d/*.list (one-line format) and
sources.list.d/*.sources (deb822) and prints the URI of the first enabled
``deb`` source for the given suite (e.g. bookworm) with component ``main``;
failing that, one for <suite>-updates.  Security archives are not mirrors of
the main archive and are skipped.  Exit 1, with a message, when none is found.

    python3 scripts/apt_mirror.py bookworm [ROOT]
"""

from __future__ import annotations

import sys
from pathlib import Path


def one_line_entries(text: str) -> list[dict]:
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        kind, rest = tokens[0], tokens[1:]
        if rest and rest[0].startswith("["):  # [arch=amd64 signed-by=...]
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) < 2:
            continue
        out.append({"types": [kind], "uris": [rest[0]], "suites": [rest[1]], "components": rest[2:]})
    return out


def deb822_entries(text: str) -> list[dict]:
    out = []
    stanzas: list[list[str]] = [[]]
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            stanzas.append([])
        else:
            stanzas[-1].append(raw)
    for lines in stanzas:
        fields: dict[str, str] = {}
        key = None
        for line in lines:
            if line[0] in " \t" and key:  # continuation (e.g. an inline Signed-By key)
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if not fields or fields.get("enabled", "yes").lower() == "no":
            continue
        out.append({k: fields.get(k, "").split() for k in ("types", "uris", "suites", "components")})
    return out


def entries(root: Path) -> list[dict]:
    apt = root / "etc" / "apt"
    found = []
    files = [apt / "sources.list"] + sorted((apt / "sources.list.d").glob("*"))
    for f in files:
        try:
            text = f.read_text()
        except (OSError, UnicodeDecodeError):
            continue
        if f.name.endswith(".list"):
            found += one_line_entries(text)
        elif f.name.endswith(".sources"):
            found += deb822_entries(text)
    return found


def mirror(suite: str, root: Path = Path("/")) -> str | None:
    all_entries = entries(root)
    for wanted in (suite, f"{suite}-updates"):
        for e in all_entries:
            if "deb" in e["types"] and wanted in e["suites"] and "main" in e["components"]:
                for uri in e["uris"]:
                    if "security" not in uri:
                        return uri
    return None


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    root = Path(argv[2]) if len(argv) > 2 else Path("/")
    uri = mirror(argv[1], root)
    if uri is None:
        print(f"apt_mirror.py: no enabled 'deb' source for {argv[1]} (component main) in "
              f"{root / 'etc/apt'}; set L3ROAM_DEBIAN_MIRROR to the Debian mirror to use", file=sys.stderr)
        return 1
    print(uri)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
