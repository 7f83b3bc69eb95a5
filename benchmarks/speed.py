"""gankit against the usual training loops, side by side in one process: time to the same quality.

    python -m benchmarks              # full run: 3 repeats per case (under 7 min on the quiet 2-core machine, 12.5 at load 2-3)
    python -m benchmarks --quick      # CI smoke: 1 repeat, short caps (about 3 min); timings reported, never asserted
    python -m benchmarks --calibrate --cases mnist_mlp   # retrain a common MNIST loop for 3 epochs: its FD target
    python -m benchmarks --cases circle --circle-config '{"lr_g": 0.004, "lr_d": 0.004}'   # measure proposed defaults

Prints one table (case, baseline seconds, gankit seconds, ratio, quality reached by each, images per
second) and writes everything, per repeat and with each check's history, as JSON (--json, default
benchmarks/results/benchmark.json). Ratios are medians over the repeats (seeds 0, 1, 2).

circle, circle_100
        The lab's loop (benchmarks.baselines.lab_circle: the lab's 100 points) against gankit's
        circle training as `gankit train --dataset circle` runs it (row circle: its default training
        set of 1,000 points) and on the lab's 100 points (row circle_100); the three race in one loop.
        Each is checked every 250 steps (one lab epoch is one step) for W1 <= 2x the real-vs-real
        floor against the true circle (1,000 points each, exact W1); the clock stops during the
        checks. Start-up (data, networks, DataLoader, Trainer) is inside the clock. The lab loop runs
        its 10,000 epochs at most; when it never gets there, its whole training time is a lower bound
        of its time to the target, and the ratio is printed as ">= x". The lab loop is raced on one
        thread, its fastest here; a line under the table gives its speed on torch's default thread
        count, as a student would run it.
mnist_mlp, dcgan
        The target is the FD (gankit's classifier features, 10,000 samples) of the common loop after 3
        epochs. Training a common loop for 3 epochs takes longer than this whole benchmark may (the
        common DCGAN: 10 to 40 minutes on 2 cores), so its G after 3 epochs comes from `--calibrate`
        (kept in ~/.cache/gankit/bench and re-scored with the current classifier each run;
        benchmarks/calibration.json holds the FDs for machines without the cache), and its time to the
        target is 3 epochs x its seconds per step, measured in this run in short chunks that alternate
        with gankit's training chunks. gankit trains its preset (mnist-gan, mnist-dcgan) until its
        FD is at or below the target, checked every `check_every` steps with the clock stopped.
memory  Peak resident memory (ru_maxrss) of `gankit.train` of each MNIST preset (training, then the
        evaluation of 10,000 samples) and of the common MLP loop, each in a process of its own.

Fairness: the contenders of a case train in the same process in alternating chunks, so that both see
the same machine load; the table states the load average at start and end. Both use the same thread
count in the MNIST cases (--threads, default: gankit's, all cores; on a machine crowded by other jobs
1 thread is often fastest for both). The baselines read already-normalised tensors through their
DataLoader (no per-image transforms), which favours them.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks import baselines

CHECK_EVERY_TOY = 250
BASELINE_EPOCHS_MNIST = 3
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
DEFAULT_JSON = Path("benchmarks/results/benchmark.json")  # git-ignored


# ----- racing contenders in one process -----
@dataclass
class Contender:
    """A training as a generator: setup, then train, yielding a handle to evaluate after each chunk."""

    name: str
    start: Callable[[], Iterator[Any]]
    quality: Callable[[Any], float]  # lower is better; evaluation time is not on the clock
    steps_per_chunk: int
    threads: int
    target: float | None = None  # stop once quality <= target (None: run until exhausted or budget)
    max_steps: int | None = None
    max_seconds: float | None = None  # stop once this contender's own clock passes it
    # results
    seconds: float = 0.0
    steps: int = 0
    reached: float | None = None  # seconds when the target was first met
    reached_step: int | None = None
    history: list[tuple[int, float, float]] = field(default_factory=list)  # (step, seconds, quality)
    done: bool = False
    _iterator: Iterator[Any] | None = None

    def next_chunk(self) -> Any | None:
        """Train one chunk on this contender's threads, on its clock; its handle, or None (and done) once exhausted."""
        torch.set_num_threads(self.threads)
        started = time.perf_counter()
        if self._iterator is None:
            self._iterator = self.start()
        handle = next(self._iterator, None)
        self.seconds += time.perf_counter() - started
        if handle is None:
            self.done = True
        else:
            self.steps += self.steps_per_chunk
        return handle


def pay_one_time_costs() -> None:
    """A process's first torch optimizer imports torch._dynamo (1.5-2 s here): paid before any clock starts,
    not by whichever training happens to run first."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def race(contenders: list[Contender], *, budget: float | None = None, evaluate: bool = True) -> None:
    """Advance the contenders one chunk each in turn until each is done (target met, steps exhausted or
    its clock past `budget` seconds). Only the chunks are timed."""
    pay_one_time_costs()
    while not all(c.done for c in contenders):
        for c in contenders:
            if c.done:
                continue
            handle = c.next_chunk()
            if handle is None:
                continue
            if evaluate:
                value = c.quality(handle)
                c.history.append((c.steps, round(c.seconds, 3), value))
                if c.target is not None and c.reached is None and value <= c.target:
                    c.reached, c.reached_step = c.seconds, c.steps
                    c.done = True
            limits = (c.max_seconds, budget)
            if (c.max_steps is not None and c.steps >= c.max_steps) or any(
                limit is not None and c.seconds >= limit for limit in limits
            ):
                c.done = True


# ----- gankit as a contender -----
def gankit_chunks(config, check_every: int, *, dataset=None) -> Iterator[Any]:
    """gankit's training as `gankit.train` runs it (its training loop: one host sync per `log_every` steps
    with the finiteness check), yielding the trainer every `check_every` steps."""
    from gankit.data import load_dataset
    from gankit.loop import Member, TrainingLoop
    from gankit.trainer import Trainer

    trainer = Trainer(config, dataset if dataset is not None else load_dataset(config))
    loop = TrainingLoop(trainer, [Member()], progress=False)  # no run folder, no evaluations: the race scores it
    while not loop.finished:
        loop.run(until=trainer.step + check_every)
        yield trainer


# ----- circle -----
def circle_case(
    repeats: int,
    *,
    lab_epochs: int,
    gankit_steps: int,
    gankit_threads: int,
    baseline_threads: int,
    log,
    overrides: dict | None = None,
) -> list[dict]:
    from gankit.config import TrainConfig
    from gankit.data import make_circle
    from gankit.evaluation import EVAL_SEED
    from gankit.metrics.toy import ToyEvaluator, wasserstein1

    evaluator = ToyEvaluator("circle", lambda n, seed: make_circle(n, random_state=seed))
    target = 2.0

    def lab_quality(G) -> float:
        with torch.no_grad():
            points = G(torch.randn(evaluator.size, 10, generator=torch.Generator().manual_seed(EVAL_SEED))).numpy()
        return wasserstein1(points.astype(np.float32), evaluator.reference) / evaluator.floor

    def gankit_quality(trainer) -> float:
        points = trainer.dataset.to_data_space(trainer.generate(evaluator.size, seed=EVAL_SEED)).numpy()
        return wasserstein1(points, evaluator.reference) / evaluator.floor

    # gankit as `gankit train --dataset circle` runs it (its default training set: 1,000 points), and on the
    # lab's own 100 points; all three race in one loop, chunk by chunk.
    variants = {"circle": {}, "circle_100": {"n_samples": 100}}
    rows: dict[str, list[dict]] = {name: [] for name in variants}
    keys = ("n_samples", "batch_size", "lr_g", "lr_d", "beta1", "ema", "loss", "precision")
    for seed in range(repeats):
        lab = Contender(
            "lab loop",
            lambda seed=seed: baselines.lab_circle(seed, epochs=lab_epochs, check_every=CHECK_EVERY_TOY),
            lab_quality,
            CHECK_EVERY_TOY,
            baseline_threads,
            target=target,
        )
        configs = {
            name: TrainConfig(
                **{**(overrides or {}), **extra, "dataset": "circle", "seed": seed, "steps": gankit_steps}
            )
            for name, extra in variants.items()
        }
        ours = {
            name: Contender(
                name,
                lambda config=config: gankit_chunks(config, CHECK_EVERY_TOY),
                gankit_quality,
                CHECK_EVERY_TOY,
                gankit_threads,
                target=target,
                max_steps=config.steps,
            )
            for name, config in configs.items()
        }
        race([lab, *ours.values()])
        for name, contender in ours.items():
            row = _race_row(name, seed, lab, contender, unit="W1/floor")
            row["gankit_config"] = {k: v for k, v in configs[name].to_dict().items() if k in keys}
            rows[name].append(row)
            log(row)
    threads_note = lab_threads_note(baseline_threads, epochs=10 if lab_epochs < 10_000 else 30, log=log)
    summaries = []
    for name, extra in variants.items():
        what = "gankit's defaults (1,000 training points)" if not extra else "gankit on the lab's 100 points"
        text = f"W1 <= 2x floor; {what}" + (f", with {json.dumps(overrides)}" if overrides else "")
        summary = _summarise(name, rows[name], target_text=text)
        summary["gankit_config"] = rows[name][0]["gankit_config"] if rows[name] else None
        summary["lab_threads"] = threads_note
        summaries.append(summary)
    return summaries


def lab_threads_note(threads: int, *, epochs: int, log, repeats: int = 3) -> dict:
    """The lab loop's seconds per epoch on `threads` threads (as raced) and on torch's default thread count (as a
    student runs it), interleaved: the races above give the lab loop whichever is set, this says what the other costs."""
    default = _DEFAULT_THREADS
    timings: dict[int, list[float]] = {threads: [], default: []}
    for _ in range(repeats):
        for count in timings:
            torch.set_num_threads(count)
            started = time.perf_counter()
            next(baselines.lab_circle(0, epochs=epochs, check_every=epochs))
            timings[count].append((time.perf_counter() - started) / epochs)
    note = {
        f"ms_per_epoch_{count}_threads": round(1000 * statistics.median(values), 2) for count, values in timings.items()
    }
    note["raced_threads"], note["torch_default_threads"] = threads, default
    log({"case": "lab loop threads", **note})
    return note


_DEFAULT_THREADS = torch.get_num_threads()  # torch's own choice at import, before anything here changes it


def _race_row(case: str, seed: int, base: Contender, ours: Contender, *, unit: str) -> dict:
    base_time = base.reached if base.reached is not None else base.seconds
    ratio = base_time / ours.reached if ours.reached else None
    return {
        "case": case,
        "seed": seed,
        "unit": unit,
        "baseline_seconds": round(base_time, 2),
        "baseline_reached": base.reached is not None,
        "baseline_steps": base.reached_step or base.steps,
        "baseline_best": round(min(h[2] for h in base.history), 3) if base.history else None,
        "gankit_seconds": round(ours.reached, 2) if ours.reached else None,
        "gankit_reached": ours.reached is not None,
        "gankit_steps": ours.reached_step or ours.steps,
        "gankit_trained_seconds": round(ours.seconds, 2),
        "gankit_quality": round(ours.history[-1][2], 3) if ours.history else None,
        "baseline_quality": round(base.history[-1][2], 3) if base.history else None,
        "ratio": round(ratio, 2) if ratio else None,
        "ratio_is_lower_bound": ratio is not None and base.reached is None,
        "baseline_history": base.history,
        "gankit_history": ours.history,
    }


# ----- MNIST cases -----
def _calibration() -> dict:
    return json.loads(CALIBRATION_FILE.read_text()) if CALIBRATION_FILE.exists() else {}


def _reference_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return root / "gankit" / "bench"


BASELINES = {
    # case: (the baseline's generator function, its G class, conv latent, gankit preset)
    "mnist_mlp": (baselines.common_mlp_gan, baselines.MLPGenerator, False, "mnist-gan"),
    "dcgan": (baselines.common_dcgan, baselines.DCGANGenerator, True, "mnist-dcgan"),
}


def _baseline_fd(case: str, evaluator, images: torch.Tensor, *, log, calibrate: bool) -> dict:
    """The baseline's FD after 3 epochs: its kept G re-scored with the current classifier, or a fresh 3-epoch run."""
    from safetensors.torch import load_file, save_file

    loop, G_class, conv, _ = BASELINES[case]
    weights = _reference_dir() / f"{case}-G-3epochs.safetensors"
    stored = _calibration().get(case)
    if not calibrate and weights.is_file() and stored:
        G = G_class()
        G.load_state_dict(load_file(str(weights)))
        fd = evaluator.evaluate(baselines.sample_images(G, 10_000, conv=conv))["fd"]
        return {**stored, "fd_after_3_epochs": fd, "fd_source": f"G after 3 epochs kept in {weights}, re-scored now"}
    if not calibrate and stored:
        current = dict(evaluator.classifier.metadata)
        same = all(stored.get("classifier", {}).get(k) == current.get(k) for k in ("version", "test_accuracy", "seed"))
        note = (
            ""
            if same
            else f"; made with another classifier ({stored.get('classifier')}), so only roughly comparable: run --calibrate"
        )
        return {**stored, "fd_source": f"{CALIBRATION_FILE.name} (no kept G to re-score){note}"}
    if not calibrate:
        return {}
    log({"calibrating": case, "epochs": BASELINE_EPOCHS_MNIST})
    started = time.perf_counter()
    *_, G = loop(images, 0, epochs=BASELINE_EPOCHS_MNIST, check_every=10**9)  # the G after the last epoch
    seconds = time.perf_counter() - started
    steps = BASELINE_EPOCHS_MNIST * math.ceil(len(images) / 64)
    fd = evaluator.evaluate(baselines.sample_images(G, 10_000, conv=conv))["fd"]
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in G.state_dict().items()}, str(weights))
    entry = {
        "fd_after_3_epochs": fd,
        "steps": steps,
        "seconds": round(seconds, 1),
        "seed": 0,
        "threads": torch.get_num_threads(),
        "classifier": dict(evaluator.classifier.metadata),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    calibration = _calibration()
    calibration[case] = entry
    CALIBRATION_FILE.write_text(json.dumps(calibration, indent=2) + "\n")
    return {**entry, "fd_source": "calibrated in this run"}


def image_case(
    case: str,
    repeats: int,
    *,
    data_dir: str | None,
    threads: int,
    baseline_steps: int,
    baseline_chunk: int,
    check_every: int,
    budget: float,
    calibrate: bool,
    log,
) -> dict | None:
    from gankit.config import preset
    from gankit.data import load_dataset
    from gankit.data.mnist import load_mnist
    from gankit.evaluation import evaluate_members

    images, _ = load_mnist("train", data_dir=data_dir)  # decoded once, outside both clocks
    evaluator = image_evaluator(data_dir)
    loop, _, _, preset_name = BASELINES[case]
    torch.set_num_threads(threads)
    reference = _baseline_fd(case, evaluator, images, log=log, calibrate=calibrate)
    if not reference:
        log(
            {
                "case": case,
                "skipped": f"no FD target: run `python -m benchmarks --calibrate --cases {case}` once (trains the common loop for 3 epochs)",
            }
        )
        return None
    target = reference["fd_after_3_epochs"]
    epoch_steps = math.ceil(len(images) / 64)
    rows = []
    for seed in range(repeats):
        config = preset(preset_name, data_dir=data_dir, seed=seed, steps=10**6, threads=threads)
        dataset = load_dataset(config)
        chunk = baseline_chunk
        base = Contender(
            "baseline",
            lambda seed=seed, chunk=chunk: loop(images, seed, epochs=BASELINE_EPOCHS_MNIST, check_every=chunk),
            lambda G: math.nan,
            chunk,
            threads,
            max_steps=baseline_steps,
        )
        ours = Contender(
            "gankit",
            lambda config=config, dataset=dataset: gankit_chunks(config, check_every, dataset=dataset),
            lambda trainer: evaluate_members(trainer, [evaluator])[0]["fd"],
            check_every,
            threads,
            target=target,
        )
        _race_images(base, ours, budget)
        per_step = base.seconds / base.steps
        base_time = per_step * BASELINE_EPOCHS_MNIST * epoch_steps
        ratio = base_time / ours.reached if ours.reached else None
        row = {
            "case": case,
            "seed": seed,
            "unit": "FD",
            "target_fd": round(target, 2),
            "baseline_seconds": round(base_time, 1),
            "baseline_reached": True,
            "baseline_steps": BASELINE_EPOCHS_MNIST * epoch_steps,
            "baseline_measured_steps": base.steps,
            "baseline_seconds_per_step": round(per_step, 4),
            "baseline_img_per_s": round(64 / per_step, 1),
            "baseline_quality": round(target, 2),
            "gankit_seconds": round(ours.reached, 1) if ours.reached else None,
            "gankit_reached": ours.reached is not None,
            "gankit_steps": ours.reached_step or ours.steps,
            "gankit_trained_seconds": round(ours.seconds, 1),
            "gankit_img_per_s": round(config.batch_size * config.d_steps * ours.steps / ours.seconds, 1),
            "gankit_quality": round(min(h[2] for h in ours.history), 2) if ours.history else None,
            "ratio": round(ratio, 2) if ratio else None,
            "ratio_is_lower_bound": False,
            "img_per_s_ratio": round(config.batch_size * config.d_steps * ours.steps / ours.seconds * per_step / 64, 2),
            "gankit_history": ours.history,
            "gankit_precision": str(_precision_of(config)),
        }
        if ratio is None:  # not reached within the budget: the ratio is at most this
            row["ratio"] = round(base_time / ours.seconds, 2)
            row["ratio_is_upper_bound"] = True
        rows.append(row)
        log(row)
    summary = _summarise(case, rows, target_text=f"FD <= {target:.1f} (the common loop after 3 epochs)")
    summary["reference"] = {k: v for k, v in reference.items() if k != "classifier"}
    return summary


@functools.lru_cache(maxsize=2)
def image_evaluator(data_dir: str | None):
    """One ImageEvaluator for all image cases (building it embeds 20,000 reference images)."""
    from gankit.metrics.classifier import ImageEvaluator

    return ImageEvaluator(data_dir=data_dir, progress=False)


def _precision_of(config) -> Any:
    from gankit.trainer import resolve_precision

    return resolve_precision(config, torch.device("cpu")) or torch.float32


def _race_images(base: Contender, ours: Contender, budget: float) -> None:
    """gankit's chunks (each followed by its FD check, off the clock) alternate with short baseline chunks for
    as long as gankit trains, so that the baseline's seconds per step are sampled under the same load; the
    baseline runs at least `base.max_steps` steps."""
    while not (ours.done and base.done):
        for c in (ours, base):
            if c.done:
                continue
            handle = c.next_chunk()
            if handle is None:  # the baseline's 3 epochs are over
                continue
            if c is ours:
                value = c.quality(handle)
                c.history.append((c.steps, round(c.seconds, 2), value))
                if value <= c.target:
                    c.reached, c.reached_step, c.done = c.seconds, c.steps, True
                elif c.seconds >= budget:
                    c.done = True
            elif ours.done and c.steps >= c.max_steps:
                c.done = True


# ----- memory -----
def memory_case(
    *, data_dir: str | None, steps: int, threads: int, presets: tuple[str, ...], baseline: bool, log
) -> dict:
    """Peak RSS of `gankit train --preset mnist-gan` and `--preset mnist-dcgan` (training, then the evaluation of
    10,000 samples; no figures) and of the common MLP loop's training, each in a process of its own."""
    import tempfile

    peaks = {}
    with tempfile.TemporaryDirectory() as folder:
        for preset_name in presets:
            command = [
                sys.executable,
                "-m",
                "benchmarks.speed",
                "--train-one",
                preset_name,
                str(steps),
                str(threads),
                str(Path(folder) / preset_name),
                data_dir or "",
            ]
            peaks[f"gankit {preset_name}"] = _peak_rss_mb(command)
        command = [
            sys.executable,
            "-m",
            "benchmarks.baselines",
            "mnist_mlp",
            "--steps",
            str(steps),
            "--threads",
            str(threads),
        ]
        peaks["common MLP loop"] = (
            _peak_rss_mb(command + (["--data-dir", data_dir] if data_dir else [])) if baseline else None
        )
    gankit_peak = max((v for k, v in peaks.items() if k.startswith("gankit") and v is not None), default=None)
    row = {
        "case": "memory",
        "peak_rss_mb": peaks,
        "gankit_peak_rss_mb": gankit_peak,
        "baseline_peak_rss_mb": peaks["common MLP loop"],
        "steps": steps,
        "target_mb": 1024,
        "met": gankit_peak is not None and gankit_peak <= 1024,
    }
    log(row)
    return row


def _train_one(preset_name: str, steps: str, threads: str, out: str, data_dir: str) -> None:
    """One `gankit.train` of a preset for `steps` steps, evaluated once at the end (the memory case's child process)."""
    import gankit

    config = gankit.preset(
        preset_name, steps=int(steps), eval_every=int(steps), threads=int(threads), data_dir=data_dir or None
    )
    gankit.train(config, out, force=True, progress=False, figures=False)


def _peak_rss_mb(command: list[str]) -> float | None:
    """ru_maxrss of one child process, measured through a wrapper so that earlier children do not count."""
    wrapper = (
        "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return None
    return round(int(done.stdout.strip().splitlines()[-1]) / 1024, 1)  # KiB on Linux


# ----- summary and table -----
def _summarise(case: str, rows: list[dict], *, target_text: str) -> dict:
    def median(key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return round(statistics.median(values), 2) if values else None

    return {
        "case": case,
        "target": target_text,
        "repeats": len(rows),
        "baseline_seconds": median("baseline_seconds"),
        "gankit_seconds": median("gankit_seconds"),
        "ratio": median("ratio"),
        "ratio_is_lower_bound": any(r.get("ratio_is_lower_bound") for r in rows),
        "ratio_is_upper_bound": any(r.get("ratio_is_upper_bound") for r in rows),
        "baseline_reached": f"{sum(bool(r['baseline_reached']) for r in rows)}/{len(rows)}",
        "gankit_reached": f"{sum(bool(r['gankit_reached']) for r in rows)}/{len(rows)}",
        "baseline_quality": median("baseline_quality"),
        "gankit_quality": median("gankit_quality"),
        "ratios": [r.get("ratio") for r in rows],
        "baseline_img_per_s": median("baseline_img_per_s"),
        "gankit_img_per_s": median("gankit_img_per_s"),
        "rows": rows,
    }


def format_table(summaries: list[dict], memory: dict | None) -> str:
    lines = [
        f"{'case':<10} {'baseline s':>11} {'gankit s':>9} {'ratio':>8}  {'reached b/g':>11}  {'quality baseline -> gankit':<30} "
        f"{'img/s b / g':>14}  target"
    ]
    for s in summaries:
        mark = ">=" if s["ratio_is_lower_bound"] else ("<=" if s["ratio_is_upper_bound"] else "")
        ratio = f"{mark}{s['ratio']:.1f}x" if s["ratio"] is not None else "-"
        quality = f"{_num(s['baseline_quality'])} -> {_num(s['gankit_quality'])} ({s['rows'][0]['unit']})"
        ips = f"{_num(s['baseline_img_per_s'])} / {_num(s['gankit_img_per_s'])}" if s["gankit_img_per_s"] else ""
        lines.append(
            f"{s['case']:<10} {_num(s['baseline_seconds']):>11} {_num(s['gankit_seconds']):>9} {ratio:>8}  "
            f"{s['baseline_reached'] + ' / ' + s['gankit_reached']:>11}  {quality:<30} {ips:>14}  {s['target']}"
        )
    notes = [s["lab_threads"] for s in summaries if s.get("lab_threads")]
    if notes:
        note = notes[0]
        raced, default = note["raced_threads"], note["torch_default_threads"]
        if raced != default:
            a, b = note[f"ms_per_epoch_{raced}_threads"], note[f"ms_per_epoch_{default}_threads"]
            lines.append(
                f"{'':<10} lab loop raced on {raced} thread(s): {a:.2f} ms/epoch; on torch's default {default}: {b:.2f} ms/epoch "
                f"(circle ratios would be {b / a:.2f}x those above)"
            )
    if memory:
        lines.append(
            f"{'memory':<10} {_num(memory['baseline_peak_rss_mb']):>11} {_num(memory['gankit_peak_rss_mb']):>9} {'':>8}  "
            f"{'':>11}  {'peak RSS, MB':<30} {'':>14}  gankit <= 1024 MB: {'met' if memory['met'] else 'NOT met'}"
        )
    return "\n".join(lines)


def _num(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def machine() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average_1_5_15": load,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke: one repeat, short caps (under 3 minutes)")
    parser.add_argument(
        "--calibrate", action="store_true", help="train the common MNIST loops for 3 epochs and store their FD targets"
    )
    parser.add_argument(
        "--cases",
        default="circle,mnist_mlp,dcgan,memory",
        help="comma-separated subset of circle, mnist_mlp, dcgan, memory",
    )
    parser.add_argument("--repeats", type=int, help="repeats per case (default 3, quick 1)")
    parser.add_argument(
        "--threads",
        type=int,
        help="threads of both contenders in the MNIST cases (default: gankit's choice, all cores)",
    )
    parser.add_argument(
        "--circle-config",
        type=json.loads,
        help="JSON of TrainConfig fields that gankit's circle training uses instead "
        'of the defaults, to measure proposed defaults, e.g. \'{"lr_g": 0.004, "lr_d": 0.004}\'',
    )
    parser.add_argument(
        "--data-dir", default=os.environ.get("GANKIT_DATA_DIR") or _default_data_dir(), help="folder of the MNIST files"
    )
    parser.add_argument(
        "--json", default=str(DEFAULT_JSON), help=f"where to write the results (default {DEFAULT_JSON})"
    )
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    repeats = args.repeats or (1 if args.quick else 3)
    image_threads = args.threads or (os.cpu_count() or 1)

    def log(record: dict) -> None:
        print(json.dumps({k: v for k, v in record.items() if not k.endswith("history")}), file=sys.stderr, flush=True)

    started = time.perf_counter()
    report: dict[str, Any] = {"mode": "quick" if args.quick else "full", "machine_at_start": machine(), "cases": []}
    summaries = []
    memory = None
    quick = args.quick
    if "circle" in cases:
        # gankit trains toy models on one thread; the lab loop gets one thread too, its fastest on a busy 2-core machine.
        summaries.extend(
            circle_case(
                repeats,
                lab_epochs=500 if quick else 10_000,
                gankit_steps=1_000 if quick else 10_000,
                gankit_threads=1,
                baseline_threads=args.threads or 1,
                log=log,
                overrides=args.circle_config,
            )
        )
    settings = {  # baseline steps measured at least, baseline chunk, gankit's check interval, gankit's training budget (s)
        "mnist_mlp": (20, 10, 100, 15) if quick else (200, 10, 100, 300),
        "dcgan": (4, 2, 100, 15) if quick else (40, 2, 250, 480),
    }
    for case in ("mnist_mlp", "dcgan"):
        if case in cases:
            baseline_steps, baseline_chunk, check_every, budget = settings[case]
            summary = image_case(
                case,
                repeats,
                data_dir=args.data_dir,
                threads=image_threads,
                calibrate=args.calibrate,
                log=log,
                baseline_steps=baseline_steps,
                baseline_chunk=baseline_chunk,
                check_every=check_every,
                budget=budget,
            )
            if summary is not None:
                summaries.append(summary)
    if "memory" in cases:
        memory = memory_case(
            data_dir=args.data_dir,
            steps=20 if quick else 300,
            threads=image_threads,
            presets=("mnist-gan",) if quick else ("mnist-gan", "mnist-dcgan"),
            baseline=not quick,
            log=log,
        )
    report["cases"] = summaries
    report["memory"] = memory
    report["machine_at_end"] = machine()
    report["seconds"] = round(time.perf_counter() - started, 1)
    table = format_table(summaries, memory)
    report["table"] = table
    print(table)
    print(
        f"\n{report['mode']} run, {report['seconds']:.0f} s; load average at start {report['machine_at_start']['load_average_1_5_15']}, "
        f"at end {report['machine_at_end']['load_average_1_5_15']} on {os.cpu_count()} cores"
    )
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"results: {path}")
    return 0


def _default_data_dir() -> str | None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    return str(shared) if shared.is_dir() else None


if __name__ == "__main__":
    if sys.argv[1:2] == ["--train-one"]:  # the memory case's child: --train-one PRESET STEPS THREADS OUT DATA_DIR
        _train_one(*sys.argv[2:7])
    else:
        sys.exit(main())
