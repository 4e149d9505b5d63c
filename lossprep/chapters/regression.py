"""What only the chapter "Regression losses" (``book/regression.md``) needs.

The derivations keep SymPy's output readable (:func:`derive_loss`); two statistical facts the
chapter states are computed here (the median's efficiency under Gaussian noise, the bias of
``exp`` of a log-target fit); and the house-price demo fits, measures and explains what the
choice of loss does. Symbols come from the book's glossary (:mod:`lossprep.symbols`; this
module defines none) and the loss formulas from :mod:`lossprep.formulas`. The chapter and
``tests/test_regression_chapter.py`` import this module, so the tests check the very
expressions and fits the page shows.

Chapters and exercises: the chapter teaches the regression losses with
``torch.nn.functional``'s implementations and :mod:`lossprep.losses`; no exercise asks for them.
A later exercise on regression must not find its answer here: the demo trains with library
losses through :func:`lossprep.train.fit`, and the leak test in
``tests/test_grading_pipeline.py`` keeps chapters and exercises apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import sympy as sp
import torch
import torch.nn.functional as F

from lossprep.data import HousePrices, house_prices
from lossprep.losses import pinball_loss
from lossprep.symbolic import Derivation, derive
from lossprep.symbols import e, s
from lossprep.train import History, fit, predict

__all__ = [
    "derive_loss",
    "median_variance_ratio",
    "simulated_variance_ratio",
    "log_target_mean_factor",
    "PRICE_UNIT",
    "HUBER_DELTA",
    "HUBER",
    "HOUSE_LOSSES",
    "HouseFit",
    "HouseDemo",
    "standardise",
    "linear_model",
    "fit_house_models",
    "longer_run_gap",
    "QuantileBand",
    "fit_quantile_band",
    "regular_mae_across_draws",
]


def _drop_unreachable_spikes(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """Remove ``DiracDelta(var)`` from Piecewise branches that ``var = 0`` never reaches.

    Differentiating ``|e|`` twice gives ``2 DiracDelta(e)``; inside the linear branch of Huber
    (``|e| > delta > 0``) that spike is zero, but SymPy keeps it. A branch is unreachable at
    ``var = 0`` when an earlier branch's condition already holds there.
    """
    if not isinstance(expr, sp.Piecewise):
        return expr
    pieces, zero_taken = [], False
    for value, cond in expr.args:
        if zero_taken:
            value = value.replace(sp.DiracDelta, lambda *args: sp.S.Zero)
        pieces.append((value, cond))
        if not zero_taken and cond.subs(var, 0) == sp.true:
            zero_taken = True
    return sp.Piecewise(*pieces)


def derive_loss(loss: sp.Expr, *, name: str = "L", simplify: bool = False) -> Derivation:
    """Derivatives of a loss of the error ``e`` with respect to ``e``, kept in readable form.

    Uses :func:`lossprep.symbolic.derive`, by default without simplification (which would
    turn ``sign(e)`` into ``e / |e|`` with a special case at 0; pass ``simplify=True`` for
    smooth losses, where it turns ``sinh / cosh`` into ``tanh``), then drops Dirac spikes from
    branches that exclude ``e = 0``. With respect to the prediction the gradient flips sign:
    ``dL/dy_hat = -dL/de``.
    """
    d = derive(loss, e, name=name, simplify=simplify)
    return replace(d, second=_drop_unreachable_spikes(d.second, e))


# ---------------------------------------------------------------------------------------------
# Two statistical facts
# ---------------------------------------------------------------------------------------------


def median_variance_ratio() -> sp.Expr:
    """Var(sample median) / Var(sample mean) for large samples of Gaussian noise: ``pi / 2``.

    For a density ``f`` with median ``m``, the sample median of ``n`` draws has variance about
    ``1 / (4 n f(m)^2)``; the mean's is ``s^2 / n``. For ``N(0, s^2)``, ``f(0) = 1 / (s sqrt(2 pi))``.
    The median's efficiency relative to the mean is the inverse, ``2 / pi``.
    """
    f_at_median = 1 / (s * sp.sqrt(2 * sp.pi))
    return sp.simplify((1 / (4 * f_at_median**2)) / s**2)


def simulated_variance_ratio(n: int = 201, trials: int = 10_000, *, seed: int = 0) -> float:
    """Var(median) / Var(mean) over ``trials`` samples of ``n`` standard normal draws."""
    if n < 3 or trials < 10:
        raise ValueError(f"Expected n >= 3 and trials >= 10, got n={n}, trials={trials}")
    g = torch.Generator().manual_seed(seed)
    draws = torch.randn(trials, n, generator=g, dtype=torch.float64)
    return float(draws.median(dim=1).values.var() / draws.mean(dim=1).var())


def log_target_mean_factor() -> sp.Expr:
    """``E[exp(e)]`` for Gaussian errors ``e ~ N(0, s^2)`` on the log scale: ``exp(s^2 / 2)``.

    A model fitted with MSE on ``log y`` predicts ``E[log y | x]``; ``exp`` of it is the geometric
    mean, below the mean ``E[y | x]`` by this factor (Jensen: ``E[exp(e)] > exp(E[e]) = 1`` for
    any error that is not constant; the Gaussian gives the closed form).
    """
    density = sp.exp(-(e**2) / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2)
    return sp.simplify(sp.integrate(sp.exp(e) * density, (e, -sp.oo, sp.oo)).rewrite(sp.erf))


# ---------------------------------------------------------------------------------------------
# The house-price demo
# ---------------------------------------------------------------------------------------------

PRICE_UNIT = 100_000.0
"""Prices are fitted in units of $100K, so regular houses cost 1 to 5 units."""

HUBER_DELTA = 1.0
"""Huber's threshold in price units ($100K): a few times the spread of the regular houses'
residuals (the chapter computes it), far below the luxury houses' errors."""

HUBER = f"Huber (delta={HUBER_DELTA:g})"
"""The Huber fit's name in :data:`HOUSE_LOSSES`."""


def _huber(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return F.huber_loss(pred, target, delta=HUBER_DELTA, reduction=reduction)


def _mse(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return F.mse_loss(pred, target, reduction=reduction)


def _mae(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return F.l1_loss(pred, target, reduction=reduction)


HOUSE_LOSSES: dict[str, tuple[Callable[..., torch.Tensor], bool]] = {
    "MSE": (_mse, False),
    "MAE": (_mae, False),
    HUBER: (_huber, False),
    "MSE on log-price": (_mse, True),
}
"""Name -> (loss of (prediction, target, reduction), whether the model is fitted to log-price)."""


@dataclass(frozen=True)
class HouseFit:
    """One fitted linear model of the demo.

    Attributes:
        name: the loss it was trained with.
        model: the fitted model (on the training device).
        history: what :func:`lossprep.train.fit` returned.
        log_target: whether the model predicts log-price (its prediction is ``exp`` of the output).
        prediction: price predictions for every house, in price units, on the CPU.
    """

    name: str
    model: torch.nn.Module
    history: History
    log_target: bool
    prediction: torch.Tensor


@dataclass(frozen=True)
class HouseDemo:
    """The house-price data prepared for fitting, and one :class:`HouseFit` per loss.

    Attributes:
        data: the raw data set (dollars).
        X: standardised features, shape (N, 4), CPU, float32.
        y: prices in units of :data:`PRICE_UNIT`, shape (N,), CPU, float32.
        fits: loss name -> fit, in :data:`HOUSE_LOSSES` order.
        reference: predictions (units) of least squares fitted on the regular houses only, in
            float64: the fit we would get if the luxury houses were not in the data.
        feature_mean, feature_std: the training features' statistics, shape (4,), to standardise
            houses the models never saw (:meth:`features`).
    """

    data: HousePrices
    X: torch.Tensor
    y: torch.Tensor
    fits: dict[str, HouseFit]
    reference: torch.Tensor
    feature_mean: torch.Tensor
    feature_std: torch.Tensor

    @property
    def regular(self) -> torch.Tensor:
        """Boolean mask of the regular (not luxury) houses."""
        return ~self.data.luxury

    def features(self, data: HousePrices) -> torch.Tensor:
        """``data``'s features standardised with the training statistics, shape (N, 4)."""
        return (data.X - self.feature_mean) / self.feature_std

    def regular_mae_dollars(self) -> dict[str, float]:
        """Mean absolute error on the regular houses, in dollars, per fit and for the reference."""
        out = {name: _mean_abs(f.prediction - self.y, self.regular) for name, f in self.fits.items()}
        out["reference"] = _mean_abs(self.reference - self.y.double(), self.regular)
        return {k: v * PRICE_UNIT for k, v in out.items()}

    def regular_bias_dollars(self) -> dict[str, float]:
        """Mean of prediction minus price on the regular houses, in dollars (positive: too high)."""
        out = {name: float((f.prediction - self.y)[self.regular].double().mean()) for name, f in self.fits.items()}
        out["reference"] = float((self.reference - self.y.double())[self.regular].mean())
        return {k: v * PRICE_UNIT for k, v in out.items()}

    def balance_bias_dollars(self, name: str = "MSE") -> float:
        """What the regular houses' bias must be if fit ``name``'s residuals sum to zero, as least
        squares with an intercept forces: the luxury houses' total under-pricing spread over
        the regular houses, ``sum_luxury (y - y_hat) / N_regular``, in dollars."""
        err = (self.y - self.fits[name].prediction).double()
        return float(err[self.data.luxury].sum() / self.regular.sum()) * PRICE_UNIT

    def per_example_loss(self, name: str, prediction: torch.Tensor) -> torch.Tensor:
        """Loss ``name`` of every house at price predictions ``prediction`` (units), computed as it
        is trained: on log-prices for the log-price fit.

        Shape:
            prediction: ``(N,)``. Output: ``(N,)``, float64.
        """
        out, target = self._output(name, prediction)
        return HOUSE_LOSSES[name][0](out, target, reduction="none")

    def per_example_gradient(self, name: str, prediction: torch.Tensor) -> torch.Tensor:
        """Derivative of loss ``name`` of every house with respect to the model's output (the
        price in units, or the log-price), at price predictions ``prediction``: how hard each
        house pulls on the fit.

        Shape:
            prediction: ``(N,)``. Output: ``(N,)``, float64.
        """
        out, target = self._output(name, prediction)
        out = out.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(HOUSE_LOSSES[name][0](out, target, reduction="sum"), out)
        return grad

    def _output(self, name: str, prediction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(model output, training target) for loss ``name`` at price predictions (units), float64."""
        if prediction.shape != self.y.shape:
            raise ValueError(f"Expected predictions of shape {tuple(self.y.shape)}, got {tuple(prediction.shape)}")
        _, log_target = HOUSE_LOSSES[name]
        if log_target:
            if bool((prediction <= 0).any()):
                raise ValueError("Expected positive price predictions for the log-price loss, got some <= 0")
            return prediction.double().log(), self.y.double().log()
        return prediction.double(), self.y.double()

    def _prediction_at(self, name: str, at: str) -> torch.Tensor:
        if at != "own" and at not in self.fits:
            raise ValueError(f"Expected at='own' or one of {list(self.fits)}, got {at!r}")
        return self.fits[name if at == "own" else at].prediction

    def luxury_share(self, *, at: str = "MSE") -> dict[str, float]:
        """Fraction of each loss's total over the training set that comes from the luxury houses.

        Args:
            at: ``"MSE"`` evaluates every loss at the fitted MSE model's predictions (the same
                errors, weighed by each loss); ``"own"`` evaluates each loss at its own fit.
        """
        out = {}
        for name in self.fits:
            per = self.per_example_loss(name, self._prediction_at(name, at))
            out[name] = float(per[self.data.luxury].sum() / per.sum())
        return out

    def luxury_gradient_share(self, *, at: str = "MSE") -> dict[str, float]:
        """Fraction of the total pull on the fit (the sum of ``|dL/d output|`` over houses) that
        comes from the luxury houses; ``at`` as in :meth:`luxury_share`.

        At a least-squares fit with an intercept the residuals sum to zero, so the luxury houses
        (all under-priced) pull exactly as hard as the regular houses push back: their share of
        the MSE pull is at most one half by construction.
        """
        out = {}
        for name in self.fits:
            g = self.per_example_gradient(name, self._prediction_at(name, at)).abs()
            out[name] = float(g[self.data.luxury].sum() / g.sum())
        return out


def _mean_abs(err: torch.Tensor, mask: torch.Tensor) -> float:
    return float(err[mask].double().abs().mean())


def standardise(X: torch.Tensor) -> torch.Tensor:
    """Each column shifted to mean 0 and scaled to standard deviation 1.

    Shape:
        X: ``(N, F)``. Output: ``(N, F)``, same device and dtype.
    """
    mean, sd = _feature_stats(X)
    return (X - mean) / sd


def _feature_stats(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"Expected a matrix with at least 2 rows, got shape {tuple(X.shape)}")
    sd = X.std(dim=0)
    if bool((sd == 0).any()):
        raise ValueError("Expected every feature to vary, got a constant column")
    return X.mean(dim=0), sd


def linear_model(n_features: int) -> torch.nn.Module:
    """A linear model ``(N, n_features) -> (N,)`` started at zero (no randomness to seed).

    Shape:
        input: ``(N, n_features)``. Output: ``(N,)``.
    """
    layer = torch.nn.Linear(n_features, 1)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    return torch.nn.Sequential(layer, torch.nn.Flatten(0))


def fit_house_models(
    device: torch.device | str | None = None,
    *,
    epochs: int = 300,
    lr: float = 0.1,
    data: HousePrices | None = None,
    losses: Iterable[str] | None = None,
) -> HouseDemo:
    """One linear model per loss of :data:`HOUSE_LOSSES` (or of ``losses``), full batch, Adam,
    cosine decay.

    Features are standardised; prices are in units of $100K (PRICE_UNIT). The log-price model
    fits MSE to log(price) and predicts exp of its output. ``device=None`` picks with
    :func:`lossprep.device.get_device`; ``data=None`` uses :func:`lossprep.data.house_prices`.
    """
    names = list(HOUSE_LOSSES) if losses is None else list(losses)
    unknown = [n for n in names if n not in HOUSE_LOSSES]
    if unknown or not names:
        raise ValueError(f"Expected losses among {list(HOUSE_LOSSES)}, got {names}")
    data = house_prices() if data is None else data
    mean, sd = _feature_stats(data.X)
    X = (data.X - mean) / sd
    y_units = data.price / PRICE_UNIT
    fits = {}
    for name in names:
        loss_fn, log_target = HOUSE_LOSSES[name]
        model = linear_model(X.shape[1])
        target = y_units.log() if log_target else y_units
        history = fit(model, loss_fn, X, target, epochs=epochs, lr=lr, device=device)
        out = predict(model, X)
        fits[name] = HouseFit(name, model, history, log_target, out.exp() if log_target else out)
    # reference: exact least squares on the regular houses alone
    regular = ~data.luxury
    A = torch.cat([X.double(), torch.ones(len(X), 1).double()], dim=1)
    w = torch.linalg.lstsq(A[regular], y_units.double()[regular].unsqueeze(1)).solution.squeeze(1)
    return HouseDemo(data=data, X=X, y=y_units, fits=fits, reference=A @ w, feature_mean=mean, feature_std=sd)


def longer_run_gap(
    demo: HouseDemo, *, factor: int = 4, lr: float = 0.1, device: torch.device | str | None = None
) -> dict[str, float]:
    """Relative excess of each fit's final training loss over a run ``factor`` times longer.

    With a cosine schedule the loss always flattens at the end (the step size goes to zero), so
    a flat history alone proves nothing; a much longer run that ends no lower does.
    """
    if factor < 2:
        raise ValueError(f"Expected factor >= 2, got {factor}")
    epochs = len(next(iter(demo.fits.values())).history) * factor
    longer = fit_house_models(device, epochs=epochs, lr=lr, data=demo.data, losses=demo.fits)
    return {
        name: (f.history.final - longer.fits[name].history.final) / abs(longer.fits[name].history.final)
        for name, f in demo.fits.items()
    }


@dataclass(frozen=True)
class QuantileBand:
    """Two linear models trained with the pinball loss at a low and a high quantile level.

    Attributes:
        levels: ``(low, high)``, ``0 < low < high < 1``.
        low, high: the fitted models, on standardised features (:meth:`HouseDemo.features`).
    """

    levels: tuple[float, float]
    low: torch.nn.Module
    high: torch.nn.Module

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The low and high price predictions (units) for standardised features ``X``, on the CPU."""
        return predict(self.low, X), predict(self.high, X)

    def coverage(self, X: torch.Tensor, y: torch.Tensor) -> float:
        """The fraction of targets ``y`` (units) inside the band predicted for ``X``. If the model
        is right, about ``high - low`` on houses it never saw."""
        lo, hi = self.predict(X)
        return float(((y >= lo) & (y <= hi)).double().mean())

    def below(self, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """The fractions of ``y`` below the low line and below the high line. On the training
        data the pinball loss's first-order condition for the intercept puts them at about
        ``low`` and ``high`` whatever the data (off only by the few houses on the lines)."""
        lo, hi = self.predict(X)
        return float((y < lo).double().mean()), float((y < hi).double().mean())


def fit_quantile_band(
    demo: HouseDemo,
    levels: tuple[float, float] = (0.1, 0.9),
    *,
    epochs: int = 300,
    lr: float = 0.1,
    device: torch.device | str | None = None,
) -> QuantileBand:
    """Fit the demo's linear model with the pinball loss at a low and a high quantile level."""
    low, high = levels
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"Expected levels 0 < low < high < 1, got {levels}")
    models = []
    for level in (low, high):
        model = linear_model(demo.X.shape[1])
        fit(model, lambda p, t, lv=level: pinball_loss(p, t, q=lv), demo.X, demo.y, epochs=epochs, lr=lr, device=device)
        models.append(model)
    return QuantileBand((low, high), models[0], models[1])


def regular_mae_across_draws(
    seeds: Iterable[int], *, losses: Iterable[str] = ("MAE", HUBER), device: torch.device | str | None = None
) -> list[dict[str, float]]:
    """The regular houses' mean absolute error (dollars) of each fit of ``losses`` and of the
    reference, on fresh draws of the data set (one per seed): how much these numbers move from
    one draw of the data to the next, the yardstick for calling two fits tied."""
    names = list(losses)
    out = []
    for seed in seeds:
        demo = fit_house_models(device, data=house_prices(seed=seed), losses=names)
        out.append(demo.regular_mae_dollars())
    if not out:
        raise ValueError("Expected at least one seed, got none")
    return out
