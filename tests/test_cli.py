import json
import subprocess
import sys

import numpy as np
import pytest

from gankit.cli import main
from gankit.config import TrainConfig
from gankit.run import default_run_dir

TINY = ["--g-hidden", "16,16", "--d-hidden", "16,16", "--quiet"]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("gankit: error: ")
    return err[0]


def test_train_sample_plot_eval_smoke(tmp_path, capsys):
    out = tmp_path / "moons"
    assert (
        main(
            [
                "train",
                "--dataset",
                "moons",
                "--steps",
                "40",
                "--latent-dim",
                "2",
                "--eval-every",
                "20",
                "--out",
                str(out),
                *TINY,
            ]
        )
        == 0
    )
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
    assert (
        main(["train", "--config", str(config), "--latent-dim", "3", "--eval-every", "10", "--out", str(out), *TINY])
        == 0
    )
    saved = json.loads((out / "config.json").read_text())
    assert saved["latent_dim"] == 3 and saved["steps"] == 10


def test_train_help_names_the_folder_a_run_goes_to_by_default(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "default runs/<dataset>-<n>, the next free number" in " ".join(capsys.readouterr().out.split())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "moons-2").mkdir(parents=True)
    assert default_run_dir(TrainConfig(dataset="moons")) == (tmp_path / "runs" / "moons-3").resolve()


# The table of bad inputs (flags, config files, paths, data files) is in test_validation.py.


def test_console_script_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gankit.cli", "train", "--dataset", "nope", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_sample_and_eval_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 2
    assert "config.json" in _one_error_line(capsys)
    assert main(["sample", str(tmp_path), "--out", str(tmp_path / "x.npz")]) == 2
    _one_error_line(capsys)
