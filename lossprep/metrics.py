"""Calibration metrics the chapters share: the reliability diagram's bins and the expected
calibration error (ECE).

Both work on binary outcomes: a predicted probability of the positive class and a label in
{0, 1}. For a multi-class model, pass the top-label confidence (the largest softmax
probability) and whether the top label is right (``argmax == target``): that is the ECE of
Guo et al. (2017), "On Calibration of Modern Neural Networks".

The bins are scikit-learn's ``calibration_curve(..., strategy="uniform")`` bins: ``n_bins``
equal widths on [0, 1], a probability on an inner edge counted in the lower bin;
``tests/test_metrics.py`` checks that the two agree. Inputs may be NumPy arrays or tensors
(on any device); results are NumPy arrays and floats.

Example::

    >>> import numpy as np
    >>> probs, labels = np.array([0.9, 0.9, 0.2, 0.2]), np.array([1, 1, 0, 1])
    >>> round(expected_calibration_error(probs, labels, n_bins=2), 6)  # (0.1 + 0.3) / 2
    0.2
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Reliability", "reliability", "expected_calibration_error"]


@dataclass(frozen=True)
class Reliability:
    """The bins of a reliability diagram, empty bins included (their means are NaN).

    Attributes:
        edges: ``(n_bins + 1,)``, the bin edges, 0 to 1.
        count: ``(n_bins,)``, how many predictions fall in each bin.
        mean_prob: ``(n_bins,)``, the mean predicted probability in each bin.
        frac_pos: ``(n_bins,)``, the fraction of positives in each bin.
    """

    edges: np.ndarray
    count: np.ndarray
    mean_prob: np.ndarray
    frac_pos: np.ndarray

    @property
    def ece(self) -> float:
        """``sum_b (n_b / N) |frac_pos_b - mean_prob_b|`` over the non-empty bins."""
        full = self.count > 0
        gaps = np.abs(self.frac_pos[full] - self.mean_prob[full])
        return float(np.sum(self.count[full] / self.count.sum() * gaps))


def _as_numpy(values, name: str) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    out = np.asarray(values, dtype=np.float64)
    if out.ndim != 1 or out.size == 0:
        raise ValueError(f"Expected {name} of shape (N,) with N >= 1, got shape {out.shape}")
    return out


def reliability(probs, labels, *, n_bins: int = 15) -> Reliability:
    """Bin predictions by probability and compare each bin's mean probability with its
    fraction of positives.

    Args:
        probs: ``(N,)`` predicted probabilities of the positive class, in [0, 1].
        labels: ``(N,)`` outcomes in {0, 1}.
        n_bins: the number of equal-width bins.
    """
    if n_bins < 1:
        raise ValueError(f"Expected n_bins >= 1, got {n_bins}")
    p, y = _as_numpy(probs, "probs"), _as_numpy(labels, "labels")
    if p.shape != y.shape:
        raise ValueError(f"Expected probs and labels of the same shape, got {p.shape} and {y.shape}")
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("Expected probs in [0, 1], got values outside (or NaN)")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("Expected labels in {0, 1}, got other values")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], p, side="left")
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_prob = np.bincount(bins, weights=p, minlength=n_bins) / count
        frac_pos = np.bincount(bins, weights=y, minlength=n_bins) / count
    return Reliability(edges=edges, count=count, mean_prob=mean_prob, frac_pos=frac_pos)


def expected_calibration_error(probs, labels, *, n_bins: int = 15) -> float:
    """The expected calibration error: the mean gap between confidence and frequency over the
    bins of :func:`reliability`, each bin weighted by its share of the predictions."""
    return reliability(probs, labels, n_bins=n_bins).ece
