"""mmagic generators refused by name, with the reason.

- U-shaped restorers (``Restormer``, ``NAFNet``/``NAFNetLocal``,
  ``NAFBaseline``/``NAFBaselineLocal``): an encoder downsamples, a decoder
  upsamples, and every decoder level concatenates or adds the encoder
  output of the same resolution. Past the first encoder level several
  tensors carry the network's state at once, so there is no single
  activation to hand from one local module to the next.
- GLEAN's ``GLEANStyleGANv2``: the same shape around a StyleGAN2
  generator. The encoder's deepest feature is the generator's latent, the
  generator fuses the encoder feature of every resolution, and the decoder
  reads the generator feature of every resolution.

(RDN's global feature fusion also reads the output of every trunk block,
but only in the head: the trunk itself is a single chain, like a
detector's backbone under an FPN, so RDN is split -- :mod:`.rdn`.)

The splitter is registered so that ``build_units`` and
``tools/analysis_tools/zoo_coverage.py`` give the reason instead of "no unit
splitter".
"""
from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import optional_types
from .base import BackboneUnits

#: Why U-shaped generators are refused.
U_SHAPED_REASON = (
    'U-shaped encoder-decoder: every decoder level reads the encoder '
    'feature of its resolution (long skips across the network), so no '
    'single activation carries the state from one local module to the next')

#: Generator class name -> reason.
REASONS = {
    'Restormer': U_SHAPED_REASON,
    'NAFNet': U_SHAPED_REASON,
    'NAFBaseline': U_SHAPED_REASON,
    'GLEANStyleGANv2': (
        'U-shaped: an encoder, a StyleGAN2 generator that takes its latent '
        'from the deepest encoder feature and fuses the encoder feature of '
        'every resolution, and a decoder that reads the generator feature '
        'of every resolution (long skips across the network), so no single '
        'activation carries the state from one local module to the next'),
}


def _reason(generator_cls) -> str:
    for klass in getattr(generator_cls, '__mro__', ()):
        if klass.__name__ in REASONS:
            return REASONS[klass.__name__]
    return 'refused'


@UNIT_SPLITTERS.register_module()
class SRGeneratorRefusal(BackboneUnits):
    """Refuses mmagic's ``Restormer``, ``NAFNet`` and ``NAFBaseline`` (and
    their ``*Local`` variants) and GLEAN's ``GLEANStyleGANv2``, naming the
    reason.

    Raises:
        TypeError: Always, naming the reason.
    """
    supported_names = ('mmagic.Restormer/NAFNet/NAFBaseline/'
                       'GLEANStyleGANv2: refused (U-shaped)')
    role = 'generator'

    @classmethod
    def supported_types(cls):
        return (optional_types('mmagic.models.editors.restormer.restormer_net',
                               'Restormer') +
                optional_types('mmagic.models.editors.nafnet.nafnet_net',
                               'NAFNet') +
                optional_types('mmagic.models.editors.nafnet.nafbaseline_net',
                               'NAFBaseline') +
                optional_types('mmagic.models.editors.glean.glean_styleganv2',
                               'GLEANStyleGANv2'))

    @classmethod
    def refusal(cls, backbone_cls, cfg):
        return _reason(backbone_cls)

    def _init_stages(self):
        name = type(self.backbone).__name__
        raise TypeError(
            f'man_mm cannot split generator {name} into local modules: '
            f'{_reason(type(self.backbone))}. Supported generators: '
            'EDSRNet, MSRResNet, RRDBNet, SwinIRNet, RDNNet, '
            'SRCNNNet, LIIFEDSRNet, LIIFRDNNet.')
