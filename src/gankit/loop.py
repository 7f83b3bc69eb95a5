"""The one training loop: single runs, sweeps' stacks and the benchmarks all train through `TrainingLoop`.

A game is a `Trainer` (one GAN) or a `StackedTrainer` (K GANs); each of its members has a `Member`:
where it writes (a run folder, or nothing), its evaluator, and its records. The loop owns:

- the step windows: statistics stay on the device and are read once per window (one host sync),
  when something is due: a log line, an evaluation, a checkpoint, the end of a chunk;
- divergence: a member whose statistics or weights are not finite stops a single run (before
  anything non-finite is evaluated or saved, so the last checkpoint is the last good one), or is
  dropped from a sweep's stack while the others train on;
- logging (each member's append-only metrics.jsonl), evaluations, progress frames, a watcher called
  every `watch_every` steps (the notebook's live view), checkpoints (and a single run's best one)
  (every member's written before old ones are rotated out, so a kill between them leaves a
  step that every member has), `max_seconds`, and SIGINT/SIGTERM (the step finishes, a checkpoint
  is saved, TrainingInterrupted says how to resume).

`run(until=N)` trains up to step N and returns, so a caller can race the loop chunk by chunk
(the benchmarks) or redraw a view between chunks; `run()` trains to the configured end.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gankit import distributed, doctor
from gankit.errors import GankitError
from gankit.evaluation import evaluate_members
from gankit.notebook import progress_bar
from gankit.resources import require
from gankit.runfolder import (
    append_metrics,
    best_checkpoint_path,
    best_record,
    global_rng_state,
    list_checkpoints,
    rotate_checkpoints,
    write_checkpoint,
)
from gankit.step import STAT_NAMES
from gankit.tensorboard import TensorBoardLog
from gankit.threads import ThreadGovernor

RECORD_BYTES = 2048  # a record in memory: a dict of a dozen numbers (a generous bound)


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM arrived; a checkpoint was saved. `exit_code` is 130 or 143."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class TrainingDiverged(GankitError):
    """A loss or weight became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class Member:
    """One GAN of a game, as the loop sees it."""

    run_dir: Path | None = None  # where its metrics log and checkpoints go; None: nothing is written
    evaluator: Any = None  # None: never evaluated
    checkpoint_extra: dict[str, Any] = field(default_factory=dict)  # saved in each of its checkpoints
    records: list[dict[str, Any]] = field(default_factory=list)  # what was logged, also kept in memory
    keep_best: bool = False  # also keep the checkpoint of its best evaluation (gankit.metrics.RANKING)
    tensorboard: TensorBoardLog | None = None  # its records as TensorBoard scalars too
    doctor: doctor.Doctor | None = None  # reads its records at each log line and evaluation; None: nobody does
    tell: Callable[[str], None] | None = None  # shows each new finding of its doctor (logged as an event too)
    diverged_at: int | None = None


@contextmanager
def stop_signals() -> Iterator[dict[str, int]]:
    """Turn SIGINT/SIGTERM into a flag the loop checks between steps, so a checkpoint is never half-made.

    Signal handlers can only be set from the main thread; elsewhere the defaults stay.
    """
    received: dict[str, int] = {}
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {
            sig: signal.signal(sig, lambda signum, _frame: received.setdefault("signal", signum))
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class TrainingLoop:
    """Trains `game` (a Trainer or StackedTrainer) with one `Member` per GAN.

    `frames(game)` runs after each evaluation (a single run's progress frame), `watch(game)` every
    `watch_every` steps and at the end (it must not touch the training RNG). `stop_on_divergence`:
    a non-finite member raises TrainingDiverged (single runs) instead of being dropped (stacks).
    `resume_hint` is the command that continues the training, for the interruption message.
    """

    def __init__(
        self,
        game: Any,
        members: Sequence[Member],
        *,
        progress: bool = True,
        desc: str = "gankit",
        frames: Callable[[Any], None] | None = None,
        watch: Callable[[Any], None] | None = None,
        watch_every: int = 0,
        stop_on_divergence: bool = True,
        resume_hint: str | None = None,
        threads: ThreadGovernor | None = None,
    ):
        if len(members) != game.K:
            raise ValueError(f"{len(members)} members for a game of {game.K}")
        self.game, self.members = game, list(members)
        self.config = config = game.configs[0]  # the fields a stack's members share: steps, intervals, max_seconds
        # every member's records stay in memory while it trains
        records = game.K * sum(config.steps // every for every in (config.log_every, config.eval_every))
        require(
            f"the records of {config.steps:,} steps",
            RECORD_BYTES * records,
            "fewer steps, or larger log_every and eval_every",
        )
        self.progress, self.desc, self.frames = progress, desc, frames
        self.watch, self.watch_every = watch, watch_every if watch is not None else 0
        self.stop_on_divergence, self.resume_hint = stop_on_divergence, resume_hint
        self.seconds = 0.0  # time spent in run(), over all calls
        self.eval_seconds = 0.0  # of which in evaluations and checkpoints
        self.last_eval_cost = 0.0  # of the latest step that evaluated or checkpointed
        self.finished = game.step >= self.config.steps
        self._window: list[torch.Tensor] = []
        self.saved_step: int | None = None  # the step of the newest checkpoint this loop wrote
        self.threads = threads  # chooses the torch threads from the load (None: left as they are)
        self._threads_started = False

    def alive(self) -> list[int]:
        return [k for k, member in enumerate(self.members) if member.diverged_at is None]

    def run(self, until: int | None = None) -> None:
        """Train to step `until` (default: the configured steps, or max_seconds), then return."""
        config, game = self.config, self.game
        end = config.steps if until is None else min(until, config.steps)
        bar = progress_bar(
            total=config.steps,
            initial=game.step,
            disable=not self.progress or not distributed.world().writes,
            desc=self.desc + (f" ({game.K} GANs)" if game.K > 1 else ""),
        )
        started = time.perf_counter() - self.seconds
        if self.threads is not None and not self._threads_started:
            self._threads_started = True
            count = self.threads.start()
            if self.threads.governed:
                self._threads_changed(game.step, count)
        shared = distributed.world().active
        try:
            with stop_signals() as received:
                while game.step < end and not self.finished:
                    self._window.append(game.train_step())
                    step = game.step
                    self.seconds = time.perf_counter() - started
                    over_time = config.max_seconds is not None and self.seconds >= config.max_seconds
                    # The final step: the configured one, or the first past max_seconds (then treated just the same).
                    last = step == config.steps or over_time
                    log_due = step % config.log_every == 0 or last
                    eval_due = step % config.eval_every == 0 or last
                    save_due = step % config.checkpoint_every == 0 or last
                    if (eval_due or save_due) and not last and not self._affordable():
                        eval_due = save_due = False  # put off: they have had their share of the time
                    sync_due = log_due or eval_due or save_due or step == end
                    # Ranks decide to stop together, at steps they all sync at; one process at any step.
                    stop = (sync_due and distributed.any_rank(bool(received))) if shared else bool(received)
                    if sync_due or stop:
                        stats = self._sync(step, clear=log_due)
                        if self.threads is not None and (count := self.threads.check()) is not None:
                            self._threads_changed(step, count)
                        if log_due:
                            self._log(step, stats, bar)
                        started_parts = time.perf_counter()
                        if eval_due:
                            self._evaluate(step)
                        if log_due or eval_due:
                            self._diagnose()
                        # Decided after the evaluation: a signal that arrived during it is answered with a checkpoint.
                        stop = stop or (bool(received) and not shared)
                        if save_due or stop:
                            self._save(step)
                        if eval_due or save_due or stop:
                            self.last_eval_cost = time.perf_counter() - started_parts
                            self.eval_seconds += self.last_eval_cost
                    if self.watch_every and (step % self.watch_every == 0 or last):
                        self.watch(game)
                    if stop:
                        self._interrupted(step, received.get("signal", signal.SIGTERM))
                    if last:
                        self.finished = True
                        self._ended(step)
        finally:
            if self.finished and bar.total != bar.n:  # ended by max_seconds: the bar ends full, not short of `steps`
                bar.total = bar.n
                bar.refresh()
            bar.close()

    def _affordable(self) -> bool:
        """Whether evaluating and checkpointing once more keeps them within the config's share of the time
        (config.eval_share; 0: always). Ranks of a data-parallel run decide together, by rank 0's clock."""
        share = self.config.eval_share
        if not share:
            return True
        return distributed.broadcast(self.eval_seconds + self.last_eval_cost <= share * self.seconds)

    # ----- the parts of a window -----
    def _sync(self, step: int, *, clear: bool) -> list[list[float]]:
        """The window's mean statistics per member (the one host sync); non-finite members diverge here."""
        window = torch.stack(self._window).reshape(len(self._window), self.game.K, len(STAT_NAMES))
        means = distributed.mean(window.mean(0))
        if clear:
            self._window.clear()
        weights = self.game.finite().tolist()
        finite = torch.isfinite(means).all(1).cpu().tolist()
        values = means.tolist()
        for k in self.alive():
            if not (finite[k] and weights[k]):
                self._diverged(k, step, window[:, k].cpu())
        return values

    def _diverged(self, k: int, step: int, window: torch.Tensor) -> None:
        """Member k diverged by `step`; `window` holds its statistics of the steps up to it, one row a step."""
        member = self.members[k]
        if self.stop_on_divergence:
            bad = (~torch.isfinite(window).all(1)).nonzero()
            first = int(bad[0]) if len(bad) else len(window) - 1  # the first step whose statistics are not finite
            kept = list_checkpoints(member.run_dir) if member.run_dir is not None else []
            finding = doctor.divergence_finding(
                step - (len(window) - 1 - first),
                dict(zip(STAT_NAMES, window[first].tolist())) if len(bad) else None,
                config=self.game.configs[k],
                loss=self.game.loss,
                outputs_probability=self.game.outputs_probability,
                checkpoint=f"last good checkpoint: {kept[-1]}" if kept else "no checkpoint was written yet",
            )
            if member.doctor is not None:
                self._record(k, finding.event())
            raise TrainingDiverged(finding.text)
        member.diverged_at = step
        self._record(k, {"event": "diverged", "step": step})

    def _record(self, k: int, record: dict[str, Any]) -> None:
        member = self.members[k]
        member.records.append(record)
        if member.run_dir is not None:
            append_metrics(member.run_dir, record)
        if member.tensorboard is not None:
            member.tensorboard.record(record)

    def _diagnose(self) -> None:
        """Each member's new findings, as events of its log, and told."""
        for k in self.alive():
            member = self.members[k]
            for finding in member.doctor.check(member.records) if member.doctor is not None else []:
                self._record(k, finding.event())
                if member.tell is not None:
                    member.tell(finding.text)

    def _log(self, step: int, stats: list[list[float]], bar: Any) -> None:
        seconds = round(self.seconds, 3)
        for k in self.alive():
            self._record(
                k, {"step": step, **{n: round(v, 6) for n, v in zip(STAT_NAMES, stats[k])}, "seconds": seconds}
            )
        if self.game.K == 1 and self.alive():
            first = dict(zip(STAT_NAMES, stats[0]))
            bar.set_postfix(
                loss_d=f"{first['loss_d']:.3f}",
                loss_g=f"{first['loss_g']:.3f}",
                D_x=f"{first['d_real']:.2f}",
                D_Gz=f"{first['d_fake']:.2f}",
                refresh=False,
            )
        elif self.game.K > 1:
            bar.set_postfix(training=f"{len(self.alive())}/{self.game.K}", refresh=False)
        bar.update(step - bar.n)

    def _evaluate(self, step: int) -> None:
        alive = set(self.alive())
        evaluators = [m.evaluator if k in alive else None for k, m in enumerate(self.members)]
        rng = None
        for k, metrics in enumerate(evaluate_members(self.game, evaluators)):
            if metrics is not None:
                self._record(k, {"step": step, **metrics})
                member = self.members[k]
                best = best_record(member.records) if member.keep_best and member.run_dir is not None else None
                if best is not None and best["step"] == step:
                    rng = rng or global_rng_state()
                    write_checkpoint(
                        member.run_dir, step, self._state(k, rng), path=best_checkpoint_path(member.run_dir)
                    )
        if self.frames is not None and alive:
            self.frames(self.game)

    def _save(self, step: int) -> None:
        writers = [k for k in self.alive() if self.members[k].run_dir is not None]
        if not writers:
            return
        rng = global_rng_state()
        for k in writers:
            write_checkpoint(self.members[k].run_dir, step, self._state(k, rng))
        for k in writers:  # only once every member has this step's checkpoint
            rotate_checkpoints(self.members[k].run_dir, self.config.keep_checkpoints)
        self.saved_step = step

    def _ended(self, step: int) -> None:
        """The end of training in the log: its time, and how much of it went to evaluations and checkpoints."""
        for k in self.alive():
            self._record(
                k,
                {
                    "event": "end",
                    "step": step,
                    "seconds": round(self.seconds, 3),
                    "eval_seconds": round(self.eval_seconds, 3),
                },
            )
        self._diagnose()  # what can only be said at the end: a run that ended worse than its best

    def _threads_changed(self, step: int, count: int) -> None:
        for k in self.alive():  # results depend on the thread count: the log says which it was
            self._record(k, {"event": "threads", "step": step, "threads": count})

    def _state(self, k: int, rng: dict[str, Any]) -> dict[str, Any]:
        """What member k's checkpoint holds."""
        state = {"config": self.game.configs[k].to_dict(), **self.game.member_state(k), "global_rng": rng}
        state["threads"] = torch.get_num_threads()  # a resumed run starts on the same count
        return {**state, **self.members[k].checkpoint_extra}

    def checkpoint(self) -> None:
        """Checkpoint every member now, at the game's step (after steps taken outside `run`, e.g. one D update)."""
        self._save(self.game.step)

    def _interrupted(self, step: int, signum: int) -> None:
        name = signal.Signals(signum).name
        saved = self.saved_step == step or not distributed.world().writes  # rank 0 writes for all ranks
        what = "checkpoint saved" if saved else "nothing was saved"
        hint = f"; continue with: {self.resume_hint}" if saved and self.resume_hint else ""
        raise TrainingInterrupted(f"{name} at step {step}: {what}{hint}", 128 + signum)
