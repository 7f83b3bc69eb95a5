"""torch.distributed as torchrun starts it (gloo, 2 CPU processes): a data-parallel run is the run of one
process with the same global batch, a 2-rank sweep gives a 1-rank sweep's table, a signal to one rank
stops both with a checkpoint, and a run killed with SIGKILL resumes exactly."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gankit.checkpoint import load_checkpoint
from gankit.cli import main
from gankit.runfolder import list_checkpoints

pytestmark = pytest.mark.slow  # each starts two processes (about 10 s)

FLAGS = [
    "--dataset",
    "circle",
    "--g-hidden",
    "16,16",
    "--d-hidden",
    "16,16",
    "--batch-size",
    "64",
    "--log-every",
    "10",
    "--threads",
    "1",
    "--quiet",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun(*argv: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(_free_port()),
        "-m",
        "gankit.cli",
        *argv,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _finished(process: subprocess.Popen) -> int:
    _, err = process.communicate(timeout=180)
    assert process.returncode == 0, "\n".join(line for line in err.splitlines() if "gankit" in line) or err[-2000:]
    return process.returncode


def _weights(run_dir: Path) -> dict:
    return load_checkpoint(list_checkpoints(run_dir)[-1])


def _assert_equal_weights(a: dict, b: dict, **tolerance) -> None:
    for key in ("G", "D", "G_ema"):
        for name in a[key]:
            torch.testing.assert_close(a[key][name], b[key][name], **tolerance, msg=f"{key}.{name}")


def test_a_data_parallel_run_is_the_run_of_one_process_with_the_global_batch(tmp_path):
    assert main(["train", *FLAGS, "--steps", "50", "--eval-every", "50", "--out", str(tmp_path / "one")]) == 0
    _finished(_torchrun("train", *FLAGS, "--steps", "50", "--eval-every", "50", "--out", str(tmp_path / "two")))
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert two["step"] == 50
    _assert_equal_weights(one, two, rtol=1e-4, atol=1e-6)  # float rounding of the split sums: ~1e-7 seen


def test_a_two_rank_sweep_gives_the_table_of_one(tmp_path):
    flags = [
        "--dataset",
        "circle",
        "--g-hidden",
        "8,8",
        "--d-hidden",
        "8,8",
        "--latent-dim",
        "2,3",
        "--seeds",
        "2",
        "--steps",
        "30",
        "--eval-every",
        "30",
        "--threads",
        "1",
        "--quiet",
    ]
    assert main(["sweep", *flags, "--out", str(tmp_path / "one")]) == 0
    _finished(_torchrun("sweep", *flags, "--out", str(tmp_path / "two")))

    def rows(folder: Path) -> list[dict]:
        with (folder / "gans.csv").open() as handle:
            return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]

    assert rows(tmp_path / "two") == rows(tmp_path / "one")


def _wait_for_checkpoint(out: Path, process: subprocess.Popen, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while not list_checkpoints(out) or int(list_checkpoints(out)[-1].stem[5:]) < at_least:
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read() if process.poll() else ""
        time.sleep(0.05)


def _ranks(process: subprocess.Popen) -> list[int]:
    """The PIDs of torchrun's two worker processes."""
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in children]


def test_sigterm_to_one_rank_stops_both_with_one_checkpoint_then_resumes(tmp_path):
    out = tmp_path / "run"
    argv = [
        "train",
        *FLAGS,
        "--steps",
        "100000",
        "--eval-every",
        "100000",
        "--checkpoint-every",
        "1000",
        "--out",
        str(out),
    ]
    process = _torchrun(*argv)
    deadline = time.monotonic() + 120
    while not (out / "metrics.jsonl").exists() or (out / "metrics.jsonl").read_text().count("loss_d") < 3:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    ranks = _ranks(process)
    assert len(ranks) == 2
    os.kill(ranks[1], signal.SIGTERM)  # not rank 0, which writes
    _, err = process.communicate(timeout=120)
    assert "checkpoint saved" in err and "gankit train --resume" in err
    step = _weights(out)["step"]
    assert step % 10 == 0 and step < 1000  # saved at a logging window, not at the checkpoint interval
    _finished(_torchrun("train", "--resume", str(out), "--steps", str(step + 20), "--quiet"))
    assert _weights(out)["step"] == step + 20


def test_a_data_parallel_run_killed_with_sigkill_resumes_exactly(tmp_path):
    argv = [*FLAGS, "--steps", "400", "--eval-every", "400", "--checkpoint-every", "40", "--keep-checkpoints", "2"]
    _finished(_torchrun("train", *argv, "--out", str(tmp_path / "whole")))
    out = tmp_path / "killed"
    process = _torchrun("train", *argv, "--out", str(out))
    _wait_for_checkpoint(out, process, 80)
    ranks = _ranks(process)
    os.killpg(process.pid, signal.SIGKILL)  # torchrun and both ranks at once
    process.wait()
    while any(Path(f"/proc/{pid}").exists() for pid in ranks):  # until the kernel has let go of their files
        time.sleep(0.05)
    _finished(_torchrun("train", "--resume", str(out), "--quiet"))
    whole, resumed = _weights(tmp_path / "whole"), _weights(out)
    assert whole["step"] == resumed["step"] == 400
    _assert_equal_weights(whole, resumed, rtol=0, atol=0)


def test_a_batch_that_does_not_divide_across_the_ranks_is_refused(tmp_path):
    process = _torchrun("train", *FLAGS, "--batch-size", "63", "--steps", "10", "--out", str(tmp_path / "run"))
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0 and "batch_size=63 is not valid; accepted: a multiple of the 2 ranks" in err
    assert not (tmp_path / "run").exists()


def test_a_rank_that_cannot_reach_the_others_says_so_in_one_line(tmp_path):
    environment = {
        **os.environ,
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "GANKIT_DISTRIBUTED_TIMEOUT": "3",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gankit.cli", "train", *FLAGS, "--steps", "10", "--out", str(tmp_path / "r")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "could not reach the other ranks in 3 s" in lines[0], lines
    assert not (tmp_path / "r").exists()
