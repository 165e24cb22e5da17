"""Daemon metrics, exposed in the Prometheus text format by prometheus_client.

Daemons count on their hot path in plain dicts (``inc`` is a dict update);
``prometheus_client`` turns them into the exposition format at scrape time,
so number formatting (no precision lost: 1234567 is ``1.234567e+06``, as Go
prints it), label-value escaping (``\\``, ``"``, newline) and HELP escaping
are the library's, not ours.

Threads: the scrape runs in the HTTP server's thread
(``l3roam.metrics_http``).  Counters and histograms are copied there (a dict
or list copy is atomic under the GIL).  Gauges are callables that read the
daemon's own state, which only the daemon's thread may touch: ``sample()``
evaluates them in the daemon loop, and a scrape asks the loop for a fresh
sample through ``sampler`` (see ``MetricsServer``), waiting at most a second
and falling back to the last one.  Without a sampler (a test, ``render()`` in
the daemon's own thread) the gauges are evaluated in place.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from typing import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)

Labels = tuple[tuple[str, str], ...]


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
        self.counters: dict[str, defaultdict[Labels, float]] = {}
        self.gauges: dict[str, Callable[[], object]] = {}  # name -> {labels: value} or a number
        self.histograms: dict[str, Histogram] = {}
        self.help: dict[str, str] = {}
        self.sampler: Callable[[float], bool] | None = None  # set by MetricsServer
        self.loop_thread: int | None = None  # the daemon's thread (MetricsServer)
        self._sample: dict[str, object] = {}
        self._sampled = threading.Event()
        self.collector_registry = CollectorRegistry(auto_describe=False)
        self.collector_registry.register(self)  # type: ignore[arg-type]  # collect() below

    # ---- the daemon's side (its own thread) ------------------------------------
    def counter(self, name: str, help_text: str) -> defaultdict:
        self.help[name] = help_text
        return self.counters.setdefault(name, defaultdict(float))

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items())) if len(labels) > 1 else tuple(labels.items())
        self.counters[name][key] += amount

    def value(self, name: str, **labels: str) -> float:
        return self.counters[name].get(tuple(sorted(labels.items())), 0.0)

    def gauge(self, name: str, help_text: str, fn: Callable[[], object]) -> None:
        self.help[name] = help_text
        self.gauges[name] = fn

    def histogram(self, name: str, help_text: str) -> Histogram:
        self.help[name] = help_text
        return self.histograms.setdefault(name, Histogram())

    def sample(self) -> None:
        """Evaluate every gauge (call in the daemon's thread); a waiting scrape goes on."""
        self._sample = {name: fn() for name, fn in list(self.gauges.items())}
        self._sampled.set()

    def render(self) -> str:
        """The exposition text (prometheus_client's ``generate_latest``)."""
        return generate_latest(self.collector_registry).decode()

    # ---- the scrape's side (any thread) ---------------------------------------------
    def _fresh_gauges(self) -> dict[str, object]:
        if self.sampler is None or threading.get_ident() == self.loop_thread:
            self.sample()
        else:
            self._sampled.clear()
            if self.sampler(1.0):  # wakes the loop, which calls sample()
                self._sampled.wait(1.0)
        return self._sample

    def collect(self):
        """prometheus_client's collector protocol: one Metric per family."""
        p = self.prefix
        for name, series in sorted(list(self.counters.items())):
            base = name[:-6] if name.endswith("_total") else name
            m = Metric(f"{p}_{base}", self.help.get(name, name), "counter")
            for labels, v in sorted(dict(series).items()):
                m.add_sample(f"{p}_{base}_total", dict(labels), float(v))
            yield m
        gauges = self._fresh_gauges()
        for name in sorted(self.gauges):
            m = Metric(f"{p}_{name}", self.help.get(name, name), "gauge")
            val = gauges.get(name)
            if isinstance(val, dict):
                for labels, v in sorted(val.items()):
                    m.add_sample(f"{p}_{name}", dict(labels), float(v))
            elif val is not None:
                m.add_sample(f"{p}_{name}", {}, float(val))  # type: ignore[arg-type]
            yield m
        for name, h in sorted(list(self.histograms.items())):
            counts, total = list(h.counts), h.total
            m = Metric(f"{p}_{name}", self.help.get(name, name), "histogram")
            acc = 0
            for b, c in zip(h.buckets, counts):
                acc += c
                m.add_sample(f"{p}_{name}_bucket", {"le": _le(b)}, float(acc))
            acc += counts[-1]
            m.add_sample(f"{p}_{name}_bucket", {"le": "+Inf"}, float(acc))
            m.add_sample(f"{p}_{name}_sum", {}, total)
            m.add_sample(f"{p}_{name}_count", {}, float(acc))
            yield m


def _le(bound: float) -> str:
    return repr(float(bound))
