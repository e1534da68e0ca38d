"""Cut mmpretrain's Swin Transformer into units.

``SwinTransformer`` is a patch embedding (plus an optional absolute
position embedding), then stages of ``SwinBlock``s; every stage but the
last ends with a ``PatchMerging`` that the *next* stage's input goes
through (its output, for ``out_indices``, is taken before the merge and
normalised by ``norm{i}``). Swin works on token sequences with an
``hw_shape``; local modules hand tensors to each other, so every unit here
takes and returns an ``(N, C, H, W)`` map -- the layout of the stage outputs
-- and turns it into tokens inside (a reshape, values unchanged).

A unit is one Swin block; the patch merging in front of a stage goes with
that stage's first block, the patch embedding with the very first, so
Swin-T (depths 2, 2, 6, 2) gives 12 units. The last unit also carries the
final norm, so the units, run in order, return exactly
``backbone(x)[-1]``.
"""
from typing import List, Optional, Tuple

import torch
from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import Unregistered, optional_types
from .base import BackboneUnits, Unit, fresh_copy, several_outputs


def to_tokens(x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """``(N, C, H, W)`` -> ``(N, H*W, C)`` tokens and ``(H, W)``."""
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(n, h * w, c), (h, w)


def to_map(tokens: torch.Tensor, hw_shape) -> torch.Tensor:
    """``(N, H*W, C)`` tokens -> ``(N, C, H, W)``, as Swin's outputs."""
    n, _, c = tokens.shape
    return tokens.view(n, *hw_shape, c).permute(0, 3, 1, 2).contiguous()


class SwinStem(nn.Module):
    """Patch embedding, absolute position embedding (if any) and dropout of
    a ``SwinTransformer`` (its own modules), returning a map."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.patch_embed = backbone.patch_embed
        self.drop_after_pos = backbone.drop_after_pos
        if backbone.use_abs_pos_embed:
            # The backbone's own parameter, so the unit owns it too.
            self.absolute_pos_embed = backbone.absolute_pos_embed
        self._backbone = Unregistered(backbone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        backbone = self._backbone.module
        x, hw_shape = self.patch_embed(x)
        if backbone.use_abs_pos_embed:
            from mmpretrain.models.utils import resize_pos_embed
            x = x + resize_pos_embed(
                self.absolute_pos_embed, backbone.patch_resolution,
                hw_shape, backbone.interpolate_mode,
                backbone.num_extra_tokens)
        return to_map(self.drop_after_pos(x), hw_shape)


class SwinBlockUnit(nn.Module):
    """One ``SwinBlock`` on a map."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens, hw_shape = to_tokens(x)
        return to_map(self.block(tokens, hw_shape), hw_shape)


class PatchMergingUnit(nn.Module):
    """A ``PatchMerging`` (2x downsampling) on a map."""

    def __init__(self, merge: nn.Module):
        super().__init__()
        self.merge = merge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens, hw_shape = to_tokens(x)
        return to_map(*self.merge(tokens, hw_shape))


class SwinOutput(nn.Module):
    """The final ``norm{i}`` over the channels of a map."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens, hw_shape = to_tokens(x)
        return to_map(self.norm(tokens), hw_shape)


def fresh_swin_copy(module: nn.Module) -> nn.Module:
    """:func:`fresh_copy` that also re-draws the relative position bias
    tables (bare parameters) as mmpretrain's ``WindowMSA.init_weights``."""
    from mmengine.model.weight_init import trunc_normal_
    new = fresh_copy(module)
    for m in new.modules():
        table = getattr(m, 'relative_position_bias_table', None)
        if isinstance(table, nn.Parameter):
            trunc_normal_(table, std=0.02)
    return new


def swin_block_units(splitter: BackboneUnits, stem: nn.Module,
                     final_layer: Optional[nn.Module] = None) -> List[Unit]:
    """Units of a Swin backbone's ``splitter.stages``: one per Swin block;
    a stage's patch merging joins the next stage's first block, ``stem``
    the very first (or is a unit of its own with ``stem_as_unit``), and
    ``final_layer`` the last (classification's final norm and output)."""
    units = []
    if splitter.stem_as_unit:
        units.append(Unit('patch_embed', stem, -1, -1, False))
    for s, stage in enumerate(splitter.stages):
        for i, block in enumerate(stage.blocks):
            parts, name = [SwinBlockUnit(block)], f'stages.{s}.{i}'
            if i == 0 and s > 0:
                parts.insert(0, PatchMergingUnit(
                    splitter.stages[s - 1].downsample))
                name = f'stages.{s - 1}.downsample+{name}'
            elif i == 0 and not splitter.stem_as_unit:
                parts.insert(0, stem)
                name = f'patch_embed+{name}'
            units.append(splitter.make_unit(name, parts, s, i,
                                            i == len(stage.blocks) - 1,
                                            final_layer))
    return units


@UNIT_SPLITTERS.register_module()
class SwinUnits(BackboneUnits):
    """Units and stage layout of an mmpretrain ``SwinTransformer``.

    Args:
        backbone (SwinTransformer): A built Swin with ``out_indices`` the
            last stage only (image classification) and
            ``out_after_downsample=False`` (the default).
        stem_as_unit (bool, optional): Make the patch embedding a unit of
            its own. Defaults to False.
    """
    supported_names = 'mmpretrain.SwinTransformer (out_indices: last stage)'

    @classmethod
    def supported_types(cls):
        return optional_types('mmpretrain.models.backbones',
                                 'SwinTransformer')

    @classmethod
    def refusal(cls, backbone_cls, cfg):
        return several_outputs(cfg)

    def _init_stages(self):
        backbone = self.backbone
        last = len(backbone.stages) - 1
        if list(backbone.out_indices) != [last] or \
                backbone.out_after_downsample:
            # An earlier output is normalised only on its way out: the next
            # stage reads it un-normalised, so a unit cannot hand on both.
            raise ValueError(
                f'SwinUnits splits a SwinTransformer with out_indices=('
                f'{last},) and out_after_downsample=False (the classifier '
                f'layout); got out_indices={tuple(backbone.out_indices)}, '
                f'out_after_downsample={backbone.out_after_downsample}.')
        self.stages = list(backbone.stages)
        self.stage_names = [f'stages.{i}' for i in range(len(self.stages))]
        self.output = SwinOutput(getattr(backbone, f'norm{last}'))

    def _build_units(self) -> List[Unit]:
        return swin_block_units(self, SwinStem(self.backbone), self.output)

    def stage_out_channels(self, stage: int) -> int:
        return self.stages[max(stage, 0)].embed_dims

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """Fresh layers finishing the network after ``unit``: one Swin
        block for the rest of its stage if any remains, then per later
        stage a patch merging and one Swin block, then a fresh final
        norm."""
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
        if blocks:
            blocks.append(fresh_copy(self.output))
        return nn.Sequential(*blocks)
