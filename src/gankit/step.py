"""The pieces of one GAN step that a single trainer and a stack of K trainers share, written once.

- `seeded`: build initial weights under a seed without touching the caller's RNG;
- `BatchWalker`: each member's real batches walk through its own random permutations;
- `ema_decay` and `update_average`: the EMA of G's weights with its warm-up ramp;
- `adam_update`: the fused Adam kernel behind `torch.optim.Adam(fused=True)`, called directly.

Private torch calls kept here, because a toy step is small enough that per-call Python work dominates it:
`torch._fused_adam_` is what `torch.optim.Adam(fused=True).step()` runs, bit for bit; calling it
directly skips `step()`'s per-call work, twice per GAN step. `torch._foreach_lerp_` updates the EMA in
one call rather than a loop of `Tensor.lerp_`. Each is looked up once; where a torch lacks it, a public
formula takes its place (Adam's single-tensor update, `Tensor.lerp_`), with the same numbers up to float
rounding (tests/test_fast_paths.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

T = TypeVar("T")
STAT_NAMES = ("loss_d", "loss_g", "d_real", "d_fake")  # what a step reports: the losses, mean D(x) and D(G(z))
ADAM_EPS = 1e-8  # torch.optim.Adam's default


def seeded(seed: int, make: Callable[[], T]) -> T:
    """`make()` under `torch.manual_seed(seed)`, leaving the caller's global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


class BatchWalker:
    """Index batches for K members, each from its own generator: member k walks through random
    permutations of range(n) (one epoch each), drawing a new one when the current one runs out; a batch
    larger than the data set is drawn with replacement. `next()` gives (K, batch_size) indices."""

    def __init__(self, n: int, batch_size: int, rngs: Sequence[torch.Generator]):
        self.n, self.batch_size, self.rngs = n, batch_size, list(rngs)
        self.order = self._permutations()  # (K, n)
        self.cursor = 0

    def _permutations(self) -> torch.Tensor:
        return torch.stack([torch.randperm(self.n, generator=rng, device=rng.device) for rng in self.rngs])

    def next(self) -> torch.Tensor:
        """The next batch of indices, (K, batch_size)."""
        size = self.batch_size
        if size > self.n:
            return torch.stack([torch.randint(self.n, (size,), generator=rng, device=rng.device) for rng in self.rngs])
        if self.cursor + size > self.n:
            self.order = self._permutations()
            self.cursor = 0
        index = self.order[:, self.cursor : self.cursor + size]
        self.cursor += size
        return index


def ema_decay(ema: float, step: int) -> float:
    """The EMA's decay after `step` updates: ramped up over the first steps so that the average soon
    forgets the random initialisation, then `ema`."""
    return min(ema, (1 + step) / (10 + step))


def _lerp_each(averages: list[torch.Tensor], params: list[torch.Tensor], weight: float) -> None:
    """torch._foreach_lerp_ with public operations, one tensor at a time."""
    for average, param in zip(averages, params):
        average.lerp_(param, weight)


_FOREACH_LERP = getattr(torch, "_foreach_lerp_", _lerp_each)  # private: the public loop where a torch lacks it


@torch.no_grad()
def update_average(averages: list[torch.Tensor], params: list[torch.Tensor], decay: float) -> None:
    """averages <- decay * averages + (1 - decay) * params, in place (decay 0 copies)."""
    _FOREACH_LERP(averages, params, 1 - decay)


@torch.no_grad()
def adam_update(
    params: list[torch.Tensor],
    grads: Sequence[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    exp_avg_sqs: list[torch.Tensor],
    steps: list[torch.Tensor],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float = ADAM_EPS,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    """One Adam update in place: the fused kernel of `torch.optim.Adam(fused=True)`, without `step()`'s
    per-call Python work. `steps` are the float32 step counts, one per parameter (a stack passes one shared
    tensor for all), already counting this update. The kernel walks memory in order, so each gradient is
    given its parameter's layout first."""
    grads = [g if g.stride() == p.stride() else torch.empty_like(p).copy_(g) for p, g in zip(params, grads)]
    _FUSED_ADAM(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        [],
        steps,
        amsgrad=False,
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        weight_decay=weight_decay,
        eps=eps,
        maximize=maximize,
        grad_scale=None,
        found_inf=None,
    )


def _adam_formula(
    params: list[torch.Tensor],
    grads: Sequence[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    exp_avg_sqs: list[torch.Tensor],
    max_exp_avg_sqs: list[torch.Tensor],
    steps: list[torch.Tensor],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
    **_: object,
) -> None:
    """torch._fused_adam_ (without amsgrad or gradient scaling, which gankit never asks for) with public
    operations: torch's single-tensor Adam, parameter by parameter."""
    for param, grad, exp_avg, exp_avg_sq, step in zip(params, grads, exp_avgs, exp_avg_sqs, steps):
        grad = -grad if maximize else grad
        if weight_decay:
            grad = grad.add(param, alpha=weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        count = float(step)
        denominator = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2**count)).add_(eps)
        param.addcdiv_(exp_avg, denominator, value=-lr / (1 - beta1**count))


_FUSED_ADAM = getattr(torch, "_fused_adam_", _adam_formula)  # private: the public formula where a torch lacks it
