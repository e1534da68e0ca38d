"""Task adapter for mmdet's DETR family (``DetectionTransformer``)."""
import copy
from typing import Dict, List

from torch import nn

from man_mm.registry import TASK_ADAPTERS
from man_mm.utils import optional_types
from .base import types_except
from .detection import DetTaskAdapter

#: ``DetectionTransformer`` subclasses refused by name.
REFUSED_DETR: Dict[str, str] = {}

#: ``DetectionTransformer`` subclasses that another adapter trains, so
#: this one does not accept them (the class name -> that adapter).
OWN_ADAPTER_DETR = {
    'GroundingDINO': 'GroundingDINOTaskAdapter (task_adapters/grounding.py)',
}

#: What the model owns besides its task head (the split network and the
#: preprocessor).
NOT_HEAD = ('backbone', 'data_preprocessor')


class DirectParams(nn.Module):
    """The detector's parameters that belong to no child module
    (``DeformableDETR.level_embed``), as a module, so that they count as
    head parameters (shared, or copied with the head) like the rest of the
    transformer.

    Args:
        params (dict[str, nn.Parameter]): Name on the detector -> parameter
            (the detector's own object, so sharing shares it).
    """

    def __init__(self, params: Dict[str, nn.Parameter]):
        super().__init__()
        for name, p in params.items():
            self.register_parameter(name, p)

    def reset_parameters(self):
        # DeformableDETR.init_weights: normal_(level_embed).
        for p in self.parameters(recurse=False):
            nn.init.normal_(p)


@TASK_ADAPTERS.register_module()
class DETRTaskAdapter(DetTaskAdapter):
    """mmdet ``DetectionTransformer`` (DETR, DeformableDETR, DINO,
    ConditionalDETR, DABDETR): multi-scale backbone features -> neck
    (ChannelMapper) -> transformer encoder/decoder -> bbox head with
    Hungarian matching.

    The task head is everything the detector owns besides its backbone and
    preprocessor: the neck, positional encoding, encoder, decoder, query
    embeddings, bbox head, ... (its child modules, listed generically) and
    any parameter of the detector itself (``level_embed``). Its loss is
    ``DetectionTransformer.loss`` after ``extract_feat``:
    ``forward_transformer`` then ``bbox_head.loss``. The backbone stages
    the neck reads come from the local module, SLM blocks and the feature
    bank as for RetinaNet (:class:`DetTaskAdapter`), so the default aux
    (``SLMDetAux``) builds the same local inputs; an aux with its own head
    copies runs ``forward_transformer`` on a shallow copy of the detector
    whose modules are those copies.
    """
    refused = REFUSED_DETR
    supported_names = ('mmdet DETR family (DETR, DeformableDETR, DINO, '
                       'ConditionalDETR, DABDETR, DDQDETR)')

    @classmethod
    def supported_types(cls):
        return types_except(
            optional_types('mmdet.models.detectors', 'DetectionTransformer'),
            dict(REFUSED_DETR, **OWN_ADAPTER_DETR))

    @property
    def head_names(self) -> List[str]:
        """Every child module but the backbone and preprocessor, the neck
        first."""
        names = [n for n, _ in self.model.named_children()
                 if n not in NOT_HEAD]
        return sorted(names, key=lambda n: n != 'neck')

    @property
    def direct_params(self) -> Dict[str, nn.Parameter]:
        return dict(self.model.named_parameters(recurse=False))

    def head_modules(self):
        """The head modules (:class:`DetTaskAdapter`'s, i.e. with the
        backbone's output layers in front of the neck, if any), then a
        :class:`DirectParams` for the detector's own parameters, if any
        (one instance, so every user shares it)."""
        heads = super().head_modules()
        if self.direct_params:
            if not hasattr(self, '_direct_params'):
                self._direct_params = DirectParams(self.direct_params)
            heads = heads + [self._direct_params]
        return heads

    def _head_keys(self) -> List[str]:
        """Names matching :meth:`head_modules` one to one ('neck' also for
        the neck with output layers; '' for :class:`DirectParams`)."""
        names = [n for n in self.head_names if n != 'neck']
        has_neck = getattr(self.model, 'neck', None) is not None
        keys = (['neck'] if has_neck or self.output_layers else []) + names
        return keys + ([''] if self.direct_params else [])

    def _runner(self, named: Dict[str, nn.Module]) -> nn.Module:
        """The detector, or a shallow copy of it running ``named`` (the
        aux net's own copies) in place of its modules."""
        model = self.model
        params = named.get('')
        own_params = params is None or all(
            p is model._parameters[n]
            for n, p in params.named_parameters(recurse=False))
        if own_params and all(m is model._modules.get(n)
                              for n, m in named.items() if n):
            return model
        if hasattr(model, 'cache_dict'):
            raise TypeError(
                f'{type(model).__name__} with an aux net that owns its head '
                '(share_head=False): its decoder and bbox head share one '
                "cache_dict with the detector (DDQ's distinct-query masks and "
                'classification branches), which separate copies of them '
                'would not share. Use share_head=True (the default).')
        runner = copy.copy(model)
        runner.__dict__['_modules'] = dict(model._modules, **{
            n: m for n, m in named.items() if n})
        if params is not None:
            runner.__dict__['_parameters'] = dict(
                model._parameters, **dict(
                    params.named_parameters(recurse=False)))
        return runner

    def loss(self, feats, data_samples, heads=None, bank=None):
        """``DetectionTransformer.loss`` from ``feats`` (``{stage:
        tensor}``, or the last stage's tensor), completed from ``bank``."""
        heads = self.head_modules() if heads is None else heads
        named = dict(zip(self._head_keys(), heads))
        x = self.neck_inputs(feats, bank)
        neck = named.pop('neck', None)
        if neck is not None:
            x = neck(x)
        runner = self._runner(named)
        head_inputs = runner.forward_transformer(x, data_samples)
        return runner.bbox_head.loss(
            **head_inputs, batch_data_samples=data_samples)
