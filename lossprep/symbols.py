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

# --- classification and class imbalance (chapters "Classification losses", "Class imbalance") --

eta = sp.Symbol("eta", positive=True)
"""The true probability ``P(y = 1 | x)`` of the positive class at one input, ``0 < eta < 1``."""
mu = sp.Symbol("mu", real=True)
"""The mean ``E[y | x]`` a model predicts (``sigmoid(z)``, ``softmax(z)``, ``z``, ``exp(z)`` under the canonical links)."""
p_t = sp.Symbol("p_t", positive=True)
"""The probability the model gives the true class: ``p`` for a positive, ``1 - p`` for a negative."""
y_pm = sp.Symbol(r"\tilde{y}", real=True)
"""A binary label written in {-1, +1} (``2y - 1``), as the hinge loss takes it."""
w = sp.Symbol("w", positive=True)
"""The weight of the positive class in weighted binary cross-entropy (PyTorch's ``pos_weight``)."""
gamma = sp.Symbol("gamma", nonnegative=True)
"""Focal loss's focusing parameter: the modulating factor is ``(1 - p_t)**gamma``."""
alpha = sp.Symbol("alpha", positive=True)
"""Focal loss's class-balance weight: ``alpha`` on positives, ``1 - alpha`` on negatives."""
T = sp.Symbol("T", positive=True)
"""A softmax temperature: probabilities ``softmax(z / T)``."""
m = sp.Symbol("m", positive=True)
"""The hinge loss's margin: ``max(0, m - y_pm * z)``."""
epsilon = sp.Symbol("epsilon", positive=True)
"""The label-smoothing amount: the target puts ``1 - epsilon + epsilon / C`` on the true class."""
rho = sp.Symbol("rho", positive=True)
"""The fraction of the negatives that undersampling keeps."""
a = sp.Symbol("a", real=True)
"""Any constant subtracted from every logit: the log-sum-exp shift (the largest logit in code)."""
u = sp.Symbol("u", positive=True)
"""A positive amount, to write 'near a point' as an equation (``p_t = 1 - u``)."""


def indexed(symbol: sp.Symbol, n: int, **assumptions: bool) -> tuple[sp.Symbol, ...]:
    """``symbol_0, ..., symbol_{n-1}``: the components of a vector over ``n`` classes (0-based, as
    PyTorch indexes classes), such as ``p_0, p_1, p_2``. They have ``symbol``'s assumptions, or
    ``assumptions`` when given (``positive=True`` for a target that is a distribution)."""
    if n < 1:
        raise ValueError(f"Expected n >= 1, got {n}")
    kept = assumptions or {k: v for k, v in symbol.assumptions0.items() if k in ("real", "positive", "nonnegative")}
    return tuple(sp.Symbol(f"{symbol.name}_{i}", **kept) for i in range(n))


def logits(n_classes: int) -> tuple[sp.Symbol, ...]:
    """The logits ``z_0, ..., z_{C-1}`` of ``n_classes`` classes (0-based, as PyTorch indexes classes)."""
    if n_classes < 2:
        raise ValueError(f"Expected at least 2 classes, got {n_classes}")
    return indexed(z, n_classes)


__all__ += ["eta", "mu", "p_t", "y_pm", "w", "gamma", "alpha", "T", "m", "epsilon", "rho", "a", "u"]
__all__ += ["indexed", "logits"]

GLOSSARY += (
    (eta, r"\eta", r"the true probability $P(y = 1 \mid x)$ of the positive class"),
    (mu, r"\mu", r"the mean $\E[y \mid x]$ a model predicts"),
    (p_t, "p_{t}", "the probability the model gives the true class"),
    (y_pm, r"\tilde{y}", r"a binary label in $\{-1, +1\}$, $\tilde y = 2y - 1$"),
    (w, "w", "the weight of the positive class (`pos_weight`)"),
    (gamma, r"\gamma", "focal loss's focusing parameter"),
    (alpha, r"\alpha", "focal loss's class-balance weight"),
    (T, "T", "a softmax temperature"),
    (m, "m", "the hinge loss's margin"),
    (epsilon, r"\epsilon", "the label-smoothing amount"),
    (rho, r"\rho", "the fraction of the negatives that undersampling keeps"),
    (a, "a", "a constant subtracted from every logit (the log-sum-exp shift)"),
    (u, "u", r"a positive amount, to write 'near a point' as an equation ($p_t = 1 - u$)"),
)
