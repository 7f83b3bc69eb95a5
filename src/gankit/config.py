"""The typed training configuration: one dataclass, validated on creation, saved with every run.

Fields left at None take a default that depends on the dataset (a toy MLP or an MNIST model),
filled in by `__post_init__`, so a saved config always holds concrete values.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gankit.data import DATASETS, is_image_dataset, is_own_images, is_point_file
from gankit.errors import GankitError, bad_value
from gankit.files import read_json
from gankit.latent import LATENTS
from gankit.losses import LOSSES, Loss
from gankit.models import MODELS
from gankit.models.normalization import D_NORMS
from gankit.penalties import PENALTIES
from gankit.samplers import SAMPLERS

DEVICES = ("cpu", "cuda", "auto")
# The batch, Adam's learning rates (G's and D's) and betas by default. Toy data: (0, 0.99), as StyleGAN2 and R3GAN
# train, reach 2x the floor sooner than (0.5, 0.999). A saturating G loss (the lab sheet's minimax game) on toy data
# collapses at that pace: once D overtakes G, G's vanishing gradient cannot bring it back; it gets its own, measured on
# the lab's networks (docs: Benchmarks, benchmarks.student_toys). Images: the DCGAN choice; a saturating G loss (the
# sheet's conditional GAN) learns no label in minutes at it, and does with the mnist-cgan preset's rates and betas
# (benchmarks.student_mnist): Adam's second moment (beta2 0.99) follows its shrinking gradients sooner. R1
# and R2 keep D smooth at real and fake images, so that D(G(z)) does not reach 0, where that loss is flat (a
# student's DCGAN: D wins outright within 200 steps without them).
TRAINING_DEFAULTS = {
    ("toy", False): {"batch_size": 128, "lr_g": 2e-3, "lr_d": 2e-3, "beta1": 0.0, "beta2": 0.99},
    ("toy", True): {"batch_size": 128, "lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5, "beta2": 0.999},
    ("image", False): {"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    ("image", True): {
        "batch_size": 64,
        "lr_g": 5e-4,
        "lr_d": 5e-4,
        "beta1": 0.0,
        "beta2": 0.99,
        "r1_gamma": 10.0,
        "r2_gamma": 10.0,
    },
}


def training_defaults(*, image: bool, saturating: bool) -> dict[str, Any]:
    """batch_size, lr_g, lr_d, beta1 and beta2 (and the penalties, where an entry names them) for fields left at
    None (see TRAINING_DEFAULTS)."""
    return TRAINING_DEFAULTS["image" if image else "toy", saturating]


EVAL_SHARE = 0.1  # the default eval_share
# Fields a run's config may change over its life, its checkpoints staying its own: how far it trains, how it is
# sampled.
FREE_FIELDS = ("steps", "sampler")
PRECISIONS = ("auto", "fp32", "bf16")
# Fields whose value is a registered name: the registry validates them and the CLI lists its names.
REGISTERED = {"dataset": DATASETS, "model": MODELS, "loss": LOSSES, "latent": LATENTS, "sampler": SAMPLERS}


@dataclass
class TrainConfig:
    """Everything that decides a training: data, networks, loss, optimisation, outputs. Validated on creation
    and on every edit; fields left at None take defaults that depend on the others (see the field comments)."""

    # Each field's trailing comment is its help text in `gankit train --help`; the lines above a field say why.
    # --- data ---
    dataset: str = "circle"  # a registered data set, a .csv / .npy file of points, or a folder / .npz of images
    # None: the data set's own size (the circle's is larger than the lab's 100: docs/guide/data.md), all the images
    n_samples: int | None = None  # training-set size (images: the first N); None: the data set's default
    noise: float | None = None  # toy noise; None: the data set's own (circle 0, moons/swiss_roll 0.05, ring/grid sigma)
    data_dir: str | None = None  # folder with the MNIST files; None: $GANKIT_DATA_DIR, then the user cache
    # Your own images (a folder or an .npz: gankit.data.images) must share one size unless this resizes them.
    image_size: int | None = None  # your own images: resize each to this side (square); None: keep their one size
    # --- model ---
    model: str = "mlp"  # the networks (dcgan needs image data; custom: your own G and D)
    conditional: bool = False  # feed one-hot labels to G and D (image datasets)
    latent_dim: int = 10  # size of z
    latent: str = "gaussian"  # z's prior: gaussian N(0, I), or mixture of latent_modes Gaussians (gankit.latent)
    latent_modes: int = 10  # components of the mixture latent (latent="mixture"; its gaps are gaps in z)
    # None: the model's defaults (gankit.models.MODELS), one pair for toy data and one for images
    g_hidden: tuple[int, ...] | None = None  # G's hidden widths (dcgan: its fully connected layers); None: the model's
    d_hidden: tuple[int, ...] | None = None  # D's hidden widths (dcgan: its fully connected layers); None: the model's
    # --- loss and optimisation ---
    loss: str = "nonsaturating"  # the GAN loss (minimax is the lab's saturating game; custom: your own Loss)
    steps: int = 5000  # generator updates
    max_seconds: float | None = None  # also stop (evaluated and checkpointed) after this much training; None: no limit
    # toy data: with the toy networks and Adam betas, the batch that reaches a W1 ratio soonest (docs/benchmarks.md)
    batch_size: int | None = None  # samples per batch; None: 128 toy, 64 MNIST
    # toy: chosen by the steps to a given W1 ratio over seeds; a lower rate needs more, a higher one drifts after
    lr_g: float | None = None  # Adam learning rate of G; None: 2e-3 toy, 2e-4 MNIST (saturating G loss: 1e-3, 5e-4)
    lr_d: float | None = None  # Adam learning rate of D; None: lr_g's default
    # Toy: (0, 0.99), as StyleGAN2 and R3GAN train: the toy sets reach a given W1 ratio sooner (docs/benchmarks.md);
    # a saturating G loss has its own (TRAINING_DEFAULTS)
    beta1: float | None = None  # Adam beta1; None: 0 toy, 0.5 MNIST (saturating G loss: 0.5 toy, 0 MNIST)
    beta2: float | None = None  # Adam beta2; None: 0.99 toy, 0.999 MNIST (saturating G loss: 0.999 toy, 0.99 MNIST)
    d_steps: int = 1  # D updates per G update
    ema: float = 0.999  # decay of the moving average of G's weights that is sampled; 0 samples G itself
    # Training's evaluations score G's own samples; sampling and evaluating the trained run use the sampler.
    sampler: str = "plain"  # how a trained run is sampled: plain G(z), jacobian or drs (gankit.samplers)
    seed: int = 0  # seeds data, initial weights and every draw of z: same seed, same run
    # --- penalties on D's gradients, normalisation of D (gankit.penalties; docs/guide/models-and-losses.md) ---
    # None: the loss's own weight (wasserstein: 10, WGAN-GP's; relativistic: R1 and R2 of one gamma), else 0
    gp_lambda: float | None = None  # gradient penalty lambda (||grad D(x_hat)|| - 1)^2, x_hat between real and fake
    # (MNIST with a saturating G loss: TRAINING_DEFAULTS' own)
    r1_gamma: float | None = None  # R1 penalty gamma/2 ||grad D(x)||^2 on real points; None: the loss's own, else 0
    r2_gamma: float | None = None  # R2 penalty gamma/2 ||grad D(G(z))||^2 on fakes; None: the loss's own, else 0
    penalty_every: int = 1  # lazy regularisation: the penalties every k-th step only, weighted k (StyleGAN2: 16)
    d_norm: str = "none"  # none | spectral: spectral normalisation of D's linear and convolution layers
    # --- logging and outputs ---
    log_every: int = 100  # steps between lines of the metrics log (and progress-bar updates)
    eval_every: int | None = None  # steps between metric evaluations; None: steps // 10
    checkpoint_every: int | None = None  # steps between checkpoints; None: eval_every
    # Evaluations (an MNIST FD takes seconds) must not crowd out training: an evaluation or checkpoint due while they
    # have taken more than this share of the time is put off; the final step is always evaluated and saved.
    eval_share: float | None = None  # max share of time evaluating; None: 0.1 (0, no limit, when eval_every is set)
    keep_checkpoints: int = 3  # newest checkpoints kept on disk
    tensorboard: bool = False  # also log the numbers and sample figures as TensorBoard events in RUN/tensorboard
    # one thread is faster for toy-sized matrices; MNIST models and a sweep's stacks use every core
    threads: int | None = None  # torch CPU threads; None: 1 for toy models, all cores for MNIST and stacks
    device: str = "cpu"  # cpu | cuda | auto
    # bf16 autocasts the networks' products; weights, Adam and losses stay float32. auto: bf16 for image
    # models on a CPU with native bf16 (AVX512-BF16 or AMX), else fp32.
    precision: str = "auto"  # auto | fp32 | bf16

    def __post_init__(self) -> None:
        # The fields given (not None): defaults of the others depend on them and are filled in again
        # whenever a field changes, so that an edited config is validated and consistent, never stale.
        object.__setattr__(
            self, "_given", frozenset(f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None)
        )
        self._check_types()
        self._check_names()
        self._fill_defaults()
        self._check_values()
        object.__setattr__(self, "_ready", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if not getattr(self, "_ready", False):  # construction
            object.__setattr__(self, name, value)
            return
        updated = TrainConfig.from_dict({**self.given(), name: value})  # validates; refills dependent defaults
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, getattr(updated, f.name))
        object.__setattr__(self, "_given", updated._given)

    def given(self) -> dict[str, Any]:
        """The fields that were set (rather than left to their defaults), with their values."""
        return {name: _jsonable(getattr(self, name)) for name in self._given}

    # ----- construction -----
    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a plain dict (a JSON file, CLI flags); an unknown key is an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise bad_value("config key", unknown[0], sorted(known))
        return cls(**values)

    @classmethod
    def read_values(cls, path: str | Path) -> dict[str, Any]:
        """The fields a JSON file sets, as written (no defaults filled in), so that it can be layered
        over a preset and under flags; an unknown key is an error, the values are checked once combined."""
        values = read_json(path, "config file", "a JSON object of TrainConfig fields")
        if not isinstance(values, dict):
            raise GankitError(
                f"config file {str(path)!r} holds {type(values).__name__}; "
                "accepted: a JSON object of TrainConfig fields"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise bad_value("config key", unknown[0], sorted(known))
        return values

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """A config from a JSON file of fields (unknown keys are errors; unset fields take their defaults)."""
        return cls.from_dict(cls.read_values(path))

    def to_dict(self) -> dict[str, Any]:
        """Every field, concrete and JSON-ready: what config.json and checkpoints hold."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> TrainConfig:
        """A new config: the fields set here, with `changes`; the defaults follow (dataset, steps, ...)."""
        return TrainConfig.from_dict({**self.given(), **changes})

    def for_loss(self, loss: Loss) -> TrainConfig:
        """This config as it trains `loss` (the user's own, which the config calls `custom`): with the defaults
        for a saturating G loss where the batch, lr_g, lr_d, beta1 and beta2 were left to their defaults."""
        if not loss.saturates():
            return self
        defaults = training_defaults(image=self.is_image, saturating=True)
        return self.replace(**{name: value for name, value in defaults.items() if name not in self._given})

    def saturating_note(self, loss: Loss) -> str | None:
        """The line that says the defaults for a saturating G loss are what `loss` trains with, or None."""
        defaults = training_defaults(image=self.is_image, saturating=True)
        usual = training_defaults(image=self.is_image, saturating=False)
        left = [name for name in defaults if name not in self._given and defaults[name] != usual.get(name)]
        if not left or not loss.saturates():
            return None
        chosen = ", ".join(f"{name}={defaults[name]:g}" for name in left)
        return (
            f"G's loss saturates (its gradient vanishes where D rejects the fakes), so it trains with {chosen}, "
            "the defaults measured for such losses (set them to choose your own)"
        )

    # ----- derived facts -----
    @property
    def is_image(self) -> bool:
        return is_image_dataset(self.dataset)

    @property
    def is_own_images(self) -> bool:
        """A folder or an .npz of the user's images (not a registered data set)."""
        return is_own_images(self.dataset)

    @property
    def is_point_file(self) -> bool:
        return is_point_file(self.dataset)

    # ----- validation -----
    def _check_types(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            expected = f.type
            if value is None and "None" in expected:
                continue
            if "tuple" in expected:
                if isinstance(value, (list, tuple)) and value and all(_is_int(v) for v in value):
                    setattr(self, f.name, tuple(int(v) for v in value))
                    continue
                raise bad_value(f.name, value, "a non-empty list of positive integers")
            if expected.startswith("int"):
                ok = _is_int(value)
            elif expected.startswith("float"):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                if ok:
                    setattr(self, f.name, float(value))
            elif expected.startswith("bool"):
                ok = isinstance(value, bool)
            else:
                ok = isinstance(value, str)
            if not ok:
                raise bad_value(f.name, value, f"a value of type {expected}")

    def _check_names(self) -> None:
        if not (self.dataset in DATASETS or self.is_point_file or self.is_own_images):
            raise bad_value(
                "dataset",
                self.dataset,
                [*DATASETS.accepted(), "a path to a .csv or .npy file of points, a folder or an .npz of images"],
            )
        MODELS.check(self.model)
        LOSSES.check(self.loss)
        SAMPLERS.check(self.sampler)
        LATENTS.check(self.latent)
        for name, accepted in (("device", DEVICES), ("precision", PRECISIONS), ("d_norm", D_NORMS)):
            if getattr(self, name) not in accepted:
                raise bad_value(name, getattr(self, name), accepted)

    def _fill_defaults(self) -> None:
        image = self.is_image
        # A custom model gets the MLP's widths, for a models file that reads them.
        entry = MODELS["mlp" if self.model not in MODELS else self.model]
        g_hidden, d_hidden = entry.image_hidden if image or entry.needs_images else entry.toy_hidden
        if self.g_hidden is None:
            self.g_hidden = g_hidden
        if self.d_hidden is None:
            self.d_hidden = d_hidden
        if self.n_samples is None and self.dataset in DATASETS:
            self.n_samples = DATASETS[self.dataset].train_size
        saturating = self.loss in LOSSES and LOSSES[self.loss].saturates()
        for name, value in training_defaults(image=image, saturating=saturating).items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.eval_every is None:
            self.eval_every = max(1, self.steps // 10) if self.steps > 0 else 1
        if self.checkpoint_every is None:
            self.checkpoint_every = self.eval_every
        if self.eval_share is None:
            self.eval_share = 0.0 if "eval_every" in self._given else EVAL_SHARE
        own = LOSSES[self.loss].penalties if self.loss in LOSSES else {}
        for name, penalty in PENALTIES.items():
            if getattr(self, penalty.field) is None:
                setattr(self, penalty.field, float(own.get(name, 0.0)))

    def _check_values(self) -> None:
        image_sets = [name for name, entry in DATASETS.items() if entry.kind == "image"]
        images = f"{', '.join(image_sets)} or your own images"
        if self.model in MODELS and MODELS[self.model].needs_images and not self.is_image:
            raise bad_value("model", self.model, f"mlp for dataset {self.dataset!r} ({self.model} needs {images})")
        if self.conditional and not self.is_image:
            raise bad_value(
                "conditional", self.conditional, f"False for dataset {self.dataset!r} (labels exist for {images})"
            )
        positive_ints = [
            "latent_dim",
            "latent_modes",
            "steps",
            "batch_size",
            "d_steps",
            "log_every",
            "eval_every",
            "checkpoint_every",
            "keep_checkpoints",
            "penalty_every",
        ]
        if self.n_samples is not None:
            positive_ints.append("n_samples")
        if self.threads is not None:
            positive_ints.append("threads")
        for name in positive_ints:
            if getattr(self, name) <= 0:
                raise bad_value(name, getattr(self, name), "a positive integer")
        for name in ("g_hidden", "d_hidden"):
            if any(width <= 0 for width in getattr(self, name)):
                raise bad_value(name, list(getattr(self, name)), "a non-empty list of positive integers")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise bad_value(name, value, "a positive finite number")
        for name in ("beta1", "beta2", "ema", "eval_share"):
            value = getattr(self, name)
            if not (0 <= value < 1):
                raise bad_value(name, value, "a number in [0, 1)")
        for _, penalty in PENALTIES.items():
            value = getattr(self, penalty.field)
            if not (math.isfinite(value) and value >= 0):
                raise bad_value(penalty.field, value, "a finite number >= 0 (0: no penalty)")
        if self.noise is not None and not (math.isfinite(self.noise) and self.noise >= 0):
            raise bad_value("noise", self.noise, "a finite number >= 0")
        check_seed("seed", self.seed)
        if self.n_samples is not None and self.n_samples < 2:
            raise bad_value("n_samples", self.n_samples, "at least 2 (one point cannot be standardised or learnt)")
        toy = self.dataset in DATASETS and DATASETS[self.dataset].kind == "toy"
        if self.noise is not None and not toy:
            raise bad_value(
                "noise", self.noise, f"None for dataset {self.dataset!r} (noise is the toy generators' own)"
            )
        if self.data_dir is not None and not (self.is_image and not self.is_own_images):
            raise bad_value(
                "data_dir", self.data_dir, f"None for dataset {self.dataset!r} (it is where the MNIST files are)"
            )
        if self.image_size is not None and not self.is_own_images:
            raise bad_value("image_size", self.image_size, f"None for dataset {self.dataset!r} (your own images only)")
        if self.image_size is not None and self.image_size < 4:
            raise bad_value("image_size", self.image_size, "an integer >= 4")
        if self.max_seconds is not None and not (math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise bad_value("max_seconds", self.max_seconds, "a positive number of seconds, or None for no limit")


def check_seed(name: str, seed: Any) -> None:
    """GankitError unless `seed` is a whole number that torch's and numpy's generators take."""
    if not _is_int(seed) or not 0 <= seed < 2**64:
        raise bad_value(name, seed, "an integer from 0 to 2**64 - 1")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# The lab's three MNIST experiments, tuned on a 2-core CPU (the measurements: docs/benchmarks.md).
PRESETS: dict[str, dict[str, Any]] = {
    # MLP GAN: lr 5e-4 rather than the MNIST default: it ends level with it and gets there sooner.
    "mnist-gan": dict(dataset="mnist", model="mlp", latent_dim=64, batch_size=128, lr_g=5e-4, lr_d=5e-4, steps=20000),
    # Conditional MLP GAN (D a projection discriminator): its batch, lrs and betas chosen by quality after 3 minutes
    # of training (docs/benchmarks.md, MNIST; the batch on a CPU with native bf16, where a larger batch costs less).
    "mnist-cgan": dict(
        dataset="mnist",
        model="mlp",
        conditional=True,
        latent_dim=64,
        batch_size=256,
        lr_g=5e-4,
        lr_d=5e-4,
        beta1=0.0,
        beta2=0.99,
        steps=20000,
    ),
    # DCGAN with its default fully connected layers of 512 in G and D (see models/dcgan.py), lr 5e-4.
    "mnist-dcgan": dict(dataset="mnist", model="dcgan", latent_dim=64, lr_g=5e-4, lr_d=5e-4, steps=7000),
    # The mode-collapse benchmarks (python -m benchmarks.mode_collapse): the non-saturating loss with R1 and Adam
    # (0, 0.99) came out best on both (docs/benchmarks.md, mode collapse; least squares with R1 second); a z of the
    # data's own 2 dimensions keeps the modes as narrow as the data's, and the jacobian sampler drops what G
    # carries between them.
    **{
        f"mode-collapse-{dataset}": dict(
            dataset=dataset,
            latent_dim=2,
            g_hidden=(64, 64),
            d_hidden=(64, 64),
            batch_size=256,
            r1_gamma=0.1,
            steps=steps,
            eval_every=steps,
            sampler="jacobian",
        )
        for dataset, steps in (("ring", 6000), ("grid", 8000))
    },
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """A named preset, with any field overridden: `preset("mnist-cgan", steps=100)`."""
    if name not in PRESETS:
        raise bad_value("preset", name, sorted(PRESETS))
    return TrainConfig.from_dict({**PRESETS[name], **overrides})
