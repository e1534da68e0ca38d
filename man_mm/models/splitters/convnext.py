"""Cut mmpretrain's ConvNeXt into units.

ConvNeXt is four ``downsample_layers`` (the first is the patchify stem)
each followed by a stage of ``ConvNeXtBlock``s, then, for each index in
``out_indices``, a final norm layer (``norm{i}``; with
``gap_before_final_norm`` applied to the globally pooled feature, which
is what the classifier reads). A unit is one block; a stage's downsample
layer goes with its first block (the stem with the very first), so
ConvNeXt-T (depths 3, 3, 9, 3) gives 18 units. The last unit also carries
the final norm (:class:`ConvNeXtOutput`), so the units, run in order,
return exactly ``backbone(x)[-1]``.

A dense ConvNeXt (several ``out_indices``, ``gap_before_final_norm=False``,
as mmdet's Mask R-CNN and RTMDet configs use it) normalises each output
stage on its way to the neck only, while the next stage reads it
un-normalised: its units carry the un-normalised maps, stop at the last
output stage, and the norms are :meth:`ConvNeXtUnits.output_layers`, which
the detection adapter runs in front of the neck.
"""
from typing import Dict, List

import torch
from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import BackboneUnits, Unit, fresh_copy, several_outputs

#: mmpretrain's default ``layer_scale_init_value`` of ``ConvNeXtBlock``.
LAYER_SCALE_INIT = 1e-6


class ConvNeXtOutput(nn.Module):
    """The last stage's output as ``ConvNeXt.forward`` returns it.

    Args:
        norm (nn.Module): The backbone's ``norm{last}`` (or a fresh copy).
        gap_before_final_norm (bool): Pool globally, then normalise and
            flatten to ``(N, C)``; otherwise normalise the ``(N, C, H, W)``
            map.
    """

    def __init__(self, norm: nn.Module, gap_before_final_norm: bool):
        super().__init__()
        self.norm = norm
        self.gap_before_final_norm = gap_before_final_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gap_before_final_norm:
            return self.norm(x.mean([-2, -1], keepdim=True)).flatten(1)
        return self.norm(x)


def fresh_convnext_copy(module: nn.Module) -> nn.Module:
    """:func:`fresh_copy` that also resets layer-scale ``gamma`` (a bare
    parameter no ``reset_parameters`` covers) to mmpretrain's default."""
    from mmpretrain.models.backbones.convnext import ConvNeXtBlock
    new = fresh_copy(module)
    for m in new.modules():
        # Only the blocks' layer scale: ConvNeXt-V2's GRN also has a
        # ``gamma``, which starts at 0 (its reset_parameters).
        if isinstance(m, ConvNeXtBlock) and isinstance(
                getattr(m, 'gamma', None), nn.Parameter):
            with torch.no_grad():
                m.gamma.fill_(LAYER_SCALE_INIT)
    return new


@UNIT_SPLITTERS.register_module()
class ConvNeXtUnits(BackboneUnits):
    """Units and stage layout of an mmpretrain ``ConvNeXt``.

    Args:
        backbone (ConvNeXt): A built ConvNeXt whose ``out_indices`` is the
            last stage only (image classification), or several stages with
            ``gap_before_final_norm=False`` (dense prediction).
        stem_as_unit (bool, optional): Make the stem (``downsample_layers
            [0]``) a unit of its own. Defaults to False.
    """
    supported_names = ('mmpretrain.ConvNeXt (out_indices: last stage, or '
                       'several without gap_before_final_norm)')

    @classmethod
    def supported_types(cls):
        return optional_types('mmpretrain.models.backbones', 'ConvNeXt')

    @classmethod
    def refusal(cls, backbone_cls, cfg):
        if cfg.get('gap_before_final_norm', True):
            return several_outputs(cfg)
        return None

    @staticmethod
    def _dense(backbone) -> bool:
        """Several outputs (or one not last): the dense layout."""
        return list(backbone.out_indices) != [backbone.num_stages - 1]

    @classmethod
    def output_layers(cls, backbone) -> Dict[int, nn.Module]:
        """``{i: norm{i}}`` of a dense ConvNeXt, which it applies to stage
        ``i``'s output for the neck only; none in the classifier layout
        (the last unit carries its norm)."""
        if not cls._dense(backbone):
            return {}
        return {i: getattr(backbone, f'norm{i}')
                for i in backbone.out_indices}

    def _init_stages(self):
        backbone = self.backbone
        last = backbone.num_stages - 1
        self.output = None
        if self._dense(backbone):
            if backbone.gap_before_final_norm:
                # Pooled vectors cannot feed a neck, and the norms are only
                # on the way out, so there is no dense layout to split.
                raise ValueError(
                    f'ConvNeXtUnits splits a ConvNeXt with out_indices=('
                    f'{last},) (the classifier layout) or, for dense '
                    'prediction, several out_indices with '
                    'gap_before_final_norm=False; got out_indices='
                    f'{tuple(backbone.out_indices)} with '
                    'gap_before_final_norm=True.')
            # Later stages are never read: no units for them.
            self.stages = list(backbone.stages)[
                :max(backbone.out_indices) + 1]
        else:
            self.stages = list(backbone.stages)
            self.output = ConvNeXtOutput(
                getattr(backbone, f'norm{last}'),
                backbone.gap_before_final_norm)
        self.stage_names = [f'stages.{i}' for i in range(len(self.stages))]

    def _build_units(self) -> List[Unit]:
        downsample = self.backbone.downsample_layers
        units = []
        if self.stem_as_unit:
            units.append(Unit('stem', downsample[0], -1, -1, False))
        for s, stage in enumerate(self.stages):
            for i, block in enumerate(stage):
                parts, name = [block], f'stages.{s}.{i}'
                if i == 0 and (s > 0 or not self.stem_as_unit):
                    parts.insert(0, downsample[s])
                    name = f'downsample_layers.{s}+{name}'
                units.append(self.make_unit(name, parts, s, i,
                                            i == len(stage) - 1,
                                            self.output))
        return units

    def stage_out_channels(self, stage: int) -> int:
        return self.backbone.channels[max(stage, 0)]

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """Fresh layers finishing the network after ``unit``: one block for
        the rest of its stage if any remains, then a downsample layer and
        one block per later stage, then a fresh final norm (dense: none,
        the output norms are the neck's, :meth:`output_layers`)."""
        self.check_width(width)
        downsample = self.backbone.downsample_layers
        blocks = []
        stage = max(unit.stage, 0)
        if unit.stage < 0 or not unit.is_stage_end:
            blocks.append(fresh_convnext_copy(self.stages[stage][-1]))
        for s in range(stage + 1, len(self.stages)):
            blocks.append(fresh_convnext_copy(
                nn.Sequential(downsample[s], self.stages[s][0])))
        if blocks and self.output is not None:
            blocks.append(fresh_copy(self.output))
        return nn.Sequential(*blocks)
