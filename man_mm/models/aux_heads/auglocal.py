"""AugLocal auxiliary net (Ma et al., 2024), a Table 1 baseline."""
import numpy as np
from torch import nn

from man_mm.registry import MODELS
from ..local.units import fresh_copy
from ._cls_common import (PoolLinear, cross_entropy, depth_fraction,
                          num_classes_of)


@MODELS.register_module()
class AugLocalClsAux(nn.Module):
    """Aux net made of uniformly sampled later layers, fresh weights.

    The aux depth follows AugLocal's linear *depth pyramid*: module ``i``
    of ``K`` gets ``max(1, round(depth * (1 - c r) + c r))`` blocks with
    ``r = i / (K - 2)`` and ``c = pyramid_coeff`` (AugLocal's
    ``aux_depth_list``), i.e. ``depth`` for the first module down to
    ``depth (1 - c) + c`` for the last aux. The defaults are its ResNet-32
    K=16 CIFAR-10 command (``--aux_net_depth 2 --pyramid --pyramid_coeff
    0.5``, AugLocal README). Every later stage keeps its first
    (downsampling) block so shapes chain, even if that exceeds the budget;
    the rest goes to later non-first blocks chosen uniformly. The head is
    the aux's own pooled linear classifier.

    Args:
        task, units, last_unit: As for every aux net.
        depth (int): Aux depth of the first module. Defaults to 2.
        pyramid_coeff (float): Pyramid slope ``c``; 0 keeps every aux at
            ``depth``. Defaults to 0.5.
    """

    def __init__(self, task, units, last_unit, depth: int = 2,
                 pyramid_coeff: float = 0.5):
        super().__init__()
        all_units = units.units
        pos = all_units.index(last_unit)
        r = pyramid_coeff * depth_fraction(units, last_unit)
        depth = max(1, int(round(depth * (1 - r) + r)))
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
