"""Cut a stem / stages / tail convnet into units: EfficientNet(V2),
MobileNetV2.

These mmpretrain backbones run a stem conv, a list of stages (each a
``Sequential`` of inverted-residual or fused blocks; EfficientNet joins
some stages of different widths into one, which the splitter separates)
and a final 1x1 conv,
one after the other, and return the final conv's output for
classification. Every unit is one block; the stem joins the first block
and the final conv joins the last. MAN's SLM aux after a unit is a fresh
copy of its stage's last block (if the stage goes on), of each later
stage's first block (which changes width and stride), and of the final
conv, as the paper's "one layer per stage".
"""
from typing import List, Tuple

from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import (BackboneUnits, StemAndBlock, Unit, fresh_copy,
                   several_outputs)


def _parts(backbone) -> Tuple[nn.Module, List[nn.Module], nn.Module]:
    """``(stem, stages, tail)`` of a supported backbone."""
    if hasattr(backbone, 'conv1'):  # MobileNetV2: conv1, layer1.., conv2
        names = list(backbone.layers)
        return backbone.conv1, [getattr(backbone, n)
                                for n in names[:-1]], \
            getattr(backbone, names[-1])
    layers = list(backbone.layers)  # EfficientNet(V2): one ModuleList
    return layers[0], layers[1:-1], layers[-1]


def _out_channels(module: nn.Module) -> int:
    """Output channels of a block or conv: its last convolution's."""
    return [m for m in module.modules()
            if isinstance(m, nn.Conv2d)][-1].out_channels


def _changes_shape(block: nn.Module) -> bool:
    """Whether a block changes its input's width or resolution (its first
    conv reads the input, its last writes the output)."""
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    return convs[0].in_channels != convs[-1].out_channels or any(
        max(c.stride) > 1 for c in convs)


def _runs(sequences) -> List[List[nn.Module]]:
    """Blocks grouped into stages of one shape: a new stage starts at each
    block that changes the shape (EfficientNet's ``Sequential``\\ s join
    stages of different widths)."""
    runs = []
    for seq in sequences:
        for i, block in enumerate(seq):
            if i == 0 or _changes_shape(block):
                runs.append([])
            runs[-1].append(block)
    return runs


@UNIT_SPLITTERS.register_module()
class StageListUnits(BackboneUnits):
    """Units of mmpretrain's ``EfficientNet``, ``EfficientNetV2`` and
    ``MobileNetV2``: one per block.

    Args:
        backbone (nn.Module): A built backbone whose ``out_indices`` is its
            last layer (the final conv: image classification).
        stem_as_unit (bool, optional): Make the stem conv a unit of its
            own. Defaults to False (it joins the first block).
    """
    supported_names = ('mmpretrain.EfficientNet, EfficientNetV2, '
                       'MobileNetV2 (out_indices: the final conv)')

    @classmethod
    def supported_types(cls):
        return optional_types('mmpretrain.models.backbones', 'EfficientNet',
                              'EfficientNetV2', 'MobileNetV2')

    @classmethod
    def refusal(cls, backbone_cls, cfg):
        return several_outputs(cfg)

    def _init_stages(self):
        backbone = self.backbone
        stem, stages, tail = _parts(backbone)
        last = len(stages) + (0 if hasattr(backbone, 'conv1') else 1)
        if list(backbone.out_indices) != [last]:
            raise ValueError(
                f'StageListUnits splits a {type(backbone).__name__} with '
                f'out_indices=({last},) (the final conv: the classifier '
                f'layout); got out_indices={tuple(backbone.out_indices)}.')
        self.stem, self.tail = stem, tail
        # Stages of one shape each: a later stage's first block is what
        # changes width or resolution, the rest keep it.
        self.stages = _runs(stages)
        self.stage_names = [f'stage{i}' for i in range(len(self.stages))]

    def _build_units(self) -> List[Unit]:
        units = []
        if self.stem_as_unit:
            units.append(Unit('stem', self.stem, -1, -1, False))
        for s, stage in enumerate(self.stages):
            for i, block in enumerate(stage):
                parts, name = [block], f'{self.stage_names[s]}.{i}'
                if s == 0 and i == 0 and not self.stem_as_unit:
                    parts, name = [StemAndBlock(self.stem, block)], \
                        f'stem+{name}'
                units.append(self.make_unit(name, parts, s, i,
                                            i == len(stage) - 1, self.tail))
        # make_unit names the tail '+norm'; here it is the final conv.
        units[-1].name = units[-1].name.replace('+norm', '+final_conv')
        return units

    def stage_out_channels(self, stage: int) -> int:
        if stage < 0:
            return _out_channels(self.stem)
        return _out_channels(self.stages[stage][-1])

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """Fresh layers finishing the network after ``unit``: its stage's
        last block if the stage goes on, each later stage's first block,
        then the final conv."""
        self.check_width(width)
        if unit.is_stage_end and unit.stage == self.num_stages - 1:
            return nn.Sequential()
        stage = max(unit.stage, 0)
        blocks = []
        if unit.stage >= 0 and not unit.is_stage_end:
            blocks.append(fresh_copy(self.stages[stage][-1]))
        first = stage + 1 if unit.stage >= 0 else 0
        blocks += [fresh_copy(self.stages[s][0])
                   for s in range(first, self.num_stages)]
        blocks.append(fresh_copy(self.tail))
        return nn.Sequential(*blocks)
