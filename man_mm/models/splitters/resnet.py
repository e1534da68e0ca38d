"""Cut a backbone into *units*, the atoms that local modules are made of.

A unit is one residual block; the stem either joins the first block (ImageNet
ResNets, so ResNet-34/50 give the paper's K=16) or is a unit of its own (CIFAR
ResNets, so ResNet-32 gives K=16 as in AugLocal/InfoPro). Units are the
backbone's *own* submodules: local training updates the base model in place,
so its checkpoint stays loadable by the unmodified base config.
"""
from typing import List

from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import Unregistered, optional_types
from .base import BackboneUnits, StemAndBlock, Unit, fresh_copy


class ResNetStem(nn.Module):
    """The stem of an mmpretrain/mmdet ResNet as one module (same weights).

    ``layers`` registers the stem's modules (so the unit owns their
    parameters), but ``forward`` runs the backbone's modules *as they are
    now*: mmengine's ``sync_bn`` conversion replaces ``backbone.bn1`` by a
    ``SyncBatchNorm`` (sharing its parameters and buffers) after the units
    are built, and the stem must run the converted one.
    """

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self._backbone = Unregistered(backbone)
        self.layers = nn.Sequential(*self.backbone_layers())

    def backbone_layers(self) -> list:
        backbone = self._backbone.module
        if getattr(backbone, 'deep_stem', False):
            layers = [backbone.stem]
        else:
            layers = [
                backbone.conv1,
                getattr(backbone, backbone.norm1_name), backbone.relu
            ]
        # CIFAR variants have no max-pool: their forward skips it.
        if hasattr(backbone, 'maxpool'):
            layers.append(backbone.maxpool)
        return layers

    def forward(self, x):
        for layer in self.backbone_layers():
            x = layer(x)
        return x


@UNIT_SPLITTERS.register_module()
class ResNetUnits(BackboneUnits):
    """Units and stage layout of an mmpretrain or mmdet ResNet backbone.

    Args:
        backbone (nn.Module): A built ``ResNet`` / ``ResNet_CIFAR`` /
            ``ResNetV1c``/``V1d`` (mmpretrain), ``ResNet`` (mmdet) or
            ``man_mm.CifarResNet``.
        stem_as_unit (bool, optional): Make the stem a unit of its own. By
            default it is, exactly when the backbone has no max-pool (CIFAR).
    """
    supported_names = ('mmpretrain.ResNet, mmdet.ResNet and subclasses '
                       '(ResNet_CIFAR, ResNetV1c/V1d, man_mm.CifarResNet)')

    @classmethod
    def supported_types(cls):
        return (optional_types('mmpretrain.models.backbones', 'ResNet') +
                optional_types('mmdet.models.backbones', 'ResNet'))

    def _default_stem_as_unit(self) -> bool:
        return not hasattr(self.backbone, 'maxpool')

    def _init_stages(self):
        self.stages = [
            getattr(self.backbone, name) for name in self.backbone.res_layers
        ]
        self.stage_names = list(self.backbone.res_layers)

    def _build_units(self) -> List[Unit]:
        stem = ResNetStem(self.backbone)
        units = []
        if self.stem_as_unit:
            units.append(Unit('stem', stem, -1, -1, False))
        for s, (name, stage) in enumerate(zip(self.stage_names,
                                              self.stages)):
            for i, block in enumerate(stage):
                module, unit_name = block, f'{name}.{i}'
                if s == 0 and i == 0 and not self.stem_as_unit:
                    module, unit_name = StemAndBlock(stem, block), \
                        f'stem+{name}.0'
                units.append(
                    Unit(unit_name, module, s, i, i == len(stage) - 1))
        return units

    def stage_out_channels(self, stage: int) -> int:
        """Output channels of ``stage`` (``-1``: the stem)."""
        if stage < 0:
            return self.backbone.stem_channels
        last = self.stages[stage][-1]
        if hasattr(last, 'out_channels'):  # mmpretrain blocks
            return last.out_channels
        # mmdet blocks: the last conv of a block outputs the block's width.
        return [m for m in last.modules()
                if isinstance(m, nn.Conv2d)][-1].out_channels

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """Fresh (re-initialised) blocks finishing the network after ``unit``.

        One block for the rest of ``unit``'s stage if any remains, then one
        block per later stage, shaped like that stage's first block (paper
        eq. 4: same stages as the backbone, one layer each).

        Args:
            unit (Unit): The last unit before the fresh blocks.
            width (float): Inner width of the fresh blocks relative to the
                backbone's (:func:`narrow_block`); 1.0 is the paper's SLM.

        Returns:
            nn.Sequential: The fresh blocks, in forward order.
        """
        if width == 1.0:
            copy_block = fresh_copy
        else:
            from .narrow import narrow_block

            def copy_block(block):
                return narrow_block(block, width)
        blocks = []
        if unit.stage < 0:
            first_stage = 0
        else:
            stage = self.stages[unit.stage]
            if unit.index < len(stage) - 1:
                blocks.append(copy_block(stage[len(stage) - 1]))
            first_stage = unit.stage + 1
        for stage in self.stages[first_stage:]:
            blocks.append(copy_block(stage[0]))
        return nn.Sequential(*blocks)
