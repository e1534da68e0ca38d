"""Task adapter for mmdet's single-stage instance segmentors (SOLO, SOLOv2,
YOLACT, CondInst, BoxInst)."""
from typing import List

from man_mm.registry import TASK_ADAPTERS
from man_mm.utils import optional_types
from .detection import DetTaskAdapter


@TASK_ADAPTERS.register_module()
class InstanceSegTaskAdapter(DetTaskAdapter):
    """mmdet ``SingleStageInstanceSegmentor``: multi-scale backbone features
    -> neck (FPN) -> bbox head (optional: YOLACT, CondInst, BoxInst) -> mask
    head.

    The "head" of a local module is the neck, the bbox head and the mask
    head together, with the losses of both heads computed exactly as
    ``SingleStageInstanceSegmentor.loss`` does: the bbox head's loss, then
    the positive samples it assigned (``get_positive_infos``: YOLACT's mask
    coefficients, CondInst's dynamic-filter parameters) handed to the mask
    head's loss. SOLO and SOLOv2 have no bbox head: the mask head alone.
    Backbone stages are completed from the feature bank and SLM blocks as
    for RetinaNet (:class:`DetTaskAdapter`), so the default aux
    (``SLMDetAux``) builds the same local FPN.

    BoxInst needs no special care: its pairwise colour-similarity targets
    are computed from the images by its data preprocessor
    (``BoxInstDataPreprocessor``), which runs once per batch before the
    local modules, and reach the mask head in ``gt_instances``; the
    pairwise-loss warm-up reads the runner's iteration from the
    ``MessageHub``, not a count of head calls.
    """
    head_names = ('neck', 'bbox_head', 'mask_head')
    refused = {}
    supported_names = ('mmdet single-stage instance segmentors (SOLO, '
                       'SOLOv2, YOLACT, CondInst, BoxInst; neck + optional '
                       'bbox head + mask head)')

    @classmethod
    def supported_types(cls):
        # Not exported by ``mmdet.models.detectors``: from its module.
        return optional_types(
            'mmdet.models.detectors.single_stage_instance_seg',
            'SingleStageInstanceSegmentor')

    def _head_keys(self) -> List[str]:
        """Names matching :meth:`head_modules` one to one ('neck' also for
        the neck with the backbone's output layers)."""
        model = self.model
        keys = []
        if getattr(model, 'neck', None) is not None or self.output_layers:
            keys.append('neck')
        if getattr(model, 'bbox_head', None) is not None:
            keys.append('bbox_head')
        return keys + ['mask_head']

    def loss(self, feats, data_samples, heads=None, bank=None):
        """``SingleStageInstanceSegmentor.loss`` after ``extract_feat``, from
        ``feats`` (``{stage: tensor}``, or the last stage's tensor),
        completed from ``bank``, through ``heads`` (the detector's own by
        default, else an aux net's, in :meth:`head_modules` order)."""
        heads = self.head_modules() if heads is None else heads
        named = dict(zip(self._head_keys(), heads))
        x = self.neck_inputs(feats, bank)
        neck = named.get('neck')
        if neck is not None:
            x = neck(x)
        losses = dict()
        positive_infos = None
        bbox_head = named.get('bbox_head')
        if bbox_head is not None:
            losses.update(bbox_head.loss(x, data_samples))
            # What the bbox head assigned (it keeps it on itself during its
            # loss), for the mask head.
            positive_infos = bbox_head.get_positive_infos()
            # Dropped once read: the head outputs it holds would otherwise
            # stay alive into the next local module's forward.
            bbox_head._raw_positive_infos = dict()
        mask_loss = named['mask_head'].loss(
            x, data_samples, positive_infos=positive_infos)
        clash = set(mask_loss) & set(losses)
        assert not clash, f'mask and bbox head both return {sorted(clash)}'
        losses.update(mask_loss)
        return losses
