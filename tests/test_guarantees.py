"""Nothing lost, nothing silently wrong: run-folder locks, a safe --force, checkpoints bound to their
run, one precedence of presets, config files and flags, validated edits, bounded resources."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit.checkpoint import load_checkpoint, save_checkpoint
from gankit.cli import main
from gankit.errors import GankitError
from gankit.runfolder import list_checkpoints, read_metrics

TINY = dict(dataset="moons", g_hidden=(8, 8), d_hidden=(8, 8), steps=20, log_every=10, eval_every=10)


def _train(out: Path, **overrides) -> gankit.Run:
    return gankit.train(gankit.TrainConfig(**{**TINY, **overrides}), out, progress=False, figures=False)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# ----- --force and the output folder -----
def test_force_replaces_only_a_gankit_run_folder_and_keeps_your_own_files(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    (mine / "notes.txt").write_text("keep me")
    assert main(["train", "--dataset", "moons", "--steps", "10", "--force", "--quiet", "--out", str(mine)]) == 2
    assert "--force will not clear" in _one_line_error(capsys)
    assert (mine / "config.json").read_text() == '{"my": "settings"}' and (mine / "notes.txt").exists()

    run = tmp_path / "run"
    _train(run)
    (run / "notes.txt").write_text("keep me")
    gankit.train(gankit.TrainConfig(**{**TINY, "seed": 3}), run, force=True, progress=False, figures=False)
    assert gankit.Run(run).config.seed == 3 and (run / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("out", ["", " "])
def test_an_empty_out_is_refused(tmp_path, capsys, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--steps", "5", "--quiet", "--out", out]) == 2
    assert "--out=" in _one_line_error(capsys) and not any(tmp_path.iterdir())


def test_an_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["train", "--steps", "5", "--quiet", "--out", str(tmp_path / "file")]) == 2
    assert "not an existing file" in _one_line_error(capsys) and (tmp_path / "file").read_text() == "x"


def test_a_refused_start_leaves_no_half_made_folder(tmp_path, monkeypatch):
    import gankit.run

    def no_cuda(*args, **kwargs):
        raise GankitError("device='cuda' is not valid; accepted: cpu or auto (no CUDA device is available here)")

    monkeypatch.setattr(gankit.run._Networks, "trainer", no_cuda)
    with pytest.raises(GankitError, match="cuda"):
        _train(tmp_path / "run")
    assert not (tmp_path / "run").exists()  # so that the rerun is not blocked
    monkeypatch.undo()
    _train(tmp_path / "run")


# ----- two processes, one folder -----
SLOW_TRAINING = [
    "--dataset",
    "moons",
    "--steps",
    "100000",
    "--log-every",
    "10",
    "--eval-every",
    "50000",
    "--checkpoint-every",
    "20",
    "--quiet",
]


def _training_process(out: Path, *args: str) -> subprocess.Popen:
    script = "import sys; from gankit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", script, "train", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_a_second_writer_is_refused_while_readers_keep_working(tmp_path, capsys):
    out = tmp_path / "run"
    first = _training_process(out, *SLOW_TRAINING, "--out", str(out))
    try:
        deadline = time.monotonic() + 60
        while not list_checkpoints(out) and time.monotonic() < deadline:
            assert first.poll() is None, first.stderr.read()
            time.sleep(0.02)
        before = sorted(p.name for p in list_checkpoints(out))
        for argv in (
            ["train", *SLOW_TRAINING, "--force", "--out", str(out)],
            ["train", "--resume", str(out), "--quiet"],
        ):
            assert main(argv) == 2
            assert f"is being written by process {first.pid}" in _one_line_error(capsys)
        assert main(["sample", str(out), "--n", "10", "--out", str(tmp_path / "s.npz")]) == 0  # a reader
        assert main(["eval", str(out), "--json"]) == 0
        assert set(before) <= {p.name for p in list_checkpoints(out)} | set(before)
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    steps = [r["step"] for r in read_metrics(out) if "loss_d" in r]
    assert steps == sorted(set(steps))  # one writer: no duplicated or unsorted steps
    assert (
        main(["train", "--resume", str(out), "--steps", str(steps[-1] + 20), "--quiet"]) == 0
    )  # the lock is free again


# ----- checkpoints bound to their run -----
def test_a_checkpoint_of_another_run_or_with_nan_weights_is_refused(tmp_path):
    moons, circle = _train(tmp_path / "moons"), _train(tmp_path / "circle", dataset="circle")
    roll = _train(tmp_path / "roll", dataset="swiss_roll")
    target = list_checkpoints(moons.path)[-1]
    for other, name in ((circle, "circle"), (roll, "swiss_roll")):
        target.write_bytes(list_checkpoints(other.path)[-1].read_bytes())
        with pytest.raises(GankitError, match=f"was made with dataset='{name}' but the run's config has 'moons'"):
            gankit.Run(moons.path)
    state = load_checkpoint(list_checkpoints(tmp_path / "circle")[-1])
    state["G"] = {k: torch.full_like(v, float("nan")) for k, v in state["G"].items()}
    save_checkpoint(list_checkpoints(tmp_path / "circle")[-1], state)
    with pytest.raises(GankitError, match="holds NaN or infinite weights"):
        gankit.Run(tmp_path / "circle")


@pytest.mark.parametrize("missing, mistyped", [("opt_g", None), (None, ("step", "twenty")), (None, ("G", [1, 2]))])
def test_a_forged_checkpoint_is_refused_in_one_line(tmp_path, missing, mistyped):
    run = _train(tmp_path / "run")
    path = list_checkpoints(run.path)[-1]
    state = load_checkpoint(path)
    if missing:
        del state[missing]
    else:
        state[mistyped[0]] = mistyped[1]
    save_checkpoint(path, state)
    with pytest.raises(GankitError, match=f"has .* for '{missing or mistyped[0]}'"):
        gankit.Run(run.path)
    with pytest.raises(GankitError, match="accepted"):
        gankit.resume(run.path, steps=40, progress=False, figures=False)


def test_resume_refuses_changed_data_and_steps_below_the_current_step(tmp_path):
    points = tmp_path / "points.csv"
    np.savetxt(points, np.random.default_rng(0).normal(size=(200, 2)), delimiter=",")
    run = _train(tmp_path / "run", dataset=str(points))
    config_before = (run.path / "config.json").read_text()
    with pytest.raises(GankitError, match="steps=10 is not valid; accepted: at least 20"):
        gankit.resume(run.path, steps=10, progress=False)
    assert (run.path / "config.json").read_text() == config_before  # a refused resume changes nothing
    np.savetxt(points, np.random.default_rng(1).normal(size=(200, 2)), delimiter=",")
    with pytest.raises(GankitError, match="changed since the run started"):
        gankit.resume(run.path, steps=40, progress=False)
    assert (run.path / "config.json").read_text() == config_before


# ----- one precedence: defaults < preset < config file < flags -----
def test_presets_config_files_and_flags_layer_in_that_order(tmp_path):
    from gankit.cli import _build_parser, _config_values

    (tmp_path / "c.json").write_text(json.dumps({"latent_dim": 7, "steps": 123}))

    def values(*argv):
        return _config_values(_build_parser().parse_args(["train", *argv]))

    both = gankit.TrainConfig.from_dict(values("--preset", "mnist-cgan", "--config", str(tmp_path / "c.json")))
    assert both.conditional and both.lr_g == 5e-4 and both.latent_dim == 7 and both.steps == 123  # preset kept
    assert values("--preset", "mnist-gan")["latent_dim"] == 64
    # the CLI layers flags last: seen through main's parsing into a config
    config = gankit.TrainConfig.from_dict({**values("--config", str(tmp_path / "c.json")), "dataset": "mnist"})
    assert (
        config.batch_size == 64 and config.lr_g == 2e-4
    )  # per-dataset defaults from the final dataset, not the file's


def test_cli_flags_override_preset_and_config(tmp_path, capsys):
    (tmp_path / "c.json").write_text(json.dumps({"dataset": "circle", "steps": 15, "latent_dim": 3}))
    argv = ["train", "--config", str(tmp_path / "c.json"), "--latent-dim", "4", "--quiet", "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (saved["dataset"], saved["steps"], saved["latent_dim"]) == ("circle", 15, 4)


# ----- options that would be ignored, edits after creation -----
def test_options_a_dataset_does_not_use_are_errors_or_used(tmp_path):
    points = tmp_path / "points.npy"
    np.save(points, np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32))
    with pytest.raises(GankitError, match="noise=0.1 is not valid"):
        gankit.TrainConfig(dataset=str(points), noise=0.1)
    with pytest.raises(GankitError, match="data_dir='x' is not valid"):
        gankit.TrainConfig(dataset="circle", data_dir="x")
    dataset = gankit.data.load_dataset(gankit.TrainConfig(dataset=str(points), n_samples=50))
    assert len(dataset.train) == 50  # the first 50 points of the file, as the config records
    with pytest.raises(GankitError, match="n_samples=500 is not valid; accepted: at most the 300 points"):
        gankit.data.load_dataset(gankit.TrainConfig(dataset=str(points), n_samples=500))


def test_edits_of_a_config_are_validated_and_its_defaults_follow():
    config = gankit.TrainConfig(steps=1000)
    with pytest.raises(GankitError, match="steps=0 is not valid"):
        config.steps = 0
    assert config.steps == 1000
    config.dataset = "mnist"
    assert (config.batch_size, config.lr_g, config.g_hidden, config.beta1) == (64, 2e-4, (256, 512, 1024), 0.5)
    config.steps = 50
    assert config.eval_every == 5
    config.eval_every = 7
    config.steps = 70
    assert config.eval_every == 7  # given, so kept
    toy = config.replace(dataset="circle")
    assert (toy.batch_size, toy.g_hidden, toy.beta1, toy.beta2) == (128, (64, 64), 0.0, 0.99)  # the toy's again


# ----- messages that tell the truth -----
def test_a_training_set_of_one_point_or_identical_points_is_refused(tmp_path):
    with pytest.raises(GankitError, match="n_samples=1 is not valid"):
        gankit.TrainConfig(n_samples=1)
    same = tmp_path / "same.csv"
    same.write_text("1,2\n1,2\n1,2\n")
    with pytest.raises(GankitError, match="identical points"):
        _train(tmp_path / "r", dataset=str(same))


@pytest.mark.slow
def test_sigterm_during_an_evaluation_between_checkpoints_saves_that_step(tmp_path):
    out = tmp_path / "run"
    marker = tmp_path / "evaluating"
    plant = (  # the first evaluation (step 30) marks its start and then takes 3 s
        "import os, time, gankit.loop\nreal = gankit.loop.evaluate_members\n"
        "def slow(*a, **k):\n"
        f"    if not os.path.exists({str(marker)!r}):\n"
        f"        open({str(marker)!r}, 'w').close()\n        time.sleep(3)\n"
        "    return real(*a, **k)\ngankit.loop.evaluate_members = slow\n"
    )
    script = f"import sys\n{plant}from gankit.cli import main\nsys.exit(main(sys.argv[1:]))"
    argv = [
        "train",
        "--dataset",
        "moons",
        "--steps",
        "1000",
        "--eval-every",
        "30",
        "--checkpoint-every",
        "1000",
        "--quiet",
        "--out",
        str(out),
    ]
    process = subprocess.Popen([sys.executable, "-c", script, *argv], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    time.sleep(0.5)  # inside the evaluation of step 30
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and "at step 30: checkpoint saved" in stderr
    assert [p.name for p in list_checkpoints(out)] == ["step-00000030.safetensors"]


def test_a_full_disk_before_any_checkpoint_says_so(tmp_path, monkeypatch):
    import gankit.files

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    _train(tmp_path / "warm")  # compiled paths, loaded data
    real = gankit.files.tempfile.mkstemp
    calls = [0]

    def fail_on_checkpoints(*args, **kwargs):
        calls[0] += 1
        # the marker and config.json are written, the checkpoint is not
        return real(*args, **kwargs) if calls[0] <= 2 else full()

    monkeypatch.setattr(gankit.files.tempfile, "mkstemp", fail_on_checkpoints)
    with pytest.raises(GankitError, match="no checkpoint had been written yet"):
        _train(tmp_path / "run")


# ----- one line, exit 2, nothing written -----
def test_api_calls_with_wrong_types_give_one_line(tmp_path):
    run = _train(tmp_path / "run")
    with pytest.raises(GankitError, match="n=2.5 is not valid"):
        run.sample(2.5)
    with pytest.raises(GankitError, match="seeds=2.5 is not valid"):
        gankit.sweep(gankit.TrainConfig(**TINY), {}, seeds=2.5, out=tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists()
    with pytest.raises(GankitError, match="config=dict is not valid"):
        gankit.train({"steps": 3}, tmp_path / "x")


def test_a_corrupt_metrics_log_still_plots_with_a_warning(tmp_path):
    run = _train(tmp_path / "run")
    with (run.path / "metrics.jsonl").open("a") as log:
        log.write('[1, 2]\n{"no": "step"}\nnot json\n{"step": -3}\n{"step": 20, "w1": "text"}\n')
    with pytest.warns(UserWarning, match=r"skipped 4 line\(s\) that are not metrics records"):
        records = read_metrics(run.path)
    assert all(isinstance(r["step"], int) for r in records)
    with pytest.warns(UserWarning):
        assert "losses" in run.plot(save=False)


def test_a_line_cut_by_a_kill_does_not_swallow_the_next_record(tmp_path):
    run = _train(tmp_path / "run")
    with (run.path / "metrics.jsonl").open("a") as log:
        log.write('{"step": 30, "loss_d": 1.')  # a kill in the middle of a write
    resumed = gankit.resume(run.path, steps=40, progress=False, figures=False)
    steps = [r["step"] for r in resumed.metrics if "loss_d" in r]
    assert steps == [10, 20, 30, 40]


# ----- bounded resources -----
@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--latent-dim", "100000000"], "networks of 6,400,008,771 weights would need about"),
        (["train", "--latent-dim", "10000000"], "a batch of 128 would need about"),  # z itself: 5 GB
        (["train", "--g-hidden", "100000,100000"], "would need about 200 GB of memory"),
        (["train", "--batch-size", "1000000000"], "a batch of 1,000,000,000 would need"),
        (["train", "--n-samples", "10000000000"], "a training set of n_samples=10,000,000,000 would need"),
        (["train", "--seed", str(2**64)], "seed=18446744073709551616 is not valid"),
    ],
)
def test_what_the_machine_cannot_hold_is_refused_with_the_estimate(tmp_path, capsys, argv, message):
    assert main([*argv, "--quiet", "--out", str(tmp_path / "run")]) == 2
    line = _one_line_error(capsys)
    assert message in line and "accepted" in line and not (tmp_path / "run").exists()


def test_sample_of_a_billion_is_refused_with_the_estimate(tmp_path, capsys):
    run = _train(tmp_path / "run")
    assert main(["sample", str(run.path), "--n", str(10**12), "--out", str(tmp_path / "s.npz")]) == 2
    assert "samples would need about" in _one_line_error(capsys) and not (tmp_path / "s.npz").exists()


def test_a_sweep_says_what_it_will_cost_before_it_starts(tmp_path, capsys):
    argv = [
        "sweep",
        "--dataset",
        "circle",
        "--g-hidden",
        "8,8",
        "--d-hidden",
        "8,8",
        "--steps",
        "10",
        "--seeds",
        "2",
        "--quiet",
        "--out",
        str(tmp_path / "s"),
    ]
    assert main(argv) == 0  # not a terminal: it runs, after saying what it costs
    assert "gankit sweep: 2 GANs, 20 GAN-steps: about" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("command, module", [("train", "run"), ("sweep", "sweep")])
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_start_up_exits_in_one_line_and_leaves_no_folder(tmp_path, command, module, sig, code):
    out = tmp_path / "run"
    # the folder exists when the evaluator is being made, before the first step (a sweep's: its members' too)
    plant = (
        # import_module: `gankit.sweep` the attribute is the function, gankit.sweep the module is in sys.modules
        f"import time, pathlib, importlib\nm = importlib.import_module('gankit.{module}')\n"
        "def slow(*a, **k):\n    pathlib.Path(sys.argv[-1], 'started').touch()\n    time.sleep(60)\n"
        "m.make_evaluator = slow\n"
    )
    script = f"import sys\n{plant}from gankit.cli import main\nsys.exit(main(sys.argv[1:]))"
    extra = ["--seeds", "2"] if command == "sweep" else []
    process = subprocess.Popen(
        [sys.executable, "-c", script, command, "--steps", "50", *extra, "--quiet", "--out", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (out / "started").exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code and "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert "stopped" in lines[-1] and all(line.startswith("gankit sweep: 2 GANs") for line in lines[:-1])
    assert not out.exists()
