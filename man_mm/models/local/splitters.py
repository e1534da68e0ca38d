"""Look up the unit splitter and the task adapter of a built model.

Both registries (:data:`man_mm.registry.UNIT_SPLITTERS`,
:data:`man_mm.registry.TASK_ADAPTERS`) hold classes that say which module
classes they accept through a ``supported_types()`` classmethod (a tuple of
classes; subclasses are accepted too). The first registered class that
accepts the module wins.

Adding a backbone family (or an SR generator) is one new file::

    # man_mm/models/local/my_units.py
    from man_mm.registry import UNIT_SPLITTERS
    from .backbone_units import BackboneUnits

    @UNIT_SPLITTERS.register_module()
    class MyUnits(BackboneUnits):
        supported_names = 'mylib.MyBackbone'

        @classmethod
        def supported_types(cls):
            from mylib import MyBackbone
            return (MyBackbone, )

        # _init_stages(), _build_units(), stage_out_channels(),
        # fresh_blocks_after(): see BackboneUnits (darknet_units.py is a
        # short example)

plus one import line in ``man_mm/models/local/__init__.py``. A task adapter
(``TaskAdapter`` subclass, registered in ``TASK_ADAPTERS``) is added the same
way.
"""
from typing import Tuple, Type

from torch import nn

from man_mm.registry import TASK_ADAPTERS, UNIT_SPLITTERS

HOW_TO_ADD = ('To add one, write a class with supported_types() in a new file '
              'under man_mm/models/local/, decorate it with '
              '@{registry}.register_module() and import it in '
              'man_mm/models/local/__init__.py (see '
              'man_mm/models/local/splitters.py).')


def supported_types(cls) -> Tuple[Type, ...]:
    """The classes ``cls`` accepts; empty if their library is missing."""
    try:
        return tuple(cls.supported_types())
    except ImportError:  # e.g. mmdet or mmagic not installed
        return ()


def registered_names(registry) -> str:
    """``'Name (what it accepts), ...'`` for error messages."""
    return '; '.join(
        f"{name} ({getattr(cls, 'supported_names', '?')})"
        for name, cls in registry.module_dict.items())


def find_registered(registry, module: nn.Module):
    """The first class in ``registry`` that accepts ``module``, or None."""
    for cls in registry.module_dict.values():
        types = supported_types(cls)
        if types and isinstance(module, types):
            return cls
    return None


def unsupported_backbone_message(module: nn.Module,
                                 role: str = 'backbone') -> str:
    return (f'man_mm cannot split {role} {type(module).__name__} into local '
            f'modules. Supported ({len(UNIT_SPLITTERS.module_dict)} '
            f'registered unit splitters): {registered_names(UNIT_SPLITTERS)}.'
            f' Change the model config to one of these, or register a unit '
            f'splitter. ' + HOW_TO_ADD.format(registry='UNIT_SPLITTERS'))


def build_units(backbone: nn.Module, stem_as_unit=None,
                role: str = 'backbone'):
    """Split ``backbone`` with the registered splitter that accepts it.

    Args:
        backbone (nn.Module): A built backbone (or SR generator).
        stem_as_unit (bool, optional): Passed to the splitter.
        role (str): What to call ``backbone`` in the error message
            (``'backbone'``, ``'generator'``).

    Raises:
        TypeError: No registered splitter accepts ``backbone``; the message
            lists the registered ones and how to add one.
    """
    cls = find_registered(UNIT_SPLITTERS, backbone)
    if cls is None:
        raise TypeError(unsupported_backbone_message(backbone, role))
    return cls(backbone, stem_as_unit=stem_as_unit)


def build_task_adapter(model: nn.Module):
    """The registered task adapter for ``model`` (by its class).

    Raises:
        TypeError: No registered adapter accepts ``model``.
    """
    cls = find_registered(TASK_ADAPTERS, model)
    if cls is None:
        raise TypeError(
            f'man_mm has no local-learning task adapter for '
            f'{type(model).__name__}. Supported: '
            f'{registered_names(TASK_ADAPTERS)}. '
            + HOW_TO_ADD.format(registry='TASK_ADAPTERS'))
    return cls(model)
