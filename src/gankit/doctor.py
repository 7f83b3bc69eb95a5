"""What went wrong in a training, in plain words: what is seen (with the numbers), why, and what to try.

`diagnose` reads a run's records (its metrics log) and returns its findings: D overpowering G, G's gradient
vanishing under a saturating loss, mode collapse, oscillation, no progress, divergence, and a run that ended
worse than its best. `Doctor` is the same reading done while a run trains: at each log line and evaluation
it returns the findings that are new (a kind not found before, or about something else now: another digit).
The thresholds are the constants below, and docs/guide/doctor.md says how often they fire on healthy runs.

Advice names settings that differ from the run's own (a lower learning rate says what it is now), and never
tells a student to drop the loss they wrote: it says how to write it so that it stays finite.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from gankit.data import DATASETS
from gankit.losses import LOSSES, Loss, config_name
from gankit.metrics import METRICS, RANKING, label
from gankit.registry import CUSTOM
from gankit.runfolder import best_record

# D(G(z)) under this, as the mean of D's probabilities on the fakes, is D rejecting nearly every fake.
D_FAKE_LOW = 0.1
LOW_LOGS = 3  # ... over this many log lines in a row ("for a while")
D_GAP = 0.3  # D(x) - D(G(z)) over this in each of those lines: D tells real from fake (healthy runs: under 0.2)
WORSE = 1.5  # quality this many times its best (W1 / floor, FD: lower is better) is worse than the best
COLLAPSE_SHARE = 0.5  # toy modes: at most this share of the modes covered, or of the most covered before
# 2-D toy data without modes: G's samples miss nearly every cell of the data's histogram (hist_kl in bits);
# all samples on one point of the circle score 6.7, a healthy run's first evaluation under 4 (docs/guide/doctor.md)
HIST_KL_HIGH = 6.0
# MNIST: a digit in under 2% of the samples (10% each when none is missing) at the last two evaluations, not
# rising, that either had CLASS_SHARE_HAD at an earlier evaluation where no digit held CLASS_SHARE_MOST (a collapse
# from coverage), or sits beside a digit whose hold of CLASS_SHARE_MOST or more has only grown over the last three
# evaluations (a collapse onto a few that stays). A G still learning is not told: the MNIST GAN's first
# evaluations draw mostly 1s, a share that comes and goes (docs/guide/doctor.md).
CLASS_SHARE_LOW, CLASS_SHARE_HAD, CLASS_SHARE_MOST = 0.02, 0.05, 0.5
CLASS_SHARE_RISING = 0.005  # a rare digit's share up by this much from one evaluation to the next: still learning
LABEL_ACCURACY_LOW = 0.5  # a conditional G whose samples are the digit asked for less often than this ...
LABEL_ACCURACY_RISING = 0.02  # ... at the last two evaluations, without rising by this much
SWING = 2.0  # oscillation: the quality moving by this factor between evaluations ...
SWINGS = 3  # ... this many times in a row, each the other way (up, down, up), within the last SWING_EVALS
SWING_EVALS = 6
STALL_EVALS = 4  # no progress: the last this many evaluations did not go below the best before them ...
STALL_FAR = 3.0  # ... while the best is still this many times the floor (W1 / floor, FD / its floor)

KINDS = (
    "d_overpowers",
    "vanishing_gradient",
    "mode_collapse",
    "oscillation",
    "no_progress",
    "divergence",
    "ended_worse",
)


@dataclass(frozen=True)
class Finding:
    """What the doctor saw at `step`: `kind` (one of KINDS), and three parts of one line: what is `seen` with
    the numbers, `why` it happens, and what to try (`try_`, settings that differ from the run's own).
    `subject`: what it is about where a kind can be about several things (a digit), else ''."""

    step: int
    kind: str
    seen: str
    why: str
    try_: str
    subject: str = ""

    @property
    def text(self) -> str:
        return f"{self.seen}; {self.why}; try {self.try_}"

    def event(self) -> dict[str, Any]:
        """The line of the metrics log that records it."""
        return {"event": "finding", "kind": self.kind, "step": self.step, "text": self.text}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Finding:
        seen, rest = event["text"].split("; ", 1)
        why, _, try_ = rest.rpartition("; try ")
        return cls(event["step"], event["kind"], seen, why, try_)

    def __str__(self) -> str:
        return f"step {self.step:,}, {self.kind}: {self.text}"


def _number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _lower_learning_rates(config: Any) -> str:
    if config.lr_g == config.lr_d:
        return f"lr_g=lr_d={config.lr_g / 2:g} (now {config.lr_g:g})"
    return f"lr_g={config.lr_g / 2:g}, lr_d={config.lr_d / 2:g} (now {config.lr_g:g}, {config.lr_d:g})"


def _smooth_d(config: Any) -> list[str]:
    """A penalty that keeps D smooth, unless the run has one."""
    if config.r1_gamma or config.gp_lambda or config.d_norm != "none":
        return []
    return ["r1_gamma=1 (a penalty on D's gradients at real points, which keeps D smooth)"]


def _slower_d(config: Any) -> list[str]:
    """Settings that let G keep up with D: a D learning rate no higher than G's, one D step per G step."""
    lr_d = min(config.lr_g, config.lr_d / 2)
    advice = [f"lr_d={lr_d:g} (now {config.lr_d:g}; lr_g is {config.lr_g:g})"]
    if config.d_steps > 1:
        advice.append(f"d_steps=1 (now {config.d_steps})")
    return advice + _smooth_d(config)


def _other_loss(config: Any, loss: Loss | None) -> list[str]:
    """The non-saturating loss, for a registered loss other than it; never instead of the user's own."""
    name = config_name(loss) if loss is not None else config.loss
    return [] if name in (CUSTOM, "nonsaturating") else [f"loss=nonsaturating (now {name})"]


def divergence_advice(config: Any, loss: Loss | None) -> list[str]:
    """Settings to try after a divergence, each different from the run's own."""
    advice = [_lower_learning_rates(config)]
    if config.beta1 != 0.5:
        advice.append(f"beta1=0.5 (now {config.beta1:g})")
    return advice + _smooth_d(config) + _other_loss(config, loss)


def divergence_finding(
    step: int,
    stats: dict[str, float] | None,
    *,
    config: Any,
    loss: Loss | None,
    outputs_probability: bool,
    checkpoint: str,
) -> Finding:
    """What became non-finite first (`stats`: the statistics of the first step whose losses were not
    finite, or None when only the weights were), why it may have, and what to try."""
    losses = {} if stats is None else {"D's loss": stats["loss_d"], "G's loss": stats["loss_g"]}
    broken = [name for name, value in losses.items() if not math.isfinite(value)]
    if broken:
        seen = f"{' and '.join(broken)} became {', '.join(_number(losses[n]) for n in broken)}"
        others = [f"{name} {_number(value)}" for name, value in losses.items() if name not in broken]
        seen += f" first ({others[0]})" if others else ""
    else:
        seen = "a weight of G or D became NaN or infinite while both losses were finite"
    penalties = [
        f"{field}={getattr(config, field):g}"
        for field in ("gp_lambda", "r1_gamma", "r2_gamma")
        if getattr(config, field)
    ]
    why = []
    if "D's loss" in broken and penalties:
        why.append(f"D's loss includes its penalties ({', '.join(penalties)})")
    own = loss is not None and config_name(loss) == CUSTOM
    if own and broken and outputs_probability and getattr(loss, "on", "outputs") == "outputs":
        why.append(
            "it is your own loss of D's probabilities: gankit computes torch.log(p), torch.log(1 - p), "
            "torch.log1p(-p) and binary cross-entropy from D's logits, so a log(0) or 0/0 came from another "
            "form (a log of p plus a constant, a division by p); write the logs as torch.log(p) and torch.log(1 - p)"
        )
    elif own and broken:
        why.append("it is your own loss: check it for a log of 0, a division by 0 or an exp that overflows")
    else:
        why.append("the updates grew too large for the game to stay stable")
    return Finding(
        step,
        "divergence",
        f"training diverged at step {step}: {seen}",
        f"{'; '.join(why)}; {checkpoint}",
        ", ".join(divergence_advice(config, loss)),
    )


def divergence(step: int, stats: dict[str, float] | None, **context: Any) -> str:
    """`divergence_finding` as the one line that TrainingDiverged says."""
    return divergence_finding(step, stats, **context).text


# ----- reading the records -----
def _logs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if "d_fake" in r and "event" not in r]


def _quality(records: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]] | None:
    """The run's own measure of quality (the first of gankit.metrics.RANKING logged) and the evaluations that
    have it."""
    metric = next((m for m in RANKING if any(m in r for r in records)), None)
    if metric is None:
        return None
    evals = [r for r in records if isinstance(r.get(metric), (int, float)) and "event" not in r]
    return (metric, evals) if evals else None


def _far(metric: str, record: dict[str, Any]) -> float:
    """How many times the floor a quality value is (W1 / floor, which has none, is one already)."""
    if METRICS[metric].floor is None:
        return record[metric]
    floor = record.get(METRICS[metric].floor)
    return record[metric] / floor if isinstance(floor, (int, float)) and floor > 0 else math.inf


def ended_worse(records: list[dict[str, Any]]) -> Finding | None:
    """A finding when the run's last evaluation is WORSE times its best or more (by the run's own metric),
    naming the best step and how to get it back; None otherwise."""
    best = best_record(records)
    if best is None:
        return None
    metric = next(m for m in RANKING if m in best)
    last = next(r for r in reversed(records) if isinstance(r.get(metric), (int, float)))
    # Ratios to a positive best only (an FD estimate near 0 can be negative); NaN counts as worse.
    if last is best or not best[metric] > 0 or not last[metric] >= WORSE * best[metric]:
        return None
    return Finding(
        last["step"],
        "ended_worse",
        f"the run ended at {label(metric)} {_number(last[metric])} (step {last['step']:,}), worse than its best "
        f"{_number(best[metric])} at step {best['step']:,}",
        "the game drifted away from its best point (often D overtaking G); that step is kept: run.best() "
        "(gankit plot --best)",
        f"steps={best['step']} (now {last['step']})",
    )


def _d_fake_low(records: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The last LOW_LOGS log lines when D(G(z)) was under D_FAKE_LOW in each, else None."""
    last = _logs(records)[-LOW_LOGS:]
    return last if len(last) == LOW_LOGS and all(r["d_fake"] < D_FAKE_LOW for r in last) else None


def _mean(records: list[dict[str, Any]], key: str) -> float:
    return sum(r[key] for r in records) / len(records)


def _vanishing(records, config, loss, saturates) -> Finding | None:
    low = _d_fake_low(records) if saturates else None
    if low is None:
        return None
    return Finding(
        low[-1]["step"],
        "vanishing_gradient",
        f"D(G(z)) has stayed near 0 ({_number(_mean(low, 'd_fake'))} over the last {len(low)} log lines, to step "
        f"{low[-1]['step']:,}) under a saturating G loss",
        "where D rejects the fakes, a saturating G loss (log(1 - D(G(z)))) is flat: its gradient shrinks with "
        "D(G(z)) itself, so G hardly moves while D keeps winning",
        ", ".join(_slower_d(config) + _other_loss(config, loss)),
    )


def _overpowers(records, config, quality) -> Finding | None:
    """D tells real from fake (D(G(z)) near 0, or far under D(x)) while the quality is worse than its best
    or stuck."""
    last_logs = _logs(records)[-LOW_LOGS:]
    apart = len(last_logs) == LOW_LOGS and all(
        r["d_fake"] < D_FAKE_LOW or r["d_real"] - r["d_fake"] > D_GAP for r in last_logs
    )
    if not apart or quality is None:
        return None
    metric, evals = quality
    best, last = min(evals, key=lambda r: r[metric]), evals[-1]
    worse = last[metric] >= WORSE * best[metric]
    if not (worse or _no_progress(config, quality)):
        return None
    state = f"rose to {_number(last[metric])} (step {last['step']:,}) from" if worse else "has not improved on"
    return Finding(
        max(last_logs[-1]["step"], last["step"]),
        "d_overpowers",
        f"D(G(z)) is {_number(_mean(last_logs, 'd_fake'))} against D(x) {_number(_mean(last_logs, 'd_real'))} over "
        f"the last {len(last_logs)} log lines while {label(metric)} {state} its best {_number(best[metric])} at step "
        f"{best['step']:,}",
        "D learns faster than G can follow: it rejects every generated point, and G chases D's latest boundary "
        "instead of the data",
        ", ".join(_slower_d(config)),
    )


def _mode_count(dataset: str) -> int | None:
    """How many modes a registered mixture (ring, grid) has; None for other data."""
    if dataset not in DATASETS:
        return None
    centres = DATASETS[dataset].mode_centres
    return len(centres()) if centres is not None else None


def _collapse(records, config) -> Finding | None:
    modes = [r for r in records if isinstance(r.get("modes"), int)]
    advice = ", ".join(_slower_d(config))
    why = "G found a few outputs that D accepts and maps most z there, and D chases them instead of teaching G the rest"
    if modes:
        most, last = max(modes, key=lambda r: r["modes"]), modes[-1]
        total = _mode_count(config.dataset)
        few = len(modes) >= 2 and total is not None and all(r["modes"] <= COLLAPSE_SHARE * total for r in modes[-2:])
        fallen = last["modes"] <= COLLAPSE_SHARE * most["modes"] and most["modes"] - last["modes"] >= 2
        if few or fallen:
            return Finding(
                last["step"],
                "mode_collapse",
                f"G covers {last['modes']}{f' of {total}' if total else ''} modes at step {last['step']:,}"
                + (
                    f", down from {most['modes']} at step {most['step']:,}"
                    if fallen
                    else " (also the evaluation before)"
                ),
                why,
                advice,
            )
    spread = [r for r in records if isinstance(r.get("hist_kl"), (int, float)) and "modes" not in r]
    if len(spread) >= 2 and all(r["hist_kl"] >= HIST_KL_HIGH for r in spread[-2:]):
        last = spread[-1]
        return Finding(
            last["step"],
            "mode_collapse",
            f"G's samples miss nearly all of the data: KL(data || samples) over a 30 x 30 grid is "
            f"{_number(last['hist_kl'])} bits at step {last['step']:,} (at least {HIST_KL_HIGH:g} at the last two "
            "evaluations, as a single point does)",
            why,
            advice,
        )
    shares = [r["class_shares"] for r in records if isinstance(r.get("class_shares"), list) and r["class_shares"]]
    rare = _collapsed_classes(shares)
    if rare:
        last = next(r for r in reversed(records) if isinstance(r.get("class_shares"), list) and r["class_shares"])
        digit = min(rare, key=lambda i: last["class_shares"][i])
        return Finding(
            last["step"],
            "mode_collapse",
            f"digit{'s' if len(rare) > 1 else ''} {', '.join(map(str, rare))} "
            f"{'are' if len(rare) > 1 else 'is'} under {CLASS_SHARE_LOW:.0%} of the samples at the last two "
            f"evaluations (digit {digit}: {last['class_shares'][digit]:.1%} at step {last['step']:,}, 10% each "
            "when none is missing)",
            why,
            advice,
            subject=",".join(map(str, rare)),
        )
    accuracy = [r for r in records if isinstance(r.get("label_accuracy"), (int, float))]
    if (
        len(accuracy) >= 2
        and all(r["label_accuracy"] < LABEL_ACCURACY_LOW for r in accuracy[-2:])
        and accuracy[-1]["label_accuracy"] - accuracy[-2]["label_accuracy"] < LABEL_ACCURACY_RISING
    ):
        last = accuracy[-1]
        return Finding(
            last["step"],
            "mode_collapse",
            f"only {last['label_accuracy']:.0%} of the samples are the digit G was asked for at step "
            f"{last['step']:,} (under {LABEL_ACCURACY_LOW:.0%} at the last two evaluations)",
            "G ignores its label input and draws the digits it finds easiest, whatever it is asked for",
            advice,
            subject="labels",
        )
    return None


def _collapsed_classes(shares: list[list[float]]) -> list[int]:
    """The classes that collapsed, from each evaluation's class shares: rare at the last two evaluations and not
    rising, after a share of their own while G covered the classes, or beside a class whose hold of most samples has
    only grown over three evaluations."""
    if len(shares) < 2:
        return []
    previous, last = shares[-2], shares[-1]
    crowding = [max(share) for share in shares[-3:]]
    crowded = (
        len(crowding) == 3
        and min(crowding) >= CLASS_SHARE_MOST
        and all(b >= a - CLASS_SHARE_RISING for a, b in itertools.pairwise(crowding))
    )
    covering = [share for share in shares[:-2] if max(share) < CLASS_SHARE_MOST]
    return [
        k
        for k in range(len(last))
        if previous[k] < CLASS_SHARE_LOW
        and last[k] < CLASS_SHARE_LOW
        and last[k] - previous[k] < CLASS_SHARE_RISING
        and (crowded or any(share[k] >= CLASS_SHARE_HAD for share in covering))
    ]


def _oscillation(config, quality) -> Finding | None:
    if quality is None:
        return None
    metric, evals = quality
    values = [r[metric] for r in evals[-SWING_EVALS:]]
    moves = [b / a for a, b in itertools.pairwise(values) if a > 0 and b > 0]
    # The large moves' directions (True: up); the longest stretch that turns back each time. A run that drops
    # fast twice has not swung back between the drops.
    swings = stretch = 0
    previous = None
    for up in [m >= SWING for m in moves if m >= SWING or m <= 1 / SWING]:
        stretch = stretch + 1 if up != previous else 1
        swings, previous = max(swings, stretch), up
    if swings < SWINGS:
        return None
    last = evals[-1]
    return Finding(
        last["step"],
        "oscillation",
        f"{label(metric)} swung up and down by {SWING:g}x or more {swings} times in a row over the last "
        f"{len(values)} evaluations ({', '.join(_number(v) for v in values)}, to step {last['step']:,})",
        "G and D keep overshooting each other: each update moves the game past its balance point and back",
        ", ".join([_lower_learning_rates(config)] + ([] if config.ema else ["ema=0.999 (now 0)"]) + _smooth_d(config)),
    )


def _no_progress(config, quality) -> Finding | None:
    if quality is None:
        return None
    metric, evals = quality
    if len(evals) < 2 * STALL_EVALS:
        return None
    before = min(evals[:-STALL_EVALS], key=lambda r: r[metric])
    recent = min(evals[-STALL_EVALS:], key=lambda r: r[metric])
    if recent[metric] < before[metric] or _far(metric, before) < STALL_FAR:
        return None
    last = evals[-1]
    return Finding(
        last["step"],
        "no_progress",
        f"{label(metric)} has not improved over the last {STALL_EVALS} evaluations (best {_number(before[metric])} at "
        f"step {before['step']:,}, {_number(recent[metric])} since, to step {last['step']:,}), "
        f"{_number(_far(metric, before))} times the floor",
        "the game is stuck: G's updates no longer bring its samples closer to the data",
        ", ".join([f"lr_g={config.lr_g * 2:g} (now {config.lr_g:g})", *_slower_d(config)]),
    )


def _ended(records: list[dict[str, Any]]) -> bool:
    """Whether the records end with the end of training (an 'end' event after the last step logged)."""
    last = max((r["step"] for r in records if "event" not in r and "step" in r), default=None)
    return any(r.get("event") == "end" and last is not None and r["step"] >= last for r in records)


def examine(records: list[dict[str, Any]], config: Any, loss: Loss | None = None) -> list[Finding]:
    """The findings that hold for `records` now (the metrics log so far), of the run of `config` and `loss`."""
    quality = _quality(records)
    known = loss
    if known is None and config.loss in LOSSES:
        known = LOSSES[config.loss]
    saturates = known is not None and known.saturates()
    critic = known is not None and known.needs_critic  # D's sigmoid says nothing of a critic's unbounded scores
    vanishing = None if critic else _vanishing(records, config, loss, saturates)
    overpowers = None if critic or vanishing is not None else _overpowers(records, config, quality)
    found = [vanishing, overpowers, _collapse(records, config), _oscillation(config, quality)]
    if not any(found):  # a run that is stuck for one of the reasons above is told that reason
        found.append(_no_progress(config, quality))
    found += [Finding.from_event(r) for r in records if r.get("event") == "finding" and r.get("kind") == "divergence"]
    found += [_diverged(r, config, loss) for r in records if r.get("event") == "diverged"]
    found.append(ended_worse(records) if _ended(records) else None)
    return [f for f in found if f is not None]


def _diverged(event: dict[str, Any], config: Any, loss: Loss | None) -> Finding:
    """A member of a sweep that diverged (its log says at which step, not which value)."""
    return Finding(
        event["step"],
        "divergence",
        f"training diverged by step {event['step']:,}: a loss or weight became NaN or infinite",
        "the updates grew too large for the game to stay stable",
        ", ".join(divergence_advice(config, loss)),
    )


class Doctor:
    """Watches a run's records as they grow: `check(records)` returns the findings not returned before (a kind
    found for the first time, or about something else now)."""

    def __init__(self, config: Any, loss: Loss | None = None):
        self.config, self.loss = config, loss
        self.shown: dict[str, str] = {}  # kind -> subject of the last finding of it returned

    def check(self, records: list[dict[str, Any]]) -> list[Finding]:
        new = [f for f in examine(records, self.config, self.loss) if self.shown.get(f.kind) != f.subject]
        for finding in new:
            self.shown[finding.kind] = finding.subject
        return new

    def replay(self, records: list[dict[str, Any]]) -> list[Finding]:
        """The findings of `records` as a Doctor watching them from the start would have returned them."""
        found = []
        for end, record in enumerate(records, start=1):
            if record.get("event") not in (None, "end", "diverged") and record.get("kind") != "divergence":
                continue
            found += self.check(records[:end])
        return found


def diagnose(records: list[dict[str, Any]], config: Any, loss: Loss | None = None) -> list[Finding]:
    """The findings of a run's whole log, each at the step it was first found."""
    return Doctor(config, loss).replay(records)
