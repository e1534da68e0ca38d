"""Task adapter for mmdet single-stage detectors."""
from typing import Sequence

from man_mm.registry import TASK_ADAPTERS
from man_mm.utils import optional_types
from .base import TaskAdapter, reaches


@TASK_ADAPTERS.register_module()
class DetTaskAdapter(TaskAdapter):
    """mmdet single-stage detectors (RetinaNet, YOLOV3): multi-scale
    backbone features -> neck (FPN / YOLOV3Neck) -> bbox head.

    The real head needs the stages in ``backbone.out_indices`` that its
    neck reads (:attr:`neck_stages`); a local module only computes some of
    them, the rest come from the feature bank, which therefore taps those
    stage outputs (``'stageN'``).
    """
    head_names = ('neck', 'bbox_head')
    required_taps = ('stages', )
    default_aux = 'man_mm.SLMDetAux'
    supported_names = ('mmdet single-stage detectors (RetinaNet, YOLOV3, '
                       '...)')

    @classmethod
    def supported_types(cls):
        return optional_types('mmdet.models.detectors',
                              'SingleStageDetector')

    @property
    def out_indices(self) -> Sequence[int]:
        return self.backbone.out_indices

    @property
    def neck_stages(self) -> Sequence[int]:
        """Backbone stages the neck actually reads. mmdet's FPN skips its
        inputs below ``start_level`` (RetinaNet: C2), so neither the bank
        nor an aux net needs to keep or build them."""
        neck = getattr(self.model, 'neck', None)
        start = getattr(neck, 'start_level', 0)
        end = getattr(neck, 'backbone_end_level', len(self.out_indices))
        return tuple(self.out_indices)[start:end]

    def neck_inputs(self, feats, bank) -> tuple:
        """The backbone's output tuple for the neck.

        Args:
            feats (dict | Tensor): ``{stage: tensor}`` computed by a local
                module and its aux, or the last stage's tensor (the last
                local module).
            bank (FeatureBank): Source of the stages ``feats`` lacks.

        Returns:
            tuple: One entry per ``backbone.out_indices``: from ``feats``,
            else live if the module behind a tensor ``feats`` computed it,
            else from the bank; an input the neck never reads keeps its
            slot, empty (None).
        """
        root = None
        if not isinstance(feats, dict):
            root = feats.grad_fn
            feats = {max(self.out_indices): feats}
        used = self.neck_stages

        def stage(i):
            if i in feats:
                return feats[i]
            if i not in used:
                return None
            # A stage that the module producing ``feats`` computed itself
            # (the last module spans several stages; K=1 spans them all)
            # is used live, so the neck's gradient reaches it as in BP.
            live = bank.live(f'stage{i}') if hasattr(bank, 'live') else None
            if live is not None and reaches(root, live.grad_fn):
                return live
            return bank[f'stage{i}']

        return tuple(stage(i) for i in self.out_indices)

    def loss(self, feats, data_samples, heads=None, bank=None):
        """``feats``: ``{stage: tensor}``, or the last stage's tensor (the
        last local module), completed from ``bank``."""
        neck, head = heads if heads is not None else (
            getattr(self.model, 'neck', None), self.model.bbox_head)
        x = self.neck_inputs(feats, bank)
        if neck is not None:
            x = neck(x)
        return head.loss(x, data_samples)
