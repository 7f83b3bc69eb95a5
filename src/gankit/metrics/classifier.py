"""Image metrics with no download: a small MNIST classifier that ships with gankit.

The Inception network behind FID and the Inception Score knows nothing of 28x28 digits and
needs a download, so gankit uses the same formulas with a LeNet-style classifier trained on
the dataset's own training split (>= 99% MNIST test accuracy):

* `frechet_distance` (FD): the Frechet distance between Gaussians fitted to the classifier's
  penultimate-layer features of two image sets. It is reported beside its floor, the FD between
  real training and real test images, the best a generator can hope for.
* `classifier_score`: the Inception Score formula exp(E_x KL(p(y|x) || p(y))), from 1 (every image
  looks the same) to 10 (every image is a confident digit and every digit is equally common).
* `class_coverage`: the share of images predicted as each digit (mode collapse shows as zeros).
* `label_accuracy`: for a conditional generator, the share of images classified as the digit asked for.

MNIST's classifier is a file of the package (`SHIPPED`, written by `python -m
gankit.metrics.train_classifier`), so these are the same numbers on every machine and nobody waits for
a training. Your own classifier (another seed or recipe, or Fashion-MNIST's, which does not ship) is
read from `classifier-<dataset>.safetensors` in `cache_dir`, else $GANKIT_CLASSIFIER_DIR, else (for
datasets gankit ships none of) ($XDG_CACHE_HOME or ~/.cache)/gankit, and trained there on first use.
The file is written atomically (temporary file, then rename), its metadata records the test
accuracy, the seed and the format version; training is seeded and leaves torch's global RNG untouched.

`ImageEvaluator` holds the classifier and the test-set feature statistics, so scoring 10,000
generated images costs one forward pass over them plus a few 128x128 matrix operations.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError, bad_value
from gankit.files import atomic_write, user_cache_dir
from gankit.notebook import progress_bar
from gankit.threads import follows_policy, policy_threads

CLASSIFIER_DIR_ENV = "GANKIT_CLASSIFIER_DIR"
FORMAT = "gankit-classifier"
FORMAT_VERSION = "1"  # bump when the architecture or the recipe changes: older cache files are then retrained
N_CLASSES = 10
FEATURES = 128
SEED = 0
EPOCHS = 3
BATCH_SIZE = 128
MAX_LR = 3e-3
REFERENCE_SEED = 0  # picks the fixed subset of training images behind the floor
SHIPPED = {"mnist": Path(__file__).with_name("classifier-mnist.safetensors")}  # the classifiers in the package


class MNISTClassifier(nn.Module):
    """LeNet-style: two 5x5 conv + 2x2 max-pool + batch-norm + ReLU blocks, a 128-unit layer, 10 logits.

    Input: images (N, 1, 28, 28) scaled to [-1, 1]. `forward` gives logits (N, 10),
    `features` the 128 penultimate-layer activations (after ReLU), `features_and_logits` both at once.
    """

    def __init__(self, n_features: int = FEATURES, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        # Pooling before batch-norm and ReLU (ReLU commutes with max-pooling) does those on a quarter of
        # the values; with channels-last weights this trains twice as fast on a CPU as conv-BN-ReLU-pool.
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2, bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(16),
            nn.ReLU(),  # 16 x 14 x 14
            nn.Conv2d(16, 32, 5, bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(32),
            nn.ReLU(),  # 32 x 5 x 5
            nn.Flatten(),
            nn.Linear(32 * 5 * 5, n_features),
            nn.ReLU(),
        )
        self.head = nn.Linear(n_features, n_classes)
        self.metadata: dict[str, str] = {}  # what the cache file says: test accuracy, seed, version, ...
        self.to(memory_format=torch.channels_last)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return features, self.head(features)


# ----- the cache -----
def _check_dataset(dataset: str) -> None:
    from gankit.data.mnist import DATASETS

    if dataset not in DATASETS:
        raise bad_value("dataset", dataset, DATASETS)


def classifier_path(dataset: str = "mnist", cache_dir: str | Path | None = None) -> Path:
    """Where the classifier of `dataset` is read from: classifier-<dataset>.safetensors in `cache_dir`,
    else in $GANKIT_CLASSIFIER_DIR, else the one gankit ships (`SHIPPED`), else in
    ($XDG_CACHE_HOME or ~/.cache)/gankit."""
    _check_dataset(dataset)
    if cache_dir is not None:
        folder = Path(cache_dir).expanduser()
    elif os.environ.get(CLASSIFIER_DIR_ENV):
        folder = Path(os.environ[CLASSIFIER_DIR_ENV]).expanduser()
    elif dataset in SHIPPED:
        return SHIPPED[dataset]
    else:
        folder = user_cache_dir()
    return folder / f"classifier-{dataset}.safetensors"


def _read_cache(path: Path) -> MNISTClassifier | None:
    """The cached classifier, or None when the file was made by another format version (so: retrain)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            if metadata.get("format") == FORMAT and metadata.get("version") != FORMAT_VERSION:
                return None
            state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (safe_open has keys(), no __iter__)
    except (OSError, SafetensorError, ValueError, RuntimeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GankitError(
            f"classifier cache {str(path)!r} could not be read ({reason}); "
            "accepted: a file written by gankit (delete it to train the classifier again)"
        ) from None
    if metadata.get("format") != FORMAT:
        raise GankitError(
            f"{str(path)!r} is not a gankit classifier (metadata format={metadata.get('format')!r}); "
            f"accepted: a file written by gankit (delete it to train the classifier again)"
        )
    model = MNISTClassifier()
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise GankitError(
            f"classifier cache {str(path)!r} holds weights of another shape; "
            "accepted: a file written by this gankit (delete it to train the classifier again)"
        ) from None
    model.metadata = metadata
    return model


def _write_cache(path: Path, model: MNISTClassifier, metadata: dict[str, str]) -> None:
    from safetensors.torch import save

    state = {key: value.detach().contiguous() for key, value in model.state_dict().items()}
    try:
        atomic_write(path, save(state, metadata=metadata))
    except OSError as error:
        raise GankitError(
            f"classifier cache {str(path)!r} could not be written ({error.strerror or error}); "
            f"accepted: a writable folder with free space as cache_dir or ${CLASSIFIER_DIR_ENV}"
        ) from None


def _finish(model: MNISTClassifier) -> MNISTClassifier:
    model.eval()
    model.requires_grad_(False)  # gradients may still flow to the input images
    return model


# ----- training -----
def _accuracy(model: MNISTClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    _, probs = embed(model, images)
    return label_accuracy(probs, labels)


def train_classifier(
    dataset: str = "mnist",
    *,
    data_dir: str | Path | None = None,
    seed: int = SEED,
    epochs: int = EPOCHS,
    progress: bool = True,
    threads: int | None = None,
) -> MNISTClassifier:
    """Train a fresh classifier on the training split (Adam with a one-cycle schedule, batch 128, no augmentation).

    Deterministic for a given seed (on a given machine, torch build and thread count); torch's
    global RNG is saved and restored around it. It trains on `threads` threads, else on gankit's
    thread policy's count (`gankit.threads`: the cores other processes leave free).
    The result is in eval mode, frozen, with `metadata` holding its test accuracy.
    `load_classifier` trains through this and caches the result.
    """
    from gankit.data.mnist import load_mnist

    _check_dataset(dataset)
    images, labels = load_mnist("train", dataset=dataset, data_dir=data_dir)
    test_images, test_labels = load_mnist("test", dataset=dataset, data_dir=data_dir)
    steps_per_epoch = len(images) // BATCH_SIZE
    if steps_per_epoch == 0:
        raise GankitError(f"the {dataset} training split holds {len(images)} images; accepted: at least {BATCH_SIZE}")
    start, start_cpu = time.perf_counter(), time.process_time()
    with policy_threads(count=threads) as count, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MNISTClassifier()
        optimizer = torch.optim.Adam(model.parameters(), lr=MAX_LR)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=MAX_LR, total_steps=epochs * steps_per_epoch)
        order = torch.Generator().manual_seed(seed)
        model.train()
        with progress_bar(
            total=epochs * steps_per_epoch,
            desc=f"training the {dataset} classifier (once)",
            disable=not progress,
            leave=False,
        ) as bar:
            for _ in range(epochs):
                permutation = torch.randperm(len(images), generator=order)
                for step in range(steps_per_epoch):
                    index = permutation[step * BATCH_SIZE : (step + 1) * BATCH_SIZE]
                    loss = F.cross_entropy(model(images[index]), labels[index])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    bar.update()
                    if step % 50 == 0:
                        bar.set_postfix(loss=f"{loss.item():.3f}")
        _finish(model)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
        accuracy = _accuracy(model, test_images, test_labels)
    from importlib.metadata import version

    model.metadata = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "dataset": dataset,
        "seed": str(seed),
        "epochs": str(epochs),
        "test_accuracy": f"{accuracy:.4f}",
        "train_seconds": f"{seconds:.1f}",
        "train_cpu_seconds": f"{cpu_seconds:.1f}",
        "threads": str(count),
        "gankit_version": version("gankit"),
        "torch_version": torch.__version__,
    }
    return model


def load_classifier(
    *,
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    train_if_missing: bool = True,
    progress: bool = True,
) -> MNISTClassifier:
    """The classifier of `dataset` ("mnist" or "fashion_mnist"): the one gankit ships, or your own (see
    `classifier_path`), which is trained and cached first if missing.

    `data_dir` is only used to train. A cached file made by an older format version counts as missing.
    Returns the model on the CPU, in eval mode, with frozen weights and `metadata` (test_accuracy, seed,
    version, ...). Raises GankitError when the file is missing and `train_if_missing` is false, or is unreadable.
    """
    path = classifier_path(dataset, cache_dir)
    if path == SHIPPED.get(dataset):
        model = _read_cache(path) if path.is_file() else None
        if model is None:  # the package is incomplete or older than this code: never trained into it
            raise GankitError(
                f"gankit's {dataset} classifier {str(path)!r} is missing or of another format version; "
                f"accepted: gankit installed again, or cache_dir or ${CLASSIFIER_DIR_ENV} for a classifier of your own"
            )
        return _finish(model)
    if path.is_file():
        model = _read_cache(path)
        if model is not None:
            return _finish(model)
    if not train_if_missing:
        raise GankitError(
            f"no {dataset} classifier is cached at {str(path)!r} and train_if_missing=False; accepted: "
            f"train_if_missing=True (trains it in about a minute), or cache_dir or ${CLASSIFIER_DIR_ENV} naming a "
            "folder that holds one"
        )
    model = train_classifier(dataset, data_dir=data_dir, progress=progress)
    _write_cache(path, model, model.metadata)
    if progress:
        print(
            f"{dataset} classifier: test accuracy {float(model.metadata['test_accuracy']):.2%} after "
            f"{model.metadata['train_seconds']} s of training; cached at {str(path)!r}",
            file=sys.stderr,
        )
    return model


# ----- features and metrics -----
def _as_images(images) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        tensor = images.detach()
    else:
        try:
            tensor = torch.from_numpy(np.asarray(images, dtype=np.float32))
        except (TypeError, ValueError):
            raise bad_value(
                "images", type(images).__name__, "a float tensor or array of shape (N, 1, 28, 28)"
            ) from None
    n = tensor.shape[0] if tensor.dim() else 0
    if tuple(tensor.shape) in ((n, 28, 28), (n, 784)):
        tensor = tensor.reshape(n, 1, 28, 28)
    if tuple(tensor.shape) != (n, 1, 28, 28):
        raise bad_value("images.shape", tuple(tensor.shape), "(N, 1, 28, 28), (N, 28, 28) or (N, 784)")
    return tensor


def embed(classifier: MNISTClassifier, images, *, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features (N, F) and class probabilities (N, 10) of `images`, both float64.

    `images` in [-1, 1], a tensor or array of shape (N, 1, 28, 28) (also (N, 28, 28) or (N, 784)),
    on any device: batches go to the classifier's device. No gradients; eval mode.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise bad_value("batch_size", batch_size, "a positive integer")
    tensor = _as_images(images)
    parameter = next(classifier.parameters())
    was_training = classifier.training
    classifier.eval()
    features, probs = [], []
    try:
        with torch.no_grad():
            for start in range(0, len(tensor), batch_size):
                batch = tensor[start : start + batch_size].to(parameter.device, parameter.dtype)
                f, logits = classifier.features_and_logits(batch)
                features.append(f.to("cpu", torch.float64))
                probs.append(torch.softmax(logits.to("cpu", torch.float64), dim=1))
    finally:
        classifier.train(was_training)
    if not features:
        width = classifier.head.in_features
        return np.zeros((0, width)), np.zeros((0, classifier.head.out_features))
    return torch.cat(features).numpy(), torch.cat(probs).numpy()


def _as_matrix(name: str, array, min_rows: int = 1) -> np.ndarray:
    array = np.asarray(array.detach().cpu() if isinstance(array, torch.Tensor) else array, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < min_rows or array.shape[1] < 1:
        raise bad_value(f"{name}.shape", array.shape, f"a 2-D array (N, F) with N >= {min_rows}")
    return array


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and covariance (F, F) (unbiased, N - 1) of features (N, F), N >= 2."""
    features = _as_matrix("features", features, 2)
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues clipped)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _trace_sqrt_product(sqrt_a: np.ndarray, cov_b: np.ndarray) -> float:
    # Tr sqrtm(Sa Sb) = sum of sqrt(eigenvalues of Sa^1/2 Sb Sa^1/2): that matrix is symmetric PSD and
    # similar to Sa Sb, so eigh gives the eigenvalues without the complex round-off of a general sqrtm.
    middle = sqrt_a @ cov_b @ sqrt_a
    values = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def frechet_distance_from_statistics(mu_a, cov_a, mu_b, cov_b, *, sqrt_cov_a: np.ndarray | None = None) -> float:
    """||mu_a - mu_b||^2 + Tr(Sa + Sb - 2 (Sa Sb)^1/2), clipped at 0; NaN when any input is not finite.

    `sqrt_cov_a` (the symmetric square root of Sa) may be passed to skip computing it.
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.atleast_2d(np.asarray(cov_a, np.float64)), np.atleast_2d(np.asarray(cov_b, np.float64))
    if mu_a.shape != mu_b.shape or cov_a.shape != cov_b.shape or cov_a.shape != mu_a.shape * 2:
        raise GankitError(
            f"Frechet distance needs statistics of the same dimension, got means {mu_a.shape} and {mu_b.shape}, "
            f"covariances {cov_a.shape} and {cov_b.shape}; accepted: (F,) means and (F, F) covariances"
        )
    if not all(np.isfinite(x).all() for x in (mu_a, mu_b, cov_a, cov_b)):
        return math.nan
    sqrt_a = _psd_sqrt(cov_a) if sqrt_cov_a is None else sqrt_cov_a
    mean_term = float(np.sum((mu_a - mu_b) ** 2))
    distance = mean_term + float(np.trace(cov_a) + np.trace(cov_b)) - 2.0 * _trace_sqrt_product(sqrt_a, cov_b)
    return max(distance, 0.0)


def frechet_distance(features_a, features_b) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N_a, F) and (N_b, F), N >= 2.

    ||mu_a - mu_b||^2 + Tr(Sa + Sb - 2 (Sa Sb)^1/2), computed in float64 through symmetric
    eigendecompositions (no complex parts, exact for singular covariances), clipped at 0.
    Symmetric in its arguments. NaN when a feature is NaN or infinite.
    """
    a, b = _as_matrix("features_a", features_a, 2), _as_matrix("features_b", features_b, 2)
    if a.shape[1] != b.shape[1]:
        raise GankitError(
            f"Frechet distance needs features of the same width, got {a.shape[1]} and {b.shape[1]}; "
            "accepted: two arrays (N_a, F) and (N_b, F)"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.nan
    return frechet_distance_from_statistics(*feature_statistics(a), *feature_statistics(b))


def _as_probs(probs) -> np.ndarray:
    probs = _as_matrix("probs", probs)
    if np.isfinite(probs).all() and (probs < 0).any():
        raise GankitError(
            "probs has negative entries; accepted: class probabilities (N, C), e.g. the softmax from embed()"
        )
    return probs


def classifier_score(probs) -> float:
    """The Inception Score formula with this classifier: exp(mean over x of KL(p(y|x) || p(y))).

    `probs` (N, C) are class probabilities (rows summing to 1). 1 when every image gets the same
    prediction; C when each is a confident prediction and the classes are equally common.
    One split over all N images (the original averages 10 splits).
    """
    from scipy.special import rel_entr

    probs = _as_probs(probs)
    if not np.isfinite(probs).all():
        return math.nan
    marginal = probs.mean(axis=0, keepdims=True)
    divergence = rel_entr(probs, marginal).sum(axis=1)
    return float(np.exp(divergence.mean()))


def class_coverage(probs) -> np.ndarray:
    """Share of the images predicted (argmax) as each class: float64 (C,), summing to 1. NaNs for non-finite probs."""
    probs = _as_probs(probs)
    if not np.isfinite(probs).all():
        return np.full(probs.shape[1], math.nan)
    counts = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1])
    return counts / len(probs)


def label_accuracy(probs, labels) -> float:
    """Share of images whose predicted class (argmax of `probs`) is `labels`, the class they were generated for."""
    probs = _as_probs(probs)
    labels = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if labels.shape != (len(probs),):
        raise bad_value("labels.shape", labels.shape, f"({len(probs)},), one class index per image")
    if not np.isfinite(probs).all():
        return math.nan
    return float(np.mean(probs.argmax(axis=1) == labels))


# ----- the evaluator -----
# The reference statistics of the evaluators built in this process, by (dataset, n_reference, the classifier's
# weights), with the image tensors they were computed from: every run in one process (the lab's three, a
# notebook's) embeds the 20,000 reference images once.
_REFERENCES: dict[tuple[str, int, str], tuple[torch.Tensor, torch.Tensor, tuple]] = {}


def _weights_digest(model: nn.Module) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class ImageEvaluator:
    """Scores generated images of `dataset` against its test split, with the cached classifier.

    Built once (loads or trains the classifier, embeds the reference images); then
    `evaluate(images, labels=None)` returns {"fd", "fd_floor", "classifier_score", "coverage_min",
    "class_shares", and "label_accuracy" when labels are given}. The reference is `n_reference`
    test images (all 10,000 by default; a fixed seeded subset when fewer), and the floor `fd_floor`
    is the FD between `n_reference` training images (a fixed seeded subset) and that reference.
    FD depends on the sample size: compare generators at the same number of images, ideally `n_reference`.
    """

    @follows_policy
    def __init__(
        self,
        *,
        dataset: str = "mnist",
        data_dir: str | Path | None = None,
        cache_dir: str | Path | None = None,
        n_reference: int = 10_000,
        progress: bool = True,
    ) -> None:
        from gankit.data.mnist import load_mnist

        _check_dataset(dataset)
        self.dataset = dataset
        self.classifier = load_classifier(dataset=dataset, data_dir=data_dir, cache_dir=cache_dir, progress=progress)
        test_images, test_labels = load_mnist("test", dataset=dataset, data_dir=data_dir)
        train_images, _ = load_mnist("train", dataset=dataset, data_dir=data_dir)
        limit = min(len(test_images), len(train_images))
        if (
            isinstance(n_reference, bool)
            or not isinstance(n_reference, (int, np.integer))
            or not 2 <= n_reference <= limit
        ):
            raise bad_value("n_reference", n_reference, f"an integer from 2 to {limit}")
        self.n_reference = int(n_reference)
        key = (dataset, self.n_reference, _weights_digest(self.classifier))
        known = _REFERENCES.get(key)
        if known is not None and known[0] is test_images and known[1] is train_images:
            self.test_accuracy, self.mu, self.cov, self._sqrt_cov, self.floor = known[2]
            return
        rng = np.random.default_rng(REFERENCE_SEED)
        test_index = (
            np.arange(len(test_images))
            if n_reference == len(test_images)
            else np.sort(rng.choice(len(test_images), n_reference, replace=False))
        )
        train_index = np.sort(rng.choice(len(train_images), n_reference, replace=False))
        reference_features, reference_probs = embed(self.classifier, test_images[torch.from_numpy(test_index)])
        self.test_accuracy = label_accuracy(reference_probs, test_labels[torch.from_numpy(test_index)])
        self.mu, self.cov = feature_statistics(reference_features)
        self._sqrt_cov = _psd_sqrt(self.cov)
        train_features, _ = embed(self.classifier, train_images[torch.from_numpy(train_index)])
        self.floor = self.fd_to_reference(train_features)
        # load_mnist gives the same tensors while the files are unchanged: they vouch for the statistics
        _REFERENCES[key] = (
            test_images,
            train_images,
            (self.test_accuracy, self.mu, self.cov, self._sqrt_cov, self.floor),
        )

    def fd_to_reference(self, features) -> float:
        """Frechet distance between features (N, F), N >= 2, and the reference test features."""
        features = _as_matrix("features", features, 2)
        if not np.isfinite(features).all():
            return math.nan
        mu, cov = feature_statistics(features)
        return frechet_distance_from_statistics(self.mu, self.cov, mu, cov, sqrt_cov_a=self._sqrt_cov)

    @follows_policy
    def evaluate(self, images, labels=None) -> dict:
        """Metrics of generated `images` (N >= 2, in [-1, 1], (N, 1, 28, 28) tensor or array).

        `labels` (N,), the classes a conditional generator was asked for, adds "label_accuracy".
        Non-finite images (a diverged generator) give NaN metrics rather than an error.
        """
        tensor = _as_images(images)
        if len(tensor) < 2:
            raise bad_value("len(images)", len(tensor), "at least 2 images (FD needs a covariance)")
        if labels is not None:
            labels = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
            if labels.shape != (len(tensor),):
                raise bad_value("labels.shape", labels.shape, f"({len(tensor)},), one class index per image")
        features, probs = embed(self.classifier, tensor)
        shares = class_coverage(probs)
        result = {
            "fd": self.fd_to_reference(features),
            "fd_floor": self.floor,
            "classifier_score": classifier_score(probs),
            "coverage_min": float(shares.min()),
            "class_shares": [float(share) for share in shares],
        }
        if labels is not None:
            result["label_accuracy"] = label_accuracy(probs, labels)
        return result
