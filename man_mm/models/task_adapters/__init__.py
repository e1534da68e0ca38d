"""Task adapters: what local learning needs to know about a base model.

One file per task, each registering a :class:`TaskAdapter` subclass in
:data:`man_mm.registry.TASK_ADAPTERS`; :func:`build_task_adapter` picks the
one that accepts a built model by its class.
"""
from torch import nn

from man_mm.registry import (HOW_TO_ADD, TASK_ADAPTERS, find_registered,
                             registered_names)
from .adversarial_editing import SRGANTaskAdapter
from .base import TaskAdapter
from .classification import ClsTaskAdapter
from .detection import DetTaskAdapter
from .detr import DETRTaskAdapter
from .editing import EditTaskAdapter
from .grounding import GLIPTaskAdapter, GroundingDINOTaskAdapter
from .instance_seg import InstanceSegTaskAdapter
from .two_stage import TwoStageTaskAdapter


def build_task_adapter(model: nn.Module) -> TaskAdapter:
    """The registered task adapter for ``model`` (by its class).

    Raises:
        TypeError: No registered adapter accepts ``model``; the message
            names the reason when an adapter refuses its class by name
            (``TaskAdapter.refused``), else lists the registered adapters
            and how to add one.
    """
    cls = find_registered(TASK_ADAPTERS, model)
    if cls is None:
        for adapter in TASK_ADAPTERS.module_dict.values():
            why = adapter.refusal(type(model)) \
                if hasattr(adapter, 'refusal') else None
            if why:
                raise TypeError(
                    f'man_mm cannot train {type(model).__name__} locally '
                    f'({adapter.__name__} refuses it): {why}.')
        raise TypeError(
            f'man_mm has no local-learning task adapter for '
            f'{type(model).__name__}. Supported: '
            f'{registered_names(TASK_ADAPTERS)}. '
            + HOW_TO_ADD.format(registry='TASK_ADAPTERS'))
    return cls(model)


__all__ = [
    'TaskAdapter', 'ClsTaskAdapter', 'DetTaskAdapter', 'DETRTaskAdapter',
    'TwoStageTaskAdapter', 'InstanceSegTaskAdapter',
    'GroundingDINOTaskAdapter', 'GLIPTaskAdapter', 'EditTaskAdapter',
    'SRGANTaskAdapter',
    'build_task_adapter'
]
