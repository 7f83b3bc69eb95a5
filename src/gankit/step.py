"""The pieces of one GAN step that a single trainer and a stack of K trainers share, written once.

- `seeded`: build initial weights under a seed without touching the caller's RNG;
- `BatchWalker`: each member's real batches walk through its own random permutations;
- `ema_decay` and `update_average`: the EMA of G's weights with its warm-up ramp;
- `adam_update`: the fused Adam kernel behind `torch.optim.Adam(fused=True)`, called directly, and `Adam`, the
  optimiser of one GAN's network or of K stacked members' that owns its moments and reads and writes torch's
  state format;
- `member_groups` and `member_views`: members grouped by equal settings, and their slices of stacked tensors.

Private torch calls kept here, because a toy step is small enough that per-call Python work dominates it:
`torch._fused_adam_` is what `torch.optim.Adam(fused=True).step()` runs, bit for bit; calling it
directly skips `step()`'s per-call work, twice per GAN step. `torch._foreach_lerp_` updates the EMA in
one call rather than a loop of `Tensor.lerp_`. Each is looked up once; where a torch lacks it, a public
formula takes its place (Adam's single-tensor update, `Tensor.lerp_`), with the same numbers up to float
rounding (tests/test_fast_paths.py).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

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


def member_groups(values: Sequence[Any]) -> list[tuple[Any, list[int]]]:
    """Members grouped by equal value, in order of first appearance: [(value, [k, ...]), ...]."""
    groups: dict[Any, list[int]] = {}
    for k, value in enumerate(values):
        groups.setdefault(value, []).append(k)
    return list(groups.items())


def member_views(tensors: Sequence[torch.Tensor], members: list[int], total: int) -> list[torch.Tensor]:
    """The slices of stacked tensors that belong to `members`: the tensors themselves for all, one
    slice for a contiguous run, else one view per member."""
    if len(members) == total:
        return list(tensors)
    if members == list(range(members[0], members[-1] + 1)):
        return [t[members[0] : members[-1] + 1] for t in tensors]
    return [t[k] for t in tensors for k in members]


# torch.optim.Adam's parameter-group entries and their defaults, as its state_dict writes them (its public
# constructor's keyword defaults: the format follows the installed torch)
_ADAM_GROUP = {
    name: parameter.default
    for name, parameter in inspect.signature(torch.optim.Adam).parameters.items()
    if name != "params" and parameter.default is not inspect.Parameter.empty
}


def _same(tensor: torch.Tensor, index: int, k: int) -> torch.Tensor:
    return tensor


class Adam:
    """Adam over a game's parameters that owns its moments and its step count: one GAN's network (`settings` one
    (lr, beta1, beta2)), or the same network of K members stacked along a first dimension (one setting per member).
    `step(grads)` runs `adam_update` once per distinct setting. `state_dict(k)` and `load_state_dict(state, k)`
    read and write member k's state in the format of `torch.optim.Adam(fused=True).state_dict()`, so a checkpoint's
    optimiser loads into torch's own Adam too.

    A stack lays its tensors out for its batched products: `to_module(tensor, i, k)` is member k's slice of tensor i
    as its module's parameter, `to_stack(value, i)` the way back (member k's slice), and `order[j]` the tensor of the
    module's parameter j. For one GAN (`to_module` None) they are the tensors themselves."""

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        settings: Sequence[tuple[float, float, float]],
        *,
        order: Sequence[int] | None = None,
        to_module: Callable[[torch.Tensor, int, int], torch.Tensor] | None = None,
        to_stack: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    ):
        self.params = [p.detach() for p in params]  # aliases: the kernel updates the leaves in place
        self.settings = list(settings)
        self.order = list(order) if order is not None else list(range(len(self.params)))
        self.stacked = to_module is not None
        self._to_module = to_module or _same
        self._to_stack = to_stack or (lambda value, index: value)
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        # torch.optim.Adam(fused=True) keeps a float32 step count per parameter; every parameter is updated at
        # every step, so one tensor serves them all and is counted once
        self.step_count = torch.zeros((), dtype=torch.float32, device=self.params[0].device)
        total = len(self.settings)
        self._groups = [
            (
                setting,
                members,
                *(member_views(t, members, total) for t in (self.params, self.exp_avgs, self.exp_avg_sqs)),
            )
            for setting, members in member_groups(self.settings)
        ]

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        """One update of every member with `grads` (the parameters' gradients, in order)."""
        self.step_count.add_(1)
        total = len(self.settings)
        for (lr, beta1, beta2), members, params, exp_avgs, exp_avg_sqs in self._groups:
            steps = [self.step_count] * len(params)
            grads_k = member_views(grads, members, total)
            adam_update(params, grads_k, exp_avgs, exp_avg_sqs, steps, lr=lr, beta1=beta1, beta2=beta2)

    def _member(self, tensor: torch.Tensor, k: int) -> torch.Tensor:
        return tensor[k] if self.stacked else tensor

    def state_dict(self, k: int = 0) -> dict[str, Any]:
        """Member k's state as torch.optim.Adam(fused=True).state_dict() gives it: no moments before the first step
        (torch creates them then); for one GAN the live tensors, for a stack's member copies."""
        lr, beta1, beta2 = self.settings[k]
        group = {
            **_ADAM_GROUP,
            "lr": lr,
            "betas": (beta1, beta2),
            "fused": True,
            "params": list(range(len(self.order))),
        }
        moments = {
            position: {
                "step": self.step_count.clone(),
                "exp_avg": self._to_module(self.exp_avgs[index], index, k),
                "exp_avg_sq": self._to_module(self.exp_avg_sqs[index], index, k),
            }
            for position, index in enumerate(self.order)
        }
        return {"state": moments if self.step_count else {}, "param_groups": [group]}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any], k: int = 0) -> None:
        """Member k's moments and step count from a state of `state_dict`'s (torch's) format."""
        moments = state["state"]
        for position, index in enumerate(self.order):
            exp_avg, exp_avg_sq = self._member(self.exp_avgs[index], k), self._member(self.exp_avg_sqs[index], k)
            if position in moments:
                exp_avg.copy_(self._to_stack(moments[position]["exp_avg"], index))
                exp_avg_sq.copy_(self._to_stack(moments[position]["exp_avg_sq"], index))
                self.step_count.fill_(float(moments[position]["step"]))
            else:  # not stepped yet
                exp_avg.zero_()
                exp_avg_sq.zero_()
                self.step_count.zero_()
