"""Cut mmdet's Pyramid Vision Transformer (v1 and v2) into units.

``PyramidVisionTransformer`` is a ``ModuleList`` ``layers`` of stages, each
``[patch_embed, blocks, norm]``: the patch embedding reads the previous
stage's ``(N, C, H, W)`` map, ``blocks`` are an optional
``AbsolutePositionEmbedding`` (v1) then ``PVTEncoderLayer``\\ s on tokens,
and the norm is on the main path (every stage's output, which is also what
the next stage reads, is normalised). A unit is one encoder layer on a map
(a reshape to tokens and back, values unchanged); a stage's patch
embedding and position embedding go with its first layer, its norm with
its last, so PVT-tiny (2, 2, 2, 2) gives 8 units and each stage-end unit
returns exactly that stage's output. Stages after the last output index are
not units (their result is unused).
"""
from typing import List, Optional

import torch
from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import BackboneUnits, Unit, fresh_copy
from .swin import to_map, to_tokens


class PVTUnit(nn.Module):
    """Encoder layers of one PVT stage on a map, with the stage's patch
    embedding in front (its first unit) and its norm behind (its last).

    Args:
        blocks (list[nn.Module]): Position embedding and/or encoder layers
            (called as ``block(tokens, hw_shape)``).
        patch_embed (nn.Module, optional): The stage's ``PatchEmbed``.
        norm (nn.Module, optional): The stage's output norm.
    """

    def __init__(self, blocks: List[nn.Module],
                 patch_embed: Optional[nn.Module] = None,
                 norm: Optional[nn.Module] = None):
        super().__init__()
        self.patch_embed = patch_embed
        self.blocks = nn.ModuleList(blocks)
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.patch_embed is not None:
            x, hw_shape = self.patch_embed(x)
        else:
            x, hw_shape = to_tokens(x)
        for block in self.blocks:
            x = block(x, hw_shape)
        if self.norm is not None:
            x = self.norm(x)
        return to_map(x, hw_shape)


def fresh_pvt_copy(module: nn.Module) -> nn.Module:
    """:func:`fresh_copy` that also re-draws absolute position embeddings
    (bare parameters) as PVT's ``init_weights``."""
    from mmengine.model.weight_init import trunc_normal_
    new = fresh_copy(module)
    for m in new.modules():
        pos = getattr(m, 'pos_embed', None)
        if isinstance(pos, nn.Parameter):
            trunc_normal_(pos, std=0.02)
    return new


@UNIT_SPLITTERS.register_module()
class PVTUnits(BackboneUnits):
    """Units and stage layout of an mmdet ``PyramidVisionTransformer`` or
    ``PyramidVisionTransformerV2``.

    Args:
        backbone (nn.Module): A built PVT (v1 or v2).
        stem_as_unit (bool, optional): Ignored: the first patch embedding
            always joins the first encoder layer.
    """
    supported_names = ('mmdet.PyramidVisionTransformer, '
                       'PyramidVisionTransformerV2')

    @classmethod
    def supported_types(cls):
        return optional_types('mmdet.models.backbones',
                              'PyramidVisionTransformer')

    def _init_stages(self):
        last = max(self.backbone.out_indices)
        self.stages = list(self.backbone.layers)[:last + 1]
        self.stage_names = [f'layers.{i}' for i in range(len(self.stages))]

    def _stage_units(self, s: int) -> List[List[nn.Module]]:
        """The encoder layers of stage ``s`` grouped per unit: a position
        embedding (v1) goes with the first layer."""
        groups, pending = [], []
        for block in self.stages[s][1]:
            pending.append(block)
            if not type(block).__name__.startswith('AbsolutePosition'):
                groups.append(pending)
                pending = []
        if pending:  # a stage of a position embedding alone
            groups.append(pending)
        return groups

    def _unit(self, s: int, i: int, blocks: List[nn.Module],
              last: bool) -> PVTUnit:
        patch_embed, _, norm = self.stages[s]
        return PVTUnit(blocks, patch_embed if i == 0 else None,
                       norm if last else None)

    def _build_units(self) -> List[Unit]:
        units = []
        for s in range(len(self.stages)):
            groups = self._stage_units(s)
            for i, blocks in enumerate(groups):
                end = i == len(groups) - 1
                name = f'{self.stage_names[s]}.{i}'
                if i == 0:
                    name = f'{self.stage_names[s]}.patch_embed+{name}'
                units.append(Unit(name, self._unit(s, i, blocks, end), s,
                                  i, end))
        return units

    def stage_out_channels(self, stage: int) -> int:
        return self.stages[max(stage, 0)][0].projection.out_channels

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """Fresh layers finishing the network after ``unit``: its stage's
        last encoder layer and norm if the stage goes on, then per later
        stage its patch embedding, first layer and norm."""
        self.check_width(width)
        blocks = []
        if not unit.is_stage_end:
            groups = self._stage_units(unit.stage)
            blocks.append(fresh_pvt_copy(self._unit(
                unit.stage, len(groups) - 1, groups[-1], True)))
        for s in range(unit.stage + 1, len(self.stages)):
            blocks.append(fresh_pvt_copy(self._unit(
                s, 0, self._stage_units(s)[0], True)))
        return nn.Sequential(*blocks)
