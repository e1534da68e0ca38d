"""Unit splitters: how each backbone family is cut into units.

One file per family, each registering a :class:`BackboneUnits` subclass in
:data:`man_mm.registry.UNIT_SPLITTERS`; :func:`build_units` picks the one
that accepts a built backbone by its class.
"""
from torch import nn

from man_mm.registry import UNIT_SPLITTERS, find_registered, \
    unsupported_message
from .base import BackboneUnits, StemAndBlock, Unit, fresh_copy
from .convnext import ConvNeXtUnits
from .darknet import DarknetUnits
from .edsr import EDSRStem, EDSRUnits
from .resnet import ResNetStem, ResNetUnits
from .stage_list import StageListUnits
from .swin import SwinUnits
from .vit import ViTStem, ViTUnits
from .block_list import BlockListUnits
from .cls_refusals import ClsBackboneRefusal
from .swin_det import DetSwinUnits
from .csp import CSPUnits
from .vgg import SSDVGGUnits
from .pvt import PVTUnits
from .mobilenet_det import DetMobileNetV2Units
from .hrnet import HRNetRefusal
from .sr_generators import MSRResNetUnits, RRDBNetUnits, SwinIRNetUnits
from .rdn import RDNNetUnits
from .srcnn import SRCNNNetUnits
from .liif import LIIFEDSRNetUnits, LIIFRDNNetUnits
from .sr_refusals import SRGeneratorRefusal


def build_units(backbone: nn.Module, stem_as_unit=None,
                role: str = 'backbone') -> BackboneUnits:
    """Split ``backbone`` with the registered splitter that accepts it.

    Args:
        backbone (nn.Module): A built backbone (or SR generator).
        stem_as_unit (bool, optional): Passed to the splitter.
        role (str): What to call ``backbone`` in the error message
            (``'backbone'``, ``'generator'``).

    Raises:
        TypeError: No registered splitter accepts ``backbone``; the message
            lists the registered ones and how to add one.
    """
    cls = find_registered(UNIT_SPLITTERS, backbone)
    if cls is None:
        raise TypeError(unsupported_message(backbone, role))
    return cls(backbone, stem_as_unit=stem_as_unit)


__all__ = [
    'BackboneUnits', 'Unit', 'StemAndBlock', 'fresh_copy', 'build_units',
    'ResNetUnits', 'ResNetStem', 'DarknetUnits', 'ConvNeXtUnits',
    'SwinUnits', 'EDSRUnits', 'EDSRStem', 'ViTUnits', 'ViTStem', 'StageListUnits',
    'BlockListUnits', 'ClsBackboneRefusal',
    'DetSwinUnits', 'CSPUnits', 'SSDVGGUnits', 'PVTUnits',
    'DetMobileNetV2Units', 'HRNetRefusal', 'MSRResNetUnits', 'RRDBNetUnits',
    'SwinIRNetUnits', 'RDNNetUnits', 'SRCNNNetUnits', 'LIIFEDSRNetUnits',
    'LIIFRDNNetUnits', 'SRGeneratorRefusal'
]
