"""What gankit says when training goes wrong: the numbers it saw, why, and settings that differ from the run's."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import gankit
from fast_metrics import use_fast_metrics
from gankit import doctor
from gankit.cli import main
from gankit.config import TrainConfig
from gankit.data.mnist import load_mnist
from gankit.models import MLPDiscriminator


def test_a_run_that_ends_far_worse_than_its_best_is_told_so_with_the_step():
    records = [
        {"step": 100, "loss_d": 1.3},
        {"step": 500, "w1_ratio": 1.44},
        {"step": 1000, "w1_ratio": 4.5},
    ]
    line = doctor.ended_worse(records).text
    assert "W1 / floor 4.5 (step 1,000)" in line and "best 1.44 at step 500" in line and "run.best()" in line
    assert "steps=500 (now 1000)" in line


def test_a_run_near_its_best_or_not_evaluated_is_not_told_anything():
    assert doctor.ended_worse([{"step": 10, "w1_ratio": 1.2}, {"step": 20, "w1_ratio": 1.6}]) is None
    assert doctor.ended_worse([{"step": 10, "loss_d": 1.0}]) is None
    assert doctor.ended_worse([{"step": 10, "fd": 0.5}, {"step": 20, "fd": -0.03}]) is None  # a best of about 0
    assert doctor.ended_worse([{"step": 10, "fd": -0.03}, {"step": 20, "fd": 5.0}]) is None
    assert "FD 40 (step 20)" in doctor.ended_worse([{"step": 10, "fd": 20.0}, {"step": 20, "fd": 40.0}]).seen


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


# ----- the doctor on records made on purpose: each condition, and its thresholds -----
TOY = TrainConfig(dataset="circle")


def _logs(d_fake: float, steps: range, d_real: float = 0.95) -> list[dict]:
    return [
        {"step": s, "loss_d": 0.2, "loss_g": 3.0, "d_real": d_real, "d_fake": d_fake, "seconds": 1.0} for s in steps
    ]


def _evals(values: list[float], every: int = 100, key: str = "w1_ratio", **more) -> list[dict]:
    return [{"step": every * (i + 1), key: v, **more} for i, v in enumerate(values)]


def _kinds(records: list[dict], config: TrainConfig = TOY, loss=None) -> list[str]:
    return [f.kind for f in doctor.diagnose(records, config, loss)]


def test_d_overpowering_g_is_told_with_d_of_the_fakes_and_the_best_step():
    records = _evals([3.0, 1.5, 2.0, 2.4]) + _logs(0.03, range(410, 440, 10))
    (finding,) = doctor.diagnose(records, TOY.replace(lr_d=0.02))
    assert finding.kind == "d_overpowers"
    assert finding.seen == (
        "D(G(z)) is 0.03 against D(x) 0.95 over the last 3 log lines while W1 / floor rose to 2.4 (step 400) "
        "from its best 1.5 at step 200"
    )
    assert "lr_d=0.002 (now 0.02; lr_g is 0.002)" in finding.try_  # differs from the run's own
    # D far ahead while the quality is stuck (and not near the floor) is told the same
    stuck = _evals([8.0, 6.0, 5.0, 5.2, 5.1, 5.3, 5.1, 5.0])
    stuck[7:7] = _logs(0.25, range(710, 740, 10), d_real=0.75)
    assert _kinds(stuck) == ["d_overpowers"]
    # D far ahead while the quality still improves, or D(G(z)) close to D(x): nothing
    assert _kinds(_evals([3.0, 2.0, 1.5]) + _logs(0.03, range(310, 340, 10))) == []
    assert _kinds(records[:4] + _logs(0.45, range(410, 440, 10), d_real=0.55)) == []
    # a critic's scores through a sigmoid say nothing: no finding for the wasserstein loss
    assert _kinds(records, TOY.replace(loss="wasserstein")) == []


def test_a_saturating_loss_whose_fakes_d_rejects_is_told_its_gradient_vanishes():
    records = _logs(0.5, range(100, 400, 100)) + _logs(0.02, range(400, 700, 100))
    (finding,) = doctor.diagnose(records, TOY.replace(loss="minimax"))
    assert finding.kind == "vanishing_gradient" and finding.step == 600
    assert "loss=nonsaturating (now minimax)" in finding.try_
    assert _kinds(records, TOY) == []  # the same numbers under the non-saturating loss: G still gets a gradient
    assert _kinds(records[:5], TOY.replace(loss="minimax")) == []  # two low lines are not yet "a while"
    own = gankit.Loss(
        discriminator=lambda r, f: -(r.log() + (1 - f).log()).mean(), generator=lambda f: (1 - f).log().mean()
    )
    (finding,) = doctor.diagnose(records, TOY.replace(loss="custom"), own)
    assert finding.kind == "vanishing_gradient" and "loss=" not in finding.try_  # never: drop your own loss


def test_mode_collapse_on_toy_modes_mnist_digits_and_conditional_labels():
    ring = TrainConfig(dataset="ring")
    covered = [{"step": 100 * (i + 1), "w1_ratio": 2.0, "modes": m} for i, m in enumerate([6, 8, 8, 3])]
    (finding,) = doctor.diagnose(covered, ring)
    assert finding.kind == "mode_collapse" and finding.step == 400
    assert finding.seen == "G covers 3 of 8 modes at step 400, down from 8 at step 200"
    assert _kinds(covered[:3], ring) == [] and _kinds([*covered[:3], {**covered[3], "modes": 5}], ring) == []
    # all samples on one point of the circle: nearly every cell of the data's histogram is empty
    assert _kinds(_evals([12.0, 12.0], hist_kl=6.7)) == ["mode_collapse"]
    assert _kinds(_evals([4.0, 2.0], hist_kl=3.6)) == []
    mnist = TrainConfig(dataset="mnist")
    shares = [0.1] * 9
    digits = [{"step": s, "fd": 20.0, "fd_floor": 1.0, "class_shares": [0.1, *shares]} for s in (100, 200)]
    digits += [{"step": s, "fd": 15.0, "fd_floor": 1.0, "class_shares": [0.005, *shares]} for s in (300, 400)]
    found = doctor.diagnose(digits, mnist)
    assert [(f.kind, f.step) for f in found] == [("mode_collapse", 400)] and "digit 0 is under 2%" in found[0].seen
    labels = [{"step": s, "fd": 15.0, "fd_floor": 1.0, "label_accuracy": a} for s, a in ((100, 0.9), (200, 0.3))]
    assert _kinds(labels, mnist) == [] and _kinds([*labels, {**labels[1], "step": 300}], mnist) == ["mode_collapse"]
    # a G still learning is not told: rare digits that rise, or that never had a share while none dominates;
    # labels followed more at each evaluation
    learning = [[0.002, *shares], [0.012, *shares]]
    never = [[0.004, 0.3, *shares[2:], 0.05], [0.004, 0.3, *shares[2:], 0.05]]
    for case in (learning, never):
        assert (
            _kinds(
                [{"step": 100 * (i + 1), "fd": 20.0, "fd_floor": 1.0, "class_shares": c} for i, c in enumerate(case)],
                mnist,
            )
            == []
        )
    one = [0.0] * 9 + [1.0]
    onto_one = [{"step": s, "fd": 90.0, "fd_floor": 1.0, "class_shares": one} for s in (100, 200, 300)]
    assert _kinds(onto_one[:2], mnist) == [] and _kinds(onto_one, mnist) == ["mode_collapse"]
    # the MNIST GAN's first evaluations: mostly 1s, a share that comes and goes; a digit drawn by an untrained G
    ones = [[0.0, share, 0.0, 1 - share, *[0.0] * 6] for share in (0.787, 0.761, 0.864)]
    assert (
        _kinds(
            [{"step": 100 * (i + 1), "fd": 500.0, "fd_floor": 1.0, "class_shares": c} for i, c in enumerate(ones)],
            mnist,
        )
        == []
    )
    ones = [[0.0, 0.86, 0.137, *[0.0] * 7], [0.1, 0.7, 0.001, 0.199, *[0.0] * 6], [0.1, 0.6, 0.003, 0.297, *[0.0] * 6]]
    assert (
        _kinds(
            [{"step": 100 * (i + 1), "fd": 500.0, "fd_floor": 1.0, "class_shares": c} for i, c in enumerate(ones)],
            mnist,
        )
        == []
    )
    rising = [
        {"step": s, "fd": 15.0, "fd_floor": 1.0, "label_accuracy": a} for s, a in ((100, 0.1), (200, 0.2), (300, 0.35))
    ]
    assert _kinds(rising, mnist) == []


def test_oscillation_and_no_progress_of_the_quality():
    swinging = _evals([4.0, 1.5, 4.0, 1.4, 3.5])
    assert _kinds(swinging) == ["oscillation"]
    (finding,) = doctor.diagnose(swinging, TOY)  # first found at the third swing
    assert finding.seen == (
        "W1 / floor swung up and down by 2x or more 3 times in a row over the last 4 evaluations (4, 1.5, 4, 1.4, to "
        "step 400)"
    )
    assert _kinds(_evals([4.0, 2.5, 4.0, 2.5, 3.5])) == []  # moves under SWING
    # a run that swings once early, then improves fast twice: the drops do not turn back (the lab's circle)
    assert _kinds(_evals([20.3, 14.6, 34.7, 11.5, 8.9, 11.4, 6.5, 1.75, 1.74])) == []
    stuck = _evals([8.0, 6.0, 5.0, 5.2, 5.1, 5.3, 5.1, 5.0])
    (finding,) = doctor.diagnose(stuck, TOY)
    assert finding.kind == "no_progress" and finding.step == 800 and "5 times the floor" in finding.seen
    assert _kinds(_evals([8.0, 6.0, 5.0, 5.2, 5.1, 4.9, 5.1, 5.0])) == []  # improved, if slowly
    assert _kinds(_evals([8.0, 6.0, 5.0, 5.2, 5.1, 5.3, 5.1])) == []  # not for long yet
    assert _kinds(_evals([2.0, 1.5, 1.3, 1.3, 1.3, 1.3, 1.3, 1.3])) == []  # near the floor: done, not stuck


def test_each_finding_is_told_once_until_it_changes():
    watcher = doctor.Doctor(TrainConfig(dataset="mnist"))
    shares = lambda low: [low, *[0.1] * 9]  # noqa: E731
    records = [
        {"step": s, "fd": 20.0, "fd_floor": 1.0, "class_shares": shares(a)} for s, a in ((50, 0.1), (100, 0.005))
    ]
    assert watcher.check(records) == []
    records.append({"step": 200, "fd": 20.0, "fd_floor": 1.0, "class_shares": shares(0.005)})
    assert [f.subject for f in watcher.check(records)] == ["0"]
    records.append({"step": 300, "fd": 20.0, "fd_floor": 1.0, "class_shares": shares(0.005)})
    assert watcher.check(records) == []
    records.append({"step": 400, "fd": 20.0, "fd_floor": 1.0, "class_shares": [0.1, 0.005, *[0.1] * 8]})
    assert watcher.check(records) == []  # one evaluation of digit 1 alone is not two
    records.append({"step": 500, "fd": 20.0, "fd_floor": 1.0, "class_shares": [0.1, 0.005, *[0.1] * 8]})
    (finding,) = watcher.check(records)
    assert finding.subject == "1" and finding.event() == {
        "event": "finding",
        "kind": "mode_collapse",
        "step": 500,
        "text": finding.text,
    }
    assert doctor.Finding.from_event(finding.event()) == dataclasses.replace(finding, subject="")


# ----- training runs that go wrong on purpose: the finding is said once, logged, listed -----
TINY = dict(g_hidden=(16, 16), d_hidden=(16, 16))


class OnePoint(nn.Module):
    """A G that ignores z: every sample is one (learnable) point."""

    def __init__(self):
        super().__init__()
        self.point = nn.Parameter(torch.zeros(2))

    def forward(self, z):
        return self.point + 0 * z[:, :1]


def _events(path) -> list[dict]:
    return [r for r in gankit.read_metrics(path) if r.get("event") == "finding"]


def test_a_learning_rate_that_diverges_is_logged_and_listed(tmp_path):
    config = TrainConfig(dataset="circle", steps=50, lr_g=1e10, lr_d=1e10, **TINY)
    with pytest.raises(gankit.TrainingDiverged, match="training diverged at step"):
        gankit.train(config, tmp_path / "run", progress=False, figures=False)
    (event,) = _events(tmp_path / "run")
    assert event["kind"] == "divergence" and "try lr_g=lr_d=5e+09 (now 1e+10)" in event["text"]
    assert [f.kind for f in gankit.diagnose(tmp_path / "run")] == ["divergence"]


def test_a_collapsed_g_is_told_once_while_it_trains_logged_listed_and_printed(tmp_path, capsys):
    D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    config = TrainConfig(dataset="circle", steps=300, eval_every=100)
    run = gankit.train(config, tmp_path / "run", generator=OnePoint(), discriminator=D, progress=False, figures=False)
    told = [line for line in capsys.readouterr().err.splitlines() if "G's samples miss nearly all" in line]
    assert len(told) == 1 and told[0].startswith("gankit: ")  # found at steps 200 and 300, said once
    (event,) = [e for e in _events(run.path) if e["kind"] == "mode_collapse"]
    assert event["step"] == 200 and told[0] == f"gankit: {event['text']}"
    assert [f.kind for f in run.diagnose()] == [e["kind"] for e in _events(run.path)]
    assert main(["eval", str(run.path), "--models", str(_models_file(tmp_path))]) == 0
    assert "finding: step 200, mode_collapse: G's samples miss nearly all" in capsys.readouterr().out


def _models_file(tmp_path):
    path = tmp_path / "one_point.py"
    path.write_text(
        "import torch\nfrom torch import nn\n\n\n"
        "class OnePoint(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.point = nn.Parameter(torch.zeros(2))\n\n"
        "    def forward(self, z):\n        return self.point + 0 * z[:, :1]\n\n\n"
        "def make_generator(config):\n    return OnePoint()\n\n\n"
        "def make_discriminator(config):\n"
        "    return nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))\n"
    )
    return path


@pytest.mark.slow
def test_in_a_notebook_a_finding_shows_under_the_live_view(tmp_path, monkeypatch):
    shown = []
    display = type("FakeDisplay", (), {"show": lambda self, content: shown.append(content)})
    monkeypatch.setattr(gankit.live, "in_notebook", lambda: True)
    monkeypatch.setattr(gankit.live, "Display", display)
    D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    config = TrainConfig(dataset="circle", steps=300, eval_every=100)
    gankit.train(config, tmp_path / "run", generator=OnePoint(), discriminator=D, progress=False, live=100)
    notes = [c for c in shown if isinstance(c, str)]
    assert notes and notes[-1].startswith("gankit: G's samples miss nearly all")
    assert isinstance(shown[0], bytes)  # the figure first: the line shows below it


@pytest.mark.slow
def test_a_saturating_loss_with_a_strong_d_is_told_its_gradient_vanishes(tmp_path, monkeypatch):
    use_fast_metrics(monkeypatch)
    config = TrainConfig(dataset="circle", loss="minimax", lr_d=1e-2, d_steps=5, steps=1000, eval_every=500)
    run = gankit.train(config, tmp_path / "run", progress=False, figures=False)
    assert "vanishing_gradient" in [f.kind for f in run.diagnose()]


def test_a_healthy_run_of_the_toy_defaults_raises_nothing(tmp_path, monkeypatch):
    use_fast_metrics(monkeypatch)
    config = TrainConfig(dataset="circle", steps=1500, eval_every=150)
    run = gankit.train(config, tmp_path / "run", progress=False, figures=False)
    assert run.diagnose() == [] and _events(run.path) == []


class OneImage(nn.Module):
    """A G that ignores z: every sample is the same learnable image."""

    def __init__(self):
        super().__init__()
        self.image = nn.Parameter(torch.zeros(1, 1, 28, 28))

    def forward(self, z):
        return torch.tanh(self.image).expand(len(z), 1, 28, 28) + 0 * z[:, :1, None, None]


class DigitsIgnoringLabels(nn.Module):
    """A conditional G that ignores its label: z picks one of 100 real digits (10 of each), whatever is asked."""

    def __init__(self, images):
        super().__init__()
        self.register_buffer("images", images)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, z, labels):
        index = (z[:, 0].abs() * 1000).long() % len(self.images)
        return self.images[index] * self.scale


@pytest.mark.slow
@pytest.mark.parametrize("conditional", [False, True])
def test_an_mnist_g_that_collapses_or_ignores_its_labels_is_told_so(tmp_path, monkeypatch, mnist_dir, conditional):
    """Real MNIST runs scored by the shipped classifier (1,000 images per evaluation, for time): one image is one
    digit's share; real digits drawn whatever the label are the right shares and the wrong labels."""
    monkeypatch.setattr(gankit.evaluation, "EVAL_SAMPLES", 1000)
    config = TrainConfig(
        dataset="mnist", data_dir=str(mnist_dir), n_samples=512, conditional=conditional, steps=60, eval_every=20
    )
    if conditional:
        images, labels = load_mnist("test", data_dir=mnist_dir)
        G = DigitsIgnoringLabels(torch.cat([images[labels == digit][:10] for digit in range(10)]))
    else:
        G = OneImage()
    D = MLPDiscriminator((1, 28, 28), (64,), n_classes=10 if conditional else 0)
    run = gankit.train(config, tmp_path / "run", generator=G, discriminator=D, progress=False, figures=False)
    (finding,) = [f for f in run.diagnose() if f.kind == "mode_collapse"]
    last = [r for r in run.metrics if "class_shares" in r][-1]
    if conditional:
        assert finding.subject == "labels" and last["label_accuracy"] < 0.2 and last["coverage_min"] > 0.05
    else:
        assert "of the samples at the last two evaluations" in finding.seen and max(last["class_shares"]) > 0.9
