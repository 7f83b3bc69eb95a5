"""K toy GANs of one shape trained as one: stacked weights, batched matrix products, one fused Adam.

Member k of a `StackedTrainer` does exactly what `Trainer(configs[k])` does, up to float rounding
in the matrix products:

- the same initial weights (its nets are built with `build_models` under `torch.manual_seed(seed)`,
  then copied into the stack);
- its own training set (`load_dataset(config)`, drawn with its seed) and its own
  `torch.Generator(seed)`, from which it draws its data order and every z in the same sequence;
- the same loss (`gankit.losses`, vmapped so that each member gets its own mean), the same
  `d_steps`, the same EMA of G, and the same Adam: `torch._fused_adam_`, the kernel behind
  `torch.optim.Adam(fused=True)`, called on the stacked tensors. Adam is element-wise, so one call
  over (K, in, out) tensors is K independent optimisers; members whose learning rates or betas
  differ get one call each per distinct setting, on views of their slices.

Linear layers become `torch.baddbmm(bias (K,1,out), x (K,B,in), W (K,in,out))`; the activations of the
networks' own `nn.Sequential` are applied as they are (they are element-wise). `member_trainer(k)`
returns a real `Trainer` holding member k's whole state (weights, EMA, Adam moments, RNG, data
order), so it can be evaluated, saved as a run checkpoint, or trained on, exactly like one from
`gankit.train`.

Members of one stack must share every config field except PER_MEMBER_FIELDS; `stack_key`
says which stack a config belongs to.

Where it pays (benchmarks/sweep_speed.py, one thread): a single toy run of small networks spends
most of its step in per-operation overhead, which a stack shares among its members; with the
default 128-wide networks and batch 256 a single run already keeps the CPU's matrix units busy,
and a stack saves little per GAN beyond the one process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from gankit.config import TrainConfig
from gankit.data import Dataset, load_dataset
from gankit.errors import GankitError, bad_value
from gankit.losses import get_loss
from gankit.models import build_models
from gankit.trainer import STAT_NAMES, Trainer, resolve_device

# Fields that may differ between the members of one stack: they change values, never shapes.
PER_MEMBER_FIELDS = ("seed", "lr_g", "lr_d", "beta1", "beta2", "ema", "noise")
ADAM_EPS = 1e-8  # torch.optim.Adam's default, as the Trainer uses it
# Layers that act on each number alone, so that they apply to stacked (K, B, width) activations as they are.
ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.ELU, nn.GELU, nn.SiLU, nn.Softplus, nn.Identity)

__all__ = ["PER_MEMBER_FIELDS", "STAT_NAMES", "StackedTrainer", "check_stackable", "keep_freed_memory", "stack_key"]


def keep_freed_memory() -> bool:
    """Let this process keep freed memory for reuse instead of handing it back to the OS (glibc only).

    A stack's activations are blocks of megabytes. By default glibc gives such blocks back to the
    OS when they are freed and page-faults them in again on the next step, which cost about 40%
    of a stacked step on a 2-core CPU. This sets glibc's M_MMAP_THRESHOLD to 32 MiB and
    M_TRIM_THRESHOLD to 128 MiB for the whole process (it then holds up to 128 MiB of freed
    memory). `gankit.sweep` calls it; returns False, changing nothing, where malloc is not glibc's.
    """
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
        return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 128 << 20))
    except (OSError, AttributeError):
        return False


def stack_key(config: TrainConfig) -> tuple[tuple[str, Any], ...]:
    """The fields that must be equal for configs to share a stack (all but PER_MEMBER_FIELDS)."""
    return tuple(
        (f.name, getattr(config, f.name)) for f in dataclasses.fields(config) if f.name not in PER_MEMBER_FIELDS
    )


def check_stackable(config: TrainConfig) -> None:
    """GankitError unless `config` is a toy MLP GAN (the kind a stack trains)."""
    if config.is_image or config.model != "mlp" or config.conditional:
        raise GankitError(
            f"dataset={config.dataset!r} model={config.model!r} cannot be trained in a stack; "
            "accepted: a toy dataset or a point file with model='mlp' (image GANs train one at a time with gankit.train)"
        )
    if getattr(config, "precision", "fp32") == "bf16":  # toy models train in float32 ("auto" means fp32 for them)
        raise bad_value("precision", config.precision, "fp32 or auto for a stack of toy GANs (they train in float32)")


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward hands on a contiguous gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous()


def _product(width_in: int, width_out: int) -> str:
    """How a stacked Linear layer computes x @ W + b, chosen by shape (measured on one CPU thread,
    forward and backward): batched GEMMs with a single output column, or a few, are dominated by
    per-matrix overhead, so D's head is an element-wise multiply and sum, and a narrow output
    (G's head) is computed transposed, as W^T x^T."""
    if width_out == 1:
        return "dot"
    if width_out <= 8 and width_out < width_in:
        return "transposed"
    return "bmm"


def _linear(product: str, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x (K, B, in) @ weight (K, in, out) + bias (K, 1, out), for K members at once."""
    if product == "dot":
        return (x * weight.transpose(1, 2)).sum(-1, keepdim=True) + bias
    if product == "transposed":
        if x.requires_grad:  # else x's gradient comes back transposed, and the activations' backward crawls over it
            x = _ContiguousGrad.apply(x)
        return torch.baddbmm(bias.transpose(1, 2), weight.transpose(1, 2), x.transpose(1, 2)).transpose(1, 2)
    return torch.baddbmm(bias, x, weight)


class _StackedNet:
    """The layers of one network kind (G or D) for K members: stacked Linear weights, shared activations."""

    def __init__(self, modules: Sequence[nn.Module], device: torch.device):
        template = modules[0]
        # A Linear layer is marked by how its product is computed (see _linear), else the layer is an activation.
        self.layers: list[nn.Module | str] = []
        for layer in template.net:
            if isinstance(layer, nn.Linear):
                self.layers.append(_product(layer.in_features, layer.out_features))
            elif isinstance(layer, ELEMENTWISE):
                self.layers.append(layer)
            else:  # e.g. BatchNorm: weights, or statistics over the batch, that a stack would mix up
                raise GankitError(
                    f"a stacked network cannot hold a {type(layer).__name__} layer; "
                    f"accepted: Linear layers and element-wise activations ({', '.join(t.__name__ for t in ELEMENTWISE)})"
                )
        self.tanh_output = bool(getattr(template, "tanh_output", False))
        linears = [[layer for layer in module.net if isinstance(layer, nn.Linear)] for module in modules]
        params: list[torch.Tensor] = []
        for index in range(len(linears[0])):
            # (K, in, out) so that x @ W needs no transpose; biases (K, 1, out) broadcast over the batch.
            params.append(torch.stack([member[index].weight.detach().t() for member in linears]))
            params.append(torch.stack([member[index].bias.detach()[None] for member in linears]))
        self.params = [p.contiguous().to(device).requires_grad_(True) for p in params]

    def __call__(self, params: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        index = 0
        for layer in self.layers:
            if isinstance(layer, str):
                x = _linear(layer, x, params[index], params[index + 1])
                index += 2
            else:
                x = layer(x)
        return torch.tanh(x) if self.tanh_output else x

    @staticmethod
    def load_member(module: nn.Module, params: Sequence[torch.Tensor], k: int) -> None:
        """Copy member k's slice of stacked `params` into an ordinary module of the same shape."""
        linears = [layer for layer in module.net if isinstance(layer, nn.Linear)]
        with torch.no_grad():
            for index, linear in enumerate(linears):
                linear.weight.copy_(_unstack(params[2 * index], 2 * index, k))
                linear.bias.copy_(_unstack(params[2 * index + 1], 2 * index + 1, k))


def _groups(values: Sequence[Any]) -> list[tuple[Any, list[int]]]:
    """Members grouped by equal value, in order of first appearance: [(value, [k, ...]), ...]."""
    groups: dict[Any, list[int]] = {}
    for k, value in enumerate(values):
        groups.setdefault(value, []).append(k)
    return list(groups.items())


def _views(tensors: Sequence[torch.Tensor], members: list[int], total: int) -> list[torch.Tensor]:
    """The slices of stacked tensors that belong to `members`: the tensors themselves for all, one
    slice for a contiguous run, else one view per member."""
    if len(members) == total:
        return list(tensors)
    if members == list(range(members[0], members[-1] + 1)):
        return [t[members[0] : members[-1] + 1] for t in tensors]
    return [t[k] for t in tensors for k in members]


class _StackedAdam:
    """K Adams over stacked tensors: torch.optim.Adam(fused=True)'s kernel, one call per distinct (lr, beta1, beta2)."""

    def __init__(self, params: list[torch.Tensor], settings: Sequence[tuple[float, float, float]]):
        self.params = [p.detach() for p in params]  # aliases: the kernel updates the leaves in place
        self.exp_avgs = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in self.params]
        self.settings = list(settings)
        self.groups = _groups(self.settings)
        # torch.optim.Adam(fused=True) keeps a float32 step count per parameter; here they are all equal.
        self.step_count = torch.zeros((), dtype=torch.float32, device=self.params[0].device)
        self._state_views = [
            (
                setting,
                members,
                _views(self.params, members, len(self.settings)),
                _views(self.exp_avgs, members, len(self.settings)),
                _views(self.exp_avg_sqs, members, len(self.settings)),
            )
            for setting, members in self.groups
        ]

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        self.step_count.add_(1)
        total = len(self.settings)
        # The kernel walks memory in order, so gradients must have their parameters' (contiguous) layout;
        # autograd.grad returns a transposed product's gradient with transposed strides.
        grads = [g.contiguous() for g in grads]
        for (lr, beta1, beta2), members, params, exp_avgs, exp_avg_sqs in self._state_views:
            steps = [self.step_count] * len(params)
            torch._fused_adam_(
                params,
                _views(grads, members, total),
                exp_avgs,
                exp_avg_sqs,
                [],
                steps,
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                weight_decay=0.0,
                eps=ADAM_EPS,
                amsgrad=False,
                maximize=False,
                grad_scale=None,
                found_inf=None,
            )

    def member_state(self, optimizer: torch.optim.Adam, k: int) -> dict[str, Any]:
        """Member k's state in `optimizer`'s own state_dict format (optimizer: the member's Adam, not yet stepped)."""
        state = optimizer.state_dict()
        state["state"] = {
            index: {
                "step": self.step_count.clone(),
                "exp_avg": _unstack(self.exp_avgs[index], index, k),
                "exp_avg_sq": _unstack(self.exp_avg_sqs[index], index, k),
            }
            for index in range(len(self.params))
        }
        return state


def _unstack(tensor: torch.Tensor, index: int, k: int) -> torch.Tensor:
    """Member k's slice of the stacked tensor at position `index` of [W0, b0, W1, b1, ...], in nn.Linear's layout."""
    return (tensor[k].t() if index % 2 == 0 else tensor[k, 0]).contiguous().clone()


class StackedTrainer:
    """Trains K toy GANs of one shape at once; member k behaves as `Trainer(configs[k], datasets[k])`.

    `datasets` (optional) are the members' training sets, `load_dataset(config)` by default.
    `train_step()` advances every member one step and returns their statistics as a (K, 4)
    tensor (columns STAT_NAMES), without reading it.
    """

    def __init__(self, configs: Sequence[TrainConfig], datasets: Sequence[Dataset] | None = None):
        self.configs = list(configs)
        if not self.configs:
            raise GankitError("a stack needs at least one config; accepted: a non-empty list of TrainConfig")
        for config in self.configs:
            check_stackable(config)
        key = stack_key(self.configs[0])
        for config in self.configs[1:]:
            other = stack_key(config)
            if other != key:
                name, value = next((a for a, b in zip(other, key) if a != b))
                raise GankitError(
                    f"configs of one stack differ in {name} ({value!r} vs {dict(key)[name]!r}); "
                    f"accepted: configs that differ only in {', '.join(PER_MEMBER_FIELDS)} (group the others into stacks)"
                )
        self.config = config = self.configs[0]  # the shared fields
        self.K = len(self.configs)
        self.datasets = list(datasets) if datasets is not None else [load_dataset(c) for c in self.configs]
        if len(self.datasets) != self.K:
            raise GankitError(f"{len(self.datasets)} datasets for {self.K} configs; accepted: one dataset per config")
        shapes = {tuple(d.train.shape) for d in self.datasets}
        if len(shapes) != 1:
            raise GankitError(
                f"the members' training sets differ in shape ({sorted(shapes)}); accepted: training sets of one shape"
            )
        self.device = resolve_device(config.device)
        self.shape = self.datasets[0].shape

        # The members' own initial weights: the Trainer's recipe, one seed at a time.
        generators, discriminators = [], []
        for member in self.configs:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(member.seed)
                G, D = build_models(member, self.shape, 0)
            generators.append(G)
            discriminators.append(D)
        self.G, self.D = _StackedNet(generators, self.device), _StackedNet(discriminators, self.device)
        self.g_params, self.d_params = self.G.params, self.D.params
        self.g_ema = [p.detach().clone() for p in self.g_params]
        self.opt_g = _StackedAdam(self.g_params, [(c.lr_g, c.beta1, c.beta2) for c in self.configs])
        self.opt_d = _StackedAdam(self.d_params, [(c.lr_d, c.beta1, c.beta2) for c in self.configs])
        self._ema_groups = [
            (
                ema,
                members,
                _views(self.g_ema, members, self.K),
                _views([p.detach() for p in self.g_params], members, self.K),
            )
            for ema, members in _groups([c.ema for c in self.configs])
        ]

        self.loss = get_loss(config.loss)
        # vmap gives each member the mean over its own batch, as the Trainer computes it.
        self._loss_d = torch.vmap(self.loss.discriminator)
        self._loss_g = torch.vmap(self.loss.generator)
        self.rngs = [torch.Generator().manual_seed(c.seed) for c in self.configs]
        self.data = torch.stack([d.train for d in self.datasets]).to(self.device)  # (K, N, dim)
        self._offsets = torch.arange(self.K, device=self.device)[:, None] * self.data.shape[1]
        self.step = 0
        self._order = torch.stack([torch.randperm(self.data.shape[1], generator=rng) for rng in self.rngs])
        self._cursor = 0

    # ----- randomness: each member draws from its own generator, in the Trainer's order -----
    def _real_batch(self) -> torch.Tensor:
        size, n = self.config.batch_size, self.data.shape[1]
        if self._cursor + size > self._order.shape[1]:
            self._order = torch.stack([torch.randperm(n, generator=rng) for rng in self.rngs])
            self._cursor = 0
        index = self._order[:, self._cursor : self._cursor + size]
        self._cursor += size
        if size > n:  # a batch larger than the data set: draw with replacement
            index = torch.stack([torch.randint(n, (size,), generator=rng) for rng in self.rngs])
            self._cursor = 0
        rows = (index.to(self.device) + self._offsets).view(
            -1
        )  # member k's row i is row k * n + i of the flattened data
        return self.data.view(-1, self.data.shape[2]).index_select(0, rows).view(self.K, size, self.data.shape[2])

    def _noise(self, size: int) -> torch.Tensor:
        return torch.stack([torch.randn(size, self.config.latent_dim, generator=rng) for rng in self.rngs]).to(
            self.device
        )

    # ----- one step of the K games -----
    def train_step(self) -> torch.Tensor:
        """`d_steps` updates of every D on detached fakes, then one update of every G; (K, 4) statistics."""
        size = self.config.batch_size
        for _ in range(self.config.d_steps):
            real = self._real_batch()
            z = self._noise(size)
            with torch.no_grad():
                fake = self.G(self.g_params, z)
            logits = self.D(self.d_params, torch.cat([real, fake], 1)).squeeze(-1)  # one pass over real and fake
            real_logits, fake_logits = logits[:, :size], logits[:, size:]
            loss_d = self._loss_d(real_logits, fake_logits)
            self.opt_d.step(torch.autograd.grad(loss_d.sum(), self.d_params))

        z = self._noise(size)
        # Gradients for G's weights only: D's weight gradients are never computed.
        loss_g = self._loss_g(self.D(self.d_params, self.G(self.g_params, z)).squeeze(-1))
        self.opt_g.step(torch.autograd.grad(loss_g.sum(), self.g_params))
        self.step += 1
        self._update_ema()
        with torch.no_grad():
            return torch.stack(
                [
                    loss_d.detach(),
                    loss_g.detach(),
                    torch.sigmoid(real_logits).mean(1),
                    torch.sigmoid(fake_logits).mean(1),
                ],
                1,
            )

    @torch.no_grad()
    def _update_ema(self) -> None:
        for ema, _members, averages, params in self._ema_groups:
            if ema:
                decay = min(ema, (1 + self.step) / (10 + self.step))  # the Trainer's ramp
                torch._foreach_lerp_(averages, params, 1 - decay)
            else:  # no EMA: the member samples G itself
                torch._foreach_copy_(averages, params)

    # ----- sampling and members -----
    @torch.no_grad()
    def generate(self, n: int, *, seed: int, batch_size: int = 2500) -> torch.Tensor:
        """(K, n, dim) samples in model space from every member's sampler (EMA when the member has one),
        with the z that `Trainer.generate(n, seed=seed)` draws (the same for all members)."""
        rng = torch.Generator().manual_seed(seed)
        chunks = []
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            z = torch.randn(size, self.config.latent_dim, generator=rng).to(self.device)
            chunks.append(self.G(self.g_ema, z.expand(self.K, *z.shape)).cpu())
        return torch.cat(chunks, 1)

    def to_data_space(self, x: torch.Tensor) -> torch.Tensor:
        """(K, n, dim) model-space points to each member's data units."""
        mean = torch.stack([d.mean for d in self.datasets])[:, None]
        std = torch.stack([d.std for d in self.datasets])[:, None]
        return x * std + mean

    def finite(self) -> torch.Tensor:
        """(K,) bool: whether each member's weights are all finite."""
        with torch.no_grad():
            flags = [torch.isfinite(p.detach()).flatten(1).all(1) for p in (*self.g_params, *self.d_params)]
            return torch.stack(flags).all(0).cpu()

    def member_trainer(self, k: int) -> Trainer:
        """A Trainer holding member k's whole state: what `Trainer(configs[k])` would hold after `step` steps."""
        trainer = Trainer(self.configs[k], self.datasets[k])
        state = trainer.state_dict()
        for module, params in ((trainer.G, self.g_params), (trainer.D, self.d_params)):
            _StackedNet.load_member(module, params, k)
        if trainer.G_ema is not None:
            _StackedNet.load_member(trainer.G_ema, self.g_ema, k)
        state.update(
            step=self.step,
            G=trainer.G.state_dict(),
            D=trainer.D.state_dict(),
            G_ema=trainer.G_ema.state_dict() if trainer.G_ema is not None else None,
            opt_g=self.opt_g.member_state(trainer.opt_g, k) if self.step else trainer.opt_g.state_dict(),
            opt_d=self.opt_d.member_state(trainer.opt_d, k) if self.step else trainer.opt_d.state_dict(),
            rng=self.rngs[k].get_state(),
            order=self._order[k].cpu().clone(),
            cursor=self._cursor,
        )
        trainer.load_state_dict(state)
        return trainer
