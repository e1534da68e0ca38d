"""Task adapter for mmdet's two-stage detectors (Faster R-CNN, Mask R-CNN)."""
import copy

import torch

from man_mm.registry import TASK_ADAPTERS
from man_mm.utils import optional_types
from .detection import DetTaskAdapter


@TASK_ADAPTERS.register_module()
class TwoStageTaskAdapter(DetTaskAdapter):
    """mmdet ``TwoStageDetector``: multi-scale backbone features -> neck
    (FPN) -> RPN head -> RoI head.

    The "head" of a local module is the RPN and the RoI head together, with
    the losses of both, computed exactly as ``TwoStageDetector.loss`` does
    (class-agnostic RPN targets, proposals from ``rpn_proposal``, RoI
    losses on those proposals; Mask R-CNN's mask branch comes with its RoI
    head). Backbone stages are completed from the feature bank and SLM
    blocks as for RetinaNet (:class:`DetTaskAdapter`), so the default aux
    (``SLMDetAux``) builds the same local FPN.
    """
    head_names = ('neck', 'rpn_head', 'roi_head')
    refused = {}  # GLIP and the query heads are single-stage
    supported_names = ('mmdet two-stage detectors (FasterRCNN, MaskRCNN, '
                       '...; RPN + RoI head)')

    @classmethod
    def supported_types(cls):
        return optional_types('mmdet.models.detectors', 'TwoStageDetector')

    def __init__(self, model):
        super().__init__(model)
        if getattr(model, 'rpn_head', None) is None:
            raise TypeError(
                f'{type(model).__name__} has no rpn_head (it reads '
                'precomputed proposals): man_mm trains two-stage detectors '
                'with their RPN only.')
        if getattr(model, 'neck', None) is None:
            # The local FPN is the point of the bank; a C4-style detector
            # would need its own adapter.
            raise TypeError(
                f'{type(model).__name__} has no neck: man_mm trains two-stage '
                'detectors with an FPN-style neck (e.g. Faster R-CNN R50-FPN),'
                ' not C4 heads.')

    def loss(self, feats, data_samples, heads=None, bank=None):
        """RPN and RoI-head losses from ``feats`` (``{stage: tensor}``, or
        the last stage's tensor), completed from ``bank``."""
        heads = self.default_heads(heads)
        neck, rpn_head, roi_head = heads if heads is not None else (
            getattr(self.model, 'neck', None), self.model.rpn_head,
            self.model.roi_head)
        x = self.neck_inputs(feats, bank)
        if neck is not None:
            x = neck(x)
        model = self.model
        proposal_cfg = model.train_cfg.get('rpn_proposal', model.test_cfg.rpn)
        rpn_samples = copy.deepcopy(data_samples)
        for sample in rpn_samples:  # the RPN is class-agnostic
            sample.gt_instances.labels = torch.zeros_like(
                sample.gt_instances.labels)
        losses, proposals = rpn_head.loss_and_predict(
            x, rpn_samples, proposal_cfg=proposal_cfg)
        for key in list(losses):  # named as TwoStageDetector names them
            if 'loss' in key and 'rpn' not in key:
                losses[f'rpn_{key}'] = losses.pop(key)
        losses.update(roi_head.loss(x, proposals, data_samples))
        return losses
