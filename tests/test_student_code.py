"""The student's code as the lab sheet has it: any D that ends in a sigmoid is trained on its logit, whatever its
class, and the sheet's loss, written with torch.log on D's probabilities, stays finite with stable gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import gankit
from gankit.data import load_dataset
from gankit.losses import DiscriminatorBatch, GeneratorBatch
from gankit.probabilities import Probability
from gankit.trainer import Trainer

TINY = dict(dataset="circle", latent_dim=4, steps=30, log_every=10, eval_every=30, batch_size=32)


def sheet_loss() -> gankit.Loss:
    """The sheet's losses verbatim: D maximises log D(x) + log(1 - D(G(z))), G minimises log(1 - D(G(z)))."""
    return gankit.Loss(
        discriminator=lambda real, fake: -(torch.log(real) + torch.log(1 - fake)).mean(),
        generator=lambda fake: torch.log(1 - fake).mean(),
    )


def _body(width: int = 16) -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))


class NetD(nn.Module):
    """A class whose `self.net` ends in nn.Sigmoid."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(*_body(), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)


class FunctionalD(nn.Module):
    """A class that ends its forward in torch.sigmoid, squeezed."""

    def __init__(self):
        super().__init__()
        self.body = _body()

    def forward(self, x):
        return torch.sigmoid(self.body(x)).squeeze(1)


class SharedSigmoidD(nn.Module):
    """One nn.Sigmoid layer used twice: as a hidden activation and at the end."""

    def __init__(self):
        super().__init__()
        self.first, self.last, self.act = nn.Linear(2, 16), nn.Linear(16, 1), nn.Sigmoid()

    def forward(self, x):
        return self.act(self.last(self.act(self.first(x))))


class LogitD(nn.Module):
    """A D that returns logits: an internal sigmoid (a gate) is not its end."""

    def __init__(self):
        super().__init__()
        self.body = _body()

    def forward(self, x):
        return self.body(x * torch.sigmoid(x))


def _generator() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))


def _trainer(discriminator: nn.Module, **config) -> Trainer:
    config = gankit.TrainConfig(**{**TINY, **config})
    return Trainer(config, load_dataset(config), generator=_generator(), discriminator=discriminator)


def _logit_before_sigmoid(discriminator: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The logit, taken from the input of D's last sigmoid call."""
    inputs = []

    class Watch(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in (torch.sigmoid, torch.Tensor.sigmoid):
                inputs.append(args[0])
            return func(*args, **(kwargs or {}))

    with Watch():
        discriminator(x)
    return inputs[-1].reshape(len(x))


@pytest.mark.parametrize(
    "make",
    [lambda: nn.Sequential(*_body(), nn.Sigmoid()), NetD, FunctionalD, SharedSigmoidD],
    ids=["sequential", "class-with-net", "torch.sigmoid", "shared-sigmoid-layer"],
)
def test_a_d_that_ends_in_a_sigmoid_is_trained_on_its_logit(make):
    torch.manual_seed(0)
    trainer = _trainer(make())
    assert trainer.outputs_probability
    x = torch.randn(8, 2) * 3
    with torch.no_grad():
        logits = trainer.logits(x)
        own = trainer.D(x).reshape(8)
        expected = _logit_before_sigmoid(trainer.D, x)
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(torch.sigmoid(logits), own)  # what D itself returns is still its probability
    torch.testing.assert_close(trainer.d_probability(x), own)


def test_a_d_that_returns_logits_is_taken_as_it_is():
    torch.manual_seed(0)
    trainer = _trainer(LogitD())
    assert not trainer.outputs_probability
    x = torch.randn(8, 2)
    with torch.no_grad():
        torch.testing.assert_close(trainer.logits(x), trainer.D(x).reshape(8))


def test_the_logged_d_outputs_are_probabilities_of_the_logit(tmp_path):
    """The logged D(x) is the mean of D's own outputs, not sigmoid(probability) (which stays in [0.5, 0.73])."""
    torch.manual_seed(0)
    run = gankit.train(
        gankit.TrainConfig(**{**TINY, "steps": 200, "log_every": 200, "eval_every": 200}),
        tmp_path / "run",
        generator=_generator(),
        discriminator=FunctionalD(),
        loss=sheet_loss(),
        progress=False,
        figures=False,
    )
    record = next(r for r in run.metrics if "d_real" in r)
    assert record["d_fake"] < 0.5 < record["d_real"] or abs(record["d_real"] - 0.5) < 0.2
    data = load_dataset(run.config)
    x = data.train[:256]
    with torch.no_grad():
        d_own = run.trainer.D(x).mean().item()
    assert abs(torch.sigmoid(run.trainer.logits(x)).mean().item() - d_own) < 1e-5


class ConditionalD(nn.Module):
    """The sheet's conditional D: the one-hot label appended to the flattened image; ends in a sigmoid."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784 + 10, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Sigmoid())

    def forward(self, x, y):
        return self.net(torch.cat([x.view(len(x), -1), y], 1))


class ConditionalG(nn.Module):
    """The sheet's conditional G: the one-hot label appended to z."""

    def __init__(self, latent_dim: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim + 10, 32), nn.ReLU(), nn.Linear(32, 784), nn.Tanh())

    def forward(self, z, y):
        return self.net(torch.cat([z, y], 1)).view(len(z), 1, 28, 28)


def test_a_conditional_d_and_g_taking_one_hot_labels(mnist_dir):
    torch.manual_seed(0)
    config = gankit.TrainConfig(
        dataset="mnist",
        data_dir=str(mnist_dir),
        n_samples=256,
        conditional=True,
        latent_dim=8,
        batch_size=16,
        steps=3,
        precision="fp32",
    )
    trainer = Trainer(config, load_dataset(config), generator=ConditionalG(), discriminator=ConditionalD())
    assert trainer.outputs_probability
    x, labels = trainer.data[:4], trainer.labels[:4]
    one_hot = F.one_hot(labels, 10).float()
    with torch.no_grad():
        own = trainer.D(x, one_hot).reshape(4)
        torch.testing.assert_close(torch.sigmoid(trainer.logits(x, labels)), own)
    assert torch.isfinite(trainer.train_step()).all()


# ----- the sheet's loss on D's probabilities -----
def test_the_sheets_loss_is_finite_with_the_stable_gradients_for_any_logit():
    logits = torch.linspace(-50, 50, 201, requires_grad=True)
    loss = sheet_loss()
    d_value = loss._discriminator(Probability(logits), Probability(logits))
    g_value = loss._generator(Probability(logits))
    d_stable = -(F.logsigmoid(logits) + F.logsigmoid(-logits)).mean()
    g_stable = F.logsigmoid(-logits).mean()
    for value, stable in ((d_value, d_stable), (g_value, g_stable)):
        assert torch.isfinite(value)
        torch.testing.assert_close(value, stable)
        (grad,) = torch.autograd.grad(value, logits)
        (expected,) = torch.autograd.grad(stable, logits)
        assert torch.isfinite(grad).all()
        torch.testing.assert_close(grad, expected)
    # the plain probabilities overflow where the logit is large: what the Probability prevents
    plain = torch.log(1 - torch.sigmoid(logits.detach()))
    assert not torch.isfinite(plain).all()


@pytest.mark.parametrize(
    "form",
    [
        lambda p: torch.log(p) + torch.log(1 - p),
        lambda p: p.log() + (1.0 - p).log(),
        lambda p: torch.log(p) + torch.log1p(-p),
        lambda p: torch.log(p) + torch.log(torch.ones_like(p) - p),
        lambda p: (
            -F.binary_cross_entropy(p, torch.ones_like(p), reduction="none")
            - nn.BCELoss(reduction="none")(p, torch.zeros_like(p))
        ),
    ],
    ids=["torch.log", "method", "log1p", "ones_like", "bce"],
)
def test_each_way_of_writing_the_logs_is_stable(form):
    logits = torch.linspace(-60, 60, 121, requires_grad=True)
    value = form(Probability(logits))
    stable = F.logsigmoid(logits) + F.logsigmoid(-logits)
    torch.testing.assert_close(value, stable)
    (grad,) = torch.autograd.grad(value.sum(), logits)
    (expected,) = torch.autograd.grad(stable.sum(), logits)
    torch.testing.assert_close(grad, expected)


def test_probabilities_hold_their_values_for_everything_else():
    logits = torch.tensor([-3.0, 0.0, 2.0])
    p = Probability(logits)
    torch.testing.assert_close(p * 2, torch.sigmoid(logits) * 2)
    assert type(p.mean()) is torch.Tensor
    torch.testing.assert_close(torch.cat([p, p]), torch.sigmoid(logits).repeat(2))


def test_the_sheets_loss_trains_a_saturated_d_without_nan():
    """D's logits pushed far past float32's rounding of sigmoid: the sheet's loss gives finite losses and steps."""
    torch.manual_seed(0)
    D = nn.Sequential(*_body(), nn.Sigmoid())
    with torch.no_grad():
        D[2].bias.fill_(80.0)  # D(x) rounds to exactly 1 for every point: log(1 - D(G(z))) would be -inf
    config = gankit.TrainConfig(**TINY)
    trainer = Trainer(config, load_dataset(config), generator=_generator(), discriminator=D, loss=sheet_loss())
    for _ in range(5):
        assert torch.isfinite(trainer.train_step()).all()
    assert trainer.weights_are_finite()


def test_a_stack_of_the_sheets_loss_matches_its_formula():
    """In a stack (vmap over members) the Probability gives each member the stable formula too."""
    logits = torch.linspace(-40, 40, 24).reshape(3, 8)
    batch = DiscriminatorBatch(None, None, None, None, logits, -logits, None, 0, stacked=True, outputs_probability=True)
    expected = -(F.logsigmoid(logits) + F.logsigmoid(logits)).mean(1)
    torch.testing.assert_close(sheet_loss().d_loss(batch), expected)
    g = GeneratorBatch(None, None, logits, None, 0, stacked=True, outputs_probability=True)
    torch.testing.assert_close(sheet_loss().g_loss(g), F.logsigmoid(-logits).mean(1))


def test_the_run_that_train_and_resume_return_keeps_the_users_loss(tmp_path):
    """Its lab view draws the push of the user's G loss, as the live view did during training."""
    loss = sheet_loss()
    config = gankit.TrainConfig(**TINY)
    run = gankit.train(
        config, tmp_path / "r", generator=_generator(), discriminator=NetD(), loss=loss, progress=False, figures=False
    )
    assert run.trainer.loss is loss and len(run.view()["push"]) > 0
    resumed = gankit.resume(
        tmp_path / "r", steps=40, generator=_generator(), discriminator=NetD(), loss=loss, progress=False, figures=False
    )
    assert resumed.trainer.loss is loss and resumed.step == 40 and len(resumed.view()["push"]) > 0
