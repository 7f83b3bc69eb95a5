"""The `gankit` command: a thin layer over the public Python API.

Every TrainConfig field is a kebab-case flag of `train` (`--latent-dim 2`, `--g-hidden 64,64`,
`--conditional`), generated from the dataclass so that the two never drift apart.
User mistakes print one line `gankit: error: ...` and exit with code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import json
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from gankit import distributed
from gankit.config import PRESETS, REGISTERED, TrainConfig
from gankit.data.images import to_uint8
from gankit.errors import GankitError, bad_value
from gankit.files import atomic_write, resolve_file
from gankit.labbook import run_lab
from gankit.loop import TrainingDiverged, TrainingInterrupted
from gankit.models.user import MODELS_FILE_HELP
from gankit.notebook import silenced
from gankit.report import write_report
from gankit.run import Run, resume, train
from gankit.samplers import SAMPLERS
from gankit.sweep import Estimate, resume_sweep, sweep

EXIT_BAD_INPUT, EXIT_DIVERGED = 2, 3
LONG_SWEEP_MINUTES = 30
_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise GankitError(
            f"{message}; see 'gankit {self.prog.split()[-1] if ' ' in self.prog else ''} --help'".replace("  ", " ")
        )


def _field_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_field(field: dataclasses.Field, text: str) -> Any:
    """A TrainConfig field's value from its command-line text."""
    kind = field.type
    try:
        if "tuple" in kind:
            return tuple(whole(part) for part in text.split(","))
        if kind.startswith("int"):
            return whole(text)
        if kind.startswith("float"):
            return _real(text)
    except ValueError:
        accepted = (
            "comma-separated integers, e.g. 128,128" if "tuple" in kind else f"a number of type {kind.split(' ')[0]}"
        )
        raise bad_value(field.name, text, accepted) from None
    return text


def whole(text: str) -> int:
    """An integer written as digits (Python's int() also reads '1_000' and ' 7 ': ValueError here)."""
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f"not a whole number: {text!r}")
    return int(text)


def _real(text: str) -> float:
    """A number without Python's digit separators ('1_000' would be read as 1000)."""
    if "_" in text or text != text.strip():
        raise ValueError(f"not a number: {text!r}")
    return float(text)


def _whole_flag(name: str):
    """An argparse type: `whole`, with a one-line error naming the flag."""

    def parse(text: str) -> int:
        try:
            return whole(text)
        except ValueError:
            raise bad_value(name, text, "a whole number written in digits") from None

    return parse


def _add_sampler_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS.names(),
        help="how the run's samples are drawn (default: the run's sampler; gankit.samplers)",
    )


def _field_comments() -> dict[str, str]:
    """Each TrainConfig field's trailing comment in its source: the one description of a field, to which
    a registered field adds the registry's names."""
    comments = {}
    for line in inspect.getsource(TrainConfig).splitlines():
        match = re.match(r"\s+(\w+): [^=]+=[^#]+#\s*(.+)", line)
        if match:
            comments[match.group(1)] = match.group(2)
    for name, registry in REGISTERED.items():
        comments[name] = f"{comments[name]}; one of: {', '.join(registry.names())}"
    return {name: text.replace("%", "%%") for name, text in comments.items()}


def _add_field_flags(parser: argparse.ArgumentParser, title: str, *, lists: bool) -> None:
    """One flag per TrainConfig field; with `lists`, a flag takes several values (a sweep's grid)."""
    group = parser.add_argument_group(title)
    comments = _field_comments()
    for field in dataclasses.fields(TrainConfig):
        flag, help_text = _field_flag(field.name), comments.get(field.name)
        if field.type.startswith("bool"):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
        else:
            group.add_argument(
                flag,
                metavar=field.name.upper(),
                default=argparse.SUPPRESS,
                help=help_text,
                **({"nargs": "+"} if lists else {}),
            )


def _config_values(args: argparse.Namespace) -> dict[str, Any]:
    """The fields set by --preset, then --config, then flags, each over the one before (a field left out
    everywhere takes its default, which for the per-dataset ones follows the dataset chosen in the end)."""
    values: dict[str, Any] = {}
    if getattr(args, "preset", None):
        if args.preset not in PRESETS:
            raise bad_value("--preset", args.preset, sorted(PRESETS))
        values.update(PRESETS[args.preset])
    if args.config:
        values.update(TrainConfig.read_values(args.config))
    return values


def _add_models_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--models",
        metavar="FILE",
        help=f"your own networks for {what}: {MODELS_FILE_HELP}. "
        "The file is imported, so its code runs: use only files you trust",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gankit", description="Train, evaluate and visualise GANs on toy data and MNIST.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a GAN and write a run folder")
    train.add_argument("--out", help="run folder (default runs/<dataset>-<n>, the next free number)")
    train.add_argument("--preset", help=f"named settings: {', '.join(sorted(PRESETS))}")
    train.add_argument("--config", help="JSON file of TrainConfig fields (over the preset; flags override it)")
    train.add_argument(
        "--resume", metavar="RUN", help="continue RUN from its newest checkpoint (--steps may extend it)"
    )
    train.add_argument("--force", action="store_true", help="replace an existing run folder")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_models_flag(train, "training (and for --resume of such a run)")
    _add_field_flags(train, "training settings (TrainConfig fields)", lists=False)

    sample = commands.add_parser("sample", help="write generated samples of a run to .npz")
    sample.add_argument("run")
    sample.add_argument("--n", type=_whole_flag("--n"), default=1000, help="number of samples")
    sample.add_argument("--out", required=True, help="output .npz file")
    sample.add_argument("--seed", type=_whole_flag("--seed"), default=0)
    sample.add_argument(
        "--label",
        type=_whole_flag("--label"),
        help="conditional runs: the class index to draw (default: balanced)",
    )
    _add_sampler_flag(sample)
    _add_models_flag(sample, "a run trained with them")

    plot = commands.add_parser("plot", help="write a run's figures under RUN/figures")
    plot.add_argument("run")
    plot.add_argument("--best", action="store_true", help="the figures of its best evaluation, under RUN/figures/best")
    _add_models_flag(plot, "a run trained with them")

    report = commands.add_parser(
        "report", help="write one self-contained HTML page of a run or a sweep: views over training, curves, metrics"
    )
    report.add_argument("path", metavar="RUN_OR_SWEEP")
    report.add_argument("--out", help="the page to write (default RUN_OR_SWEEP/report.html)")
    _add_models_flag(report, "a run (or sweep) trained with them")

    lab = commands.add_parser(
        "lab", help="the whole GAN lab: train its questions (toy data, a latent study, MNIST) and write one page"
    )
    lab.add_argument("--out", default="lab", help="the lab folder (default lab/): runs, sweep and report.html")
    lab.add_argument("--quick", action="store_true", help="fewer steps and seeds, for a class on laptops")
    lab.add_argument("--data-dir", help="folder with the MNIST files (default: $GANKIT_DATA_DIR, then the cache)")
    lab.add_argument("--force", action="store_true", help="replace an existing lab folder")
    lab.add_argument("--quiet", action="store_true", help="no progress bars")

    evaluate = commands.add_parser("eval", help="print a run's metrics and the doctor's findings")
    evaluate.add_argument("run")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    _add_sampler_flag(evaluate)
    _add_models_flag(evaluate, "a run trained with them")

    sweep = commands.add_parser(
        "sweep", help="train many toy GANs at once (settings x seeds): table and figures with 95%% intervals"
    )
    sweep.add_argument("--out", help="sweep folder (default runs/sweep-<dataset>-<time>)")
    sweep.add_argument("--preset", help=f"named settings: {', '.join(sorted(PRESETS))}")
    sweep.add_argument("--config", help="JSON file of TrainConfig fields: the base that the flags override")
    sweep.add_argument("--resume", metavar="SWEEP", help="continue an interrupted sweep folder exactly")
    sweep.add_argument(
        "--seeds",
        type=_whole_flag("--seeds"),
        help="seeds 0..N-1 for every setting (default 8); --seed 3,4,5 lists them instead",
    )
    sweep.add_argument(
        "--interval", default="t", help="95%% interval of the mean over seeds: t (Student, default) or bootstrap"
    )
    sweep.add_argument("--no-runs", action="store_true", help="remove each GAN's run folder under OUT/runs when done")
    sweep.add_argument("--force", action="store_true", help="replace an existing sweep folder")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument(
        "--yes",
        action="store_true",
        help=f"start without asking when the sweep's estimate (printed first) is over {LONG_SWEEP_MINUTES} minutes; "
        "without a terminal the sweep always starts",
    )
    _add_models_flag(sweep, "every GAN of the sweep (make_generator(config) is called once per GAN)")
    _add_field_flags(
        sweep,
        "settings to sweep: every TrainConfig field takes one value or a comma list (--latent-dim 1,2,3); list fields "
        "take space-separated values (--g-hidden 64,64 128,128); the cross product of all lists is trained",
        lists=True,
    )
    return parser


def _sweep_values(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """(base config values, grid of swept values) from the sweep flags: a field with several values is swept."""
    base = _config_values(args)
    grid: dict[str, list[Any]] = {}
    for field in dataclasses.fields(TrainConfig):
        if not hasattr(args, field.name):
            continue
        raw = getattr(args, field.name)
        if isinstance(raw, bool):
            base[field.name] = raw
            continue
        texts = raw if "tuple" in field.type else [part for text in raw for part in text.split(",")]
        values = [parse_field(field, text) for text in texts]
        if len(values) > 1 or field.name == "seed":
            grid[field.name] = values
        else:
            base[field.name] = values[0]
    return base, grid


def _train(args: argparse.Namespace) -> None:
    values = _config_values(args)
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    values.update(
        {name: raw if isinstance(raw, bool) else parse_field(_FIELDS[name], raw) for name, raw in flags.items()}
    )
    if args.resume:
        # A resumed run keeps its settings (presets and config files only set them too).
        extra = [name for name in values if name != "steps"] + [
            flag for flag in ("out", "force") if getattr(args, flag)
        ]
        if extra:
            raise bad_value(
                f"--{extra[0].replace('_', '-')}", "given with --resume", "--resume RUN with at most --steps N"
            )
        run = resume(args.resume, steps=values.get("steps"), models=args.models, progress=not args.quiet)
    else:
        run = train(
            TrainConfig.from_dict(values), args.out, models=args.models, force=args.force, progress=not args.quiet
        )
    if distributed.world().writes:  # data-parallel: rank 0 speaks for all
        print(f"run folder: {run.path}")
        _print_metrics(run.metrics_summary())


def _sample(args: argparse.Namespace) -> None:
    if args.n <= 0:
        raise bad_value("--n", args.n, "a positive integer")
    if not str(args.out).endswith(".npz") or Path(args.out).is_dir():
        raise bad_value("--out", args.out, "a file name ending in .npz (not a folder)")
    out = resolve_file(args.out)
    run = Run(args.run, models=args.models)
    if run.config.is_image:
        labels, n_classes = None, len(run.classes)
        if run.config.conditional:
            if args.label is not None and not 0 <= args.label < n_classes:
                raise bad_value("--label", args.label, f"a class 0..{n_classes - 1} ({', '.join(run.classes)})")
            labels = np.full(args.n, args.label) if args.label is not None else np.arange(args.n) % n_classes
        elif args.label is not None:
            raise bad_value("--label", args.label, "no --label: this run is not conditional")
        arrays = {"images": to_uint8(run.sample(args.n, seed=args.seed, labels=labels, sampler=args.sampler))}
        if labels is not None:
            arrays["labels"] = labels.astype(np.int64)
    else:
        if args.label is not None:
            raise bad_value("--label", args.label, "no --label: toy runs have no classes")
        arrays = {"samples": run.sample(args.n, seed=args.seed, sampler=args.sampler)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(out, buffer.getvalue())  # the file holds all the samples or stays as it was
    print(f"wrote {args.n} samples to {args.out}")


def _plot(args: argparse.Namespace) -> None:
    run = Run(args.run, models=args.models)
    folder = run.path / "figures" / ("best" if args.best else "")
    for name in run.plot(best=args.best):
        print(folder / f"{name}.png")


def _report(args: argparse.Namespace) -> None:
    print(write_report(args.path, args.out, models=args.models))


def _lab(args: argparse.Namespace) -> None:
    print(run_lab(args.out, quick=args.quick, data_dir=args.data_dir, force=args.force, progress=not args.quiet))


def _eval(args: argparse.Namespace) -> None:
    run = Run(args.run, models=args.models)
    metrics = run.evaluate(sampler=args.sampler)
    if args.json:
        print(json.dumps({**metrics, "findings": [finding.event() for finding in run.diagnose()]}))
    else:
        _print_metrics(metrics)
        for finding in run.diagnose():  # what went wrong while it trained, at the step it was seen
            print(f"finding: {finding}")


def _sweep(args: argparse.Namespace) -> None:
    if args.resume:
        given = [name for name in ("out", "config", "preset", "seeds", "force") if getattr(args, name)]
        given += [f.name for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)]
        if given:
            raise bad_value(
                f"--{given[0].replace('_', '-')}", "given with --resume", "--resume SWEEP alone (and --models, --quiet)"
            )
        result = resume_sweep(args.resume, models=args.models, progress=not args.quiet)
    else:
        base, grid = _sweep_values(args)
        result = sweep(
            base,
            grid,
            seeds=args.seeds,
            out=args.out,
            interval=args.interval,
            force=args.force,
            progress=not args.quiet,
            save_runs=not args.no_runs,
            models=args.models,
            confirm=lambda estimate: _confirm(estimate, args),
        )
    if not distributed.world().writes:
        return
    print(f"sweep folder: {result.path}  ({len(result.rows)} GANs in {result.seconds:.0f} s)")
    print(result.markdown())
    for name in sorted((result.path / "figures").glob("*.png")):
        print(name)


def _confirm(estimate: Estimate, args: argparse.Namespace) -> None:
    """Say what the sweep will cost; ask before a long one starts at a terminal, unless --yes."""
    print(f"gankit sweep: {estimate}", file=sys.stderr)
    if estimate.seconds <= 60 * LONG_SWEEP_MINUTES or args.yes or not sys.stdin.isatty():
        return
    answer = input(f"this sweep would train for about {estimate.seconds / 60:.0f} minutes; start it? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise GankitError("the sweep was not started (nothing was written); accepted: --yes to start it without asking")


def _shown(value: Any) -> Any:
    """A metric as printed: floats to 4 significant digits, lists of them (class shares, mode spreads) to 3."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value) + "]"
    return value


def _print_metrics(metrics: dict[str, Any]) -> None:
    for key, value in metrics.items():
        print(f"{key:>20}  {_shown(value)}")


COMMANDS = {
    "train": _train,
    "sample": _sample,
    "plot": _plot,
    "eval": _eval,
    "sweep": _sweep,
    "report": _report,
    "lab": _lab,
}


class _Stopped(BaseException):
    """SIGTERM outside the training loop (which saves and stops on its own): stop as Ctrl-C does."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, _frame: object) -> None:
    raise _Stopped(signum)


def main(argv: list[str] | None = None) -> int:
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop) if in_main_thread else None
    try:
        args = _build_parser().parse_args(argv)
        device = getattr(args, "device", "cpu")
        with (
            distributed.started(device[0] if isinstance(device, list) else device),  # torchrun's ranks, if any
            silenced(getattr(args, "quiet", False)),  # --quiet: no bar at all (a download's, the classifier's)
        ):
            COMMANDS[args.command](args)
    except (KeyboardInterrupt, _Stopped) as stop:  # during start-up, or while figures are written
        signum = getattr(stop, "signum", signal.SIGINT)
        print(
            f"gankit: {signal.Signals(signum).name}: stopped; what was saved before stays (a run's checkpoints), "
            "a folder this command had only begun is removed",
            file=sys.stderr,
        )
        return 128 + signum
    except OSError as error:  # a file the command writes (a full or read-only disk, a folder in the way)
        where = f" {error.filename!r}" if error.filename else ""
        print(f"gankit: error: could not write{where} ({error.strerror}); accepted: a writable path", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TrainingDiverged as error:
        print(f"gankit: error: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    except GankitError as error:
        print(f"gankit: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TrainingInterrupted as error:
        print(f"gankit: {error}", file=sys.stderr)
        return error.exit_code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
