"""Regenerate every figure of the documentation under docs/img/ from runs of the current code (`make figures`).

    python docs/make_figures.py --data-dir ../shared/data/mnist

Trains small runs (the moons, the mode-collapse presets, a latent-dimension sweep, the MNIST conditional GAN and
DCGAN for a fixed wall time) in a temporary folder, draws their figures with gankit's own plotting, photographs a
report page in headless Chromium (Debian's chromium and chromium-driver, as the report's browser test uses) and
writes each image as a palette PNG, so that the committed files stay small.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
from pathlib import Path

from PIL import Image

import gankit
from gankit.plots import figure_to_png

IMG = Path(__file__).resolve().parent / "img"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def save_png(png: bytes, name: str) -> None:
    """Write PNG bytes as a 256-colour palette image: the figures have few colours, and a palette is far smaller."""
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    path = IMG / f"{name}.png"
    image.save(path, optimize=True)
    print(f"{path.relative_to(IMG.parent.parent)}  {path.stat().st_size // 1024} kB")


def save_figure(figure, name: str) -> None:
    save_png(figure_to_png(figure), name)


def screenshot(page: Path) -> bytes:
    """The report page as Chromium draws it, headless, with a fresh profile and no network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="gankit-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1200,900"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.get(page.resolve().as_uri())
        driver.find_element("css selector", "canvas.gk-view")  # drawn once the page's script has run
        return driver.get_screenshot_as_png()
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def toy_figures(work: Path) -> None:
    quiet = dict(progress=False, live=False)
    moons = gankit.train(gankit.TrainConfig(dataset="moons", latent_dim=2, steps=3000), out=work / "moons", **quiet)
    save_figure(moons.lab_view(), "lab_view_moons")
    figures = moons.plot(save=False)
    for name in ("real_vs_generated", "d_verdict", "decision_map", "losses"):
        save_figure(figures[name], f"moons_{name}")
    save_png(screenshot(gankit.write_report(moons.path)), "report")

    for dataset in ("ring", "grid"):
        run = gankit.train(gankit.preset(f"mode-collapse-{dataset}"), out=work / dataset, **quiet)
        figures = run.plot(save=False)  # sampled as the preset samples: through its sampler
        save_figure(figures["real_vs_generated"], f"mode_collapse_{dataset}")
        save_figure(figures["sampler"], f"mode_collapse_{dataset}_sampler")

    sweep = gankit.sweep(
        gankit.TrainConfig(dataset="swiss_roll", steps=1500),
        {"latent_dim": [1, 2, 3, 5]},
        seeds=3,
        out=work / "latent",
        progress=False,
    )
    figures = sweep.plot(save=False)
    save_figure(figures["w1_vs_latent_dim"], "latent_sweep_w1")
    save_figure(figures["samples"], "latent_sweep_samples")


def mnist_figures(work: Path, data_dir: str | None, seconds: float) -> None:
    for name in ("mnist-cgan", "mnist-dcgan"):
        config = gankit.preset(name, data_dir=data_dir, max_seconds=seconds)
        run = gankit.train(config, out=work / name, progress=False, live=False)
        save_figure(run.plot(save=False)["samples"], name.replace("-", "_"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the MNIST files (default: $GANKIT_DATA_DIR, then the cache)")
    parser.add_argument("--mnist-seconds", type=float, default=120, help="training seconds of each MNIST run")
    args = parser.parse_args()
    IMG.mkdir(exist_ok=True)
    data_dir = args.data_dir and str(Path(args.data_dir).resolve())
    with tempfile.TemporaryDirectory(prefix="gankit-figures-") as work:
        os.chdir(work)  # the runs under the short relative names that the figures and the report page show
        toy_figures(Path("runs"))
        mnist_figures(Path("runs"), data_dir, args.mnist_seconds)


if __name__ == "__main__":
    main()
