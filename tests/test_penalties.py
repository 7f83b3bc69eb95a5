"""Penalties on D's gradients equal their closed forms, in one GAN and in a stack; trained games keep the contract."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import TrainConfig
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.losses import DiscriminatorBatch
from gankit.penalties import PENALTIES, GradientPenalties, input_gradient
from gankit.stacked import StackedTrainer
from gankit.trainer import Trainer
from test_game_contract import SMALL, GameContract

CLOSE = dict(rtol=1e-4, atol=1e-5)
W = torch.tensor([3.0, 4.0])  # ||w|| = 5


def _penalties(*configs: TrainConfig, stacked: bool = False) -> GradientPenalties:
    return GradientPenalties(list(configs), stacked=stacked, device=torch.device("cpu"))


def _batch(real, fake, scores, *, stacked=False, step=0, uniform=None, mixes_batch=False) -> DiscriminatorBatch:
    return DiscriminatorBatch(
        real,
        fake,
        None,
        None,
        scores(real),
        scores(fake),
        scores,
        step,
        stacked=stacked,
        draw_uniform=uniform,
        mixes_batch=mixes_batch,
    )


def _linear(x, labels=None):  # D(x) = w . x + 1: its input gradient is w everywhere
    return x @ W + 1.0


def _points(n=6, seed=0):
    rng = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=rng), torch.randn(n, 2, generator=rng)


def test_penalties_of_a_linear_d_equal_their_closed_forms():
    real, fake = _points()
    uniform = lambda: torch.rand(6)  # noqa: E731 - any weights: the gradient is w between any two points
    for fields, expected in [
        (dict(r1_gamma=2.0), 2.0 / 2 * 25),
        (dict(r2_gamma=0.5), 0.5 / 2 * 25),
        (dict(gp_lambda=0.1), 0.1 * (5 - 1) ** 2),
        (dict(r1_gamma=2.0, r2_gamma=0.5, gp_lambda=0.1), 25 + 6.25 + 1.6),
    ]:
        penalty = _penalties(TrainConfig(**fields))
        torch.testing.assert_close(penalty(_batch(real, fake, _linear, uniform=uniform)), torch.tensor(expected))


def test_penalties_of_a_quadratic_d_are_taken_at_their_own_points():
    real, fake = _points()
    eps = torch.rand(6, generator=torch.Generator().manual_seed(1))

    def quadratic(x, labels=None):  # D(x) = ||x||^2 / 2: its input gradient is x
        return 0.5 * x.square().sum(-1)

    batch = _batch(real, fake, quadratic, uniform=lambda: eps)
    r1 = _penalties(TrainConfig(r1_gamma=1.0))(batch)
    torch.testing.assert_close(r1, 0.5 * real.square().sum(1).mean())
    r2 = _penalties(TrainConfig(r2_gamma=1.0))(batch)
    torch.testing.assert_close(r2, 0.5 * fake.square().sum(1).mean())
    between = eps[:, None] * real + (1 - eps[:, None]) * fake  # one weight per pair, not per coordinate
    gp = _penalties(TrainConfig(gp_lambda=10.0))(batch)
    torch.testing.assert_close(gp, 10.0 * ((between.norm(dim=1) - 1) ** 2).mean())
    # D's loss scores samples apart when a layer of D mixes the batch: the same values
    together = _penalties(TrainConfig(gp_lambda=10.0, r1_gamma=1.0))(_batch(real, fake, quadratic, uniform=lambda: eps))
    apart = _penalties(TrainConfig(gp_lambda=10.0, r1_gamma=1.0))(
        _batch(real, fake, quadratic, uniform=lambda: eps, mixes_batch=True)
    )
    torch.testing.assert_close(together, apart)


def test_a_penalty_trains_d_towards_its_closed_form_gradient():
    # R1 of D(x) = w . x + b is gamma/2 ||w||^2, whose gradient with respect to w is gamma w;
    # the gradient penalty's is 2 lambda (||w|| - 1) w / ||w||.
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(W[None])
    real, fake = _points()
    scores = lambda x, labels=None: layer(x).squeeze(-1)  # noqa: E731
    batch = _batch(real, fake, scores, uniform=lambda: torch.rand(6))
    for config, expected in [
        (TrainConfig(r1_gamma=3.0), 3.0 * W),
        (TrainConfig(gp_lambda=10.0), 2 * 10.0 * (5 - 1) * W / 5),
    ]:
        (gradient,) = torch.autograd.grad(_penalties(config)(batch), layer.weight)
        torch.testing.assert_close(gradient[0], expected)


def test_in_a_stack_each_member_gets_its_own_weight_and_gradient():
    weights = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])  # per member: ||w|| = 5, 1, 2
    real, fake = torch.randn(3, 5, 2), torch.randn(3, 5, 2)

    def stacked_linear(x, labels=None):  # (K, B, 2) -> (K, B)
        return (x * weights[:, None]).sum(-1)

    configs = [TrainConfig(r1_gamma=g, gp_lambda=1.0) for g in (2.0, 0.0, 1.0)]
    batch = _batch(real, fake, stacked_linear, stacked=True, uniform=lambda: torch.rand(3, 5))
    total = _penalties(*configs, stacked=True)(batch)
    assert total.shape == (3,)
    norms = weights.norm(dim=1)
    torch.testing.assert_close(total, torch.tensor([2.0, 0.0, 1.0]) / 2 * norms**2 + (norms - 1) ** 2)


def test_lazy_penalties_run_every_kth_step_weighted_k():
    real, fake = _points()
    penalty = _penalties(TrainConfig(r1_gamma=2.0, penalty_every=4))
    values = [penalty(_batch(real, fake, _linear, step=step)) for step in range(6)]
    torch.testing.assert_close(values[0], torch.tensor(4 * 25.0))
    torch.testing.assert_close(values[4], torch.tensor(4 * 25.0))
    assert [values[i] for i in (1, 2, 3, 5)] == [0.0] * 4


def test_no_penalty_computes_nothing():
    assert not _penalties(TrainConfig())
    assert not _penalties(TrainConfig(loss="hinge"), TrainConfig(loss="hinge", seed=1), stacked=True)


def test_the_losses_own_weights_fill_the_fields_left_at_none():
    assert (TrainConfig(loss="wasserstein").gp_lambda, TrainConfig(loss="wasserstein", gp_lambda=1).gp_lambda) == (
        10.0,
        1.0,
    )
    relativistic = TrainConfig(loss="relativistic")
    assert (relativistic.r1_gamma, relativistic.r2_gamma, relativistic.gp_lambda) == (1.0, 1.0, 0.0)
    assert TrainConfig().replace(loss="wasserstein").gp_lambda == 10.0  # a default follows the loss
    assert {penalty.field for _, penalty in PENALTIES.items()} <= set(TrainConfig().to_dict())


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_a_penalty_weight_must_be_finite_and_not_negative(value):
    with pytest.raises(GankitError, match=r"r1_gamma=.* is not valid; accepted: a finite number >= 0"):
        TrainConfig(r1_gamma=value)


def test_input_gradients_stay_float32_under_bf16_autocast():
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(W[None])

    def scores(x, labels=None):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return layer(x).squeeze(-1).float()

    gradient = input_gradient(scores, torch.randn(4, 2, dtype=torch.bfloat16))
    assert gradient.dtype == torch.float32
    torch.testing.assert_close(gradient, W.expand(4, 2), rtol=1e-2, atol=0)


def test_a_penalised_bf16_run_trains():
    config = TrainConfig(**{**SMALL, "precision": "bf16", "gp_lambda": 10.0, "r1_gamma": 1.0, "d_norm": "spectral"})
    trainer = Trainer(config, load_dataset(config))
    stats = torch.stack([trainer.train_step() for _ in range(5)])
    assert torch.isfinite(stats).all() and trainer.weights_are_finite()


# ----- the game contract, and a stack member against the Trainer, with every penalty and spectral norm -----
PENALISED = dict(gp_lambda=1.0, r1_gamma=0.5, r2_gamma=0.5, d_norm="spectral")


class _PenalisedContract(GameContract):
    moving_only = False

    def states(self, game) -> dict:
        state = game.member_state(self.member)
        if not self.moving_only:
            return state
        # The singular vector u of D's head, which has one output, is the constant unit vector (1,).
        return {**state, "D": {name: t for name, t in state["D"].items() if not name.endswith("._u") or t.numel() > 1}}

    def test_each_step_moves_d_and_g_once(self):
        self.moving_only = True
        super().test_each_step_moves_d_and_g_once()


class TestPenalisedTrainer(_PenalisedContract):
    def make(self, **overrides):
        config = TrainConfig(**{**SMALL, **PENALISED, **overrides})
        return Trainer(config, load_dataset(config))


class TestPenalisedStackMember(_PenalisedContract):
    member = 1

    def make(self, seed: int = 0, **overrides):
        return StackedTrainer([TrainConfig(**{**SMALL, **PENALISED, **overrides, "seed": s}) for s in (seed + 7, seed)])


def _compare(stack: StackedTrainer, configs: list[TrainConfig], steps: int, *, stats: dict, weights: dict) -> None:
    stacked = torch.stack([stack.train_step() for _ in range(steps)])
    for k, config in enumerate(configs):
        alone = Trainer(config, load_dataset(config))
        torch.testing.assert_close(stacked[:, k], torch.stack([alone.train_step() for _ in range(steps)]), **stats)
        member, state = stack.member_state(k), alone.state_dict()
        for net in ("G", "D"):
            assert list(member[net]) == list(state[net])  # the Trainer's checkpoint layout, spectral norm's too
            for name, value in state[net].items():
                torch.testing.assert_close(member[net][name], value, **weights, msg=f"{net}.{name}")
        for position, moments in state["opt_d"]["state"].items():
            assert member["opt_d"]["state"][position]["exp_avg"].shape == moments["exp_avg"].shape


def test_each_member_of_a_penalised_stack_matches_the_trainer_alone():
    members = [dict(seed=0, r1_gamma=0.0), dict(seed=1, r1_gamma=2.0, gp_lambda=0.0), dict(seed=2)]
    configs = [TrainConfig(**{**SMALL, **PENALISED, "penalty_every": 2, **m}) for m in members]
    # 15 steps: at step 20 one of G's ReLUs sits on its kink for a sample, and float rounding decides its side
    _compare(StackedTrainer(configs), configs, 15, stats=CLOSE, weights=CLOSE)


@pytest.mark.parametrize("loss", ["wasserstein", "relativistic"])
def test_the_critic_and_relativistic_losses_stack(loss):
    # Both see only differences of scores, so some of D's weights (the last bias, the bias of a hidden unit
    # active for every sample) get gradients that cancel exactly; Adam turns their rounding noise into steps
    # of up to lr, differently in a stack. The rest agrees to float rounding, these to half a step (lr 2e-3)
    # with Adam's momentum at 0.5; at the toy default beta1 = 0 each such step is a full lr, and a bound
    # that loose would hide real differences, so this test keeps the momentum.
    betas = dict(beta1=0.5, beta2=0.999)
    configs = [TrainConfig(**{**SMALL, **betas, "loss": loss, "seed": s}) for s in range(2)]
    _compare(StackedTrainer(configs), configs, 3, stats=dict(rtol=1e-4, atol=1e-4), weights=dict(rtol=0, atol=1e-3))


def test_a_stack_takes_spectral_norm_only_on_ds_linear_layers():
    from torch.nn.utils.parametrizations import orthogonal, spectral_norm

    from gankit.stacked import stack_refusal

    config = TrainConfig(**SMALL)

    def pair(g_layer=None, d_layer=None):
        g = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), g_layer or nn.Linear(16, 2))
        return g, nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), d_layer or nn.Linear(16, 1))

    assert stack_refusal(config, networks=pair(d_layer=spectral_norm(nn.Linear(16, 1)))) is None
    assert "parametrization" in stack_refusal(config, networks=pair(g_layer=spectral_norm(nn.Linear(16, 2))))
    assert "parametrization" in stack_refusal(config, networks=pair(d_layer=orthogonal(nn.Linear(16, 16))))
