"""MNIST / Fashion-MNIST loading: tiny IDX files written here, plus one test on the genuine files."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.data import mnist
from gankit.data.images import to_uint8
from gankit.errors import GankitError

TRAIN_IMAGES, TRAIN_LABELS = mnist.MNIST_FILES["train"]


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", size) for size in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def tiny_pixels(n: int = 5) -> np.ndarray:
    pixels = np.random.default_rng(0).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    pixels[0, 0, :2] = (0, 255)  # the two ends of the range
    return pixels


def write_split(folder: Path, pixels: np.ndarray, labels, *, split: str = "train", gz: bool = True) -> dict[str, str]:
    """Write the split's two files; return {filename: md5 of the decompressed payload}."""
    folder.mkdir(parents=True, exist_ok=True)
    checksums = {}
    payloads = (idx_bytes(pixels, mnist.IDX_IMAGES), idx_bytes(np.asarray(labels), mnist.IDX_LABELS))
    for name, payload in zip(mnist.MNIST_FILES[split], payloads):
        if gz:
            (folder / name).write_bytes(gzip.compress(payload))
        else:
            (folder / name.removesuffix(".gz")).write_bytes(payload)
        checksums[name] = hashlib.md5(payload).hexdigest()
    return checksums


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test may see the user's data folder or cache."""
    monkeypatch.delenv(mnist.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A 5-image train split in tmp_path/data, with the MNIST checksum table pointing at it."""
    pixels, labels = tiny_pixels(), np.array([0, 1, 2, 9, 4])
    checksums = write_split(tmp_path / "data", pixels, labels)
    monkeypatch.setitem(mnist.CHECKSUMS, "mnist", checksums)
    return tmp_path / "data", pixels, labels


def assert_one_line(error: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_load_gives_scaled_images_and_labels(tiny):
    folder, pixels, labels = tiny
    images, targets = mnist.load_mnist("train", data_dir=folder, download=False)
    assert images.shape == (5, 1, 28, 28) and images.dtype == torch.float32
    assert targets.shape == (5,) and targets.dtype == torch.int64
    expected = torch.from_numpy(pixels.astype(np.float32)) / 127.5 - 1
    assert torch.equal(images[:, 0], expected)
    assert images[0, 0, 0, 0] == -1 and images[0, 0, 0, 1] == 1
    assert images.min() >= -1 and images.max() <= 1
    assert targets.tolist() == labels.tolist()


def test_repeated_load_is_cached(tiny):
    folder = tiny[0]
    first = mnist.load_mnist("train", data_dir=folder)
    second = mnist.load_mnist("train", data_dir=folder)
    assert first[0] is second[0] and first[1] is second[1]


def test_decompressed_files_are_accepted(monkeypatch, tmp_path):
    pixels = tiny_pixels(3)
    monkeypatch.setitem(mnist.CHECKSUMS, "mnist", write_split(tmp_path, pixels, [3, 1, 4], split="test", gz=False))
    images, labels = mnist.load_mnist("test", data_dir=tmp_path)
    assert torch.equal(torch.from_numpy(to_uint8(images)), torch.from_numpy(pixels))
    assert labels.tolist() == [3, 1, 4]


@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (5, 28, 28)])
def test_to_uint8_round_trip(tiny, shape):
    folder, pixels, _ = tiny
    images, _ = mnist.load_mnist("train", data_dir=folder)
    result = to_uint8(images.reshape(shape))
    assert result.dtype == np.uint8 and result.shape == (5, 28, 28)
    assert np.array_equal(result, pixels)


def test_to_uint8_clips_keeps_colour_and_rejects_bad_shapes():
    values = torch.zeros(1, 1, 28, 28)
    values[0, 0, 0, :4] = torch.tensor([-3.0, 7.0, -1.0, 0.999])
    pixels = to_uint8(values).ravel()
    assert pixels[:5].tolist() == [0, 255, 0, 255, 128]
    colour = torch.zeros(2, 3, 4, 5)
    colour[:, 0] = 1.0  # red
    assert to_uint8(colour).shape == (2, 4, 5, 3) and (to_uint8(colour)[..., 0] == 255).all()
    with pytest.raises(GankitError) as error:
        to_uint8(torch.zeros(2, 784))
    assert_one_line(error, "images.shape", "(2, 784)")


def test_checksum_mismatch(tiny, monkeypatch):
    folder = tiny[0]
    monkeypatch.setitem(mnist.CHECKSUMS["mnist"], TRAIN_IMAGES, "0" * 32)
    with pytest.raises(GankitError) as error:
        mnist.load_mnist("train", data_dir=folder)
    actual = hashlib.md5(gzip.decompress((folder / TRAIN_IMAGES).read_bytes())).hexdigest()
    assert_one_line(error, TRAIN_IMAGES, "0" * 32, actual)


def test_truncated_files(tiny):
    folder = tiny[0]
    data = (folder / TRAIN_IMAGES).read_bytes()
    (folder / TRAIN_IMAGES).write_bytes(data[: len(data) // 2])
    with pytest.raises(GankitError) as error:
        mnist.load_mnist("train", data_dir=folder)
    assert_one_line(error, TRAIN_IMAGES, "truncated")
    # A complete gzip around a cut IDX payload: caught by the byte count.
    payload = gzip.decompress(data)
    (folder / TRAIN_IMAGES).write_bytes(gzip.compress(payload[:-100]))
    with pytest.raises(GankitError) as error:
        mnist.read_idx(folder / TRAIN_IMAGES)
    assert_one_line(error, TRAIN_IMAGES, str(len(payload) - 100), str(len(payload)))


def test_non_idx_file(tmp_path):
    path = tmp_path / "notes.gz"
    path.write_bytes(gzip.compress(b"<html>not an IDX file</html>"))
    with pytest.raises(GankitError) as error:
        mnist.read_idx(path)
    assert_one_line(error, "notes.gz", "magic", "0x00000803")
    with pytest.raises(GankitError) as error:
        mnist.read_idx(tmp_path / "absent.gz")
    assert_one_line(error, "absent.gz")


def test_special_and_oversized_files_are_refused_without_reading_them(tmp_path, monkeypatch):
    fifo = tmp_path / "fifo.gz"
    os.mkfifo(fifo)  # read as a file it would block forever
    with pytest.raises(GankitError) as error:
        mnist.read_idx(fifo)
    assert_one_line(error, "fifo.gz", "FIFO", "not a regular file")
    (tmp_path / "zero.gz").symlink_to("/dev/zero")  # read as a file it would never end
    with pytest.raises(GankitError) as error:
        mnist.read_idx(tmp_path / "zero.gz")
    assert_one_line(error, "zero.gz", "device")
    monkeypatch.setattr(mnist, "IDX_LIMIT", 10_000)
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(bytes(10_001)))  # small, but unpacks past the limit
    with pytest.raises(GankitError) as error:
        mnist.read_idx(tmp_path / "bomb.gz")
    assert_one_line(error, "bomb.gz", "decompresses to more than 10,000 bytes")
    (tmp_path / "big").write_bytes(bytes(10_001))
    with pytest.raises(GankitError) as error:
        mnist.read_idx(tmp_path / "big")
    assert_one_line(error, "big", "larger than 10,000 bytes")


def test_read_idx_returns_header_shape(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.arange(7), mnist.IDX_LABELS))
    assert mnist.read_idx(path).tolist() == list(range(7))


def test_label_out_of_range(monkeypatch, tmp_path):
    monkeypatch.setitem(mnist.CHECKSUMS, "mnist", write_split(tmp_path, tiny_pixels(3), [0, 10, 2]))
    with pytest.raises(GankitError) as error:
        mnist.load_mnist("train", data_dir=tmp_path)
    assert_one_line(error, TRAIN_LABELS, "10", "0..9")


def test_image_label_count_mismatch(monkeypatch, tmp_path):
    monkeypatch.setitem(mnist.CHECKSUMS, "mnist", write_split(tmp_path, tiny_pixels(3), [0, 1]))
    with pytest.raises(GankitError) as error:
        mnist.load_mnist("train", data_dir=tmp_path)
    assert_one_line(error, "3 images", "2 labels")


def no_network(*args, **kwargs):
    raise urllib.error.URLError("no network here")


def test_missing_files_without_download(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    cache = tmp_path / "cache" / "gankit" / "mnist"
    with pytest.raises(GankitError) as error:
        mnist.load_mnist("train", download=False)
    assert_one_line(error, str(cache), TRAIN_IMAGES, "download=False", mnist.DATA_DIR_ENV)


def test_named_folder_is_never_downloaded_into(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("no download into a folder the user named")

    monkeypatch.setattr(urllib.request, "urlopen", forbidden)
    with pytest.raises(GankitError) as error:
        mnist.load_mnist("test", data_dir=tmp_path / "typo", download=True)
    assert_one_line(error, "data_dir=", str(tmp_path / "typo"), "does not exist")
    assert not (tmp_path / "typo").exists()
    monkeypatch.setenv(mnist.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(GankitError) as error:
        mnist.load_mnist("test")
    assert_one_line(error, f"{mnist.DATA_DIR_ENV}=", str(tmp_path), "t10k-images-idx3-ubyte.gz")


def test_failed_download_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    cache = tmp_path / "cache" / "gankit" / "fashion_mnist"
    with pytest.raises(GankitError) as error:
        mnist.load_mnist("train", dataset="fashion_mnist")
    assert_one_line(error, str(cache), TRAIN_IMAGES, "no network here", "--data-dir", mnist.DATA_DIR_ENV)
    assert list(cache.iterdir()) == []


class FakeResponse(io.BytesIO):
    """What urlopen returns, enough for the downloader; `fail_after` bytes then a dropped connection."""

    def __init__(self, data: bytes, fail_after: int | None = None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}
        self.fail_after = fail_after

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection dropped")
        return super().read(size if self.fail_after is None else min(size, self.fail_after - self.tell()))


def test_download_into_cache(tmp_path, monkeypatch):
    source = tmp_path / "server"
    pixels = tiny_pixels(4)
    monkeypatch.setitem(mnist.CHECKSUMS, "mnist", write_split(source, pixels, [1, 2, 3, 4]))
    urls = []

    def serve(url, timeout):
        urls.append(url)
        if url.startswith(mnist.MIRRORS["mnist"][0]):
            raise urllib.error.HTTPError(url, 503, "Service Unavailable", None, None)
        return FakeResponse((source / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    images, labels = mnist.load_mnist("train")
    cache = tmp_path / "cache" / "gankit" / "mnist"
    assert sorted(path.name for path in cache.iterdir()) == sorted(mnist.MNIST_FILES["train"])
    assert np.array_equal(to_uint8(images), pixels) and labels.tolist() == [1, 2, 3, 4]
    assert len(urls) == 4 and urls[1] == mnist.MIRRORS["mnist"][1] + TRAIN_IMAGES


def test_interrupted_or_corrupt_download_leaves_nothing(tmp_path, monkeypatch):
    source = tmp_path / "server"
    monkeypatch.setitem(mnist.CHECKSUMS, "mnist", write_split(source, tiny_pixels(4), [1, 2, 3, 4]))
    data = (source / TRAIN_IMAGES).read_bytes()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(data, fail_after=len(data) // 2))
    cache = tmp_path / "cache" / "gankit" / "mnist"
    with pytest.raises(GankitError) as error:
        mnist.load_mnist("train")
    assert_one_line(error, "connection dropped")
    assert list(cache.iterdir()) == []
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(b"<html>moved</html>"))
    with pytest.raises(GankitError) as error:
        mnist.load_mnist("train")
    assert_one_line(error, "served a file with md5")
    assert list(cache.iterdir()) == []


def test_fashion_mnist_uses_gz_checksums(tmp_path, monkeypatch):
    pixels = tiny_pixels(2)
    write_split(tmp_path, pixels, [7, 8], split="test")
    gz_md5 = {name: hashlib.md5((tmp_path / name).read_bytes()).hexdigest() for name in mnist.MNIST_FILES["test"]}
    genuine = mnist.CHECKSUMS["fashion_mnist"]
    monkeypatch.setitem(mnist.CHECKSUMS, "fashion_mnist", gz_md5)
    images, labels = mnist.load_mnist("test", dataset="fashion_mnist", data_dir=tmp_path)
    assert images.shape == (2, 1, 28, 28) and labels.tolist() == [7, 8]
    # The genuine Fashion-MNIST table does not accept these files.
    monkeypatch.setitem(mnist.CHECKSUMS, "fashion_mnist", genuine)
    with pytest.raises(GankitError) as error:
        mnist.load_mnist("test", dataset="fashion_mnist", data_dir=tmp_path)
    assert_one_line(error, "fashion_mnist", mnist.CHECKSUMS["fashion_mnist"]["t10k-images-idx3-ubyte.gz"])


def test_resolve_data_dir_order(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    assert mnist.resolve_data_dir() == cache / "gankit" / "mnist"
    assert mnist.resolve_data_dir("fashion_mnist") == cache / "gankit" / "fashion_mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist.resolve_data_dir() == tmp_path / "home" / ".cache" / "gankit" / "mnist"
    monkeypatch.setenv(mnist.DATA_DIR_ENV, str(tmp_path / "env"))
    assert mnist.resolve_data_dir() == tmp_path / "env"
    assert mnist.resolve_data_dir("mnist", tmp_path / "arg") == tmp_path / "arg"
    assert mnist.resolve_data_dir(data_dir=str(tmp_path / "arg")) == tmp_path / "arg"


@pytest.mark.parametrize(
    ("options", "fragment"),
    [({"split": "validation"}, "split='validation'"), ({"dataset": "cifar10"}, "dataset='cifar10'")],
)
def test_bad_options(options, fragment):
    with pytest.raises(GankitError) as error:
        mnist.load_mnist(**options)
    assert_one_line(error, fragment, "accepted")


def test_genuine_mnist(mnist_dir):
    for split, size in (("train", 60000), ("test", 10000)):
        images, labels = mnist.load_mnist(split, data_dir=mnist_dir, download=False)  # checks the md5s
        assert images.shape == (size, 1, 28, 28) and labels.shape == (size,)
        assert images.min() == -1 and images.max() == 1
        assert labels.min() == 0 and labels.max() == 9 and len(labels.unique()) == 10
