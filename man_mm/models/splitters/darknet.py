"""Cut mmdet's Darknet (the YOLOv3 backbone) into units.

Darknet-53 is a stem ``conv1`` then five ``conv_res_block``s; each of those
is a stride-2 ``ConvModule`` (``.conv``) followed by residual blocks
(``.res0``, ``.res1``, ...). Darknet numbers its outputs over
``cr_blocks = ['conv1', 'conv_res_block1', ..., 'conv_res_block5']``, so
YOLOv3's ``out_indices=(3, 4, 5)`` are the last three ``conv_res_block``s.
The splitter keeps that numbering: stage 0 is the stem, stage ``i`` is
``conv_res_block{i}``, so the detection adapter's stage keys
(``'stage3'``...) are Darknet's own ``out_indices``.

A unit is one residual block; a stage's downsampling conv goes with its
first block (as a ResNet's downsample lives in its first block) and the stem
with the very first one, so Darknet-53 gives 1+2+8+8+4 = 23 units.
"""
from typing import List

from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import BackboneUnits, Unit, fresh_copy


class DownsampleAndBlock(nn.Sequential):
    """A stage's stride-2 conv and its first residual block (the backbone's
    own modules, or fresh copies in an SLM)."""


@UNIT_SPLITTERS.register_module()
class DarknetUnits(BackboneUnits):
    """Units and stage layout of an mmdet ``Darknet``.

    Stages are numbered as Darknet's ``cr_blocks``, the stem (stage 0)
    included, so ``num_stages`` is 6 and the stage indices are Darknet's
    ``out_indices``.

    Args:
        backbone (Darknet): A built mmdet Darknet.
        stem_as_unit (bool, optional): Make ``conv1`` a unit of its own
            (stage 0). Defaults to False: it goes with the first block.
    """
    supported_names = 'mmdet.Darknet (YOLOv3)'

    @classmethod
    def supported_types(cls):
        return optional_types('mmdet.models.backbones', 'Darknet')

    def _init_stages(self):
        self.stage_names = list(self.backbone.cr_blocks)
        self.stages = [
            getattr(self.backbone, name) for name in self.stage_names
        ]

    def _build_units(self) -> List[Unit]:
        stem = self.backbone.conv1
        units = []
        if self.stem_as_unit:
            units.append(Unit('conv1', stem, 0, 0, True))
        for s in range(1, len(self.stages)):
            name, stage = self.stage_names[s], self.stages[s]
            blocks = self._res_blocks(s)
            for i, block in enumerate(blocks):
                module, unit_name = block, f'{name}.res{i}'
                if i == 0:
                    module = DownsampleAndBlock(stage.conv, block)
                    unit_name = f'{name}.conv+res0'
                    if s == 1 and not self.stem_as_unit:
                        module = nn.Sequential(stem, *module)
                        unit_name = f'conv1+{unit_name}'
                units.append(
                    Unit(unit_name, module, s, i, i == len(blocks) - 1))
        return units

    def _res_blocks(self, stage: int) -> List[nn.Module]:
        return [m for n, m in self.stages[stage].named_children()
                if n.startswith('res')]

    def stage_out_channels(self, stage: int) -> int:
        if stage <= 0:
            return self.backbone.conv1.conv.out_channels
        return self.backbone.channels[stage - 1][1]

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """Fresh (re-initialised) layers finishing the network after
        ``unit``: one residual block for the rest of its stage if any
        remains, then, per later stage, that stage's downsampling conv and
        one residual block."""
        self.check_width(width)
        blocks = []
        if unit.stage > 0 and not unit.is_stage_end:
            blocks.append(fresh_copy(self._res_blocks(unit.stage)[-1]))
        for s in range(max(unit.stage, 0) + 1, len(self.stages)):
            blocks.append(fresh_copy(DownsampleAndBlock(
                self.stages[s].conv, self._res_blocks(s)[0])))
        return nn.Sequential(*blocks)
