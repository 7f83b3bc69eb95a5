"""Your own images: a folder of PNG/JPEG (flat or one sub-folder per class) or an .npz, trained by gankit's MLP and
DCGAN at their size and channels, scored by the random-feature FD against its floor; bad images in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.data import load_dataset
from gankit.data.images import load_images
from gankit.errors import GankitError
from gankit.metrics.features import FeatureEvaluator, RandomFeatures


def shapes(n: int, side: int, *, colour: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n pictures (n, side, side, 3 or 1) uint8: class 0 a bright square, class 1 a bright disc, at random places
    on a dark ground; and their classes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    yy, xx = np.mgrid[:side, :side]
    pixels = np.zeros((n, side, side, 3 if colour else 1), dtype=np.uint8)
    for i, label in enumerate(labels):
        cy, cx, r = rng.integers(2, side - 2), rng.integers(2, side - 2), side // 4
        inside = (
            (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r) if label == 0 else (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
        )
        pixels[i][inside] = (220, 40, 40) if colour and label == 0 else (40, 40, 220) if colour else 230
    return pixels, labels


def write_folder(folder: Path, pixels: np.ndarray, labels: np.ndarray | None = None, names=("disc", "square")):
    for i, picture in enumerate(pixels):
        where = folder if labels is None else folder / names[1 - labels[i]]
        where.mkdir(parents=True, exist_ok=True)
        Image.fromarray(picture[..., 0] if picture.shape[2] == 1 else picture).save(where / f"{i:03d}.png")
    return folder


def assert_one_line(error: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message and "accepted" in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_a_flat_folder_reads_back_every_pixel(tmp_path):
    pixels, _ = shapes(6, 8, colour=True)
    images = load_images(write_folder(tmp_path / "flat", pixels))
    assert images.labels is None and images.classes == ()
    assert np.array_equal(images.pixels, pixels)  # PNG is lossless; files in name order


def test_class_folders_give_labels_in_the_sorted_order_of_their_names(tmp_path):
    pixels, labels = shapes(6, 8, colour=False)
    images = load_images(write_folder(tmp_path / "classes", pixels, labels))
    assert images.classes == ("disc", "square")  # sorted; "square" holds class 0 of `shapes`
    assert images.pixels.shape == (6, 8, 8, 1)  # grayscale stays one channel
    assert sorted(images.labels.tolist()) == sorted((1 - labels).tolist())
    by_class = {c: images.pixels[images.labels == k] for k, c in enumerate(images.classes)}
    assert np.array_equal(np.sort(by_class["square"], axis=0), np.sort(pixels[labels == 0], axis=0))


@pytest.mark.parametrize("colour", [False, True])
def test_an_npz_with_labels_loads_as_training_images_in_minus_one_to_one(tmp_path, colour):
    pixels, labels = shapes(10, 8, colour=colour)
    path = tmp_path / "shapes.npz"
    np.savez(path, images=pixels[..., 0] if not colour else pixels, labels=labels)
    data = load_dataset(gankit.TrainConfig(dataset=str(path), conditional=True))
    assert data.is_image and data.shape == ((3 if colour else 1), 8, 8) and data.n_classes == 2
    assert data.train.min() >= -1 and data.train.max() <= 1
    back = np.rint((data.train.permute(0, 2, 3, 1).numpy() + 1) * 127.5).astype(np.uint8)
    assert np.array_equal(back, pixels) and data.labels.tolist() == labels.tolist()


def test_image_size_resizes_images_of_mixed_sizes(tmp_path):
    folder = tmp_path / "mixed"
    write_folder(folder, shapes(2, 8, colour=True)[0])
    Image.fromarray(shapes(1, 12, colour=True)[0][0]).save(folder / "big.png")
    with pytest.raises(GankitError) as error:
        load_images(folder)
    assert_one_line(error, "different sizes", "big.png is 12x12", "image_size")
    assert load_images(folder, image_size=16).pixels.shape == (3, 16, 16, 3)


def _bad_folders(tmp_path: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = write_folder(tmp_path / "broken", shapes(2, 8, colour=True)[0])
    (broken / "zz.png").write_bytes(b"not a picture")
    both = write_folder(tmp_path / "both", shapes(2, 8, colour=True)[0])
    (both / "sub").mkdir()
    empty_class = write_folder(tmp_path / "empty_class", *shapes(2, 8, colour=True))
    (empty_class / "third").mkdir()
    return {
        "empty": (empty, ("holds no PNG or JPEG",)),
        "broken": (broken, ("zz.png", "could not be read")),
        "both": (both, ("both images", "sub-folders")),
        "empty_class": (empty_class, ("class folder", "third")),
    }


@pytest.mark.parametrize("case", ["empty", "broken", "both", "empty_class"])
def test_a_bad_folder_is_refused_in_one_line(tmp_path, case):
    folder, fragments = _bad_folders(tmp_path)[case]
    with pytest.raises(GankitError) as error:
        load_images(folder)
    assert_one_line(error, *fragments)


@pytest.mark.parametrize(
    "arrays, fragments",
    [
        ({"pictures": np.zeros((4, 8, 8), np.uint8)}, ("no `images`",)),
        ({"images": np.zeros((4, 8, 8), np.float32)}, ("float32",)),
        ({"images": np.zeros((4, 8, 8, 2), np.uint8)}, ("(4, 8, 8, 2)",)),
        ({"images": np.zeros((4, 8, 8), np.uint8), "labels": np.arange(3)}, ("shape (3,)", "4 images")),
        ({"images": np.zeros((4, 8, 8), np.uint8), "labels": np.array([0, 2, 2, 0])}, ("no image of class 1",)),
    ],
)
def test_a_bad_npz_is_refused_in_one_line(tmp_path, arrays, fragments):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(GankitError) as error:
        load_images(path)
    assert_one_line(error, *fragments)


def test_a_conditional_gan_needs_labels(tmp_path):
    folder = write_folder(tmp_path / "flat", shapes(4, 8, colour=True)[0])
    with pytest.raises(GankitError) as error:
        load_dataset(gankit.TrainConfig(dataset=str(folder), conditional=True))
    assert_one_line(error, "conditional", "no labels")


def test_dcgan_needs_sides_that_are_multiples_of_4(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, images=shapes(4, 10, colour=True)[0])
    with pytest.raises(GankitError) as error:
        gankit.train(gankit.TrainConfig(dataset=str(path), model="dcgan", steps=1), tmp_path / "run", progress=False)
    assert_one_line(error, "dcgan", "(3, 10, 10)", "multiples of 4", "image_size")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_random_features_are_fixed_and_their_fd_tells_real_images_from_noise():
    pixels, _ = shapes(400, 16, colour=True)
    train = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1
    a, b = RandomFeatures(3)(train[:8]), RandomFeatures(3)(train[:8])
    assert np.array_equal(a, b)  # the same weights on every build
    evaluator = FeatureEvaluator(train)
    assert evaluator.needs == 200
    real = evaluator.evaluate(torch.from_numpy(shapes(200, 16, colour=True, seed=1)[0]).permute(0, 3, 1, 2) / 127.5 - 1)
    noise = evaluator.evaluate(torch.rand(200, 3, 16, 16) * 2 - 1)
    blank = evaluator.evaluate(torch.full((200, 3, 16, 16), -1.0))
    assert real["fd_random"] < 3 * real["fd_random_floor"]
    assert noise["fd_random"] > 10 * real["fd_random"] and blank["fd_random"] > 10 * real["fd_random"]


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_own_colour_images_train_evaluate_plot_and_reload(tmp_path, model):
    pixels, labels = shapes(64, 8, colour=True)
    path = tmp_path / "shapes.npz"
    np.savez(path, images=pixels, labels=labels)
    config = gankit.TrainConfig(
        dataset=str(path), model=model, conditional=True, steps=20, batch_size=16, g_hidden=(32,), d_hidden=(32,)
    )
    run = gankit.train(config, tmp_path / model, progress=False, live=False)
    evaluations = [r for r in run.metrics if "fd_random" in r]
    assert evaluations and all(np.isfinite(r["fd_random"]) and r["fd_random_floor"] > 0 for r in evaluations)
    again = gankit.Run(tmp_path / model)  # from its folder alone: shape and classes from the checkpoint
    assert again.classes == ("0", "1")
    samples = again.sample(6, labels=np.array([0, 1, 0, 1, 0, 1]))
    assert samples.shape == (6, 3, 8, 8) and samples.min() >= -1 and samples.max() <= 1
    assert (tmp_path / model / "figures" / "samples.png").exists()
    with Image.open(tmp_path / model / "figures" / "samples.png") as grid:
        assert grid.mode in ("RGB", "RGBA")


def test_the_cli_trains_a_folder_and_refuses_a_bad_one_with_exit_2(tmp_path, capsys):
    folder = write_folder(tmp_path / "pictures", shapes(32, 8, colour=False)[0])
    command = ["train", "--dataset", str(folder), "--steps", "4", "--batch-size", "8"]
    assert main([*command, "--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["dataset"] == str(folder)
    assert main(["sample", str(tmp_path / "run"), "--n", "5", "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as samples:
        assert samples["images"].shape == (5, 8, 8) and samples["images"].dtype == np.uint8  # as the folder's
    capsys.readouterr()
    (folder / "zz.png").write_bytes(b"\x89PNG broken")
    assert main([*command, "--out", str(tmp_path / "bad")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "zz.png" in error and "accepted" in error
