"""MNIST models (MLP and DCGAN, plain and conditional): a few training steps on a subset, and a run's image outputs."""

from __future__ import annotations

import pytest
import torch

from gankit.config import PRESETS, TrainConfig, preset
from gankit.data import load_dataset
from gankit.models import build_models
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.models.mlp import MLPDiscriminator
from gankit.trainer import Trainer

MODELS = [("mlp", False), ("mlp", True), ("dcgan", False), ("dcgan", True)]


@pytest.mark.parametrize("model,conditional", MODELS)
def test_model_shapes_range_and_gradients(model, conditional):
    config = TrainConfig(dataset="mnist", model=model, conditional=conditional, latent_dim=16)
    torch.manual_seed(0)
    G, D = build_models(config, (1, 28, 28), 10)
    z, labels = torch.randn(5, 16), torch.tensor([0, 3, 9, 9, 1])
    images = G(z, labels if conditional else None)
    assert images.shape == (5, 1, 28, 28)
    assert images.abs().max() <= 1
    logits = D(images, labels if conditional else None)
    assert logits.shape == (5,) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters())


@pytest.mark.parametrize("conditional", [False, True])
def test_dcgan_labels_change_the_output_only_when_conditional(conditional):
    torch.manual_seed(0)
    n_classes = 10 if conditional else 0
    G, D = DCGANGenerator(8, n_classes=n_classes).eval(), DCGANDiscriminator(n_classes=n_classes)
    z = torch.randn(1, 8).repeat(2, 1)
    if not conditional:
        assert torch.equal(G(z)[0], G(z)[1])
        return
    labels = torch.tensor([2, 7])
    assert not torch.allclose(G(z, labels)[0], G(z, labels)[1])
    x = torch.randn(1, 1, 28, 28).repeat(2, 1, 1, 1)
    assert not torch.allclose(*D(x, labels))


def test_the_conditional_mlp_discriminator_adds_the_label_projection_to_its_logit():
    """logit(x, y) = out(h) + <E[y], h>, h the last hidden layer: the unconditional D's logit plus the projection."""
    torch.manual_seed(0)
    D = MLPDiscriminator((1, 28, 28), (32, 16), n_classes=10)
    x = torch.randn(4, 1, 28, 28)
    labels = torch.tensor([0, 3, 9, 3])
    features = D.net[:-1](x.reshape(4, -1))
    expected = D.net[-1](features).squeeze(1) + (D.label_embedding.weight[labels] * features).sum(1)
    torch.testing.assert_close(D(x, labels), expected)
    unconditional = MLPDiscriminator((1, 28, 28), (32, 16))
    unconditional.load_state_dict({k: v for k, v in D.state_dict().items() if not k.startswith("label_embedding")})
    torch.testing.assert_close(D(x, labels) - unconditional(x), expected - D.net[-1](features).squeeze(1))


def test_dcgan_accepts_flattened_images_and_uses_dcgan_init():
    D = DCGANDiscriminator()
    assert D(torch.zeros(3, 784)).shape == (3,)
    G = DCGANGenerator(10)
    assert abs(G.project[-1].weight.std().item() - 0.02) < 0.002


def test_presets_build_valid_configs():
    assert {"mnist-gan", "mnist-cgan", "mnist-dcgan"} <= set(PRESETS)
    for name in PRESETS:
        config = preset(name, steps=10)
        assert config.is_image == name.startswith("mnist") and config.steps == 10
    assert preset("mnist-cgan").conditional and preset("mnist-dcgan").model == "dcgan"


def test_max_seconds_is_validated():
    assert TrainConfig(max_seconds=2).max_seconds == 2.0
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(Exception, match="max_seconds"):
            TrainConfig(max_seconds=bad)


def test_n_samples_limits_images_to_the_first_n(mnist_dir):
    config = TrainConfig(dataset="mnist", data_dir=str(mnist_dir), n_samples=512)
    dataset = load_dataset(config)
    full = load_dataset(config.replace(n_samples=None))
    assert dataset.train.shape == (512, 1, 28, 28) and dataset.labels.shape == (512,)
    assert torch.equal(dataset.train, full.train[:512]) and torch.equal(dataset.labels, full.labels[:512])
    assert len(full.train) == 60000


@pytest.mark.parametrize("model,conditional", MODELS)
def test_a_few_steps_on_512_images_move_both_players(mnist_dir, model, conditional):
    config = TrainConfig(
        dataset="mnist",
        data_dir=str(mnist_dir),
        n_samples=512,
        model=model,
        conditional=conditional,
        batch_size=32,
        steps=20,
        g_hidden=(64,),
        d_hidden=(64,),
    )
    trainer = Trainer(config, load_dataset(config))
    g_before = [p.detach().clone() for p in trainer.G.parameters()]
    d_before = [p.detach().clone() for p in trainer.D.parameters()]
    stats = torch.stack([trainer.train_step() for _ in range(config.steps)])  # 20 steps x 32 > 512: wraps an epoch
    assert torch.isfinite(stats).all()
    assert all(not torch.equal(a, b) for a, b in zip(g_before, trainer.G.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(d_before, trainer.D.parameters()))
    labels = torch.arange(30) % 10 if conditional else None
    images = trainer.generate(30, seed=1, labels=labels)
    assert images.shape == (30, 1, 28, 28) and images.abs().max() <= 1
    torch.testing.assert_close(images, trainer.generate(30, seed=1, labels=labels))


@pytest.mark.parametrize("hidden", [(), (16,), (16, 8)])
def test_dcgan_fully_connected_layers_follow_hidden(hidden):
    G, D = DCGANGenerator(4, hidden=hidden, width=8), DCGANDiscriminator(hidden=hidden, width=8)
    assert [m.out_features for m in G.project if isinstance(m, torch.nn.Linear)] == [*hidden, 2 * 8 * 7 * 7]
    assert [m.out_features for m in D.fully_connected if isinstance(m, torch.nn.Linear)] == [*hidden, 1]
    assert G(torch.randn(3, 4)).shape == (3, 1, 28, 28) and D(torch.randn(3, 1, 28, 28)).shape == (3,)


def test_dcgan_config_defaults_and_g_hidden_reach_the_models():
    config = TrainConfig(dataset="mnist", model="dcgan")
    assert config.g_hidden == (512,) and config.d_hidden == (512,)
    G, D = build_models(config.replace(g_hidden=[64, 32], d_hidden=[48]), (1, 28, 28), 10)
    assert [m.out_features for m in G.project if isinstance(m, torch.nn.Linear)][:-1] == [64, 32]
    assert D.fully_connected[-1].in_features == 48


def test_image_mlp_generator_has_batch_norm_and_toy_generator_has_none():
    def norms(config, shape):
        G, D = build_models(config, shape, 10)
        return [
            type(m).__name__
            for m in (*G.modules(), *D.modules())
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
        ]

    assert (
        norms(TrainConfig(dataset="mnist"), (1, 28, 28)) == ["BatchNorm1d"] * 3
    )  # one per hidden layer of G, none in D
    assert norms(TrainConfig(dataset="circle"), (2,)) == []
