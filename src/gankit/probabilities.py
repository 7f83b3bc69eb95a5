"""D's probabilities that remember their logits, so that a loss written on probabilities never takes log(0).

A loss of D's outputs written as the lab sheet states it, `torch.log(p)` and `torch.log(1 - p)` with
p = D(x), gives -inf as soon as float32 rounds p to exactly 0 or 1 (|logit| above about 17 for 1 - p,
about 104 for p), and then NaN gradients. torch's own `BCELoss` clamps its logs at -100 for this reason,
but a clamp also zeroes the gradient where it bites, and that is exactly where a saturating loss needs it.

`Probability` is a tensor of sigmoid(logits) (its values are those probabilities, exactly) that also
carries the logits. The few operations a loss of probabilities is written with are answered from the
logits, with the values and gradients of the stable formulas:

- `torch.log(p)`, `p.log()`                 -> logsigmoid(l)
- `1 - p`                                  -> a Probability of the complement, sigmoid(-l)
- `torch.log1p(-p)`                         -> logsigmoid(-l)
- `F.binary_cross_entropy(p, target)` (`nn.BCELoss`) -> `F.binary_cross_entropy_with_logits(l, target)`

Every other operation sees a plain tensor of the probabilities, as before. Where a log is reached by
another road (`torch.log(p + 0)`, say) nothing changes: such a loss can still overflow, and the
divergence message says so.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

_LOGS = (torch.log, torch.Tensor.log)
_LOG1PS = (torch.log1p, torch.Tensor.log1p)
_NEGATIONS = (torch.neg, torch.Tensor.neg, torch.Tensor.__neg__)
_SUBTRACTIONS = (torch.sub, torch.Tensor.sub, torch.Tensor.__sub__)
_ADDITIONS = (torch.add, torch.Tensor.add, torch.Tensor.__add__, torch.Tensor.__radd__)
_BCE = (F.binary_cross_entropy,)


def _is_one(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return not isinstance(value, Probability) and value.numel() > 0 and bool((value == 1).all())
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 1


def _plain(value: Any) -> Any:
    """`value` with every Probability in it (lists and tuples too, as torch.cat takes) a plain tensor."""
    if isinstance(value, Probability):
        return value.as_subclass(torch.Tensor)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


class Probability(torch.Tensor):
    """sigmoid(logits), or with `negated` its negative, -sigmoid(logits): values as a plain tensor would hold
    them, answering log, 1 - p, log1p(-p) and binary cross-entropy from the logits (see the module's text)."""

    _logits: torch.Tensor
    _negated: bool

    @staticmethod
    def __new__(cls, logits: torch.Tensor, *, negated: bool = False) -> Probability:
        values = torch.sigmoid(logits)
        out = (-values if negated else values).as_subclass(cls)
        out._logits, out._negated = logits, negated
        return out

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        answer = _stable(func, args, kwargs)
        if answer is not None:
            return answer
        return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})


def _stable(func, args: tuple, kwargs: dict) -> torch.Tensor | None:
    """The stable answer to `func(*args)` where one is known, else None."""
    first = args[0] if args else None
    second = args[1] if len(args) > 1 else None
    if isinstance(first, Probability) and not kwargs:
        logits = first._logits
        if func in _LOGS and len(args) == 1 and not first._negated:
            return F.logsigmoid(logits)
        if func in _LOG1PS and len(args) == 1 and first._negated:  # log(1 - p)
            return F.logsigmoid(-logits)
        if func in _NEGATIONS and len(args) == 1:
            return Probability(logits, negated=not first._negated)
        if func is torch.Tensor.__rsub__ and _is_one(second) and not first._negated:  # 1 - p
            return Probability(-logits)
        if func in _ADDITIONS and _is_one(second) and first._negated:  # -p + 1
            return Probability(-logits)
    if func in _SUBTRACTIONS and isinstance(second, Probability) and not second._negated and _is_one(first):
        return Probability(-second._logits)  # ones - p
    if func in _BCE and isinstance(first, Probability) and not first._negated:
        target = kwargs.get("target", second)
        weight = kwargs.get("weight", args[2] if len(args) > 2 else None)
        reduction = kwargs.get("reduction", "mean")
        return F.binary_cross_entropy_with_logits(first._logits, _plain(target), _plain(weight), reduction=reduction)
    return None
