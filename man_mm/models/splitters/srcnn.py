"""Cut mmagic's SRCNN generator into units.

SRCNN (``mmagic.models.SRCNNNet``) is a bicubic upsampling of the image,
then ``relu(conv1)``, ``relu(conv2)`` and ``conv3``, with no skip. A unit is
``relu(conv1)`` (the upsampling with it) or ``relu(conv2)``; ``conv3`` is
the task head (:class:`man_mm.models.task_adapters.EditTaskAdapter`). Each
unit is a stage of its own (their widths differ). The SLM of the first unit
is a fresh ``relu(conv2)`` -- the rest of the network, exactly -- so SRCNN
gains no activation memory from local learning: K <= 2, and module 0's aux
is as large as the part of the network it stands in for (measured: the
local peak is BP's).
"""
from typing import List

from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import BackboneUnits, Unit, fresh_copy


class ConvReLU(nn.Module):
    """``relu(conv(x))`` with the generator's own modules, after an optional
    input layer (SRCNN's bicubic upsampler)."""

    def __init__(self, conv: nn.Module, relu: nn.Module,
                 pre: nn.Module = None):
        super().__init__()
        self.pre = pre
        self.conv = conv
        self.relu = relu

    def forward(self, x):
        if self.pre is not None:
            x = self.pre(x)
        return self.relu(self.conv(x))


@UNIT_SPLITTERS.register_module()
class SRCNNNetUnits(BackboneUnits):
    """Units of an mmagic ``SRCNNNet``: ``relu(conv1)`` (after the bicubic
    upsampling) and ``relu(conv2)``; ``conv3`` is the task head.

    Args:
        backbone (SRCNNNet): The generator of an mmagic ``BaseEditModel``.
        stem_as_unit (bool, optional): Make the bicubic upsampling a unit of
            its own (it has no parameters, so it runs as a frozen unit).
            Defaults to False: it goes with ``conv1``.
    """
    supported_names = 'mmagic.SRCNNNet (generator of BaseEditModel)'
    role = 'generator'

    @classmethod
    def supported_types(cls):
        return optional_types('mmagic.models.editors.srcnn.srcnn_net',
                              'SRCNNNet')

    def _init_stages(self):
        """``conv1`` and ``conv2``, one stage each (their widths differ)."""
        self.stages = [self.backbone.conv1, self.backbone.conv2]
        self.stage_names = ['conv1', 'conv2']

    def _build_units(self) -> List[Unit]:
        gen = self.backbone
        units = []
        pre = gen.img_upsampler
        if self.stem_as_unit:
            units.append(Unit('stem', pre, -1, -1, False))
            pre = None
        units.append(Unit('conv1', ConvReLU(gen.conv1, gen.relu, pre), 0, 0,
                          True))
        units.append(Unit('conv2', ConvReLU(gen.conv2, gen.relu), 1, 0,
                          True))
        return units

    def stage_out_channels(self, stage: int) -> int:
        return self.stages[stage].out_channels

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """A fresh ``relu(conv2)`` after the upsampling or ``conv1`` (the
        rest of the network before ``conv3``); nothing after ``conv2``."""
        self.check_width(width)
        gen = self.backbone
        blocks = []
        if unit.stage < 0:
            blocks.append(ConvReLU(fresh_copy(gen.conv1), nn.ReLU()))
        if unit.stage < 1:
            blocks.append(ConvReLU(fresh_copy(gen.conv2), nn.ReLU()))
        new = nn.Sequential(*blocks)
        new.train(gen.training)
        return new
