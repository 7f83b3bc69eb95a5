"""One contract for every game the training loop trains: a single Trainer, and each member of a stack.

`GameContract` holds the assertions; each subclass says how to build the game for a list of configs
and which member to look at (a Trainer is its only member). Every test runs on both.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.config import TrainConfig
from gankit.data import load_dataset
from gankit.stacked import StackedTrainer
from gankit.step import STAT_NAMES
from gankit.trainer import Trainer

SMALL = dict(dataset="moons", g_hidden=(16, 16), d_hidden=(16, 16), latent_dim=3, batch_size=32, n_samples=200)


class GameContract:
    member = 0  # which member of the game the assertions look at

    def make(self, **overrides) -> object:
        raise NotImplementedError

    def states(self, game) -> dict:
        return game.member_state(self.member)

    def test_a_step_reports_each_members_statistics_without_reading_them(self):
        game = self.make()
        stats = game.train_step()
        assert stats.reshape(game.K, -1).shape == (game.K, len(STAT_NAMES)) and torch.isfinite(stats).all()
        assert game.step == 1 and game.finite().shape == (game.K,) and bool(game.finite()[self.member])

    def test_same_seed_same_weights_other_seed_other_weights(self):
        def weights(seed):
            game = self.make(seed=seed)
            for _ in range(5):
                game.train_step()
            return self.states(game)["G"]

        first, again, other = weights(0), weights(0), weights(1)
        assert all(torch.equal(first[k], again[k]) for k in first)
        assert not all(torch.equal(first[k], other[k]) for k in first)

    def test_each_step_moves_d_and_g_once(self):
        game = self.make()
        before = self.states(game)
        game.train_step()
        after = self.states(game)
        for net in ("G", "D"):
            assert all(not torch.equal(before[net][k], after[net][k]) for k in before[net])
        for opt in ("opt_g", "opt_d"):
            assert {float(s["step"]) for s in after[opt]["state"].values()} == {1.0}

    def test_training_leaves_the_global_rng_alone(self):
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        game = self.make()
        game.train_step()
        torch.testing.assert_close(torch.rand(3), expected)

    def test_a_saved_state_continues_bit_for_bit_in_a_fresh_game(self):
        game = self.make()
        for _ in range(7):
            game.train_step()
        state = self.states(game)
        copy = self.make()
        for k in range(game.K):
            copy.load_member_state(k, state if k == self.member else game.member_state(k))
        for _ in range(5):
            assert torch.equal(game.train_step(), copy.train_step())
        assert all(torch.equal(a, b) for a, b in zip(self.states(game)["G"].values(), self.states(copy)["G"].values()))

    def test_samples_come_in_data_units_from_their_own_seed(self):
        game = self.make()
        first = game.samples(50, seed=3)[self.member]
        assert first.shape == (50, 2)
        assert torch.equal(first, game.samples(50, seed=3)[self.member])
        assert not torch.equal(first, game.samples(50, seed=4)[self.member])
        state = game.member_state(self.member)
        assert torch.equal(state["data_mean"], load_dataset(TrainConfig(**SMALL)).mean)


class TestTrainer(GameContract):
    def make(self, **overrides):
        config = TrainConfig(**{**SMALL, **overrides})
        return Trainer(config, load_dataset(config))


class TestStackMember(GameContract):
    member = 1

    def make(self, seed: int = 0, **overrides):
        seeds = [seed + 10, seed, seed + 20]  # the member under test is in the middle of the stack
        return StackedTrainer([TrainConfig(**{**SMALL, **overrides, "seed": s}) for s in seeds])


class TestUsersStackedSequentials(GameContract):
    """A stack of the user's own nn.Sequential networks (D ending in a sigmoid) keeps the same contract."""

    member = 0

    def make(self, seed: int = 0, **overrides):
        configs = [TrainConfig(**{**SMALL, **overrides, "seed": s}) for s in (seed, seed + 5)]
        networks = []
        with torch.random.fork_rng():
            for config in configs:
                torch.manual_seed(config.seed)
                networks.append(
                    (
                        nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2)),
                        nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Sigmoid()),
                    )
                )
        return StackedTrainer(configs, networks=networks)
