"""The documentation says what the code does: the defaults table is the code's, and the README's links resolve."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest

from gankit.config import PRESETS, TrainConfig

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("defaults_table", ROOT / "docs" / "defaults_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(markdown: str) -> dict[str, list[str]]:
    """{first cell: the other cells} of every table row whose first cell is a `code` name."""
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and re.fullmatch(r"`[\w-]+`", cells[0]):
            rows[cells[0].strip("`")] = [c.strip("`") for c in cells[1:]]
    return rows


def test_the_committed_config_page_is_the_one_the_code_writes():
    page = ROOT / "docs" / "reference" / "config.md"
    assert page.read_text() == _generator().render(), "run `python docs/defaults_table.py` and commit the page"


def test_the_documented_defaults_are_trainconfigs():
    rows = _rows((ROOT / "docs" / "reference" / "config.md").read_text())
    toy, mnist = TrainConfig(dataset="circle"), TrainConfig(dataset="mnist")

    def written(value):
        if isinstance(value, tuple):
            return ",".join(map(str, value))
        return f"{value:g}" if isinstance(value, float) else str(value)

    fields = dataclasses.fields(TrainConfig)
    assert [f.name for f in fields] == [name for name in rows if name not in PRESETS]
    for f in fields:
        declared, toy_value, mnist_value = rows[f.name][:3]
        assert declared == written(f.default), f.name
        assert toy_value == written(getattr(toy, f.name)), f.name
        assert mnist_value == written(getattr(mnist, f.name)), f.name
    # the values the documentation names for the common questions
    assert rows["batch_size"][1:3] == [str(toy.batch_size), str(mnist.batch_size)]
    assert rows["g_hidden"][1] == written(toy.g_hidden)


def test_every_preset_is_documented_with_its_fields():
    rows = _rows((ROOT / "docs" / "reference" / "config.md").read_text())
    for name, values in PRESETS.items():
        assert name in rows
        for key in values:
            assert f"{key}=" in rows[name][0], (name, key)


PAGES = ["README.md", *sorted(str(page.relative_to(ROOT)) for page in (ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_point_at_files_that_exist(page):
    path = ROOT / page
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
        if "://" not in target and not target.startswith("mailto:"):
            assert (path.parent / target).exists(), f"{page}: {target}"


def test_defaults_quoted_in_the_descriptions_are_trainconfigs():
    """A description that names its defaults ("None: 128 toy, 64 MNIST") names the ones TrainConfig fills in."""
    rows = _rows((ROOT / "docs" / "reference" / "config.md").read_text())
    toy, mnist = TrainConfig(dataset="circle"), TrainConfig(dataset="mnist")
    quoted = {name: re.search(r"None: (\S+) toy, (\S+) MNIST", cells[-1]) for name, cells in rows.items()}
    quoted = {name: match.groups() for name, match in quoted.items() if match}
    assert {"batch_size", "lr_g", "beta1", "beta2"} <= set(quoted)
    for name, (toy_text, mnist_text) in quoted.items():
        assert float(toy_text) == getattr(toy, name), name
        assert float(mnist_text) == getattr(mnist, name), name
