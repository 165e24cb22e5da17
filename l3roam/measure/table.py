"""Text table of per-roam figures, and the summary line (pure)."""

from __future__ import annotations

import statistics

from l3roam.measure.analysis import RoamStats


def format_table(roams: list[RoamStats], moves: list[tuple[str, str]] | None = None,
                 extra: dict[str, list[str]] | None = None) -> str:
    """``moves``: (from AP, to AP) per roam; ``extra``: more columns (e.g. TCP alive, address)."""
    head = ["roam", "move", "gap ms", "lost", "dup", "reord"] + list(extra or {})
    rows = []
    for i, r in enumerate(roams):
        move = f"{moves[i][0]}->{moves[i][1]}" if moves else ""
        row = [str(r.index), move, f"{r.gap_ms:.0f}", str(r.lost), str(r.duplicates), str(r.reordered)]
        row += [col[i] for col in (extra or {}).values()]
        rows.append(row)
    widths = [max(len(h), *(len(row[k]) for row in rows)) if rows else len(h) for k, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def summary(roams: list[RoamStats]) -> str:
    if not roams:
        return "no roams"
    gaps = sorted(r.gap_ms for r in roams)
    return (f"{len(roams)} roams: gap min/median/max {gaps[0]:.0f}/{statistics.median(gaps):.0f}/"
            f"{gaps[-1]:.0f} ms, {sum(r.lost for r in roams)} packets lost")
