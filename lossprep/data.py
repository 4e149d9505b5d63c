"""Seeded synthetic data sets for the demos and exercises.

Each generator is deterministic for a given ``seed`` and returns tensors on the CPU in
float32 (move them with ``.to(device)``), so a chapter shows the same numbers on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import torch

__all__ = ["HousePrices", "house_prices", "XRays", "imbalanced_xrays"]


@dataclass(frozen=True)
class HousePrices:
    """Houses with a few features and a price in dollars.

    Attributes:
        X: features, shape (N, 4): living area (m^2), bedrooms, age (years), distance to the
            city centre (km).
        price: shape (N,), dollars.
        luxury: shape (N,) bool, True for the luxury houses (the price outliers).
        feature_names: names of the columns of ``X``.
    """

    X: torch.Tensor
    price: torch.Tensor
    luxury: torch.Tensor
    feature_names: tuple[str, ...] = ("area_m2", "bedrooms", "age_years", "distance_km")

    def __len__(self) -> int:
        return self.price.shape[0]


def house_prices(n_regular: int = 10_000, n_luxury: int = 50, *, seed: int = 0) -> HousePrices:
    """Regular houses priced 100K to 500K and luxury houses priced 2M to 10M.

    Regular prices follow a linear function of the features plus Gaussian noise, clipped to
    [100K, 500K]. Luxury houses have features drawn from the same distribution (what makes them
    expensive, such as a view or a famous architect, is not in the data), and a price drawn
    log-uniformly in [2M, 10M]: for a model they are outliers, not a pattern to learn.
    Rows are shuffled.
    """
    if n_regular < 1 or n_luxury < 0:
        raise ValueError(f"Expected n_regular >= 1 and n_luxury >= 0, got {n_regular} and {n_luxury}")
    g = torch.Generator().manual_seed(seed)
    n = n_regular + n_luxury
    area = 50 + 150 * torch.rand(n, generator=g, dtype=torch.float64)
    bedrooms = torch.clamp(torch.round(area / 40 + torch.randn(n, generator=g, dtype=torch.float64) * 0.7), 1, 6)
    age = 60 * torch.rand(n, generator=g, dtype=torch.float64)
    distance = 1 + 29 * torch.rand(n, generator=g, dtype=torch.float64)
    base = 100_000 + 1_600 * area + 8_000 * bedrooms - 500 * age - 2_000 * distance
    noise = 25_000 * torch.randn(n, generator=g, dtype=torch.float64)
    price = torch.clamp(base + noise, 100_000, 500_000)
    log_lux = torch.empty(n_luxury, dtype=torch.float64).uniform_(
        torch.log(torch.tensor(2e6)).item(), torch.log(torch.tensor(1e7)).item(), generator=g
    )
    luxury = torch.zeros(n, dtype=torch.bool)
    luxury[n_regular:] = True
    price[n_regular:] = torch.exp(log_lux)
    perm = torch.randperm(n, generator=g)
    X = torch.stack([area, bedrooms, age, distance], dim=1)[perm]
    return HousePrices(X=X.float(), price=price[perm].float(), luxury=luxury[perm])


@dataclass(frozen=True)
class XRays:
    """X-ray-like examples: image features, a normal / abnormal label and a severity.

    Attributes:
        X: features, shape (N, d), float32 (think of an image embedding).
        target: shape (N,), float32 in {0, 1}; 1 is abnormal.
        severity: shape (N,), float32: an integer 1 to 10 for abnormal cases, 0 for normal
            ones (where it means nothing).
    """

    X: torch.Tensor
    target: torch.Tensor
    severity: torch.Tensor

    def __len__(self) -> int:
        return self.target.shape[0]


def imbalanced_xrays(n: int = 4000, *, abnormal_rate: float = 0.05, n_features: int = 8, seed: int = 0) -> XRays:
    """Mostly normal X-rays, a few abnormal ones whose look depends on their severity.

    Normal cases have standard normal features, with a larger spread (3) along feature 1.
    An abnormal case of severity s (1 to 10, mild ones more frequent) is shifted by 3 in the
    direction that turns from feature 0 (s = 1) to feature 1 (s = 10), with the shift along
    feature 1 stretched 2.5 times. So mild and severe abnormal cases stand out along
    different directions, and a linear classifier fit to the bulk of the (mild) abnormal cases
    is not the one that catches the severe ones: what a severity-aware loss is for.
    """
    if n < 1:
        raise ValueError(f"Expected n >= 1, got {n}")
    if not 0.0 < abnormal_rate < 1.0:
        raise ValueError(f"Expected 0 < abnormal_rate < 1, got {abnormal_rate}")
    if n_features < 2:
        raise ValueError(f"Expected n_features >= 2, got {n_features}")
    g = torch.Generator().manual_seed(seed)
    target = (torch.rand(n, generator=g) < abnormal_rate).float()
    probs = torch.linspace(1.0, 0.3, 10)
    level = torch.multinomial(probs / probs.sum(), n, replacement=True, generator=g) + 1
    severity = torch.where(target == 1, level.float(), torch.zeros(n))
    X = torch.randn(n, n_features, generator=g)
    X[:, 1] *= 3.0
    theta = (severity - 1).clamp(min=0) / 9 * (math.pi / 2)
    shift = torch.stack([3.0 * torch.cos(theta), 7.5 * torch.sin(theta)], dim=1) * target[:, None]
    X[:, :2] += shift
    return XRays(X=X, target=target, severity=severity)
