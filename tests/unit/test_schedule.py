"""Roaming schedules."""

import pytest

from l3roam.testbed.schedule import plan_moves

APS = ("r1", "r3", "r5")


def test_every_cycles_through_aps_at_fixed_interval():
    moves = plan_moves("every", "c1", APS, "r1", 4, 2.5)
    assert [(m.at, m.src, m.dst) for m in moves] == [
        (2.5, "r1", "r3"), (5.0, "r3", "r5"), (7.5, "r5", "r1"), (10.0, "r1", "r3")]


def test_random_walk_never_stays_and_is_reproducible():
    a = plan_moves("random", "c1", APS, "r3", 30, 1, seed=5)
    assert a == plan_moves("random", "c1", APS, "r3", 30, 1, seed=5)
    assert all(m.src != m.dst for m in a)
    assert all(prev.dst == nxt.src for prev, nxt in zip(a, a[1:]))
    assert {m.dst for m in a} == set(APS)


def test_path_skips_non_moves():
    moves = plan_moves("path", "c1", APS, "r1", 0, 1, path=("r1", "r5", "r5", "r3"))
    assert [(m.src, m.dst) for m in moves] == [("r1", "r5"), ("r5", "r3")]


@pytest.mark.parametrize("kwargs", [dict(kind="every", aps=("r1",)), dict(kind="teleport"),
                                    dict(kind="path", path=("r9",))])
def test_impossible_schedules(kwargs):
    args = dict(kind="every", client="c1", aps=APS, start_ap="r1", count=3, interval=1.0)
    args.update(kwargs)
    with pytest.raises(ValueError):
        plan_moves(**args)


def test_shifted_phases_stay_within_one_spacing_in_order_and_repeat_with_the_seed():
    from l3roam.testbed.schedule import shift_phases

    moves = plan_moves("random", "c1", ["r1", "r3", "r5"], "r1", 200, 1.5, seed=3)
    a = shift_phases(moves, 0.01, seed=7)
    assert [(m.src, m.dst) for m in a] == [(m.src, m.dst) for m in moves]
    offsets = [x.at - m.at for x, m in zip(a, moves)]
    assert all(0 <= o < 0.01 for o in offsets)
    assert max(offsets) - min(offsets) > 0.008  # spread over the interval, not one phase
    assert shift_phases(moves, 0.01, seed=7) == a and shift_phases(moves, 0.01, seed=8) != a
