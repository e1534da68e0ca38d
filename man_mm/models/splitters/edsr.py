"""Cut mmagic's EDSR generator into units.

EDSR (``mmagic.models.EDSRNet``) is input normalisation, ``conv_first`` (the
*shallow feature*), a body of ``ResidualBlockNoBN``s, then the tail:
``conv_after_body``, the global skip that adds the shallow feature back,
``upsample``, ``conv_last`` and de-normalisation. A unit is one body block;
the normalisation and ``conv_first`` go with the first one, as the stem does
for ImageNet ResNets, so EDSR-baseline gives 16 units and EDSR 32. The body
is a single stage. The tail is the task head (see
:class:`man_mm.models.task_adapters.EditTaskAdapter`).
"""
from typing import List

from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import Unregistered, optional_types
from .base import BackboneUnits, StemAndBlock, Unit


class EDSRStem(nn.Module):
    """Input normalisation and ``conv_first`` of an ``EDSRNet`` (its own
    ``conv_first``, not a copy).

    Args:
        generator (EDSRNet): The generator; its ``mean``/``std`` (plain
            tensors, not buffers) are read at every call, as its own forward
            does.
    """

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.conv_first = generator.conv_first
        self._generator = Unregistered(generator)

    def forward(self, x):
        generator = self._generator.module
        x = (x - generator.mean.to(x)) / generator.std.to(x)
        return self.conv_first(x)


@UNIT_SPLITTERS.register_module()
class EDSRUnits(BackboneUnits):
    """Units of an mmagic ``EDSRNet``: its body's residual blocks.

    Args:
        backbone (EDSRNet): The generator of an mmagic ``BaseEditModel``.
        stem_as_unit (bool, optional): Make normalisation + ``conv_first`` a
            unit of its own (K = blocks + 1). Defaults to False: they go
            with the first block.
    """
    supported_names = 'mmagic.EDSRNet (generator of BaseEditModel)'
    role = 'generator'

    @classmethod
    def supported_types(cls):
        return optional_types('mmagic.models.editors.edsr.edsr_net',
                                 'EDSRNet')

    def _init_stages(self):
        """The body is the only stage."""
        self.stages = [self.backbone.body]
        self.stage_names = ['body']

    def _stem(self) -> nn.Module:
        """What runs before the first body block: input normalisation and
        ``conv_first``."""
        return EDSRStem(self.backbone)

    def _build_units(self) -> List[Unit]:
        stem = self._stem()
        body = self.backbone.body
        units = []
        if self.stem_as_unit:
            units.append(Unit('stem', stem, -1, -1, False))
        for i, block in enumerate(body):
            module, name = block, f'body.{i}'
            if i == 0 and not self.stem_as_unit:
                module, name = StemAndBlock(stem, block), 'stem+body.0'
            units.append(Unit(name, module, 0, i, i == len(body) - 1))
        return units

    def stage_out_channels(self, stage: int) -> int:
        """Every EDSR feature has ``mid_channels`` channels (read from
        ``conv_first``, as LIIF's EDSR encoder keeps no ``mid_channels``)."""
        return self.backbone.conv_first.out_channels

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """One fresh ``ResidualBlockNoBN`` if any body block follows
        ``unit`` (EDSR's body is one stage: one SLM layer for its rest).

        The block is built as EDSR builds its own (same width and
        ``res_scale``, mmagic's initialisation), with new parameters.
        """
        self.check_width(width)
        from mmagic.models.archs import ResidualBlockNoBN
        body = self.backbone.body
        if unit.stage >= 0 and unit.index == len(body) - 1:
            return nn.Sequential()
        block = ResidualBlockNoBN(
            mid_channels=self.stage_out_channels(0),
            res_scale=body[0].res_scale)
        block.train(body.training)
        return nn.Sequential(block)
