"""How samples are drawn from a trained generator: G's own draws, or G's draws filtered by a density ratio.

- `plain`: x = G(z), z ~ N(0, I).
- `drs`: discriminator rejection sampling (Azadi et al., ICLR 2019). A G continuous in a Gaussian z puts
  some mass between the modes it covers, where the data has none; D is trained on, so its logit estimates
  log p_data(x) / p_G(x) up to a constant, and a proposal x ~ G is kept with probability
  exp(logit(x) - M), M the largest logit seen (the first REJECTION_PILOT proposals set it). When the logit
  is the log density ratio and M bounds it, the kept samples follow p_data exactly (`rejection_sample`).
  D is first refit on the frozen G against the training data (DRS_REFIT_STEPS of logistic regression from
  the run's D: a D trained with a penalty or in a moving game is not the optimal D the ratio needs), then
  put back as it was; the run's files are not touched.

- `jacobian`: where G maps z across a gap between modes it must stretch, so its Jacobian there is steep
  (Tanielian et al., ICML 2020, "no GAN's land"); a proposal is kept when ||dG/dz||_F is at most
  JACOBIAN_LIMIT times the median of the pilot's. Not an exact sampler: it drops the stretched parts of
  G's range (mostly between the modes, some of each mode's far tail), and needs nothing but G.

Samplers work on any run, gankit's networks or the user's own: they need only `trainer.generate`,
D's logits (`trainer.logits`) and the training data. Each draw says what it cost (`Draw`).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from gankit.data import Dataset
from gankit.errors import GankitError
from gankit.latent import draw_latent
from gankit.registry import Registry

REJECTION_BATCH = 2500  # proposals scored at once
REJECTION_PILOT = 10_000  # proposals that set M before any is kept
MAX_PROPOSALS_PER_SAMPLE = 1000  # below an acceptance of 1/this, the sampler gives up in one line
DRS_REFIT_STEPS = 1000  # logistic-regression steps of D on the frozen G before sampling
DRS_REFIT_BATCH = 256  # real and generated samples per refit step
DRS_REFIT_LR = 1e-3  # Adam (0.5, 0.999): D starts from the run's weights, close to where it must go
REFIT_SEED = 7_000_003  # the refit's draws: the same run refits to the same D
JACOBIAN_DIRECTIONS = 8  # random directions behind each estimate of ||J||_F
JACOBIAN_LIMIT = 10.0  # keep z whose ||J||_F is at most this many times the pilot's median


@dataclass(frozen=True)
class Draw:
    """What a sampler drew: `samples` (n, *shape) in model space, the `labels` they were drawn for (or None),
    the share of the proposals judged that were kept (`acceptance`, 1 for plain draws), `seconds` in all (a
    refit included), and up to n of the proposals it did not keep (`rejected`, model space: what a view shows)."""

    samples: torch.Tensor
    labels: torch.Tensor | None
    acceptance: float
    seconds: float
    rejected: torch.Tensor | None = None

    def summary(self, sampler: str) -> dict[str, Any]:
        """The numbers a log or a table records about a draw."""
        return {"sampler": sampler, "acceptance": self.acceptance, "sampling_seconds": self.seconds}


Propose = Callable[[int, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor]]
"""(count, labels or None) -> (proposals (count, ...) in model space, their scores (count,))"""


class RatioRule:
    """Keep a proposal with probability exp(score - M), score its log density ratio and M the largest seen:
    exact rejection sampling when the score is the log ratio up to a constant and M bounds it."""

    def __init__(self) -> None:
        self.bound = -math.inf

    def see(self, scores: torch.Tensor) -> None:
        self.bound = max(self.bound, float(scores.max()))

    def keep(self, scores: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        return torch.rand(len(scores), generator=rng, dtype=torch.float64) < torch.exp(scores.double() - self.bound)


class LimitRule:
    """Keep a proposal whose score is at most `factor` times the median score of the pilot's proposals."""

    def __init__(self, factor: float) -> None:
        self.factor, self.pilot = factor, []
        self.limit: float | None = None

    def see(self, scores: torch.Tensor) -> None:
        if self.limit is None:
            self.pilot.append(scores)

    def keep(self, scores: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        if self.limit is None:
            self.limit = self.factor * float(torch.cat(self.pilot).double().median())
        return scores <= self.limit


def rejection_sample(
    propose: Propose,
    rule: Callable[[], RatioRule | LimitRule],
    n: int,
    *,
    rng: torch.Generator,
    labels: torch.Tensor | None = None,
    batch_size: int = REJECTION_BATCH,
    pilot: int = REJECTION_PILOT,
    what: str = "the rejection sampler",
) -> tuple[torch.Tensor, float, torch.Tensor]:
    """(n kept proposals, the share of the proposals judged that were kept, up to n proposals not kept).
    Every proposal's score is seen by a fresh `rule()` before any is judged: the first `pilot` proposals at
    once, then each batch. With labels (n,), each class is sampled on its own (its own rule), its proposals
    drawn for that class. GankitError when fewer than one proposal in MAX_PROPOSALS_PER_SAMPLE is kept."""
    if labels is None:
        samples, kept, judged, rejected = _reject(propose, rule(), n, None, rng, batch_size, pilot, what)
        return samples, kept / judged, rejected
    out: torch.Tensor | None = None
    kept = judged = 0
    rejects = []
    for label in labels.unique():
        where = (labels == label).nonzero().flatten()
        samples, kept_here, judged_here, rejected = _reject(
            propose, rule(), len(where), label, rng, batch_size, pilot, what
        )
        out = samples.new_empty(n, *samples.shape[1:]) if out is None else out
        out[where] = samples
        kept, judged = kept + kept_here, judged + judged_here
        rejects.append(rejected)
    return out, kept / judged, torch.cat(rejects)[:n]  # type: ignore[return-value]


def _reject(
    propose: Propose,
    rule: RatioRule | LimitRule,
    n: int,
    label: torch.Tensor | None,
    rng: torch.Generator,
    batch_size: int,
    pilot: int,
    what: str,
) -> tuple[torch.Tensor, int, int, torch.Tensor]:
    """`rejection_sample` of one class (`label`, a 0-d tensor) or of an unconditional G (None): (n samples,
    proposals kept, proposals judged, up to n proposals not kept)."""
    limit = MAX_PROPOSALS_PER_SAMPLE * max(n, 1)
    labels = None if label is None else label.expand(batch_size)
    chunks: list[torch.Tensor] = []
    rejects: list[torch.Tensor] = []
    dropped = 0
    pending: list[tuple[torch.Tensor, torch.Tensor]] = []  # proposals made before the pilot was complete
    kept = made = 0
    while kept < n:
        if made >= limit:
            raise GankitError(
                f"{what} kept {kept:,} of {made:,} proposals (n={n:,}); accepted: a generator whose samples it "
                "does not almost all reject (try sampler='plain', or train longer)"
            )
        x, scores = propose(batch_size, labels)
        made += len(x)
        rule.see(scores)
        pending.append((x, scores))
        if made < min(pilot, limit):
            continue
        for x, scores in pending:
            accept = rule.keep(scores, rng)
            chunks.append(x[accept])
            kept += int(accept.sum())
            if dropped < n:
                rejects.append(x[~accept][: n - dropped])
                dropped += len(rejects[-1])
        pending = []
    return torch.cat(chunks)[:n], kept, made, torch.cat(rejects)


def _plain(trainer: Any, n: int, *, seed: int, labels: torch.Tensor | None, data: Dataset | None) -> Draw:
    started = time.perf_counter()
    samples = trainer.generate(n, seed=seed, labels=labels)
    return Draw(samples, labels, 1.0, time.perf_counter() - started)


@contextmanager
def refit_discriminator(trainer: Any, data: Dataset, *, steps: int | None = None, seed: int = REFIT_SEED):
    """D trained on, by logistic regression, to tell `data` (the run's training data) from G's samples (G
    frozen: the sampled generator, EMA included) for `steps` (None: DRS_REFIT_STEPS); on leaving, D's
    weights and buffers are put back as they were."""
    D = trainer.D
    steps = DRS_REFIT_STEPS if steps is None else steps
    saved = copy.deepcopy(D.state_dict())
    rng = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(D.parameters(), lr=DRS_REFIT_LR, betas=(0.5, 0.999))
    batch = DRS_REFIT_BATCH
    try:
        D.train()
        for _ in range(steps):
            index = torch.randint(len(data.train), (batch,), generator=rng)
            real = data.train[index].to(trainer.device)
            labels = data.labels[index].to(trainer.device) if trainer.n_classes else None
            z = draw_latent(trainer.config, batch, rng)
            fake = trainer.generate(batch, seed=0, labels=labels, z=z).to(trainer.device)
            loss = F.softplus(-trainer.logits(real, labels)).mean() + F.softplus(trainer.logits(fake, labels)).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        D.eval()
        yield
    finally:
        D.load_state_dict(saved)
        D.train()


def _drs(trainer: Any, n: int, *, seed: int, labels: torch.Tensor | None, data: Dataset | None) -> Draw:
    if data is None or not len(data.train):
        raise GankitError("sampler='drs' needs the run's training data; accepted: draw(..., data=<the Dataset>)")
    started = time.perf_counter()
    rng = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def propose(count: int, wanted: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        x = trainer.generate(count, seed=0, labels=wanted, z=draw_latent(trainer.config, count, rng))
        device = trainer.device
        return x, trainer.logits(x.to(device), None if wanted is None else wanted.to(device)).float().cpu()

    with refit_discriminator(trainer, data):
        samples, acceptance, rejected = rejection_sample(
            propose, RatioRule, n, rng=rng, labels=labels, what="sampler='drs'"
        )
    return Draw(samples, labels, acceptance, time.perf_counter() - started, rejected)


def jacobian_norms(
    generator: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    z: torch.Tensor,
    labels: torch.Tensor | None,
    rng: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(G(z), the Frobenius norm of G's Jacobian at each z), the norm estimated without forming the Jacobian:
    ||J||_F^2 = E ||J v||^2 over v ~ N(0, I), from JACOBIAN_DIRECTIONS forward-mode products J v."""
    total = torch.zeros(len(z), dtype=torch.float64)
    output = None
    for _ in range(JACOBIAN_DIRECTIONS):
        direction = torch.randn(z.shape, generator=rng).to(z.device)
        output, product = torch.func.jvp(lambda latent: generator(latent, labels), (z,), (direction,))
        total += product.flatten(1).double().pow(2).sum(1).cpu()
    return output.detach(), (total / JACOBIAN_DIRECTIONS).sqrt()  # type: ignore[union-attr]


def _jacobian(trainer: Any, n: int, *, seed: int, labels: torch.Tensor | None, data: Dataset | None) -> Draw:
    started = time.perf_counter()
    rng = torch.Generator().manual_seed(seed)
    device = trainer.device
    with trainer.sampled_generator() as generator:

        def propose(count: int, wanted: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
            z = draw_latent(trainer.config, count, rng, device)
            x, norms = jacobian_norms(generator, z, None if wanted is None else wanted.to(device), rng)
            return x.float().cpu(), norms

        samples, acceptance, rejected = rejection_sample(
            propose, lambda: LimitRule(JACOBIAN_LIMIT), n, rng=rng, labels=labels, what="sampler='jacobian'"
        )
    return Draw(samples, labels, acceptance, time.perf_counter() - started, rejected)


@dataclass(frozen=True)
class SamplerEntry:
    """A registered sampler: `draw(trainer, n, *, seed, labels, data)` -> Draw, what it does in a few words,
    and whether it needs the training data."""

    draw: Callable[..., Draw]
    description: str
    needs_data: bool = False


SAMPLERS: Registry[SamplerEntry] = Registry("sampler")
SAMPLERS.add("plain", SamplerEntry(_plain, "G(z), z ~ N(0, I)"))
SAMPLERS.add(
    "drs",
    SamplerEntry(
        _drs, "discriminator rejection sampling: G's samples kept by D's density ratio, D refit first", needs_data=True
    ),
)


SAMPLERS.add(
    "jacobian",
    SamplerEntry(_jacobian, "G's samples kept where G's Jacobian is not steep: what lands between the modes dropped"),
)


def draw(
    trainer: Any,
    n: int,
    *,
    sampler: str = "plain",
    seed: int = 0,
    labels: torch.Tensor | None = None,
    data: Dataset | None = None,
) -> Draw:
    """n samples (model space) of a trained `trainer` by the registered `sampler`; `data`, the run's training
    data, for a sampler that `needs_data`."""
    return SAMPLERS[sampler].draw(trainer, n, seed=seed, labels=labels, data=data)
