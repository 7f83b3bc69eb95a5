"""The trainer: owns G, D and their two Adam optimisers, and advances the game one step at a time.

G and D are gankit's own networks for the config (`gankit.models`), or any modules the user passes,
called as `gankit.models.user` describes. The loss is the config's registered one or the user's
`gankit.Loss`. All randomness of training (data order, z, fake labels) comes from one torch.Generator
that the trainer owns, so its state plus the weights and optimiser moments are the whole state of a
run: saving and restoring them continues the run exactly.

A Trainer is a game of one member (K = 1) for the training loop (`gankit.loop`), which also trains
stacks of K GANs (`gankit.stacked`) through the same methods: `train_step`, `finite`, `samples`,
`member_state` and `load_member_state`.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from gankit import distributed
from gankit.config import TrainConfig
from gankit.data import Dataset
from gankit.errors import GankitError, bad_value
from gankit.latent import draw_latent
from gankit.losses import LOSSES, DiscriminatorBatch, GeneratorBatch, Loss
from gankit.memberstate import member_state
from gankit.models import build_models
from gankit.models.normalization import normalise_discriminator
from gankit.models.user import check_both_given, check_networks, discriminator_call, generator_call
from gankit.penalties import GradientPenalties
from gankit.resources import require
from gankit.step import Adam, BatchWalker, ema_decay, seeded, update_average

GENERATE_PIECE = 500  # samples per forward pass of G when generating (memory, not randomness: z is drawn as before)
# BigGAN's standing statistics: before the EMA of G is sampled, its batch-norm layers get the mean and variance
# of its own activations over this many training-sized batches of z (their own seed), instead of G's running
# ones, which belong to G's weights, not the average's (it lowers the MNIST models' FD).
STANDING_BATCHES = 20
STANDING_SEED = 7


def resolve_device(name: str) -> torch.device:
    """The torch device `config.device` names (auto: CUDA when there is one); GankitError for cuda without CUDA."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise bad_value("device", name, "cpu or auto (no CUDA device is available here)")
    return torch.device(name)


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AVX512-BF16 or AMX), where bf16 is about
    twice as fast as fp32."""
    try:
        capabilities = torch.cpu.get_capabilities()
    except (AttributeError, RuntimeError):
        return False
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def resolve_precision(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the networks' products (None: plain float32), as `config.precision` says.

    auto: bfloat16 for image models on a CPU with native bf16 (faster steps there at the same
    quality) and on a GPU that has it; toy models stay float32, their matrices are too small to gain.
    """
    if config.precision == "bf16":
        return torch.bfloat16
    if config.precision == "auto" and config.is_image:
        native = torch.cuda.is_bf16_supported() if device.type == "cuda" else device.type == "cpu" and native_bf16()
        return torch.bfloat16 if native else None
    return None


def resolve_loss(config: TrainConfig, loss: Loss | None) -> Loss:
    """The loss to train with: the user's, or the config's registered one."""
    if loss is not None:
        if not isinstance(loss, Loss):
            raise bad_value("loss", type(loss).__name__, "a gankit.Loss (or a registered loss name in the config)")
        return loss
    if config.loss not in LOSSES:
        raise GankitError(
            f"loss={config.loss!r} means your own loss; accepted: pass it as loss=gankit.Loss(...) "
            "(or make_loss(config) in the --models file)"
        )
    return LOSSES[config.loss]


def _require_batch_memory(generator: nn.Module, discriminator: nn.Module, batch_size: int, data_shape) -> None:
    """Refuse a batch whose activations could not be held: the fully connected layers' inputs (z among
    them: a latent of 10^7 is 5 GB a batch of 128) and outputs and the samples, float32, for the real and
    the fake batch, forward and backward (a rough upper bound)."""
    widths = sum(
        m.in_features + m.out_features
        for net in (generator, discriminator)
        for m in net.modules()
        if isinstance(m, nn.Linear)
    )
    per_sample = widths + 2 * math.prod(data_shape)
    require(f"a batch of {batch_size:,}", 4 * 8 * batch_size * per_sample, "a smaller batch_size, latent_dim or widths")


def _data_parallel(module: nn.Module, device: torch.device) -> nn.Module:
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, device_ids=[device.index or 0] if device.type == "cuda" else None)


def has_batch_norm(module: nn.Module) -> bool:
    """Whether a layer of `module` normalises over the batch (then D scores real and fake separately)."""
    return any(isinstance(m, _BatchNorm) for m in module.modules())


class Trainer:
    """One GAN: G, D (gankit's for the config, or the user's), both Adam optimisers, the EMA of G, the loss and
    the one RNG of training. `train_step()` is one step of the game; the state_dict holds the whole state."""

    K = 1  # members of this game (the training loop also trains stacks of K)

    def __init__(
        self,
        config: TrainConfig,
        dataset: Dataset,
        *,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        loss: Loss | None = None,
    ):
        self.config, self.dataset = config, dataset
        self.configs = [config]
        self.device = resolve_device(config.device)
        self.n_classes = dataset.n_classes if config.conditional else 0
        check_both_given(generator, discriminator)
        if generator is None:
            generator, discriminator = seeded(config.seed, lambda: build_models(config, dataset.shape, self.n_classes))
        calls = check_networks(
            generator,
            discriminator,
            latent_dim=config.latent_dim,
            data_shape=dataset.shape,
            n_classes=self.n_classes,
            device=torch.device("cpu"),
        )
        discriminator = normalise_discriminator(discriminator, config.d_norm, seed=config.seed)
        _require_batch_memory(generator, discriminator, config.batch_size, dataset.shape)
        self.G, self.D = generator.to(self.device), discriminator.to(self.device)
        if self.device.type == "cuda":  # let cuDNN pick the fastest convolution algorithms for these shapes
            torch.backends.cudnn.benchmark = True
        self.outputs_probability = calls.outputs_probability
        conditional, n_classes = bool(self.n_classes), self.n_classes
        self._g = generator_call(self.G, dataset.shape, conditional, calls, n_classes)
        self._d = discriminator_call(self.D, dataset.shape, conditional, calls, n_classes)
        # Data-parallel (torchrun): G and D in a DistributedDataParallel each, used for their own update only
        # (D's in its step, G's in its step, through the plain D), so each averages its own gradients.
        self.world = distributed.world()
        self._part = slice(None)
        self._g_step, self._d_step = self._g, self._d
        if self.world.active:
            share = distributed.check_batch(config.batch_size, self.world)
            self._part = slice(self.world.rank * share, (self.world.rank + 1) * share)
            self._g_step = generator_call(
                _data_parallel(self.G, self.device), dataset.shape, conditional, calls, n_classes
            )
            self._d_step = discriminator_call(
                self.D, dataset.shape, conditional, calls, n_classes, wrap=lambda d: _data_parallel(d, self.device)
            )
        # An exponential moving average of G's weights (as in StyleGAN and BigGAN) is what gets
        # sampled and evaluated: it smooths out the oscillation of the two-player game.
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False).eval() if config.ema else None
        self._ema_norms = [m for m in self.G_ema.modules() if isinstance(m, _BatchNorm)] if config.ema else []
        # The parameter lists the EMA walks each step, gathered once (as the optimisers hold theirs): loading a
        # state copies into these tensors, and walking the modules each step is Python work a toy step notices.
        self._ema_pairs = (list(self.G_ema.parameters()), list(self.G.parameters())) if config.ema else ([], [])
        self._ema_statistics_stand = False  # whether those layers hold the standing statistics of today's average
        self._sample = generator_call(self.sampler, dataset.shape, conditional, calls, n_classes)
        self._g_params = [p for p in self.G.parameters() if p.requires_grad]
        self._d_params = [p for p in self.D.parameters() if p.requires_grad]
        self.opt_g = Adam(self._g_params, [(config.lr_g, config.beta1, config.beta2)])
        self.opt_d = Adam(self._d_params, [(config.lr_d, config.beta1, config.beta2)])
        # D scores the real and the fake batch in one pass unless a layer of D mixes the samples of a batch.
        self._one_d_pass = not has_batch_norm(self.D)
        self.autocast_dtype = resolve_precision(config, self.device)
        # A run read back to sample needs no loss: one of the user's own is only asked for when training.
        self.loss = resolve_loss(config, loss) if loss is not None or config.loss in LOSSES else None
        if self.loss is not None:
            self.loss.check_discriminator(self.outputs_probability)
        self.penalties = GradientPenalties(self.configs, stacked=False, device=self.device)
        # z, labels and the data order are drawn on the device itself: no host-to-device copy per step
        self.rng = torch.Generator(device=self.device).manual_seed(config.seed)
        self.data = dataset.train.to(self.device)
        self.labels = dataset.labels.to(self.device) if dataset.labels is not None else None
        self.step = 0
        self.walker = BatchWalker(len(self.data), config.batch_size, [self.rng])

    # ----- randomness -----
    # Every rank draws the whole global batch (the same draws as one process) and keeps its own slice.
    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        index = self.walker.next()[0][self._part]
        return self.data[index], (self.labels[index] if self.n_classes else None)

    def _noise(self, size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = draw_latent(self.config, size, self.rng, self.device)[self._part]
        if not self.n_classes:
            return z, None
        return z, torch.randint(self.n_classes, (size,), generator=self.rng, device=self.device)[self._part]

    def _uniform(self) -> torch.Tensor:
        """U[0, 1) weights, one per sample of a batch (a gradient penalty's interpolation)."""
        return torch.rand(self.config.batch_size, generator=self.rng, device=self.device)[self._part]

    # ----- one step of the game -----
    def train_step(self) -> torch.Tensor:
        """`d_steps` updates of D on detached fakes, then one update of G.

        Returns the step's statistics as one tensor (see gankit.step.STAT_NAMES) without reading it,
        so that the caller decides when to pay for moving numbers to the host.
        """
        for _ in range(self.config.d_steps):
            loss_d, real_logits, fake_logits = self.d_update()
        loss_g = self.g_update()
        with torch.no_grad():
            return torch.stack([loss_d, loss_g, torch.sigmoid(real_logits).mean(), torch.sigmoid(fake_logits).mean()])

    def _loss(self) -> Loss:
        return self.loss or resolve_loss(self.config, None)  # the latter says what to pass

    def d_update(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One update of D on a real batch and detached fakes: (its loss, D's logits of real and fake), detached."""
        real, real_labels = self._real_batch()
        z, fake_labels = self._noise(self.config.batch_size)
        with self._autocast():
            with torch.no_grad():
                fake = self._g(z, fake_labels)
            real_logits, fake_logits = self._score(real, fake, real_labels, fake_labels)
        batch = DiscriminatorBatch(
            real,
            fake,
            real_labels,
            fake_labels,
            real_logits,
            fake_logits,
            self.logits,
            self.step,
            outputs_probability=self.outputs_probability,
            draw_uniform=self._uniform,
            mixes_batch=not self._one_d_pass,
        )
        loss_d = self._loss().d_loss(batch)
        if self.penalties:
            loss_d = loss_d + self.penalties(batch)
        self.opt_d.step(self._gradients(loss_d, self._d_params))
        return loss_d.detach(), real_logits.detach(), fake_logits.detach()

    def g_update(self) -> torch.Tensor:
        """One update of G through D (D unchanged), then the EMA; counts as a step. Returns G's loss, detached."""
        z, fake_labels = self._noise(self.config.batch_size)
        with self._autocast():
            fake = self._g_step(z, fake_labels)
            logits = self._d(fake, fake_labels).float()
        batch = GeneratorBatch(
            fake,
            fake_labels,
            logits,
            self.logits,
            self.step,
            outputs_probability=self.outputs_probability,
            draw_real=self._real_batch,
        )
        loss_g = self._loss().g_loss(batch)
        # Gradients for G's weights only: D's weight gradients are never computed.
        self.opt_g.step(self._gradients(loss_g, self._g_params))
        self.step += 1
        if self.G_ema is not None:
            self._update_ema()
        return loss_g.detach()

    def _gradients(self, loss: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor]:
        """d loss / d params only. Data-parallel: by backward into the params alone, which runs
        DistributedDataParallel's gradient averaging (autograd.grad would bypass it)."""
        if not self.world.active:
            return list(torch.autograd.grad(loss, params))
        torch.autograd.backward(loss, inputs=params)
        grads = [p.grad for p in params]
        for p in params:
            p.grad = None
        return grads

    def logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's float32 logits of samples x (model space), under the trainer's precision."""
        with self._autocast():
            return self._d(x, labels).float()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _score(
        self, real: torch.Tensor, fake: torch.Tensor, real_labels: torch.Tensor | None, fake_labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """D's float32 logits of the real and the fake batch (data-parallel: the first pass is through D's wrapper,
        which a backward needs once; both passes' gradients reach the weights summed, and are averaged once)."""
        if not self._one_d_pass:
            return self._d_step(real, real_labels).float(), self._d(fake, fake_labels).float()
        labels = torch.cat([real_labels, fake_labels]) if real_labels is not None else None
        logits = self._d_step(torch.cat([real, fake.to(real.dtype)]), labels).float()
        return logits[: len(real)], logits[len(real) :]

    @torch.no_grad()
    def _update_ema(self) -> None:
        update_average(*self._ema_pairs, ema_decay(self.config.ema, self.step))
        for ema_buffer, buffer in zip(self.G_ema.buffers(), self.G.buffers()):
            ema_buffer.copy_(buffer)
        self._ema_statistics_stand = False

    @torch.no_grad()
    def _stand_ema_statistics(self) -> None:
        """The EMA's batch-norm statistics from its own activations (STANDING_BATCHES); training's RNG untouched."""
        momenta = [norm.momentum for norm in self._ema_norms]
        for norm in self._ema_norms:
            norm.reset_running_stats()
            norm.momentum = None  # a plain average over the batches below
        rng = torch.Generator(device=self.device).manual_seed(STANDING_SEED)
        size, was_training = self.config.batch_size, self.G_ema.training
        self.G_ema.train()
        for _ in range(STANDING_BATCHES):
            z = draw_latent(self.config, size, rng, self.device)
            labels = torch.randint(max(self.n_classes, 1), (size,), generator=rng, device=self.device)
            self._sample(z, labels if self.n_classes else None)
        self.G_ema.train(was_training)
        for norm, momentum in zip(self._ema_norms, momenta):
            norm.momentum = momentum
        self._ema_statistics_stand = True

    @property
    def sampler(self) -> nn.Module:
        """The generator to sample from: the EMA copy when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    # ----- sampling -----
    @torch.no_grad()
    def generate(
        self,
        n: int,
        *,
        seed: int,
        labels: torch.Tensor | None = None,
        z: torch.Tensor | None = None,
        batch_size: int = 2500,
    ) -> torch.Tensor:
        """n generated samples in model space, drawn with their own generator (the training RNG is untouched).

        `z` (n, latent_dim) replaces the draws of z; conditional runs take `labels` (n,), else balanced draws.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise bad_value("n", n, "a positive whole number of samples")
        # the samples, their numpy copy for the caller and the latent points
        require(f"{n:,} samples", 4 * n * (2 * math.prod(self.dataset.shape) + self.config.latent_dim), "a smaller n")
        rng = torch.Generator().manual_seed(seed)
        if self._ema_norms and not self._ema_statistics_stand:
            self._stand_ema_statistics()
        generator = self.sampler
        was_training = generator.training
        generator.eval()
        chunks = []
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            z_chunk = (z[start : start + size] if z is not None else draw_latent(self.config, size, rng)).to(
                self.device
            )
            chunk_labels = None
            if self.n_classes:
                chunk_labels = (
                    labels[start : start + size]
                    if labels is not None
                    else torch.randint(self.n_classes, (size,), generator=rng)
                ).to(self.device)
            # G sees at most GENERATE_PIECE samples at once (the same z, drawn above): a DCGAN's activations
            # for thousands of images at once take more memory than its whole training.
            for piece in range(0, size, GENERATE_PIECE):
                part = slice(piece, piece + GENERATE_PIECE)
                chunks.append(self._sample(z_chunk[part], chunk_labels[part] if self.n_classes else None).cpu())
        generator.train(was_training)
        if self.device.type == "cuda":  # hand the activations' memory back for training or other processes
            torch.cuda.empty_cache()
        return torch.cat(chunks)

    @contextlib.contextmanager
    def sampled_generator(self) -> Iterator[Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]]:
        """`g(z, labels)`: the generator that `generate` samples (EMA included), in evaluation mode, float32,
        with gradients (a sampler differentiates it); z and labels on the trainer's device."""
        if self._ema_norms and not self._ema_statistics_stand:
            self._stand_ema_statistics()
        generator = self.sampler
        was_training = generator.training
        generator.eval()
        try:
            yield self._sample
        finally:
            generator.train(was_training)

    @torch.no_grad()
    def d_probability(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's P(real) for samples in model space."""
        was_training = self.D.training
        self.D.eval()
        try:
            return torch.sigmoid(self._d(x.to(self.device), labels)).float().cpu()
        finally:
            self.D.train(was_training)

    # ----- the game's interface for the training loop (one member) -----
    def finite(self) -> torch.Tensor:
        """(1,) bool: whether every weight is finite."""
        with torch.no_grad():
            return torch.stack([torch.isfinite(p).all() for p in (*self.G.parameters(), *self.D.parameters())]).all()[
                None
            ]

    def samples(self, n: int, *, seed: int, labels: torch.Tensor | None = None) -> list[torch.Tensor]:
        """[n samples in data units], as `generate` draws them."""
        return [self.dataset.to_data_space(self.generate(n, seed=seed, labels=labels))]

    def member_state(self, k: int = 0) -> dict[str, Any]:
        """A snapshot of the whole state (state_dict() holds the live tensors)."""
        return copy.deepcopy(self.state_dict())

    def load_member_state(self, k: int, state: dict[str, Any]) -> None:
        """Put a state of `member_state`'s format back (a Trainer has one member, k = 0)."""
        self.load_state_dict(state)

    # ----- state -----
    def state_dict(self) -> dict[str, Any]:
        """The whole state of the run (live tensors): weights, EMA, optimisers, RNG, data order, step."""
        return member_state(
            step=self.step,
            G=self.G.state_dict(),
            G_ema=self.G_ema.state_dict() if self.G_ema is not None else None,
            D=self.D.state_dict(),
            opt_g=self.opt_g.state_dict(),
            opt_d=self.opt_d.state_dict(),
            rng=self.rng.get_state(),
            order=self.walker.order[0],
            cursor=self.walker.cursor,
            data=self.dataset,
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a `state_dict()`: the next steps are those the saved run would have taken."""
        self.G.load_state_dict(state["G"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"])
            self._ema_statistics_stand = False
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.rng.set_state(state["rng"])
        self.walker.order, self.walker.cursor, self.step = state["order"][None], state["cursor"], state["step"]

    def weights_are_finite(self) -> bool:
        """Whether every weight of G and D is finite."""
        return bool(self.finite()[0])
