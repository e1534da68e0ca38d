"""Cut mmdet's MobileNetV2 (YOLOv3-MobileNetV2, SSDLite) into units.

mmdet's ``MobileNetV2`` runs ``conv1``, then the layers named in
``self.layers`` (``layer1``..``layer7``, ``Sequential``\\ s of
``InvertedResidual``\\ s, and the final 1x1 ``conv2``), and returns the
layers at ``out_indices`` (indices into ``self.layers``). Stage ``i`` is
``self.layers[i]``, so the stage indices are its ``out_indices``. A unit is
one inverted-residual block (``conv2``: one unit), ``conv1`` joining the
first; stages after the last output index are not units (YOLOv3's
``out_indices=(2, 4, 6)`` never reads ``conv2``).
"""
from typing import List

from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import BackboneUnits, StemAndBlock, Unit, fresh_copy


def _blocks(stage: nn.Module) -> List[nn.Module]:
    """A layer's blocks; ``conv2`` (one ``ConvModule``) is one block."""
    return list(stage) if isinstance(stage, nn.Sequential) else [stage]


@UNIT_SPLITTERS.register_module()
class DetMobileNetV2Units(BackboneUnits):
    """Units and stage layout of an mmdet ``MobileNetV2``.

    Args:
        backbone (MobileNetV2): A built mmdet MobileNetV2.
        stem_as_unit (bool, optional): Make ``conv1`` a unit of its own.
            Defaults to False (it joins the first block).
    """
    supported_names = 'mmdet.MobileNetV2 (dense out_indices)'

    @classmethod
    def supported_types(cls):
        return optional_types('mmdet.models.backbones', 'MobileNetV2')

    def _init_stages(self):
        last = max(self.backbone.out_indices)
        self.stage_names = list(self.backbone.layers)[:last + 1]
        self.stages = [getattr(self.backbone, n) for n in self.stage_names]

    def _build_units(self) -> List[Unit]:
        stem = self.backbone.conv1
        units = []
        if self.stem_as_unit:
            units.append(Unit('conv1', stem, -1, -1, False))
        for s, (name, stage) in enumerate(zip(self.stage_names,
                                              self.stages)):
            blocks = _blocks(stage)
            for i, block in enumerate(blocks):
                module, unit_name = block, f'{name}.{i}'
                if s == 0 and i == 0 and not self.stem_as_unit:
                    module, unit_name = StemAndBlock(stem, block), \
                        f'conv1+{unit_name}'
                units.append(
                    Unit(unit_name, module, s, i, i == len(blocks) - 1))
        return units

    def stage_out_channels(self, stage: int) -> int:
        module = self.backbone.conv1 if stage < 0 else self.stages[stage]
        return [m for m in module.modules()
                if isinstance(m, nn.Conv2d)][-1].out_channels

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """Fresh layers finishing the network after ``unit``: its stage's
        last block if the stage goes on, then each later stage's first
        block (which changes width and stride)."""
        self.check_width(width)
        blocks = []
        stage = max(unit.stage, 0)
        if unit.stage < 0 or not unit.is_stage_end:
            blocks.append(fresh_copy(_blocks(self.stages[stage])[-1]))
        blocks += [fresh_copy(_blocks(self.stages[s])[0])
                   for s in range(stage + 1, len(self.stages))]
        return nn.Sequential(*blocks)
