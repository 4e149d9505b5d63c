"""What only the chapter "Class imbalance" needs: its derivations (the log w shift of weighted
BCE, the focal loss's gradient), its fits and its demo.

The chapter and ``tests/test_imbalance_chapter.py`` both import this module, so the tests check
the very identities and numbers the page shows. The chapter teaches weighted binary
cross-entropy with ``F.binary_cross_entropy_with_logits(pos_weight=...)`` and the correction of
its probabilities in odds form; it never uses an exercise's own functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from lossprep import formulas as fm
from lossprep.data import RareEvents, rare_events
from lossprep.losses import sigmoid_focal_loss
from lossprep.metrics import expected_calibration_error
from lossprep.symbolic import Equations, confirm
from lossprep.symbols import eta, gamma, p, p_t, u, w, y, z

__all__ = [
    "weighted_optimum",
    "weighted_bce_identities",
    "focal_identities",
    "modulating_slope_limit",
    "LinearFit",
    "fit_linear",
    "weighted_bce",
    "LogitShift",
    "logit_shift",
    "correct_for_weight",
    "focal_naive_nan_from",
    "loss_shares",
    "recall_at_precision",
    "threshold_for_precision",
    "Scores",
    "METHODS",
    "train_methods",
    "DemoResult",
    "imbalance_demo",
]


# ---------------------------------------------------------------------------------------------
# Derivations, confirmed by SymPy
# ---------------------------------------------------------------------------------------------


def weighted_optimum() -> tuple[sp.Expr, Equations]:
    """The probability ``p*`` that minimises the expected weighted BCE at a point whose label is
    1 with probability ``eta`` (solved by SymPy), and the equations the chapter states: ``p*``
    itself, and its odds, ``w`` times the true odds (so its logit is ``logit(eta) + log w``)."""
    expected = -w * eta * sp.log(p) - (1 - eta) * sp.log(1 - p)
    (best,) = sp.solve(sp.diff(expected, p), p)
    return best, confirm("p^*", best, w * eta / (w * eta + 1 - eta), r"\frac{w\,\eta}{w\,\eta + 1 - \eta}") + confirm(
        r"\frac{p^*}{1 - p^*}", best / (1 - best), w * eta / (1 - eta), r"w \cdot \frac{\eta}{1 - \eta}"
    )


def weighted_bce_identities() -> Equations:
    """The gradient of weighted BCE with respect to the logit: ``w (p - 1)`` for a positive and
    ``p`` for a negative."""
    grad = sp.diff(fm.weighted_bce_expr(z, y, w), z)
    s = fm.sigmoid_expr(z)
    return confirm(
        r"\frac{\partial L}{\partial z}\Big|_{y=1}", grad.subs(y, 1), w * (s - 1), r"w\,\bigl(\sigma(z) - 1\bigr)"
    ) + confirm(r"\frac{\partial L}{\partial z}\Big|_{y=0}", grad.subs(y, 0), s, r"\sigma(z)")


def focal_identities() -> Equations:
    """The focal loss as a function of the signed logit ``z_t`` (``p_t = sigmoid(z_t)``, written
    with the glossary's ``z``): its gradient ``(1 - p_t)^gamma (gamma p_t log p_t + p_t - 1)``
    (Lin et al. 2017, appendix), and ``gamma = 0`` giving cross-entropy."""
    s = fm.sigmoid_expr(z)
    grad = sp.diff(fm.focal_expr(s, gamma), z)
    return confirm(
        r"\frac{\partial\,\mathrm{FL}}{\partial z_t}",
        grad,
        (1 - s) ** gamma * (gamma * s * sp.log(s) + s - 1),
        r"(1 - p_t)^\gamma \bigl(\gamma\, p_t \log p_t + p_t - 1\bigr)",
    ) + confirm(r"\mathrm{FL}\big|_{\gamma = 0}", fm.focal_expr(p_t, 0), -sp.log(p_t), r"-\log p_t")


def modulating_slope_limit(gamma_value: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """For the modulating factor ``(1 - p_t)^gamma``: the limit of its derivative as ``p_t -> 1``
    from below (``-oo`` for ``0 < gamma < 1``), and the limit of the focal loss's derivative with
    respect to ``p_t`` (0: ``log p_t`` vanishes faster). Both are taken as ``p_t = 1 - u`` with
    ``u -> 0`` from above."""
    near_one = {p_t: 1 - u}
    factor_slope = sp.diff((1 - p_t) ** gamma_value, p_t).subs(near_one)
    loss_slope = sp.diff(fm.focal_expr(p_t, gamma_value), p_t).subs(near_one)
    return sp.limit(factor_slope, u, 0, dir="+"), sp.limit(loss_slope, u, 0, dir="+")


# ---------------------------------------------------------------------------------------------
# Fits
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearFit:
    """A linear logistic-style model ``z = X @ weight + bias``, fitted in float64.

    Attributes:
        weight: ``(d,)``; bias: the intercept; grad_norm: the gradient's norm at the end.
    """

    weight: torch.Tensor
    bias: float
    grad_norm: float

    def logits(self, X: torch.Tensor) -> torch.Tensor:
        """``X @ weight + bias``, float64, shape ``(N,)``."""
        return X.double().cpu() @ self.weight + self.bias


def fit_linear(
    X: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    device: torch.device | str | None = None,
) -> LinearFit:
    """Minimise ``loss_fn(X @ weight + bias, targets)`` over the weights with L-BFGS (full batch,
    float64, from zero) until the gradient vanishes: a converged fit, so what differs between two
    losses is the loss, not the optimiser. ``targets`` may be labels or probabilities."""
    dev = torch.device("cpu") if device is None else torch.device(device)
    if dev.type == "mps":  # no float64 on Apple's GPUs
        dev = torch.device("cpu")
    Xd, td = X.to(dev, torch.float64), targets.to(dev, torch.float64)
    params = torch.zeros(X.shape[1] + 1, dtype=torch.float64, device=dev, requires_grad=True)
    opt = torch.optim.LBFGS(
        [params],
        lr=1.0,
        max_iter=500,
        history_size=20,
        tolerance_grad=1e-10,
        tolerance_change=0.0,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn(Xd @ params[:-1] + params[-1], td)
        loss.backward()
        return loss

    opt.step(closure)
    opt.zero_grad()
    loss_fn(Xd @ params[:-1] + params[-1], td).backward()
    grad_norm = float(params.grad.norm())
    out = params.detach().cpu()
    return LinearFit(weight=out[:-1], bias=float(out[-1]), grad_norm=grad_norm)


def weighted_bce(weight: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``F.binary_cross_entropy_with_logits`` with ``pos_weight=weight``."""

    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        pos = torch.tensor(weight, dtype=logits.dtype, device=logits.device)
        return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos)

    return loss


@dataclass(frozen=True)
class LogitShift:
    """How far a weighted fit's logits sit above an unweighted fit's, on held-out inputs.

    Attributes:
        weight: the positive weight ``w``.
        sampled_mean, sampled_sd: mean and spread of the shift when both are fitted to the
            sampled labels.
        expected_mean, expected_sd: the same when both are fitted to each example's probability
            ``eta`` (the labels' expectation), which removes the sampling noise.
        unweighted, weighted: the fits to the sampled labels.
    """

    weight: float
    sampled_mean: float
    sampled_sd: float
    expected_mean: float
    expected_sd: float
    unweighted: LinearFit
    weighted: LinearFit


def logit_shift(train: RareEvents, held_out: RareEvents, weight: float, *, device=None) -> LogitShift:
    """Fit the linear model with plain and with weighted BCE, first on the sampled labels, then
    on the labels' expectation ``eta = sigmoid(true logit)``, and measure the shift of the
    logits on ``held_out``."""
    plain, weighted = F.binary_cross_entropy_with_logits, weighted_bce(weight)
    eta_ = torch.sigmoid(train.logit.double())
    fits = {
        (kind, name): fit_linear(train.X, target, loss, device=device)
        for kind, target in (("sampled", train.y), ("expected", eta_))
        for name, loss in (("plain", plain), ("weighted", weighted))
    }
    out = {}
    for kind in ("sampled", "expected"):
        d = fits[(kind, "weighted")].logits(held_out.X) - fits[(kind, "plain")].logits(held_out.X)
        out[kind] = (float(d.mean()), float(d.std()))
    return LogitShift(
        weight=weight,
        sampled_mean=out["sampled"][0],
        sampled_sd=out["sampled"][1],
        expected_mean=out["expected"][0],
        expected_sd=out["expected"][1],
        unweighted=fits[("sampled", "plain")],
        weighted=fits[("sampled", "weighted")],
    )


def correct_for_weight(prob: torch.Tensor, weight: float) -> torch.Tensor:
    """Undo the odds a positive weight ``w`` (or undersampling negatives to a fraction ``1/w``)
    multiplied in: divide the odds by ``w``, ``p / (p + w (1 - p))``."""
    if not (math.isfinite(weight) and weight > 0):
        raise ValueError(f"Expected a weight > 0, got {weight}")
    return prob / (prob + weight * (1 - prob))


def focal_naive_nan_from(gamma_value: float, dtype: torch.dtype, grid: np.ndarray | None = None) -> float | None:
    """The first logit ``z`` (scanning upwards on ``grid``) at which the textbook focal loss
    ``BCE * (1 - p_t) ** gamma`` of a positive example has a non-finite autograd gradient; None
    if it never does on the grid."""
    grid = np.arange(1, 20_001) * 0.01 if grid is None else np.asarray(grid, dtype=np.float64)
    logits = torch.tensor(grid, dtype=dtype, requires_grad=True)
    ones = torch.ones_like(logits)
    prob = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, ones, reduction="none")
    (grad,) = torch.autograd.grad((ce * (1 - prob) ** gamma_value).sum(), logits)
    bad = ~torch.isfinite(grad)
    return float(grid[int(bad.int().argmax())]) if bool(bad.any()) else None


def loss_shares(
    logits: torch.Tensor, targets: torch.Tensor, *, gamma_value: float = 2.0, easy: float = 0.9
) -> dict[str, dict[str, float]]:
    """Split the total loss (and the total gradient size) of cross-entropy and of focal loss over
    four groups of examples: positives and negatives, each easy (``p_t > easy``) or hard.
    Returns ``{loss name: {group: share}}``; the shares of one loss sum to 1."""
    z64, t64 = logits.detach().double().cpu(), targets.double().cpu()
    pt = torch.where(t64 == 1, torch.sigmoid(z64), torch.sigmoid(-z64))
    groups = {
        "easy negatives": (t64 == 0) & (pt > easy),
        "hard negatives": (t64 == 0) & (pt <= easy),
        "easy positives": (t64 == 1) & (pt > easy),
        "hard positives": (t64 == 1) & (pt <= easy),
    }
    out = {}
    for name, g in (("cross-entropy", 0.0), (f"focal, gamma = {gamma_value:g}", gamma_value)):
        zz = z64.clone().requires_grad_()
        per = sigmoid_focal_loss(zz, t64, gamma=g, reduction="none")
        (grad,) = torch.autograd.grad(per.sum(), zz)
        out[f"{name}: loss"] = {k: float(per.detach()[m].sum() / per.detach().sum()) for k, m in groups.items()}
        out[f"{name}: gradient"] = {k: float(grad.abs()[m].sum() / grad.abs().sum()) for k, m in groups.items()}
    out["count"] = {k: float(m.double().mean()) for k, m in groups.items()}
    return out


# ---------------------------------------------------------------------------------------------
# Metrics and the demo
# ---------------------------------------------------------------------------------------------


def recall_at_precision(scores: np.ndarray, labels: np.ndarray, precision: float) -> float:
    """The largest recall of any threshold whose precision is at least ``precision`` (0 if none),
    from scikit-learn's ``precision_recall_curve``."""
    prec, rec, _ = precision_recall_curve(labels, scores)
    ok = prec >= precision
    return float(rec[ok].max()) if ok.any() else 0.0


def threshold_for_precision(scores: np.ndarray, labels: np.ndarray, precision: float) -> float:
    """The threshold with the largest recall among those whose precision on ``(scores, labels)``
    is at least ``precision``; ``inf`` (flag nothing) if none reaches it."""
    prec, rec, thr = precision_recall_curve(labels, scores)
    ok = prec[:-1] >= precision  # the last point (recall 0) has no threshold
    if not ok.any():
        return math.inf
    best = np.flatnonzero(ok)[np.argmax(rec[:-1][ok])]
    return float(thr[best])


METHODS = ("BCE", "weighted BCE", "focal", "undersampled BCE")
"""The four ways of training the demo's linear model, in the order the chapter shows them."""


@dataclass(frozen=True)
class Scores:
    """One method's probabilities for one seed: on the validation and on the test set."""

    valid: np.ndarray
    test: np.ndarray


def train_methods(
    train: RareEvents, *, seed: int, focal_gamma: float = 2.0, focal_alpha: float | None = 0.25, device=None
) -> tuple[dict[str, LinearFit], float]:
    """The linear model fitted four ways on ``train``: plain BCE, BCE with the inverse-frequency
    ``pos_weight`` ``w = negatives / positives``, focal loss (RetinaNet's ``gamma = 2``,
    ``alpha = 0.25`` by default), and plain BCE on a balanced undersample (every positive, a
    random ``1/w`` of the negatives, drawn with ``seed``). Returns the fits and ``w``."""
    n_pos = float(train.y.sum())
    if n_pos == 0 or n_pos == len(train):
        raise ValueError("Expected both classes in the training set")
    weight = (len(train) - n_pos) / n_pos
    gen = torch.Generator().manual_seed(seed)
    keep = (train.y == 1) | (torch.rand(len(train), generator=gen) < 1.0 / weight)

    def focal(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return sigmoid_focal_loss(logits, targets, gamma=focal_gamma, alpha=focal_alpha)

    fits = {
        "BCE": fit_linear(train.X, train.y, F.binary_cross_entropy_with_logits, device=device),
        "weighted BCE": fit_linear(train.X, train.y, weighted_bce(weight), device=device),
        "focal": fit_linear(train.X, train.y, focal, device=device),
        "undersampled BCE": fit_linear(train.X[keep], train.y[keep], F.binary_cross_entropy_with_logits, device=device),
    }
    return fits, weight


@dataclass
class DemoResult:
    """The imbalance demo over several seeds.

    Attributes:
        seeds: the training seeds.
        metrics: ``{method: {metric: [one value per seed]}}`` on the test set: ``"PR-AUC"``,
            ``"ROC-AUC"``, ``"recall@P"`` (recall at precision >= ``precision``), ``"ECE"``,
            ``"precision@0.5"``, ``"recall@0.5"``, and after tuning the threshold on the
            validation set ``"tuned threshold"``, ``"tuned precision"``, ``"tuned recall"``.
        weights: the inverse-frequency weight of each seed's training set.
        scores: the first seed's probabilities per method (for the PR curves).
        test_labels, valid_labels: the labels of the test and validation sets.
        bayes_test: the true model's probabilities on the test set.
        precision: the precision target.
    """

    seeds: tuple[int, ...]
    metrics: dict[str, dict[str, list[float]]]
    weights: list[float]
    scores: dict[str, Scores]
    test_labels: np.ndarray
    valid_labels: np.ndarray
    bayes_test: np.ndarray
    precision: float

    def mean(self, method: str, metric: str) -> float:
        return float(np.mean(self.metrics[method][metric]))

    def sd(self, method: str, metric: str) -> float:
        return float(np.std(self.metrics[method][metric], ddof=1))


def _precision_recall_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    flagged = scores >= threshold
    tp = float((flagged & (labels == 1)).sum())
    precision = tp / flagged.sum() if flagged.any() else 0.0
    return precision, tp / float((labels == 1).sum())


def imbalance_demo(
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
    *,
    n_train: int = 20_000,
    n_valid: int = 20_000,
    n_test: int = 100_000,
    positive_rate: float = 0.01,
    precision: float = 0.5,
    device=None,
) -> DemoResult:
    """A 1:100 problem trained with the four :data:`METHODS`, once per seed (a fresh training
    set each time); validation and test sets are shared. Metrics from scikit-learn on the test
    set; the decision threshold is then tuned per method on the validation set for
    ``precision``, and judged on the test set."""
    valid = rare_events(n_valid, positive_rate=positive_rate, seed=10_000)
    test = rare_events(n_test, positive_rate=positive_rate, seed=10_001)
    yv, yt = valid.y.numpy(), test.y.numpy()
    metrics: dict[str, dict[str, list[float]]] = {m: {} for m in METHODS}
    weights: list[float] = []
    first_scores: dict[str, Scores] = {}
    for seed in seeds:
        train = rare_events(n_train, positive_rate=positive_rate, seed=seed)
        fits, weight = train_methods(train, seed=seed, device=device)
        weights.append(weight)
        for method, fit_ in fits.items():
            pv = torch.sigmoid(fit_.logits(valid.X)).numpy()
            pt = torch.sigmoid(fit_.logits(test.X)).numpy()
            if seed == seeds[0]:
                first_scores[method] = Scores(valid=pv, test=pt)
            thr = threshold_for_precision(pv, yv, precision)
            values = {
                "PR-AUC": float(average_precision_score(yt, pt)),
                "ROC-AUC": float(roc_auc_score(yt, pt)),
                "recall@P": recall_at_precision(pt, yt, precision),
                "ECE": expected_calibration_error(pt, yt),
                **dict(zip(("precision@0.5", "recall@0.5"), _precision_recall_at(pt, yt, 0.5), strict=True)),
                "tuned threshold": thr,
                **dict(zip(("tuned precision", "tuned recall"), _precision_recall_at(pt, yt, thr), strict=True)),
            }
            for k, v in values.items():
                metrics[method].setdefault(k, []).append(v)
    return DemoResult(
        seeds=tuple(seeds),
        metrics=metrics,
        weights=weights,
        scores=first_scores,
        test_labels=yt,
        valid_labels=yv,
        bayes_test=torch.sigmoid(test.logit.double()).numpy(),
        precision=precision,
    )
