"""Regression losses the chapters teach that torch does not ship.

One signature per family: ``(input, target, *, ..., reduction="mean")`` for regression, as in
``torch.nn.functional``. Each function follows its inputs' device and dtype.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lossprep.losses._common import check_same_shape, reduce

__all__ = ["log_cosh_loss", "pinball_loss"]


def log_cosh_loss(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """log(cosh(input - target)), computed without overflow.

    ``log(cosh(e)) = |e| + softplus(-2|e|) - log 2``: exact, and finite for any finite ``e``
    (the textbook form overflows for |e| > 710 in float64, > 89 in float32).

    Shape:
        input, target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with ``"none"``.
    """
    check_same_shape(input, target)
    a = (input - target).abs()
    return reduce(a + F.softplus(-2.0 * a) - math.log(2.0), reduction)


def pinball_loss(input: torch.Tensor, target: torch.Tensor, *, q: float = 0.5, reduction: str = "mean") -> torch.Tensor:
    """The pinball (quantile) loss for quantile level ``q``.

    With error ``e = target - input``: ``q * e`` when ``e >= 0`` (under-prediction) and
    ``(q - 1) * e`` when ``e < 0`` (over-prediction). Its minimiser over a constant is the
    q-quantile of the targets; ``q = 0.5`` gives half the absolute error.

    Shape:
        input, target: ``(*)``, the same shape. Output: scalar, or ``(*)`` with ``"none"``.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"Expected 0 < q < 1, got q={q}")
    check_same_shape(input, target)
    e = target - input
    return reduce(torch.maximum(q * e, (q - 1.0) * e), reduction)
