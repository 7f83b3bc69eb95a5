"""Tables as a notebook and a terminal show them: HTML (the report page, a notebook's rich output) and aligned text.

`Table` is a list of row dicts (a sweep's `table` and `rows`) and `Metrics` a dict of metric -> value (what
`Run.evaluate()` returns); both stay the plain list and dict that code indexes, serialises and compares, and a
notebook shows them as tables rather than one long line of braces.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any


def number(value: Any) -> str:
    """A cell's text: integers with thousands separators, floats to 4 significant digits, anything else as is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return "nan" if not math.isfinite(value) else f"{value:.4g}"


def html_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(number(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def text_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Columns aligned with spaces: text left, numbers right."""
    cells = [[str(h) for h in header]] + [[number(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(isinstance(row[i], (int, float)) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(c.rjust(w) if right else c.ljust(w) for c, w, right in zip(row, widths, numeric)).rstrip()
        for row in cells
    ]
    return "\n".join(lines)


class Table(list):
    """Rows (dicts) that a notebook shows as an HTML table, with one column per key in the order first seen."""

    def columns(self) -> list[str]:
        return list(dict.fromkeys(key for row in self for key in row))

    def _cells(self) -> list[list[Any]]:
        return [[row.get(key, "") for key in self.columns()] for row in self]

    def _repr_html_(self) -> str:
        return html_table(self._cells(), self.columns())

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("[...]" if cycle else str(self))

    def __str__(self) -> str:
        return text_table(self._cells(), self.columns())


class Metrics(dict):
    """Metric -> value, shown in a notebook as a two-column table."""

    def _repr_html_(self) -> str:
        return html_table(list(self.items()), ["metric", "value"])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("{...}" if cycle else str(self))

    def __str__(self) -> str:
        return text_table(list(self.items()), ["metric", "value"])
