"""What only the chapter "Classification losses" needs: its derivations, its measurements of
where naive formulas break, and its demos.

The chapter and ``tests/test_classification_chapter.py`` both import this module, so the tests
check the very identities and the very fits the page shows. Symbols come from the glossary
(:mod:`lossprep.symbols`), loss formulas from :mod:`lossprep.formulas`. The chapter teaches the
losses the exercises ask for with library functions (``F.binary_cross_entropy_with_logits``,
``F.cross_entropy``), never with an exercise's own functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch
import torch.nn.functional as F

from lossprep import formulas as fm
from lossprep.data import Blobs, Clouds, Scenes
from lossprep.metrics import expected_calibration_error
from lossprep.symbolic import Equations, NotConfirmed, confirm
from lossprep.symbols import a, eta, indexed, logits, m, mu, p, y, z
from lossprep.train import fit, predict

__all__ = [
    "bce_identities",
    "softmax_identities",
    "CanonicalLink",
    "canonical_links",
    "cross_entropy_identity",
    "stable_log_identities",
    "mse_on_sigmoid",
    "Breakdown",
    "breakdown",
    "naive_versus_fused",
    "gradient_descent_accuracy",
    "fit_linear",
    "kink_gradients",
    "expected_score_minimisers",
    "hinge_optimal_score",
    "mlp",
    "fit_temperature",
    "train_blob_classifier",
    "Calibration",
    "calibration_report",
    "multilabel_decoding",
]


# ---------------------------------------------------------------------------------------------
# Derivations, confirmed by SymPy
# ---------------------------------------------------------------------------------------------

SIGMA_TEX = r"\sigma(z)\,\bigl(1 - \sigma(z)\bigr)"


def bce_identities() -> Equations:
    """The steps of the BCE gradient and its convexity: sigma'(z) = sigma(z) (1 - sigma(z)),
    dL/dp = (p - y) / (p (1 - p)), dL/dz = sigma(z) - y and d2L/dz2 = sigma(z) (1 - sigma(z))."""
    s = fm.sigmoid_expr(z)
    loss_z = fm.bce_expr(s, y)
    return (
        confirm(r"\sigma'(z)", sp.diff(s, z), s * (1 - s), SIGMA_TEX)
        + confirm(
            r"\frac{\partial L}{\partial p}",
            sp.diff(fm.bce_expr(p, y), p),
            (p - y) / (p * (1 - p)),
            r"\frac{p - y}{p\,(1 - p)}",
        )
        + confirm(r"\frac{\partial L}{\partial z}", sp.diff(loss_z, z), s - y, r"\sigma(z) - y")
        + confirm(r"\frac{\partial^2 L}{\partial z^2}", sp.diff(loss_z, z, 2), s * (1 - s), SIGMA_TEX)
    )


def softmax_identities(n_classes: int = 3) -> Equations:
    """The softmax Jacobian and the cross-entropy gradient for ``n_classes`` symbolic logits.

    SymPy checks every entry ``dp_k/dz_j`` and every ``dL/dz_j`` for every true class ``t``; the
    page shows the two kinds of Jacobian entry (``j = k`` and ``j != k``) and the gradient."""
    zs = logits(n_classes)
    probs = fm.softmax_exprs(zs)
    jac: dict[str, Equations] = {}
    for k in range(n_classes):
        for j in range(n_classes):
            stated = probs[k] * ((1 if j == k else 0) - probs[j])
            lhs = r"\frac{\partial p_k}{\partial z_k}" if j == k else r"\frac{\partial p_k}{\partial z_j}"
            tex = r"p_k\,(1 - p_k)" if j == k else r"-p_k\, p_j \quad (j \ne k)"
            jac[lhs] = confirm(lhs, sp.diff(probs[k], zs[j]), stated, tex)
    grad = None
    for t in range(n_classes):
        for j in range(n_classes):
            grad = confirm(
                r"\frac{\partial L}{\partial z_j}",
                sp.diff(fm.cross_entropy_expr(zs, t), zs[j]),
                probs[j] - (1 if j == t else 0),
                r"p_j - y_j",
            )
    return jac[r"\frac{\partial p_k}{\partial z_k}"] + jac[r"\frac{\partial p_k}{\partial z_j}"] + grad


@dataclass(frozen=True)
class CanonicalLink:
    """One exponential family written with the model's output ``z`` as natural parameter:
    ``P(y | z) = h(y) exp(z y - A(z))``.

    Attributes:
        family: its name.
        log_partition: ``A(z)``, derived by SymPy from ``h`` (a sum or an integral over ``y``),
            and ``log_partition_tex``, the same as the page writes it (checked equal).
        mean: ``A'(z)``, the mean ``mu`` of ``y``, and ``mean_tex`` (checked equal).
        torch_loss: the PyTorch loss that is this negative log-likelihood (up to a constant).
    """

    family: str
    log_partition: sp.Expr
    log_partition_tex: str
    mean: sp.Expr
    mean_tex: str
    torch_loss: str


def canonical_links() -> list[CanonicalLink]:
    """Bernoulli, Gaussian (unit variance) and Poisson: ``A(z) = log sum_y h(y) exp(z y)``
    computed from the base measure ``h``, then the mean ``A'(z)``; the gradient of the negative
    log-likelihood ``A(z) - z y - log h(y)`` with respect to ``z`` is ``A'(z) - y = mu - y``.

    Raises:
        NotConfirmed: a derived ``A`` or mean differs from the one the page states.
    """
    bernoulli = sp.log(sum(sp.exp(z * v) for v in (0, 1)))
    gaussian = sp.log(sp.integrate(sp.exp(z * y - y**2 / 2) / sp.sqrt(2 * sp.pi), (y, -sp.oo, sp.oo)))
    # the Poisson's sum, in its mean mu = exp(z): sum_y mu^y / y! = exp(mu)
    poisson = sp.log(sp.summation(mu**y / sp.factorial(y), (y, 0, sp.oo))).subs(mu, sp.exp(z))
    rows = [
        ("Bernoulli", bernoulli, sp.log(1 + sp.exp(z)), r"\log\bigl(1 + \exp(z)\bigr)", fm.sigmoid_expr(z),
         r"\sigma(z)", "F.binary_cross_entropy_with_logits"),
        ("Gaussian, unit variance", gaussian, z**2 / 2, r"z^2 / 2", z, "z", "F.mse_loss / 2"),
        ("Poisson", poisson, sp.exp(z), r"\exp(z)", sp.exp(z), r"\exp(z)", "F.poisson_nll_loss(log_input=True)"),
    ]  # fmt: skip
    out = []
    for family, derived, a_stated, a_tex, mean_stated, mean_tex, loss in rows:
        derived = sp.simplify(sp.expand_log(derived, force=True))
        confirm(f"A(z), {family}", derived, a_stated, a_tex)
        confirm(f"A'(z), {family}", sp.diff(derived, z), mean_stated, mean_tex)
        out.append(CanonicalLink(family, derived, a_tex, sp.diff(derived, z), mean_tex, loss))
    return out


def cross_entropy_identity(n_classes: int = 3) -> Equations:
    """``-sum y log p = -sum y log y + sum y log(y / p)`` for a target distribution ``y`` and the
    model's ``p``: cross-entropy is the target's entropy plus the forward KL divergence."""
    ys, ps = indexed(y, n_classes, positive=True), indexed(p, n_classes)
    ce = -sum(a_ * sp.log(b_) for a_, b_ in zip(ys, ps, strict=True))
    entropy = -sum(a_ * sp.log(a_) for a_ in ys)
    kl = sum(a_ * sp.log(a_ / b_) for a_, b_ in zip(ys, ps, strict=True))
    return confirm(
        "H(y, p)", sp.expand_log(ce), sp.expand_log(entropy + kl, force=True), r"H(y) + \mathrm{KL}(y \,\|\, p)"
    )


def stable_log_identities(n_classes: int = 3) -> Equations:
    """The log-sum-exp shift by any constant ``a`` (the code takes the largest logit), and the
    stable log-sigmoid ``min(z, 0) - log(1 + exp(-|z|))``."""
    zs = logits(n_classes)
    total = sum(sp.exp(zj) for zj in zs)
    shifted = sum(sp.exp(zj - a) for zj in zs)
    logsig = sp.log(fm.sigmoid_expr(z))
    stable = sp.Min(z, 0) - sp.log(1 + sp.exp(-sp.Abs(z)))
    return (
        # log is one-to-one, so exp of both sides equal proves the logs equal
        confirm(
            r"\log \sum_j \exp(z_j)",
            total,
            sp.exp(a) * shifted,
            r"a + \log \sum_j \exp(z_j - a)",
        )
        + confirm(
            r"\log \sigma(z)",
            logsig.rewrite(sp.Piecewise),
            stable.rewrite(sp.Piecewise),
            # a second line inside the aligned display, so that it fits a phone
            r"\min(z, 0) \\ &\quad - \log\bigl(1 + \exp(-\lvert z \rvert)\bigr)",
        )
    )


@dataclass(frozen=True)
class MSEOnSigmoid:
    """The squared error on a sigmoid, for a positive example.

    Attributes:
        identities: its gradient ``(p - y) p (1 - p)`` confirmed, and the second derivative.
        inflection: the logit where the second derivative changes sign (``y = 1``).
        gradient_limit: the gradient's limit as ``z -> -oo`` (confidently wrong).
    """

    identities: Equations
    inflection: sp.Expr
    gradient_limit: sp.Expr


def mse_on_sigmoid() -> MSEOnSigmoid:
    """``L = (sigma(z) - y)^2 / 2``: its gradient, its second derivative for ``y = 1`` (negative
    for ``z < -log 2``: not convex), and the vanishing gradient when confidently wrong."""
    s = fm.sigmoid_expr(z)
    loss = (s - y) ** 2 / 2
    grad = sp.diff(loss, z)
    second = sp.diff(loss.subs(y, 1), z, 2)
    roots = sp.solve(sp.simplify(second), z)
    real_roots = [r for r in roots if r.is_real]
    if len(real_roots) != 1:
        raise NotConfirmed(f"Expected one inflection point, got {roots}")
    ids = confirm(r"\frac{\partial L}{\partial z}", grad, (s - y) * s * (1 - s), r"(p - y)\,p\,(1 - p)") + confirm(
        r"\frac{\partial^2 L}{\partial z^2}\Big|_{y=1}",
        second,
        -s * (1 - s) ** 2 * (1 - 3 * s),
        r"-p\,(1 - p)^2\,(1 - 3p)",
    )
    return MSEOnSigmoid(ids, sp.simplify(real_roots[0]), sp.limit(grad.subs(y, 1), z, -sp.oo))


def expected_score_minimisers() -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """For a point whose label is 1 with probability ``eta``: the expected log loss, Brier score
    and absolute error of a forecast ``p``, and the ``p`` in [0, 1] that minimises each
    (``{name: (expected score, minimiser)}``). Log loss and Brier give ``eta`` (strictly proper);
    the absolute error is linear in ``p``, so its minimiser is an end point: 1 when ``eta > 1/2``."""
    scores = {
        "log loss": -eta * sp.log(p) - (1 - eta) * sp.log(1 - p),
        "Brier score": eta * (1 - p) ** 2 + (1 - eta) * p**2,
        "absolute error": eta * (1 - p) + (1 - eta) * p,
    }
    out = {}
    for name, expected in scores.items():
        stationary = [s for s in sp.solve(sp.diff(expected, p), p) if s.is_real is not False]
        if stationary:
            best = stationary[0]
        else:  # linear in p: the minimum sits at an end, p = 1 when eta > 1/2
            slope = sp.diff(expected, p)
            best = sp.Piecewise((1, slope < 0), (0, True))
        out[name] = (expected, best)
    return out


def hinge_optimal_score(eta_value: float) -> float:
    """The constant score ``z`` that minimises the expected hinge loss (margin 1) at a point
    whose label is +1 with probability ``eta_value``: found by SymPy on ``[-2, 2]``, where the
    expected loss is piecewise linear in ``z``."""
    if not 0.0 < eta_value < 1.0:
        raise ValueError(f"Expected 0 < eta < 1, got {eta_value}")
    e_ = sp.nsimplify(eta_value)
    expected = e_ * fm.hinge_expr(z, 1, m).subs(m, 1) + (1 - e_) * fm.hinge_expr(z, -1, m).subs(m, 1)
    candidates = [sp.Integer(v) for v in (-2, -1, 0, 1, 2)]  # the kinks and the ends
    values = [expected.subs(z, c) for c in candidates]
    best = min(range(len(candidates)), key=lambda i: (values[i], abs(candidates[i])))
    return float(candidates[best])


# ---------------------------------------------------------------------------------------------
# Where naive formulas break, measured
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breakdown:
    """Where a float computation of a loss stops being right, scanning |z| upwards on a grid.

    Attributes:
        name: what was computed.
        dtype: ``"float32"`` or ``"float64"``.
        value_wrong, grad_wrong: the first |z| where the value (gradient) is off by more than
            ``rtol`` relative to the exact one, or not finite; ``None`` if never on the grid.
        value_nonfinite, grad_nonfinite: the first |z| where it is inf or NaN; ``None`` if never.
    """

    name: str
    dtype: str
    value_wrong: float | None
    value_nonfinite: float | None
    grad_wrong: float | None
    grad_nonfinite: float | None


def _first(grid: np.ndarray, mask: np.ndarray) -> float | None:
    return float(grid[int(np.argmax(mask))]) if mask.any() else None


def breakdown(
    name: str,
    fn: Callable[[torch.Tensor], torch.Tensor],
    exact_value: Callable[[np.ndarray], np.ndarray],
    exact_grad: Callable[[np.ndarray], np.ndarray],
    *,
    dtype: torch.dtype,
    grid: np.ndarray,
    rtol: float = 1e-3,
) -> Breakdown:
    """Evaluate ``fn`` (per-element loss of a tensor of magnitudes ``|z|``) and its autograd
    gradient at every grid point in ``dtype``, and compare with the exact value and gradient
    (NumPy float64, from stable formulas independent of torch)."""
    x = torch.tensor(grid, dtype=dtype, requires_grad=True)
    value = fn(x)
    (grad,) = torch.autograd.grad(value.sum(), x)
    v, g = value.detach().double().numpy(), grad.double().numpy()
    want_v, want_g = exact_value(grid), exact_grad(grid)
    with np.errstate(invalid="ignore"):
        bad_v = ~np.isfinite(v) | (np.abs(v - want_v) > rtol * np.abs(want_v))
        bad_g = ~np.isfinite(g) | (np.abs(g - want_g) > rtol * np.abs(want_g))
    return Breakdown(
        name=name,
        dtype=str(dtype).removeprefix("torch."),
        value_wrong=_first(grid, bad_v),
        value_nonfinite=_first(grid, ~np.isfinite(v)),
        grad_wrong=_first(grid, bad_g),
        grad_nonfinite=_first(grid, ~np.isfinite(g)),
    )


def _logits_with_rival(rival: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Rows of ``n_classes`` logits, all 0 except the first, which is ``rival``."""
    rest = torch.zeros(rival.shape[0], n_classes - 1, dtype=rival.dtype)
    return torch.cat([rival[:, None], rest], dim=1)


def naive_versus_fused(grid: np.ndarray | None = None, *, n_classes: int = 10) -> list[Breakdown]:
    """The confidently wrong side, where a loss must be large and its gradient about 1.

    Binary: a positive example at logit ``-|z|``; the loss ``-log sigmoid(-|z|) = log(1 + e^{|z|})``.
    Softmax: ``n_classes`` logits, one rival class at ``|z|``, the true class (index 1) and the
    others at 0; the loss ``log(e^{|z|} + n_classes - 1)``. Each naive form is measured in
    float32 and float64, next to the fused PyTorch function.
    """
    grid = np.arange(1, 100_001) * 0.01 if grid is None else np.asarray(grid, dtype=np.float64)
    rest = float(n_classes - 1)

    def sig_exact(a: np.ndarray) -> np.ndarray:
        return np.logaddexp(0.0, a)

    def sig_grad(a: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-a))

    def soft_exact(a: np.ndarray) -> np.ndarray:
        return np.logaddexp(a, math.log(rest))

    def soft_grad(a: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + rest * np.exp(-a))

    target = torch.ones(len(grid), dtype=torch.long)

    def hand_softmax(x: torch.Tensor) -> torch.Tensor:
        ex = torch.exp(_logits_with_rival(x, n_classes))
        return -torch.log(ex / ex.sum(dim=1, keepdim=True))[:, 1]

    cases = [
        ("torch.log(torch.sigmoid(z))", lambda x: -torch.log(torch.sigmoid(-x)), sig_exact, sig_grad),
        ("F.logsigmoid(z)", lambda x: -F.logsigmoid(-x), sig_exact, sig_grad),
        ("torch.log(e / e.sum()), e = exp(z)", hand_softmax, soft_exact, soft_grad),
        (
            "torch.log(torch.softmax(z))",
            lambda x: -torch.log(torch.softmax(_logits_with_rival(x, n_classes), dim=1))[:, 1],
            soft_exact,
            soft_grad,
        ),
        (
            "F.cross_entropy(z)",
            lambda x: F.cross_entropy(_logits_with_rival(x, n_classes), target, reduction="none"),
            soft_exact,
            soft_grad,
        ),
    ]
    return [
        breakdown(name, fn, ev, eg, dtype=dtype, grid=grid)
        for name, fn, ev, eg in cases
        for dtype in (torch.float32, torch.float64)
    ]


# ---------------------------------------------------------------------------------------------
# Demos
# ---------------------------------------------------------------------------------------------


def gradient_descent_accuracy(
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    data: Clouds,
    *,
    start: tuple[float, float, float] = (-3.0, -3.0, 0.0),
    steps: int = 500,
    lr: float = 0.5,
) -> np.ndarray:
    """Plain full-batch gradient descent on a linear classifier ``z = w . x + b`` from the
    weights ``start = (w1, w2, b)``, returning the training accuracy before each step
    (``steps`` values). Plain gradient descent, not Adam: Adam rescales each step by the
    gradient's size and would hide how small the gradient is."""
    params = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    X, y_ = data.X.double(), data.y.double()
    accuracy = np.empty(steps)
    for step in range(steps):
        logits = X @ params[:2] + params[2]
        accuracy[step] = float(((logits > 0).double() == y_).double().mean())
        (grad,) = torch.autograd.grad(loss_fn(logits, y_), params)
        with torch.no_grad():
            params -= lr * grad
    return accuracy


def fit_linear(
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    data: Clouds,
    *,
    epochs: int = 400,
    lr: float = 0.05,
    weight_decay: float = 0.0,
    device: torch.device | str | None = None,
) -> torch.nn.Linear:
    """A linear classifier ``(N, 2) -> (N,)`` fitted with Adam from zero, full batch.
    ``weight_decay`` gives the hinge loss its SVM regulariser."""
    layer = torch.nn.Linear(data.X.shape[1], 1)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    model = torch.nn.Sequential(layer, torch.nn.Flatten(0))
    fit(model, loss_fn, data.X, data.y, epochs=epochs, lr=lr, weight_decay=weight_decay, device=device)
    return layer.cpu()


def kink_gradients(margin: float = 1.0) -> dict[str, float]:
    """The autograd gradient of ``max(0, margin - z)`` with respect to ``z`` at the kink
    ``z = margin`` (a positive example exactly on the margin), for three ways to write it."""
    forms = {
        "torch.clamp(m - z, min=0)": lambda t: torch.clamp(margin - t, min=0.0),
        "F.relu(m - z)": lambda t: F.relu(margin - t),
        "torch.maximum(m - z, 0)": lambda t: torch.maximum(margin - t, torch.zeros_like(t)),
    }
    out = {}
    for name, fn in forms.items():
        t = torch.tensor([margin], dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(fn(t).sum(), t)
        out[name] = float(grad)
    return out


def mlp(n_classes: int, *, hidden: int = 64, seed: int = 0) -> torch.nn.Module:
    """A two-hidden-layer ReLU network ``(N, 2) -> (N, n_classes)``, initialised from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    layers = [torch.nn.Linear(2, hidden), torch.nn.Linear(hidden, hidden), torch.nn.Linear(hidden, n_classes)]
    with torch.no_grad():
        for layer in layers:
            bound = 1.0 / math.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=gen)
            layer.bias.uniform_(-bound, bound, generator=gen)
    return torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1], torch.nn.ReLU(), layers[2])


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature ``T > 0`` that minimises the cross-entropy of ``softmax(logits / T)``
    on held-out ``labels`` (Guo et al. 2017): L-BFGS on ``log T``, from ``T = 1``."""
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"Expected logits (N, C) and labels (N,), got {tuple(logits.shape)} and {tuple(labels.shape)}")
    z64, t = logits.detach().double().cpu(), labels.cpu()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=1.0, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(z64 / log_t.exp(), t)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())


@dataclass(frozen=True)
class Calibration:
    """How a classifier's probabilities hold up on held-out data.

    Attributes:
        accuracy: fraction of argmax predictions that are right.
        confidence: mean top-label probability.
        nll: mean cross-entropy.
        ece: expected calibration error of the top label (15 bins).
    """

    accuracy: float
    confidence: float
    nll: float
    ece: float


def calibration_report(logits: torch.Tensor, labels: torch.Tensor, *, temperature: float = 1.0) -> Calibration:
    """:class:`Calibration` of ``softmax(logits / temperature)`` against ``labels``."""
    scaled = logits.detach().double().cpu() / temperature
    probs = scaled.softmax(dim=1)
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels.cpu()).double()
    return Calibration(
        accuracy=float(correct.mean()),
        confidence=float(confidence.mean()),
        nll=float(F.cross_entropy(scaled, labels.cpu())),
        ece=expected_calibration_error(confidence, correct),
    )


def train_blob_classifier(
    data: Blobs, *, label_smoothing: float = 0.0, epochs: int = 1000, lr: float = 5e-3, device=None
) -> torch.nn.Module:
    """The overconfident network: :func:`mlp` trained full batch with Adam on few points, long
    enough to fit most of their labels, with ``F.cross_entropy(label_smoothing=...)``."""
    model = mlp(data.n_classes)
    fit(
        model,
        lambda logits, t: F.cross_entropy(logits, t, label_smoothing=label_smoothing),
        data.X,
        data.y,
        epochs=epochs,
        lr=lr,
        device=device,
    )
    return model


def multilabel_decoding(
    train: Scenes, test: Scenes, *, epochs: int = 300, lr: float = 0.05, device=None
) -> dict[str, dict[str, float]]:
    """A linear model trained two ways on the same scenes: softmax cross-entropy against the
    labels spread evenly (``Y / Y.sum(1)``, as Mahajan et al. 2018 did) and one sigmoid with
    binary cross-entropy per label. Decoded by argmax, by a 0.5 threshold, and, as a diagnostic
    only, by the top ``k`` scores with ``k`` each scene's true number of labels (unknown at
    prediction time). Returns ``{decoding: {"labels": mean labels per scene, "f1": micro-F1}}``.
    """
    n_labels = train.Y.shape[1]

    def linear() -> torch.nn.Linear:
        layer = torch.nn.Linear(train.X.shape[1], n_labels)
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
        return layer

    softmax_model, sigmoid_model = linear(), linear()
    spread = train.Y / train.Y.sum(dim=1, keepdim=True)
    fit(softmax_model, F.cross_entropy, train.X, spread, epochs=epochs, lr=lr, device=device)
    fit(sigmoid_model, F.binary_cross_entropy_with_logits, train.X, train.Y, epochs=epochs, lr=lr, device=device)
    z_soft, z_sig = predict(softmax_model, test.X), predict(sigmoid_model, test.X)
    truth = test.Y.bool()
    k = test.Y.sum(dim=1).long()

    def top_k(scores: torch.Tensor) -> torch.Tensor:
        ranks = scores.argsort(dim=1, descending=True).argsort(dim=1)
        return ranks < k[:, None]

    decodings = {
        "softmax, argmax": F.one_hot(z_soft.argmax(dim=1), n_labels).bool(),
        "sigmoid, p >= 0.5": torch.sigmoid(z_sig) >= 0.5,
        "softmax, top-k (true k)": top_k(z_soft),
        "sigmoid, top-k (true k)": top_k(z_sig),
    }
    out = {}
    for name, pred in decodings.items():
        tp = (pred & truth).sum().item()
        wrong = (pred ^ truth).sum().item()
        out[name] = {"labels": float(pred.sum(dim=1).double().mean()), "f1": 2 * tp / (2 * tp + wrong)}
    return out
