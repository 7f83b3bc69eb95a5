"""A sweep trains in the one training loop: it evaluates and checkpoints on schedule, saves on
SIGTERM, and a sweep killed with SIGKILL resumes to exactly the result of one never interrupted."""

from __future__ import annotations

import csv
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
from gankit.runfolder import list_checkpoints, read_metrics

# Two stacks (latent 2 and 3) of two seeds, 16-wide, checkpoints every 20 of 600 steps.
FLAGS = [
    "--dataset",
    "moons",
    "--g-hidden",
    "16,16",
    "--d-hidden",
    "16,16",
    "--latent-dim",
    "2,3",
    "--seeds",
    "2",
    "--steps",
    "600",
    "--log-every",
    "10",
    "--eval-every",
    "200",
    "--checkpoint-every",
    "20",
    "--keep-checkpoints",
    "2",
    "--threads",
    "1",
    "--quiet",
]


def _sweep_process(out: Path) -> subprocess.Popen:
    script = "import sys; from gankit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", script, "sweep", *FLAGS, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _final_states(out: Path) -> dict[str, dict]:
    return {run.name: load_checkpoint(list_checkpoints(run)[-1]) for run in sorted((out / "runs").iterdir())}


def _rows(out: Path) -> list[dict]:
    with (out / "gans.csv").open() as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "whole"
    assert main(["sweep", *FLAGS, "--out", str(out)]) == 0
    return out


def test_a_sweep_evaluates_and_checkpoints_on_schedule(uninterrupted):
    for run in (uninterrupted / "runs").iterdir():
        records = read_metrics(run)
        assert [r["step"] for r in records if "w1" in r] == [200, 400, 600]
        assert [p.name for p in list_checkpoints(run)] == ["step-00000580.safetensors", "step-00000600.safetensors"]
    assert len(_rows(uninterrupted)) == 4


def _wait_for_checkpoint(out: Path, process: subprocess.Popen, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = sorted((out / "runs").glob("*")) if (out / "runs").is_dir() else []
        if runs and len(list_checkpoints(runs[0])) and int(list_checkpoints(runs[0])[-1].stem[5:]) >= at_least:
            return
        if process.poll() is not None:
            pytest.fail(f"the sweep ended early: {process.stderr.read()}")
        time.sleep(0.01)
    pytest.fail("the sweep made no progress")


@pytest.mark.slow
def test_a_sweep_killed_mid_stack_resumes_bit_for_bit(tmp_path, uninterrupted):
    out = tmp_path / "killed"
    process = _sweep_process(out)
    _wait_for_checkpoint(out, process, 120)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "gans.csv").exists()
    assert main(["sweep", "--resume", str(out), "--quiet"]) == 0
    expected, resumed = _final_states(uninterrupted), _final_states(out)
    assert expected.keys() == resumed.keys()
    for name, state in expected.items():
        for key in ("G", "D", "G_ema"):
            for weight in state[key]:
                assert torch.equal(state[key][weight], resumed[name][key][weight]), f"{name} {key}.{weight}"
        assert torch.equal(state["rng"], resumed[name]["rng"])
    assert _rows(out) == _rows(uninterrupted)
    steps = [r["step"] for r in read_metrics(next((out / "runs").iterdir())) if "loss_d" in r]
    assert steps == list(range(10, 601, 10))  # the history reads as one run


@pytest.mark.slow
def test_sigterm_saves_every_member_and_says_how_to_resume(tmp_path, uninterrupted):
    out = tmp_path / "stopped"
    process = _sweep_process(out)
    _wait_for_checkpoint(out, process, 40)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and f"gankit sweep --resume {out}" in stderr
    stopped = {run.name: load_checkpoint(list_checkpoints(run)[-1])["step"] for run in (out / "runs").iterdir()}
    assert len(set(stopped.values())) == 1  # every member of the stack saved at the same step
    assert gankit.resume_sweep(out, progress=False, figures=False).rows
    assert _rows(out) == _rows(uninterrupted)
