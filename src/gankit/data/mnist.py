"""MNIST and Fashion-MNIST from the original IDX files, as tensors ready for a GAN.

`load_mnist(split)` returns images float32 of shape (N, 1, 28, 28) scaled to [-1, 1]
(pixel / 127.5 - 1, the range of a tanh generator) and labels int64 of shape (N,).

Where the files live (`resolve_data_dir`): the `data_dir` argument, else the GANKIT_DATA_DIR
environment variable, else the user cache folder ($XDG_CACHE_HOME or ~/.cache)/gankit/<dataset>.
The folder holds the torchvision-named files of `MNIST_FILES`, gzipped or already decompressed
(the same name without `.gz`). Both datasets use the same file names, so a folder given by
`data_dir` or GANKIT_DATA_DIR serves one dataset only.

Downloads go only into the cache folder. A folder the user named (argument or environment
variable) is treated as read-only user data: when it lacks a file, loading fails with a message
naming that folder, instead of creating it and downloading into it (a typo in a path should not
silently fetch 11 MB somewhere unexpected).

Every file is checked against `CHECKSUMS[dataset][filename]`, an md5 that may be either of the
decompressed payload or of the .gz bytes: a file passes when either matches. MNIST lists the
decompressed md5s, because the mirrors serve different gzip repacks of the same data;
Fashion-MNIST lists torchvision's md5s of the .gz files. Tests may monkeypatch the table.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import io
import math
import os
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import torch

from gankit.errors import GankitError, bad_value
from gankit.files import atomic_file, read_regular, user_cache_dir
from gankit.notebook import progress_bar

SPLITS = ("train", "test")
DATA_DIR_ENV = "GANKIT_DATA_DIR"
IMAGE_SIZE = 28
MNIST_SHAPE = (1, IMAGE_SIZE, IMAGE_SIZE)  # one image (C, H, W)

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/"),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}

CHECKSUMS = {
    # md5 of the decompressed files: identical whichever mirror's gzip they came from.
    "mnist": {
        "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
    },
    # md5 of the .gz files, as torchvision lists them.
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

# An IDX file's bytes, compressed or not: the largest (60,000 images) holds 47 MB; more is not an MNIST file.
IDX_LIMIT = 64_000_000
# the classes' names, in label order
CLASSES = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}
DATASETS = tuple(CHECKSUMS)  # the image data sets this loader knows: mnist, fashion_mnist
IDX_LABELS, IDX_IMAGES = 0x00000801, 0x00000803  # unsigned bytes, 1 and 3 dimensions
_DOWNLOAD_ERRORS = (OSError, http.client.HTTPException)  # URLError and timeouts are OSErrors


def _cache_dir(dataset: str) -> Path:
    return user_cache_dir(dataset)


def _locate(dataset: str, data_dir: str | Path | None) -> tuple[Path, str | None]:
    """The folder, and the name of the option that chose it (None when it is the cache)."""
    if dataset not in DATASETS:
        raise bad_value("dataset", dataset, DATASETS)
    if data_dir is not None:
        return Path(data_dir).expanduser(), "data_dir"
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser(), DATA_DIR_ENV
    return _cache_dir(dataset), None


def resolve_data_dir(dataset: str = "mnist", data_dir: str | Path | None = None) -> Path:
    """The folder that holds (or will hold) the dataset's files.

    `data_dir` if given, else $GANKIT_DATA_DIR if set, else ($XDG_CACHE_HOME or ~/.cache)/gankit/<dataset>.
    """
    return _locate(dataset, data_dir)[0]


def _find(folder: Path, name: str) -> Path | None:
    # Accept the decompressed file too: torchvision's raw folder and many users keep both.
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _read_bytes(path: Path) -> tuple[bytes, bytes]:
    """The file's bytes and its payload: decompressed when the file is gzip (told by content, not suffix).
    A regular file only (a FIFO would block, a device never end), both at most IDX_LIMIT bytes."""
    accepted = f"a readable IDX file (gzip or plain) of at most {IDX_LIMIT:,} bytes"
    data = read_regular(path, "IDX file", accepted, limit=IDX_LIMIT)
    if data[:2] != b"\x1f\x8b":
        return data, data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
            payload = unpacked.read(IDX_LIMIT + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise GankitError(
            f"{str(path)!r} is a damaged or truncated gzip file ({error}); accepted: a complete .gz IDX file"
        ) from None
    if len(payload) > IDX_LIMIT:
        raise GankitError(f"{str(path)!r} decompresses to more than {IDX_LIMIT:,} bytes; accepted: {accepted}")
    return data, payload


def _parse_idx(path: Path, payload: bytes) -> np.ndarray:
    if len(payload) < 4:
        raise GankitError(f"{str(path)!r} has {len(payload)} bytes, too few for an IDX header; accepted: an IDX file")
    magic = int.from_bytes(payload[:4], "big")
    if magic not in (IDX_LABELS, IDX_IMAGES):
        raise GankitError(
            f"{str(path)!r} is not an IDX file of unsigned bytes (magic number 0x{magic:08x}); "
            f"accepted: magic 0x{IDX_LABELS:08x} (labels) or 0x{IDX_IMAGES:08x} (images)"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise GankitError(
            f"{str(path)!r} is truncated inside its IDX header ({len(payload)} bytes); accepted: a complete IDX file"
        )
    dims = tuple(int(size) for size in np.frombuffer(payload, dtype=">u4", count=ndim, offset=4))
    expected = header + math.prod(dims)
    if len(payload) != expected:
        raise GankitError(
            f"{str(path)!r} holds {len(payload)} bytes but its header (dims {dims}) needs {expected}; "
            "accepted: a complete, untruncated IDX file"
        )
    # One frombuffer over the whole payload: no per-image Python work.
    return np.frombuffer(payload, dtype=np.uint8, offset=header).reshape(dims)


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (gzip or plain) into a read-only uint8 array of the header's shape.

    Checks the magic number (0x00000801 labels, 0x00000803 images), the dimensions and that the
    byte count matches them exactly; raises GankitError for an unreadable, truncated or non-IDX file.
    """
    path = Path(path)
    return _parse_idx(path, _read_bytes(path)[1])


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _matches(data: bytes, payload: bytes, expected: str) -> bool:
    """Whether the md5 of the payload or (for a .gz) of the file bytes is `expected`."""
    return _md5(payload) == expected or (data is not payload and _md5(data) == expected)


def _verify(path: Path, data: bytes, payload: bytes, expected: str, what: str) -> None:
    if _matches(data, payload, expected):
        return
    actual = _md5(payload)
    gz_note = f" ({_md5(data)} for the .gz bytes)" if data is not payload else ""
    raise GankitError(
        f"{str(path)!r} has md5 {actual}{gz_note}, expected {expected} for {what}; "
        "accepted: the genuine file (a damaged file in the cache can be deleted to download it again)"
    )


def _check_shape(path: Path, array: np.ndarray, magic: int) -> None:
    if magic == IDX_IMAGES and (array.ndim != 3 or array.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE)):
        raise GankitError(f"{str(path)!r} holds an array of shape {array.shape}; accepted: images of shape (N, 28, 28)")
    if magic == IDX_LABELS and array.ndim != 1:
        raise GankitError(f"{str(path)!r} holds an array of shape {array.shape}; accepted: labels of shape (N,)")


@functools.lru_cache(maxsize=4)
def _decode(
    dataset: str, split: str, paths: tuple[Path, Path], stamps: tuple, checksums: tuple[str, str]
) -> tuple[torch.Tensor, torch.Tensor]:
    # `stamps` (mtime, size) and `checksums` only key the cache: a replaced file or a new table reloads.
    arrays = []
    for path, expected, name, magic in zip(paths, checksums, MNIST_FILES[split], (IDX_IMAGES, IDX_LABELS)):
        data, payload = _read_bytes(path)
        _verify(path, data, payload, expected, f"{dataset} {name}")
        array = _parse_idx(path, payload)
        _check_shape(path, array, magic)
        arrays.append(array)
    pixels, labels = arrays
    if len(pixels) != len(labels):
        raise GankitError(
            f"{str(paths[0])!r} has {len(pixels)} images but {str(paths[1])!r} has {len(labels)} labels; "
            "accepted: one label per image"
        )
    if labels.size and labels.max() > 9:
        raise GankitError(f"{str(paths[1])!r} has label {int(labels.max())}; accepted: labels 0..9")
    images = torch.from_numpy(pixels.astype(np.float32)).div_(127.5).sub_(1.0).unsqueeze(1)
    return images, torch.from_numpy(labels.astype(np.int64))


def _fetch(url: str, target: Path, expected: str) -> None:
    """Download `url` to `target` through a temp file in the same folder, renamed only once verified."""
    with (
        urllib.request.urlopen(url, timeout=60) as response,
        atomic_file(target, suffix=".part") as handle,
    ):
        total = int(response.headers.get("Content-Length") or 0) or None
        with progress_bar(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=target.name) as bar:
            while chunk := response.read(1 << 16):
                handle.write(chunk)
                bar.update(len(chunk))
        handle.flush()
        data, payload = _read_bytes(Path(handle.name))
        if not _matches(data, payload, expected):  # raising here removes the temp file: nothing half-made is left
            raise GankitError(f"served a file with md5 {_md5(payload)}, expected {expected}")


def _download(dataset: str, split: str, folder: Path, names: list[str]) -> None:
    for position, name in enumerate(names):
        reasons = []
        for mirror in MIRRORS[dataset]:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                _fetch(mirror + name, folder / name, CHECKSUMS[dataset][name])
                break
            except (*_DOWNLOAD_ERRORS, GankitError) as error:  # a bad checksum also moves on to the next mirror
                reasons.append(f"{mirror}{name}: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
        else:
            raise GankitError(
                f"{dataset} {split} files {', '.join(names[position:])} are missing from {str(folder)!r} "
                "and could not be downloaded "
                f"({'; '.join(reasons)}); accepted: put the files {', '.join(MNIST_FILES[split])} in that folder, "
                f"or pass data_dir (--data-dir DIR) or set {DATA_DIR_ENV} to a folder that holds them"
            )


def load_mnist(
    split: str = "train",
    *,
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    download: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images float32 (N, 1, 28, 28) in [-1, 1] (pixel / 127.5 - 1) and labels int64 (N,) of one split.

    `split` is "train" (60000 images) or "test" (10000); `dataset` is "mnist" or "fashion_mnist".
    The folder is `resolve_data_dir(dataset, data_dir)`. Missing files are downloaded when
    `download` is true and the folder is the cache (never into a folder the user named).
    Files are checked against `CHECKSUMS`. Decoded tensors are cached in-process, so a repeated
    call is free and returns the same tensor objects: clone before modifying them in place.
    Raises GankitError for a bad option, missing or damaged files, or labels outside 0..9.
    """
    if split not in SPLITS:
        raise bad_value("split", split, SPLITS)
    folder, chosen_by = _locate(dataset, data_dir)
    names = MNIST_FILES[split]
    found = [_find(folder, name) for name in names]
    missing = [name for name, path in zip(names, found) if path is None]
    if missing and chosen_by is not None:
        where = "does not exist" if not folder.is_dir() else f"lacks {', '.join(missing)}"
        raise GankitError(
            f"{chosen_by}={str(folder)!r} {where}; accepted: a folder holding the {dataset} {split} files "
            f"{', '.join(names)} (gankit downloads only into its cache {str(_cache_dir(dataset))!r}, "
            f"used when neither data_dir nor {DATA_DIR_ENV} is set)"
        )
    if missing and not download:
        raise GankitError(
            f"{dataset} {split} files {', '.join(missing)} are not in {str(folder)!r} and download=False; "
            f"accepted: download=True, the files put in that folder, or data_dir (--data-dir DIR) or "
            f"{DATA_DIR_ENV} naming a folder that holds them"
        )
    if missing:
        _download(dataset, split, folder, missing)
        found = [folder / name for name in names]
    stamps = tuple((path.stat().st_mtime_ns, path.stat().st_size) for path in found)
    checksums = tuple(CHECKSUMS[dataset][name] for name in names)
    return _decode(dataset, split, tuple(found), stamps, checksums)
