"""House prices with a few luxury outliers (the regression chapter's demo).

Deterministic for a given ``seed``; tensors on the CPU in float32 (move them with ``.to(device)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["HousePrices", "house_prices"]


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
