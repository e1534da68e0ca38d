"""Small pieces shared by the classification baseline aux nets."""
import torch
import torch.nn.functional as F
from torch import nn


def gt_labels(data_samples) -> torch.Tensor:
    """Concatenate mmpretrain ``DataSample.gt_label``s into one vector."""
    return torch.cat([s.gt_label for s in data_samples])


def num_classes_of(task) -> int:
    """Number of classes of the base classifier's head."""
    head = task.model.head
    if not hasattr(head, 'num_classes'):
        raise ValueError(
            f'the baseline aux nets need the number of classes, but '
            f'{type(head).__name__} has no num_classes attribute; use a '
            'mmpretrain ClsHead subclass (e.g. LinearClsHead).')
    return head.num_classes


def in_channels_of(units, last_unit) -> int:
    """Channels of a module's output: its stage's width (or the stem's)."""
    return units.stage_out_channels(last_unit.stage)


class PoolLinear(nn.Sequential):
    """Global average pooling + linear classifier."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(in_channels, num_classes))


def cross_entropy(logits, data_samples):
    return F.cross_entropy(logits, gt_labels(data_samples).to(logits.device))


def depth_fraction(units, last_unit) -> float:
    """Where a module ends, from 0 (first aux) to 1 (last aux).

    InfoPro and AugLocal schedule per-module hyper-parameters by the local
    module index ``i / (K - 2)``; with one module per unit (their K=16
    ResNet-32 setting) this unit-position fraction is exactly that, and it
    stays meaningful for coarser splits.
    """
    pos = units.units.index(last_unit)
    return min(1.0, pos / max(len(units.units) - 2, 1))


def interpolate(value, frac: float) -> float:
    """``value`` if a number, else linear from ``value[0]`` at ``frac=0``
    to ``value[1]`` at ``frac=1``."""
    if isinstance(value, (int, float)):
        return float(value)
    first, last = value
    return first * (1 - frac) + last * frac


def he_init_convs(module: nn.Module) -> None:
    """He (fan-out) normal init of every conv, BN to (1, 0): the init loop
    of InfoPro's and AugLocal's ResNets, which also reaches their aux nets
    (InfoPro ``networks/resnet.py`` l. 141-147, AugLocal l. 166-172).
    Linear and BatchNorm1d layers keep PyTorch's defaults there too."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out',
                                    nonlinearity='relu')
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
