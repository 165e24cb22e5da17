"""The per-roam table and summary."""

from l3roam.measure.analysis import RoamStats
from l3roam.measure.table import format_table, summary


def stats(i, gap, lost):
    return RoamStats(i, 0.0, (0.0, 1.0), 100, lost, 0, 0, gap, None)


def test_table_columns_and_summary():
    roams = [stats(1, 150.0, 14), stats(2, 20.0, 1), stats(3, 310.4, 30)]
    text = format_table(roams, [("r1", "r3"), ("r3", "r5"), ("r5", "r1")], {"tcp": ["yes", "yes", "no"]})
    lines = text.splitlines()
    assert lines[0].split() == ["roam", "move", "gap", "ms", "lost", "dup", "reord", "tcp"]
    assert lines[3].split() == ["3", "r5->r1", "310", "30", "0", "0", "no"]
    assert summary(roams) == "3 roams: gap min/median/max 20/150/310 ms, 45 packets lost"
    assert summary([]) == "no roams"
