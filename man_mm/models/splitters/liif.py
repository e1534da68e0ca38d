"""Cut the encoders of mmagic's LIIF generators into units.

LIIF (``mmagic.models.LIIFEDSRNet``, ``LIIFRDNNet``) encodes the LR image
with an EDSR or RDN trunk -- without its upsampler -- into a feature map,
then *queries* it: for every requested HR coordinate an MLP (``imnet``)
reads the nearest feature vectors (unfolded 3x3), the relative coordinate
and the cell size, and predicts the RGB value there. The encoder is cut as
EDSR's and RDN's trunks are (one unit per residual or residual dense
block, by :class:`EDSRUnits` and :class:`RDNNetUnits` themselves); the
query, with ``imnet``, is the task head
(:class:`man_mm.models.task_adapters.EditTaskAdapter`), so every aux ends
in the real implicit decoder and is trained against the same sampled
pixels as the network.

The one difference in the cut: LIIF's EDSR encoder takes the input as its
data preprocessor normalised it (no ``mean``/``std`` inside the
generator), so its stem is ``conv_first`` alone.
"""
from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .edsr import EDSRUnits
from .rdn import RDNNetUnits


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

    def _stem(self) -> nn.Module:
        """``conv_first`` alone: no normalisation inside LIIF."""
        return self.backbone.conv_first


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
