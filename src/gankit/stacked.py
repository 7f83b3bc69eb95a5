"""K toy GANs of one shape trained as one: stacked weights, batched matrix products, one fused Adam.

Member k of a `StackedTrainer` does what `Trainer(configs[k])` does, up to float rounding in the
matrix products, because both are made of the same pieces (`gankit.step`):

- the same initial weights (its nets are built under `seeded(seed)`, then copied into the stack), or
  the user's own modules, one pair per member;
- its own training set and its own `torch.Generator(seed)`, from which a `BatchWalker` draws its data
  order and every z in the same sequence;
- the same loss object (plain-function losses are vmapped so that each member gets its own mean),
  the same `d_steps`, the same EMA of G with its ramp, and the same Adam kernel, called on the stacked
  tensors: Adam is element-wise, so one call over (K, in, out) tensors is K independent optimisers;
  members whose learning rates or betas differ get one call each per distinct setting, on views.

Linear layers become `torch.baddbmm(bias (K,1,out), x (K,B,in), W (K,in,out))`; element-wise
activations apply to the stacked activations as they are. `member_state(k)` is member k's whole state
in a Trainer's checkpoint format (weights, EMA, Adam moments, RNG, data order), and
`load_member_state(k, state)` puts such a state back, so a stack is saved as K ordinary run folders
and resumed from them exactly.

A network can be stacked when it is an `nn.Sequential` (gankit's MLPs hold one) of `nn.Linear` layers
and element-wise activations; a D that ends in `nn.Sigmoid` is stacked without it (its logit, as
the Trainer does). `stack_refusal` says in one line why a member cannot join a stack.

Spectral normalisation of D's layers (`d_norm="spectral"`, or the user's own torch spectral_norm on a
Linear layer of D) is stacked too: the members' singular vectors u (K, out) and v (K, in) are kept per
layer, and every pass of the stacked D runs the one power iteration that torch's spectral_norm runs in
each forward pass of a D in training mode (`gankit.models.normalization.stacked_spectral_weight`); the
stack calls D as often, and in the same order, as the Trainer does. A member's state holds them under
torch's names (`...parametrizations.weight.original`, `..._u`, `..._v`), as a Trainer's checkpoint does.
Penalties on D's gradients (`gankit.penalties`) take each member's own weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit.config import TrainConfig
from gankit.data import Dataset, load_dataset
from gankit.errors import GankitError
from gankit.latent import draw_latent
from gankit.losses import DiscriminatorBatch, GeneratorBatch, Loss
from gankit.memberstate import member_state
from gankit.models import MLPDiscriminator, MLPGenerator, build_models
from gankit.models.normalization import (
    is_spectral,
    normalise_discriminator,
    singular_vectors,
    stacked_spectral_weight,
    trained_weight,
)
from gankit.models.user import ends_in_sigmoid
from gankit.penalties import PENALTIES, GradientPenalties
from gankit.step import STAT_NAMES, Adam, BatchWalker, ema_decay, member_groups, member_views, seeded, update_average
from gankit.trainer import resolve_device, resolve_loss

# Fields that may differ between the members of one stack: they change values, never shapes (each penalty's
# weight among them, as its registry entry names it).
PER_MEMBER_FIELDS = (
    "seed", "lr_g", "lr_d", "beta1", "beta2", "ema", "noise", *(penalty.field for _, penalty in PENALTIES.items())
)  # fmt: skip
# Layers that act on each number alone, so that they apply to stacked (K, B, width) activations as they are.
ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.ELU, nn.GELU, nn.SiLU, nn.Softplus, nn.Identity)

__all__ = [
    "PER_MEMBER_FIELDS",
    "STAT_NAMES",
    "StackedTrainer",
    "keep_freed_memory",
    "stack_key",
    "stack_refusal",
]


def keep_freed_memory() -> bool:
    """Let this process keep freed memory for reuse instead of handing it back to the OS (glibc only).

    A stack's activations are blocks of megabytes. By default glibc gives such blocks back to the
    OS when they are freed and page-faults them in again on the next step, a large share of a
    stacked step's time. This sets glibc's M_MMAP_THRESHOLD to 32 MiB and
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


def _layers(module: nn.Module, role: str) -> list[nn.Module]:
    """The layers a stack computes for `module`: Linear layers and element-wise activations, in order."""
    if isinstance(module, (MLPGenerator, MLPDiscriminator)):
        if module.n_classes:
            raise GankitError(f"a conditional {role} cannot be stacked (a stack computes label-free networks only)")
        layers = list(module.net) + ([nn.Tanh()] if getattr(module, "tanh_output", False) else [])
    elif isinstance(module, nn.Sequential):
        layers = list(module)
    else:
        raise GankitError(f"the {role} ({type(module).__name__}) is not an nn.Sequential, so it cannot be stacked")
    if role == "discriminator" and ends_in_sigmoid(nn.Sequential(*layers)):
        layers = layers[:-1]  # trained on its logit, as the Trainer does
    for layer in layers:
        if not isinstance(layer, (nn.Linear, *ELEMENTWISE)):
            raise GankitError(
                f"the {role} holds a {type(layer).__name__} layer, which a stack cannot compute (it has weights, or "
                f"statistics over the batch); stacks take Linear layers and element-wise activations"
            )
        if parametrize.is_parametrized(layer) and not _stackable_parametrization(layer, role):
            raise GankitError(
                f"the {role} holds a Linear layer with a parametrization a stack cannot compute; stacks take "
                "spectral normalisation of the discriminator's weights only"
            )
    if not any(isinstance(layer, nn.Linear) for layer in layers):
        raise GankitError(f"the {role} has no Linear layer, so it cannot be stacked")
    return layers


def _stackable_parametrization(layer: nn.Module, role: str) -> bool:
    """Whether a parametrized layer is what a stack computes: torch's spectral_norm alone, on a weight of D."""
    parametrized = layer.parametrizations
    only_the_weight = list(parametrized) == ["weight"] and len(parametrized.weight) == 1
    return role == "discriminator" and only_the_weight and is_spectral(layer)


def stack_refusal(
    config: TrainConfig, loss: Loss | None = None, networks: tuple[nn.Module, nn.Module] | None = None
) -> str | None:
    """Why a GAN of this config (and these networks and loss) cannot be trained in a stack; None when it can."""
    if config.is_image or config.conditional:
        return f"dataset={config.dataset!r} is image data, which trains one GAN at a time"
    if config.precision == "bf16":
        return "precision='bf16': stacks of toy GANs train in float32"
    try:
        chosen_loss = resolve_loss(config, loss)
    except GankitError as error:
        return str(error)
    if not chosen_loss.handles_stacks:
        return (
            f"the loss {type(chosen_loss).__name__} does not say it handles a stack's (K, B) batches (handles_stacks)"
        )
    try:
        if networks is None:
            networks = seeded(config.seed, lambda: build_models(config, (1,), 0))
        for role, module in zip(("generator", "discriminator"), networks):
            _layers(module, role)
    except GankitError as error:
        return str(error)
    return None


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


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [layer for layer in module.modules() if isinstance(layer, nn.Linear)]


def _to_module(tensor: torch.Tensor, index: int, k: int) -> torch.Tensor:
    """Member k's slice of the stacked tensor at position `index` of [W0, b0, W1, b1, ...], in nn.Linear's layout."""
    return (tensor[k].t() if index % 2 == 0 else tensor[k, 0]).contiguous().clone()


def _to_stack(value: torch.Tensor, index: int) -> torch.Tensor:
    """The inverse of `_to_module`: a module's weight (out, in) or bias (out,) as one member's stacked slice."""
    return value.t() if index % 2 == 0 else value[None]


def _tensors(module: nn.Module) -> list[torch.Tensor]:
    """A module's trained tensors in a stack's order: [W0, b0, W1, b1, ...] of its Linear layers."""
    return [tensor for linear in _linears(module) for tensor in (trained_weight(linear), linear.bias)]


class _StackedNet:
    """The layers of one network kind (G or D) for K members: stacked Linear weights, shared activations,
    and the singular vectors of the layers that have spectral normalisation."""

    def __init__(self, modules: Sequence[nn.Module], role: str, device: torch.device):
        # A Linear layer is marked by how its product is computed (see _linear), else the layer is an activation.
        self.layers: list[nn.Module | str] = [
            _product(layer.in_features, layer.out_features) if isinstance(layer, nn.Linear) else layer
            for layer in _layers(modules[0], role)
        ]
        shapes = {tuple(p.shape for p in module.parameters()) for module in modules}
        if len(shapes) != 1:
            raise GankitError(f"the members' {role}s differ in shape; accepted: networks of one shape in a stack")
        # (K, in, out) so that x @ W needs no transpose; biases (K, 1, out) broadcast over the batch.
        members = [_tensors(module) for module in modules]
        params = [torch.stack([_to_stack(m[i].detach(), i) for m in members]) for i in range(len(members[0]))]
        self.params = [p.contiguous().to(device).requires_grad_(True) for p in params]
        # Where each parameter of a member's module is in `params` (a parametrized layer lists its bias first).
        position = {id(tensor): index for index, tensor in enumerate(members[0])}
        self.order = [position[id(p)] for p in modules[0].parameters()]
        # Per Linear layer: the members' singular vectors (u (K, out), v (K, in)) under spectral norm, else None.
        linears = [_linears(module) for module in modules]
        self.vectors = [
            tuple(
                torch.stack([getattr(singular_vectors(member[index]), name) for member in linears]).to(device)
                for name in ("_u", "_v")
            )
            if is_spectral(layer)
            else None
            for index, layer in enumerate(linears[0])
        ]

    def __call__(self, params: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """The members' outputs (K, B, out); each pass runs one power iteration of every spectral norm, as a
        torch module's forward in training mode does."""
        index = 0
        for layer in self.layers:
            if isinstance(layer, str):
                weight, vectors = params[index], self.vectors[index // 2]
                if vectors is not None:
                    weight = stacked_spectral_weight(weight, *vectors)
                x = _linear(layer, x, weight, params[index + 1])
                index += 2
            else:
                x = layer(x)
        return x

    def _member_vectors(self, module: nn.Module) -> list[tuple[tuple[torch.Tensor, torch.Tensor], Any]]:
        """[(the stacked vectors (u, v), the module layer's spectral_norm)] of the spectrally normalised layers."""
        return [
            (vectors, singular_vectors(linear))
            for vectors, linear in zip(self.vectors, _linears(module))
            if vectors is not None
        ]

    def load_member(self, module: nn.Module, params: Sequence[torch.Tensor], k: int) -> None:
        """Copy member k's slice of stacked `params` (and its singular vectors) into an ordinary module of the
        same shape."""
        with torch.no_grad():
            for index, tensor in enumerate(_tensors(module)):
                tensor.copy_(_to_module(params[index], index, k))
            for (u, v), norm in self._member_vectors(module):
                norm._u.copy_(u[k])
                norm._v.copy_(v[k])

    def store_member(
        self, module_state: dict[str, torch.Tensor], module: nn.Module, params: Sequence[torch.Tensor], k: int
    ) -> None:
        """Put the weights (and singular vectors) of a module's state dict into member k's slices."""
        names = {id(tensor): name for name, tensor in module.state_dict(keep_vars=True).items()}
        with torch.no_grad():
            for index, tensor in enumerate(_tensors(module)):
                params[index][k].copy_(_to_stack(module_state[names[id(tensor)]], index))
            for (u, v), norm in self._member_vectors(module):
                u[k].copy_(module_state[names[id(norm._u)]])
                v[k].copy_(module_state[names[id(norm._v)]])


class StackedTrainer:
    """Trains K toy GANs of one shape at once; member k behaves as `Trainer(configs[k], datasets[k])`.

    `datasets` (optional) are the members' training sets, `load_dataset(config)` by default;
    `networks` (optional) one (G, D) pair of modules per member, gankit's own for each config by
    default; `loss` the loss of every member (the config's by default). `train_step()` advances every
    member one step and returns their statistics as a (K, 4) tensor (columns STAT_NAMES), without reading it.
    """

    n_classes = 0  # a stack trains points, which have no classes

    def __init__(
        self,
        configs: Sequence[TrainConfig],
        datasets: Sequence[Dataset] | None = None,
        *,
        networks: Sequence[tuple[nn.Module, nn.Module]] | None = None,
        loss: Loss | None = None,
    ):
        self.configs = list(configs)
        if not self.configs:
            raise GankitError("a stack needs at least one config; accepted: a non-empty list of TrainConfig")
        key = stack_key(self.configs[0])
        for config in self.configs[1:]:
            other = stack_key(config)
            if other != key:
                name, value = next(a for a, b in zip(other, key) if a != b)
                raise GankitError(
                    f"configs of one stack differ in {name} ({value!r} vs {dict(key)[name]!r}); accepted: configs "
                    f"that differ only in {', '.join(PER_MEMBER_FIELDS)} (group the others into stacks)"
                )
        self.config = config = self.configs[0]  # the shared fields
        self.K = len(self.configs)
        refusal = stack_refusal(config, loss, tuple(networks[0]) if networks else None)
        if refusal:
            raise GankitError(f"these GANs cannot be trained in a stack: {refusal}")
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
        if networks is None:  # the members' own initial weights: the Trainer's recipe, one seed at a time
            networks = [seeded(c.seed, lambda c=c: build_models(c, self.shape, 0)) for c in self.configs]
        if len(networks) != self.K:
            raise GankitError(f"{len(networks)} network pairs for {self.K} configs; accepted: one (G, D) per config")
        # D's normalisation as the Trainer applies it, under each member's seed
        self.networks = [(g, normalise_discriminator(d, c.d_norm, seed=c.seed)) for (g, d), c in zip(networks, configs)]
        self.loss = resolve_loss(config, loss)
        self.outputs_probability = ends_in_sigmoid(self.networks[0][1])
        self.loss.check_discriminator(self.outputs_probability)
        self.penalties = GradientPenalties(self.configs, stacked=True, device=self.device)
        self.G = _StackedNet([g for g, _ in self.networks], "generator", self.device)
        self.D = _StackedNet([d for _, d in self.networks], "discriminator", self.device)
        self.g_params, self.d_params = self.G.params, self.D.params
        self.g_ema = [p.detach().clone() for p in self.g_params]
        self.opt_g = self._adam(self.g_params, [(c.lr_g, c.beta1, c.beta2) for c in self.configs], self.G.order)
        self.opt_d = self._adam(self.d_params, [(c.lr_d, c.beta1, c.beta2) for c in self.configs], self.D.order)
        self._ema_groups = [
            (
                ema,
                member_views(self.g_ema, members, self.K),
                member_views([p.detach() for p in self.g_params], members, self.K),
            )
            for ema, members in member_groups([c.ema for c in self.configs])
        ]
        # on the device, as the Trainer's: a CUDA stack draws its noise and batches there, without copies
        self.rngs = [torch.Generator(device=self.device).manual_seed(c.seed) for c in self.configs]
        self.data = torch.stack([d.train for d in self.datasets]).to(self.device)  # (K, N, dim)
        self._offsets = torch.arange(self.K, device=self.device)[:, None] * self.data.shape[1]
        self.step = 0
        self.walker = BatchWalker(self.data.shape[1], config.batch_size, self.rngs)

    # ----- randomness: each member draws from its own generator, in the Trainer's order -----
    def _real_batch(self) -> torch.Tensor:
        size, dim = self.config.batch_size, self.data.shape[2]
        rows = (self.walker.next() + self._offsets).view(-1)  # member k's row i is row k * n + i
        return self.data.view(-1, dim).index_select(0, rows).view(self.K, size, dim)

    def _noise(self, size: int) -> torch.Tensor:
        return torch.stack(
            [draw_latent(config, size, rng, self.device) for config, rng in zip(self.configs, self.rngs)]
        )

    def _uniform(self) -> torch.Tensor:
        """(K, batch) U[0, 1) weights, each member's from its own generator, as `Trainer._uniform` draws them;
        a member whose penalties use none draws none (zeros), as its own Trainer does."""
        size, device = self.config.batch_size, self.device
        draws = [
            torch.rand(size, generator=rng, device=device) if draw else torch.zeros(size, device=device)
            for rng, draw in zip(self.rngs, self.penalties.draws_uniform)
        ]
        return torch.stack(draws)

    def logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's logits (K, B) of stacked samples x (K, B, dim)."""
        return self.D(self.d_params, x).squeeze(-1)

    # ----- one step of the K games -----
    def train_step(self) -> torch.Tensor:
        """`d_steps` updates of every D on detached fakes, then one update of every G; (K, 4) statistics."""
        size = self.config.batch_size
        for _ in range(self.config.d_steps):
            real = self._real_batch()
            z = self._noise(size)
            with torch.no_grad():
                fake = self.G(self.g_params, z)
            logits = self.logits(torch.cat([real, fake], 1))  # one pass over real and fake
            real_logits, fake_logits = logits[:, :size], logits[:, size:]
            batch = DiscriminatorBatch(
                real,
                fake,
                None,
                None,
                real_logits,
                fake_logits,
                self.logits,
                self.step,
                stacked=True,
                outputs_probability=self.outputs_probability,
                draw_uniform=self._uniform,
            )
            loss_d = self.loss.d_loss(batch)
            if self.penalties:
                loss_d = loss_d + self.penalties(batch)
            self.opt_d.step(torch.autograd.grad(loss_d.sum(), self.d_params))

        fake = self.G(self.g_params, self._noise(size))
        batch = GeneratorBatch(
            fake,
            None,
            self.logits(fake),
            self.logits,
            self.step,
            stacked=True,
            outputs_probability=self.outputs_probability,
            draw_real=lambda: (self._real_batch(), None),
        )
        # Gradients for G's weights only: D's weight gradients are never computed.
        loss_g = self.loss.g_loss(batch)
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
        for ema, averages, params in self._ema_groups:
            # ema 0: the member samples G itself (a decay of 0 copies)
            update_average(averages, params, ema_decay(ema, self.step) if ema else 0.0)

    # ----- sampling -----
    @torch.no_grad()
    def generate(self, n: int, *, seed: int, batch_size: int = 2500) -> torch.Tensor:
        """(K, n, dim) samples in model space from every member's sampler (EMA when the member has one),
        with the z that `Trainer.generate(n, seed=seed)` draws (the same for all members)."""
        rng = torch.Generator().manual_seed(seed)
        chunks = []
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            z = draw_latent(self.config, size, rng).to(self.device)
            chunks.append(self.G(self.g_ema, z.expand(self.K, *z.shape)).cpu())
        return torch.cat(chunks, 1)

    def to_data_space(self, x: torch.Tensor) -> torch.Tensor:
        """(K, n, dim) model-space points to each member's data units."""
        mean = torch.stack([d.mean for d in self.datasets])[:, None]
        std = torch.stack([d.std for d in self.datasets])[:, None]
        return x * std + mean

    # ----- the game's interface for the training loop -----
    def finite(self) -> torch.Tensor:
        """(K,) bool: whether each member's weights are all finite."""
        with torch.no_grad():
            flags = [torch.isfinite(p.detach()).flatten(1).all(1) for p in (*self.g_params, *self.d_params)]
            return torch.stack(flags).all(0).cpu()

    def samples(self, n: int, *, seed: int, labels: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Each member's n samples in data units, with the z that `Trainer.samples` draws."""
        return list(self.to_data_space(self.generate(n, seed=seed)))

    @staticmethod
    def _adam(params: list[torch.Tensor], settings: list[tuple[float, float, float]], order: list[int]) -> Adam:
        """The K members' Adam over stacked tensors, each member's state in its own modules' layout."""
        return Adam(params, settings, order=order, to_module=_to_module, to_stack=_to_stack)

    def member_state(self, k: int) -> dict[str, Any]:
        """Member k's whole state, in the format of `Trainer.state_dict()` (a run checkpoint)."""
        G, D = self.networks[k]
        self.G.load_member(G, self.g_params, k)
        self.D.load_member(D, self.d_params, k)
        g_state = {name: t.clone() for name, t in G.state_dict().items()}
        ema_state = None
        if self.configs[k].ema:
            self.G.load_member(G, self.g_ema, k)
            ema_state = {name: t.clone() for name, t in G.state_dict().items()}
            self.G.load_member(G, self.g_params, k)
        return member_state(
            step=self.step,
            G=g_state,
            G_ema=ema_state,
            D={name: t.clone() for name, t in D.state_dict().items()},
            opt_g=self.opt_g.state_dict(k),
            opt_d=self.opt_d.state_dict(k),
            rng=self.rngs[k].get_state(),
            order=self.walker.order[k].cpu().clone(),
            cursor=self.walker.cursor,
            data=self.datasets[k],
        )

    def load_member_state(self, k: int, state: dict[str, Any]) -> None:
        """Put member k's state (`member_state`'s format) back into the stack; all members must be at one step."""
        if self.step and state["step"] != self.step:
            raise GankitError(f"member {k}'s checkpoint is at step {state['step']}, the stack's at {self.step}")
        G, D = self.networks[k]
        self.G.store_member(state["G"], G, self.g_params, k)
        self.D.store_member(state["D"], D, self.d_params, k)
        self.G.store_member(state["G_ema"] if state["G_ema"] is not None else state["G"], G, self.g_ema, k)
        self.opt_g.load_state_dict(state["opt_g"], k)
        self.opt_d.load_state_dict(state["opt_d"], k)
        self.rngs[k].set_state(state["rng"])
        self.walker.order[k] = state["order"].to(self.device)
        self.walker.cursor, self.step = state["cursor"], state["step"]
