"""Task adapters: what a local module needs to know about the base model.

The local-learning machinery is task-agnostic; an adapter tells it where the
backbone is, which modules make up the task's head, and how the base model
turns backbone features into its real loss.
"""
from typing import Dict, List, Sequence

import torch
from torch import nn


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
