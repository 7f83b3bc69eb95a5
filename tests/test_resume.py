"""Runs that survive: exact resume after SIGKILL (also mid-checkpoint), signals, divergence,
unwritable folders and hostile checkpoint files."""

import errno
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.cli import main
from gankit.errors import GankitError
from gankit.run import Run, list_checkpoints

FLAGS = [
    "--dataset",
    "moons",
    "--g-hidden",
    "32,32",
    "--d-hidden",
    "32,32",
    "--log-every",
    "10",
    "--eval-every",
    "500",
    "--checkpoint-every",
    "20",
    "--keep-checkpoints",
    "2",
    "--threads",
    "1",
    "--quiet",
]
STEPS = 1000


def _train_process(out: Path, code: str = "") -> subprocess.Popen:
    """`gankit train` in a child process; `code` runs first there (to plant a fault)."""
    script = f"import sys; {code}\nfrom gankit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", script, "train", *FLAGS, "--steps", str(STEPS), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_log_lines(out: Path, lines: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        log = out / "metrics.jsonl"
        if log.exists() and log.read_text().count("\n") >= lines:
            return
        if process.poll() is not None:
            pytest.fail(f"training ended early: {process.stderr.read()}")
        time.sleep(0.005)
    pytest.fail("training made no progress")


def _final_state(run_dir: Path) -> dict:
    return load_checkpoint(list_checkpoints(run_dir)[-1])


def _assert_identical(a: dict, b: dict) -> None:
    assert a["step"] == b["step"] == STEPS
    for key in ("G", "D", "G_ema"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), f"{key}.{name} differs"
    for key in ("opt_g", "opt_d"):
        for index, moments in a[key]["state"].items():
            for name, value in moments.items():
                assert torch.equal(value, b[key]["state"][index][name]), f"{key} state {index}.{name} differs"
    assert torch.equal(a["rng"], b["rng"])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main(["train", *FLAGS, "--steps", str(STEPS), "--out", str(out)]) == 0
    return _final_state(out)


@pytest.mark.slow
def test_sigkill_at_a_random_step_then_resume_is_bit_identical(tmp_path, uninterrupted):
    out = tmp_path / "run"
    process = _train_process(out)
    _wait_for_log_lines(out, random.Random().randint(5, 60), process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    _assert_identical(_final_state(out), uninterrupted)
    steps = [r["step"] for r in gankit.read_metrics(out) if "loss_d" in r]
    assert steps == list(range(10, STEPS + 1, 10))  # the history reads as one run


@pytest.mark.slow
def test_sigkill_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, uninterrupted):
    # Each atomic write fsyncs the file, then the folder: the marker and config.json take calls 1-4, the step-20
    # and step-40 checkpoints 5-8, so call 9 kills the child with step 60's bytes written but not renamed.
    plant = (
        "import os, signal, gankit.files as c\n"
        "calls = [0]\n"
        "real_fsync = os.fsync\n"
        "def fsync(fd):\n"
        "    calls[0] += 1\n"
        "    if calls[0] == 9: os.kill(os.getpid(), signal.SIGKILL)\n"  # 2 fsyncs per checkpoint: file, folder
        "    real_fsync(fd)\n"
        "c.os.fsync = fsync"
    )
    out = tmp_path / "run"
    process = _train_process(out, plant)
    assert process.wait(timeout=120) == -signal.SIGKILL
    assert [p.name for p in list_checkpoints(out)] == ["step-00000020.safetensors", "step-00000040.safetensors"]
    assert list((out / "checkpoints").glob(".*.tmp"))  # the cut-short write is left as a temp file only
    load_checkpoint(list_checkpoints(out)[-1])
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert not list((out / "checkpoints").glob(".*.tmp"))
    _assert_identical(_final_state(out), uninterrupted)


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_save_a_checkpoint_and_say_how_to_resume(tmp_path, uninterrupted, sig, code):
    out = tmp_path / "run"
    process = _train_process(out)
    _wait_for_log_lines(out, 15, process)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert f"gankit train --resume {out}" in stderr
    interrupted_at = load_checkpoint(list_checkpoints(out)[-1])["step"]
    assert interrupted_at % 20 != 0 or interrupted_at > 0
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    _assert_identical(_final_state(out), uninterrupted)


def _tiny(**overrides) -> gankit.TrainConfig:
    return gankit.TrainConfig(
        **{
            "dataset": "moons",
            "g_hidden": (16, 16),
            "d_hidden": (16, 16),
            "steps": 100,
            "log_every": 10,
            "eval_every": 50,
            "checkpoint_every": 20,
            **overrides,
        }
    )


def test_resume_can_extend_the_steps(tmp_path):
    run = gankit.train(_tiny(steps=40), tmp_path / "r", progress=False, figures=False)
    assert run.step == 40
    longer = gankit.resume(tmp_path / "r", steps=60, progress=False, figures=False)
    assert longer.step == 60 and longer.config.steps == 60


POISONED_LOSS = """
import torch, gankit

def make_loss(config):
    calls = [0]

    def poisoned(fake_logits):
        calls[0] += 1
        return fake_logits.mean() * (float("nan") if calls[0] > 45 else 1.0)

    return gankit.Loss(gankit.losses.d_loss_logistic, poisoned, on="logits")
"""


def test_nan_loss_stops_with_hints_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    (tmp_path / "poison.py").write_text(POISONED_LOSS)
    with pytest.raises(
        gankit.TrainingDiverged,
        match="diverged at step 4[0-9]: G's loss became nan first .D's loss [0-9.]+.; it is your own loss: .*"
        "last good checkpoint.*step-00000040.*; try lr_g=lr_d=",
    ) as raised:
        gankit.train(_tiny(), tmp_path / "r", models=tmp_path / "poison.py", progress=False)
    config = _tiny()
    assert f"(now {config.lr_g:g})" in str(raised.value)  # the advice differs from the settings it had
    good = load_checkpoint(list_checkpoints(tmp_path / "r")[-1])
    assert good["step"] == 40 and all(torch.isfinite(t).all() for t in good["G"].values())
    argv = ["train", "--out", str(tmp_path / "cli"), "--dataset", "moons", "--steps", "100", "--checkpoint-every", "20"]
    assert main([*argv, "--models", str(tmp_path / "poison.py"), "--quiet"]) == 3
    assert "diverged" in capsys.readouterr().err


@pytest.mark.parametrize(
    "failure, message",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (OSError(errno.EROFS, "Read-only file system"), "Read-only file system"),
    ],
)
def test_full_or_read_only_folder_is_a_clear_error_and_earlier_checkpoints_survive(
    tmp_path, monkeypatch, failure, message
):
    import gankit.files as checkpoint

    real_mkstemp, calls = checkpoint.tempfile.mkstemp, [0]

    def failing_mkstemp(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 5:  # the marker, config.json, step 20, step 40, then step 60 fails
            raise failure
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", failing_mkstemp)
    with pytest.raises(GankitError, match=f"could not be written \\({message}\\); the earlier checkpoints are intact"):
        gankit.train(_tiny(), tmp_path / "r", progress=False, figures=False)
    kept = list_checkpoints(tmp_path / "r")
    assert [load_checkpoint(p)["step"] for p in kept] == [20, 40]


def test_existing_run_folder_needs_resume_or_force(tmp_path):
    gankit.train(_tiny(steps=20), tmp_path / "r", progress=False, figures=False)
    before = (tmp_path / "r" / "checkpoints" / "step-00000020.safetensors").read_bytes()
    with pytest.raises(GankitError, match="already exists.*--resume.*--force"):
        gankit.train(_tiny(steps=20), tmp_path / "r", progress=False, figures=False)
    assert (tmp_path / "r" / "checkpoints" / "step-00000020.safetensors").read_bytes() == before
    gankit.train(_tiny(steps=20, seed=1), tmp_path / "r", force=True, progress=False, figures=False)
    assert Run(tmp_path / "r").config.seed == 1


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {_Exploit.marker}",))


def test_a_pickle_payload_is_refused_and_never_executed(tmp_path):
    gankit.train(_tiny(steps=20), tmp_path / "r", progress=False, figures=False)
    _Exploit.marker = tmp_path / "pwned"
    target = list_checkpoints(tmp_path / "r")[-1]
    target.write_bytes(pickle.dumps({"G": _Exploit()}))
    torch.save({"G": _Exploit()}, tmp_path / "torch_style.safetensors")
    for path in (target, tmp_path / "torch_style.safetensors"):
        with pytest.raises(GankitError, match="not a valid gankit checkpoint"):
            load_checkpoint(path)
    with pytest.raises(GankitError, match="not a valid gankit checkpoint"):
        Run(tmp_path / "r")
    assert not _Exploit.marker.exists()


def test_truncated_checkpoint_is_refused(tmp_path):
    gankit.train(_tiny(steps=20), tmp_path / "r", progress=False, figures=False)
    path = list_checkpoints(tmp_path / "r")[-1]
    data = path.read_bytes()
    for cut in (4, 100, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(GankitError, match="not a valid gankit checkpoint"):
            load_checkpoint(path)


def test_checkpoint_of_another_model_or_config_is_refused(tmp_path):
    gankit.train(_tiny(steps=20), tmp_path / "small", progress=False, figures=False)
    gankit.train(_tiny(steps=20, g_hidden=(8, 8)), tmp_path / "other", progress=False, figures=False)
    foreign = list_checkpoints(tmp_path / "other")[-1]
    with pytest.raises(GankitError, match=r"was made with g_hidden=\[8, 8\] but the run's config has \[16, 16\]"):
        Run(tmp_path / "small", checkpoint=foreign)
    (tmp_path / "small" / "checkpoints" / "step-00000099.safetensors").write_bytes(foreign.read_bytes())
    with pytest.raises(GankitError, match="g_hidden"):
        gankit.resume(tmp_path / "small", steps=200, progress=False)
