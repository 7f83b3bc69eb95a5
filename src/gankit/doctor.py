"""What went wrong in a training, in plain words: what is seen (with the numbers), why, and what to try.

Advice names settings that differ from the run's own (a lower learning rate says what it is now), and never
tells a student to drop the loss they wrote: it says how to write it so that it stays finite.
"""

from __future__ import annotations

import math
from typing import Any

from gankit.losses import Loss, config_name
from gankit.registry import CUSTOM
from gankit.runfolder import BEST_METRICS, best_record


def _number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _lower_learning_rates(config: Any) -> str:
    if config.lr_g == config.lr_d:
        return f"lr_g=lr_d={config.lr_g / 2:g} (now {config.lr_g:g})"
    return f"lr_g={config.lr_g / 2:g}, lr_d={config.lr_d / 2:g} (now {config.lr_g:g}, {config.lr_d:g})"


def divergence_advice(config: Any, loss: Loss | None) -> list[str]:
    """Settings to try after a divergence, each different from the run's own."""
    advice = [_lower_learning_rates(config)]
    if config.beta1 != 0.5:
        advice.append(f"beta1=0.5 (now {config.beta1:g})")
    if not (config.r1_gamma or config.gp_lambda) and config.d_norm == "none":
        advice.append("r1_gamma=1 (a penalty on D's gradients at real points, which keeps D smooth)")
    if loss is not None and config_name(loss) not in (CUSTOM, "nonsaturating"):
        advice.append(f"loss=nonsaturating (now {config_name(loss)})")
    return advice


def divergence(
    step: int,
    stats: dict[str, float] | None,
    *,
    config: Any,
    loss: Loss | None,
    outputs_probability: bool,
    checkpoint: str,
) -> str:
    """One line: what became non-finite first (`stats`: the statistics of the first step whose losses were not
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
    return (
        f"training diverged at step {step}: {seen}; {'; '.join(why)}; {checkpoint}; "
        f"try {', '.join(divergence_advice(config, loss))}"
    )


ENDED_WORSE = 1.5  # a run whose last evaluation is this many times its best one is told so


def ended_worse(records: list[dict[str, Any]]) -> str | None:
    """One line when the run's last evaluation is ENDED_WORSE times its best or more (by the run's own metric),
    naming the best step and how to get it back; None otherwise."""
    best = best_record(records)
    if best is None:
        return None
    metric = next(m for m in BEST_METRICS if m in best)
    last = next(r for r in reversed(records) if isinstance(r.get(metric), (int, float)))
    # Ratios to a positive best only (an FD estimate near 0 can be negative); NaN counts as worse.
    if last is best or not best[metric] > 0 or not last[metric] >= ENDED_WORSE * best[metric]:
        return None
    name = "W1 / floor" if metric == "w1_ratio" else metric.upper()
    return (
        f"the run ended at {name} {_number(last[metric])} (step {last['step']:,}), worse than its best "
        f"{_number(best[metric])} at step {best['step']:,}; the game drifted away from its best point (often D "
        "overtaking G); that step is kept: run.best() (gankit plot --best), or train again with "
        f"steps={best['step']} (now {last['step']})"
    )
