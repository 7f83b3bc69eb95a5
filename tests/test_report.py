"""The report page: self-contained HTML of a run or a sweep, and what a real browser does with it."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

import gankit
from fast_metrics import use_fast_metrics
from gankit import labbook
from gankit.cli import main
from gankit.data import load_dataset
from gankit.figures import lab_figure
from gankit.report import page, viewer, write_page, write_report
from gankit.views import VIEW_REAL, load_snapshots, snapshot, trainer_sources

TINY = dict(g_hidden=(16, 16), d_hidden=(16, 16))
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Started as the machine's notes say: no network, no first-run work, a fresh profile each time.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1250,1300",
]


@pytest.fixture(autouse=True)
def fast_metrics(monkeypatch):
    use_fast_metrics(monkeypatch)


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    config = gankit.TrainConfig(dataset="moons", steps=90, eval_every=45, latent_dim=2, **TINY)
    with pytest.MonkeyPatch.context() as patch:
        use_fast_metrics(patch)
        return gankit.train(config, tmp_path_factory.mktemp("report") / "moons", progress=False, figures=False)


def _data(page: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', page)]


def test_a_run_page_is_self_contained_with_every_saved_step(moons_run):
    path = write_report(moons_run.path)
    assert path == moons_run.path / "report.html"
    page = path.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing to fetch: opens offline
    (data,) = _data(page)
    assert [f["step"] for f in data["frames"]] == [45, 90]
    assert len(data["real"]) == 1000 and len(data["frames"][0]["prob"]["data"]) == 64 * 64
    assert {c["title"] for c in data["charts"]} == {"Losses", "Wasserstein-1 distance"}
    final = [r for r in moons_run.metrics if "w1" in r][-1]
    assert f"<td>{final['w1_floor']:.4g}</td>" in page  # the final W1 beside its floor
    for text in ("w1_ratio", "Best evaluation by w1_ratio", "latent_dim", "training points"):
        assert text in page


def test_a_sweep_page_has_its_table_figures_and_median_runs(tmp_path, capsys):
    result = gankit.sweep(
        gankit.TrainConfig(dataset="circle", steps=40, eval_every=40, **TINY),
        {"latent_dim": [1, 2]},
        seeds=1,
        out=tmp_path / "sweep",
        progress=False,
    )
    assert main(["report", str(result.path), "--out", str(tmp_path / "page.html")]) == 0
    page = (tmp_path / "page.html").read_text()
    assert "<table>" in page and "latent_dim=1" in page and "latent_dim=2" in page
    assert 'alt="w1_vs_latent_dim"' in page and 'alt="samples"' in page and "_se_vs_" not in page
    assert len(_data(page)) == 2  # each setting's median run, drawn from its final checkpoint


def test_report_of_a_folder_that_is_neither_says_so_in_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "neither config.json nor sweep.json" in err[0]
    assert not (tmp_path / "report.html").exists()


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="the test extra installs selenium")
    from selenium.webdriver.chrome.service import Service

    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).is_file():
            pytest.skip(f"{binary} not found: install Debian's chromium and chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="gankit-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER)), profile


def test_the_slider_redraws_the_view_in_a_real_browser(moons_run):
    path = write_report(moons_run.path)
    driver, profile = _browser()
    try:
        driver.get(path.resolve().as_uri())
        canvas = driver.find_element("css selector", "canvas.gk-view")
        step = driver.find_element("css selector", ".gk-step")
        drawing = lambda: driver.execute_script("return arguments[0].toDataURL()", canvas)  # noqa: E731
        last = drawing()
        assert step.text == "step 90" and canvas.size["width"] > 300
        slider = driver.find_element("css selector", "input.gk-slider")
        slider.send_keys("\ue011")  # Home: the first saved step
        assert step.text == "step 45"
        first = drawing()
        assert first != last
        slider.send_keys("\ue014")  # arrow right: one step on, the last one again
        assert step.text == "step 90" and drawing() == last
        errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        assert errors == []
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_points_and_arrows_outside_the_box_stay_out_of_the_margins_in_a_real_browser(moons_run, tmp_path):
    """Generated points far outside the view's box are cut at its edge: nothing is drawn in the margin above it
    (the slider's row) or right of it, where no label is."""
    view = load_snapshots(moons_run.path)[-1]
    box = view["box"]
    far = np.array([[box[0] - 5, box[3] + 5], [box[1] + 5, box[3] + 5], [box[1] + 5, box[2]]], dtype=np.float32)
    view["fake"] = np.concatenate([far, view["fake"][3:]])
    path = write_page(tmp_path / "page.html", page("outside", [viewer([view], moons_run.metrics)]))
    driver, profile = _browser()
    try:
        driver.get(path.resolve().as_uri())
        margins = driver.execute_script(
            """const c = document.querySelector("canvas.gk-view"), ctx = c.getContext("2d");
            const r = window.devicePixelRatio || 1, top = Math.floor(6 * r), right = Math.floor(8 * r);
            const alpha = (d) => d.filter((v, i) => i % 4 === 3).reduce((a, b) => Math.max(a, b), 0);
            return [alpha(ctx.getImageData(0, 0, c.width, top).data),
                    alpha(ctx.getImageData(c.width - right, 0, right, c.height).data)];""",
        )
        assert margins == [0, 0]
        assert "training points (n = 1,000)" in driver.find_element("css selector", ".gk-legend").text
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_a_finding_of_the_doctor_shows_at_its_step_in_a_real_browser(moons_run, tmp_path):
    folder = tmp_path / "moons"
    shutil.copytree(moons_run.path, folder)
    finding = {"event": "finding", "kind": "oscillation", "step": 90, "text": "W1 / floor swung; why; try this"}
    with (folder / "metrics.jsonl").open("a") as log:
        log.write(json.dumps(finding) + "\n")
    path = write_report(folder)
    (data,) = _data(path.read_text())
    assert data["findings"][-1] == {"step": 90, "kind": "oscillation", "text": finding["text"]}
    driver, profile = _browser()
    try:
        driver.get(path.resolve().as_uri())
        notes = driver.find_element("css selector", ".gk-findings")
        assert notes.text.splitlines()[-1] == "step 90, oscillation: W1 / floor swung; why; try this"
        driver.find_element("css selector", "input.gk-slider").send_keys("\ue011")  # Home: step 45, before it
        assert driver.find_element("css selector", ".gk-step").text == "step 45" and notes.text == ""
        errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        assert errors == []
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_a_view_of_a_subset_of_the_training_points_says_the_training_sets_size():
    config = gankit.TrainConfig(dataset="circle", n_samples=1500, latent_dim=2, **TINY)
    trainer = gankit.run.Trainer(config, load_dataset(config))
    view = snapshot(trainer_sources(trainer), 0)
    assert len(view["real"]) == VIEW_REAL < view["n_train"] == 1500
    (legend,) = [t.get_text() for t in lab_figure(view).axes[0].get_legend().get_texts() if "training" in t.get_text()]
    assert legend == f"training points ({VIEW_REAL:,} of 1,500)"
    assert "training points (1,000 of 1,500)" in viewer([view], [])


class StubEvaluator:
    """Stands in for the MNIST classifier's metrics (tests/test_mnist_runs.py does the same)."""

    def evaluate(self, images, labels=None):
        return {"fd": 1.0 + float(images.float().mean()), "fd_floor": 0.7, "label_accuracy": 0.5}


def test_an_mnist_page_shows_the_digit_grids_over_training(mnist_dir, tmp_path, monkeypatch):
    import gankit.evaluation
    import gankit.run

    monkeypatch.setattr(gankit.run, "make_evaluator", lambda config, dataset: StubEvaluator())
    monkeypatch.setattr(gankit.evaluation, "EVAL_SAMPLES", 100)
    config = gankit.TrainConfig(
        dataset="mnist",
        data_dir=str(mnist_dir),
        n_samples=512,
        batch_size=32,
        g_hidden=(32,),
        d_hidden=(32,),
        latent_dim=8,
        conditional=True,
        steps=6,
        eval_every=3,
        threads=1,
    )
    run = gankit.train(config, tmp_path / "cgan", progress=False, figures=False)
    (data,) = _data(write_report(run.path).read_text())
    assert data["kind"] == "images" and [f["step"] for f in data["frames"]] == [3, 6]
    assert all(f["png"].startswith("data:image/png;base64,") for f in data["frames"])
    assert "label_accuracy 0.5" in data["frames"][-1]["numbers"]
    assert gankit.views.load_snapshots(run.path)[-1]["labels"].tolist() == [d for d in range(10) for _ in range(10)]


def test_the_latent_finding_reads_the_table():
    table = [
        {"latent_dim": 1, "w1_mean": 6.2, "w1_low": 5.8, "w1_high": 6.6},
        {"latent_dim": 2, "w1_mean": 1.9, "w1_low": 1.7, "w1_high": 2.2},
        {"latent_dim": 3, "w1_mean": 1.8, "w1_low": 1.6, "w1_high": 1.9},
    ]
    finding = labbook.latent_finding(table)
    assert "lowest mean W1 is 1.8 at latent 3" in finding
    assert "latents 2, 3 cannot be told apart" in finding and "latent 1: 3.4x" in finding
    assert finding.endswith("The smallest latent that is enough here: 2.")


@pytest.mark.slow
def test_the_lab_page_answers_its_questions(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(labbook._Book, "steps", lambda self, quick, full: min(quick, 40))
    monkeypatch.setattr(labbook._Book, "evaluations", lambda self, steps, quick=5: steps // 2)
    monkeypatch.setattr(labbook, "LATENT_SIZES", (1, 2))
    toys = {name: question for name, question in labbook.QUESTIONS.items() if question is not labbook._mnist}
    monkeypatch.setattr(labbook, "QUESTIONS", toys)  # MNIST: test_an_mnist_page_... above
    page = labbook.run_lab(tmp_path / "lab", quick=True, progress=False).read_text()
    said = capsys.readouterr().err
    for name in toys:  # what each part cost, as it goes, and all of them at the end
        assert re.search(rf"gankit lab: {re.escape(name)}: done in \d+ s", said)
    assert re.search(r"wrote .* after [\d.]+ minutes \(1\. the circle \d+ s; ", said)
    for heading in ("1. Can a GAN learn", "2. What does D say", "3. The swiss roll", "4. How small can the latent"):
        assert heading in page
    assert "Of 1,000 generated points D says real" in page and "<b>Finding:</b>" in page
    assert len(_data(page)) == 4 + 2  # circle twice, moons, swiss roll; each latent's median run
    with pytest.raises(gankit.GankitError, match="already exists"):
        labbook.run_lab(tmp_path / "lab", quick=True, progress=False)
