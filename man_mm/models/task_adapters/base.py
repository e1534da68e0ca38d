"""Task adapters: what a local module needs to know about the base model.

The local-learning machinery is task-agnostic; an adapter tells it where the
backbone is, which modules make up the task's head, and how the base model
turns backbone features into its real loss.
"""
from typing import Dict, List, Optional, Sequence

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


def refusal_reason(reasons: Dict[str, str], model_cls: type) -> Optional[str]:
    """``reasons[name]`` for the first class in ``model_cls``'s MRO named
    in ``reasons`` (so subclasses are refused with their base), or None."""
    for klass in getattr(model_cls, '__mro__', ()):
        if klass.__name__ in reasons:
            return reasons[klass.__name__]
    return None


class _Excluding(type):
    """Metaclass of :func:`types_except`'s class: ``isinstance`` and
    ``issubclass`` against it are those against ``accepted``, less the
    classes ``reasons`` names."""

    def __subclasscheck__(cls, sub):
        return (isinstance(sub, type) and issubclass(sub, cls.accepted)
                and refusal_reason(cls.reasons, sub) is None)

    def __instancecheck__(cls, obj):
        return cls.__subclasscheck__(type(obj))


def types_except(accepted: tuple, reasons: Dict[str, str]) -> tuple:
    """``supported_types()`` for "``accepted`` and subclasses, except the
    classes named in ``reasons``" (and their subclasses).

    Returns a one-class tuple usable with ``isinstance``/``issubclass`` --
    how :func:`man_mm.registry.find_registered` and
    ``tools/analysis_tools/zoo_coverage.py`` match adapters -- or ``()``
    while ``accepted`` is (its library not imported).
    """
    if not accepted:
        return ()
    name = 'Any' + '|'.join(t.__name__ for t in accepted) + 'Except' + \
        '|'.join(sorted(reasons))
    return (_Excluding(name, (), dict(accepted=tuple(accepted),
                                      reasons=dict(reasons))), )


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
    #: Model class name -> why it is refused although it subclasses a
    #: supported type (excluded from :meth:`supported_types` with
    #: :func:`types_except`; :meth:`refusal` names the reason).
    refused: Dict[str, str] = {}

    @classmethod
    def refusal(cls, model_cls: type, cfg=None) -> Optional[str]:
        """Why this adapter refuses ``model_cls`` (a class it would
        otherwise accept by inheritance), or None."""
        return refusal_reason(cls.refused, model_cls)

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

    def context_modules(self) -> List[nn.Module]:
        """Modules of the task head that run once per iteration, before
        the local modules, instead of inside each module's head (none by
        default).

        Their output (:meth:`prepare` puts it in ``bank.context``) is what
        every module's head reads -- e.g. a language-conditioned detector's
        text encoder (:mod:`.grounding`). They are no
        :meth:`head_modules`: an aux net neither copies nor shares them,
        and only the last module's real task loss trains them (their
        gradient is not averaged over the modules sharing the head). A
        pipeline keeps them on every stage.
        """
        return []

    def prepare(self, inputs, data_samples, bank, real_head: bool = True
                ) -> None:
        """Work of the task head done once per iteration, before the first
        local module runs (called by
        :func:`man_mm.models.local_learning.local_steps`); nothing by
        default.

        Args:
            inputs (Tensor): The preprocessed batch (or a pipeline stage's
                input).
            data_samples (list): The batch's data samples.
            bank (FeatureBank): This iteration's bank; results go to
                ``bank.context``.
            real_head (bool): Whether the last local module (the real task
                head) runs in this process in this iteration (not in a
                pipeline stage that ends earlier).
        """

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
