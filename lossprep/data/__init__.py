"""Seeded synthetic data sets for the demos and exercises, one module per data set.

Each generator is deterministic for a given ``seed`` and returns tensors on the CPU in
float32 (move them with ``.to(device)``), so a chapter shows the same numbers on every machine.
The names are re-exported here, so ``from lossprep.data import house_prices`` works.
"""

from lossprep.data.blobs import Blobs, overlapping_blobs
from lossprep.data.clouds import Clouds, two_clouds
from lossprep.data.houses import HousePrices, house_prices
from lossprep.data.objects import Scenes, scene_objects
from lossprep.data.ranking import RankingQueries, ranking_queries
from lossprep.data.rare import RareEvents, rare_events
from lossprep.data.tags import TaggedExamples, multilabel_tags
from lossprep.data.xrays import XRays, imbalanced_xrays

__all__ = [
    "HousePrices",
    "house_prices",
    "XRays",
    "imbalanced_xrays",
    "TaggedExamples",
    "multilabel_tags",
    "RankingQueries",
    "ranking_queries",
    # the classification chapters
    "Clouds",
    "two_clouds",
    "Blobs",
    "overlapping_blobs",
    "Scenes",
    "scene_objects",
    "RareEvents",
    "rare_events",
]
