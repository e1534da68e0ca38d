"""mmpretrain classification backbones refused by name, with the reason.

Registered so that ``build_units`` and
``tools/analysis_tools/zoo_coverage.py`` say why, instead of "no unit
splitter":

- ``Conformer`` runs a CNN branch and a transformer branch side by side and
  exchanges features between them in every stage (its feature coupling
  units), so no single activation carries the network's state from one
  local module to the next.
- ``DenseNet`` concatenates every layer's output onto its input, so a
  layer's input width grows with its depth in the dense block: units would
  replay it, but MAN's SLM aux ("one layer per stage", fresh copies of the
  backbone's own layers) cannot finish a dense block from the middle.
"""
from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import BackboneUnits

#: Backbone class name -> why it is refused.
REASONS = {
    'Conformer': (
        'two parallel branches (CNN and transformer) that exchange features '
        'in every stage, so there is no single activation to hand from one '
        'local module to the next'),
    'DenseNet': (
        'dense connectivity: each layer reads the concatenation of all '
        'earlier ones in its block, so a fresh copy of one layer cannot '
        "finish a block from the middle (MAN's SLM aux)"),
}


@UNIT_SPLITTERS.register_module()
class ClsBackboneRefusal(BackboneUnits):
    """Refuses mmpretrain's ``Conformer`` and ``DenseNet`` with the reason.

    Raises:
        TypeError: Always, naming the reason.
    """
    supported_names = 'mmpretrain.Conformer, DenseNet: refused (see why)'

    @classmethod
    def supported_types(cls):
        return optional_types('mmpretrain.models.backbones', *REASONS)

    @classmethod
    def _reason(cls, backbone_cls: type) -> str:
        for klass in backbone_cls.__mro__:
            if klass.__name__ in REASONS:
                return REASONS[klass.__name__]
        return 'no splitter'

    @classmethod
    def refusal(cls, backbone_cls, cfg):
        return cls._reason(backbone_cls)

    def _init_stages(self):
        raise TypeError(
            f'man_mm cannot split {type(self.backbone).__name__} into local '
            f'modules: {self._reason(type(self.backbone))}. Use a '
            'single-path backbone (e.g. ResNet, ConvNeXt).')
