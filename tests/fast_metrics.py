"""A stand-in for the toy metrics in tests that need their shape, not their values: W1 with its repeated
draws takes seconds per evaluation, which tiny runs would spend mostly there."""

from __future__ import annotations

import importlib

import numpy as np


class FastToyEvaluator:
    """The keys of gankit's toy metrics, from a cheap distance between the means and spreads."""

    needs = 1000
    floor = 0.05

    def __init__(self, dataset):
        self.reference = dataset.fresh(1000, 12345)

    def evaluate(self, generated: np.ndarray) -> dict[str, float]:
        gap = float(np.abs(generated.mean(0) - self.reference.mean(0)).sum())
        gap += float(np.abs(generated.std(0) - self.reference.std(0)).sum())
        return {"w1": gap, "w1_floor": self.floor, "w1_ratio": gap / self.floor}


def use_fast_metrics(monkeypatch) -> None:
    """Single runs, Run.evaluate and sweeps all get the stand-in."""
    for name in ("gankit.run", "gankit.sweep"):  # the modules (gankit.sweep is also the function's name)
        monkeypatch.setattr(
            importlib.import_module(name), "make_evaluator", lambda c, dataset: FastToyEvaluator(dataset)
        )


def assert_registered(record: dict) -> None:
    """Every key of an evaluator's record is a registered metric (gankit.metrics.METRICS), a metric's floor, or
    the standard error `<key>_se` of either."""
    from gankit.metrics import FLOORS, METRICS

    known = {*METRICS, *FLOORS}
    unknown = [key for key in record if key not in known and key.removesuffix("_se") not in known]
    assert not unknown, f"keys no metric registers: {unknown}"
