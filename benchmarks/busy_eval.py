"""Evaluation and the lab on a busy machine: each alone, and beside two other gankit trainings.

    python -m benchmarks.busy_eval [--quick] [--repeats 3] [--cases evaluation,own_classifier,lab] [--data-dir DIR]
    python -m benchmarks.busy_eval --cases own_classifier_pinned --repeats 1   # the baseline: gankit before

Each case is one command in a process of its own, timed from start to exit:

evaluation      gankit's FD evaluation as a run does it: the shipped classifier loaded, the reference
                statistics of 10,000 test and 10,000 training images, then 10,000 images scored
                (`--quick`: 2,000 of each).
own_classifier  a classifier of the user's own trained (`train_classifier`, one epoch) on gankit's thread
                policy; own_classifier_pinned: the same pinned at every usable core (what gankit did before
                the policy, the baseline; slow on a busy machine, so not run unless asked for).
lab             `gankit lab --quick --quiet`, the whole lab.

"Loaded" runs the command while two `gankit train --preset mnist-cgan` processes train beside it (started
first, stopped after), each in a session of its own as another user's job is: Linux shares the CPU between
sessions (autogroups) first, so three processes of one login session share its part of the machine
(`--same-session` puts them all in the benchmark's session, as one user running three jobs from one
terminal). The two conditions alternate within each repeat (alone first in even repeats, loaded
first in odd ones), so that both see the same background from whatever else the machine runs; that
background is measured too: the cores' worth of CPU that other processes (the two trainings included)
used while the command ran, from /proc/stat less the command's own CPU time. Printed: every time, the
medians, loaded / alone (the target: at most 3x) and the load. `--quick` (CI, about half a minute):
the evaluation case on 2,000 images, one repeat.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.speed import _default_data_dir
from gankit.threads import usable_cores

CASES = ("evaluation", "own_classifier", "own_classifier_pinned", "lab")
TARGET = 3.0  # loaded at most this many times the time alone
WARMUP_SECONDS = 4.0  # the background trainings load MNIST and start training first

EVALUATION = """
import sys
from gankit.data.mnist import load_mnist
from gankit.metrics.classifier import ImageEvaluator
n = int(sys.argv[2])
evaluator = ImageEvaluator(data_dir=sys.argv[1], n_reference=n, progress=False)
images, labels = load_mnist("train", data_dir=sys.argv[1])
evaluator.evaluate(images[-n:], labels[-n:])
"""
OWN_CLASSIFIER = """
import sys
from gankit.metrics.classifier import train_classifier
threads = int(sys.argv[2]) or None
train_classifier(data_dir=sys.argv[1], epochs=1, progress=False, threads=threads)
"""


def commands(case: str, data_dir: str, folder: Path, *, images: int) -> dict[str, list[str]]:
    """The variants of a case: {name: command}."""
    if case == "evaluation":
        return {f"evaluation ({images:,} images)": [sys.executable, "-c", EVALUATION, data_dir, str(images)]}
    if case == "own_classifier":
        return {"own classifier, gankit's threads": [sys.executable, "-c", OWN_CLASSIFIER, data_dir, "0"]}
    if case == "own_classifier_pinned":
        cores = str(usable_cores())
        return {f"own classifier, pinned at {cores}": [sys.executable, "-c", OWN_CLASSIFIER, data_dir, cores]}
    if case == "lab":
        lab = ["-m", "gankit.cli", "lab", "--quick", "--quiet", "--force", "--data-dir", data_dir]
        return {"gankit lab --quick": [sys.executable, *lab, "--out", str(folder / "lab")]}
    raise SystemExit(f"unknown case {case!r}; accepted: {', '.join(CASES)}")


def _busy_seconds() -> float:
    """CPU seconds (all cores) the machine has been busy, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def timed(command: list[str]) -> dict[str, float]:
    """Run `command`; its wall seconds, and the cores' worth of CPU other processes used meanwhile."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy, load, started = _busy_seconds(), os.getloadavg()[0], time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{command[:4]} failed: {done.stderr.strip().splitlines()[-1:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    others = max(0.0, _busy_seconds() - busy - own) / seconds
    for line in done.stderr.splitlines():  # the lab's account of what each part cost
        if line.startswith("gankit lab:"):
            print(f"    {line}")
    return {"seconds": seconds, "others": others, "load_1min": load}


class Background:
    """Two gankit trainings of the conditional MNIST GAN, running until stopped."""

    def __init__(self, data_dir: str, folder: Path, *, same_session: bool, count: int = 2):
        flags = ["--preset", "mnist-cgan", "--steps", "100000000", "--max-seconds", "7200", "--quiet", "--force"]
        flags += ["--eval-every", "100000000", "--checkpoint-every", "100000000", "--data-dir", data_dir]
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "gankit.cli", "train", *flags, "--out", str(folder / f"background-{i}")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=not same_session,
            )
            for i in range(count)
        ]
        time.sleep(WARMUP_SECONDS)

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()


def measure(command: list[str], *, loaded: bool, same_session: bool, data_dir: str, folder: Path) -> dict[str, float]:
    background = Background(data_dir, folder, same_session=same_session) if loaded else None
    try:
        return timed(command)
    finally:
        if background is not None:
            background.stop()


def machine() -> str:
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    isa = [name for name in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if name in flags]
    return f"{platform.processor() or platform.machine()}, {usable_cores()} usable cores, {', '.join(isa) or 'no AVX'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.busy_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke: the evaluation case, one repeat")
    parser.add_argument("--repeats", type=int, help="repeats of each condition (default 3, quick 1)")
    parser.add_argument(
        "--cases", help="comma-separated: evaluation, own_classifier, lab (default all; quick: evaluation)"
    )
    parser.add_argument(
        "--data-dir", default=os.environ.get("GANKIT_DATA_DIR") or _default_data_dir(), help="folder of the MNIST files"
    )
    parser.add_argument(
        "--same-session",
        action="store_true",
        help="the two trainings in the benchmark's own process session (default: sessions of their own)",
    )
    args = parser.parse_args(argv)
    if not args.data_dir:
        raise SystemExit("--data-dir (or $GANKIT_DATA_DIR): the folder of the MNIST files")
    repeats = args.repeats or (1 if args.quick else 3)
    cases = (args.cases or ("evaluation" if args.quick else "evaluation,own_classifier,lab")).split(",")
    session = "the benchmark's own session" if args.same_session else "sessions of their own"
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}; {machine()}; load average at start {os.getloadavg()}")
    print(f"loaded: two gankit trainings (mnist-cgan) in {session}")
    rows = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for case in cases:
            images = 2000 if args.quick else 10_000
            for variant, command in commands(case, args.data_dir, folder, images=images).items():
                results: dict[str, list[dict[str, float]]] = {"alone": [], "loaded": []}
                for repeat in range(repeats):
                    order = ("alone", "loaded") if repeat % 2 == 0 else ("loaded", "alone")
                    for condition in order:
                        loaded = condition == "loaded"
                        result = measure(
                            command,
                            loaded=loaded,
                            same_session=args.same_session,
                            data_dir=args.data_dir,
                            folder=folder,
                        )
                        results[condition].append(result)
                        print(json.dumps({"case": variant, "condition": condition, **result}), flush=True)
                rows.append((variant, results))
    print(f"\nload average at end {os.getloadavg()}")
    print(
        "| case | alone: s (median, runs) | others' load alone | beside 2 trainings: s | others' load | loaded/alone |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for variant, results in rows:
        medians = {c: statistics.median(r["seconds"] for r in results[c]) for c in results}
        cells = []
        for condition in ("alone", "loaded"):
            runs = ", ".join(f"{r['seconds']:.1f}" for r in results[condition])
            load = statistics.median(r["others"] for r in results[condition])
            cells += [f"{medians[condition]:.1f} ({runs})", f"{load:.2f}"]
        ratio = medians["loaded"] / medians["alone"]
        verdict = "within" if ratio <= TARGET else "OVER"
        print(f"| {variant} | {' | '.join(cells)} | {ratio:.2f}x ({verdict} {TARGET:g}x) |")
    print("others' load: cores' worth of CPU other processes used while the command ran (the two trainings included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
