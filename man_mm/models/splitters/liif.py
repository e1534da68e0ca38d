"""Cut the encoders of mmagic's LIIF generators into units.

LIIF (``mmagic.models.LIIFEDSRNet``, ``LIIFRDNNet``) encodes the LR image
with an EDSR or RDN trunk -- without its upsampler -- into a feature map,
then *queries* it: for every requested HR coordinate an MLP (``imnet``)
reads the nearest feature vectors (unfolded 3x3), the relative coordinate
and the cell size, and predicts the RGB value there. The encoder is cut as
EDSR's and RDN's trunks are (one unit per residual or residual dense
block); the query, with ``imnet``, is the task head
(:class:`man_mm.models.task_adapters.EditTaskAdapter`), so every aux ends
in the real implicit decoder and is trained against the same sampled
pixels as the network.

Two differences from the plain generators: LIIF's encoder takes the input
as its data preprocessor normalised it (no ``mean``/``std`` inside the
generator), and the generator keeps no ``mid_channels`` (mmagic deletes the
encoder module after taking its layers), so widths are read from the
layers themselves.
"""
from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import StemAndBlock, Unit
from .edsr import EDSRUnits
from .rdn import RDNNetUnits, RDNStem


@UNIT_SPLITTERS.register_module()
class LIIFEDSRNetUnits(EDSRUnits):
    """Units of an mmagic ``LIIFEDSRNet``: its EDSR encoder's body blocks
    (``conv_first`` goes with the first one).

    Args:
        backbone (LIIFEDSRNet): The generator of an mmagic ``LIIF``.
        stem_as_unit (bool, optional): Make ``conv_first`` a unit of its
            own. Defaults to False.
    """
    supported_names = 'mmagic.LIIFEDSRNet (generator of LIIF)'

    @classmethod
    def supported_types(cls):
        return optional_types('mmagic.models.editors.liif.liif_net',
                              'LIIFEDSRNet')

    def _build_units(self):
        stem = self.backbone.conv_first  # no normalisation inside LIIF
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
        """Every encoder feature has ``conv_first``'s width."""
        return self.backbone.conv_first.out_channels

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """One fresh ``ResidualBlockNoBN`` if any body block follows
        ``unit``, as :meth:`EDSRUnits.fresh_blocks_after`."""
        self.check_width(width)
        from mmagic.models.archs import ResidualBlockNoBN
        body = self.backbone.body
        if unit.stage >= 0 and unit.index == len(body) - 1:
            return nn.Sequential()
        block = ResidualBlockNoBN(mid_channels=self.stage_out_channels(0),
                                  res_scale=body[0].res_scale)
        block.train(body.training)
        return nn.Sequential(block)


@UNIT_SPLITTERS.register_module()
class LIIFRDNNetUnits(RDNNetUnits):
    """Units of an mmagic ``LIIFRDNNet``: its RDN encoder's residual dense
    blocks (``sfe1`` and ``sfe2`` go with the first). The gff reads every
    RDB output, handled as for :class:`RDNNetUnits`.

    Args:
        backbone (LIIFRDNNet): The generator of an mmagic ``LIIF``.
        stem_as_unit (bool, optional): Make ``sfe1`` + ``sfe2`` a unit of
            its own. Defaults to False.
    """
    supported_names = 'mmagic.LIIFRDNNet (generator of LIIF)'

    @classmethod
    def supported_types(cls):
        return optional_types('mmagic.models.editors.liif.liif_net',
                              'LIIFRDNNet')

    def _build_units(self):
        stem = RDNStem(self.backbone)
        rdbs = self.backbone.rdbs
        units = []
        if self.stem_as_unit:
            units.append(Unit('stem', stem, -1, -1, False))
        for i, block in enumerate(rdbs):
            module, name = block, f'rdbs.{i}'
            if i == 0 and not self.stem_as_unit:
                module, name = StemAndBlock(stem, block), 'stem+rdbs.0'
            units.append(Unit(name, module, 0, i, i == len(rdbs) - 1))
        return units

    def stage_out_channels(self, stage: int) -> int:
        """Every trunk feature has ``sfe1``'s width."""
        return self.backbone.sfe1.out_channels

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """One fresh RDB if any RDB follows ``unit``, with the encoder's
        width, growth and depth (read from its first RDB)."""
        self.check_width(width)
        from mmagic.models.editors.rdn.rdn_net import RDB
        rdbs = self.backbone.rdbs
        if unit.stage >= 0 and unit.index == len(rdbs) - 1:
            return nn.Sequential()
        first = rdbs[0]
        block = RDB(self.stage_out_channels(0),
                    first.layers[0].conv.out_channels, len(first.layers))
        block.train(rdbs.training)
        return nn.Sequential(block)
