"""The one table `make bench` prints: every measurement is a `Row`, added by whichever
bench module measured it (a new bench adds rows, never its own print format)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: what was measured, the figure, and how it compares."""

    what: str
    value: str
    ratio: str = ""  # against the row it is judged by, e.g. "1.23x bare"
    target: str = ""  # the goal, e.g. ">= 1.0x bare"
    note: str = ""


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def render(self) -> str:
        header = Row("measurement", "value", "ratio", "target", "note")
        lines = [header, *self.rows]
        widths = [
            max(len(getattr(row, name)) for row in lines)
            for name in ("what", "value", "ratio", "target")
        ]
        out = [self.title]
        for i, row in enumerate(lines):
            cells = [row.what, row.value, row.ratio, row.target]
            text = " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
            out.append(f"| {text} | {row.note} |".replace("|  |", "| |"))
            if i == 0:
                out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
        return "\n".join(out)
