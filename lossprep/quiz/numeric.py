"""Numeric cards: each draws fresh parameters and computes its answer.

A numeric card names a generator of :data:`GENERATORS`; the generator takes a
:class:`random.Random` and returns a :class:`NumericInstance` (the parameters to show and the
answer). The formulas are plain :mod:`math`, so a quiz session never imports torch; the tests
(``tests/test_quiz_cards.py``) check every generator against the course's PyTorch code
(``torch.nn.functional`` and :mod:`lossprep.losses`) on many draws, so the two cannot drift.

Example::

    >>> import random
    >>> inst = GENERATORS["bce_positive"](random.Random(0))
    >>> round(inst.answer, 4) == round(-math.log(inst.params["p"]), 4)
    True
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["NumericInstance", "GENERATORS", "generator", "draw", "is_close"]


@dataclass(frozen=True)
class NumericInstance:
    """One draw of a numeric card: ``params`` fill the question's ``{name}`` fields."""

    params: dict[str, float | int | str]
    answer: float
    steps: str = ""


GENERATORS: dict[str, Callable[[random.Random], NumericInstance]] = {}


def generator(
    name: str,
) -> Callable[[Callable[[random.Random], NumericInstance]], Callable[[random.Random], NumericInstance]]:
    """Register a generator under ``name`` (the ``generator:`` field of a numeric card)."""

    def deco(fn: Callable[[random.Random], NumericInstance]) -> Callable[[random.Random], NumericInstance]:
        if name in GENERATORS:
            raise ValueError(f"Expected a new generator name, got duplicate {name!r}")
        GENERATORS[name] = fn
        return fn

    return deco


def draw(name: str, rng: random.Random) -> NumericInstance:
    """Draw one instance of generator ``name``."""
    try:
        gen = GENERATORS[name]
    except KeyError:
        raise ValueError(f"Expected a generator in {sorted(GENERATORS)}, got {name!r}") from None
    return gen(rng)


def is_close(given: float, answer: float, *, rel: float = 0.01, abs_tol: float = 0.005) -> bool:
    """The grading rule: within ``rel`` relative error or ``abs_tol`` absolute error."""
    return math.isfinite(given) and math.isclose(given, answer, rel_tol=rel, abs_tol=abs_tol)


def _r(rng: random.Random, lo: float, hi: float, nd: int = 2) -> float:
    return round(rng.uniform(lo, hi), nd)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _softmax(zs: list[float]) -> list[float]:
    m = max(zs)
    ex = [math.exp(v - m) for v in zs]
    s = sum(ex)
    return [v / s for v in ex]


# --- classification (chapter "Losses are likelihoods") ---------------------------------


@generator("bce_positive")
def bce_positive(rng: random.Random) -> NumericInstance:
    """BCE of one positive example (y = 1) predicted with probability p: -ln p."""
    p = _r(rng, 0.05, 0.95)
    return NumericInstance({"p": p}, -math.log(p), f"-ln({p})")


@generator("bce_negative")
def bce_negative(rng: random.Random) -> NumericInstance:
    """BCE of one negative example (y = 0) predicted with probability p: -ln(1 - p)."""
    p = _r(rng, 0.05, 0.95)
    return NumericInstance({"p": p}, -math.log(1.0 - p), f"-ln(1 - {p})")


@generator("bce_logit_grad")
def bce_logit_grad(rng: random.Random) -> NumericInstance:
    """d BCE / d z for logit z and label y: sigmoid(z) - y."""
    z = _r(rng, -3.0, 3.0, 1)
    y = rng.choice([0, 1])
    return NumericInstance({"z": z, "y": y}, _sigmoid(z) - y, f"sigmoid({z}) - {y}")


@generator("bce_from_logit")
def bce_from_logit(rng: random.Random) -> NumericInstance:
    """BCE with logits for y = 1: softplus(-z) = ln(1 + e^-z)."""
    z = _r(rng, -4.0, 4.0, 1)
    return NumericInstance({"z": z}, math.log1p(math.exp(-z)), f"ln(1 + exp({-z}))")


@generator("softmax_ce")
def softmax_ce(rng: random.Random) -> NumericInstance:
    """Cross-entropy of logits (z1, z2, z3) when the true class is k: -log softmax(z)_k."""
    zs = [_r(rng, -2.0, 2.0, 1) for _ in range(3)]
    k = rng.randrange(3)
    p = _softmax(zs)
    return NumericInstance({"z1": zs[0], "z2": zs[1], "z3": zs[2], "k": k + 1}, -math.log(p[k]), "-log softmax(z)_k")


@generator("softmax_ce_grad")
def softmax_ce_grad(rng: random.Random) -> NumericInstance:
    """d CE / d z_1 for logits (z1, z2, z3) and true class k: p_1 - [k = 1]."""
    zs = [_r(rng, -2.0, 2.0, 1) for _ in range(3)]
    k = rng.randrange(3)
    p = _softmax(zs)
    return NumericInstance(
        {"z1": zs[0], "z2": zs[1], "z3": zs[2], "k": k + 1}, p[0] - (1.0 if k == 0 else 0.0), "p_1 - y_1"
    )


@generator("gaussian_nll")
def gaussian_nll(rng: random.Random) -> NumericInstance:
    """Gaussian NLL of one target: (y - yhat)^2 / (2 sigma^2) + ln(sigma) + ln(2 pi)/2."""
    y = _r(rng, -2.0, 2.0, 1)
    yhat = _r(rng, -2.0, 2.0, 1)
    s = rng.choice([0.5, 1.0, 2.0])
    ans = (y - yhat) ** 2 / (2 * s * s) + math.log(s) + 0.5 * math.log(2 * math.pi)
    return NumericInstance({"y": y, "yhat": yhat, "sigma": s}, ans, "e^2/(2 sigma^2) + ln sigma + ln(2 pi)/2")


@generator("sample_quantile")
def sample_quantile(rng: random.Random) -> NumericInstance:
    """The constant minimising the mean pinball loss on 5 sorted values at q = 0.2 k: a sample quantile."""
    values = sorted(rng.sample(range(1, 60), 5))
    k = rng.choice([1, 2, 3])  # q in {0.3, 0.5, 0.7} picks the 2nd, 3rd, 4th value: no ties in the argmin
    q = {1: 0.3, 2: 0.5, 3: 0.7}[k]
    ans = float(values[k])
    return NumericInstance({"values": ", ".join(map(str, values)), "q": q}, ans, f"the {q}-quantile")


# --- regression (chapter "Regression losses") ---------------------------------------------


@generator("mse_three")
def mse_three(rng: random.Random) -> NumericInstance:
    """MSE of three errors (mean of squares, as F.mse_loss)."""
    es = [rng.randint(-5, 5) for _ in range(3)]
    return NumericInstance({"e1": es[0], "e2": es[1], "e3": es[2]}, sum(v * v for v in es) / 3, "mean of squares")


@generator("mae_three")
def mae_three(rng: random.Random) -> NumericInstance:
    """MAE of three errors."""
    es = [rng.randint(-9, 9) for _ in range(3)]
    return NumericInstance({"e1": es[0], "e2": es[1], "e3": es[2]}, sum(abs(v) for v in es) / 3, "mean of |e|")


@generator("huber")
def huber(rng: random.Random) -> NumericInstance:
    """Huber loss of one error e with threshold delta (F.huber_loss)."""
    d = rng.choice([0.5, 1.0, 2.0])
    e = _r(rng, -5.0, 5.0, 1)
    a = abs(e)
    ans = 0.5 * e * e if a <= d else d * (a - 0.5 * d)
    return NumericInstance({"e": e, "delta": d}, ans, "e^2/2 if |e| <= delta else delta(|e| - delta/2)")


@generator("smooth_l1")
def smooth_l1(rng: random.Random) -> NumericInstance:
    """smooth_l1_loss of one error e with threshold beta (= huber / beta)."""
    b = rng.choice([0.5, 1.0, 2.0])
    e = _r(rng, -5.0, 5.0, 1)
    a = abs(e)
    ans = 0.5 * e * e / b if a < b else a - 0.5 * b
    return NumericInstance({"e": e, "beta": b}, ans, "e^2/(2 beta) if |e| < beta else |e| - beta/2")


@generator("huber_grad")
def huber_grad(rng: random.Random) -> NumericInstance:
    """d Huber / d yhat for target y, prediction yhat and threshold delta: -clip(y - yhat, -delta, delta)."""
    d = rng.choice([1.0, 2.0])
    y = _r(rng, -4.0, 4.0, 1)
    yhat = _r(rng, -4.0, 4.0, 1)
    e = y - yhat
    return NumericInstance({"y": y, "yhat": yhat, "delta": d}, -max(-d, min(d, e)), "-clip(e, -delta, delta)")


@generator("log_cosh")
def log_cosh(rng: random.Random) -> NumericInstance:
    """log(cosh(e)) for one error, computed stably."""
    e = _r(rng, -6.0, 6.0, 1)
    a = abs(e)
    return NumericInstance(
        {"e": e}, a + math.log1p(math.exp(-2 * a)) - math.log(2.0), "|e| + log(1 + e^(-2|e|)) - log 2"
    )


@generator("pinball")
def pinball(rng: random.Random) -> NumericInstance:
    """Pinball loss at level q for target y and prediction yhat (lossprep.losses.pinball_loss)."""
    q = rng.choice([0.1, 0.25, 0.75, 0.9])
    y = rng.randint(0, 20)
    yhat = rng.randint(0, 20)
    while yhat == y:
        yhat = rng.randint(0, 20)
    e = y - yhat
    return NumericInstance(
        {"q": q, "y": y, "yhat": yhat}, q * e if e >= 0 else (q - 1) * e, "q e if e >= 0 else (q - 1) e"
    )


@generator("outlier_share")
def outlier_share(rng: random.Random) -> NumericInstance:
    """Share (in %) of the summed squared error coming from n_out outliers with error b, vs n_reg with error a."""
    n_reg = rng.choice([5_000, 10_000, 20_000])
    n_out = rng.choice([20, 50, 100])
    a = rng.choice([20, 50, 80])  # thousands
    b = rng.choice([1_000, 2_000, 3_000])  # thousands
    reg, out = n_reg * a * a, n_out * b * b
    return NumericInstance(
        {"n_reg": n_reg, "n_out": n_out, "a": a, "b": b},
        100.0 * out / (reg + out),
        "100 * n_out b^2 / (n_reg a^2 + n_out b^2)",
    )


@generator("log_error")
def log_error(rng: random.Random) -> NumericInstance:
    """Squared log error of one prediction: (ln yhat - ln y)^2, the same for every price scale."""
    ratio = rng.choice([0.5, 0.8, 1.25, 1.5, 2.0])
    y = rng.choice([150, 400, 3_000])  # thousands
    return NumericInstance({"y": y, "yhat": round(y * ratio, 1), "ratio": ratio}, math.log(ratio) ** 2, "ln(yhat/y)^2")


# --- chapter "Classification losses" (class indices are 0-based, as in PyTorch) ----------------

SMALLEST = 0.05
"""Generators whose answer could be tiny draw again until it is at least this large: the grading
rule's absolute tolerance (``is_close``) would accept 0 for a smaller answer."""


def _until_large(draw_once: Callable[[], NumericInstance]) -> NumericInstance:
    while True:
        inst = draw_once()
        if abs(inst.answer) >= SMALLEST:
            return inst


@generator("cls_softmax_prob")
def cls_softmax_prob(rng: random.Random) -> NumericInstance:
    """softmax(z)_k for three logits (z0, z1, z2) and a 0-based class index k."""

    def once() -> NumericInstance:
        zs = [_r(rng, -2.0, 2.0, 1) for _ in range(3)]
        k = rng.randrange(3)
        return NumericInstance(
            {"z0": zs[0], "z1": zs[1], "z2": zs[2], "k": k}, _softmax(zs)[k], "e^{z_k} / sum_j e^{z_j}"
        )

    return _until_large(once)


@generator("cls_ce_weighted_mean")
def cls_ce_weighted_mean(rng: random.Random) -> NumericInstance:
    """F.cross_entropy(weight=w) with the default mean over three examples of two classes, from
    their per-example losses: sum_i w_{t_i} l_i / sum_i w_{t_i}."""
    losses = [_r(rng, 0.1, 3.0, 1) for _ in range(3)]
    targets = [rng.randrange(2) for _ in range(3)]
    if len(set(targets)) == 1:
        targets[rng.randrange(3)] = 1 - targets[0]
    weights = [1.0, float(rng.choice([2, 3, 4, 5, 9]))]
    num = sum(weights[t] * v for t, v in zip(targets, losses, strict=True))
    den = sum(weights[t] for t in targets)
    params = {f"l{i}": v for i, v in enumerate(losses)} | {f"t{i}": t for i, t in enumerate(targets)}
    params |= {"w0": weights[0], "w1": weights[1]}
    return NumericInstance(params, num / den, f"{num:.4g} / {den:g}: the sum of the targets' weights")


@generator("cls_logsumexp")
def cls_logsumexp(rng: random.Random) -> NumericInstance:
    """log(exp(z0) + exp(z1) + exp(z2)) for large logits, by the shift: a + log(sum exp(z - a))."""
    z0 = rng.choice([300, 500, 800, 1000])
    z1, z2 = z0 - rng.randint(0, 3), z0 - rng.randint(1, 4)
    top = max(z0, z1, z2)
    ans = top + math.log(sum(math.exp(v - top) for v in (z0, z1, z2)))
    return NumericInstance({"z0": z0, "z1": z1, "z2": z2}, ans, f"{top} + log(sum of exp(z - {top}))")


@generator("cls_temperature")
def cls_temperature(rng: random.Random) -> NumericInstance:
    """The largest probability of softmax(z / T) for three logits and a temperature T."""
    zs = [_r(rng, -1.0, 4.0, 1) for _ in range(3)]
    t = rng.choice([0.5, 2.0, 3.0, 4.0])
    return NumericInstance(
        {"z0": zs[0], "z1": zs[1], "z2": zs[2], "T": t}, max(_softmax([v / t for v in zs])), "max softmax(z / T)"
    )


@generator("cls_hinge")
def cls_hinge(rng: random.Random) -> NumericInstance:
    """Hinge loss max(0, 1 - y~ z) for a score z and a label y in {0, 1} (y~ = 2y - 1)."""
    z = _r(rng, -2.5, 2.5, 1)
    y = rng.choice([0, 1])
    return NumericInstance({"z": z, "y": y}, max(0.0, 1.0 - (2 * y - 1) * z), "max(0, 1 - (2y - 1) z)")


@generator("cls_mse_sigmoid_grad")
def cls_mse_sigmoid_grad(rng: random.Random) -> NumericInstance:
    """d/dz of (sigmoid(z) - y)^2 / 2: (p - y) p (1 - p)."""

    def once() -> NumericInstance:
        z = _r(rng, -4.0, 4.0, 1)
        y = rng.choice([0, 1])
        p = _sigmoid(z)
        return NumericInstance({"z": z, "y": y}, (p - y) * p * (1 - p), "(p - y) p (1 - p)")

    return _until_large(once)


@generator("cls_brier")
def cls_brier(rng: random.Random) -> NumericInstance:
    """Brier score (p - y)^2 of one forecast p of the positive class."""

    def once() -> NumericInstance:
        p = _r(rng, 0.05, 0.95)
        y = rng.choice([0, 1])
        return NumericInstance({"p": p, "y": y}, (p - y) ** 2, "(p - y)^2")

    return _until_large(once)


@generator("cls_smoothed_target")
def cls_smoothed_target(rng: random.Random) -> NumericInstance:
    """The target probability of the true class under label smoothing eps with C classes:
    1 - eps + eps / C (F.cross_entropy's label_smoothing)."""
    eps = rng.choice([0.05, 0.1, 0.2, 0.3])
    c = rng.choice([2, 4, 5, 10, 100])
    return NumericInstance({"eps": eps, "C": c}, 1 - eps + eps / c, "1 - eps + eps / C")


# --- chapter "Class imbalance" -----------------------------------------------------------------


@generator("imb_inverse_frequency")
def imb_inverse_frequency(rng: random.Random) -> NumericInstance:
    """The inverse-frequency pos_weight: negatives / positives."""
    n = rng.choice([10_000, 20_000, 50_000])
    pos = rng.choice([50, 100, 200, 250, 400])
    return NumericInstance({"n": n, "pos": pos}, (n - pos) / pos, "(n - pos) / pos")


@generator("imb_logit_shift")
def imb_logit_shift(rng: random.Random) -> NumericInstance:
    """The calibrated probability of a model trained with pos_weight w that outputs p_w:
    sigmoid(logit(p_w) - log w) = p_w / (p_w + w (1 - p_w))."""

    def once() -> NumericInstance:
        pw = _r(rng, 0.3, 0.99)
        w = float(rng.choice([4, 9, 10, 19, 99]))
        return NumericInstance({"p": pw, "w": w}, pw / (pw + w * (1 - pw)), "odds / w, back to a probability")

    return _until_large(once)


@generator("imb_undersample_correction")
def imb_undersample_correction(rng: random.Random) -> NumericInstance:
    """The probability of a model trained on data with only a fraction rho of the negatives
    kept, corrected: rho p_s / (rho p_s + 1 - p_s)."""

    def once() -> NumericInstance:
        ps = _r(rng, 0.2, 0.99)
        keep = rng.choice([0.01, 0.02, 0.05, 0.1, 0.5])
        return NumericInstance(
            {"p": ps, "keep": keep}, keep * ps / (keep * ps + 1 - ps), "odds times the kept fraction"
        )

    return _until_large(once)


@generator("imb_focal_factor")
def imb_focal_factor(rng: random.Random) -> NumericInstance:
    """How many times smaller the focal loss of an example is than its cross-entropy:
    1 / (1 - p_t)^gamma."""
    pt = _r(rng, 0.5, 0.95)
    gamma = rng.choice([0.5, 1.0, 2.0, 3.0])
    return NumericInstance({"pt": pt, "gamma": gamma}, 1.0 / (1 - pt) ** gamma, "1 / (1 - p_t)^gamma")


@generator("imb_focal_loss")
def imb_focal_loss(rng: random.Random) -> NumericInstance:
    """Focal loss -(1 - p_t)^gamma ln p_t of one example (no alpha)."""

    def once() -> NumericInstance:
        pt = _r(rng, 0.05, 0.95)
        gamma = rng.choice([0.5, 1.0, 2.0, 5.0])
        return NumericInstance(
            {"pt": pt, "gamma": gamma}, -((1 - pt) ** gamma) * math.log(pt), "-(1 - p_t)^gamma ln p_t"
        )

    return _until_large(once)


@generator("imb_weighted_grad")
def imb_weighted_grad(rng: random.Random) -> NumericInstance:
    """d/dz of weighted BCE (pos_weight w) for one positive example: w (sigmoid(z) - 1)."""
    z = _r(rng, -3.0, 3.0, 1)
    w = float(rng.choice([2, 5, 10, 20]))
    return NumericInstance({"z": z, "w": w}, w * (_sigmoid(z) - 1.0), "w (p - 1)")


def _confusion_counts(rng: random.Random) -> dict[str, float | int | str]:
    """True positives, false positives and misses of a rare-class detector."""
    return {"tp": rng.randint(20, 90), "fp": rng.randint(5, 200), "fn": rng.randint(5, 90)}


@generator("imb_precision")
def imb_precision(rng: random.Random) -> NumericInstance:
    """Precision TP / (TP + FP) from the counts of a confusion matrix."""
    c = _confusion_counts(rng)
    return NumericInstance(c, c["tp"] / (c["tp"] + c["fp"]), "TP / (TP + FP)")


@generator("imb_recall")
def imb_recall(rng: random.Random) -> NumericInstance:
    """Recall TP / (TP + FN) from the counts of a confusion matrix."""
    c = _confusion_counts(rng)
    return NumericInstance(c, c["tp"] / (c["tp"] + c["fn"]), "TP / (TP + FN)")
