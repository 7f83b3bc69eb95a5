"""The live view: while a run trains in a notebook, one figure redrawn in place in the cell's output.

The figure is the lab view (D's heatmap, G's manifold, the push of G's loss, real and generated
points) with the loss and W1 curves so far; for images, the grid of the same 100 draws of z. The
training loop calls the view every `every` steps (`TrainingLoop(watch=...)`); by default a due redraw
is skipped while drawing has taken more than LIVE_BUDGET of the time since training started, so that the
view never costs more than about that share of the training time however fast the steps are (the
measured cost is on docs/benchmarks.md). In a terminal there is no live view.
"""

from __future__ import annotations

import time
from typing import Any

from gankit.errors import bad_value
from gankit.figures import lab_figure
from gankit.notebook import Display, in_notebook
from gankit.plots import figure_to_png
from gankit.views import Sources, snapshot

LIVE_EVERY = 200  # steps between redraws by default (at most: see LIVE_BUDGET)
LIVE_BUDGET = 0.05  # the share of the training time that drawing may take by default
LIVE_DPI = 72  # a screen's resolution: a third of the pixels of a saved figure, drawn faster


class LiveView:
    """Draws the views of `sources` with the curves of `records` (the loop's list, which grows) into one
    notebook output. `budget`: the share of the time drawing may take (None: draw at every call)."""

    def __init__(
        self,
        sources: Sources,
        records: list[dict[str, Any]],
        *,
        every: int = LIVE_EVERY,
        budget: float | None = LIVE_BUDGET,
        display: Any = None,
    ):
        self.sources, self.records, self.every, self.budget = sources, records, every, budget
        self.display = display if display is not None else Display()
        self.started = time.perf_counter()
        self.drawing = 0.0  # seconds spent drawing so far
        self.draws = 0
        self.notes: list[str] = []  # lines under the figure: the doctor's findings
        self.notes_display: Any = None  # made at the first note after the figure, so that it shows below it

    def __call__(self, game: Any) -> None:
        """A redraw that is due every `every` steps; skipped while drawing is over its budget."""
        if self.budget is not None and self.drawing > self.budget * (time.perf_counter() - self.started):
            return
        self.draw(game)

    def draw(self, game: Any) -> None:
        """Redraw now, at the game's step."""
        begun = time.perf_counter()
        figure = lab_figure(snapshot(self.sources, game.step), self.records)
        self.display.show(figure_to_png(figure, dpi=LIVE_DPI, tight=False))
        self.drawing += time.perf_counter() - begun
        self.draws += 1
        if self.notes and self.notes_display is None:
            self._show_notes()

    def note(self, text: str) -> None:
        """A line under the figure (shown once the figure is), below the earlier ones."""
        self.notes.append(f"gankit: {text}")
        if self.draws:
            self._show_notes()

    def _show_notes(self) -> None:
        if self.notes_display is None:
            self.notes_display = Display()
        self.notes_display.show("\n".join(self.notes))


def live_view(sources: Sources, records: list[dict[str, Any]], live: bool | int | None) -> LiveView | None:
    """The live view that `train(live=...)` asks for: None (the default) in a notebook only, every LIVE_EVERY
    steps within LIVE_BUDGET; N: every N steps exactly; False: none. A terminal never gets one."""
    if live is not None and not isinstance(live, bool) and not (isinstance(live, int) and live >= 0):
        raise bad_value("live", live, "None (in a notebook, every 200 steps within 5% of the time), False, or N steps")
    if live is False or live == 0 or not in_notebook():
        return None
    if live is None or live is True:
        return LiveView(sources, records, every=LIVE_EVERY, budget=LIVE_BUDGET)
    return LiveView(sources, records, every=live, budget=None)
