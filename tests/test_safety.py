"""gankit never deletes or changes what it did not write: output paths under every spelling, folders proved to
be gankit's, special files, forged checkpoints (refused before any byte of the folder changes), unbounded counts."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit.checkpoint import load_checkpoint, save_checkpoint
from gankit.cli import main
from gankit.errors import GankitError
from gankit.runfolder import list_checkpoints

TINY = dict(dataset="moons", g_hidden=(8, 8), d_hidden=(8, 8), steps=20, log_every=10, eval_every=10)
TRAIN = ["train", "--dataset", "moons", "--g-hidden", "8,8", "--d-hidden", "8,8", "--steps", "20", "--quiet"]


def _train(out: Path, **overrides) -> gankit.Run:
    return gankit.train(gankit.TrainConfig(**{**TINY, **overrides}), out, progress=False, figures=False)


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under `root` with a hash of its bytes (folders: 'dir', links: their target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            found[name] = "-> " + os.readlink(path)
        elif path.is_dir():
            found[name] = "dir"
        elif path.is_file():
            found[name] = hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()
        else:
            found[name] = "special"
    return found


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("gankit: error: ") and "Traceback" not in err[0]
    return err[0]


@pytest.fixture
def project(tmp_path):
    """A user's non-empty project folder."""
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "README.md").write_text("my thesis")
    (root / "src" / "a.py").write_text("x = 1\n")
    return root


# ----- one spelling of every output path -----
@pytest.mark.parametrize("spelling", ["{tmp}/missing/../proj", "{tmp}/proj/", "{tmp}/proj/.", "{tmp}/link"])
def test_a_non_empty_folder_under_any_spelling_is_refused_and_kept(tmp_path, project, capsys, spelling):
    (tmp_path / "link").symlink_to(project)
    before = tree(tmp_path)
    assert main([*TRAIN, "--out", spelling.format(tmp=tmp_path)]) == 2
    line = _one_line(capsys)
    assert "already exists" in line and repr(str(project)) in line  # named by its one resolved spelling
    assert tree(tmp_path) == before  # nothing removed, and no 'missing' folder left behind


def test_out_newrun_dotdot_from_inside_a_project_keeps_it(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    before = tree(project)
    for force in ([], ["--force"]):
        assert main([*TRAIN, "--out", "newrun/..", *force]) == 2
        _one_line(capsys)
    assert tree(project) == before


def test_a_refused_start_removes_only_the_folders_it_created(tmp_path, monkeypatch):
    import gankit.run

    def refuse(*args, **kwargs):
        raise GankitError("refused; accepted: nothing")

    (tmp_path / "kept").mkdir()
    monkeypatch.setattr(gankit.run, "make_evaluator", refuse)  # after the folder is made and config.json written
    with pytest.raises(GankitError, match="refused"):
        _train(tmp_path / "kept" / "new" / "deeper" / "run")
    assert tree(tmp_path) == {"kept": "dir"}
    with pytest.raises(GankitError, match="refused"):
        _train(tmp_path / "kept")  # existed before (empty): it stays, with what this command wrote in it
    assert (tmp_path / "kept").is_dir()


def test_force_needs_gankits_marker_not_just_a_config_json(tmp_path, capsys):
    mine = tmp_path / "mine"
    (mine / "checkpoints").mkdir(parents=True)
    (mine / "config.json").write_text("{}")  # a valid config of all defaults, written by someone else
    (mine / "checkpoints" / "step-00000010.safetensors").write_bytes(b"my own file")
    before = tree(tmp_path)
    assert main([*TRAIN, "--force", "--out", str(mine)]) == 2
    assert "not marked as a gankit run folder" in _one_line(capsys)
    assert tree(tmp_path) == before


def test_force_on_a_run_removes_only_what_gankit_wrote(tmp_path):
    run = _train(tmp_path / "run")
    (run.path / "notes.txt").write_text("mine")
    (run.path / "checkpoints" / "mine.txt").write_text("mine too")
    gankit.train(gankit.TrainConfig(**{**TINY, "seed": 4}), run.path, force=True, progress=False, figures=False)
    assert (run.path / "notes.txt").read_text() == "mine" and (run.path / "checkpoints" / "mine.txt").exists()
    assert gankit.Run(run.path).config.seed == 4


def test_an_out_inside_a_run_folder_is_refused(tmp_path, capsys):
    run = _train(tmp_path / "run")
    before = tree(tmp_path)
    for out in (run.path / "checkpoints", run.path / "sub" / "new"):
        assert main([*TRAIN, "--out", str(out)]) == 2
        assert "outside the gankit run folder" in _one_line(capsys)
    assert tree(tmp_path) == before


def test_lab_out_missing_dotdot_existing_is_refused(project, capsys):
    before = tree(project.parent)
    assert main(["lab", "--quick", "--quiet", "--out", str(project.parent / "missing" / ".." / "proj")]) == 2
    assert "already exists" in _one_line(capsys)
    assert tree(project.parent) == before


# ----- special files -----
@pytest.fixture
def run(tmp_path):
    return _train(tmp_path / "run")


def test_outputs_are_never_written_over_a_fifo_or_a_device(tmp_path, run, capsys):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    (tmp_path / "null.npz").symlink_to("/dev/null")
    for argv in (
        ["sample", str(run.path), "--n", "5", "--out", str(fifo)],
        ["sample", str(run.path), "--n", "5", "--out", str(tmp_path / "null.npz")],
        ["report", str(run.path), "--out", str(fifo)],
        ["report", str(run.path), "--out", "/dev/null"],
    ):
        assert main(argv) == 2
        line = _one_line(capsys)
        assert "not an existing FIFO" in line or "not an existing device" in line
    assert fifo.exists() and not fifo.is_file() and Path("/dev/null").is_char_device()


def test_a_checkpoint_that_is_a_fifo_or_links_to_dev_zero_is_refused(tmp_path, run, capsys):
    newest = list_checkpoints(run.path)[-1]
    newest.unlink()
    os.mkfifo(newest)  # reading it would block forever
    assert main(["eval", str(run.path)]) == 2
    assert "not a regular file" in _one_line(capsys)
    newest.unlink()
    newest.symlink_to("/dev/zero")  # reading it would never end
    assert main(["train", "--resume", str(run.path), "--quiet"]) == 2
    assert "not a regular file" in _one_line(capsys)


def test_a_checkpoint_longer_than_its_header_says_is_refused(run):
    newest = list_checkpoints(run.path)[-1]
    with newest.open("ab") as handle:
        handle.write(b"\0" * 100)
    with pytest.raises(GankitError, match="is not a valid gankit checkpoint"):
        gankit.Run(run.path)


def test_a_metrics_line_over_the_limit_is_skipped_not_held(run):
    from gankit.runfolder import METRICS_LINE_LIMIT, read_metrics

    with (run.path / "metrics.jsonl").open("a") as log:
        log.write('{"step": 20, "x": "' + "y" * (3 * METRICS_LINE_LIMIT) + '"}\n{"step": 20, "w1": 1.0}\n')
    with pytest.warns(UserWarning, match="skipped 1 line"):
        records = read_metrics(run.path)
    assert records[-1] == {"step": 20, "w1": 1.0}


def test_a_metrics_log_that_links_elsewhere_is_never_written_through(tmp_path, run, capsys):
    outside = tmp_path / "notes.txt"
    outside.write_text("a user's notes\n")
    log = run.path / "metrics.jsonl"
    log.unlink()
    log.symlink_to(outside)
    before = tree(run.path)
    assert main(["train", "--resume", str(run.path), "--steps", "40", "--quiet"]) == 2
    assert "metrics log" in (line := _one_line(capsys)) and "is a link" in line
    assert outside.read_text() == "a user's notes\n" and tree(run.path) == before


# ----- forged or damaged checkpoints: refused before any byte changes -----
def forge(state: dict, how: str) -> None:
    if how == "negative step":
        state["step"] = -5
    elif how == "step past the config":
        state["step"] = 10**6
    elif how == "order out of range":
        state["order"] = state["order"] + 5000
    elif how == "order repeats":
        state["order"] = torch.zeros_like(state["order"])
    elif how == "NaN optimiser moment":
        next(iter(state["opt_g"]["state"].values()))["exp_avg"].fill_(float("nan"))
    elif how == "optimiser moment of another shape":
        entry = next(iter(state["opt_d"]["state"].values()))
        entry["exp_avg_sq"] = torch.zeros(3, 1)
    elif how == "global RNG of the wrong size":
        state["global_rng"]["torch"] = torch.zeros(7, dtype=torch.uint8)
    elif how == "training RNG of the wrong size":
        state["rng"] = state["rng"][:100]
    elif how == "weight of another shape":
        name = next(iter(state["G"]))
        state["G"][name] = torch.zeros(1, 1)
    elif how == "cursor past the data":
        state["cursor"] = 10**9
    elif how == "python RNG state cut short":
        state["global_rng"]["python"][1] = state["global_rng"]["python"][1][:10]


FORGERIES = [
    "negative step",
    "step past the config",
    "order out of range",
    "order repeats",
    "NaN optimiser moment",
    "optimiser moment of another shape",
    "global RNG of the wrong size",
    "training RNG of the wrong size",
    "weight of another shape",
    "cursor past the data",
    "python RNG state cut short",
]


@pytest.mark.parametrize("how", FORGERIES)
def test_a_forged_checkpoint_is_refused_and_the_folder_keeps_every_byte(tmp_path, capsys, how):
    run = _train(tmp_path / "run")
    newest = list_checkpoints(run.path)[-1]
    state = load_checkpoint(newest)
    forge(state, how)
    save_checkpoint(newest, state)
    before = tree(run.path)
    for argv in (["train", "--resume", str(run.path), "--steps", "40", "--quiet"], ["eval", str(run.path)]):
        assert main(argv) == 2
        line = _one_line(capsys)
        assert "accepted" in line and "diverged" not in line
        assert tree(run.path) == before  # config.json's steps too
    with pytest.raises(GankitError):
        gankit.Run(run.path)


@pytest.mark.slow
def test_sweep_resume_refuses_a_forged_member_checkpoint_before_any_change(tmp_path, capsys):
    out = tmp_path / "s"
    base = gankit.TrainConfig(**{**TINY, "steps": 40, "eval_every": 20})
    gankit.sweep(base, {}, seeds=2, out=out, progress=False, figures=False)
    member = sorted((out / "runs").iterdir())[0]
    newest = list_checkpoints(member)[-1]
    state = load_checkpoint(newest)
    forge(state, "optimiser moment of another shape")
    save_checkpoint(newest, state)
    spec = json.loads((out / "sweep.json").read_text())
    spec["status"] = "running"
    (out / "sweep.json").write_text(json.dumps(spec))
    before = tree(out)
    assert main(["sweep", "--resume", str(out), "--quiet"]) == 2
    assert "is damaged or forged" in _one_line(capsys)
    assert tree(out) == before


# ----- sweeps: member folders inside the sweep folder, owned members only -----
def test_a_sweep_over_dataset_paths_keeps_every_member_inside_its_folder(tmp_path):
    (tmp_path / "data" / "a").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    rng = np.random.default_rng(0)
    paths = [str(tmp_path / "data" / "a" / "x.csv"), str(tmp_path / "data" / ".." / "b" / "x.csv")]
    for path in paths:
        np.savetxt(path, rng.normal(size=(50, 2)), delimiter=",")
    out = tmp_path / "s"
    result = gankit.sweep(
        gankit.TrainConfig(**{**TINY, "steps": 10, "eval_every": 10}),
        {"dataset": paths},
        seeds=1,
        out=out,
        progress=False,
        figures=False,
    )
    members = sorted(p for p in (out / "runs").iterdir())
    assert len(members) == 2 and all(p.parent == out / "runs" and p.is_dir() for p in members)
    for row in result.rows:
        assert gankit.Run(out / row["run"]).config.dataset in paths
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "data", "s"]


@pytest.mark.slow
def test_sweep_force_and_no_runs_remove_only_what_the_sweep_wrote(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["sweep", "--dataset", "moons", "--g-hidden", "8,8", "--d-hidden", "8,8", "--steps", "10", "--seeds", "2"]
    argv += ["--quiet", "--out", str(out)]
    assert main(argv) == 0
    member = sorted((out / "runs").iterdir())[0]
    (member / "notes.txt").write_text("mine")
    (out / "figures" / "my_plot.png").write_bytes(b"mine")
    assert main([*argv, "--force", "--no-runs"]) == 0
    capsys.readouterr()
    assert (member / "notes.txt").read_text() == "mine" and (out / "figures" / "my_plot.png").read_bytes() == b"mine"
    assert sorted(p.name for p in member.iterdir()) == ["notes.txt"]  # the rest of that run is gone
    other = tmp_path / "other"
    other.mkdir()
    (other / "sweep.json").write_text("{}")
    before = tree(other)
    assert main([*argv[:-1], str(other), "--force"]) == 2
    assert "not marked as a gankit sweep folder" in _one_line(capsys)
    assert tree(other) == before


def test_sweep_resume_never_replaces_a_run_forced_into_a_member_folder(tmp_path, capsys):
    out = tmp_path / "s"
    base = gankit.TrainConfig(**{**TINY, "steps": 20})
    gankit.sweep(base, {}, seeds=2, out=out, progress=False, figures=False)
    member = sorted((out / "runs").iterdir())[1]
    _train(member.parent / "elsewhere")
    gankit.train(gankit.TrainConfig(**{**TINY, "seed": 1}), member, force=True, progress=False, figures=False)
    for path in list_checkpoints(member):
        path.unlink()  # an interrupted run of yours: nothing the sweep could resume from
    spec = json.loads((out / "sweep.json").read_text())
    (out / "sweep.json").write_text(json.dumps({**spec, "status": "running"}))
    before = tree(member)
    assert main(["sweep", "--resume", str(out), "--quiet"]) == 2
    assert "is not this sweep's" in _one_line(capsys)
    assert tree(member) == before


# ----- counts checked before anything is allocated -----
def test_a_billion_seeds_is_one_line_at_once(tmp_path, capsys):
    argv = ["sweep", "--dataset", "moons", "--seeds", "1000000000", "--quiet", "--out", str(tmp_path / "s")]
    assert main(argv) == 2
    assert "a sweep of 1,000,000,000 GANs would need about" in _one_line(capsys)
    assert not (tmp_path / "s").exists()


def test_steps_whose_records_cannot_be_held_are_refused_before_training(tmp_path, capsys):
    assert main([*TRAIN, "--steps", str(10**11), "--log-every", "1", "--out", str(tmp_path / "r")]) == 2
    assert "the records of 100,000,000,000 steps would need about" in _one_line(capsys)
    assert not (tmp_path / "r").exists()


# ----- silently wrong: the right result, or one line -----
def test_a_csv_with_a_byte_order_mark_keeps_its_first_row(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf1,2\n3,4\n5,7\n")
    assert gankit.data.load_points(path).tolist() == [[1, 2], [3, 4], [5, 7]]


def test_data_of_a_tiny_scale_is_standardised_by_its_own_scale(tmp_path):
    path = tmp_path / "tiny.npy"
    points = (np.random.default_rng(0).normal(size=(300, 2)) * 1e-8).astype(np.float32)
    np.save(path, points)
    dataset = gankit.data.load_dataset(gankit.TrainConfig(**{**TINY, "dataset": str(path)}))
    assert np.allclose(dataset.train.std(0).numpy(), 1, atol=1e-3)  # not squeezed by a floor of 1e-6
    assert np.allclose(dataset.to_data_space(dataset.train).numpy(), points, rtol=1e-4, atol=1e-14)


def test_mmd_of_a_collapsed_generator_is_a_number():
    from gankit.metrics.toy import mmd

    real = np.random.default_rng(0).normal(size=(600, 2))
    collapsed = np.zeros((600, 2))
    with np.errstate(all="raise"):
        assert np.isfinite(mmd(collapsed, real)) and mmd(collapsed, real) > mmd(real[:300], real[300:])


def test_eval_checks_the_training_data_as_resume_does(tmp_path, capsys):
    points = tmp_path / "points.csv"
    np.savetxt(points, np.random.default_rng(0).normal(size=(200, 2)), delimiter=",")
    run = _train(tmp_path / "run", dataset=str(points))
    np.savetxt(points, np.random.default_rng(1).normal(size=(200, 2)), delimiter=",")
    capsys.readouterr()  # what training said (the doctor's findings of so short a run)
    assert main(["eval", str(run.path)]) == 2
    assert "changed since the run started" in _one_line(capsys)


def test_sample_checks_its_latent_points_seed_and_checkpoint(run):
    latent = run.config.latent_dim
    with pytest.raises(GankitError, match=rf"z=.*shape \(7, {latent}\).*\(5, {latent}\)"):
        run.sample(5, z=np.zeros((7, latent)))
    with pytest.raises(GankitError, match=rf"shape \(5, {latent + 1}\)"):
        run.sample(5, z=np.zeros((5, latent + 1)))
    with pytest.raises(GankitError, match="seed=18446744073709551616"):
        run.sample(5, seed=2**64)
    assert run.sample(5, z=np.zeros((5, latent))).shape == (5, 2)
    with pytest.raises(GankitError, match=r"checkpoint=999 is not valid; accepted: a step that has a checkpoint"):
        gankit.Run(run.path, checkpoint=999)
    assert gankit.Run(run.path, checkpoint=10).step == 10


def test_lab_force_replaces_only_what_the_lab_wrote(tmp_path, monkeypatch):
    import gankit.labbook

    def tiny(book):
        book.train("circle", gankit.TrainConfig(dataset="circle", steps=20, g_hidden=(8,), d_hidden=(8,)))

    monkeypatch.setattr(gankit.labbook, "QUESTIONS", {"1. the circle": tiny})
    out = tmp_path / "lab"
    gankit.run_lab(out, progress=False)
    (out / "notes.txt").write_text("mine")
    (out / "runs" / "circle" / "mine.txt").write_text("mine too")
    gankit.run_lab(out, force=True, progress=False)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "runs" / "circle" / "mine.txt").read_text() == "mine too"
    assert (out / "report.html").is_file() and gankit.Run(out / "runs" / "circle").step == 20
