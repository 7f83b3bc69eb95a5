"""gankit in a real notebook: a kernel executes the cells with nbclient, as Jupyter would, and the outputs are read."""

from __future__ import annotations

import pytest

import gankit.notebook

nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat (pip install -e '.[test]')")
nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient (pip install -e '.[test]')")
pytest.importorskip("ipykernel", reason="the test extra installs ipykernel (pip install -e '.[test]')")

TRAIN = (
    "run = gankit.train(gankit.TrainConfig(dataset='circle', steps=300, eval_every=300, "
    "g_hidden=(16, 16), d_hidden=(16, 16)), live=100, figures=False)"
)
SWEEP = (
    "result = gankit.sweep(dict(dataset='circle', steps=20, eval_every=20, g_hidden=(16, 16), d_hidden=(16, 16)), "
    "{'latent_dim': [1, 2]}, seeds=2, out='sweep', progress=False, figures=False)"
)
CELLS = [
    "import gankit",
    TRAIN,
    "run.plot()",
    TRAIN,
    "run.path.name",
    "gankit.TrainConfig(dataset='circel')",
    "run.evaluate()",
    SWEEP + "\nresult",
    "result.table",
]


class _Recording(nbclient.NotebookClient):
    """Executes a notebook and counts the display updates of each cell (an update replaces an output in place)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.updates: dict[int, int] = {}

    def process_message(self, msg, cell, cell_index):
        if msg.get("msg_type") == "update_display_data":
            self.updates[cell_index] = self.updates.get(cell_index, 0) + 1
        return super().process_message(msg, cell, cell_index)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    client = _Recording(
        notebook, timeout=180, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    return notebook, client.updates


def _outputs(notebook, index, kind=None):
    return [o for o in notebook.cells[index].outputs if kind is None or o["output_type"] == kind]


def test_import_prints_nothing(executed):
    notebook, _ = executed
    assert _outputs(notebook, 0) == []  # no TqdmWarning, no "IProgress not found"


def test_training_shows_a_widget_bar_and_one_live_figure_updated_in_place(executed):
    notebook, updates = executed
    displays = _outputs(notebook, 1, "display_data")
    assert any("application/vnd.jupyter.widget-view+json" in o["data"] for o in displays)  # tqdm.notebook
    images = [o for o in displays if "image/png" in o["data"]]
    assert len(images) == 1  # one figure ...
    assert updates.get(1, 0) >= 3  # ... redrawn in place at steps 200, 300 and at the end
    streams = "".join(o["text"] for o in _outputs(notebook, 1, "stream"))
    assert streams.count("\n") == 0 and "\x1b[" not in streams  # no stray lines from a text bar


def test_plot_displays_every_figure_inline(executed):
    notebook, _ = executed
    (result,) = _outputs(notebook, 2, "execute_result")
    page = result["data"]["text/html"]
    assert page.count("<img") == 4 and "decision_map" in page


def test_re_running_the_training_cell_trains_into_a_new_folder(executed):
    notebook, _ = executed
    assert not _outputs(notebook, 3, "error")
    (result,) = _outputs(notebook, 4, "execute_result")
    assert result["data"]["text/plain"] == "'circle-2'"


def test_a_mistake_shows_one_readable_line_not_a_traceback(executed):
    notebook, _ = executed
    (error,) = _outputs(notebook, 5, "error")
    assert error["ename"] == "GankitError" and "dataset='circel' is not valid; accepted: circle" in error["evalue"]
    assert len(error["traceback"]) == 1 and "config.py" not in error["traceback"][0]
    assert all(not _outputs(notebook, i, "error") for i in range(5))


def test_without_ipywidgets_the_bar_stays_on_one_line(monkeypatch, capsys):
    monkeypatch.setattr(gankit.notebook, "in_notebook", lambda: True)
    monkeypatch.setattr(gankit.notebook, "has_widgets", lambda: False)
    bar = gankit.notebook.progress_bar(total=1000, initial=0, disable=False, desc="gankit circle")
    assert bar.__class__.__module__ == "tqdm.std"
    for _ in range(1000):
        bar.update(1)
    bar.close()
    err = capsys.readouterr().err
    assert err.count("\n") <= 1 and "\x1b[" not in err and "1000/1000" in err


def test_metrics_a_sweep_and_its_table_show_as_tables(executed):
    notebook, _ = executed
    (metrics,) = _outputs(notebook, 6, "execute_result")
    assert "<th>metric</th>" in metrics["data"]["text/html"] and "<td>w1_floor</td>" in metrics["data"]["text/html"]
    lines = metrics["data"]["text/plain"].splitlines()
    assert lines[0].split() == ["metric", "value"] and any(line.split()[0] == "w1" for line in lines)
    (sweep,) = _outputs(notebook, 7, "execute_result")
    page = sweep["data"]["text/html"]
    assert "<th>latent_dim</th><th>n</th><th>w1</th>" in page and "Mean [95% Student t interval]" in page
    assert sweep["data"]["text/plain"].startswith("SweepResult(")
    (table,) = _outputs(notebook, 8, "execute_result")
    assert table["data"]["text/html"].startswith("<table><tr><th>setting</th>")
    header, *rows = table["data"]["text/plain"].splitlines()
    assert header.split()[:3] == ["setting", "latent_dim", "n"] and len(rows) == 2
