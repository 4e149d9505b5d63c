"""The book's one glossary of SymPy symbols: one meaning per symbol, shared by every chapter.

Chapters, their modules and the tests import their symbols from here (never define their
own), so a symbol means the same on every page. ``GLOSSARY`` lists each symbol with its TeX
form and meaning, in the order the book introduces them; the glossary page is built from it.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["y", "y_hat", "e", "z", "p", "sigma", "b", "q", "delta", "beta", "GLOSSARY"]

y = sp.Symbol("y", real=True)
"""The target (label) of one example."""
y_hat = sp.Symbol(r"\hat{y}", real=True)
"""The model's prediction for one example."""
e = sp.Symbol("e", real=True)
"""The error (residual) ``y - y_hat``."""
z = sp.Symbol("z", real=True)
"""A logit: the model's unbounded score before the sigmoid or softmax."""
p = sp.Symbol("p", positive=True)
"""A predicted probability (of the positive class, or of the target class)."""
sigma = sp.Symbol("sigma", positive=True)
"""The scale of the noise in a regression noise model."""
b = sp.Symbol("b", positive=True)
"""The scale of the Laplace noise model."""
q = sp.Symbol("q", positive=True)
"""A quantile level, ``0 < q < 1`` (the pinball loss)."""
delta = sp.Symbol("delta", positive=True)
"""Huber's threshold: quadratic for ``|e| <= delta``, linear beyond (``F.huber_loss(delta=...)``)."""
beta = sp.Symbol("beta", positive=True)
"""``F.smooth_l1_loss``'s threshold (PyTorch's name)."""

GLOSSARY: tuple[tuple[sp.Symbol, str, str], ...] = (
    (y, "y", "the target (label) of one example"),
    (y_hat, r"\hat{y}", "the model's prediction for one example"),
    (e, "e", r"the error (residual) $y - \hat{y}$"),
    (z, "z", "a logit: the unbounded score before the sigmoid or softmax"),
    (p, "p", "a predicted probability"),
    (sigma, r"\sigma", "the scale of the noise in a regression noise model"),
    (b, "b", "the scale of the Laplace noise model"),
    (q, "q", "a quantile level, $0 < q < 1$"),
    (delta, r"\delta", "Huber's threshold"),
    (beta, r"\beta", "smooth L1's threshold (PyTorch's name)"),
)
"""``(symbol, TeX, meaning)`` for every symbol above."""
