"""The cost runs' roam load: moves at a fixed rate for a window (l3roam.experiment.costs)."""

from l3roam.experiment import costs


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += max(0.0, s)
        self.slept += max(0.0, s)


def test_moves_come_at_the_rate_in_order_for_the_window(monkeypatch):
    clock = FakeTime()
    monkeypatch.setattr(costs, "time", clock)
    calls: list[tuple[int, float]] = []
    n = costs.paced_moves(20.0, 1.0, lambda k: calls.append((k, clock.now)))
    assert n == 20 == len(calls)
    assert [k for k, _ in calls] == list(range(20))
    assert [round(t - 100.0, 6) for _, t in calls] == [round(k / 20.0, 6) for k in range(20)]


def test_without_a_mover_it_only_waits_the_window(monkeypatch):
    clock = FakeTime()
    monkeypatch.setattr(costs, "time", clock)
    assert costs.paced_moves(20.0, 2.5, None) == 0 and clock.slept == 2.5
