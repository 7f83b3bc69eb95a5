"""What gankit says when training goes wrong: the numbers it saw, why, and settings that differ from the run's."""

from __future__ import annotations

import gankit
from gankit import doctor
from gankit.config import TrainConfig


def test_a_run_that_ends_far_worse_than_its_best_is_told_so_with_the_step():
    records = [
        {"step": 100, "loss_d": 1.3},
        {"step": 500, "w1_ratio": 1.44},
        {"step": 1000, "w1_ratio": 4.5},
    ]
    line = doctor.ended_worse(records)
    assert "W1 / floor 4.5 (step 1,000)" in line and "best 1.44 at step 500" in line and "run.best()" in line
    assert "steps=500 (now 1000)" in line


def test_a_run_near_its_best_or_not_evaluated_is_not_told_anything():
    assert doctor.ended_worse([{"step": 10, "w1_ratio": 1.2}, {"step": 20, "w1_ratio": 1.6}]) is None
    assert doctor.ended_worse([{"step": 10, "loss_d": 1.0}]) is None
    assert doctor.ended_worse([{"step": 10, "fd": 0.5}, {"step": 20, "fd": -0.03}]) is None  # a best of about 0
    assert doctor.ended_worse([{"step": 10, "fd": -0.03}, {"step": 20, "fd": 5.0}]) is None
    assert "FD 40 (step 20)" in doctor.ended_worse([{"step": 10, "fd": 20.0}, {"step": 20, "fd": 40.0}])


def test_divergence_advice_differs_from_the_runs_settings():
    config = TrainConfig(dataset="circle", lr_g=1e-3, lr_d=1e-3, beta1=0.5, loss="hinge")
    advice = doctor.divergence_advice(config, gankit.LOSSES["hinge"])
    assert advice[0] == "lr_g=lr_d=0.0005 (now 0.001)"
    assert not any(a.startswith("beta1=0.5") for a in advice)  # it is already 0.5
    assert "loss=nonsaturating (now hinge)" in advice
    own = gankit.Loss(discriminator=lambda r, f: f.mean(), generator=lambda f: f.mean())
    assert not any("loss=" in a for a in doctor.divergence_advice(config.replace(loss="custom"), own))


def test_divergence_names_the_users_loss_of_probabilities_and_the_value_that_broke_first():
    own = gankit.Loss(discriminator=lambda r, f: f.mean(), generator=lambda f: f.mean())
    line = doctor.divergence(
        12,
        {"loss_d": float("nan"), "loss_g": 0.5},
        config=TrainConfig(dataset="circle", loss="custom"),
        loss=own,
        outputs_probability=True,
        checkpoint="no checkpoint was written yet",
    )
    assert line.startswith("training diverged at step 12: D's loss became nan first (G's loss 0.5)")
    assert "torch.log(p) and torch.log(1 - p)" in line and "try lr_g=lr_d=" in line
    weights = doctor.divergence(
        3, None, config=TrainConfig(), loss=None, outputs_probability=False, checkpoint="no checkpoint"
    )
    assert "a weight of G or D became NaN or infinite while both losses were finite" in weights
