"""Losses."""
from .torch_focal_loss import TorchFocalLoss

__all__ = ['TorchFocalLoss']
