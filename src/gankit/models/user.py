"""Any G and D modules: how the trainer calls them, checks them, and recognises them again.

The contract, for gankit's own networks and for yours:

- G is called as `G(z)` (conditional: `G(z, labels)`, labels int64 of shape (B,), or one-hot float
  (B, n_classes) for a G that takes them so) with z of shape (B, latent_dim), and returns samples of
  shape (B, *data_shape); for images (B, H*W*C) is accepted too.
- D is called as `D(x)` (conditional: `D(x, labels)`, labels as G takes them) and returns one score per
  sample, shape (B,) or (B, 1): a logit, or P(real) = sigmoid(logit) when its forward ends in a sigmoid.
  That sigmoid is found by running D, whatever D's class: an `nn.Sigmoid` layer or a `torch.sigmoid` /
  `F.sigmoid` call whose output D returns (or a reshaped view of it). gankit's own calls of D then get
  the sigmoid's input, the logit, so the losses stay stable; D's outputs, P(real), are what D itself
  returns. For images, an `nn.Sequential` D whose first layer is `nn.Linear` gets them flattened.

gankit's own networks say `keeps_contract = True` (they take labels as a keyword and return exactly
these shapes, logits from D) and are called as they are.

`check_networks` runs both on two samples before training (eval mode, no gradients, RNG untouched),
says how to call them (`Calls`), and turns a module that raises, returns the wrong shape or NaN, or has
no parameters into one line.
`describe` records a module's class, parameter count and the shapes of its weights (a fingerprint),
so that a run folder can refuse modules of another shape with a line that names the first difference.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from gankit.errors import GankitError
from gankit.notebook import say

Call = Callable[..., torch.Tensor]
MODELS_FILE_HELP = (
    "a Python file defining make_generator(config) and make_discriminator(config), and/or make_loss(config)"
)
PROBE_BATCH = 2


def ends_in_sigmoid(module: nn.Module) -> bool:
    """Whether `module` is an nn.Sequential whose last layer is nn.Sigmoid (what a stack of Sequentials computes)."""
    return isinstance(module, nn.Sequential) and len(module) > 0 and isinstance(module[-1], nn.Sigmoid)


def _takes_flat_images(module: nn.Module, data_shape: Sequence[int]) -> bool:
    """Images for an nn.Sequential that starts with nn.Linear are flattened, as such a D expects."""
    return (
        len(data_shape) > 1
        and isinstance(module, nn.Sequential)
        and len(module) > 0
        and isinstance(module[0], nn.Linear)
    )


SIGMOIDS = (torch.sigmoid, torch.Tensor.sigmoid, torch.special.expit)  # nn.Sigmoid and F.sigmoid call these


class _Sigmoids(TorchFunctionMode):
    """Sees every sigmoid computed while active: keeps their outputs (`keep`), and gives the input of the
    `logit_at`-th one (its logit) in place of its output."""

    def __init__(self, *, keep: bool = False, logit_at: int | None = None):
        super().__init__()
        self.keep, self.logit_at, self.count, self.outputs = keep, logit_at, 0, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in SIGMOIDS:
            return func(*args, **kwargs)
        index, self.count = self.count, self.count + 1
        if index == self.logit_at:
            return args[0]
        output = func(*args, **kwargs)
        if self.keep:
            self.outputs.append(output)
        return output


def _views(output: torch.Tensor, source: torch.Tensor) -> bool:
    """Whether `output` holds exactly the elements of `source` (itself, or a reshaped or squeezed view of it)."""
    return (
        output.numel() == source.numel()
        and output.storage_offset() == source.storage_offset()
        and output.untyped_storage().data_ptr() == source.untyped_storage().data_ptr()
    )


@dataclass(frozen=True)
class Calls:
    """How gankit calls one pair of the user's networks, found by running them (`check_networks`).

    `g_one_hot` / `d_one_hot`: the network takes its labels one-hot, float (B, n_classes), rather than as
    int64 (B,) class numbers. `d_flat`: D gets images flattened to (B, H*W*C). `final_sigmoid`: D ends
    in a sigmoid, computed by this nn.Sigmoid layer, or by the sigmoid call of this index in D's forward
    (torch.sigmoid, F.sigmoid); gankit's calls get the sigmoid's input, the logit, in place of its output.
    """

    g_one_hot: bool = False
    d_one_hot: bool = False
    d_flat: bool = False
    final_sigmoid: nn.Module | int | None = None

    @property
    def outputs_probability(self) -> bool:
        """Whether D's own outputs are P(real), sigmoid(logit)."""
        return self.final_sigmoid is not None


def _with_labels(call: Call, one_hot: bool, n_classes: int) -> Call:
    if not one_hot:
        return call
    return lambda x, labels: call(x, torch.nn.functional.one_hot(labels, n_classes).to(x.dtype))


def _logits_of(module: nn.Module, final_sigmoid: nn.Module | int | None) -> Call:
    """`module`'s outputs with its final sigmoid left out, when it has one."""
    if final_sigmoid is None:
        return module
    if isinstance(final_sigmoid, nn.Module):

        def through_layer(*inputs: torch.Tensor) -> torch.Tensor:
            handle = final_sigmoid.register_forward_hook(lambda _layer, args, _output: args[0])
            try:
                return module(*inputs)
            finally:
                handle.remove()

        return through_layer

    def through_call(*inputs: torch.Tensor) -> torch.Tensor:
        with _Sigmoids(logit_at=final_sigmoid):
            return module(*inputs)

    return through_call


def generator_call(
    module: nn.Module, data_shape: Sequence[int], conditional: bool, calls: Calls = Calls(), n_classes: int = 0
) -> Call:
    """`call(z, labels)` -> samples (B, *data_shape) from `module`."""
    if getattr(module, "keeps_contract", False):  # gankit's own: called as they are (no reshape per call)
        return module
    shape = tuple(data_shape)
    if conditional:
        labelled = _with_labels(module, calls.g_one_hot, n_classes)
        return lambda z, labels: labelled(z, labels).reshape(len(z), *shape)
    return lambda z, labels=None: module(z).reshape(len(z), *shape)


def discriminator_call(
    module: nn.Module,
    data_shape: Sequence[int],
    conditional: bool,
    calls: Calls = Calls(),
    n_classes: int = 0,
    *,
    wrap: Callable[[nn.Module], nn.Module] | None = None,
) -> Call:
    """`call(x, labels)` -> D's logits (B,) of samples x (B, *data_shape). `wrap` wraps the network (e.g. in
    DistributedDataParallel)."""
    if getattr(module, "keeps_contract", False):
        return wrap(module) if wrap is not None else module
    scores = _logits_of(wrap(module) if wrap is not None else module, calls.final_sigmoid)
    inputs = (lambda x: x.reshape(len(x), -1)) if calls.d_flat else (lambda x: x)
    if conditional:
        labelled = _with_labels(scores, calls.d_one_hot, n_classes)
        return lambda x, labels: labelled(inputs(x), labels).reshape(len(x))
    return lambda x, labels=None: scores(inputs(x)).reshape(len(x))


def _name(role: str, module: nn.Module) -> str:
    return f"{role} ({type(module).__name__})"


def _run(role: str, module: nn.Module, attempts: Sequence[tuple[str, Callable[[], Any]]]) -> tuple[int, Any]:
    """(index, result) of the first of `attempts` (what it gives the module, the call) that does not raise;
    GankitError naming the first attempt's failure if none succeeds."""
    first_failure = None
    for index, (_, function) in enumerate(attempts):
        try:
            return index, function()
        except Exception as error:  # the user's code: any failure is reported the same way
            first_failure = first_failure or error
    inputs = attempts[0][0]
    raise GankitError(
        f"{_name(role, module)} raised {type(first_failure).__name__}({_reason(first_failure)!r}) on {inputs}; "
        "accepted: a module "
        f"whose forward takes {inputs}"
    ) from None


def _float_output(role: str, module: nn.Module, output: Any) -> torch.Tensor:
    if not isinstance(output, torch.Tensor) or not output.is_floating_point():
        raise GankitError(f"{_name(role, module)} returned {type(output).__name__}; accepted: a float tensor")
    return output


def _scores_and_final_sigmoid(module: nn.Module, call: Callable[[], Any]) -> tuple[Any, nn.Module | int | None]:
    """D's output and its final sigmoid (see `Calls`), found by running D once and watching its sigmoids."""
    layers = [m for m in module.modules() if isinstance(m, nn.Sigmoid)]
    layer_outputs: list[tuple[nn.Module, torch.Tensor]] = []
    hooks = [m.register_forward_hook(lambda m, _, out: layer_outputs.append((m, out))) for m in layers]
    try:
        with _Sigmoids(keep=True) as sigmoids:
            output = call()
    finally:
        for hook in hooks:
            hook.remove()
    if not isinstance(output, torch.Tensor):
        return output, None
    index = next((i for i in reversed(range(sigmoids.count)) if _views(output, sigmoids.outputs[i])), None)
    if index is None:
        if sigmoids.count and output.is_floating_point() and bool(((output >= 0) & (output <= 1)).all()):
            say(
                f"{_name('discriminator', module)} computes a sigmoid but returns something else made from it, so "
                "gankit trains on its outputs as logits; end D's forward with the sigmoid (or return the logit, "
                "without it) for the stable loss and D(x) shown as a probability"
            )
        return output, None
    owners = [m for m, out in layer_outputs if out is sigmoids.outputs[index]]
    if len(owners) == 1 and sum(m is owners[0] for m, _ in layer_outputs) == 1:
        return output, owners[0]  # an nn.Sigmoid layer called once: its input is the logit
    return output, index


def check_networks(
    generator: nn.Module,
    discriminator: nn.Module,
    *,
    latent_dim: int,
    data_shape: Sequence[int],
    n_classes: int,
    device: torch.device,
) -> Calls:
    """How to call G and D (see `Calls`); GankitError (one line) unless they keep the contract above on a batch
    of PROBE_BATCH (labels as int64 class numbers, or one-hot)."""
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
            one_hot = torch.nn.functional.one_hot(labels, n_classes).float() if n_classes else None
            label_text = f" and labels of shape ({batch},) or one-hot ({batch}, {n_classes})" if n_classes else ""
            z_text = f"z of shape {tuple(z.shape)}{label_text}"
            if n_classes:
                attempts = [(z_text, lambda: generator(z, labels)), (z_text, lambda: generator(z, one_hot))]
            else:
                attempts = [(z_text, lambda: generator(z))]
            g_one_hot, fake = _run("generator", generator, attempts)
            fake = _float_output("generator", generator, fake)
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
            flat = _takes_flat_images(discriminator, shape)
            x = fake.reshape(batch, -1) if flat else fake.reshape(batch, *shape)
            x_text = f"samples of shape {tuple(x.shape)}{label_text}"
            label_inputs = [(labels,), (one_hot,)] if n_classes else [()]
            attempts = [
                (x_text, lambda y=y: _scores_and_final_sigmoid(discriminator, lambda: discriminator(x, *y)))
                for y in label_inputs
            ]
            d_one_hot, (scores, final_sigmoid) = _run("discriminator", discriminator, attempts)
            scores = _float_output("discriminator", discriminator, scores)
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
    return Calls(bool(g_one_hot), bool(d_one_hot), flat, final_sigmoid)


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


def _reason(error: BaseException) -> str:
    """The first line of an error's message, cut short: what a one-line refusal quotes of it."""
    return str(error).splitlines()[0][:160] if str(error) else ""


def users_call(function: Callable[[Any], Any], config: Any, what: str, accepted: str) -> Any:
    """`function(config)`, the user's code: any failure becomes one line naming `what` raised it."""
    try:
        return function(config)
    except Exception as error:
        raise GankitError(f"{what} raised {type(error).__name__}({_reason(error)!r}); accepted: {accepted}") from None


def build(role: str, make: Callable[[Any], Any], config: Any) -> nn.Module:
    """`make(config)`, the user's function for the `role` network: GankitError (one line) if it fails or
    returns anything but an nn.Module."""
    module = users_call(make, config, f"make_{role}(config)", "a function returning an nn.Module")
    if not isinstance(module, nn.Module):
        raise GankitError(f"make_{role}(config) returned {type(module).__name__}; accepted: an nn.Module")
    return module


def check_both_given(generator: Any, discriminator: Any) -> None:
    """GankitError unless both of a G and a D of one's own are given, or neither."""
    if (generator is None) != (discriminator is None):
        raise GankitError("only one of generator= and discriminator= was given; accepted: both of them, or neither")


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
    # Its folder first on the import path while it runs, as `python file.py` has it: modules beside the file
    # import; afterwards the path is as it was, so that no name there shadows another module later.
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(code)
    except (Exception, SystemExit) as error:  # sys.exit() in the file must not end gankit as if all went well
        raise GankitError(
            f"--models={str(path)!r} raised {type(error).__name__}({_reason(error)!r}) when imported; "
            f"accepted: {MODELS_FILE_HELP}"
        ) from None
    finally:
        sys.path.remove(folder)
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
        loss = users_call(
            make_loss, config, f"make_loss(config) in {str(path)!r}", "a function returning a gankit.Loss"
        )
        if not isinstance(loss, Loss):
            raise GankitError(
                f"make_loss(config) in {str(path)!r} returned {type(loss).__name__}; accepted: a gankit.Loss"
            )
        return loss

    return checked
