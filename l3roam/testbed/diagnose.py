"""Why a testbed did not converge, in a few lines (pure: takes texts and figures, returns text).

Inputs the builder collects (l3roam.testbed.convergence): the loopbacks each
router still lacks, the kernel log since the build began (/dev/kmsg), the
machine's CPU use while waiting, and every babeld's log.  Known causes it
names:

- the kernel's neighbour table overflowed (``neighbour: ndisc_cache:
  neighbor table overflow!``; ``arp_cache`` for IPv4): the table's limits
  are global, shared by all namespaces (``net.ipv6.neigh.default.gc_thresh3``);
- the CPU was saturated (babel timers too fast for the mesh size);
- babeld reported errors (``send: Invalid argument`` is what a full neighbour
  table looks like from babeld).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_OVERFLOW = re.compile(r"neighbour: (\w+): neighbor table overflow")
_SUPPRESSED = re.compile(r"(\d+) callbacks suppressed")
_TABLE_NAME = {"ndisc_cache": "IPv6 (ndisc_cache, net.ipv6.neigh.default.gc_thresh3)",
               "arp_cache": "IPv4 (arp_cache, net.ipv4.neigh.default.gc_thresh3)"}
#: babeld log lines that are not errors
_BENIGN = ("Warning: couldn't find router id", "Couldn't determine channel")


@dataclass(frozen=True)
class Cause:
    kind: str  # neigh_overflow | cpu_saturated | babeld_errors | kernel
    text: str


@dataclass
class Diagnosis:
    routers: int
    lacking: dict[str, int]  # router -> loopbacks it has no route to
    causes: list[Cause] = field(default_factory=list)
    timeout: float = 0.0

    @property
    def missing_routes(self) -> int:
        return sum(self.lacking.values())

    def summary(self, worst: int = 5) -> str:
        lines = [f"babel did not converge in {self.timeout:g} s: {len(self.lacking)} of {self.routers} routers "
                 f"lack {self.missing_routes} routes to loopbacks"]
        if self.lacking:
            top = sorted(self.lacking.items(), key=lambda kv: (-kv[1], _natural(kv[0])))[:worst]
            lines.append("  worst: " + ", ".join(f"{r} lacks {n}" for r, n in top))
            blind = [r for r, n in self.lacking.items() if n >= self.routers - 1]
            if blind:
                lines.append(f"  {len(blind)} router(s) have no babel route at all: "
                             + ", ".join(sorted(blind, key=_natural)[:worst]) + ("..." if len(blind) > worst else ""))
        if self.causes:
            lines += [f"  cause: {c.text}" for c in self.causes]
        else:
            lines.append("  no known cause detected (kernel log, CPU, babeld logs clean): "
                         "try a longer converge_timeout or slower babel timers")
        return "\n".join(lines)


def _natural(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def lacking_counts(missing: dict[str, set[str]]) -> dict[str, int]:
    return {r: len(m) for r, m in missing.items() if m}


def kernel_log_causes(text: str) -> list[Cause]:
    """Known trouble in kernel log text (``dmesg`` lines or /dev/kmsg records)."""
    overflow: Counter[str] = Counter()
    suppressed = 0
    last_table = None
    for line in text.splitlines():
        m = _OVERFLOW.search(line)
        if m:
            overflow[m.group(1)] += 1
            last_table = m.group(1)
            continue
        s = _SUPPRESSED.search(line)
        if s and last_table is not None and ("net_ratelimit" in line or "neighbour" in line):
            suppressed += int(s.group(1))
    causes = []
    for table, n in overflow.most_common():
        name = _TABLE_NAME.get(table, table)
        extra = f" (+{suppressed} suppressed)" if suppressed and table == last_table else ""
        causes.append(Cause("neigh_overflow",
                            f"kernel neighbour table overflow: {name}, {n} message(s){extra} in the kernel log; "
                            "the limit is global to all namespaces, raise gc_thresh1/2/3 (the testbed does this "
                            "unless host_limits: false)"))
    return causes


def cpu_cause(busy_fraction: float, load1: float, cores: int) -> list[Cause]:
    """A saturated CPU while waiting: more than 90 % busy, or a load of more than 4 per core."""
    if busy_fraction > 0.9 or load1 > 4 * cores:
        return [Cause("cpu_saturated", f"CPU saturated while waiting: {busy_fraction * 100:.0f} % busy on "
                                       f"{cores} core(s), load {load1:.1f}; use slower babel timers "
                                       "(babel.hello_interval / update_interval) or a smaller mesh")]
    return []


def babeld_errors(logs: dict[str, str], top: int = 3) -> list[Cause]:
    """Error lines in babeld logs, grouped by message (numbers stripped), with the routers most affected."""
    by_msg: Counter[str] = Counter()
    where: dict[str, Counter[str]] = {}
    for router, text in logs.items():
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(_BENIGN):
                continue
            msg = re.sub(r"\d+", "N", line)[:80]
            by_msg[msg] += 1
            where.setdefault(msg, Counter())[router] += 1
    causes = []
    for msg, n in by_msg.most_common(top):
        worst = ", ".join(f"{r} {c}" for r, c in where[msg].most_common(3))
        causes.append(Cause("babeld_errors", f"babeld logged {msg!r} {n} times on {len(where[msg])} router(s) "
                                             f"(most: {worst})"))
    return causes
