"""Sweeps: a member of a stack is the run gankit.train makes, lists expand to runs, the folder is written."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch

import gankit
from gankit.cli import main
from gankit.config import TrainConfig
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.run import Run
from gankit.stacked import StackedTrainer, _product
from gankit.sweep import SweepResult, expand, mean_interval, summarise
from gankit.threads import training_threads, usable_cores
from gankit.trainer import Trainer

# Widths 16 with 2-D data use all three ways of computing a stacked layer (bmm, transposed, dot).
SMALL = dict(dataset="circle", g_hidden=(16, 16), d_hidden=(16, 16), latent_dim=3)
CLOSE = dict(rtol=1e-4, atol=1e-5)  # float rounding of batched vs single products; observed ~1e-7


def _assert_same_state(member: dict, alone: dict) -> None:
    """A stack member's state (member_state) equals the lone Trainer's state_dict, up to float rounding."""
    for module in ("G", "D", "G_ema"):
        if alone[module] is None:
            assert member[module] is None
            continue
        assert member[module].keys() == alone[module].keys()
        for name, value in alone[module].items():
            torch.testing.assert_close(member[module][name], value, **CLOSE, msg=f"{module}.{name}")
    for opt in ("opt_g", "opt_d"):
        assert member[opt]["param_groups"] == alone[opt]["param_groups"]
        for index, state in alone[opt]["state"].items():
            assert float(member[opt]["state"][index]["step"]) == float(state["step"])
            for key in ("exp_avg", "exp_avg_sq"):
                torch.testing.assert_close(member[opt]["state"][index][key], state[key], rtol=1e-3, atol=1e-8)
    assert torch.equal(member["rng"], alone["rng"])  # the same draws, in the same order
    assert torch.equal(member["order"], alone["order"]) and member["cursor"] == alone["cursor"]
    assert member["step"] == alone["step"]


@pytest.mark.parametrize(
    "shared",
    [
        dict(),  # batch 100 = the circle's 100 points: a new permutation every step
        dict(dataset="moons", n_samples=150, batch_size=64, d_steps=2, loss="hinge", latent_dim=2),
        dict(n_samples=40, batch_size=50, loss="least_squares"),  # batch > data: drawn with replacement
        dict(latent="mixture", latent_modes=4),  # each member draws its z from the mixture with its own generator
    ],
)
def test_each_member_of_a_stack_matches_the_trainer_alone(shared):
    members = [
        dict(seed=0),
        dict(seed=1, lr_g=2e-3),
        dict(seed=2, ema=0.0),
        dict(seed=3, lr_d=5e-4, ema=0.9, beta1=0.0),
    ]
    configs = [TrainConfig(**{**SMALL, **shared, **m}) for m in members]
    steps = 25
    stack = StackedTrainer(configs)
    stats = torch.stack([stack.train_step() for _ in range(steps)])  # (steps, K, 4)
    for k, config in enumerate(configs):
        alone = Trainer(config, load_dataset(config))
        alone_stats = torch.stack([alone.train_step() for _ in range(steps)])
        torch.testing.assert_close(stats[:, k], alone_stats, **CLOSE)
        _assert_same_state(stack.member_state(k), alone.state_dict())
        # ... and the member, put into a Trainer of its own, trains on exactly like the original
        member = Trainer(config, load_dataset(config))
        member.load_member_state(0, stack.member_state(k))
        torch.testing.assert_close(
            torch.stack([member.train_step() for _ in range(3)]),
            torch.stack([alone.train_step() for _ in range(3)]),
            **CLOSE,
        )


def test_the_three_ways_of_a_stacked_layer_are_covered():
    assert {_product(16, 16), _product(16, 2), _product(16, 1)} == {"bmm", "transposed", "dot"}


def test_members_are_independent_even_when_one_diverges():
    configs = [TrainConfig(**SMALL, seed=s) for s in range(3)]
    clean, poisoned = StackedTrainer(configs), StackedTrainer(configs)
    with torch.no_grad():
        poisoned.d_params[0][1].fill_(float("nan"))
    for _ in range(5):
        a, b = clean.train_step(), poisoned.train_step()
    assert torch.isnan(b[1]).all() and poisoned.finite().tolist() == [True, False, True]
    torch.testing.assert_close(b[[0, 2]], a[[0, 2]], rtol=0, atol=0)


def test_a_stack_refuses_members_of_different_shapes_and_image_data():
    with pytest.raises(GankitError, match="latent_dim"):
        StackedTrainer([TrainConfig(**SMALL), TrainConfig(**{**SMALL, "latent_dim": 5})])
    with pytest.raises(GankitError, match="stack"):
        StackedTrainer([TrainConfig(dataset="mnist")])


def test_expand_crosses_the_lists_and_the_seeds():
    plan = expand(TrainConfig(**SMALL, steps=7), {"latent_dim": [1, 2], "lr_g": [1e-3, 1e-4, 1e-2]}, seeds=2)
    assert len(plan) == 2 * 3 * 2
    assert [(s["latent_dim"], s["lr_g"], c.seed) for s, c in plan[:4]] == [
        (1, 1e-3, 0),
        (1, 1e-3, 1),
        (1, 1e-4, 0),
        (1, 1e-4, 1),
    ]
    assert all(c.steps == 7 and c.latent_dim == s["latent_dim"] and c.lr_g == s["lr_g"] for s, c in plan)
    assert [c.seed for _, c in expand({"dataset": "moons"}, {}, seeds=[5, 9])] == [5, 9]
    assert [c.seed for _, c in expand(None, {"seed": [3, 4]})] == [3, 4]
    assert len(expand()) == 8  # default: seeds 0..7 of the default config
    for grid, seeds, match in [
        ({"latent_size": [1]}, 2, "sweep field"),
        ({"latent_dim": []}, 2, "non-empty"),
        ({"latent_dim": [2, 2]}, 2, "distinct"),
        ({"seed": [1]}, 2, "twice"),
        ({"latent_dim": [0, 1]}, 2, "latent_dim"),
        ({"dataset": ["mnist"]}, 2, "toy dataset"),
        ({}, 0, "seeds"),
    ]:
        with pytest.raises(GankitError, match=match):
            expand(TrainConfig(**SMALL), grid, seeds)


def test_mean_interval():
    mean, low, high = mean_interval([1.0, 2.0, 3.0, 4.0])
    half = 3.182446305284263 * np.std([1, 2, 3, 4], ddof=1) / 2  # t(0.975, 3) * sd / sqrt(4)
    assert mean == 2.5 and math.isclose(low, 2.5 - half) and math.isclose(high, 2.5 + half)
    mean, low, high = mean_interval([1.0, 2.0, 3.0, 4.0, float("nan")], "bootstrap")
    assert mean == 2.5 and 1.0 <= low < 2.5 < high <= 4.0
    assert math.isnan(mean_interval([1.0])[1]) and math.isnan(mean_interval([])[0])
    table = summarise(
        [
            {"setting": "a", "x": 1, "w1": 1.0, "w1_floor": 0.5, "diverged_at": None},
            {"setting": "a", "x": 1, "w1": 3.0, "w1_floor": 0.5, "diverged_at": None},
            {"setting": "b", "x": 2, "diverged_at": 4},
        ],
        ["x"],
        ["w1"],
        "t",
    )
    assert [(r["x"], r["n"], r["diverged"], r["w1_mean"]) for r in table[:1]] == [(1, 2, 0, 2.0)]
    assert table[1]["diverged"] == 1 and math.isnan(table[1]["w1_mean"])


@pytest.mark.slow  # about 10 s, most of it the exact W1 of each GAN
def test_sweep_writes_the_table_the_figures_and_runs_equal_to_gankit_train(tmp_path):
    base = TrainConfig(**SMALL, steps=20, log_every=10, eval_every=20)  # one evaluation: W1's draws cost seconds
    result = gankit.sweep(base, {"latent_dim": [1, 2]}, seeds=2, out=tmp_path / "sweep", progress=False)
    folder = tmp_path / "sweep"
    assert isinstance(result, SweepResult) and result.fields == ["latent_dim"] and result.metrics[0] == "w1"
    assert "radial_error" in result.metrics  # the circle's own metric
    with (folder / "gans.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["latent_dim"], r["seed"]) for r in rows] == [("1", "0"), ("1", "1"), ("2", "0"), ("2", "1")]
    assert all(float(r["w1"]) > 0 and r["run"] for r in rows)
    with (folder / "table.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [t["latent_dim"] for t in table] == ["1", "2"] and {"w1_mean", "w1_low", "w1_high", "n"} <= set(table[0])
    markdown = (folder / "table.md").read_text()
    assert markdown.startswith("| latent_dim | n | w1 |") and "Student t" in markdown
    for name in ("w1_vs_latent_dim", "radial_error_vs_latent_dim", "samples"):
        assert (folder / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    again = SweepResult.load(folder)
    assert again.table == json.loads(json.dumps(result.table)) and len(again.rows) == 4
    assert set(again.plot(save=False)) == {
        "w1_vs_latent_dim",
        "mmd_vs_latent_dim",
        "radial_error_vs_latent_dim",
        "hist_kl_vs_latent_dim",
        "hist_js_vs_latent_dim",
        "samples",
    }

    # Each GAN is an ordinary run folder, and the same GAN as gankit.train makes.
    member = result.run({"latent_dim": 2}, seed=1)
    assert isinstance(member, Run) and member.step == 20
    alone = gankit.train(
        base.replace(latent_dim=2, seed=1, eval_every=20), out=tmp_path / "alone", progress=False, figures=False
    )
    np.testing.assert_allclose(member.sample(200), alone.sample(200), rtol=1e-4, atol=1e-5)
    row = next(r for r in result.rows if r["latent_dim"] == 2 and r["seed"] == 1)
    assert math.isclose(row["w1"], alone.metrics_summary()["w1"], rel_tol=1e-3)
    assert [r["step"] for r in member.metrics if "loss_d" in r] == [10, 20]

    with pytest.raises(GankitError, match="already exists"):
        gankit.sweep(base, {"latent_dim": [1, 2]}, seeds=2, out=folder, progress=False)


def test_a_sweep_result_shows_as_tables_and_its_table_stays_a_list_of_dicts(tmp_path):
    table = [
        {"setting": "latent_dim=1", "latent_dim": 1, "n": 3, "diverged": 1, "w1_mean": 0.5, "w1_low": 0.25},
        {"setting": "latent_dim=2", "latent_dim": 2, "n": 3, "diverged": 0, "w1_mean": 0.125, "w1_low": 0.0625},
    ]
    rows = [{"setting": "latent_dim=1", "latent_dim": 1, "seed": 0, "w1": 0.5}]
    result = SweepResult(tmp_path, ["latent_dim"], rows, table, ["w1"], "t", seeds=[0, 1, 2])
    assert result.table == table and isinstance(result.table, list) and json.loads(json.dumps(result.table)) == table
    html = result._repr_html_()
    assert "<th>latent_dim</th><th>n</th><th>w1</th>" in html and "<td>2 (1 diverged)</td>" in html
    assert "<td>0.5 [0.25, nan]</td>" in html and "over seeds 0..2" in html
    assert str(result).splitlines()[1].split() == ["latent_dim", "n", "w1"]
    assert result.markdown().startswith("| latent_dim | n | w1 |\n|---|---|---|\n| 1 | 2 (1 diverged) |")
    assert result.table._repr_html_().count("<tr>") == 3 and "<td>0.0625</td>" in result.table._repr_html_()
    header, first, second = str(result.table).splitlines()
    assert header.split() == list(table[0]) and first.split()[:2] == ["latent_dim=1", "1"]
    assert len(header) == len(first) == len(second)  # aligned: the last column's numbers end under its name


@pytest.mark.slow
def test_cli_sweep(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(
        [
            "sweep",
            "--dataset",
            "circle",
            "--latent-dim",
            "1,2",
            "--g-hidden",
            "16,16",
            "--d-hidden",
            "16,16",
            "--steps",
            "10",
            "--eval-every",
            "10",
            "--seeds",
            "2",
            "--interval",
            "bootstrap",
            "--no-runs",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "| latent_dim | n | w1 |" in printed and "bootstrap" in printed
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["grid"] == {"latent_dim": [1, 2]} and saved["seeds"] == [0, 1] and saved["interval"] == "bootstrap"
    assert saved["base"]["g_hidden"] == [16, 16] and not (out / "runs").exists()
    assert (out / "figures" / "w1_vs_latent_dim.png").is_file()

    # list fields take space-separated values; --seed lists seeds
    code = main(
        [
            "sweep",
            "--dataset",
            "circle",
            "--g-hidden",
            "8,8",
            "16,16",
            "--d-hidden",
            "8,8",
            "--seed",
            "3",
            "--steps",
            "5",
            "--no-runs",
            "--quiet",
            "--out",
            str(tmp_path / "hidden"),
        ]
    )
    saved = json.loads((tmp_path / "hidden" / "sweep.json").read_text())
    assert code == 0 and saved["grid"] == {"g_hidden": [[8, 8], [16, 16]]} and saved["seeds"] == [3]
    assert [row["g_hidden"] for row in saved["table"]] == [[8, 8], [16, 16]]

    assert main(["sweep", "--latent-dim", "1,x", "--out", str(tmp_path / "bad")]) == 2
    assert main(["sweep", "--dataset", "mnist", "--out", str(tmp_path / "bad")]) == 2
    assert main(["sweep", "--seeds", "2", "--seed", "1,2", "--out", str(tmp_path / "bad")]) == 2
    assert main(["sweep", "--interval", "normal", "--out", str(tmp_path / "bad")]) == 2
    assert "error" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_a_stacked_network_refuses_layers_that_mix_the_batch():
    from torch import nn

    from gankit.models import MLPGenerator
    from gankit.stacked import _StackedNet

    generator = MLPGenerator(2, (2,), (8, 8))
    generator.net.insert(1, nn.BatchNorm1d(8, affine=False))
    with pytest.raises(GankitError, match="BatchNorm1d"):
        _StackedNet([generator], "generator", torch.device("cpu"))


def test_stacks_use_every_core_unless_alone_or_told():
    config = TrainConfig(dataset="circle")
    assert training_threads(config, 1) == 1  # a lone GAN trains as gankit.train trains it
    assert training_threads(config, 64) == usable_cores()
    assert training_threads(config.replace(threads=1), 64) == 1
    with pytest.warns(UserWarning, match="threads=10000 is more than the"):
        assert training_threads(config.replace(threads=10000), 64) == usable_cores()  # capped: no oversubscription


def test_a_sweep_gives_back_the_callers_thread_count(tmp_path):
    torch.set_num_threads(1)
    gankit.sweep(TrainConfig(**SMALL, steps=5), {}, seeds=2, out=tmp_path / "sweep", progress=False, figures=False)
    assert torch.get_num_threads() == 1
