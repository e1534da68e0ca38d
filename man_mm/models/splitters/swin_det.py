"""Cut mmdet's Swin Transformer (the dense-prediction backbone) into units.

mmdet's ``SwinTransformer`` is laid out as mmpretrain's (a patch embedding,
then stages of ``SwinBlock``\\ s, each but the last followed by a
``PatchMerging``), but it returns *every* stage in ``out_indices``, each
normalised by ``norm{i}`` on its way out while the next stage reads it
un-normalised. A unit hands on one tensor, so the units carry the
un-normalised maps and the output norms are the splitter's
:meth:`DetSwinUnits.output_layers`, which the detection adapter runs in
front of the neck (:class:`~man_mm.models.task_adapters.detection.
NeckWithOutputs`).

A unit is one Swin block on an ``(N, C, H, W)`` map; the patch merging in
front of a stage goes with that stage's first block, the patch embedding
with the very first, so Swin-T (depths 2, 2, 6, 2) gives 12 units. Stage
``i`` is ``stages[i]``, so the stage indices are Swin's ``out_indices``;
stages after the last output index are not units (their result is unused).
"""
from typing import Dict, List

import torch
from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import Unregistered, optional_types
from .base import BackboneUnits, Unit
from .swin import (PatchMergingUnit, SwinBlockUnit, SwinOutput,
                   fresh_swin_copy, swin_block_units, to_map)


class DetSwinStem(nn.Module):
    """Patch embedding, absolute position embedding (if any) and dropout of
    an mmdet ``SwinTransformer`` (its own modules), returning a map."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.patch_embed = backbone.patch_embed
        self.drop_after_pos = backbone.drop_after_pos
        if backbone.use_abs_pos_embed:
            # The backbone's own parameter, so the unit owns it too.
            self.absolute_pos_embed = backbone.absolute_pos_embed
        self._backbone = Unregistered(backbone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, hw_shape = self.patch_embed(x)
        if self._backbone.module.use_abs_pos_embed:
            x = x + self.absolute_pos_embed  # mmdet adds it un-resized
        return to_map(self.drop_after_pos(x), hw_shape)


@UNIT_SPLITTERS.register_module()
class DetSwinUnits(BackboneUnits):
    """Units and stage layout of an mmdet ``SwinTransformer``.

    Args:
        backbone (SwinTransformer): A built mmdet Swin (any
            ``out_indices``).
        stem_as_unit (bool, optional): Make the patch embedding a unit of
            its own. Defaults to False.
    """
    supported_names = 'mmdet.SwinTransformer (dense out_indices)'

    @classmethod
    def supported_types(cls):
        return optional_types('mmdet.models.backbones', 'SwinTransformer')

    @classmethod
    def output_layers(cls, backbone) -> Dict[int, nn.Module]:
        """``{i: norm{i}}`` over maps: what mmdet's Swin applies to stage
        ``i``'s output for the neck only."""
        return {i: SwinOutput(getattr(backbone, f'norm{i}'))
                for i in backbone.out_indices}

    def _init_stages(self):
        last = max(self.backbone.out_indices)
        self.stages = list(self.backbone.stages)[:last + 1]
        self.stage_names = [f'stages.{i}' for i in range(len(self.stages))]

    def _build_units(self) -> List[Unit]:
        return swin_block_units(self, DetSwinStem(self.backbone))

    def stage_out_channels(self, stage: int) -> int:
        return self.backbone.num_features[max(stage, 0)]

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """Fresh layers finishing the network after ``unit``: one Swin
        block for the rest of its stage if any remains, then per later
        stage a patch merging and one Swin block (the output norms are the
        neck's, :meth:`output_layers`)."""
        self.check_width(width)
        blocks = []
        stage = max(unit.stage, 0)
        if unit.stage < 0 or not unit.is_stage_end:
            blocks.append(fresh_swin_copy(
                SwinBlockUnit(self.stages[stage].blocks[-1])))
        for s in range(stage + 1, len(self.stages)):
            blocks.append(fresh_swin_copy(nn.Sequential(
                PatchMergingUnit(self.stages[s - 1].downsample),
                SwinBlockUnit(self.stages[s].blocks[0]))))
        return nn.Sequential(*blocks)
