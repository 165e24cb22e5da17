"""Counters and histograms rendered in the Prometheus text format (pure).

Tiny on purpose: daemons count in dicts on their hot path and render on
demand.  ``render`` follows the text exposition format 0.0.4.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class Histogram:
    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1


class Registry:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.counters: dict[str, defaultdict[tuple[tuple[str, str], ...], float]] = {}
        self.gauges: dict[str, object] = {}  # name -> callable returning {labels: value} or a number
        self.histograms: dict[str, Histogram] = {}
        self.help: dict[str, str] = {}

    def counter(self, name: str, help_text: str) -> defaultdict:
        self.help[name] = help_text
        return self.counters.setdefault(name, defaultdict(float))

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items())) if len(labels) > 1 else tuple(labels.items())
        self.counters[name][key] += amount

    def value(self, name: str, **labels: str) -> float:
        return self.counters[name].get(tuple(sorted(labels.items())), 0.0)

    def gauge(self, name: str, help_text: str, fn) -> None:
        self.help[name] = help_text
        self.gauges[name] = fn

    def histogram(self, name: str, help_text: str) -> Histogram:
        self.help[name] = help_text
        return self.histograms.setdefault(name, Histogram())

    def render(self) -> str:
        lines: list[str] = []
        p = self.prefix

        def labels(items) -> str:
            if not items:
                return ""
            inner = ",".join(f'{k}="{v}"' for k, v in items)
            return "{" + inner + "}"

        for name, series in sorted(self.counters.items()):
            lines += [f"# HELP {p}_{name} {self.help[name]}", f"# TYPE {p}_{name} counter"]
            for lab, v in sorted(series.items()):
                lines.append(f"{p}_{name}{labels(lab)} {v:g}")
        for name, fn in sorted(self.gauges.items()):
            lines += [f"# HELP {p}_{name} {self.help[name]}", f"# TYPE {p}_{name} gauge"]
            val = fn()  # type: ignore[operator]
            if isinstance(val, dict):
                for lab, v in sorted(val.items()):
                    lines.append(f"{p}_{name}{labels(lab)} {v:g}")
            else:
                lines.append(f"{p}_{name} {val:g}")
        for name, h in sorted(self.histograms.items()):
            lines += [f"# HELP {p}_{name} {self.help[name]}", f"# TYPE {p}_{name} histogram"]
            acc = 0
            for b, c in zip(h.buckets, h.counts):
                acc += c
                lines.append(f'{p}_{name}_bucket{{le="{b:g}"}} {acc}')
            lines.append(f'{p}_{name}_bucket{{le="+Inf"}} {h.n}')
            lines.append(f"{p}_{name}_sum {h.total:g}")
            lines.append(f"{p}_{name}_count {h.n}")
        return "\n".join(lines) + "\n"
