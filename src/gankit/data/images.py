"""Your own images: a folder of PNG or JPEG files, or an `.npz` of uint8 images, as pixels and labels.

A folder holds either the images themselves (unlabelled) or one sub-folder per class with that class's images,
as torchvision's ImageFolder lays it out (classes in the sorted order of the sub-folders' names; other files and
hidden ones are skipped). Every image must have one size, unless `image_size` is given: then each is resized to
`image_size` x `image_size` (Lanczos; a non-square image is stretched). Images that are all grayscale stay one
channel; otherwise every image is read as RGB (an alpha channel is dropped).

An `.npz` holds `images`, uint8 of shape (N, H, W) or (N, H, W, C) with C 1 or 3, and optionally `labels`,
integers 0..K-1 of shape (N,) with every class present. Its arrays' headers are read first, so a file that would
not fit in memory is refused before it is read.

`load_images(path, image_size)` returns `Images`: pixels (N, H, W, C) uint8, labels (N,) int64 or None, the class
names. Every problem (an empty folder, mixed sizes, an unreadable file, labels that do not match) is a GankitError
in one line naming the file and what is accepted.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.errors import GankitError, bad_value
from gankit.files import open_regular, read_regular
from gankit.resources import require

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARCHIVE_SUFFIX = ".npz"
FILE_LIMIT = 64_000_000  # bytes of one image file: far more than any picture a GAN on a CPU trains on
GRAYSCALE_MODES = ("1", "L", "LA", "I", "I;16", "F")
ACCEPTED_FOLDER = "a folder of PNG/JPEG images, or of one sub-folder of them per class"
GRID_IMAGES, GRID_PER_CLASS = 100, 10  # a figure's grid of samples; a conditional grid's row per class
ACCEPTED_ARCHIVE = "an .npz with `images`, uint8 (N, H, W) or (N, H, W, C) with C 1 or 3, and optional `labels` 0..K-1"


@dataclass(frozen=True)
class Images:
    """Pixels (N, H, W, C) uint8, labels (N,) int64 class indices or None, and the classes' names."""

    pixels: np.ndarray
    labels: np.ndarray | None
    classes: tuple[str, ...]


def to_uint8(images) -> np.ndarray:
    """The inverse of the [-1, 1] scaling: 8-bit pictures, rounded and clipped to 0..255. A tensor or array of
    shape (N, C, H, W) gives (N, H, W) for one channel and (N, H, W, C) for more; (N, H, W) stays as it is."""
    if isinstance(images, torch.Tensor):
        images = images.detach().to("cpu", torch.float32).numpy()
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    elif array.ndim == 4:
        array = array.transpose(0, 2, 3, 1)
    if array.ndim not in (3, 4):
        raise bad_value("images.shape", tuple(array.shape), "(N, C, H, W) or (N, H, W)")
    return np.clip(np.rint((array + 1.0) * 127.5), 0, 255).astype(np.uint8)


def grid_labels(classes: Sequence[str]) -> np.ndarray | None:
    """The labels of a figure's grid of samples: GRID_PER_CLASS per class, in rows; None without classes."""
    return np.repeat(np.arange(len(classes)), GRID_PER_CLASS) if classes else None


def is_image_archive(name: str) -> bool:
    """Whether a dataset name is a path to an .npz of images."""
    return name.lower().endswith(ARCHIVE_SUFFIX)


def is_image_folder(name: str) -> bool:
    """Whether a dataset name is taken as a folder of images: an existing folder, or a path (a name with a
    separator) to nothing, which a saved run keeps reading as one after the folder has moved."""
    path = Path(name)
    separated = os.sep in name or (os.altsep is not None and os.altsep in name)
    return path.is_dir() or (separated and not path.exists())


def load_images(path: str | Path, image_size: int | None = None) -> Images:
    """The images at `path` (a folder or an .npz); `image_size` resizes every image to that square side."""
    path = Path(path)
    if is_image_archive(str(path)):
        images = _read_archive(path)
        return images if image_size is None else _resized_archive(images, image_size)
    if not path.is_dir():
        raise GankitError(f"dataset {str(path)!r} is not a folder; accepted: {ACCEPTED_FOLDER}, or {ACCEPTED_ARCHIVE}")
    return _read_folder(path, image_size)


# ------------------------------------------------------------------ folders


def _visible(entries: list[Path]) -> list[Path]:
    return sorted(p for p in entries if not p.name.startswith("."))


def _image_files(folder: Path) -> list[Path]:
    return [p for p in _visible(list(folder.iterdir())) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]


def _listing(path: Path) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """(files, class index of each, class names): the folder's own images, or its sub-folders' as classes."""
    entries = _visible(list(path.iterdir()))
    own = _image_files(path)
    subfolders = [p for p in entries if p.is_dir()]
    if own and subfolders:
        raise GankitError(
            f"dataset {str(path)!r} holds both images ({own[0].name}, ...) and sub-folders ({subfolders[0].name}, "
            f"...); accepted: {ACCEPTED_FOLDER}"
        )
    if own:
        return own, [], ()
    files, labels = [], []
    for index, folder in enumerate(subfolders):
        found = _image_files(folder)
        if not found:
            raise GankitError(
                f"class folder {str(folder)!r} of dataset {str(path)!r} holds no PNG or JPEG image; accepted: "
                f"{ACCEPTED_FOLDER}"
            )
        files += found
        labels += [index] * len(found)
    if not files:
        raise GankitError(f"dataset {str(path)!r} holds no PNG or JPEG image; accepted: {ACCEPTED_FOLDER}")
    return files, labels, tuple(p.name for p in subfolders)


def _open(file: Path, *, decode: bool = True):
    """The image in `file`; without `decode` its pixels stay undecoded (its size and mode come from the header)."""
    from PIL import Image, UnidentifiedImageError

    data = read_regular(file, "image file", "a PNG or JPEG file", limit=FILE_LIMIT)
    try:
        image = Image.open(io.BytesIO(data))
        if decode:
            image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GankitError(
            f"image file {str(file)!r} could not be read ({reason[:120]}); accepted: a PNG or JPEG file"
        ) from None
    return image


def _header(file: Path) -> tuple[tuple[int, int], str]:
    image = _open(file, decode=False)
    return image.size, image.mode


def _read_folder(path: Path, image_size: int | None) -> Images:
    files, labels, classes = _listing(path)
    headers = [_header(file) for file in files]  # (size, mode) only: no image is held
    side = (image_size, image_size) if image_size is not None else headers[0][0]
    for file, (size, _) in zip(files, headers):
        if image_size is None and size != side:
            raise GankitError(
                f"images of different sizes in {str(path)!r}: {files[0].relative_to(path)} is {side[0]}x{side[1]}, "
                f"{file.relative_to(path)} is {size[0]}x{size[1]}; accepted: one size, or "
                "image_size=N to resize every image to N x N"
            )
    channels = 1 if all(mode in GRAYSCALE_MODES for _, mode in headers) else 3
    require(
        f"{len(files):,} images of {side[0]}x{side[1]}",
        5 * len(files) * side[0] * side[1] * channels,
        "fewer or smaller images",
    )
    pixels = np.empty((len(files), side[1], side[0], channels), dtype=np.uint8)
    for i, file in enumerate(files):
        image = _open(file).convert("L" if channels == 1 else "RGB")
        pixels[i] = _fit(image, image_size).reshape(pixels.shape[1:])
    return Images(pixels, np.asarray(labels, dtype=np.int64) if classes else None, classes)


def _fit(image, image_size: int | None) -> np.ndarray:
    """The image's pixels, resized to `image_size` x `image_size` where one is given."""
    from PIL import Image

    if image_size is not None:
        image = image.resize((image_size, image_size), Image.Resampling.LANCZOS)
    return np.asarray(image)


# ------------------------------------------------------------------ archives


def _member_header(archive: zipfile.ZipFile, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of an array in an .npz, from its header alone."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    with archive.open(name) as member:
        version = np.lib.format.read_magic(member)
        if version not in readers:
            raise ValueError(f"npy format version {version}")
        shape, _, dtype = readers[version](member)
    return shape, dtype


def _read_archive(path: Path) -> Images:
    where = f"dataset {str(path)!r}"
    with open_regular(path, "dataset", ACCEPTED_ARCHIVE) as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                names = {n.removesuffix(".npy"): n for n in archive.namelist()}
                if "images" not in names:
                    raise GankitError(f"{where} holds {sorted(names)} but no `images`; accepted: {ACCEPTED_ARCHIVE}")
                shape, dtype = _member_header(archive, names["images"])
                if dtype != np.uint8 or len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] not in (1, 3)):
                    raise GankitError(f"{where} holds images {dtype} of shape {shape}; accepted: {ACCEPTED_ARCHIVE}")
                require(f"{where}'s images of shape {shape}", 5 * int(np.prod(shape)), "fewer or smaller images")
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as arrays:
                pixels = arrays["images"]
                labels = arrays["labels"] if "labels" in names else None
        except GankitError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise GankitError(f"{where} could not be read ({reason[:120]}); accepted: {ACCEPTED_ARCHIVE}") from None
    if pixels.ndim == 3:
        pixels = pixels[..., None]
    if len(pixels) < 2:
        raise GankitError(f"{where} holds {len(pixels)} image(s); accepted: at least 2")
    if labels is None:
        return Images(pixels, None, ())
    labels = _check_labels(labels, len(pixels), where)
    return Images(pixels, labels, tuple(str(k) for k in range(int(labels.max()) + 1)))


def _check_labels(labels: np.ndarray, n: int, where: str) -> np.ndarray:
    if labels.dtype.kind not in "iu" or labels.shape != (n,):
        raise GankitError(
            f"{where} holds labels {labels.dtype} of shape {labels.shape} for {n:,} images; accepted: integers of "
            f"shape ({n},)"
        )
    if labels.min() < 0:
        raise GankitError(f"{where} holds label {int(labels.min())}; accepted: class indices 0..K-1")
    missing = sorted(set(range(int(labels.max()) + 1)) - set(np.unique(labels).tolist()))
    if missing:
        raise GankitError(
            f"{where} has no image of class {missing[0]} among labels 0..{int(labels.max())}; accepted: every class "
            "0..K-1 present"
        )
    return labels.astype(np.int64)


def _resized_archive(images: Images, image_size: int) -> Images:
    from PIL import Image

    pixels = images.pixels
    resized = np.empty((len(pixels), image_size, image_size, pixels.shape[3]), dtype=np.uint8)
    for i, picture in enumerate(pixels):
        image = Image.fromarray(picture[..., 0] if pixels.shape[3] == 1 else picture)
        resized[i] = _fit(image, image_size).reshape(resized.shape[1:])
    return Images(resized, images.labels, images.classes)
