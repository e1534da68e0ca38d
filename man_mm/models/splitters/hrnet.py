"""HRNet: refused by name, with the reason.

HRNet keeps parallel branches at several resolutions from its second stage
on, and every stage ends by fusing them (each branch's output reads all the
others). A local module hands exactly one activation to the next, and an
HRNet has no point past its stem where one tensor carries the network's
state, so it cannot be cut into gradient-isolated local modules. This
splitter is registered so that ``build_units`` and
``tools/analysis_tools/zoo_coverage.py`` say so, instead of "no unit
splitter".
"""
from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import BackboneUnits

#: Why HRNet is refused (shown by the build and the coverage tool).
HRNET_REASON = (
    'multi-branch: every stage exchanges features between its parallel '
    'resolutions, so there is no single activation to hand from one local '
    'module to the next')


@UNIT_SPLITTERS.register_module()
class HRNetRefusal(BackboneUnits):
    """Refuses mmdet's and mmpretrain's ``HRNet`` with the reason.

    Raises:
        TypeError: Always, naming the reason.
    """
    supported_names = 'mmdet/mmpretrain.HRNet: refused (multi-branch)'

    @classmethod
    def supported_types(cls):
        return (optional_types('mmdet.models.backbones', 'HRNet') +
                optional_types('mmpretrain.models.backbones', 'HRNet'))

    @classmethod
    def refusal(cls, backbone_cls, cfg):
        return HRNET_REASON

    def _init_stages(self):
        raise TypeError(
            f'man_mm cannot split {type(self.backbone).__name__} into local '
            f'modules: {HRNET_REASON}. Use a single-path backbone (e.g. '
            'ResNet with an FPN/HRFPN-style neck).')
