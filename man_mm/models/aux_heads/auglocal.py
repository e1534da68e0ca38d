"""AugLocal auxiliary net (Ma et al., 2024), a Table 1 baseline."""
import numpy as np
from torch import nn

from man_mm.registry import MODELS
from ..local.units import fresh_copy
from ._cls_common import PoolLinear, cross_entropy, num_classes_of


@MODELS.register_module()
class AugLocalClsAux(nn.Module):
    """Aux net made of uniformly sampled later layers, fresh weights.

    The aux depth follows a linear *depth pyramid*: ``depth_max`` blocks for
    the first module down to ``depth_min`` for the last aux. Every later
    stage keeps its first (downsampling) block so shapes chain; the rest of
    the budget goes to later non-first blocks chosen uniformly. The head is
    the aux's own pooled linear classifier.

    Args:
        task, units, last_unit: As for every aux net.
        depth_max (int): Aux depth of the first module. Defaults to 5.
        depth_min (int): Aux depth of the last aux. Defaults to 2.
    """

    def __init__(self, task, units, last_unit, depth_max: int = 5,
                 depth_min: int = 2):
        super().__init__()
        all_units = units.units
        pos = all_units.index(last_unit)
        frac = pos / max(len(all_units) - 2, 1)
        depth = int(round(depth_max - (depth_max - depth_min) * frac))
        later = all_units[pos + 1:]
        # Mandatory: the first block of every later stage.
        chosen = {u.name for u in later if u.index == 0}
        optional = [u for u in later if u.index != 0]
        budget = max(depth - len(chosen), 0)
        if budget and optional:
            picks = np.linspace(0, len(optional) - 1, min(budget,
                                                          len(optional)))
            chosen |= {optional[int(round(i))].name for i in picks}
        blocks = [fresh_copy(u.module) for u in later if u.name in chosen]
        self.blocks = nn.Sequential(*blocks)
        out_c = units.stage_out_channels(units.num_stages - 1) if later \
            else units.stage_out_channels(last_unit.stage)
        self.classifier = PoolLinear(out_c, num_classes_of(task))
        self.depth = len(blocks)

    def forward(self, x, data_samples, bank):
        return dict(loss_auglocal=cross_entropy(
            self.classifier(self.blocks(x)), data_samples))

    def extra_repr(self):
        return f'depth={self.depth}'
