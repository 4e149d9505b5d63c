"""Reference-quality losses the chapters use that torch does not ship, one module per family.

One signature per family: ``(input, target, *, ..., reduction="mean")`` for regression, as in
``torch.nn.functional``. Each function follows its inputs' device and dtype, refuses an unknown
``reduction`` and mismatched shapes with ``ValueError``. The names are re-exported here.
"""

from lossprep.losses._common import REDUCTIONS, reduce
from lossprep.losses.regression import log_cosh_loss, pinball_loss

__all__ = ["REDUCTIONS", "reduce", "log_cosh_loss", "pinball_loss"]
