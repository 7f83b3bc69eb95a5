"""Where a game's networks and loss come from, for a single run and for a sweep alike.

gankit's own (no generator given), the user's modules (one run), functions config -> module (a sweep builds each
GAN its own pair under its seed), or a models file (its make_generator, make_discriminator and make_loss). What a
run or a sweep records of them (`configure`, `description`) is written here once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from gankit.errors import GankitError, bad_value
from gankit.losses import Loss, config_name
from gankit.models.user import build_pair, check_both_given, describe, load_models_file
from gankit.registry import CUSTOM

Factory = Callable[[Any], nn.Module]  # config -> a network of one's own


class NetworkSource:
    """The networks and loss of one run (`per_gan=False`: modules) or of each GAN of a sweep (`per_gan=True`:
    functions config -> module); `models` (a models file) gives functions in both."""

    def __init__(
        self,
        generator: nn.Module | Factory | None,
        discriminator: nn.Module | Factory | None,
        loss: Loss | None,
        models: str | Path | None,
        *,
        per_gan: bool,
    ):
        self.models_file, self._make_loss, self.functions = None, None, per_gan
        if models is not None:
            if generator is not None or discriminator is not None:
                raise GankitError("models= was given with generator=/discriminator=; accepted: one of the two")
            code = load_models_file(models)
            generator, discriminator = code.make_generator, code.make_discriminator  # None, None: gankit's own
            self.models_file, self._make_loss, self.functions = str(code.path), code.make_loss, True
        check_both_given(generator, discriminator)
        if per_gan:
            for name, factory in (("generator", generator), ("discriminator", discriminator)):
                if factory is not None and (isinstance(factory, nn.Module) or not callable(factory)):
                    accepted = "a function config -> nn.Module (each GAN of a sweep gets its own)"
                    raise bad_value(name, type(factory).__name__, accepted)
        self.generator, self.discriminator, self.loss = generator, discriminator, loss

    def pair(self, config: Any) -> tuple[Any, Any] | None:
        """(G, D) for `config`: the modules given, or built by the functions under its seed; None: gankit's own."""
        if self.generator is None:
            return None
        if self.functions:
            return build_pair(self.generator, self.discriminator, config)
        return self.generator, self.discriminator

    def loss_for(self, config: Any) -> Loss | None:
        """The loss given, or the models file's make_loss(config) (made once); None: the config's own."""
        if self.loss is None and self._make_loss is not None:
            self.loss = self._make_loss(config)
        return self.loss

    def configure(self, config: Any) -> Any:
        """The config as a run records it: `custom` for the user's networks or loss, with the defaults for a
        saturating G loss where they were left to their defaults."""
        loss = self.loss_for(config)
        changes: dict[str, Any] = {"model": CUSTOM} if self.generator is not None else {}
        if loss is not None:
            changes["loss"] = config_name(loss)
        configured = config.replace(**changes) if changes else config
        return configured.for_loss(loss) if loss is not None else configured

    def description(self, pair: tuple[nn.Module, nn.Module] | None, loss: Loss | None) -> dict[str, Any] | None:
        """What a run folder's networks.json records of the user's networks and loss; None for gankit's own."""
        custom_loss = loss is not None and config_name(loss) == CUSTOM
        if pair is None and not custom_loss:
            return None
        return {
            "generator": describe(pair[0]) if pair and pair[0] is not None else None,
            "discriminator": describe(pair[1]) if pair and pair[1] is not None else None,
            "loss": type(loss).__name__ if custom_loss else None,
            "models_file": self.models_file,
        }
