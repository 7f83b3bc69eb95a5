import json
import subprocess
import sys

import numpy as np
import pytest

from gankit.cli import main

TINY = ["--g-hidden", "16,16", "--d-hidden", "16,16", "--quiet"]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("gankit: error: ")
    return err[0]


def test_train_sample_plot_eval_smoke(tmp_path, capsys):
    out = tmp_path / "moons"
    assert main(["train", "--dataset", "moons", "--steps", "40", "--latent-dim", "2", "--eval-every", "20", "--out", str(out), *TINY]) == 0
    assert "w1_floor" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["latent_dim"] == 2

    assert main(["sample", str(out), "--n", "123", "--out", str(tmp_path / "s.npz")]) == 0
    samples = np.load(tmp_path / "s.npz")["samples"]
    assert samples.shape == (123, 2) and samples.dtype == np.float32

    assert main(["plot", str(out)]) == 0
    assert (out / "figures" / "decision_map.png").is_file()

    capsys.readouterr()
    assert main(["eval", str(out), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["w1"] > 0 and metrics["w1_floor"] > 0


def test_config_file_and_flags_override_it(tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"dataset": "circle", "steps": 10, "latent_dim": 4}))
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--latent-dim", "3", "--eval-every", "10", "--out", str(out), *TINY]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["latent_dim"] == 3 and saved["steps"] == 10


@pytest.mark.parametrize("args, names", [
    (["train", "--dataset", "mnits"], "dataset='mnits'"),
    (["train", "--loss", "wgan"], "loss='wgan'"),
    (["train", "--steps", "0"], "steps=0"),
    (["train", "--steps", "-5"], "steps=-5"),
    (["train", "--batch-size", "0"], "batch_size=0"),
    (["train", "--latent-dim", "0"], "latent_dim=0"),
    (["train", "--lr-g=-1e-3"], "lr_g=-0.001"),
    (["train", "--lr-d", "0"], "lr_d=0.0"),
    (["train", "--lr-d", "nan"], "lr_d=nan"),
    (["train", "--g-hidden", "64,x"], "g_hidden='64,x'"),
    (["train", "--dataset", "missing.csv"], "missing.csv"),
    (["train", "--model", "resnet"], "model='resnet'"),
    (["train", "--preset", "mnist-wgan"], "--preset='mnist-wgan'"),
])
def test_bad_input_is_one_line_naming_the_value_with_exit_code_2(tmp_path, capsys, args, names):
    out = tmp_path / "never"
    assert main([*args, "--out", str(out), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert names in line and "accepted" in line
    assert not out.exists()


@pytest.mark.parametrize("content", ["1,2\nnan,4\n", "1,2\n3\n", "a,b\n1,x\n", ""])
def test_bad_point_file_exits_2(tmp_path, capsys, content):
    path = tmp_path / "points.csv"
    path.write_text(content)
    assert main(["train", "--dataset", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "points.csv" in _one_error_line(capsys)


def test_console_script_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gankit.cli", "train", "--dataset", "nope", "--out", str(tmp_path / "r")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_sample_and_eval_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 2
    assert "config.json" in _one_error_line(capsys)
    assert main(["sample", str(tmp_path), "--out", str(tmp_path / "x.npz")]) == 2
    _one_error_line(capsys)
