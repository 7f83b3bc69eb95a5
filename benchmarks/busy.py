"""A busy machine: N identical trainings started at once, each one's steps per second.

    python -m benchmarks.busy [--seconds 30] [--counts 1,2,3,6] [--data-dir ../shared/data/mnist]

For the MNIST conditional GAN (`--preset mnist-cgan`) and the toy default (`gankit train`), N = 1, 2,
3 and 6 copies of `gankit train` start together, each as its own process, and train for `--seconds`
(max_seconds); each one's steps per second comes from its metrics log (log lines only, so start-up
and the final evaluation are left out). Each N runs twice in turn: with gankit's thread choice (the
cores other processes leave free, checked as training goes) and with the thread count pinned to all
usable cores (`--threads`, what gankit did before: the baseline).

Printed per case and N: each run's steps/s, the N runs' total throughput against one run alone (the
target: >= 80%), and the slowest run against the mean of the others (the target: >= 50%).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from gankit.threads import usable_cores

CASES = {
    "mnist-cgan": ["--preset", "mnist-cgan"],
    "toy default": ["--dataset", "circle"],
}


def steps_per_second(run_dir: Path) -> float:
    """Steps per second between the first and the last log line of a run (its evaluations left out)."""
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    logs = [r for r in lines if "loss_d" in r]
    if len(logs) < 2:
        return float("nan")
    first, last = logs[0], logs[-1]
    return (last["step"] - first["step"]) / max(last["seconds"] - first["seconds"], 1e-9)


def race(
    case: list[str], count: int, seconds: float, *, pinned: int | None, data_dir: str | None, folder: Path
) -> list[float]:
    """Start `count` trainings at once and return each one's steps per second."""
    flags = [
        *case,
        "--steps",
        "10000000",
        "--max-seconds",
        str(seconds),
        "--eval-every",
        "10000000",
        "--log-every",
        "20",
    ]
    flags += [
        "--quiet",
        *(["--threads", str(pinned)] if pinned else []),
        *(["--data-dir", data_dir] if data_dir and "mnist" in " ".join(case) else []),
    ]
    script = "import sys; from gankit.cli import main; sys.exit(main(sys.argv[1:]))"
    runs = [folder / f"run-{index}" for index in range(count)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, "train", *flags, "--out", str(run)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run in runs
    ]
    for process in processes:
        _, err = process.communicate()
        if process.returncode:
            raise RuntimeError(
                f"a training failed: {err.strip().splitlines()[-1] if err.strip() else process.returncode}"
            )
    return [steps_per_second(run) for run in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--counts", default="1,2,3,6")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA_DIR"))
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    cores = usable_cores()
    print(f"{cores} usable cores; load average at start {os.getloadavg()}; {args.seconds:.0f} s per training")
    results = {}
    for name in args.cases.split(","):
        for mode, pinned in (("gankit's threads", None), (f"pinned at {cores}", cores)):
            alone = None
            for count in counts:
                with tempfile.TemporaryDirectory() as folder:
                    rates = race(
                        CASES[name], count, args.seconds, pinned=pinned, data_dir=args.data_dir, folder=Path(folder)
                    )
                total = sum(rates)
                alone = total if count == 1 else alone
                slowest = min(range(count), key=rates.__getitem__)
                others = statistics.mean(r for i, r in enumerate(rates) if i != slowest) if count > 1 else rates[0]
                row = {"case": name, "threads": mode, "n": count, "steps_per_s": [round(r, 1) for r in rates],
                       "throughput_vs_alone": round(total / alone, 2) if alone else None,
                       "slowest_vs_others": round(rates[slowest] / others, 2)}  # fmt: skip
                results.setdefault(name, []).append(row)
                print(json.dumps(row), flush=True)
    print(f"\nload average at end {os.getloadavg()}")
    print(
        "| case | threads | N | each run's steps/s | together vs one alone (target >= 0.8) | slowest vs the others (>= 0.5) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for rows in results.values():
        for r in rows:
            each = ", ".join(f"{v:g}" for v in r["steps_per_s"])
            print(
                f"| {r['case']} | {r['threads']} | {r['n']} | {each} | {r['throughput_vs_alone']} | {r['slowest_vs_others']} |"
            )


if __name__ == "__main__":
    main()
