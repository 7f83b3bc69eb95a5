"""A run written by an earlier gankit (tests/data/golden-run, by tests/data/make_golden_run.py) still reads back to
the same samples and trains on; the state format is recorded, and a later one is refused in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import gankit
from gankit.checkpoint import load_checkpoint, save_checkpoint
from gankit.errors import GankitError
from gankit.memberstate import STATE_FORMAT

GOLDEN = Path(__file__).parent / "data" / "golden-run"


def test_the_golden_run_samples_as_it_did_when_it_was_written():
    run = gankit.Run(GOLDEN)
    assert run.step == 20
    expected = np.load(GOLDEN / "samples.npy")
    np.testing.assert_allclose(run.sample(len(expected), seed=3), expected, rtol=1e-5, atol=1e-6)


def test_the_golden_run_resumes_and_todays_checkpoints_record_their_format(tmp_path):
    folder = shutil.copytree(GOLDEN, tmp_path / "run")
    run = gankit.resume(folder, steps=30, progress=False, figures=False)
    assert run.step == 30
    newest = sorted((folder / "checkpoints").glob("step-*.safetensors"))[-1]
    state = load_checkpoint(newest)
    assert state["format"] == STATE_FORMAT
    state["format"] = STATE_FORMAT + 1
    save_checkpoint(newest, state)
    with pytest.raises(GankitError) as error:
        gankit.Run(folder)
    message = str(error.value)
    assert "\n" not in message and f"state format {STATE_FORMAT + 1}" in message and "accepted" in message
