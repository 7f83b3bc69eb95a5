"""notebooks/lab.ipynb, the worked lab, executed by a kernel (nbclient) with tiny sizes: every cell runs and every
figure the text promises is shown."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat (pip install -e '.[test]')")
nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient (pip install -e '.[test]')")
pytest.importorskip("ipykernel", reason="the test extra installs ipykernel (pip install -e '.[test]')")

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "lab.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"


def _parameters(notebook) -> nbformat.NotebookNode:
    (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    return cell


def _names(source: str) -> set[str]:
    return {target.id for node in ast.parse(source).body for target in node.targets}


def _tiny(mnist_dir: Path) -> str:
    return (
        "STEPS = 60\nSWEEP_SEEDS = 2\nLATENT_DIMS = [1, 2]\nMNIST_SECONDS = 4\n"
        f"DATA_DIR = {str(mnist_dir)!r}\nOUT = 'runs/lab'\n"
    )


@pytest.fixture(scope="module")
def executed(tmp_path_factory, mnist_dir):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    _parameters(notebook).source = _tiny(mnist_dir)
    folder = tmp_path_factory.mktemp("lab")
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    return notebook, folder


def _cell(notebook, fragment: str) -> nbformat.NotebookNode:
    """The one code cell whose source holds `fragment`, not as the end of a longer name (`run.plot()`, not
    `toy_run.plot()`)."""
    pattern = re.compile(r"(?<!\w)" + re.escape(fragment))
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and pattern.search(c.source)]
    return cell


def _figures(cell) -> list[str]:
    """The figures a cell shows, in order: a PNG output as '', each <img> of an HTML output under its caption's name."""
    shown = []
    for output in cell.outputs:
        data = output.get("data", {})
        if "image/png" in data:
            shown.append("")
        elif "text/html" in data:
            page = data["text/html"]
            names = re.findall(r"<figcaption><code>([^<]+)</code></figcaption><img src=\"data:image/png", page)
            assert len(names) == page.count("<img")  # every image has its name above it
            shown.extend(names)
    return shown


def _stream(cell, name: str) -> str:
    return "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream" and o["name"] == name)


def test_the_notebook_is_handed_out_clean():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)  # no outputs kept in the repository
    assert code[0] is _parameters(notebook)  # the sizes come first, where papermill and a teacher look for them
    assert _names(code[0].source) == {"STEPS", "SWEEP_SEEDS", "LATENT_DIMS", "MNIST_SECONDS", "DATA_DIR", "OUT"}
    assert _names(_tiny(Path("x"))) == _names(code[0].source)  # the test below sets every size and nothing else


@pytest.mark.slow
def test_every_cell_runs_without_an_error_or_a_warning(executed):
    notebook, _ = executed
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        errors = [f"{o['ename']}: {o['evalue']}" for o in cell.outputs if o["output_type"] == "error"]
        assert not errors, (cell.source[:80], errors)
        # What the student reads on stderr is gankit's own lines ("gankit: ..."), no warnings or tracebacks.
        stray = [line for line in _stream(cell, "stderr").splitlines() if line and not line.startswith("gankit: ")]
        assert not stray, (cell.source[:80], stray)


@pytest.mark.slow
def test_the_toy_part_shows_the_data_the_runs_and_their_measurements(executed):
    notebook, _ = executed
    assert _figures(_cell(notebook, "point_cloud(")) == ["circle", "moons", "swiss_roll"]
    training = _cell(notebook, 'out / "circle"')
    assert any(WIDGET in o.get("data", {}) for o in training.outputs)  # the progress bar
    assert _figures(training) == [""]  # the live view
    assert _figures(_cell(notebook, "run.plot()")) == ["real_vs_generated", "d_verdict", "decision_map", "losses"]
    assert _figures(_cell(notebook, "run.lab_view()")) == [""]
    measured = _stream(_cell(notebook, "run.best()"), "stdout")
    assert re.search(r"circle at the end \(step 60\): W1 = [\d.]+, floor [\d.]+: [\d.]+x the floor", measured)
    assert "circle at its best (step" in measured
    others = _cell(notebook, '("swiss_roll", 3)')
    assert _figures(others) == ["real_vs_generated", "d_verdict"] * 2
    assert re.search(r"moons: W1 .*\nswiss_roll: W1 ", _stream(others, "stdout"))


@pytest.mark.slow
def test_the_sweep_answers_with_a_table_and_its_figures(executed):
    notebook, folder = executed
    (table,) = [o["data"]["text/markdown"] for o in _cell(notebook, "result.markdown()").outputs]
    rows = [line for line in table.splitlines() if re.match(r"\| \d+ \| 2 \| ", line)]
    assert [row.split(" | ")[0] for row in rows] == ["| 1", "| 2"]  # one row per latent dim, each over 2 seeds
    assert _figures(_cell(notebook, "result.plot()")) == ["w1_vs_latent_dim", "samples"]
    assert (folder / "runs" / "lab" / "latent-sweep" / "sweep.json").is_file()  # everything under OUT


@pytest.mark.slow
def test_the_mnist_part_shows_sample_grids_and_measurements(executed):
    notebook, _ = executed
    assert _figures(_cell(notebook, "cgan = gankit.train(")) == [""]  # the live grid
    assert _figures(_cell(notebook, "cgan.plot()")) == ["samples", "losses"]
    assert re.search(
        r"conditional GAN after \d+ steps: FD = [\d.]+, floor [\d.]+: [\d.]+x; label accuracy [\d.]+%",
        _stream(_cell(notebook, "cgan.evaluate()"), "stdout"),
    )
    assert _figures(_cell(notebook, "dcgan = gankit.train(")) == [""]
    shown = _cell(notebook, "dcgan.plot()")
    assert _figures(shown) == ["samples", "losses"]
    assert re.search(
        r"convolutional GAN after \d+ steps: FD = [\d.]+, floor [\d.]+: [\d.]+x\n", _stream(shown, "stdout")
    )
