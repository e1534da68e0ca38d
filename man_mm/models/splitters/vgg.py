"""Cut mmdet's SSDVGG (the SSD backbone) into units.

``SSDVGG`` is one ``features`` ``Sequential`` (VGG's convs, ReLUs and
max-pools, then SSD's stride-1 pool5, dilated conv6 and conv7) and returns
the layers at ``out_feature_indices`` (SSD300/512: 22, the ReLU after
conv4_3, and 34, the ReLU after conv7), named ``out_indices`` (3, 4) as
VGG's stages. A unit is one conv with its ReLU (and BN), any pool in front
of it going with it; a stage starts at each stride-2 pool, so stage ``i``
is VGG's stage ``i`` and its last unit ends at the layer SSD reads:
SSD300's VGG-16 gives 2+2+3+3+5 = 15 units. The build checks that the
output stages end exactly at ``out_feature_indices``.
"""
from typing import List

from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import BackboneUnits, Unit, fresh_copy


def _downsamples(layer: nn.Module) -> bool:
    stride = getattr(layer, 'stride', 1)
    stride = stride if isinstance(stride, (tuple, list)) else (stride, )
    return isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)) and max(
        stride) > 1


def _out_channels(module: nn.Module) -> int:
    return [m for m in module.modules()
            if isinstance(m, nn.Conv2d)][-1].out_channels


def _changes_width(module: nn.Module) -> bool:
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    return convs[0].in_channels != convs[-1].out_channels


@UNIT_SPLITTERS.register_module()
class SSDVGGUnits(BackboneUnits):
    """Units and stage layout of an mmdet ``SSDVGG``.

    Args:
        backbone (SSDVGG): A built SSDVGG.
        stem_as_unit (bool, optional): Ignored (VGG has no stem; the first
            conv is the first unit).
    """
    supported_names = 'mmdet.SSDVGG (SSD)'

    @classmethod
    def supported_types(cls):
        return optional_types('mmdet.models.backbones', 'SSDVGG')

    def _init_stages(self):
        backbone = self.backbone
        features = list(backbone.features)
        # Units: cut in front of every conv or pool that follows a conv; a
        # stage starts at a unit whose layers downsample (stride-2 pools).
        units, stages, pending = [], [], []
        for i, layer in enumerate(features):
            if isinstance(layer, (nn.Conv2d, nn.MaxPool2d,
                                  nn.AvgPool2d)) and any(
                    isinstance(m, nn.Conv2d) for _, m in pending):
                units.append(pending)
                pending = []
            pending.append((i, layer))
        units.append(pending)
        for unit in units:
            if not stages or any(_downsamples(m) for _, m in unit):
                stages.append([])
            stages[-1].append(unit)
        last = max(backbone.out_indices)
        if len(stages) <= last:
            raise ValueError(
                f'SSDVGGUnits found {len(stages)} stages in SSDVGG.features'
                f', fewer than out_indices={tuple(backbone.out_indices)} '
                'need.')
        stage_ends = [stage[-1][-1][0] for stage in stages]
        want = [stage_ends[i] for i in backbone.out_indices]
        if want != list(backbone.out_feature_indices):
            # SSD reads layers that are not stage ends: no unit boundary
            # there, so a local module could not hand them on.
            raise ValueError(
                'SSDVGGUnits splits an SSDVGG whose out_feature_indices are '
                f'the ends of stages out_indices={tuple(backbone.out_indices)}'
                f' (layers {want}); got out_feature_indices='
                f'{tuple(backbone.out_feature_indices)}.')
        # Later layers are never read: no units for them.
        self._layers = [[[m for _, m in unit] for unit in stage]
                        for stage in stages[:last + 1]]
        self.stages = [nn.Sequential(*[nn.Sequential(*u) for u in stage])
                       for stage in self._layers]
        self.stage_names = [f'stage{i}' for i in range(len(self.stages))]

    def _build_units(self) -> List[Unit]:
        units = []
        for s, stage in enumerate(self.stages):
            for i, unit in enumerate(stage):
                units.append(Unit(f'{self.stage_names[s]}.{i}', unit, s, i,
                                  i == len(stage) - 1))
        return units

    def stage_out_channels(self, stage: int) -> int:
        return _out_channels(self.stages[max(stage, 0)])

    def _finish_stage(self, stage: int, start: int) -> List[nn.Module]:
        """Units of ``stage`` from ``start`` that change the width (what a
        fresh replica needs to reach the stage's output), else its last."""
        units = list(self.stages[stage])[start:]
        keep = [u for i, u in enumerate(units)
                if (i == 0 and start == 0) or _changes_width(u)]
        return keep or units[-1:]

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """Fresh layers finishing the network after ``unit``: for the rest
        of its stage (if any), its width-changing convs or else its last;
        per later stage, its first conv (with the pool) and its
        width-changing convs."""
        self.check_width(width)
        blocks = []
        if not unit.is_stage_end:
            blocks.append(fresh_copy(nn.Sequential(
                *self._finish_stage(unit.stage, unit.index + 1))))
        for s in range(unit.stage + 1, len(self.stages)):
            blocks.append(fresh_copy(nn.Sequential(
                *self._finish_stage(s, 0))))
        return nn.Sequential(*blocks)
