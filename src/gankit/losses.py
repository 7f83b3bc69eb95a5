"""GAN losses: objects the trainer calls with what they may need to see, and one registry of their names.

A `Loss` has two methods, `d_loss(batch)` for D's update and `g_loss(batch)` for G's, each returning the
mean over the batch (in a stack of K GANs: one mean per member, shape (K,)). The batch objects hold D's
logits of the real and the fake samples, the samples and their labels, and D itself
(`batch.discriminator(x, labels)` gives its logits), so that penalties on D's gradients (R1, R2, a
gradient penalty) and pairings of real and fake scores (relativistic losses) can be written.

A plain pair of functions of D's outputs is a loss too:

    loss = gankit.Loss(discriminator=lambda real, fake: ..., generator=lambda fake: ...)

`real` and `fake` are D's outputs as D gives them: probabilities for a D whose forward ends in a sigmoid
(the lab's), logits otherwise; `on="logits"` passes logits always. The probabilities remember their logits
(`gankit.probabilities`), so a loss written as the lab sheet states it, with `torch.log(p)` and
`torch.log(1 - p)`, is computed with the stable formulas below and never takes log(0). The registered
losses are written on logits with softplus, so that confident scores never give log(0):
log D(x) = -softplus(-l) and log(1 - D(x)) = -softplus(l), where P(real) = D(x) = sigmoid(l).

A loss may come with penalties on D's gradients (`gankit.penalties`): `penalties` holds the weights it
takes when the config leaves them at None (wasserstein: WGAN-GP's gradient penalty, lambda 10).
`needs_critic` marks a loss on unbounded scores, which a D ending in nn.Sigmoid cannot give.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch.nn.functional import relu, softplus

from gankit.errors import bad_value
from gankit.probabilities import Probability
from gankit.registry import CUSTOM, Registry

Scores = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]  # (samples, labels) -> D's logits
INPUTS = ("outputs", "logits")


@dataclass
class DiscriminatorBatch:
    """What a loss sees in D's update. Leading dims: (B,) for one GAN, (K, B) for a stack of K."""

    real: torch.Tensor
    fake: torch.Tensor  # detached from G
    real_labels: torch.Tensor | None
    fake_labels: torch.Tensor | None
    real_logits: torch.Tensor  # float32
    fake_logits: torch.Tensor
    discriminator: Scores  # D's float32 logits of any batch, under the trainer's precision
    step: int  # the generator updates done so far
    stacked: bool = False  # a stack's (K, B, ...) tensors
    outputs_probability: bool = False  # D ends in a sigmoid: its own outputs are sigmoid(logits)
    # One U[0, 1) draw per sample (real_logits' shape) from the trainer's own generator(s), at each call.
    draw_uniform: Callable[[], torch.Tensor] | None = field(default=None, repr=False)
    mixes_batch: bool = False  # a layer of D mixes the samples of a batch (BatchNorm): score batches apart


@dataclass
class GeneratorBatch:
    """What a loss sees in G's update: the fakes (with their graph to G) and D's logits of them.

    `real`, `real_labels` and `real_logits` draw a real batch on first use (relativistic losses need
    one); a loss that never reads them draws nothing.
    """

    fake: torch.Tensor
    fake_labels: torch.Tensor | None
    fake_logits: torch.Tensor
    discriminator: Scores
    step: int
    stacked: bool = False
    outputs_probability: bool = False
    draw_real: Callable[[], tuple[torch.Tensor, torch.Tensor | None]] | None = None
    _real: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor] | None = field(default=None, repr=False)

    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        if self._real is None:
            real, labels = self.draw_real()
            with torch.no_grad():  # D's weights are not updated in G's step
                logits = self.discriminator(real, labels)
            self._real = (real, labels, logits)
        return self._real

    @property
    def real(self) -> torch.Tensor:
        return self._real_batch()[0]

    @property
    def real_labels(self) -> torch.Tensor | None:
        return self._real_batch()[1]

    @property
    def real_logits(self) -> torch.Tensor:
        return self._real_batch()[2]


class Loss:
    """A GAN loss. Subclass it and override `d_loss` / `g_loss`, or give two plain functions of D's outputs.

    `handles_stacks`: whether `d_loss` and `g_loss` accept a stack's (K, B) batches and return (K,) means;
    losses made of plain functions do (each member's scores go through them one by one, with vmap).
    A subclass that does not say so is trained one GAN at a time in a sweep.
    """

    name: str = CUSTOM
    handles_stacks: bool = False

    def __init__(
        self,
        discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        generator: Callable[[torch.Tensor], torch.Tensor] | None = None,
        *,
        name: str = CUSTOM,
        on: str = "outputs",
        needs_critic: bool = False,
        penalties: Mapping[str, float] | None = None,
    ):
        if on not in INPUTS:
            raise bad_value("on", on, INPUTS)
        for side, function in (("discriminator", discriminator), ("generator", generator)):
            if function is not None and not callable(function):
                raise bad_value(f"Loss {side}", function, "a function of D's outputs, or None")
        self._discriminator, self._generator, self.on, self.name = discriminator, generator, on, name
        self.handles_stacks = type(self).handles_stacks or (discriminator is not None and generator is not None)
        self.needs_critic = needs_critic
        self.penalties = dict(penalties or {})
        self._saturates: bool | None = None

    def check_discriminator(self, outputs_probability: bool) -> None:
        """One line unless D can give this loss its scores: a critic loss refuses a D that ends in nn.Sigmoid."""
        if self.needs_critic and outputs_probability:
            raise bad_value(
                "loss",
                self.name,
                "a loss of P(real) for a discriminator that ends in nn.Sigmoid (a critic's scores are unbounded: "
                "leave the sigmoid out of D for this loss)",
            )

    def _outputs(self, probability: bool) -> Callable[[torch.Tensor], torch.Tensor]:
        """What the plain functions see of D's logits: its probabilities (made inside vmap for a stack, which
        would drop the Probability's logits if made outside), or the logits themselves."""
        return Probability if probability and self.on == "outputs" else lambda logits: logits

    def d_loss(self, batch: DiscriminatorBatch) -> torch.Tensor:
        if self._discriminator is None:
            raise NotImplementedError(f"{type(self).__name__} gives no discriminator loss")
        outputs = self._outputs(batch.outputs_probability)

        def loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
            return self._discriminator(outputs(real_logits), outputs(fake_logits))

        return (torch.vmap(loss) if batch.stacked else loss)(batch.real_logits, batch.fake_logits)

    def g_loss(self, batch: GeneratorBatch) -> torch.Tensor:
        if self._generator is None:
            raise NotImplementedError(f"{type(self).__name__} gives no generator loss")
        outputs = self._outputs(batch.outputs_probability)

        def loss(fake_logits: torch.Tensor) -> torch.Tensor:
            return self._generator(outputs(fake_logits))

        return (torch.vmap(loss) if batch.stacked else loss)(batch.fake_logits)

    def saturates(self) -> bool:
        """Whether G's loss saturates, as the lab's minimax game does: where D confidently rejects the fakes
        (logit -8), its gradient is under 1% of its gradient where D cannot tell (logit 0). Found by computing
        both on a small batch (of probabilities, as a D that ends in a sigmoid gives them); a loss that cannot
        be probed so counts as non-saturating."""
        if getattr(self, "_saturates", None) is None:  # a subclass may not call Loss.__init__
            try:
                self._saturates = bool(_g_slope(self, -8.0) < 0.01 * _g_slope(self, 0.0))
            except Exception:  # the user's code, probed on a made-up batch
                self._saturates = False
        return self._saturates

    def __repr__(self) -> str:
        return f"Loss({self.name!r})"


def _g_slope(loss: Loss, logit: float) -> float:
    """|d G's loss / d logit| where every fake gets D's `logit`."""
    logits = torch.full((4,), logit, requires_grad=True)
    batch = GeneratorBatch(
        torch.zeros(4, 1),
        None,
        logits,
        lambda x, labels=None: torch.zeros(len(x)),
        0,
        outputs_probability=True,
        draw_real=lambda: (torch.zeros(4, 1), None),
    )
    (grad,) = torch.autograd.grad(loss.g_loss(batch), logits)
    return float(grad.abs().sum())


# ----- the formulas of the registered losses, on logits; each returns the batch mean -----
def d_loss_logistic(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's side of the minimax game: minimise -[log D(x) + log(1 - D(G(z)))]."""
    return softplus(-real_logits).mean() + softplus(fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """The saturating G loss of the original game: minimise log(1 - D(G(z))).

    Its gradient vanishes when D confidently rejects the fakes, early in training.
    """
    return -softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The usual fix (Goodfellow et al. 2014): minimise -log D(G(z)); same fixed point, strong early gradients."""
    return softplus(-fake_logits).mean()


def d_loss_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss (SAGAN, BigGAN): mean(relu(1 - l_real)) + mean(relu(1 + l_fake))."""
    return relu(1 - real_logits).mean() + relu(1 + fake_logits).mean()


def g_loss_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def d_loss_least_squares(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN (Mao et al. 2017) with targets 1 for real and 0 for fake: ((l_real - 1)^2 + l_fake^2) / 2."""
    return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()


def g_loss_least_squares(fake_logits: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((fake_logits - 1) ** 2).mean()


def d_loss_wasserstein(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The critic's side of WGAN (Arjovsky et al. 2017): minimise mean(D(G(z))) - mean(D(x)); the critic is
    kept near 1-Lipschitz by the gradient penalty (WGAN-GP, Gulrajani et al. 2017) or spectral normalisation."""
    return fake_scores.mean() - real_scores.mean()


def g_loss_wasserstein(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


class RelativisticLoss(Loss):
    """The relativistic pairing loss of RpGAN (Jolicoeur-Martineau 2019), R3GAN's (Huang et al. 2024): real
    sample i is paired with fake i, D minimises mean(softplus(l_fake - l_real)) and G mean(softplus(l_real -
    l_fake)), on a fresh real batch. R3GAN trains it with R1 and R2 of equal gamma, its default penalties here.
    """

    handles_stacks = True  # the means are over the last dim: (B,) -> (), (K, B) -> (K,)

    def d_loss(self, batch: DiscriminatorBatch) -> torch.Tensor:
        return softplus(batch.fake_logits - batch.real_logits).mean(-1)

    def g_loss(self, batch: GeneratorBatch) -> torch.Tensor:
        return softplus(batch.real_logits - batch.fake_logits).mean(-1)


LOSSES: Registry[Loss] = Registry("loss", custom="your own: gankit.train(..., loss=gankit.Loss(...))")


def _register(name: str, discriminator, generator, **options) -> None:
    LOSSES.add(name, Loss(discriminator, generator, name=name, on="logits", **options))


_register("nonsaturating", d_loss_logistic, g_loss_nonsaturating)
_register("minimax", d_loss_logistic, g_loss_minimax)
_register("hinge", d_loss_hinge, g_loss_hinge)
_register("least_squares", d_loss_least_squares, g_loss_least_squares)
# WGAN-GP's lambda 10 (Gulrajani et al. 2017).
_register("wasserstein", d_loss_wasserstein, g_loss_wasserstein, needs_critic=True, penalties={"gp": 10.0})
# R1 and R2 of one gamma, as R3GAN; gamma measured on the ring and the grid (docs/benchmarks.md).
LOSSES.add("relativistic", RelativisticLoss(name="relativistic", on="logits", penalties={"r1": 1.0, "r2": 1.0}))


def config_name(loss: Loss) -> str:
    """What a run's config records for `loss`: its registered name, or `custom` for the user's own."""
    return loss.name if loss.name in LOSSES and LOSSES[loss.name] is loss else CUSTOM
