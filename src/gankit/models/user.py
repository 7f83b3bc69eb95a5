"""Any G and D modules: how the trainer calls them, checks them, and recognises them again.

The contract, for gankit's own networks and for yours:

- G is called as `G(z)` (conditional: `G(z, labels)`, labels int64 of shape (B,)) with z of shape
  (B, latent_dim), and returns samples of shape (B, *data_shape); for images (B, 784) is accepted too.
- D is called as `D(x)` (conditional: `D(x, labels)`) and returns one score per sample, shape (B,) or
  (B, 1): a logit, P(real) = sigmoid(logit). A D that is an `nn.Sequential` ending in `nn.Sigmoid` (the
  lab's) is run without that last layer, so the trainer works on its logit and the losses stay
  stable; its outputs, P(real), are what it would have returned. For images, a D whose first layer is
  `nn.Linear` gets them flattened to (B, 784), as such a D expects.

gankit's own networks say `keeps_contract = True` (they take labels as a keyword and return exactly
these shapes, logits from D) and are called as they are.

`check_networks` runs both on two samples before training (eval mode, no gradients, RNG untouched)
and turns a module that raises, returns the wrong shape or NaN, or has no parameters into one line.
`describe` records a module's class, parameter count and the shapes of its weights (a fingerprint),
so that a run folder can refuse modules of another shape with a line that names the first difference.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.errors import GankitError

Call = Callable[..., torch.Tensor]
MODELS_FILE_HELP = (
    "a Python file defining make_generator(config) and make_discriminator(config), and/or make_loss(config)"
)
PROBE_BATCH = 2


def ends_in_sigmoid(module: nn.Module) -> bool:
    return isinstance(module, nn.Sequential) and len(module) > 0 and isinstance(module[-1], nn.Sigmoid)


def _logit_body(module: nn.Module) -> nn.Module:
    return module[:-1] if ends_in_sigmoid(module) else module


def _takes_flat_images(body: nn.Module, data_shape: Sequence[int]) -> bool:
    return len(data_shape) > 1 and isinstance(body, nn.Sequential) and len(body) > 0 and isinstance(body[0], nn.Linear)


def generator_call(module: nn.Module, data_shape: Sequence[int], conditional: bool) -> Call:
    """`call(z, labels)` -> samples (B, *data_shape) from `module`."""
    if getattr(module, "keeps_contract", False):  # gankit's own: called as they are (no reshape per call)
        return module
    shape = tuple(data_shape)
    if conditional:
        return lambda z, labels: module(z, labels).reshape(len(z), *shape)
    return lambda z, labels=None: module(z).reshape(len(z), *shape)


def discriminator_call(
    module: nn.Module,
    data_shape: Sequence[int],
    conditional: bool,
    *,
    wrap: Callable[[nn.Module], nn.Module] | None = None,
) -> Call:
    """`call(x, labels)` -> D's logits (B,) of samples x (B, *data_shape). `wrap` wraps the network that
    computes the logits (a D without its final sigmoid), e.g. in DistributedDataParallel."""
    if getattr(module, "keeps_contract", False):
        return wrap(module) if wrap is not None else module
    body = _logit_body(module)
    flat = _takes_flat_images(body, data_shape)
    if wrap is not None:
        body = wrap(body)
    if flat:
        if conditional:
            return lambda x, labels: body(x.reshape(len(x), -1), labels).reshape(len(x))
        return lambda x, labels=None: body(x.reshape(len(x), -1)).reshape(len(x))
    if conditional:
        return lambda x, labels: body(x, labels).reshape(len(x))
    return lambda x, labels=None: body(x).reshape(len(x))


def _name(role: str, module: nn.Module) -> str:
    return f"{role} ({type(module).__name__})"


def _run(role: str, module: nn.Module, inputs: str, function: Callable[[], torch.Tensor]) -> torch.Tensor:
    try:
        output = function()
    except Exception as error:  # the user's code: any failure is reported the same way
        reason = str(error).splitlines()[0][:160] if str(error) else ""
        raise GankitError(
            f"{_name(role, module)} raised {type(error).__name__}({reason!r}) on {inputs}; accepted: a module "
            f"whose forward takes {inputs}"
        ) from None
    if not isinstance(output, torch.Tensor) or not output.is_floating_point():
        raise GankitError(f"{_name(role, module)} returned {type(output).__name__}; accepted: a float tensor")
    return output


def check_networks(
    generator: nn.Module,
    discriminator: nn.Module,
    *,
    latent_dim: int,
    data_shape: Sequence[int],
    n_classes: int,
    device: torch.device,
) -> None:
    """GankitError (one line) unless G and D keep the contract above on a batch of PROBE_BATCH."""
    shape = tuple(data_shape)
    for role, module in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(module, nn.Module):
            raise GankitError(f"{role}={type(module).__name__} is not valid; accepted: a torch.nn.Module")
        if not any(p.requires_grad for p in module.parameters()):
            raise GankitError(
                f"{_name(role, module)} has no trainable parameters; accepted: a module with weights to train"
            )
    modes = [(module, module.training) for module in (generator, discriminator)]
    batch = PROBE_BATCH
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            for module, _ in modes:
                module.eval()  # no batch statistics are updated, no dropout draws
            z = torch.randn(batch, latent_dim, generator=torch.Generator().manual_seed(0)).to(device)
            labels = (torch.arange(batch) % n_classes).to(device) if n_classes else None
            z_text = f"z of shape {tuple(z.shape)}" + (" and labels of shape (2,)" if n_classes else "")
            fake = _run("generator", generator, z_text, lambda: generator(z, labels) if n_classes else generator(z))
            accepted = [(batch, *shape)] + ([(batch, math.prod(shape))] if len(shape) > 1 else [])
            if tuple(fake.shape) not in accepted:
                raise GankitError(
                    f"{_name('generator', generator)} returned shape {tuple(fake.shape)} for {z_text}; accepted: "
                    f"{' or '.join(map(str, accepted))} (latent_dim={latent_dim}, data of shape {shape})"
                )
            if not torch.isfinite(fake).all():
                raise GankitError(
                    f"{_name('generator', generator)} returned NaN or infinite samples; accepted: finite samples"
                )
            body = _logit_body(discriminator)
            x = fake.reshape(batch, -1) if _takes_flat_images(body, shape) else fake.reshape(batch, *shape)
            x_text = f"samples of shape {tuple(x.shape)}" + (" and labels of shape (2,)" if n_classes else "")
            scores = _run("discriminator", discriminator, x_text, lambda: body(x, labels) if n_classes else body(x))
            if tuple(scores.shape) not in ((batch,), (batch, 1)):
                raise GankitError(
                    f"{_name('discriminator', discriminator)} returned shape {tuple(scores.shape)} for {x_text}; "
                    f"accepted: ({batch},) or ({batch}, 1), one score per sample"
                )
            if not torch.isfinite(scores).all():
                raise GankitError(
                    f"{_name('discriminator', discriminator)} returned NaN or infinite scores; accepted: finite scores"
                )
    finally:
        for module, training in modes:
            module.train(training)


# ----- recognising a module again -----
def _layout(module: nn.Module) -> list[list[Any]]:
    """[name, shape] of each tensor of the module's state, as it is without parametrizations: a layer's
    `parametrizations.weight.original` is its `weight`, in the weight's place before the layer's other
    tensors, and the parametrization's own buffers (spectral norm's u and v) are left out. So a network is
    recognised whether or not it has had d_norm's spectral normalisation put on it."""
    layout: list[list[Any]] = []
    for name, tensor in module.state_dict().items():
        owner, parametrized, rest = f".{name}".partition(".parametrizations.")
        if not parametrized:
            layout.append([name, list(tensor.shape)])
        elif rest.endswith(".original"):
            plain = f"{owner}.{rest.removesuffix('.original')}"[1:]
            prefix, depth = (f"{owner[1:]}." if owner else ""), plain.count(".")
            first = next(
                (i for i, (n, _) in enumerate(layout) if n.startswith(prefix) and n.count(".") == depth), len(layout)
            )
            layout.insert(first, [plain, list(tensor.shape)])
    return layout


def describe(module: nn.Module) -> dict[str, Any]:
    """{class, parameters, fingerprint, layout}: what a run folder records of a network."""
    layout = _layout(module)
    digest = hashlib.sha256(json.dumps(layout).encode()).hexdigest()[:16]
    parameters = sum(p.numel() for p in module.parameters())
    return {"class": type(module).__name__, "parameters": parameters, "fingerprint": digest, "layout": layout}


def check_fits(role: str, module: nn.Module, recorded: dict[str, Any], where: str) -> None:
    """GankitError naming the first weight whose shape differs, unless `module` has the recorded layout."""
    mine = describe(module)
    if mine["fingerprint"] == recorded["fingerprint"]:
        return
    theirs = {name: shape for name, shape in recorded["layout"]}
    ours = {name: shape for name, shape in mine["layout"]}
    first = next((n for n in [*theirs, *ours] if theirs.get(n) != ours.get(n)), "?")
    raise GankitError(
        f"{_name(role, module)} does not fit {where}: weight {first!r} is "
        f"{tuple(ours[first]) if first in ours else 'missing'} here and "
        f"{tuple(theirs[first]) if first in theirs else 'absent'} there; accepted: a {recorded['class']} "
        f"with {recorded['parameters']:,} parameters (fingerprint {recorded['fingerprint']})"
    )


# ----- networks from a Python file (gankit train --models FILE) -----
@dataclass(frozen=True)
class ModelsFile:
    """The functions of a user's models file: each takes the run's TrainConfig."""

    path: Path
    make_generator: Callable[[Any], nn.Module] | None  # both network functions, or neither
    make_discriminator: Callable[[Any], nn.Module] | None
    make_loss: Callable[[Any], Any] | None


def build(role: str, make: Callable[[Any], Any], config: Any) -> nn.Module:
    """`make(config)`, the user's function for the `role` network: GankitError (one line) if it fails or
    returns anything but an nn.Module."""
    try:
        module = make(config)
    except Exception as error:  # the user's code
        reason = str(error).splitlines()[0][:160] if str(error) else ""
        raise GankitError(
            f"make_{role}(config) raised {type(error).__name__}({reason!r}); "
            "accepted: a function returning an nn.Module"
        ) from None
    if not isinstance(module, nn.Module):
        raise GankitError(f"make_{role}(config) returned {type(module).__name__}; accepted: an nn.Module")
    return module


def build_pair(make_generator: Callable, make_discriminator: Callable, config: Any) -> tuple[nn.Module, nn.Module]:
    """(G, D) from the user's functions, built under the config's seed (same seed, same initial weights)."""
    from gankit.step import seeded

    return seeded(
        config.seed,
        lambda: (build("generator", make_generator, config), build("discriminator", make_discriminator, config)),
    )


def load_models_file(path: str | Path) -> ModelsFile:
    """Import `path` (this runs its code) and take its make_generator / make_discriminator / make_loss."""
    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        raise GankitError(f"--models={str(path)!r} is not an existing .py file; accepted: {MODELS_FILE_HELP}")
    spec = importlib.util.spec_from_file_location(f"gankit_user_models_{path.stem}", path)
    code = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(code)
    except (Exception, SystemExit) as error:  # sys.exit() in the file must not end gankit as if all went well
        reason = str(error).splitlines()[0][:160] if str(error) else ""
        raise GankitError(
            f"--models={str(path)!r} raised {type(error).__name__}({reason!r}) when imported; "
            f"accepted: {MODELS_FILE_HELP}"
        ) from None
    functions = {name: getattr(code, name, None) for name in ("make_generator", "make_discriminator", "make_loss")}
    functions = {name: function if callable(function) else None for name, function in functions.items()}
    missing = [name for name in ("make_generator", "make_discriminator") if functions[name] is None]
    if len(missing) == 1 or (len(missing) == 2 and functions["make_loss"] is None):
        raise GankitError(f"--models={str(path)!r} defines no {missing[0]}(config); accepted: {MODELS_FILE_HELP}")
    make_loss = functions["make_loss"]
    return ModelsFile(
        path.resolve(),
        functions["make_generator"],
        functions["make_discriminator"],
        _returning_a_loss(make_loss, path) if make_loss is not None else None,
    )


def _returning_a_loss(make_loss: Callable[[Any], Any], path: Path) -> Callable[[Any], Any]:
    """`make_loss`, checked to return a gankit.Loss (GankitError in one line otherwise)."""
    from gankit.losses import Loss

    def checked(config: Any) -> Any:
        try:
            loss = make_loss(config)
        except Exception as error:  # the user's code
            reason = str(error).splitlines()[0][:160] if str(error) else ""
            raise GankitError(
                f"make_loss(config) in {str(path)!r} raised {type(error).__name__}({reason!r}); accepted: a function "
                "returning a gankit.Loss"
            ) from None
        if not isinstance(loss, Loss):
            raise GankitError(
                f"make_loss(config) in {str(path)!r} returned {type(loss).__name__}; accepted: a gankit.Loss"
            )
        return loss

    return checked
