"""Task adapter for mmdet single-stage detectors."""
from typing import Dict, Sequence

from torch import nn

from man_mm.registry import TASK_ADAPTERS, UNIT_SPLITTERS, find_registered
from man_mm.utils import optional_types
from .base import TaskAdapter, reaches, types_except

#: ``SingleStageDetector`` subclasses that are not a neck + bbox head.
REFUSED_SINGLE_STAGE = {
    'MaskFormer': (
        'a panoptic query head (MaskFormer/Mask2Former): its pixel decoder '
        'and transformer decoder run inside the head, whose loss reads the '
        "pixel decoder's multi-scale outputs and mask queries rather than a "
        'plain neck/head pair'),
}

#: ``SingleStageDetector`` subclasses that another adapter trains, so this
#: one does not accept them (the class name -> that adapter).
OWN_ADAPTER_SINGLE_STAGE = {
    'GLIP': 'GLIPTaskAdapter (task_adapters/grounding.py)',
}


class NeckWithOutputs(nn.Module):
    """The backbone's output-only layers, then the neck.

    Some backbones (mmdet's Swin, a dense mmpretrain ConvNeXt) normalise a
    stage's output on its way to the neck only, while the next stage reads
    it un-normalised: a unit can hand on one tensor, so the units keep the
    un-normalised one and these layers run here, in front of the neck.
    They thus count as head modules (shared by the aux nets as the neck
    is, or copied with it), not as any local module's own.

    Args:
        neck (nn.Module | None): The detector's neck.
        layers (dict[int, nn.Module]): Stage index -> its output layer.
        out_indices (Sequence[int]): The backbone's ``out_indices``, in
            the order of the neck's inputs.
    """

    def __init__(self, neck, layers: Dict[int, nn.Module], out_indices):
        super().__init__()
        self.neck = neck
        self.outputs = nn.ModuleDict({str(i): m for i, m in layers.items()})
        self.out_indices = tuple(out_indices)

    def forward(self, x: tuple):
        x = tuple(
            self.outputs[str(i)](f) if f is not None and str(i) in
            self.outputs else f for i, f in zip(self.out_indices, x))
        return x if self.neck is None else self.neck(x)


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
                       '...; not MaskFormer, Mask2Former)')
    refused = REFUSED_SINGLE_STAGE

    @classmethod
    def supported_types(cls):
        return types_except(
            optional_types('mmdet.models.detectors', 'SingleStageDetector'),
            dict(REFUSED_SINGLE_STAGE, **OWN_ADAPTER_SINGLE_STAGE))

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

    @property
    def output_layers(self) -> Dict[int, nn.Module]:
        """``{stage: layer}`` the backbone applies to a stage's output for
        the neck only (the splitter's ``output_layers``; usually none)."""
        if not hasattr(self, '_output_layers'):
            cls = find_registered(UNIT_SPLITTERS, self.backbone)
            get = getattr(cls, 'output_layers', None)
            self._output_layers = dict(get(self.backbone)) if get else {}
        return self._output_layers

    def head_modules(self):
        """The head modules; with :attr:`output_layers`, the neck comes
        wrapped in a :class:`NeckWithOutputs` (one instance, so every user
        shares it)."""
        heads = super().head_modules()
        if not self.output_layers:
            return heads
        if not hasattr(self, '_neck_with_outputs'):
            self._neck_with_outputs = NeckWithOutputs(
                getattr(self.model, 'neck', None), self.output_layers,
                self.out_indices)
        neck = getattr(self.model, 'neck', None)
        return [self._neck_with_outputs] + [h for h in heads
                                            if h is not neck]

    def default_heads(self, heads):
        """``heads``, or the base model's head modules when None (with the
        backbone's output layers in front of the neck, if any)."""
        if heads is None and self.output_layers:
            return self.head_modules()
        return heads

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
        heads = self.default_heads(heads)
        neck, head = heads if heads is not None else (
            getattr(self.model, 'neck', None), self.model.bbox_head)
        x = self.neck_inputs(feats, bank)
        if neck is not None:
            x = neck(x)
        return head.loss(x, data_samples)
