"""mmdet's focal loss in plain torch on every device."""
import torch.nn.functional as F
from torch import nn

from man_mm.registry import MODELS


@MODELS.register_module()
class TorchFocalLoss(nn.Module):
    """mmdet's ``FocalLoss``, computed without mmcv's compiled CUDA op.

    For class-index targets on a GPU tensor, mmdet's ``FocalLoss`` calls
    mmcv's ``sigmoid_focal_loss`` kernel, which an mmcv built with CPU ops
    only (the quick build on a borrowed GPU machine) lacks. Given one-hot
    targets, the same class computes the same loss with its pure-torch
    ``py_sigmoid_focal_loss`` (its own CPU path), which this wrapper
    arranges. Values and gradients equal mmdet's.

    Args:
        **kwargs: ``mmdet.models.losses.FocalLoss`` arguments
            (``use_sigmoid``, ``gamma``, ``alpha``, ``reduction``,
            ``loss_weight``, ``activated``).
    """

    def __init__(self, **kwargs):
        super().__init__()
        from mmdet.models.losses import FocalLoss
        self.focal = FocalLoss(**kwargs)

    def forward(self, pred, target, weight=None, avg_factor=None,
                reduction_override=None):
        if pred.dim() != target.dim():  # class indices: one-hot, as mmdet
            num_classes = pred.size(1)
            target = F.one_hot(target, num_classes + 1)[:, :num_classes]
        return self.focal(pred, target, weight, avg_factor=avg_factor,
                          reduction_override=reduction_override)
