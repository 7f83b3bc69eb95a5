"""Metrics: `gankit.metrics.toy` for point clouds, `gankit.metrics.classifier` for MNIST-like images,
`gankit.metrics.features` for your own images, and `METRICS`,
the one list of what they report: each metric's name, its floor (or a share's ceiling), whether lower is better and
how it is shown. The evaluators' records, the report's table and charts, the training curves, a sweep's table and
a run's best evaluation all read it; a key an evaluator writes is a registered metric, a metric's floor, or a
metric's standard error `<name>_se` (tests/test_toy_metrics.py checks every evaluator against it).
"""

from __future__ import annotations

from dataclasses import dataclass

from gankit.registry import Registry


@dataclass(frozen=True)
class Metric:
    """What a metric says and how it is shown.

    `floor`: the key of its reference value (W1 between two real samples; the share of the data's own samples for
    a share); `lower_is_better`; `curve`: the title of its panel over training (None: not drawn);
    `ranks_runs`: it is a run's own measure of quality, which picks the best evaluation (the first registered of
    these that a run logs); `summarised`: a sweep's table gives its mean and interval over seeds; `label`: its name
    in a sentence ("" : the key itself).
    """

    description: str
    floor: str | None = None
    lower_is_better: bool = True
    curve: str | None = None
    ranks_runs: bool = False
    summarised: bool = True
    label: str = ""


METRICS: Registry[Metric] = Registry("metric")
for name, metric in {
    # points
    "w1": Metric("Wasserstein-1 distance to fresh real points", floor="w1_floor", curve="Wasserstein-1 distance"),
    "w1_ratio": Metric(
        "W1 / floor (1 = as close as another real sample)", ranks_runs=True, summarised=False, label="W1 / floor"
    ),
    "mmd": Metric("squared MMD"),
    "radial_error": Metric("mean | ||x|| - 1 |"),
    "modes": Metric("modes covered", lower_is_better=False),
    "high_quality": Metric(
        "share of samples within 3 sigma of a mode (ceiling: the data's own)",
        floor="high_quality_ceiling",
        lower_is_better=False,
    ),
    "reverse_kl": Metric("KL(modes of the high-quality samples || uniform)"),
    "tails": Metric("share between 3 and 6 sigma of its mode: modes too wide"),
    "bridges": Metric("share beyond 6 sigma of every mode: mass between the modes"),
    "spread_ratio": Metric("median spread of a mode, sigma_G / sigma (1 = the data's)"),
    "mode_spreads": Metric("each mode's spread, sigma_G / sigma", summarised=False),
    "hist_kl": Metric("KL(real || generated) between histograms on a 30 x 30 grid, bits"),
    "hist_js": Metric("JS between histograms on a 30 x 30 grid, bits"),
    # images
    "fd": Metric(
        "Fréchet distance in the classifier's features",
        floor="fd_floor",
        curve="Fréchet distance",
        ranks_runs=True,
        label="FD",
    ),
    "fd_random": Metric(
        "Fréchet distance in a fixed random network's features (your own images)",
        floor="fd_random_floor",
        curve="Fréchet distance (random features)",
        ranks_runs=True,
        label="FD (random features)",
    ),
    "classifier_score": Metric("classifier score (Inception Score with the MNIST classifier)", lower_is_better=False),
    "label_accuracy": Metric("label accuracy of conditional samples", lower_is_better=False),
    "coverage_min": Metric("the smallest share of a digit among the samples", lower_is_better=False),
    "class_shares": Metric("each digit's share of the samples", summarised=False),
    # how a sampler drew them (gankit.samplers)
    "acceptance": Metric("share of G's samples the sampler kept", lower_is_better=False),
    "sampling_seconds": Metric("seconds the sampler took"),
}.items():
    METRICS.add(name, metric)


def label(name: str) -> str:
    """A metric's name in a sentence: "FD", "W1 / floor"; the key itself where it has none."""
    return METRICS[name].label or name if name in METRICS else name


FLOORS = tuple(m.floor for _, m in METRICS.items() if m.floor)  # keys of reference values, not metrics
RANKING = tuple(name for name, m in METRICS.items() if m.ranks_runs)  # a run's own measure of quality, in order
CURVES = {name: m.curve for name, m in METRICS.items() if m.curve}  # drawn over training, with their floors
NOT_SUMMARISED = (*FLOORS, *(name for name, m in METRICS.items() if not m.summarised))
