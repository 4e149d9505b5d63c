"""Reference-quality losses the chapters use that torch does not ship, one module per family.

One signature per family: ``(input, target, *, ..., reduction="mean")`` for regression, as in
``torch.nn.functional``; ``(logits, targets, *, ..., reduction="mean")`` for classification.
Each function follows its inputs' device and dtype, refuses an unknown ``reduction`` and
mismatched shapes with ``ValueError``. The names are re-exported here.
"""

from lossprep.losses._common import REDUCTIONS, reduce
from lossprep.losses.classification import hinge_loss, sigmoid_focal_loss
from lossprep.losses.regression import log_cosh_loss, pinball_loss

__all__ = ["REDUCTIONS", "reduce", "log_cosh_loss", "pinball_loss", "sigmoid_focal_loss", "hinge_loss"]
