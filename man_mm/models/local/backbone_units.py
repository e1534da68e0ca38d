"""The base class of the unit splitters: what a new one must provide.

A unit splitter cuts one backbone family into :class:`~.units.Unit`\\ s and
builds the fresh layers of the SLM aux nets. :class:`BackboneUnits` holds
what every splitter does the same way (the type check with the message that
lists the supported backbones, ``backbone``, ``stem_as_unit``, ``units``,
``len()``, ``num_stages``); a subclass says what differs.
"""
import importlib
import sys
from typing import TYPE_CHECKING, List, Tuple, Type

from torch import nn

if TYPE_CHECKING:  # units.py imports this module
    from .units import Unit


def types_if_imported(module: str, *names: str) -> Tuple[Type, ...]:
    """Classes ``names`` of ``module``, or ``()`` while the library (its
    top-level package) is not imported yet: no instance can exist then, so
    a splitter need not pay for a slow import to check another backbone.

    Example:
        ``types_if_imported('mmdet.models.backbones', 'Darknet')``
    """
    if module.split('.')[0] not in sys.modules:
        return ()
    found = importlib.import_module(module)
    return tuple(getattr(found, name) for name in names)


class BackboneUnits:
    """Units and stage layout of a built backbone (base class).

    A subclass, registered with ``@UNIT_SPLITTERS.register_module()``,
    provides:

    - ``supported_names`` (str): what it accepts, for error messages.
    - ``supported_types()`` (classmethod): the backbone classes it accepts
      (subclasses too); ``()`` or ``ImportError`` when their library is
      missing (:func:`types_if_imported` does both).
    - ``_init_stages()``: set ``self.stages`` (the stage modules, in forward
      order) and ``self.stage_names``, plus anything ``_build_units`` needs;
      raise ``ValueError`` for a configuration it cannot split.
    - ``_build_units()``: the list of ``Unit(name, module, stage, index,
      is_stage_end)`` whose modules are the backbone's *own* submodules (not
      copies) and, run in order, reproduce ``backbone(x)``'s last output
      exactly (each unit takes and returns one tensor). For detectors, the
      stage indices are the backbone's ``out_indices`` (the bank keys are
      ``'stage{i}'``).
    - ``stage_out_channels(stage)``: output channels of ``stage``.
    - ``fresh_blocks_after(unit)``: an ``nn.Sequential`` of *fresh* layers
      (new parameters, e.g. :func:`~.units.fresh_copy`) finishing the
      network after ``unit``: one block for the rest of its stage, then one
      per later stage.

    It may override ``_default_stem_as_unit()`` (False here) and ``role``.

    Args:
        backbone (nn.Module): A built backbone of one of
            ``supported_types()``.
        stem_as_unit (bool, optional): Make the stem a unit of its own;
            ``None`` for the splitter's default.

    Raises:
        TypeError: ``backbone`` is not one of ``supported_types()``; the
            message lists the registered splitters and how to add one.

    Attributes:
        backbone (nn.Module): The backbone, split in place.
        stem_as_unit (bool): Whether the stem is a unit of its own.
        stages (list[nn.Module]): The stage modules, set by
            ``_init_stages()``.
        stage_names (list[str]): Their names.
        units (list[Unit]): The units, in forward order.
    """
    #: What the splitter accepts, for error messages.
    supported_names: str = ''
    #: What to call the backbone in error messages (EDSR: ``'generator'``).
    role: str = 'backbone'

    @classmethod
    def supported_types(cls) -> Tuple[Type, ...]:
        """The backbone classes this splitter accepts (subclasses too)."""
        raise NotImplementedError

    def __init__(self, backbone: nn.Module, stem_as_unit=None):
        if not isinstance(backbone, self.supported_types()):
            from .splitters import unsupported_backbone_message
            raise TypeError(unsupported_backbone_message(backbone, self.role))
        self.backbone = backbone
        if stem_as_unit is None:
            stem_as_unit = self._default_stem_as_unit()
        self.stem_as_unit = bool(stem_as_unit)
        self.stages: List[nn.Module] = []
        self.stage_names: List[str] = []
        self._init_stages()
        self.units: List['Unit'] = self._build_units()

    def _default_stem_as_unit(self) -> bool:
        """``stem_as_unit`` when the caller gives ``None``."""
        return False

    def _init_stages(self) -> None:
        """Set ``self.stages`` and ``self.stage_names`` (and anything
        ``_build_units`` needs) from ``self.backbone``."""
        raise NotImplementedError

    def _build_units(self) -> List['Unit']:
        """The units, in forward order."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.units)

    @property
    def num_stages(self) -> int:
        """Number of stages (``len(self.stages)``)."""
        return len(self.stages)

    def stage_out_channels(self, stage: int) -> int:
        """Output channels of ``stage``."""
        raise NotImplementedError

    def fresh_blocks_after(self, unit: 'Unit') -> nn.Sequential:
        """Fresh layers finishing the network after ``unit``."""
        raise NotImplementedError
