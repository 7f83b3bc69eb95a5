"""The Trainer's fast paths give what the plain way of writing the step gives.

The fast step (one D pass over real and fake, gradients by torch.autograd.grad, the fused Adam
kernel called directly, bfloat16 autocast for image models where the CPU has it) is compared
with the textbook step written out here: two D passes, loss.backward(), optimizer.step().
No timings are asserted anywhere (see `python -m benchmarks` for those).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from gankit.config import TrainConfig
from gankit.data import Dataset, load_dataset
from gankit.losses import DiscriminatorBatch, GeneratorBatch
from gankit.trainer import Trainer, native_bf16, resolve_precision

ROOT = Path(__file__).resolve().parent.parent

TOY = dict(dataset="circle", g_hidden=(32, 32), d_hidden=(32, 32), batch_size=50)


_TORCH_ADAMS: dict[int, tuple[torch.optim.Adam, torch.optim.Adam]] = {}


def _torch_adams(trainer: Trainer) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """torch's own fused Adams for the trainer's G and D, made on its first plain step."""
    if id(trainer) not in _TORCH_ADAMS:
        config = trainer.config
        _TORCH_ADAMS[id(trainer)] = tuple(
            torch.optim.Adam(module.parameters(), lr=lr, betas=(config.beta1, config.beta2), fused=True)
            for module, lr in ((trainer.G, config.lr_g), (trainer.D, config.lr_d))
        )
    return _TORCH_ADAMS[id(trainer)]


def _plain_step(trainer: Trainer) -> torch.Tensor:
    """The step as a tutorial writes it, on the trainer's own networks and RNG with torch's own Adams (float32);
    torch's Adam states are then loaded into the trainer's, whose format they share."""
    opt_g, opt_d = _torch_adams(trainer)
    for _ in range(trainer.config.d_steps):
        real, real_labels = trainer._real_batch()
        z, fake_labels = trainer._noise(len(real))
        with torch.no_grad():
            fake = trainer.G(z, fake_labels)
        real_logits, fake_logits = trainer.D(real, real_labels), trainer.D(fake, fake_labels)
        loss_d = trainer.loss.d_loss(
            DiscriminatorBatch(real, fake, real_labels, fake_labels, real_logits, fake_logits, trainer.D, 0)
        )
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
    z, fake_labels = trainer._noise(trainer.config.batch_size)
    trainer.D.requires_grad_(False)
    fake = trainer.G(z, fake_labels)
    loss_g = trainer.loss.g_loss(GeneratorBatch(fake, fake_labels, trainer.D(fake, fake_labels), trainer.D, 0))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    trainer.opt_g.load_state_dict(opt_g.state_dict())
    trainer.opt_d.load_state_dict(opt_d.state_dict())
    trainer.D.requires_grad_(True)
    trainer.step += 1
    if trainer.G_ema is not None:
        trainer._update_ema()
    with torch.no_grad():
        return torch.stack([loss_d, loss_g, torch.sigmoid(real_logits).mean(), torch.sigmoid(fake_logits).mean()])


def _image_dataset(n: int = 256, seed: int = 0) -> Dataset:
    """MNIST-shaped random images and labels: the fast paths do not care what the pixels show."""
    rng = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 28, 28, generator=rng) * 2 - 1
    labels = torch.randint(10, (n,), generator=rng)
    return Dataset("mnist", images, labels, 10, torch.zeros(()), torch.ones(()), None)


def _assert_same_state(fast: Trainer, plain: Trainer, **tolerance) -> None:
    for module in ("G", "D", "sampler"):
        for (name, a), b in zip(
            getattr(plain, module).state_dict().items(), getattr(fast, module).state_dict().values()
        ):
            torch.testing.assert_close(b, a, **tolerance, msg=f"{module}.{name}")
    for opt in ("opt_g", "opt_d"):
        ours, theirs = getattr(fast, opt).state_dict(), getattr(plain, opt).state_dict()
        assert ours["param_groups"] == theirs["param_groups"]
        assert ours["state"].keys() == theirs["state"].keys()
        for index, state in theirs["state"].items():
            assert ours["state"][index]["step"].dtype == state["step"].dtype == torch.float32
            assert float(ours["state"][index]["step"]) == float(state["step"])
            for key in ("exp_avg", "exp_avg_sq"):
                torch.testing.assert_close(ours["state"][index][key], state[key], **tolerance)
    assert torch.equal(fast.rng.get_state(), plain.rng.get_state())


SHARED = [
    dict(),
    dict(dataset="moons", n_samples=150, batch_size=64, d_steps=2, loss="hinge", latent_dim=2),
    dict(n_samples=40, batch_size=64, loss="least_squares", ema=0.0),  # batch > data: drawn with replacement
    dict(loss="minimax"),
]


@pytest.mark.parametrize("shared", SHARED)
def test_the_fast_toy_step_with_two_d_passes_is_bit_identical_to_the_plain_step(shared):
    """autograd.grad instead of backward() and the Adam kernel called directly change nothing at all."""
    config = TrainConfig(**{**TOY, **shared})
    dataset = load_dataset(config)
    fast, plain = Trainer(config, dataset), Trainer(config, dataset)
    fast._one_d_pass = False
    for _ in range(10):
        assert torch.equal(fast.train_step(), _plain_step(plain))
    _assert_same_state(fast, plain, rtol=0, atol=0)


@pytest.mark.parametrize("shared", SHARED)
def test_the_fast_toy_step_matches_the_plain_step(shared):
    config = TrainConfig(**{**TOY, **shared})
    dataset = load_dataset(config)
    fast, plain = Trainer(config, dataset), Trainer(config, dataset)
    assert fast.autocast_dtype is None and fast._one_d_pass  # toy models stay float32; D has no batch norm
    steps = 5
    fast_stats = torch.stack([fast.train_step() for _ in range(steps)])
    plain_stats = torch.stack([_plain_step(plain) for _ in range(steps)])
    # One D pass over 2B points instead of two over B changes only the rounding of the products: the
    # first D update's numbers agree to rounding (observed: 1e-7 relative). Later ones differ by what Adam
    # makes of that rounding (below); with beta1 = 0 (the toy default) up to 2e-3 relative after 5 steps.
    if config.d_steps == 1:
        torch.testing.assert_close(fast_stats[0], plain_stats[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fast_stats, plain_stats, rtol=1e-2, atol=1e-3)
    # A weight whose gradient is ~0 moves by about +-lr in Adam's first steps whatever its sign's
    # rounding says (m / sqrt(v) is +-1), so weights may differ by up to 2 lr a step.
    _assert_same_state(fast, plain, rtol=1e-3, atol=2 * steps * max(config.lr_g, config.lr_d))


def test_the_direct_adam_kernel_is_bit_identical_to_adam_step():
    torch.manual_seed(0)
    config = TrainConfig(**TOY)
    trainer = Trainer(config, load_dataset(config))
    model = trainer.D
    reference = copy.deepcopy(model)
    reference_opt = torch.optim.Adam(
        reference.parameters(), lr=config.lr_d, betas=(config.beta1, config.beta2), fused=True
    )
    params = list(model.parameters())
    for _ in range(5):
        x = torch.randn(17, 2)
        grads = torch.autograd.grad(model(x).square().mean(), params)
        trainer.opt_d.step(grads)
        reference_opt.zero_grad(set_to_none=True)
        reference(x).square().mean().backward()
        reference_opt.step()
        for a, b in zip(params, reference.parameters()):
            assert torch.equal(a, b)
    ours, theirs = trainer.opt_d.state_dict(), reference_opt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]  # torch's own format
    for position, state in theirs["state"].items():
        assert all(torch.equal(ours["state"][position][key], state[key]) for key in ("step", "exp_avg", "exp_avg_sq"))


@pytest.mark.parametrize("weight_decay, maximize", [(0.0, False), (0.01, True)])
def test_the_public_fallbacks_give_the_private_kernels_numbers(monkeypatch, weight_decay, maximize):
    """Where a torch lacks torch._fused_adam_ or torch._foreach_lerp_, gankit.step's public formulas run instead."""
    from gankit import step

    generator = torch.Generator().manual_seed(0)
    shapes = [(5, 3), (3,), (4, 1, 2)]
    results = []
    for kernels in ("private", "public"):
        if kernels == "public":
            monkeypatch.setattr(step, "_FUSED_ADAM", step._adam_formula)
            monkeypatch.setattr(step, "_FOREACH_LERP", step._lerp_each)
        generator.manual_seed(0)
        params = [torch.randn(shape, generator=generator) for shape in shapes]
        moments = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
        averages = [p.clone() for p in params]
        count = torch.zeros((), dtype=torch.float32)
        for _ in range(4):
            count += 1
            grads = [torch.randn(p.shape, generator=generator) for p in params]
            step.adam_update(
                params,
                grads,
                *moments,
                [count] * len(params),
                lr=1e-2,
                beta1=0.5,
                beta2=0.99,
                weight_decay=weight_decay,
                maximize=maximize,
            )
            step.update_average(averages, params, 0.9)
        results.append([*params, *moments[0], *moments[1], *averages])
    for private, public in zip(*results):
        torch.testing.assert_close(public, private, rtol=1e-6, atol=1e-7)


def test_the_installed_torch_is_within_the_tested_bounds():
    import re
    from importlib.metadata import version

    import tomllib

    requirement = next(
        r
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
        if r.startswith("torch")
    )
    low, high = re.fullmatch(r"torch>=([\d.]+),<([\d.]+)", requirement).groups()
    installed = tuple(int(part) for part in version("torch").split("+")[0].split(".")[:2])
    assert tuple(map(int, low.split("."))) <= installed < tuple(map(int, high.split(".")))


def test_adam_state_replaced_by_load_state_dict_is_the_one_stepped():
    """After a resume the trainer must step the loaded moments, not the ones it cached before."""
    config = TrainConfig(**TOY)
    dataset = load_dataset(config)
    first, second = Trainer(config, dataset), Trainer(config, dataset)
    for _ in range(4):
        first.train_step()
        second.train_step()  # both have cached their Adam state
    for _ in range(3):
        first.train_step()
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    for _ in range(3):
        a, b = first.train_step(), second.train_step()
        assert torch.equal(a, b)
    _assert_same_state(second, first, rtol=0, atol=0)


@pytest.mark.parametrize("model, conditional", [("mlp", False), ("mlp", True), ("dcgan", False), ("dcgan", True)])
def test_the_fast_image_step_in_float32_matches_the_plain_step(model, conditional):
    config = TrainConfig(
        dataset="mnist",
        model=model,
        conditional=conditional,
        batch_size=16,
        precision="fp32",
        g_hidden=(64, 128),
        d_hidden=(128, 64),
        latent_dim=16,
    )
    dataset = _image_dataset()
    fast, plain = Trainer(config, dataset), Trainer(config, dataset)
    assert fast.autocast_dtype is None
    steps = 4
    fast_stats = torch.stack([fast.train_step() for _ in range(steps)])
    plain_stats = torch.stack([_plain_step(plain) for _ in range(steps)])
    torch.testing.assert_close(fast_stats, plain_stats, rtol=1e-4, atol=1e-5)
    # A bias just before a batch norm has a true gradient of zero, so its gradient is rounding noise,
    # which Adam scales up to steps of about lr: such weights may differ by up to steps x lr.
    _assert_same_state(fast, plain, rtol=1e-3, atol=steps * config.lr_g)


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_bf16_autocast_step_stays_close_to_float32(model):
    """bfloat16 products (8 bits of mantissa) change the numbers a little, not the training: the first
    steps' losses and D outputs agree to about 1%, and weights stay float32."""
    common = dict(dataset="mnist", model=model, batch_size=32, g_hidden=(64, 128), d_hidden=(128, 64), latent_dim=16)
    dataset = _image_dataset()
    bf16, fp32 = (
        Trainer(TrainConfig(**common, precision="bf16"), dataset),
        Trainer(TrainConfig(**common, precision="fp32"), dataset),
    )
    assert bf16.autocast_dtype is torch.bfloat16
    bf16_stats = torch.stack([bf16.train_step() for _ in range(3)])
    fp32_stats = torch.stack([fp32.train_step() for _ in range(3)])
    assert bf16_stats.dtype == torch.float32 and torch.isfinite(bf16_stats).all()
    torch.testing.assert_close(bf16_stats, fp32_stats, rtol=0.03, atol=0.02)
    assert all(
        p.dtype == torch.float32 for p in (*bf16.G.parameters(), *bf16.D.parameters(), *bf16.sampler.parameters())
    )
    assert bf16.generate(8, seed=0).dtype == torch.float32


def test_precision_choice():
    cpu = torch.device("cpu")
    assert resolve_precision(TrainConfig(dataset="circle"), cpu) is None  # toy: auto is float32
    assert resolve_precision(TrainConfig(dataset="circle", precision="bf16"), cpu) is torch.bfloat16
    assert resolve_precision(TrainConfig(dataset="mnist", precision="fp32"), cpu) is None
    assert resolve_precision(TrainConfig(dataset="mnist"), cpu) is (torch.bfloat16 if native_bf16() else None)


def test_a_discriminator_with_batch_norm_scores_real_and_fake_apart(monkeypatch):
    """One D pass over real and fake together would let batch norm mix their statistics: not done then."""
    import gankit.trainer as trainer_module

    def with_batch_norm(config, shape, n_classes=0):
        from gankit.models import build_models

        G, D = build_models(config, shape, n_classes)
        D.net.insert(1, nn.BatchNorm1d(config.d_hidden[0]))
        return G, D

    monkeypatch.setattr(trainer_module, "build_models", with_batch_norm)
    config = TrainConfig(**TOY)
    dataset = load_dataset(config)
    fast, plain = Trainer(config, dataset), Trainer(config, dataset)
    assert not fast._one_d_pass
    torch.testing.assert_close(
        torch.stack([fast.train_step() for _ in range(5)]),
        torch.stack([_plain_step(plain) for _ in range(5)]),
        rtol=1e-5,
        atol=1e-6,
    )


def test_generating_in_pieces_gives_the_samples_of_one_pass(monkeypatch):
    """generate() runs G on GENERATE_PIECE samples at a time (memory); the samples are those of one big pass."""
    import gankit.trainer as trainer_module

    config = TrainConfig(dataset="mnist", model="dcgan", conditional=True, latent_dim=16)
    trainer = Trainer(config, _image_dataset())
    labels = torch.arange(1300) % 10
    in_pieces = trainer.generate(1300, seed=3, labels=labels, batch_size=1000)
    monkeypatch.setattr(trainer_module, "GENERATE_PIECE", 10**9)
    whole = trainer.generate(1300, seed=3, labels=labels, batch_size=1000)
    torch.testing.assert_close(in_pieces, whole, rtol=1e-5, atol=1e-6)
