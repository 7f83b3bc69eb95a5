"""The trainer: owns G, D and their two Adam optimisers, and advances the game one step at a time.

All randomness of training (data order, z, fake labels) comes from one torch.Generator that
the trainer owns, so its state plus the weights and optimiser moments are the whole state of
a run: saving and restoring them continues the run exactly.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import torch
from torch import nn

from gankit.config import TrainConfig
from gankit.data import Dataset
from gankit.losses import get_loss
from gankit.models import build_models

STAT_NAMES = ("loss_d", "loss_g", "d_real", "d_fake")
GENERATE_PIECE = 500  # samples per forward pass of G when generating (memory, not randomness: z is drawn as before)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from gankit.errors import bad_value

        raise bad_value("device", name, "cpu or auto (no CUDA device is available here)")
    return torch.device(name)


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AVX512-BF16 or AMX), where bf16 is about twice as fast as fp32."""
    try:
        capabilities = torch.cpu.get_capabilities()
    except (AttributeError, RuntimeError):
        return False
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def resolve_precision(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the networks' products (None: plain float32), as `config.precision` says.

    auto: bfloat16 for image models on a CPU with native bf16 (1.4-1.6x faster steps there, same
    quality); toy models stay float32, their matrices are too small to gain.
    """
    if config.precision == "bf16":
        return torch.bfloat16
    if config.precision == "auto" and config.is_image and device.type == "cpu" and native_bf16():
        return torch.bfloat16
    return None


class Trainer:
    def __init__(self, config: TrainConfig, dataset: Dataset):
        self.config, self.dataset = config, dataset
        self.device = resolve_device(config.device)
        with torch.random.fork_rng(devices=[]):  # seed the initial weights without touching the caller's RNG
            torch.manual_seed(config.seed)
            G, D = build_models(config, dataset.shape, dataset.n_classes)
        self.G, self.D = G.to(self.device), D.to(self.device)
        # An exponential moving average of G's weights (as in StyleGAN and BigGAN) is what gets
        # sampled and evaluated: it smooths out the oscillation of the two-player game.
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False).eval() if config.ema else None
        self.n_classes = dataset.n_classes if config.conditional else 0
        self.opt_g = self._adam(self.G, config.lr_g)
        self.opt_d = self._adam(self.D, config.lr_d)
        self._g_params, self._d_params = list(self.G.parameters()), list(self.D.parameters())
        self._adam_lists: dict[int, tuple[list[torch.Tensor], ...]] = {}
        # D scores the real and the fake batch in one pass unless a layer of D mixes the samples of a batch.
        self._one_d_pass = not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.D.modules())
        self.autocast_dtype = resolve_precision(config, self.device)
        self.loss = get_loss(config.loss)
        self.rng = torch.Generator().manual_seed(config.seed)
        self.data = dataset.train.to(self.device)
        self.labels = dataset.labels.to(self.device) if dataset.labels is not None else None
        self.step = 0
        # Batches walk through a random permutation (one epoch) and draw a new one when it runs out.
        self._order = torch.randperm(len(self.data), generator=self.rng)
        self._cursor = 0

    def _adam(self, module: torch.nn.Module, lr: float) -> torch.optim.Adam:
        # The fused kernel updates all tensors in one pass: the cheapest Adam on CPU and GPU alike.
        return torch.optim.Adam(module.parameters(), lr=lr, betas=(self.config.beta1, self.config.beta2), fused=True)

    # ----- randomness -----
    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        size = self.config.batch_size
        if self._cursor + size > len(self._order):
            self._order = torch.randperm(len(self.data), generator=self.rng)
            self._cursor = 0
        index = self._order[self._cursor : self._cursor + size]
        self._cursor += size
        if size > len(self.data):  # a batch larger than the data set: draw with replacement
            index = torch.randint(len(self.data), (size,), generator=self.rng)
            self._cursor = 0
        index = index.to(self.device)
        return self.data[index], (self.labels[index] if self.n_classes else None)

    def _noise(self, size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(size, self.config.latent_dim, generator=self.rng).to(self.device)
        labels = torch.randint(self.n_classes, (size,), generator=self.rng).to(self.device) if self.n_classes else None
        return z, labels

    # ----- one step of the game -----
    def train_step(self) -> torch.Tensor:
        """`d_steps` updates of D on detached fakes, then one update of G.

        Returns the step's statistics as one tensor (see STAT_NAMES) without reading it,
        so that the caller decides when to pay for moving numbers to the host.
        """
        for _ in range(self.config.d_steps):
            real, real_labels = self._real_batch()
            z, fake_labels = self._noise(len(real))
            with self._autocast():
                with torch.no_grad():
                    fake = self.G(z, fake_labels)
                real_logits, fake_logits = self._score(real, fake, real_labels, fake_labels)
            loss_d = self.loss.discriminator(real_logits, fake_logits)
            self._adam_step(self.opt_d, self._d_params, torch.autograd.grad(loss_d, self._d_params))

        z, fake_labels = self._noise(self.config.batch_size)
        with self._autocast():
            logits = self.D(self.G(z, fake_labels), fake_labels).float()
        loss_g = self.loss.generator(logits)
        # Gradients for G's weights only: D's weight gradients are never computed.
        self._adam_step(self.opt_g, self._g_params, torch.autograd.grad(loss_g, self._g_params))
        self.step += 1
        if self.G_ema is not None:
            self._update_ema()
        with torch.no_grad():
            return torch.stack(
                [loss_d.detach(), loss_g.detach(), torch.sigmoid(real_logits).mean(), torch.sigmoid(fake_logits).mean()]
            )

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _score(
        self, real: torch.Tensor, fake: torch.Tensor, real_labels: torch.Tensor | None, fake_labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """D's float32 logits of the real and the fake batch."""
        if not self._one_d_pass:
            return self.D(real, real_labels).float(), self.D(fake, fake_labels).float()
        labels = torch.cat([real_labels, fake_labels]) if real_labels is not None else None
        logits = self.D(torch.cat([real, fake.to(real.dtype)]), labels).float()
        return logits[: len(real)], logits[len(real) :]

    @torch.no_grad()
    def _adam_step(
        self, optimizer: torch.optim.Adam, params: list[torch.Tensor], grads: tuple[torch.Tensor, ...]
    ) -> None:
        """What `optimizer.step()` does with these gradients, bit for bit (the same fused kernel on the
        optimizer's own state), without its per-call Python work, which costs as much as the kernel
        on toy models. The state is created on the first step as Adam(fused=True) creates it."""
        lists = self._adam_lists.get(id(optimizer))
        if lists is None or lists[0][0] is not optimizer.state.get(params[0], {}).get(
            "exp_avg"
        ):  # new, or replaced by load_state_dict
            for p in params:
                state = optimizer.state[p]
                if not state:
                    state.update(
                        step=torch.zeros((), dtype=torch.float32, device=p.device),
                        exp_avg=torch.zeros_like(p, memory_format=torch.preserve_format),
                        exp_avg_sq=torch.zeros_like(p, memory_format=torch.preserve_format),
                    )
            lists = tuple([optimizer.state[p][key] for p in params] for key in ("exp_avg", "exp_avg_sq", "step"))
            self._adam_lists[id(optimizer)] = lists
        exp_avgs, exp_avg_sqs, steps = lists
        group = optimizer.param_groups[0]
        grads = [
            g if g.stride() == p.stride() else torch.empty_like(p).copy_(g) for p, g in zip(params, grads)
        ]  # the kernel needs p's layout
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            amsgrad=False,
            lr=group["lr"],
            beta1=group["betas"][0],
            beta2=group["betas"][1],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
            grad_scale=None,
            found_inf=None,
        )

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Ramp the decay up over the first steps so that the average soon forgets the random init.
        decay = min(self.config.ema, (1 + self.step) / (10 + self.step))
        torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1 - decay)
        for ema_buffer, buffer in zip(self.G_ema.buffers(), self.G.buffers()):
            ema_buffer.copy_(buffer)

    @property
    def sampler(self) -> torch.nn.Module:
        """The generator to sample from: the EMA copy when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    # ----- sampling -----
    @torch.no_grad()
    def generate(
        self, n: int, *, seed: int, labels: torch.Tensor | None = None, batch_size: int = 2500
    ) -> torch.Tensor:
        """n generated samples in model space, drawn with their own generator (the training RNG is untouched)."""
        rng = torch.Generator().manual_seed(seed)
        generator = self.sampler
        was_training = generator.training
        generator.eval()
        chunks = []
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            z = torch.randn(size, self.config.latent_dim, generator=rng).to(self.device)
            chunk_labels = None
            if self.n_classes:
                chunk_labels = (
                    labels[start : start + size]
                    if labels is not None
                    else torch.randint(self.n_classes, (size,), generator=rng)
                )
                chunk_labels = chunk_labels.to(self.device)
            # G sees at most GENERATE_PIECE samples at once (the same z, drawn above): a DCGAN's activations
            # for 2,500 images at once took 340 MB more than its whole training.
            for piece in range(0, size, GENERATE_PIECE):
                part = slice(piece, piece + GENERATE_PIECE)
                chunks.append((generator(z[part], chunk_labels[part]) if self.n_classes else generator(z[part])).cpu())
        generator.train(was_training)
        return torch.cat(chunks)

    @torch.no_grad()
    def d_probability(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's P(real) for points in model space."""
        return torch.sigmoid(self.D(x.to(self.device), labels)).cpu()

    # ----- state -----
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "G": self.G.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": self.rng.get_state(),
            "order": self._order,
            "cursor": self._cursor,
            "data_mean": self.dataset.mean,
            "data_std": self.dataset.std,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.rng.set_state(state["rng"])
        self._order, self._cursor, self.step = state["order"], state["cursor"], state["step"]

    def weights_are_finite(self) -> bool:
        return all(torch.isfinite(p).all() for p in (*self.G.parameters(), *self.D.parameters()))
