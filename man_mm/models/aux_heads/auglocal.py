"""AugLocal auxiliary net (Ma et al., 2024), a Table 1 baseline.

Reference: ChenxiangMA/AugLocal, ``networks/auxiliary_nets.py``
(``unifSamp``, l. 212-246), ``networks/resnet.py`` (depth pyramid
l. 135-138, init l. 166-172), ``train.py`` (``local_module_num - aux_net_depth``
modules, l. 82-84) and its README command for ResNet-32 K=16
(``--aux_net_depth 2 --pyramid --pyramid_coeff 0.5``).
"""
from torch import nn

from man_mm.registry import MODELS
from ..splitters.base import fresh_copy
from .common import (cross_entropy, depth_fraction, he_init_convs,
                          num_classes_of)


def sample_later_units(position: int, last: int, depth: int) -> list:
    """AugLocal's uniform sampling of later layers.

    With the module ending at layer ``position`` of ``0..last``: every later
    layer if ``depth`` reaches the end, else layers
    ``round(position + (last - position) / depth * k)`` for ``k = 1..depth``
    (Python's rounding, as the reference; the last is always ``last``).
    """
    if depth >= last - position:
        return list(range(position + 1, last + 1))
    step = (last - position) / depth
    return [int(round(position + step * k)) for k in range(1, depth + 1)]


@MODELS.register_module()
class AugLocalClsAux(nn.Module):
    """Aux net made of uniformly sampled later layers, fresh weights.

    The aux depth follows AugLocal's linear *depth pyramid*: the module at
    depth fraction ``r`` gets ``max(1, round(depth * (1 - c r) + c r))``
    blocks (``c = pyramid_coeff``). Its layers are sampled uniformly from
    the rest of the network (:func:`sample_later_units`) and built fresh,
    one block per sampled layer: a layer in a later stage is built as that
    stage's first (downsampling) block, so shapes chain as AugLocal's
    ``BasicBlock(cur_in, net_dim[idx], stride)``. (Only a sample that skips
    a whole stage, at depth 1, gets that stage's first block as well:
    copied blocks cannot jump two widths at once.) A
    ``BatchNorm1d`` precedes the classifier when the aux has depth 1, as in
    the reference.

    AugLocal's "K=16" trains ``16 - depth`` modules: its last module absorbs
    ``depth`` more blocks (13 aux nets at depth 2). The Table 1 configs
    write that split (``split_points``).

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
        blocks = []
        stage = last_unit.stage
        width = units.stage_out_channels(stage)

        def first_block(s):
            return next(u for u in all_units if u.stage == s and u.index == 0)

        # One block per sampled layer, as AugLocal: a layer of a later stage
        # enters through that stage's first (downsampling) block.
        for idx in sample_later_units(pos, len(all_units) - 1, depth):
            unit = all_units[idx]
            for s in range(stage + 1, unit.stage):  # stages jumped over
                if units.stage_out_channels(s) != width:
                    blocks.append(fresh_copy(first_block(s).module))
                    width = units.stage_out_channels(s)
            blocks.append(fresh_copy(
                first_block(unit.stage).module if unit.stage > stage
                else unit.module))
            stage = unit.stage
            width = units.stage_out_channels(stage)
        self.blocks = nn.Sequential(*blocks)
        self.depth = depth
        head = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        if depth <= 1:
            head.append(nn.BatchNorm1d(width))
        self.classifier = nn.Sequential(
            *head, nn.Linear(width, num_classes_of(task)))
        he_init_convs(self)

    def forward(self, x, data_samples, bank):
        return dict(loss_auglocal=cross_entropy(
            self.classifier(self.blocks(x)), data_samples))

    def extra_repr(self):
        return f'depth={self.depth}, blocks={len(self.blocks)}'
