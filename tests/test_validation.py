"""Every bad input gives one line naming the bad value and what is accepted, exit code 2,
and writes nothing: flags, config-file values, paths and data files, table-driven."""

import hashlib
import json

import numpy as np
import pytest

import gankit
from gankit.cli import main


def _files(root):
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _own_networks():
    from torch import nn

    return {
        "generator": nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 2)),
        "discriminator": nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid()),
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Files the bad inputs point at: a finished run, config files, data files."""
    root = tmp_path_factory.mktemp("validation")
    gankit.train(
        gankit.TrainConfig(dataset="moons", steps=20),
        root / "own",
        models=None,
        progress=False,
        figures=False,
        **_own_networks(),
    )
    gankit.train(
        gankit.TrainConfig(dataset="moons", steps=20, g_hidden=(8, 8), d_hidden=(8, 8)),
        root / "run",
        progress=False,
        figures=False,
    )
    files = {
        "unknown_key.json": json.dumps({"dataset": "moons", "stepz": 10}),
        "wrong_type.json": json.dumps({"steps": "many"}),
        "bad_hidden.json": json.dumps({"g_hidden": [64, -1]}),
        "bool_steps.json": json.dumps({"steps": True}),
        "not_object.json": json.dumps([1, 2]),
        "broken.json": '{"steps": 10',
        "bad_beta.json": json.dumps({"beta1": 1.5}),
        "nan.csv": "1,2\n3,nan\n",
        "ragged.csv": "1,2\n3,4,5\n",
        "text.csv": "1,2\nfoo,bar\n",
        "empty.csv": "",
        "one_row.csv": "1,2\n",
        "points.txt": "1,2\n",
        "repeated_key.json": '{"steps": 10, "steps": 20}',
        "deep.json": "[" * 100_000 + "]" * 100_000,
        "one_column.csv": "1\n2\n3\n4\n",
        "underscore.csv": "1,2\n1_000,3\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    for name, body in USER_MODULES.items():
        (root / f"{name}.py").write_text(MODELS_HEADER + body)
    np.save(root / "three_d.npy", np.zeros((4, 2, 2)))
    np.save(root / "wide.npy", np.random.default_rng(0).normal(size=(50, 200_000)).astype(np.float32))
    np.save(root / "complex.npy", np.ones((4, 2)) * (1 + 2j))
    np.save(root / "bools.npy", np.ones((4, 2), dtype=bool))
    np.save(root / "structured.npy", np.zeros(4, dtype=[("x", "f4"), ("y", "f4")]))
    (root / "huge.csv").write_text("1,2\n3,1e300\n")
    (root / "same.csv").write_text("1,2\n1,2\n")
    (root / "adir.npz").mkdir()
    np.save(root / "inf.npy", np.array([[1.0, np.inf], [0.0, 1.0]]))
    (root / "pickled.npy").write_bytes(b"\x80\x04not numpy")
    return root


MODELS_HEADER = """
import torch
from torch import nn


def make_generator(config):
    return nn.Sequential(nn.Linear(config.latent_dim, 8), nn.ReLU(), nn.Linear(8, 2))


def make_discriminator(config):
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid())
"""
# Each file redefines what it breaks (a later def wins).
USER_MODULES = {
    "good": "",
    "raises": """
class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 2)

    def forward(self, z):
        raise RuntimeError("my bug")


def make_generator(config):
    return Broken()
""",
    "nan": "\ndef make_generator(config):\n"
    "    return nn.Sequential(nn.Linear(config.latent_dim, 2), nn.Softplus(), nn.Threshold(9.0, float('nan')))\n",
    "wrong_shape": "\ndef make_generator(config):\n    return nn.Sequential(nn.Linear(config.latent_dim, 3))\n",
    "d_shape": "\ndef make_discriminator(config):\n    return nn.Sequential(nn.Linear(2, 4))\n",
    "no_parameters": "\ndef make_discriminator(config):\n    return nn.Sequential(nn.Flatten())\n",
    "factory_fails": "\ndef make_generator(config):\n    raise ValueError('no')\n",
    "not_a_module": "\ndef make_generator(config):\n    return 3\n",
    "only_g": "\ndel make_discriminator\n",
    "no_layers": """
class Weighted(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(2))

    def forward(self, x):
        return (x * self.w).sum(1)


def make_discriminator(config):
    return Weighted()
""",
    "import_error": "\n1 / 0\n",
    "exits": "\nimport sys\nsys.exit(0)\n",
    "loss_42": "\ndef make_loss(config):\n    return 42\n",
    "bigger": "\ndef make_generator(config):\n"
    "    return nn.Sequential(nn.Linear(config.latent_dim, 32), nn.ReLU(), nn.Linear(32, 2))\n",
}

CASES = [
    # --- flags ---
    (["train", "--dataset", "mnits"], "dataset='mnits'"),
    (["train", "--model", "resnet"], "model='resnet'"),
    (["train", "--model", "dcgan"], "model='dcgan'"),
    (["train", "--conditional"], "conditional=True"),
    (["train", "--loss", "wgan"], "loss='wgan'"),
    (["train", "--r1-gamma=-1"], "r1_gamma=-1.0"),
    (["train", "--gp-lambda", "nan"], "gp_lambda=nan"),
    (["train", "--r2-gamma", "inf"], "r2_gamma=inf"),
    (["train", "--penalty-every", "0"], "penalty_every=0"),
    (["train", "--d-norm", "batch"], "d_norm='batch'"),
    (["train", "--steps", "0"], "steps=0"),
    (["train", "--steps", "ten"], "steps='ten'"),
    (["train", "--steps", "1.5"], "steps='1.5'"),
    (["train", "--batch-size", "0"], "batch_size=0"),
    (["train", "--latent-dim=-2"], "latent_dim=-2"),
    (["train", "--n-samples", "0"], "n_samples=0"),
    (["train", "--lr-g", "0"], "lr_g=0.0"),
    (["train", "--lr-d=-1"], "lr_d=-1.0"),
    (["train", "--lr-g", "inf"], "lr_g=inf"),
    (["train", "--beta1", "1"], "beta1=1.0"),
    (["train", "--beta2=-0.1"], "beta2=-0.1"),
    (["train", "--ema", "2"], "ema=2.0"),
    (["train", "--d-steps", "0"], "d_steps=0"),
    (["train", "--g-hidden", "64,0"], "g_hidden=[64, 0]"),
    (["train", "--d-hidden", "a,b"], "d_hidden='a,b'"),
    (["train", "--noise=-0.1"], "noise=-0.1"),
    (["train", "--seed=-1"], "seed=-1"),
    (["train", "--log-every", "0"], "log_every=0"),
    (["train", "--eval-every", "0"], "eval_every=0"),
    (["train", "--checkpoint-every", "0"], "checkpoint_every=0"),
    (["train", "--keep-checkpoints", "0"], "keep_checkpoints=0"),
    (["train", "--threads", "0"], "threads=0"),
    (["train", "--device", "tpu"], "device='tpu'"),
    (["train", "--max-seconds", "0"], "max_seconds=0.0"),
    (["train", "--preset", "mnist-wgan"], "--preset='mnist-wgan'"),
    (["train", "--steps", "1_000"], "steps='1_000'"),
    (["train", "--lr-g", "1_0.5"], "lr_g='1_0.5'"),
    (["train", "--noise", "1e300"], "NaN or infinite"),
    (["sweep", "--seeds", "1000000000", "--out", "{root}/never"], "a sweep of 1,000,000,000 GANs would need"),
    (["sweep", "--seeds", "1_000", "--out", "{root}/never"], "--seeds='1_000'"),
    (["sample", "{root}/run", "--seed", str(2**64), "--out", "{root}/s.npz"], "seed=18446744073709551616"),
    # --- config-file values ---
    (["train", "--config", "{root}/unknown_key.json"], "config key='stepz'"),
    (["train", "--config", "{root}/wrong_type.json"], "steps='many'"),
    (["train", "--config", "{root}/bad_hidden.json"], "g_hidden=[64, -1]"),
    (["train", "--config", "{root}/bool_steps.json"], "steps=True"),
    (["train", "--config", "{root}/not_object.json"], "not_object.json"),
    (["train", "--config", "{root}/broken.json"], "broken.json"),
    (["train", "--config", "{root}/bad_beta.json"], "beta1=1.5"),
    (["train", "--config", "{root}/missing.json"], "missing.json"),
    (["train", "--config", "{root}/repeated_key.json"], "key 'steps' appears twice"),
    (["train", "--config", "{root}/deep.json"], "nested too deep"),
    # --- paths ---
    (["train", "--resume", "{root}/nothing_here"], "nothing_here"),
    (["train", "--resume", "{root}/run", "--latent-dim", "3"], "--latent-dim"),
    (["sample", "{root}/run", "--n", "0", "--out", "{root}/s.npz"], "--n=0"),
    (["sample", "{root}/run", "--out", "{root}/s.txt"], "--out='"),
    (["sample", "{root}/run", "--label", "3", "--out", "{root}/s.npz"], "--label=3"),
    (["eval", "{root}/no_run"], "no_run"),
    (["plot", "{root}/no_run"], "no_run"),
    # --- dataset files ---
    (["train", "--dataset", "{root}/nan.csv"], "NaN or infinite"),
    (["train", "--dataset", "{root}/ragged.csv"], "has 3 columns"),
    (["train", "--dataset", "{root}/text.csv"], "is not numeric"),
    (["train", "--dataset", "{root}/empty.csv"], "empty.csv"),
    (["train", "--dataset", "{root}/one_row.csv"], "one_row.csv"),
    (["train", "--dataset", "{root}/points.txt"], "dataset='"),
    (["train", "--dataset", "{root}/three_d.npy"], "shape (4, 2, 2)"),
    (["train", "--dataset", "{root}/inf.npy"], "NaN or infinite"),
    (["train", "--dataset", "{root}/pickled.npy"], "could not be read"),
    (["train", "--dataset", "{root}/absent.npy"], "does not exist"),
    (["train", "--dataset", "{root}/complex.npy"], "holds complex128 values"),
    (["train", "--dataset", "{root}/bools.npy"], "holds bool values"),
    (["train", "--dataset", "{root}/structured.npy"], "holds [('x', '<f4'), ('y', '<f4')] values"),
    (["train", "--dataset", "{root}/huge.csv"], "beyond what training in float32 can take"),
    (["train", "--dataset", "{root}/same.csv"], "identical points"),
    (["train", "--dataset", "{root}/one_column.csv"], "shape (4, 1)"),
    (["train", "--dataset", "{root}/underscore.csv"], "line 2 is not numeric"),
    (["train", "--dataset", "{root}/wide.npy"], "evaluating 200000-dimensional points would need"),
    (["train", "--seed", "18446744073709551616"], "seed=18446744073709551616"),
    (["train", "--n-samples", "1"], "n_samples=1"),
    (["train", "--dataset", "{root}/same.csv", "--noise", "0.1"], "noise=0.1"),
    (["sample", "{root}/run", "--out", "{root}/adir.npz"], "--out='"),
    # --- your own networks (--models FILE) ---
    (["train", "--models", "{root}/raises.py"], "generator (Broken) raised RuntimeError('my bug')"),
    (["train", "--models", "{root}/nan.py"], "generator (Sequential) returned NaN"),
    (["train", "--models", "{root}/wrong_shape.py"], "generator (Sequential) returned shape (2, 3)"),
    (["train", "--models", "{root}/d_shape.py"], "discriminator (Sequential) returned shape (2, 4)"),
    (["train", "--models", "{root}/no_parameters.py"], "discriminator (Sequential) has no trainable parameters"),
    (["train", "--models", "{root}/factory_fails.py"], "make_generator(config) raised ValueError('no')"),
    (["train", "--models", "{root}/not_a_module.py"], "make_generator(config) returned int"),
    (["train", "--models", "{root}/only_g.py"], "defines no make_discriminator(config)"),
    (["train", "--models", "{root}/import_error.py"], "raised ZeroDivisionError"),
    (["train", "--models", "{root}/absent.py"], "--models="),
    (["train", "--models", "{root}/exits.py"], "raised SystemExit"),
    (["train", "--models", "{root}/loss_42.py"], "make_loss(config) in"),
    (["train", "--models", "{root}/good.py", "--loss", "wasserstein"], "loss='wasserstein' is not valid"),
    (["train", "--models", "{root}/no_layers.py", "--d-norm", "spectral"], "d_norm='spectral' is not valid"),
    (["eval", "{root}/own", "--models", "{root}/bigger.py"], "weight '0.weight' is (32, 10) here and (8, 10) there"),
    (["eval", "{root}/own"], "your own networks"),
]


@pytest.mark.parametrize("argv, names", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_one_line_exit_2_nothing_written(workspace, capsys, argv, names):
    argv = [part.format(root=workspace) for part in argv]
    if argv[0] == "train" and "--resume" not in argv:
        argv += ["--out", str(workspace / "never")]
    before = _files(workspace)
    assert main([*argv, *(["--quiet"] if argv[0] == "train" else [])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("gankit: error: ")
    assert names.format(root=workspace) in err[0]
    assert "accepted" in err[0]
    assert _files(workspace) == before


def test_the_table_has_at_least_30_cases():
    assert len(CASES) >= 30
