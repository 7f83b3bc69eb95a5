"""GAN Lab's buttons on gankit's real training: one update of D only, one update of G only, N steps, a look.

    lab = gankit.Lab(gankit.TrainConfig(dataset="circle", n_samples=100, batch_size=100, ema=0), out="runs/lab")
    lab.step_d()     # one update of D on a real batch and G's fakes (G unchanged); a notebook shows the view
    lab.step_g()     # one update of G through D (D unchanged): a training step, as train counts them
    lab.train(500)   # 500 ordinary steps: logged, evaluated and checkpointed as gankit.train does
    lab.show()       # the view now (D's heatmap, G's manifold, the push of G's loss, the points, the curves)
    lab.save()       # a checkpoint of the state now: gankit.Run(lab.path) and gankit.resume read it
    lab.run()        # the Run of the folder (saved first)

The state is the trainer's, whatever the order of the updates: weights, both optimisers, the EMA, the
step, the data order and the training RNG, so a checkpoint after any of them is as valid as one made by
`gankit.train` and resuming it continues exactly from there.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from torch import nn

from gankit.config import TrainConfig
from gankit.errors import bad_value
from gankit.figures import lab_figure
from gankit.losses import Loss
from gankit.plots import Figure, figure_to_png
from gankit.run import Run, new_training
from gankit.threads import policy_threads
from gankit.views import snapshot


class Lab:
    """A run folder trained by hand, one half-step at a time if you like (see the module's docstring).

    Arguments as for `gankit.train`: the config (default: gankit's circle), the run folder (default: the
    next `runs/<dataset>-<n>`), your own networks and loss, `force` to replace an existing folder.
    """

    def __init__(
        self,
        config: TrainConfig | None = None,
        out: str | Path | None = None,
        *,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        loss: Loss | None = None,
        models: str | Path | None = None,
        force: bool = False,
    ):
        self._training = new_training(
            config if config is not None else TrainConfig(),
            out,
            generator=generator,
            discriminator=discriminator,
            loss=loss,
            models=models,
            force=force,
        )
        self.trainer = self._training.trainer
        self.last: dict[str, float] = {}  # what the last single update reported

    @property
    def path(self) -> Path:
        return self._training.path

    @property
    def step(self) -> int:
        """Generator updates so far (a D update alone does not count, as in training)."""
        return self.trainer.step

    @property
    def records(self) -> list[dict[str, Any]]:
        """The metrics log of the training chunks so far."""
        return self._training.member.records

    def _threads(self):
        return policy_threads(self.trainer.config)

    def step_d(self) -> Lab:
        """One update of D on a real batch and detached fakes; G is unchanged. Returns the lab (a notebook shows
        its view)."""
        with self._threads():
            loss_d, real_logits, fake_logits = self.trainer.d_update()
        self.last = {
            "update": "D",
            "loss_d": float(loss_d),
            "d_real": float(real_logits.sigmoid().mean()),
            "d_fake": float(fake_logits.sigmoid().mean()),
        }
        return self

    def step_g(self) -> Lab:
        """One update of G through D (D unchanged), then the EMA: one training step."""
        with self._threads():
            loss_g = self.trainer.g_update()
        self.last = {"update": "G", "loss_g": float(loss_g)}
        return self

    def train(self, steps: int = 100) -> Lab:
        """`steps` ordinary training steps (each: D then G), logged, evaluated and checkpointed as in train."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
            raise bad_value("steps", steps, "a positive number of steps")
        end = self.trainer.config.steps
        if self.step + steps > end:
            raise bad_value(
                "steps",
                steps,
                f"at most {end - self.step}: this lab's config ends at step {end} (TrainConfig(steps=...) sets it)",
            )
        self._training.run(until=self.step + steps)
        return self

    def show(self) -> Figure:
        """The lab view now (for images: the sample grid), with the curves of the training so far."""
        title = f"{Path(self.trainer.config.dataset).stem}: step {self.step:,}"
        if self.last:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in self.last.items() if k != "update")
            title += f" (last: one {self.last['update']} update, {shown})"
        with self._threads():
            return lab_figure(snapshot(self._training.sources, self.step), self.records, title=title)

    def save(self) -> Path:
        """A checkpoint of the state now, in the run folder; returns the folder."""
        self._training.checkpoint()
        return self.path

    def run(self) -> Run:
        """The Run of the folder at the state now (saved first); your own networks are copied into it."""
        self.save()
        networks = self._training.networks
        own = {}
        if networks.generator is not None:
            own = {"generator": copy.deepcopy(self.trainer.G), "discriminator": copy.deepcopy(self.trainer.D)}
        return Run(self.path, loss=networks.loss, **own)

    def _repr_png_(self) -> bytes:
        return figure_to_png(self.show())

    def __repr__(self) -> str:
        return f"Lab({str(self.path)!r}, dataset={self.trainer.config.dataset!r}, step={self.step})"
