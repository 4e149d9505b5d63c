"""Numeric cards: each draws fresh parameters and computes its answer.

A numeric card names a generator of :data:`GENERATORS`; the generator takes a
:class:`random.Random` and returns a :class:`NumericInstance` (the parameters to show and the
answer). The formulas are plain :mod:`math`, so a quiz session never imports torch; the tests
(``tests/test_quiz_cards.py``) check every generator against the course's PyTorch code
(``torch.nn.functional`` and :mod:`lossprep.losses`) on many draws, so the two cannot drift.

Each instance also carries ``steps``: the worked computation with the drawn numbers, ending
in ``= answer`` (what the session shows after an answer). Readers type answers that
:func:`parse_answer` reads: a finite decimal number (``0.25``, ``-1.5e-3``) or a fraction
(``13/3``); a comma is refused, since ``4,667`` could mean 4.667 or 4667.

Example::

    >>> import random
    >>> inst = GENERATORS["bce_positive"](random.Random(0))
    >>> round(inst.answer, 4) == round(-math.log(inst.params["p"]), 4)
    True
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "NumericInstance",
    "GENERATORS",
    "generator",
    "draw",
    "is_close",
    "parse_answer",
    "fixed_instance",
    "fmt_number",
]


@dataclass(frozen=True)
class NumericInstance:
    """One draw of a numeric card: ``params`` fill the question's ``{name}`` fields."""

    params: dict[str, float | int | str]
    answer: float
    steps: str = ""  # the worked computation with the drawn numbers, ending in "= answer"


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


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def parse_answer(text: str) -> float:
    """A reader's answer as a finite float; ``ValueError`` saying why otherwise.

    Accepted: a decimal number with a dot (``0.25``, ``-3``, ``1.5e-3``, a Unicode minus
    too) or a fraction of two such numbers (``13/3``). Refused: ``nan`` and ``inf`` (not a
    value you can compute by hand), commas (``4,667`` could mean 4.667 or 4667: write 4.667
    or 4667), anything else.
    """
    t = text.strip().replace("\u2212", "-").replace(" ", "")
    if not t:
        raise ValueError("Please type a number, e.g. 0.25 or 13/3.")
    if t.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise ValueError(f"{text.strip()} is not a finite number; type the value itself, e.g. 0.25.")
    if "," in t:
        raise ValueError(
            f"{text.strip()} has a comma, which could be a decimal or a thousands separator: "
            "write decimals with a dot (4.667) and no separators (4667)."
        )
    num, sep, den = t.partition("/")
    if not _NUMBER.fullmatch(num) or (sep and not _NUMBER.fullmatch(den)):
        raise ValueError(f"{text.strip()!r} is not a number; type e.g. 0.25, -1.5e-3 or 13/3.")
    value = float(num) / float(den) if sep and float(den) != 0 else float(num) if not sep else math.inf
    if not math.isfinite(value):
        raise ValueError(f"{text.strip()} is not a finite number; type the value itself, e.g. 0.25.")
    return value


def fmt_number(x: float) -> str:
    """An answer as the session prints it: 4 significant digits (``0.9943``, ``4.333``, ``88.89``),
    and two decimals from 1000 on (``1000.17``, ``4666.67``), so a large answer keeps its fraction."""
    if x == 0:
        return "0"
    if abs(x) >= 1e5:
        return f"{x:.6g}"
    if abs(x) >= 1000:
        return f"{x:.2f}".rstrip("0").rstrip(".")
    return f"{x:.4g}"


def _v(x: float | int) -> str:
    """A drawn or computed number inside a worked computation, negatives in parentheses."""
    text = str(x) if isinstance(x, int) or x == round(x, 2) else fmt_number(x)
    return f"({text})" if text.startswith("-") else text


def _sci(x: float) -> str:
    """A large number in short scientific notation: ``2e8``, ``1.25e7``."""
    mantissa, _, exponent = f"{x:.3g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def fixed_instance(name: str, key: str, *, tries: int = 200) -> NumericInstance:
    """One reproducible, non-degenerate draw of generator ``name`` for ``key`` (a card id).

    For places that show a numeric card once and for all (the Anki export): the draw is seeded
    by ``key``, and draws whose answer is 0 or that have a real-valued parameter equal to 0
    (log-cosh at e = 0, answer 0) are skipped. Integer parameters (class indices, labels) may
    be 0: class 0 is no degenerate case.
    """
    inst = draw(name, random.Random(key))
    for i in range(tries):
        numbers = [v for v in inst.params.values() if isinstance(v, float)]
        if abs(inst.answer) > 1e-9 and all(v != 0 for v in numbers):
            return inst
        inst = draw(name, random.Random(f"{key}:{i}"))
    return inst


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
    ans = -math.log(p)
    return NumericInstance({"p": p}, ans, f"-ln p = -ln({p}) = {fmt_number(ans)}")


@generator("bce_negative")
def bce_negative(rng: random.Random) -> NumericInstance:
    """BCE of one negative example (y = 0) predicted with probability p: -ln(1 - p)."""
    p = _r(rng, 0.05, 0.95)
    ans = -math.log(1.0 - p)
    return NumericInstance({"p": p}, ans, f"-ln(1 - p) = -ln(1 - {p}) = -ln({_v(1 - p)}) = {fmt_number(ans)}")


@generator("bce_logit_grad")
def bce_logit_grad(rng: random.Random) -> NumericInstance:
    """d BCE / d z for logit z and label y: sigmoid(z) - y."""
    z = _r(rng, -3.0, 3.0, 1)
    y = rng.choice([0, 1])
    s = _sigmoid(z)
    return NumericInstance(
        {"z": z, "y": y}, s - y, f"σ(z) - y = σ({z}) - {y} = {fmt_number(s)} - {y} = {fmt_number(s - y)}"
    )


@generator("bce_from_logit")
def bce_from_logit(rng: random.Random) -> NumericInstance:
    """BCE with logits for y = 1: softplus(-z) = ln(1 + exp(-z))."""
    z = _r(rng, -4.0, 4.0, 1)
    ans = math.log1p(math.exp(-z))
    return NumericInstance(
        {"z": z},
        ans,
        f"z = {z}: ln(1 + exp(-z)) = ln(1 + exp({_v(round(-z, 1))})) = ln(1 + {fmt_number(math.exp(-z))}) = {fmt_number(ans)}",
    )


def _softmax_steps(zs: list[float]) -> tuple[list[float], str]:
    ex = [math.exp(v) for v in zs]
    total = sum(ex)
    p = [v / total for v in ex]
    text = (
        f"exp(z) = (exp({_v(zs[0])}), exp({_v(zs[1])}), exp({_v(zs[2])})) = ({', '.join(fmt_number(v) for v in ex)}), "
        f"sum {fmt_number(total)}"
    )
    return p, text


@generator("softmax_ce")
def softmax_ce(rng: random.Random) -> NumericInstance:
    """Cross-entropy of logits (z0, z1, z2) when the true class is k (0-based, as PyTorch): -log softmax(z)_k."""
    zs = [_r(rng, -2.0, 2.0, 1) for _ in range(3)]
    k = rng.randrange(3)
    p, text = _softmax_steps(zs)
    ans = -math.log(p[k])
    return NumericInstance(
        {"z0": zs[0], "z1": zs[1], "z2": zs[2], "k": k},
        ans,
        f"{text}; p_{k} = {fmt_number(math.exp(zs[k]))}/{fmt_number(math.exp(zs[k]) / p[k])} = {fmt_number(p[k])}; "
        f"-ln p_{k} = {fmt_number(ans)}",
    )


@generator("softmax_ce_grad")
def softmax_ce_grad(rng: random.Random) -> NumericInstance:
    """d CE / d z0 for logits (z0, z1, z2) and true class k (0-based): p_0 - [k = 0]."""
    zs = [_r(rng, -2.0, 2.0, 1) for _ in range(3)]
    k = rng.randrange(3)
    p, text = _softmax_steps(zs)
    y0 = 1 if k == 0 else 0
    return NumericInstance(
        {"z0": zs[0], "z1": zs[1], "z2": zs[2], "k": k},
        p[0] - y0,
        f"{text}; p_0 = {fmt_number(p[0])}; true class {k} so y_0 = {y0}; p_0 - y_0 = {fmt_number(p[0] - y0)}",
    )


@generator("gaussian_nll")
def gaussian_nll(rng: random.Random) -> NumericInstance:
    """Gaussian NLL of one target, noise standard deviation s: (y - yhat)^2 / (2 s^2) + ln(s) + ln(2 pi)/2."""
    y = _r(rng, -2.0, 2.0, 1)
    yhat = _r(rng, -2.0, 2.0, 1)
    s = rng.choice([0.5, 1.0, 2.0])
    sq = (y - yhat) ** 2 / (2 * s * s)
    ans = sq + math.log(s) + 0.5 * math.log(2 * math.pi)
    return NumericInstance(
        {"y": y, "yhat": yhat, "s": s},
        ans,
        f"(y - ŷ)²/(2s²) + ln s + ln(2π)/2 = ({y} - {_v(yhat)})²/(2·{s}²) + ln {s} + 0.9189"
        f" = {fmt_number(sq)} + {_v(round(math.log(s), 4))} + 0.9189 = {fmt_number(ans)}",
    )


@generator("sample_quantile")
def sample_quantile(rng: random.Random) -> NumericInstance:
    """The constant minimising the mean pinball loss on 5 sorted values at q = 0.2 k: a sample quantile."""
    values = sorted(rng.sample(range(1, 60), 5))
    k = rng.choice([1, 2, 3])  # q in {0.3, 0.5, 0.7} picks the 2nd, 3rd, 4th value: no ties in the argmin
    q = {1: 0.3, 2: 0.5, 3: 0.7}[k]
    ans = float(values[k])
    return NumericInstance(
        {"values": ", ".join(map(str, values)), "q": q},
        ans,
        f"the {q}-quantile of {', '.join(map(str, values))}: moving c past the {('2nd', '3rd', '4th')[k - 1]} value changes the slope "
        f"of the mean pinball loss from {k}/5 - {q} < 0 to {k + 1}/5 - {q} > 0, so c = {values[k]}",
    )


# --- regression (chapter "Regression losses") ---------------------------------------------


@generator("mse_three")
def mse_three(rng: random.Random) -> NumericInstance:
    """MSE of three errors (mean of squares, as F.mse_loss)."""
    es = [rng.randint(-5, 5) for _ in range(3)]
    sq = [v * v for v in es]
    ans = sum(sq) / 3
    return NumericInstance(
        {"e1": es[0], "e2": es[1], "e3": es[2]},
        ans,
        f"({' + '.join(f'{_v(v)}²' for v in es)})/3 = ({' + '.join(map(str, sq))})/3 = {sum(sq)}/3 = {fmt_number(ans)}",
    )


@generator("mae_three")
def mae_three(rng: random.Random) -> NumericInstance:
    """MAE of three errors."""
    es = [rng.randint(-9, 9) for _ in range(3)]
    ab = [abs(v) for v in es]
    ans = sum(ab) / 3
    return NumericInstance(
        {"e1": es[0], "e2": es[1], "e3": es[2]},
        ans,
        f"({' + '.join(f'|{v}|' for v in es)})/3 = ({' + '.join(map(str, ab))})/3 = {sum(ab)}/3 = {fmt_number(ans)}",
    )


@generator("huber")
def huber(rng: random.Random) -> NumericInstance:
    """Huber loss of one error e with threshold delta (F.huber_loss)."""
    d = rng.choice([0.5, 1.0, 2.0])
    e = _r(rng, -5.0, 5.0, 1)
    a = abs(e)
    if a <= d:
        ans = 0.5 * e * e
        steps = f"|e| = |{e}| = {a} ≤ δ = {d}: e²/2 = {_v(e)}²/2 = {fmt_number(ans)}"
    else:
        ans = d * (a - 0.5 * d)
        steps = f"|e| = |{e}| = {a} > δ = {d}: δ(|e| - δ/2) = {d}·({a} - {d / 2}) = {fmt_number(ans)}"
    return NumericInstance({"e": e, "delta": d}, ans, steps)


@generator("smooth_l1")
def smooth_l1(rng: random.Random) -> NumericInstance:
    """smooth_l1_loss of one error e with threshold beta (= huber / beta)."""
    b = rng.choice([0.5, 1.0, 2.0])
    e = _r(rng, -5.0, 5.0, 1)
    a = abs(e)
    if a < b:
        ans = 0.5 * e * e / b
        steps = f"|e| = |{e}| = {a} < β = {b}: e²/(2β) = {_v(e)}²/(2·{b}) = {fmt_number(ans)}"
    else:
        ans = a - 0.5 * b
        steps = f"|e| = |{e}| = {a} ≥ β = {b}: |e| - β/2 = {a} - {b / 2} = {fmt_number(ans)}"
    return NumericInstance({"e": e, "beta": b}, ans, steps)


@generator("huber_grad")
def huber_grad(rng: random.Random) -> NumericInstance:
    """d Huber / d yhat for target y, prediction yhat and threshold delta: -clip(y - yhat, -delta, delta)."""
    d = rng.choice([1.0, 2.0])
    y = _r(rng, -4.0, 4.0, 1)
    yhat = _r(rng, -4.0, 4.0, 1)
    e = y - yhat
    clipped = max(-d, min(d, e))
    return NumericInstance(
        {"y": y, "yhat": yhat, "delta": d},
        -clipped,
        f"e = y - ŷ = {y} - {_v(yhat)} = {_v(round(e, 2))}; clip(e, -{d}, {d}) = {_v(round(clipped, 2))}; "
        f"d/dŷ = -clip(e) = {fmt_number(-clipped)}",
    )


@generator("log_cosh")
def log_cosh(rng: random.Random) -> NumericInstance:
    """log(cosh(e)) for one error, computed stably."""
    e = _r(rng, -6.0, 6.0, 1)
    a = abs(e)
    tail = math.log1p(math.exp(-2 * a))
    ans = a + tail - math.log(2.0)
    return NumericInstance(
        {"e": e},
        ans,
        f"ln cosh({e}) = |e| + ln(1 + exp(-2|e|)) - ln 2 = {a} + ln(1 + exp({_v(round(-2 * a, 1))})) - 0.6931"
        f" = {a} + {fmt_number(tail)} - 0.6931 = {fmt_number(ans)}",
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
    if e >= 0:
        ans = q * e
        steps = f"e = y - ŷ = {y} - {yhat} = {e} ≥ 0: q·e = {q}·{e} = {fmt_number(ans)}"
    else:
        ans = (q - 1) * e
        steps = f"e = y - ŷ = {y} - {yhat} = {e} < 0: (q - 1)·e = ({q} - 1)·({e}) = {fmt_number(ans)}"
    return NumericInstance({"q": q, "y": y, "yhat": yhat}, ans, steps)


@generator("outlier_share")
def outlier_share(rng: random.Random) -> NumericInstance:
    """Share (in %) of the summed squared error coming from n_out outliers with error b, vs n_reg with error a."""
    n_reg = rng.choice([5_000, 10_000, 20_000])
    n_out = rng.choice([20, 50, 100])
    a = rng.choice([20, 50, 80])  # thousands
    b = rng.choice([1_000, 2_000, 3_000])  # thousands
    reg, out = n_reg * a * a, n_out * b * b
    ans = 100.0 * out / (reg + out)
    return NumericInstance(
        {"n_reg": n_reg, "n_out": n_out, "a": a, "b": b},
        ans,
        f"outliers {n_out}·{b}² = {_sci(out)}, the others {n_reg}·{a}² = {_sci(reg)}; "
        f"100·{_sci(out)}/({_sci(out)} + {_sci(reg)}) = {fmt_number(ans)}",
    )


@generator("log_error")
def log_error(rng: random.Random) -> NumericInstance:
    """Squared log error of one prediction: (ln yhat - ln y)^2, the same for every price scale."""
    ratio = rng.choice([0.5, 0.8, 1.25, 1.5, 2.0])
    y = rng.choice([150, 400, 3_000])  # thousands
    yhat = round(y * ratio, 1)
    ln = math.log(ratio)
    return NumericInstance(
        {"y": y, "yhat": yhat, "ratio": ratio},
        ln**2,
        f"(ln ŷ - ln y)² = (ln({yhat}/{y}))² = (ln {ratio})² = {_v(round(ln, 4))}² = {fmt_number(ln**2)}",
    )


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
        p, text = _softmax_steps(zs)
        return NumericInstance(
            {"z0": zs[0], "z1": zs[1], "z2": zs[2], "k": k},
            p[k],
            f"{text}; class {k}: p_{k} = {fmt_number(math.exp(zs[k]))}/{fmt_number(math.exp(zs[k]) / p[k])}"
            f" = {fmt_number(p[k])}",
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
    terms = " + ".join(f"{weights[t]}·{v}" for t, v in zip(targets, losses, strict=True))
    weight_sum = " + ".join(str(weights[t]) for t in targets)
    return NumericInstance(
        params,
        num / den,
        f"targets {targets[0]}, {targets[1]}, {targets[2]} with w0 = {weights[0]}, w1 = {weights[1]}: "
        f"({terms}) / ({weight_sum}) = {fmt_number(num)}/{den:g} = {fmt_number(num / den)}",
    )


@generator("cls_logsumexp")
def cls_logsumexp(rng: random.Random) -> NumericInstance:
    """log(exp(z0) + exp(z1) + exp(z2)) for large logits, by the shift: a + log(sum exp(z - a))."""
    z0 = rng.choice([300, 500, 800, 1000])
    z1, z2 = z0 - rng.randint(0, 3), z0 - rng.randint(1, 4)
    top = max(z0, z1, z2)
    shifted = [math.exp(v - top) for v in (z0, z1, z2)]
    ans = top + math.log(sum(shifted))
    return NumericInstance(
        {"z0": z0, "z1": z1, "z2": z2},
        ans,
        f"shift by a = {top}: exp({z0} - {top}) + exp({z1} - {top}) + exp({z2} - {top})"
        f" = {' + '.join(fmt_number(v) for v in shifted)} = {fmt_number(sum(shifted))}; "
        f"{top} + ln {fmt_number(sum(shifted))} = {fmt_number(ans)}",
    )


@generator("cls_temperature")
def cls_temperature(rng: random.Random) -> NumericInstance:
    """The largest probability of softmax(z / T) for three logits and a temperature T."""
    zs = [_r(rng, -1.0, 4.0, 1) for _ in range(3)]
    t = rng.choice([0.5, 2.0, 3.0, 4.0])
    scaled = [v / t for v in zs]
    p, text = _softmax_steps(scaled)
    return NumericInstance(
        {"z0": zs[0], "z1": zs[1], "z2": zs[2], "T": t},
        max(p),
        f"z / T = ({_v(zs[0])}, {_v(zs[1])}, {_v(zs[2])}) / {t} = ({', '.join(_v(round(v, 4)) for v in scaled)}); "
        f"{text}; largest = {fmt_number(max(p))}",
    )


@generator("cls_hinge")
def cls_hinge(rng: random.Random) -> NumericInstance:
    """Hinge loss max(0, 1 - y~ z) for a score z and a label y in {0, 1} (y~ = 2y - 1)."""
    z = _r(rng, -2.5, 2.5, 1)
    y = rng.choice([0, 1])
    ypm = 2 * y - 1
    ans = max(0.0, 1.0 - ypm * z)
    return NumericInstance(
        {"z": z, "y": y},
        ans,
        f"y = {y} so ỹ = {ypm}; max(0, 1 - ({ypm})·{_v(z)}) = max(0, {fmt_number(1.0 - ypm * z)}) = {fmt_number(ans)}",
    )


@generator("cls_mse_sigmoid_grad")
def cls_mse_sigmoid_grad(rng: random.Random) -> NumericInstance:
    """d/dz of (sigmoid(z) - y)^2 / 2: (p - y) p (1 - p)."""

    def once() -> NumericInstance:
        z = _r(rng, -4.0, 4.0, 1)
        y = rng.choice([0, 1])
        p = _sigmoid(z)
        ans = (p - y) * p * (1 - p)
        return NumericInstance(
            {"z": z, "y": y},
            ans,
            f"p = σ({z}) = {fmt_number(p)}; (p - y) p (1 - p) = ({fmt_number(p)} - {y})·{fmt_number(p)}"
            f"·{fmt_number(1 - p)} = {fmt_number(ans)}",
        )

    return _until_large(once)


@generator("cls_brier")
def cls_brier(rng: random.Random) -> NumericInstance:
    """Brier score (p - y)^2 of one forecast p of the positive class."""

    def once() -> NumericInstance:
        p = _r(rng, 0.05, 0.95)
        y = rng.choice([0, 1])
        ans = (p - y) ** 2
        return NumericInstance(
            {"p": p, "y": y}, ans, f"(p - y)² = ({p} - {y})² = {_v(round(p - y, 2))}² = {fmt_number(ans)}"
        )

    return _until_large(once)


@generator("cls_smoothed_target")
def cls_smoothed_target(rng: random.Random) -> NumericInstance:
    """The target probability of the true class under label smoothing eps with C classes:
    1 - eps + eps / C (F.cross_entropy's label_smoothing)."""
    eps = rng.choice([0.05, 0.1, 0.2, 0.3])
    c = rng.choice([2, 4, 5, 10, 100])
    ans = 1 - eps + eps / c
    return NumericInstance({"eps": eps, "C": c}, ans, f"1 - ε + ε/C = 1 - {eps} + {eps}/{c} = {fmt_number(ans)}")


# --- chapter "Class imbalance" -----------------------------------------------------------------


@generator("imb_inverse_frequency")
def imb_inverse_frequency(rng: random.Random) -> NumericInstance:
    """The inverse-frequency pos_weight: negatives / positives."""
    n = rng.choice([10_000, 20_000, 50_000])
    pos = rng.choice([50, 100, 200, 250, 400])
    ans = (n - pos) / pos
    return NumericInstance({"n": n, "pos": pos}, ans, f"(n - pos) / pos = ({n} - {pos}) / {pos} = {fmt_number(ans)}")


@generator("imb_logit_shift")
def imb_logit_shift(rng: random.Random) -> NumericInstance:
    """The calibrated probability of a model trained with pos_weight w that outputs p_w:
    sigmoid(logit(p_w) - log w) = p_w / (p_w + w (1 - p_w))."""

    def once() -> NumericInstance:
        pw = _r(rng, 0.3, 0.99)
        w = float(rng.choice([4, 9, 10, 19, 99]))
        odds = pw / (1 - pw)
        ans = pw / (pw + w * (1 - pw))
        return NumericInstance(
            {"p": pw, "w": w},
            ans,
            f"odds {pw}/{fmt_number(1 - pw)} = {fmt_number(odds)}, divided by w = {w}: {fmt_number(odds / w)}; "
            f"back to a probability: {fmt_number(odds / w)}/(1 + {fmt_number(odds / w)}) = {fmt_number(ans)}",
        )

    return _until_large(once)


@generator("imb_undersample_correction")
def imb_undersample_correction(rng: random.Random) -> NumericInstance:
    """The probability of a model trained on data with only a fraction rho of the negatives
    kept, corrected: rho p_s / (rho p_s + 1 - p_s)."""

    def once() -> NumericInstance:
        ps = _r(rng, 0.2, 0.99)
        keep = rng.choice([0.01, 0.02, 0.05, 0.1, 0.5])
        odds = ps / (1 - ps)
        ans = keep * ps / (keep * ps + 1 - ps)
        return NumericInstance(
            {"p": ps, "keep": keep},
            ans,
            f"odds {ps}/{fmt_number(1 - ps)} = {fmt_number(odds)}, times the kept fraction {keep}: "
            f"{fmt_number(odds * keep)}; back to a probability: {fmt_number(odds * keep)}/(1 + "
            f"{fmt_number(odds * keep)}) = {fmt_number(ans)}",
        )

    return _until_large(once)


@generator("imb_focal_factor")
def imb_focal_factor(rng: random.Random) -> NumericInstance:
    """How many times smaller the focal loss of an example is than its cross-entropy:
    1 / (1 - p_t)^gamma."""
    pt = _r(rng, 0.5, 0.95)
    gamma = rng.choice([0.5, 1.0, 2.0, 3.0])
    ans = 1.0 / (1 - pt) ** gamma
    return NumericInstance(
        {"pt": pt, "gamma": gamma},
        ans,
        f"1 / (1 - p_t)^γ = 1 / (1 - {pt})^{gamma} = 1 / {fmt_number((1 - pt) ** gamma)} = {fmt_number(ans)}",
    )


@generator("imb_focal_loss")
def imb_focal_loss(rng: random.Random) -> NumericInstance:
    """Focal loss -(1 - p_t)^gamma ln p_t of one example (no alpha)."""

    def once() -> NumericInstance:
        pt = _r(rng, 0.05, 0.95)
        gamma = rng.choice([0.5, 1.0, 2.0, 5.0])
        factor = (1 - pt) ** gamma
        ans = -factor * math.log(pt)
        return NumericInstance(
            {"pt": pt, "gamma": gamma},
            ans,
            f"-(1 - p_t)^γ ln p_t = -(1 - {pt})^{gamma} · ln {pt} = {fmt_number(factor)} · "
            f"{fmt_number(-math.log(pt))} = {fmt_number(ans)}",
        )

    return _until_large(once)


@generator("imb_weighted_grad")
def imb_weighted_grad(rng: random.Random) -> NumericInstance:
    """d/dz of weighted BCE (pos_weight w) for one positive example: w (sigmoid(z) - 1)."""
    z = _r(rng, -3.0, 3.0, 1)
    w = float(rng.choice([2, 5, 10, 20]))
    p = _sigmoid(z)
    ans = w * (p - 1.0)
    return NumericInstance(
        {"z": z, "w": w},
        ans,
        f"p = σ({z}) = {fmt_number(p)}; w (p - 1) = {w}·({fmt_number(p)} - 1) = {fmt_number(ans)}",
    )


def _confusion_counts(rng: random.Random) -> dict[str, float | int | str]:
    """True positives, false positives and misses of a rare-class detector."""
    return {"tp": rng.randint(20, 90), "fp": rng.randint(5, 200), "fn": rng.randint(5, 90)}


@generator("imb_precision")
def imb_precision(rng: random.Random) -> NumericInstance:
    """Precision TP / (TP + FP) from the counts of a confusion matrix."""
    c = _confusion_counts(rng)
    ans = c["tp"] / (c["tp"] + c["fp"])
    return NumericInstance(
        c,
        ans,
        f"TP / (TP + FP) = {c['tp']} / ({c['tp']} + {c['fp']}) (FN = {c['fn']} does not enter) = {fmt_number(ans)}",
    )


@generator("imb_recall")
def imb_recall(rng: random.Random) -> NumericInstance:
    """Recall TP / (TP + FN) from the counts of a confusion matrix."""
    c = _confusion_counts(rng)
    ans = c["tp"] / (c["tp"] + c["fn"])
    return NumericInstance(
        c,
        ans,
        f"TP / (TP + FN) = {c['tp']} / ({c['tp']} + {c['fn']}) (FP = {c['fp']} does not enter) = {fmt_number(ans)}",
    )
