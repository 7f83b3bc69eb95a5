"""Property-based: random spellings of output paths, random folder contents and random damage to a checkpoint,
thrown at train, resume, sweep, sample, report and eval. Whatever happens, the command ends in exit 0 or a
one-line refusal (exit 2), and no file that existed before is removed or changed unless the command's contract
says so: a run it replaces (--force) or continues (--resume) loses or changes only the files gankit wrote there,
a sample or report file is replaced whole, and a refusal changes nothing at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gankit
from gankit.checkpoint import load_checkpoint, save_checkpoint
from gankit.cli import main
from gankit.runfolder import list_checkpoints
from test_safety import FORGERIES, TINY, forge, tree

TRAIN = ["train", "--dataset", "moons", "--g-hidden", "8,8", "--d-hidden", "8,8", "--steps", "10", "--quiet"]
# Files of yours inside a run folder: no command ever changes them.
YOURS = ("run/notes.txt", "run/checkpoints/mine.txt")
EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tmp_path_factory.mktemp("template")
    config = gankit.TrainConfig(**{**TINY, "checkpoint_every": 10, "keep_checkpoints": 2})
    gankit.train(config, root / "run", progress=False, figures=False)
    return root / "run"


@contextlib.contextmanager
def sandbox(template: Path):
    """A folder holding a project of yours, a gankit run (with files of yours in it), a file, a FIFO, an empty
    folder and links to the project and the run; the working directory while the block runs."""
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        (root / "proj" / "src").mkdir(parents=True)
        (root / "proj" / "README.md").write_text("my thesis")
        (root / "proj" / "src" / "a.py").write_text("x = 1\n")
        shutil.copytree(template, root / "run")
        for path in YOURS:
            (root / path).write_text("mine")
        (root / "file.npz").write_bytes(b"an old file")
        os.mkfifo(root / "fifo")
        (root / "empty").mkdir()
        (root / "link").symlink_to(root / "proj")
        (root / "runlink").symlink_to(root / "run")
        cwd = Path.cwd()
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(cwd)


COMPONENTS = ["proj", "run", "runlink", "link", "missing", "new", "..", ".", "empty", "file.npz", "fifo", "checkpoints"]
spellings = st.tuples(st.booleans(), st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=4)).map(
    lambda pair: ("{root}/" if pair[0] else "") + "/".join(pair[1])
)


def _argv(command: str, path: str) -> list[str]:
    return {
        "train": [*TRAIN, "--out", path],
        "train --force": [*TRAIN, "--force", "--out", path],
        "resume": ["train", "--resume", path, "--steps", "30", "--quiet"],
        "sample": ["sample", "run", "--n", "5", "--out", path],
        "sample of": ["sample", path, "--n", "5", "--out", "new-samples.npz"],
        "report": ["report", "run", "--out", path],
        "eval": ["eval", path],
    }[command]


def _may_change(command: str, target: Path, root: Path) -> set[str]:
    """The files that existed before which the command's contract lets it change or remove (after exit 0)."""
    if command in ("train --force", "resume") and target == root / "run":
        return {name for name in tree(root) if name.startswith("run/") and name not in YOURS}
    if command in ("sample", "report") and target == root / "file.npz":
        return {"file.npz"}
    return set()


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {name for name, digest in before.items() if after.get(name) != digest}


@EXAMPLES
@given(
    command=st.sampled_from(["train", "train --force", "resume", "sample", "sample of", "report", "eval"]),
    spelling=spellings,
)
def test_no_path_spelling_changes_what_the_command_may_not(template, capsys, command, spelling):
    with sandbox(template) as root:
        path = spelling.format(root=root)
        before = tree(root)
        code = main(_argv(command, path))
        err = capsys.readouterr().err.strip().splitlines()
        after = tree(root)
        assert code in (0, 2), err
        if code == 2:
            assert len(err) == 1 and "Traceback" not in err[0], err
            assert _changed(before, after) == set()
        else:
            target = Path(os.path.realpath(root / path))
            assert _changed(before, after) <= _may_change(command, target, root)
        assert all(after.get(name) == before[name] for name in YOURS)


def _damage(path: Path, damage: tuple) -> None:
    kind = damage[0]
    data = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(data[: damage[1] % len(data)])
    elif kind == "append":
        path.write_bytes(data + damage[1])
    elif kind == "flip header":
        header_end = 8 + struct.unpack("<Q", data[:8])[0]
        where = damage[1] % header_end
        path.write_bytes(data[:where] + bytes([data[where] ^ damage[2]]) + data[where + 1 :])
    elif kind == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif kind == "dev zero":
        path.unlink()
        path.symlink_to("/dev/zero")
    elif kind == "forge":
        state = load_checkpoint(path)
        forge(state, damage[1])
        save_checkpoint(path, state)
    elif kind == "entry":
        state = load_checkpoint(path)
        state[damage[1]] = damage[2]
        save_checkpoint(path, state)


ENTRIES = ["step", "cursor", "order", "rng", "G", "opt_g", "global_rng", "data_std", "threads", "binding", "config"]
damages = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 10**6)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=32)),
    st.tuples(st.just("flip header"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.sampled_from(["fifo", "dev zero"])),
    st.tuples(st.just("forge"), st.sampled_from(FORGERIES)),
    st.tuples(
        st.just("entry"),
        st.sampled_from(ENTRIES),
        st.one_of(
            st.none(),
            st.integers(-(2**70), 2**70),
            st.floats(allow_nan=True),
            st.text(max_size=4),
            st.lists(st.integers(-5, 5), max_size=3),
        ),
    ),
)


@EXAMPLES
@given(command=st.sampled_from(["resume", "eval", "sample of", "report of"]), damage=damages)
def test_a_damaged_checkpoint_is_refused_before_any_byte_changes(template, capsys, command, damage):
    with sandbox(template) as root:
        _damage(list_checkpoints(root / "run")[-1], damage)
        before = tree(root)
        argv = ["report", "run", "--out", "page.html"] if command == "report of" else _argv(command, "run")
        code = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        after = tree(root)
        assert code in (0, 2), err
        if code == 2:
            assert len(err) == 1 and "Traceback" not in err[0], err
            assert after == before  # not one byte, config.json's steps included
        elif command != "resume":
            assert _changed(before, after) == set()
        else:
            assert _changed(before, after) <= _may_change(command, root / "run", root)


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spelling=spellings, force=st.booleans())
def test_no_sweep_out_spelling_changes_a_file_it_did_not_write(template, capsys, spelling, force):
    with sandbox(template) as root:
        path = spelling.format(root=root)
        before = tree(root)
        argv = ["sweep", "--dataset", "moons", "--g-hidden", "8,8", "--d-hidden", "8,8", "--steps", "10"]
        code = main([*argv, "--seeds", "2", "--quiet", "--out", path, *(["--force"] if force else [])])
        err = capsys.readouterr().err.strip().splitlines()
        assert code in (0, 2), err
        assert _changed(before, tree(root)) == set()  # nothing here is a sweep folder: nothing may change
