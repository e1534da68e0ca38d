"""Cut mmdet's CSPNeXt (RTMDet) and CSPDarknet (YOLOX) into units.

Both are a ``stem`` then stages ``stage1``..``stage4`` named in
``self.layers``; each stage is a ``Sequential`` of a stride-2 conv, an
``SPPBottleneck`` (last stage only) and a ``CSPLayer``. Their
``out_indices`` number ``self.layers``, the stem included, so the splitter
keeps that numbering (stage 0 is the stem, stage ``i`` is ``stage{i}``) and
the detection adapter's keys (``'stage2'``...) are the backbone's own
``out_indices``.

A ``CSPLayer`` runs two branches from one input (``main_conv`` + blocks,
``short_conv``) and joins them, so no single activation can be handed on
between its blocks: a unit is one child of a stage (the conv, the SPP, the
CSP layer), the stem joining the first one. RTMDet-tiny and YOLOX-s give
2+2+2+3 = 9 units. Stages after the last output index are not units (their
result is unused).
"""
from typing import List

from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import BackboneUnits, Unit, fresh_copy


def _is_csp_layer(module: nn.Module) -> bool:
    return all(hasattr(module, n) for n in ('main_conv', 'short_conv',
                                            'final_conv', 'blocks'))


def _out_channels(module: nn.Module) -> int:
    """Output channels of a stage child (or of the stem)."""
    last = module[-1] if isinstance(module, nn.Sequential) else module
    if _is_csp_layer(last):  # its ChannelAttention conv comes after
        return last.final_conv.conv.out_channels
    return [m for m in last.modules()
            if isinstance(m, nn.Conv2d)][-1].out_channels


def fresh_light_copy(module: nn.Module) -> nn.Module:
    """:func:`fresh_copy` whose ``CSPLayer``\\ s keep one block: the SLM's
    "one layer per stage" (input and output widths unchanged)."""
    new = fresh_copy(module)
    for m in new.modules():
        if _is_csp_layer(m) and len(m.blocks) > 1:
            m.blocks = nn.Sequential(m.blocks[0])
    return new


@UNIT_SPLITTERS.register_module()
class CSPUnits(BackboneUnits):
    """Units and stage layout of an mmdet ``CSPNeXt`` or ``CSPDarknet``.

    Args:
        backbone (nn.Module): A built ``CSPNeXt`` / ``CSPDarknet``.
        stem_as_unit (bool, optional): Make the stem a unit of its own
            (stage 0). By default it is exactly when the stem is an output
            (``0 in out_indices``); otherwise it joins the first unit.
    """
    supported_names = 'mmdet.CSPNeXt (RTMDet), mmdet.CSPDarknet (YOLOX)'

    @classmethod
    def supported_types(cls):
        return optional_types('mmdet.models.backbones', 'CSPNeXt',
                              'CSPDarknet')

    def _default_stem_as_unit(self) -> bool:
        return 0 in self.backbone.out_indices

    def _init_stages(self):
        last = max(self.backbone.out_indices)
        self.stage_names = list(self.backbone.layers)[:last + 1]
        self.stages = [getattr(self.backbone, n) for n in self.stage_names]

    def _build_units(self) -> List[Unit]:
        stem = self.stages[0]
        units = []
        if self.stem_as_unit:
            units.append(Unit('stem', stem, 0, 0, True))
        for s in range(1, len(self.stages)):
            name, stage = self.stage_names[s], self.stages[s]
            for i, child in enumerate(stage):
                module, unit_name = child, f'{name}.{i}'
                if s == 1 and i == 0 and not self.stem_as_unit:
                    module, unit_name = nn.Sequential(stem, child), \
                        f'stem+{unit_name}'
                units.append(
                    Unit(unit_name, module, s, i, i == len(stage) - 1))
        return units

    def stage_out_channels(self, stage: int) -> int:
        return _out_channels(self.stages[max(stage, 0)])

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """Fresh layers finishing the network after ``unit``: the rest of
        its stage (if any), then one copy per later stage, every
        ``CSPLayer`` with one block (:func:`fresh_light_copy`)."""
        self.check_width(width)
        blocks = []
        stage = max(unit.stage, 0)
        if stage > 0 and not unit.is_stage_end:
            rest = list(self.stages[stage])[unit.index + 1:]
            blocks.append(fresh_light_copy(nn.Sequential(*rest)))
        for s in range(stage + 1, len(self.stages)):
            blocks.append(fresh_light_copy(self.stages[s]))
        return nn.Sequential(*blocks)
