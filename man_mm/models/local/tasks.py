"""Task adapters: what a local module needs to know about the base model.

The local-learning machinery is task-agnostic; an adapter tells it where the
backbone is, which modules make up the task's head, and how the base model
turns backbone features into its real loss.
"""
from typing import Dict, List, Sequence

import torch
from torch import nn

from man_mm.registry import TASK_ADAPTERS


def reaches(root, target) -> bool:
    """Whether autograd node ``target`` is in the graph below ``root``."""
    if root is None or target is None:
        return False
    seen, stack = set(), [root]
    while stack:
        node = stack.pop()
        if node is target:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return False


class TaskAdapter:
    """Base class. Subclasses wrap one family of OpenMMLab models.

    Args:
        model (nn.Module): The built base model (e.g. ``ImageClassifier``).
    """
    #: Names of the base model's modules that form the task head, in order.
    head_names: Sequence[str] = ()
    #: Feature-bank taps the task's real head needs (see LocalLearningModel).
    required_taps: Sequence[str] = ()
    #: The MAN auxiliary net for this task (paper's best configuration).
    default_aux: str = ''
    #: What the split network is called in messages (SR: ``'generator'``).
    backbone_role: str = 'backbone'
    #: What the adapter accepts, for error messages.
    supported_names: str = ''

    @classmethod
    def supported_types(cls) -> tuple:
        """Base-model classes this adapter accepts (with subclasses)."""
        return ()

    def __init__(self, model: nn.Module):
        self.model = model

    @property
    def backbone(self) -> nn.Module:
        return self.model.backbone

    def head_modules(self) -> List[nn.Module]:
        return [
            getattr(self.model, n) for n in self.head_names
            if getattr(self.model, n, None) is not None
        ]

    def loss(self, feats, data_samples, heads=None,
             bank=None) -> Dict[str, torch.Tensor]:
        """The task loss from backbone features, through ``heads``.

        Args:
            feats (Tensor | tuple): Output of the local module (or its aux).
            data_samples (list): Targets.
            heads (list[nn.Module], optional): Head modules to run; the base
                model's own by default.
            bank (FeatureBank, optional): Features of other modules.

        Returns:
            dict[str, Tensor]: Losses.
        """
        raise NotImplementedError


@TASK_ADAPTERS.register_module()
class ClsTaskAdapter(TaskAdapter):
    """mmpretrain ``ImageClassifier``: backbone -> neck -> head."""
    head_names = ('neck', 'head')
    default_aux = 'man_mm.SLMClsAux'
    supported_names = 'mmpretrain ImageClassifier'

    @classmethod
    def supported_types(cls):
        from mmpretrain.models import ImageClassifier
        return (ImageClassifier, )

    def loss(self, feats, data_samples, heads=None, bank=None):
        if heads is None:
            heads = self.head_modules()
        # No neck (ConvNeXt: its final norm pools): the head alone.
        neck, head = (None, *heads) if len(heads) == 1 else heads
        feats = feats if isinstance(feats, tuple) else (feats, )
        if neck is not None:
            feats = neck(feats)
        return head.loss(feats, data_samples)


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
        from mmdet.models.detectors import SingleStageDetector
        return (SingleStageDetector, )

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


def build_task_adapter(model: nn.Module) -> TaskAdapter:
    """Pick the registered adapter for ``model`` by its class (see
    :func:`man_mm.models.local.splitters.build_task_adapter`)."""
    from .splitters import build_task_adapter as build
    return build(model)
